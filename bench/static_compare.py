#!/usr/bin/env python3
"""The static builds side by side, in one run: size, idle RSS (1 s and 30 s
after start), card GET and message/send req/s at 16 and 256 connections,
RSS at and after 256 connections. Same method as bench.py (wrk pinned to
core 1, the server to core 0). Writes bench/results/static.{json,md}.

    static_compare.py [--duration SECS] [--image IMAGE] NAME=BINARY...

`make bench-static` builds the glibc, musl and musl + allocator binaries and
runs this on them.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

HERE = bench.HERE


def server(path):
    port = bench.free_port()
    env = {"PATH": os.environ.get("PATH", ""), "WORKSPACE_ID": "bench", "PORT": str(port), "BIND_ADDR": "127.0.0.1",
           "AGENT_URL": f"http://127.0.0.1:{port}", "CONFIGS_DIR": "/tmp", "REGISTER": "false", "RUST_LOG": "warn",
           "MAX_CONNECTIONS": "1024"}
    return bench.Server(os.path.basename(path), [path], env, port)


def image_idle_rss(image, waits=(1, 30)):
    """RSS of the agent process inside a container of the image (via the
    container's PID on the host), `waits` seconds after `docker run`."""
    name = f"wa-static-bench-{os.getpid()}"
    r = subprocess.run(["docker", "run", "-d", "--name", name, "-e", "WORKSPACE_ID=bench", "-e", "REGISTER=false", image],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    try:
        t0 = time.time()
        pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", name], capture_output=True, text=True).stdout)
        out = {}
        for w in waits:
            time.sleep(max(0, t0 + w - time.time()))
            out[f"{w}s"] = bench.rss_kib(pid)
        return out
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--image", default="workspace-agent:local")
    ap.add_argument("binaries", nargs="+", help="NAME=PATH")
    args = ap.parse_args()
    bins = dict(b.split("=", 1) for b in args.binaries)
    conns = [16, 256]
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "duration": args.duration,
           "conns": conns, "load_before": bench.other_load(), "builds": {}}

    # Idle RSS: all servers started together (so they share the 30 s wait).
    servers = {n: server(p) for n, p in bins.items()}
    for n, s in servers.items():
        s.start()
        res["builds"][n] = {"size": os.path.getsize(bins[n]), "startup_at": time.time()}
    for w in (1, 30):
        for n, s in servers.items():
            time.sleep(max(0, res["builds"][n]["startup_at"] + w - time.time()))
            res["builds"][n][f"idle_rss_{w}s_kib"] = bench.tree_rss_kib(s.proc.pid)
    for s in servers.values():
        s.stop()

    # Load, one server at a time.
    for n, path in bins.items():
        b = res["builds"][n]
        s = server(path)
        s.start()
        time.sleep(1)
        b["card"] = [bench.load_point(s, bench.CARD, c, args.duration) for c in conns]
        b["send"] = [bench.load_point(s, "/", c, args.duration, os.path.join(HERE, "post.lua")) for c in conns]
        time.sleep(2)
        b["rss_2s_after_256_kib"] = bench.tree_rss_kib(s.proc.pid)
        time.sleep(10)  # one trim tick (every 10 s) later
        b["rss_12s_after_256_kib"] = bench.tree_rss_kib(s.proc.pid)
        b["stop_ms"] = s.stop() * 1000
        print(f"{n}: card {[round(p['rps']) for p in b['card']]} send {[round(p['rps']) for p in b['send']]}",
              file=sys.stderr)
    res["load_after"] = bench.other_load()
    res["image"] = {"name": args.image, "idle_rss_kib": image_idle_rss(args.image)}
    try:
        res["image"]["size"] = int(subprocess.run(["docker", "image", "inspect", args.image, "-f", "{{.Size}}"],
                                                  capture_output=True, text=True, check=True).stdout)
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError):
        pass

    os.makedirs(bench.RESULTS, exist_ok=True)
    with open(os.path.join(bench.RESULTS, "static.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    with open(os.path.join(bench.RESULTS, "static.md"), "w") as f:
        f.write(md)
    print(md)


def markdown(r):
    names = list(r["builds"])
    B = r["builds"]
    out = [f"Run: {r['date']}; {r['duration']} s per point; wrk pinned to core 1, server to core 0.",
           f"Other load on the machine: before {r['load_before'] or 'none'}, after {r['load_after'] or 'none'}.", "",
           "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def row(label, vals):
        out.append(f"| {label} | " + " | ".join("—" if v is None else f"{v:,.0f}" for v in vals) + " |")

    row("binary, bytes", [B[n]["size"] for n in names])
    row("idle RSS 1 s after start, KiB", [B[n]["idle_rss_1s_kib"] for n in names])
    row("idle RSS 30 s after start, KiB", [B[n]["idle_rss_30s_kib"] for n in names])
    for kind, label in (("card", "card GET"), ("send", "message/send")):
        for i, c in enumerate(r["conns"]):
            row(f"{label} req/s @{c}", [B[n][kind][i]["rps"] for n in names])
    row("RSS peak during message/send @256, KiB", [B[n]["send"][-1]["peak_rss_kib"] for n in names])
    row("RSS 2 s after the 256-connection load, KiB", [B[n]["rss_2s_after_256_kib"] for n in names])
    row("RSS 12 s after (one trim later), KiB", [B[n]["rss_12s_after_256_kib"] for n in names])
    errs = {n: sum(p["non2xx"] for k in ("card", "send") for p in B[n][k]) for n in names}
    out.append("")
    out.append(f"Non-2xx responses: {errs}.")
    img = r.get("image") or {}
    if img.get("idle_rss_kib"):
        out.append(f"Image `{img['name']}`: {img.get('size')} bytes; agent RSS inside the container "
                   + ", ".join(f"{v} KiB at {k}" for k, v in img["idle_rss_kib"].items()) + " after `docker run`.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
