#!/usr/bin/env python3
"""Side-by-side benchmarks, one run, same machine, same requests, same load
generator (wrk pinned to core 1; the servers pinned to core 0, taking turns
at each point, so each is loaded alone while the others idle):

* workspace-agent (the static binary, its default settings);
* a2a-rs: an echo agent on the official Rust A2A SDK (a2a-server-lf on
  tokio/axum/hyper), bench/a2a-rs-peer/;
* python: the official Python A2A stack (a2a-sdk + uvicorn), peer_echo.py.

Points: card GET, A2A 0.3 `message/send`, A2A 1.0 `SendMessage`, and a
stream in each protocol (one whole SSE stream per request), each at 1, 16, 64
and 256 connections: req/s, p50, p99, CPU per 10k requests, peak RSS. A
server that does not speak a point's protocol is probed once, shows the
answer it gave, and that point is left out for it. Writes
bench/results/latest.json and latest.md (with the issue-19 targets).

    bench.py [--quick] [--servers workspace-agent,a2a-rs,python] [--duration SECS]
"""
import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
CARD = "/.well-known/agent-card.json"
CLK = os.sysconf("SC_CLK_TCK")
TEXT = "hello from the benchmark"
SEND = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {
    "role": "user", "messageId": "bench-1", "parts": [{"kind": "text", "text": TEXT}]}}})
STREAM = SEND.replace("message/send", "message/stream")
SEND10 = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {
    "role": "ROLE_USER", "messageId": "bench-1", "parts": [{"text": TEXT}]}}})
STREAM10 = SEND10.replace("SendMessage", "SendStreamingMessage")
JSON_HDR = {"Content-Type": "application/json"}
V10_HDR = {"Content-Type": "application/json", "A2A-Version": "1.0"}
SSE = {"Accept": "text/event-stream"}


class Point:
    """One kind of request the servers are measured on."""

    def __init__(self, key, label, method, path, headers, body=None, stream=False):
        self.key, self.label, self.method, self.path = key, label, method, path
        self.headers, self.body, self.stream = headers, body, stream

    def lua(self):
        """A wrk script sending this request (Lua long strings: no escaping)."""
        lines = [f'wrk.method = "{self.method}"']
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in self.headers.items()]
        if self.body:
            lines.append(f"wrk.body = [==[{self.body}]==]")
        return "\n".join(lines) + "\n"


POINTS = [
    Point("card", "card GET", "GET", CARD, {}),
    Point("send03", "0.3 message/send", "POST", "/", JSON_HDR, SEND),
    Point("send10", "1.0 SendMessage", "POST", "/", V10_HDR, SEND10),
    Point("stream03", "0.3 message/stream", "POST", "/", {**JSON_HDR, **SSE}, STREAM, stream=True),
    Point("stream10", "1.0 SendStreamingMessage", "POST", "/", {**V10_HDR, **SSE}, STREAM10, stream=True),
]
POINT = {p.key: p for p in POINTS}
SERVERS = {"workspace-agent": "workspace-agent", "a2a-rs": "a2a-rs", "python": "python a2a-sdk"}
ALIASES = {"ours": "workspace-agent", "wa": "workspace-agent", "rs": "a2a-rs", "py": "python",
           "python-a2a-sdk": "python"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid):
    """RSS of a process and its children (uvicorn may fork)."""
    total = rss_kib(pid)
    try:
        for child in open(f"/proc/{pid}/task/{pid}/children").read().split():
            total += tree_rss_kib(int(child))
    except OSError:
        pass
    return total


def cpu_secs(pid):
    """User + system CPU of the process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def other_load():
    """Processes outside this benchmark using a core (a build, a fuzz run):
    recorded so a noisy run says so."""
    out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    busy = []
    for line in out.splitlines()[1:]:
        pcpu, comm = line.split(None, 1)
        if float(pcpu) >= 20 and comm not in ("ps", "python3", "wrk"):
            busy.append(f"{comm} {pcpu}%")
    return busy


class Server:
    def __init__(self, name, argv, env, port):
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.url = f"http://127.0.0.1:{port}"

    def start(self):
        """Starts pinned to core 0; returns seconds from spawn to the first
        successful card GET."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(["taskset", "-c", "0", *self.argv], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(f"GET {CARD} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    if s.recv(12).startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.0005)
        self.proc.kill()
        raise RuntimeError(f"{self.name} did not start")

    def stop(self):
        """SIGTERM; returns seconds to exit."""
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return float("inf")
        return time.perf_counter() - t0


def wrk(url, conns, duration, script=None):
    threads = min(conns, 2)
    cmd = ["taskset", "-c", "1", "wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=duration + 60).stdout

    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": lat(50), "p99_ms": lat(99),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sock.group(1).strip() if sock else "",
    }


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, tree_rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.join()
        return self.peak


def load_point(srv, path, conns, duration, script=None):
    """One wrk run against the server: req/s, latency, CPU per 10k
    requests, peak RSS."""
    sampler = RssSampler(srv.proc.pid)
    sampler.start()
    cpu0 = cpu_secs(srv.proc.pid)
    r = wrk(srv.url + path, conns, duration, script)
    r["cpu_s_per_10k"] = (cpu_secs(srv.proc.pid) - cpu0) / max(r["requests"], 1) * 10_000
    r["cpu_s"] = cpu_secs(srv.proc.pid) - cpu0
    r["peak_rss_kib"] = sampler.stop()
    r["conns"] = conns
    return r


def request(srv, point, timeout=5.0):
    """Sends the point's request once; returns (status, content type, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request(point.method, point.path, body=point.body, headers=point.headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read(1 << 20)
    finally:
        conn.close()


def first_json(point, ctype, body):
    """The JSON answer, or the first SSE event's, or None."""
    text = body.decode("utf-8", "replace")
    if point.stream:
        if "text/event-stream" not in ctype:
            return None if not text.startswith("{") else json.loads(text)
        m = re.search(r"^data:\s?(.*)$", text, re.M)
        text = m.group(1) if m else ""
    try:
        return json.loads(text)
    except ValueError:
        return None


def probe(srv, point):
    """None when the server answers the point's request with success, else
    why not (the point is then left out for that server)."""
    try:
        status, ctype, body = request(srv, point)
    except (OSError, http.client.HTTPException) as e:
        return f"no answer: {e}"
    if status != 200:
        return f"HTTP {status}"
    doc = first_json(point, ctype, body)
    if point.key == "card":
        return None if isinstance(doc, dict) and "name" in doc else "no card JSON"
    if not isinstance(doc, dict):
        return f"not a JSON-RPC answer ({ctype or 'no Content-Type'})"
    if "error" in doc:
        err = doc["error"] if isinstance(doc["error"], dict) else {}
        return f"JSON-RPC error {err.get('code')}: {str(err.get('message', ''))[:60]}"
    return None if "result" in doc else "no result"


def time_to_first_event(srv, point, trials):
    """Median time from sending a stream request to its first SSE event, with
    a raw socket so the client's own cost stays small."""
    head = "".join(f"{k}: {v}\r\n" for k, v in point.headers.items())
    body = point.body.encode()
    req = (f"POST {point.path} HTTP/1.1\r\nHost: x\r\n{head}Connection: close\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    times = []
    for _ in range(trials):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            t0 = time.perf_counter()
            s.sendall(req)
            buf = b""
            while b"data:" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            if b"data:" in buf:
                times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000 if times else None


class AfterLoad:
    """RSS 2 s and 12 s after a server's last load: each load restarts the
    clock, so with the servers taking turns each is sampled after its own
    last point, not after the others'."""

    def __init__(self, srv, res):
        self.srv, self.res, self.timers = srv, res, []

    def loaded(self):
        for t in self.timers:
            t.cancel()
        self.timers = [threading.Timer(after, self.sample, (key,)) for after, key in
                       ((2, "after_load_rss_kib"), (12, "after_load_12s_rss_kib"))]
        for t in self.timers:
            t.start()

    def sample(self, key):
        self.res[key] = tree_rss_kib(self.srv.proc.pid)

    def wait(self):
        for t in self.timers:
            t.join()


def measure_points(srvs, args, res, scripts):
    """Every point at every connection count, the servers taking turns at
    each (so a drift of the machine's speed during the run reaches them
    alike); a point a server does not serve is left out for it with the
    probe's answer."""
    after = {n: AfterLoad(srvs[n], res[n]) for n in srvs}
    for n in srvs:
        res[n]["points"], res[n]["unsupported"] = {}, {}
    for p in POINTS:
        serving = []
        for n, srv in srvs.items():
            why = probe(srv, p)
            if why:
                res[n]["unsupported"][p.key] = why
                print(f"  {n}: {p.label}: not supported ({why})", file=sys.stderr)
            else:
                serving.append(n)
                res[n]["points"][p.key] = []
        for c in args.conns:
            for n in serving:
                res[n]["points"][p.key].append(load_point(srvs[n], p.path, c, args.duration, scripts[p.key]))
                after[n].loaded()
        for n in serving:
            broken = probe(srvs[n], p)  # still answering correctly after the load
            if broken:
                res[n]["points"][p.key][-1]["failed_after"] = broken
            print(f"  {n}: {p.label}: " + ", ".join(f"{x['rps']:,.0f}" for x in res[n]["points"][p.key])
                  + " req/s", file=sys.stderr)
            if p.stream:
                trials = 5 if args.quick else 20
                res[n].setdefault("ttfe_ms", {})[p.key] = time_to_first_event(srvs[n], p, trials)
    for a in after.values():
        a.wait()


def startups(make, n):
    """Spawn to first card GET, and idle SIGTERM to exit, n times each."""
    up, down = [], []
    for _ in range(n):
        srv = make()
        up.append(srv.start() * 1000)
        time.sleep(0.2)
        down.append(srv.stop() * 1000)
    return up, down


def growth_and_stop(srv, args, res, scripts):
    """More rounds of the send the server speaks (1.0 where it can), RSS
    after each; then SIGTERM in the middle of a wrk run."""
    send = next((k for k in ("send10", "send03") if k in res["points"]), None)
    res["rounds_point"], res["rss_after_rounds_kib"] = send, []
    for _ in range(args.rounds if send else 0):
        wrk(srv.url + "/", 64, max(1, args.duration // 2), scripts[send])
        time.sleep(0.5)
        res["rss_after_rounds_kib"].append(tree_rss_kib(srv.proc.pid))
    t = threading.Thread(target=wrk, args=(srv.url + "/", 64, 4, scripts[send or "card"]))
    t.start()
    time.sleep(1.5)
    res["loaded_stop_ms"] = srv.stop() * 1000
    t.join()


def bench_servers(make, names, args, scripts):
    """Startup and idle stop one server at a time; then all started (each
    pinned to core 0, idle while another is loaded) for the points; then
    growth and a stop under load, one at a time."""
    res = {n: {} for n in names}
    for n in names:
        res[n]["startup_ms"], res[n]["idle_stop_ms"] = startups(make[n], args.startups)
    srvs = {n: make[n]() for n in names}
    for srv in srvs.values():
        srv.start()
    time.sleep(1.0)
    for n, srv in srvs.items():
        res[n]["idle_rss_kib"] = tree_rss_kib(srv.proc.pid)
    measure_points(srvs, args, res, scripts)
    for n, srv in srvs.items():
        growth_and_stop(srv, args, res[n], scripts)
    return res


def container_metrics(image="workspace-agent:local", runs=3):
    """docker run → healthy (the image's own HEALTHCHECK settings), memory
    inside the container, idle docker stop time. None without Docker."""
    def docker(*a, check=True):
        return subprocess.run(["docker", *a], capture_output=True, text=True, check=check)
    try:
        docker("image", "inspect", image)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    healthy_s, stop_s, mem = [], [], []
    for i in range(runs):
        name = f"wa-bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        docker("run", "-d", "--name", name, "-e", "WORKSPACE_ID=bench", "-e", "REGISTER=false", image)
        while docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip() != "healthy":
            if time.perf_counter() - t0 > 60:
                break
            time.sleep(0.05)
        healthy_s.append(time.perf_counter() - t0)
        time.sleep(1)
        usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).stdout.split("/")[0].strip()
        mem.append(usage)
        t0 = time.perf_counter()
        docker("stop", name)
        stop_s.append(time.perf_counter() - t0)
        code = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        docker("rm", "-f", name, check=False)
        assert code == "0", code
    return {"run_to_healthy_s": healthy_s, "idle_stop_s": stop_s, "mem_usage": mem}


def du_kib(path):
    try:
        return int(subprocess.run(["du", "-sk", path], capture_output=True, text=True).stdout.split()[0])
    except (IndexError, ValueError):
        return None


def sizes(args):
    s = {}
    for name, path in [("release_stripped", os.path.join(ROOT, "target/release/workspace-agent")),
                       ("static", os.path.join(ROOT, "target/static/workspace-agent")), ("a2a_rs_peer", args.peer_rs)]:
        s[name] = os.path.getsize(path) if os.path.exists(path) else None
    try:
        s["image"] = int(subprocess.run(["docker", "image", "inspect", "workspace-agent:local", "-f", "{{.Size}}"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError):
        s["image"] = None
    if "python" in args.servers:
        s["peer_venv_kib"] = du_kib(os.path.dirname(os.path.dirname(args.peer_python)))
    return s


def peer_versions():
    """The SDK versions the peers were built with (their lock/requirements)."""
    v = {}
    try:
        lock = open(os.path.join(HERE, "a2a-rs-peer", "Cargo.lock")).read()
        for crate in ("a2a-server-lf", "a2a-lf", "axum", "hyper", "tokio"):
            m = re.search(rf'name = "{crate}"\nversion = "([^"]+)"', lock)
            v[crate] = m.group(1) if m else None
        for line in open(os.path.join(HERE, "requirements-peer.txt")):
            if "==" in line and not line.startswith("#"):
                name, ver = line.strip().split("==", 1)
                v[name.split("[")[0]] = ver
    except OSError:
        pass
    return v


# --------------------------------------------------------------------------
# The report

def cell(v, unit=""):
    if v is None:
        return "—"
    return (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}") + unit


def at(S, name, key, i, field):
    pts = S.get(name, {}).get("points", {}).get(key)
    return pts[i][field] if pts else None


def table_rows(r):
    """(label, [value per server]) for the side-by-side table."""
    S, names = r["servers"], list(r["servers"])
    rows = []
    for p in POINTS:
        if not any(p.key in S[n]["points"] for n in names):
            continue
        for i, c in enumerate(r["conns"]):
            rows.append((f"{p.label} req/s @{c}", [at(S, n, p.key, i, "rps") for n in names]))
            rows.append((f"{p.label} p50 ms @{c}", [at(S, n, p.key, i, "p50_ms") for n in names]))
            rows.append((f"{p.label} p99 ms @{c}", [at(S, n, p.key, i, "p99_ms") for n in names]))
            rows.append((f"{p.label} CPU s per 10k @{c}", [at(S, n, p.key, i, "cpu_s_per_10k") for n in names]))
        if p.stream:
            rows.append((f"{p.label}: time to first event, p50 ms", [S[n].get("ttfe_ms", {}).get(p.key) for n in names]))
    rows.append(("RSS idle, KiB", [S[n]["idle_rss_kib"] for n in names]))
    for p in POINTS:  # in the order run: memory a point leaves shows in the next ones
        if any(p.key in S[n]["points"] for n in names):
            rows.append((f"RSS peak during {p.label} (1–{r['conns'][-1]} conns), KiB",
                         [max((x["peak_rss_kib"] for x in S[n]["points"].get(p.key, [])), default=None) for n in names]))
    rows.append(("RSS 2 s after the run, KiB", [S[n]["after_load_rss_kib"] for n in names]))
    rows.append(("RSS 12 s after the run, KiB", [S[n].get("after_load_12s_rss_kib") for n in names]))
    rows.append((f"RSS after {r['rounds']} more send rounds @64, KiB",
                 [S[n]["rss_after_rounds_kib"][-1] if S[n]["rss_after_rounds_kib"] else None for n in names]))
    rows.append(("start to first card GET, ms (median)", [statistics.median(S[n]["startup_ms"]) for n in names]))
    rows.append(("SIGTERM to exit, idle, ms (median)", [statistics.median(S[n]["idle_stop_ms"]) for n in names]))
    rows.append(("SIGTERM to exit, under load, ms", [S[n]["loaded_stop_ms"] for n in names]))
    return rows


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**not met**")


def send_cpu_per_10k(res, key):
    """CPU per 10k requests over all connection counts of one point."""
    pts = res.get("points", {}).get(key)
    if not pts:
        return None
    return sum(p["cpu_s"] for p in pts) / max(sum(p["requests"] for p in pts), 1) * 10_000


def target_rows(r):
    """Issue 19's targets: workspace-agent against a2a-rs, this run."""
    S = r["servers"]
    ours, rs = S.get("workspace-agent"), S.get("a2a-rs")
    if not ours or not rs:
        return []
    rows, misses, both = [], [], 0
    for key in rs["points"]:
        for i, c in enumerate(r["conns"]):
            a, b = at(S, "workspace-agent", key, i, "rps"), at(S, "a2a-rs", key, i, "rps")
            if a is None or b is None:
                continue
            both += 1
            if a < b:
                misses.append(f"{POINT[key].label} @{c} ({a / b:.2f}×)")
    rows.append(("req/s ≥ a2a-rs on every point both serve", f"{both - len(misses)} of {both} points",
                 "; ".join(misses) or "all", verdict(both > 0 and not misses)))
    last = len(r["conns"]) - 1
    for key in ("card", "send10"):
        a, b = at(S, "workspace-agent", key, last, "p99_ms"), at(S, "a2a-rs", key, last, "p99_ms")
        rows.append((f"p99 @{r['conns'][last]}, {POINT[key].label} ≤ a2a-rs", cell(a, " ms"), cell(b, " ms"),
                     verdict(None if a is None or b is None else a <= b)))
    a, b = ours["after_load_rss_kib"], rs["after_load_rss_kib"]
    rows.append((f"RSS 2 s after the run (up to {r['conns'][-1]} conns) ≤ 8 MiB and ≤ 1/10 of a2a-rs", cell(a, " KiB"), cell(b, " KiB"),
                 verdict(a <= 8192 and a * 10 <= b)))
    a, b = send_cpu_per_10k(ours, "send10"), send_cpu_per_10k(rs, "send10")
    rows.append(("CPU per 10k SendMessage (all conns) ≤ a2a-rs", cell(a, " s"), cell(b, " s"),
                 verdict(None if a is None or b is None else a <= b)))
    return rows


def markdown(r):
    names, S = list(r["servers"]), r["servers"]
    out = [f"Run: {r['date']} on {r['machine']}; wrk {r['wrk']} pinned to core 1, the servers on core 0 taking turns at each point; "
           f"{r['duration']} s per point{' (--quick: checks the script, measures nothing)' if r['quick'] else ''}.",
           f"Peers: {', '.join(f'{k} {v}' for k, v in r['versions'].items() if v)}.",
           f"Other processes using a core before / after: {r['load_before'] or 'none'} / {r['load_after'] or 'none'}.", ""]
    targets = target_rows(r)
    if targets:
        out += ["### Targets (issue 19)", "", "| target | workspace-agent | a2a-rs | |", "|---|---|---|---|"]
        out += [f"| {t} | {a} | {b} | {v} |" for t, a, b, v in targets] + [""]
    out += ["### Side by side", "", "| | " + " | ".join(SERVERS[n] for n in names) + " |",
            "|---|" + "---|" * len(names)]
    out += [f"| {label} | " + " | ".join(cell(v) for v in vals) + " |" for label, vals in table_rows(r)]
    out.append("")
    for n in names:
        for key, why in S[n]["unsupported"].items():
            out.append(f"* {SERVERS[n]} does not serve {POINT[key].label}: {why}.")
        bad = [f"{POINT[k].label} @{p['conns']}: {p['non2xx']} non-2xx, socket errors {p['socket_errors'] or 'none'}"
               for k, pts in S[n]["points"].items() for p in pts if p["non2xx"] or p["socket_errors"]]
        bad += [f"{POINT[k].label}: after the load: {pts[-1]['failed_after']}"
                for k, pts in S[n]["points"].items() if pts[-1].get("failed_after")]
        out.append(f"* {SERVERS[n]} errors: " + ("; ".join(bad) if bad else "none") + ".")
        out.append(f"* {SERVERS[n]} RSS after each extra {S[n]['rounds_point']} round (KiB): "
                   f"{S[n]['rss_after_rounds_kib']}.")
    z = r["sizes"]
    out.append(f"* Sizes: stripped release binary {z.get('release_stripped')} B, static binary {z.get('static')} B, "
               f"scratch image {z.get('image')} B, a2a-rs peer {z.get('a2a_rs_peer')} B"
               + (f", Python peer venv {z['peer_venv_kib']} KiB" if z.get("peer_venv_kib") else "") + ".")
    c = r.get("container")
    if c:
        out.append(f"* Container (`workspace-agent:local`, the image's own HEALTHCHECK): docker run → healthy "
                   f"{', '.join(f'{x:.1f}' for x in c['run_to_healthy_s'])} s; memory inside (docker stats) "
                   f"{', '.join(c['mem_usage'])}; idle docker stop {', '.join(f'{x * 1000:.0f}' for x in c['idle_stop_s'])} ms.")
    out.append(f"* Wall time of the run: {r['wall_s']:.0f} s.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="tiny load: checks the script, measures nothing")
    ap.add_argument("--servers", default="workspace-agent,a2a-rs,python",
                    help="comma-separated: workspace-agent (ours), a2a-rs (rs), python (py)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per point")
    ap.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for workspace-agent (default: its own defaults)")
    ap.add_argument("--no-container", action="store_true", help="skip the docker run measurements")
    ap.add_argument("--peer-python", default=os.path.join(ROOT, "target", "venv-bench", "bin", "python"))
    ap.add_argument("--peer-rs", default=os.path.join(ROOT, "target", "a2a-rs-peer", "release", "a2a-rs-peer"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "static", "workspace-agent"))
    args = ap.parse_args()
    args.servers = [ALIASES.get(s.strip(), s.strip()) for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown:
        ap.error(f"unknown server(s) {unknown}; pick from {list(SERVERS)}")
    args.conns = [1, 16] if args.quick else [1, 16, 64, 256]
    args.duration = 1 if args.quick else args.duration
    args.rounds = 2 if args.quick else 10
    args.startups = 2 if args.quick else 7
    return args


def makers(args):
    """A function starting a fresh instance, for each server."""
    path = {"PATH": os.environ.get("PATH", "")}

    def ours():
        port = free_port()
        env = {**path, "WORKSPACE_ID": "bench", "PORT": str(port), "BIND_ADDR": "127.0.0.1",
               "AGENT_URL": f"http://127.0.0.1:{port}", "CONFIGS_DIR": "/tmp", "REGISTER": "false", "RUST_LOG": "warn"}
        env.update(kv.split("=", 1) for kv in args.ours_env)
        return Server("workspace-agent", [args.bin], {k: v for k, v in env.items() if v != ""}, port)

    def rs():
        port = free_port()
        return Server("a2a-rs", [args.peer_rs, str(port)], path, port)

    def py():
        port = free_port()
        return Server("python", [args.peer_python, os.path.join(HERE, "peer_echo.py"), str(port)], path, port)
    return {"workspace-agent": ours, "a2a-rs": rs, "python": py}


def main():
    args = parse_args()
    t0 = time.time()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    r = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
         "wrk": wrk_version.strip(), "duration": args.duration, "conns": args.conns, "rounds": args.rounds,
         "quick": args.quick, "versions": peer_versions(), "load_before": other_load(), "servers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        scripts = {}
        for p in POINTS:
            scripts[p.key] = os.path.join(tmp, f"{p.key}.lua")
            with open(scripts[p.key], "w") as f:
                f.write(p.lua())
        r["servers"] = bench_servers(makers(args), args.servers, args, scripts)
    r["load_after"] = other_load()
    r["sizes"] = sizes(args)
    r["container"] = None if args.quick or args.no_container else container_metrics()
    r["wall_s"] = time.time() - t0
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(r, f, indent=1)
    md = markdown(r)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
