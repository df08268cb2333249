"""Start the real agent binary for the Python tests (the official a2a-sdk
client talks to it over HTTP on 127.0.0.1)."""
import asyncio
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("WA_BIN", os.path.join(ROOT, "target", "debug", "workspace-agent"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, **env):
        self.port = free_port()
        self.configs = tempfile.mkdtemp(prefix="wa-py-")
        self.url = f"http://127.0.0.1:{self.port}"
        full = {
            "PATH": os.environ.get("PATH", ""),
            "WORKSPACE_ID": "ws-py",
            "PORT": str(self.port),
            "BIND_ADDR": "127.0.0.1",
            "AGENT_URL": self.url,
            "CONFIGS_DIR": self.configs,
            "REGISTER": "false",
            "RUST_LOG": "info",
        }
        full.update({k: str(v) for k, v in env.items()})
        self.log = open(os.path.join(self.configs, "agent.log"), "wb")
        self.proc = subprocess.Popen([BIN], env=full, stdout=self.log, stderr=self.log)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/.well-known/agent-card.json", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("agent did not start: " + self.logs())

    def logs(self):
        with open(os.path.join(self.configs, "agent.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def agent():
    a = Agent()
    yield a
    a.stop()


@pytest.fixture(scope="module")
def tck():
    """The conformance agent: examples/conformance_agent.py as a jsonl
    command backend."""
    script = os.path.join(ROOT, "examples", "conformance_agent.py")
    a = Agent(AGENT_BACKEND="command", AGENT_COMMAND_FORMAT="jsonl",
              AGENT_COMMAND=f"python3 {script}")
    yield a
    a.stop()


def run(coro):
    """Runs a client coroutine to its end, 30 s at most."""
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.fixture(scope="module")
def slow_agent():
    # answers word by word over 3 s: streaming and cancel become observable
    a = Agent(ECHO_DELAY_MS=3000)
    yield a
    a.stop()
