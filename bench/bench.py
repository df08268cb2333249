#!/usr/bin/env python3
"""Side-by-side benchmarks: workspace-agent vs the Python A2A stack (a2a-sdk
+ uvicorn) running an equivalent echo agent. One run, same machine, same
requests, same load generator (wrk, pinned to its own core; the server is
pinned to the other). Writes bench/results/latest.json and latest.md.

    bench.py [--quick] [--no-peer] [--duration SECS]
"""
import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
CARD = "/.well-known/agent-card.json"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SEND = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {
    "role": "user", "messageId": "bench-1", "parts": [{"kind": "text", "text": "hello from the benchmark"}]}}})
STREAM = SEND.replace("message/send", "message/stream")


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
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def get(url, timeout=1.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status


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
    sampler = RssSampler(srv.proc.pid)
    sampler.start()
    cpu0 = cpu_secs(srv.proc.pid)
    r = wrk(srv.url + path, conns, duration, script)
    r["cpu_s_per_10k"] = (cpu_secs(srv.proc.pid) - cpu0) / max(r["requests"], 1) * 10_000
    r["peak_rss_kib"] = sampler.stop()
    r["conns"] = conns
    return r


def stream_metrics(srv, trials, concurrency, duration):
    """Time to first event (sequential trials) and events/second (several
    concurrent streams in a loop), with a raw-socket client so the client's
    own overhead stays small."""
    def one():
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        body = STREAM.encode()
        t0 = time.perf_counter()
        s.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                  f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        buf, first, events = b"", None, 0
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            n = buf.count(b"data:")
            if n and first is None:
                first = time.perf_counter() - t0
            events = n
        s.close()
        return first, events

    ttfe = [one()[0] for _ in range(trials)]
    total_events = 0
    stop_at = time.time() + duration
    lock = threading.Lock()

    def loop():
        nonlocal total_events
        while time.time() < stop_at:
            _, n = one()
            with lock:
                total_events += n

    t0 = time.perf_counter()
    ts = [threading.Thread(target=loop) for _ in range(concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"ttfe_p50_ms": statistics.median(ttfe) * 1000, "ttfe_min_ms": min(ttfe) * 1000,
            "events_per_s": total_events / elapsed, "concurrent_streams": concurrency}


def bench_server(make, args):
    res = {"startup_ms": [], "idle_stop_ms": []}
    for _ in range(args.startups):
        srv = make()
        res["startup_ms"].append(srv.start() * 1000)
        time.sleep(0.2)
        res["idle_stop_ms"].append(srv.stop() * 1000)
    srv = make()
    srv.start()
    time.sleep(1.0)
    res["idle_rss_kib"] = tree_rss_kib(srv.proc.pid)
    res["card"] = [load_point(srv, CARD, c, args.duration) for c in args.conns]
    res["send"] = [load_point(srv, "/", c, args.duration, os.path.join(HERE, "post.lua")) for c in args.conns]
    time.sleep(2)
    res["after_load_rss_kib"] = tree_rss_kib(srv.proc.pid)
    rounds = []
    for _ in range(args.rounds):
        wrk(srv.url + "/", 64, max(1, args.duration // 2), os.path.join(HERE, "post.lua"))
        time.sleep(0.5)
        rounds.append(tree_rss_kib(srv.proc.pid))
    res["rss_after_rounds_kib"] = rounds
    res["stream"] = stream_metrics(srv, trials=20 if not args.quick else 5, concurrency=8, duration=args.duration)
    # shutdown under load: SIGTERM in the middle of a wrk run
    t = threading.Thread(target=wrk, args=(srv.url + "/", 64, 4, os.path.join(HERE, "post.lua")))
    t.start()
    time.sleep(1.5)
    res["loaded_stop_ms"] = srv.stop() * 1000
    t.join()
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


def sizes(peer_venv):
    s = {}
    for name, path in [("release_stripped", "target/release/workspace-agent"), ("static", "target/static/workspace-agent")]:
        p = os.path.join(ROOT, path)
        s[name] = os.path.getsize(p) if os.path.exists(p) else None
    try:
        s["image"] = int(subprocess.run(["docker", "image", "inspect", "workspace-agent:local", "-f", "{{.Size}}"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError):
        s["image"] = None
    if peer_venv:
        s["peer_venv_kib"] = du_kib(peer_venv)
    return s


def fmt_ms(v):
    return "—" if v is None else f"{v:.2f}"


def markdown(r):
    out = [f"Run: {r['date']} on {r['machine']}; wrk {r['wrk']} pinned to core 1, servers pinned to core 0; "
           f"{r['duration']} s per point.", ""]
    names = list(r["servers"])
    out.append("| | " + " | ".join(names) + (" | ratio |" if len(names) == 2 else " |"))
    out.append("|---|" + "---|" * len(names) + ("---|" if len(names) == 2 else ""))

    def row(label, vals, better="higher", unit=""):
        cells = [("—" if v is None else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}")) + unit for v in vals]
        line = f"| {label} | " + " | ".join(cells)
        if len(vals) == 2 and None not in vals and vals[1] and vals[0]:
            ratio = vals[0] / vals[1] if better == "higher" else vals[1] / vals[0]
            line += f" | {ratio:.1f}×"
        elif len(vals) == 2:
            line += " | —"
        out.append(line + " |")

    S = r["servers"]
    for kind, label in [("card", "card GET"), ("send", "message/send")]:
        for i, c in enumerate(r["conns"]):
            row(f"{label} req/s @{c}", [S[n][kind][i]["rps"] for n in names])
            row(f"{label} p50 ms @{c}", [S[n][kind][i]["p50_ms"] for n in names], "lower")
            row(f"{label} p99 ms @{c}", [S[n][kind][i]["p99_ms"] for n in names], "lower")
    row("stream: time to first event, p50 ms", [S[n]["stream"]["ttfe_p50_ms"] for n in names], "lower")
    row("stream: events/s (8 streams)", [S[n]["stream"]["events_per_s"] for n in names])
    row("RSS idle, KiB", [S[n]["idle_rss_kib"] for n in names], "lower")
    for i, c in enumerate(r["conns"]):
        row(f"RSS peak @{c} conns (send), KiB", [S[n]["send"][i]["peak_rss_kib"] for n in names], "lower")
    row("RSS after load, KiB", [S[n]["after_load_rss_kib"] for n in names], "lower")
    row("RSS after 10 more rounds, KiB", [S[n]["rss_after_rounds_kib"][-1] if S[n]["rss_after_rounds_kib"] else None for n in names], "lower")
    row("CPU s per 10k message/send @64", [S[n]["send"][min(2, len(r['conns']) - 1)]["cpu_s_per_10k"] for n in names], "lower")
    row("start to first card GET, ms (median)", [statistics.median(S[n]["startup_ms"]) for n in names], "lower")
    row("SIGTERM to exit, idle, ms (median)", [statistics.median(S[n]["idle_stop_ms"]) for n in names], "lower")
    row("SIGTERM to exit, under load, ms", [S[n]["loaded_stop_ms"] for n in names], "lower")
    out.append("")
    z = r["sizes"]
    out.append(f"Sizes: stripped release binary {z.get('release_stripped')} B, static binary {z.get('static')} B, "
               f"scratch image {z.get('image')} B" + (f", peer venv {z['peer_venv_kib']} KiB" if z.get("peer_venv_kib") else "") + ".")
    c = r.get("container")
    if c:
        out.append(f"Container (`workspace-agent:local`, the image's own HEALTHCHECK): docker run → healthy "
                   f"{', '.join(f'{x:.1f}' for x in c['run_to_healthy_s'])} s; memory inside (docker stats) "
                   f"{', '.join(c['mem_usage'])}; idle docker stop {', '.join(f'{x * 1000:.0f}' for x in c['idle_stop_s'])} ms, exit code 0.")
    errs = {n: sum(p["non2xx"] for k in ("card", "send") for p in S[n][k]) for n in names}
    out.append(f"Non-2xx responses during the runs: {errs}.")
    out.append(f"RSS after each of the {len(S[names[0]]['rss_after_rounds_kib'])} extra rounds (KiB): " +
               "; ".join(f"{n}: {S[n]['rss_after_rounds_kib']}" for n in names) + ".")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="tiny load: checks the script, measures nothing")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--peer-python", default=os.path.join(ROOT, "target", "venv-bench", "bin", "python"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "static", "workspace-agent"))
    args = ap.parse_args()
    args.conns = [1, 16] if args.quick else [1, 16, 64, 256]
    args.duration = 1 if args.quick else args.duration
    args.rounds = 2 if args.quick else 10
    args.startups = 2 if args.quick else 7

    def ours():
        port = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "WORKSPACE_ID": "bench", "PORT": str(port), "BIND_ADDR": "127.0.0.1",
               "AGENT_URL": f"http://127.0.0.1:{port}", "CONFIGS_DIR": "/tmp", "REGISTER": "false", "RUST_LOG": "warn",
               "MAX_CONNECTIONS": "1024", "WORKERS": "16"}
        return Server("workspace-agent", [args.bin], env, port)

    def peer():
        port = free_port()
        return Server("python a2a-sdk", [args.peer_python, os.path.join(HERE, "peer_echo.py"), str(port)],
                      {"PATH": os.environ.get("PATH", "")}, port)

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    r = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
         "wrk": wrk_version.strip(), "duration": args.duration, "conns": args.conns, "servers": {}}
    r["servers"]["workspace-agent"] = bench_server(ours, args)
    if not args.no_peer:
        r["servers"]["python a2a-sdk"] = bench_server(peer, args)
    r["sizes"] = sizes(None if args.no_peer else os.path.dirname(os.path.dirname(args.peer_python)))
    r["container"] = None if args.quick else container_metrics()
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(r, f, indent=1)
    md = markdown(r)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
