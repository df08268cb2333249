"""The deployment examples parse, and agree with the binary: probe paths,
ports and environment variable names are ones the agent really uses."""
import os
import re
import subprocess

import yaml

from conftest import BIN, ROOT


def known_vars():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^    ([A-Z][A-Z0-9_]+)  ", out, re.M))


def load(name):
    with open(os.path.join(ROOT, "deploy", name)) as f:
        return list(yaml.safe_load_all(f))


def test_compose_matches_the_binary():
    (doc,) = load("docker-compose.yml")
    svc = doc["services"]["agent"]
    assert set(svc["environment"]) <= known_vars(), set(svc["environment"]) - known_vars()
    assert svc["healthcheck"]["test"] == ["CMD", "/workspace-agent", "healthcheck"]
    assert "${AGENT_PORT:-8000}:8000" in svc["ports"]
    assert any(v.endswith(":/configs") for v in svc["volumes"])
    grace = int(svc["environment"]["SHUTDOWN_GRACE_SECS"])
    assert int(svc["stop_grace_period"].rstrip("s")) > grace


def test_kubernetes_matches_the_binary():
    docs = load("kubernetes.yaml")
    dep = next(d for d in docs if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    agent_vars = {k for k in env if k != "POD_IP"}
    assert agent_vars <= known_vars(), agent_vars - known_vars()
    assert pod["terminationGracePeriodSeconds"] == 120
    assert int(env["SHUTDOWN_GRACE_SECS"]) < 120
    port = int(env["PORT"])
    paths = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in paths.items():
        assert c[probe]["httpGet"]["path"] == path
        assert c[probe]["httpGet"]["port"] == port
    assert c["ports"][0]["containerPort"] == port
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert any(m["mountPath"] == env["CONFIGS_DIR"] for m in c["volumeMounts"])


def test_compose_file_is_accepted_by_docker_compose():
    import shutil

    import pytest

    if not shutil.which("docker-compose"):
        pytest.skip("docker-compose not installed")
    r = subprocess.run(["docker-compose", "-f", os.path.join(ROOT, "deploy", "docker-compose.yml"), "config", "-q"],
                       capture_output=True, text=True, env={**os.environ, "WORKSPACE_ID": "ws-check"})
    assert r.returncode == 0, r.stderr
