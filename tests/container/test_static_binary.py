"""A static binary by itself, the way a user runs it on a host: card,
message/send, a stream, the healthcheck subcommand, SIGTERM → exit 0. Run
by `make test` for the aarch64 musl binary under qemu-aarch64-static
(binfmt_misc is not mounted here, so qemu is called explicitly), and for the
x86_64 musl binary natively. The arm64 image is checked by inspection: it
cannot run here.

    WA_STATIC_BIN=target/static-arm64/workspace-agent WA_RUNNER=qemu-aarch64-static \\
    WA_STATIC_ARCH=aarch64 WA_IMAGE=workspace-agent:local-arm64 pytest tests/container/test_static_binary.py
"""
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
import urllib.request
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("WA_STATIC_BIN", "target/static-arm64/workspace-agent"))
RUNNER = os.environ.get("WA_RUNNER", "qemu-aarch64-static").split()
ARCH = os.environ.get("WA_STATIC_ARCH", "aarch64")
IMAGE = os.environ.get("WA_IMAGE", "")
# ELF e_machine values
MACHINE = {"x86_64": 0x3E, "aarch64": 0xB7}
PT_INTERP, PT_DYNAMIC = 3, 2


def elf_facts(data):
    """(e_machine, program header types) of a 64-bit little-endian ELF."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit LE ELF"
    e_machine = struct.unpack_from("<H", data, 18)[0]
    e_phoff = struct.unpack_from("<Q", data, 32)[0]
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    types = [struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)]
    return e_machine, types


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def agent():
    if RUNNER and not shutil.which(RUNNER[0]):
        pytest.skip(f"{RUNNER[0]} is not installed")
    configs = tempfile.mkdtemp(prefix="wa-static-")
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "WORKSPACE_ID": "ws-static", "PORT": str(port),
           "BIND_ADDR": "127.0.0.1", "AGENT_URL": f"http://127.0.0.1:{port}", "CONFIGS_DIR": configs,
           "REGISTER": "false", "ECHO_DELAY_MS": "100", "RUST_LOG": "info"}
    log = open(os.path.join(configs, "agent.log"), "wb")
    proc = subprocess.Popen([*RUNNER, BIN], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/.well-known/agent-card.json", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("agent did not start: " + open(log.name).read())
    yield {"proc": proc, "url": url, "port": port, "env": env, "configs": configs, "log": log.name}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def post(url, method, text, accept="application/json", timeout=30):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"message": {
        "role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": text}]}}}).encode()
    req = urllib.request.Request(url + "/", data=body, headers={"Content-Type": "application/json", "Accept": accept})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.headers.get("Content-Type", ""), r.read().decode()


def test_binary_is_static_for_its_architecture():
    with open(BIN, "rb") as f:
        machine, types = elf_facts(f.read())
    assert machine == MACHINE[ARCH], f"e_machine {machine:#x}, want {ARCH}"
    assert PT_INTERP not in types, "has an INTERP: needs a dynamic loader, which scratch has not"
    assert PT_DYNAMIC not in types, "has a DYNAMIC segment"
    size = os.path.getsize(BIN)
    print(f"\n{BIN}: {size} bytes ({size / 1048576:.2f} MiB)")
    assert size < 3 * 1048576


def test_card(agent):
    with urllib.request.urlopen(agent["url"] + "/.well-known/agent-card.json", timeout=10) as r:
        card = json.loads(r.read())
    assert card["name"] and card["url"].startswith(agent["url"])


def test_message_send(agent):
    _, body = post(agent["url"], "message/send", "hello from arm")
    r = json.loads(body)["result"]
    assert r["status"]["state"] == "completed", r
    assert r["artifacts"][0]["parts"][0]["text"] == "hello from arm"


def test_message_stream(agent):
    ctype, body = post(agent["url"], "message/stream", "one two three", accept="text/event-stream")
    assert ctype.startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
    assert len(events) >= 3, body
    last = events[-1]["result"]
    assert last.get("final") is True and last["status"]["state"] == "completed", last


def test_healthcheck_subcommand(agent):
    r = subprocess.run([*RUNNER, BIN, "healthcheck"], env={"PORT": str(agent["port"])},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "healthy" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([*RUNNER, BIN, "healthcheck"], env={"PORT": str(free_port())},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "unhealthy" in r.stderr


def test_sigterm_exits_zero_and_writes_the_snapshot(agent):
    proc = agent["proc"]
    t = time.time()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    print(f"\nSIGTERM to exit: {(time.time() - t) * 1000:.0f} ms")
    assert os.path.exists(os.path.join(agent["configs"], ".agent_snapshot.json"))
    assert "stopped cleanly" in open(agent["log"]).read()


@pytest.mark.skipif(not IMAGE, reason="no image to inspect (WA_IMAGE)")
def test_image_has_the_binary_for_its_architecture():
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("Docker is not available")
    info = json.loads(subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, text=True,
                                     check=True).stdout)[0]
    want = {"aarch64": "arm64", "x86_64": "amd64"}[ARCH]
    assert info["Os"] == "linux" and info["Architecture"] == want, (info["Os"], info["Architecture"])
    cfg = info["Config"]
    assert cfg["Entrypoint"] == ["/workspace-agent"] and cfg["User"] == "10001:10001"
    assert cfg["Healthcheck"]["Test"] == ["CMD", "/workspace-agent", "healthcheck"]
    assert info["Size"] < 3 * 1048576
    # the image's files: the binary (identical to the one tested above), /etc/passwd, /etc/group, /configs
    name = f"wa-inspect-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "create", "--platform", f"linux/{want}", "--name", name, IMAGE],
                   capture_output=True, check=True)
    try:
        tar = subprocess.run(["docker", "export", name], capture_output=True, check=True).stdout
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        files = {m.name for m in t.getmembers() if m.isfile()}
        binary = t.extractfile("workspace-agent").read()
    assert {"workspace-agent", "etc/passwd", "etc/group"} <= files, files
    # the rest is what Docker adds to every container's filesystem
    docker_adds = {".dockerenv", "dev/console", "etc/hostname", "etc/hosts", "etc/resolv.conf", "dev/pts", "dev/shm"}
    assert not files - {"workspace-agent", "etc/passwd", "etc/group"} - docker_adds, files
    with open(BIN, "rb") as f:
        assert binary == f.read()
