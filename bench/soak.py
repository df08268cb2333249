#!/usr/bin/env python3
"""Soak (not run in CI): mixed load for a long time against the release
binary with a flapping mock platform; samples RSS and counts errors.

    soak.py SECONDS [--bin PATH]

Load: message/send, message/stream, tasks/get, card GETs and bad requests
from a few client threads, paced, all on 127.0.0.1. The mock platform
(examples/mock_platform) flips between up and HTTP 500 every 20 s.
Prints a CSV of (seconds, RSS KiB, requests, errors) every 30 s and a
summary at the end, for BENCHMARKS.md."""
import argparse
import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.request

from bench import free_port, rss_kib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def post(url, body, headers=None, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seconds", type=int)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "workspace-agent"))
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--example", "mock_platform"], cwd=ROOT, check=True)
    mport, aport = free_port(), free_port()
    mock = subprocess.Popen([os.path.join(ROOT, "target", "release", "examples", "mock_platform"), f"127.0.0.1:{mport}"],
                            stderr=subprocess.DEVNULL)
    env = {"PATH": os.environ["PATH"], "WORKSPACE_ID": "soak", "PORT": str(aport), "BIND_ADDR": "127.0.0.1",
           "AGENT_URL": f"http://127.0.0.1:{aport}", "CONFIGS_DIR": "/tmp", "PLATFORM_URL": f"http://127.0.0.1:{mport}",
           "HEARTBEAT_INTERVAL_SECS": "2", "ECHO_DELAY_MS": "20", "RUST_LOG": "warn"}
    agent = subprocess.Popen([args.bin], env=env, stderr=open("/tmp/soak-agent.log", "wb"))
    base = f"http://127.0.0.1:{aport}"
    time.sleep(1)
    stop_at = time.time() + args.seconds
    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()

    def client(seed):
        rnd = random.Random(seed)
        task_ids = []
        while time.time() < stop_at:
            kind = rnd.choice(["send", "send", "stream", "get", "card", "bad"])
            ok = True
            try:
                if kind == "card":
                    urllib.request.urlopen(base + "/.well-known/agent-card.json", timeout=10).read()
                elif kind == "send":
                    r = json.loads(post(base, {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {
                        "message": {"role": "user", "parts": [{"kind": "text", "text": "soak " * rnd.randint(1, 50)}]}}}))
                    task_ids.append(r["result"]["id"])
                    task_ids = task_ids[-50:]
                elif kind == "stream":
                    post(base, {"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": {
                        "message": {"role": "user", "parts": [{"kind": "text", "text": "a b c"}]}}})
                elif kind == "get" and task_ids:
                    post(base, {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": rnd.choice(task_ids)}})
                elif kind == "bad":
                    post(base, {"jsonrpc": "2.0", "id": 1, "method": "nope"})
            except Exception:  # noqa: BLE001 - counted, the soak goes on
                ok = False
            with lock:
                counts["requests"] += 1
                counts["errors"] += 0 if ok else 1
            time.sleep(rnd.uniform(0, 0.01))

    def flapper():
        up = True
        while time.time() < stop_at:
            time.sleep(20)
            up = not up
            try:
                post(f"http://127.0.0.1:{mport}/_mode", {"mode": "up" if up else "500"})
            except OSError:
                pass

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)] + [threading.Thread(target=flapper)]
    for t in threads:
        t.start()
    start = time.time()
    samples = []
    print("seconds,rss_kib,requests,errors", flush=True)
    while time.time() < stop_at:
        time.sleep(min(30, max(0, stop_at - time.time())))
        s = (int(time.time() - start), rss_kib(agent.pid), counts["requests"], counts["errors"])
        samples.append(s)
        print(",".join(map(str, s)), flush=True)
    for t in threads:
        t.join()
    calls = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{mport}/_calls").read())
    hb = sum(1 for c in calls["calls"] if c["path"] == "/registry/heartbeat")
    agent.send_signal(signal.SIGTERM)
    code = agent.wait(30)
    mock.kill()
    rss = [s[1] for s in samples]
    print(f"\nsummary: {args.seconds} s, {counts['requests']} requests, {counts['errors']} errors, "
          f"RSS min {min(rss)} / max {max(rss)} / last {rss[-1]} KiB, heartbeats accepted {hb}, exit code {code}")


if __name__ == "__main__":
    main()
