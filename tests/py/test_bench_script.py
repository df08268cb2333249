"""The benchmark script runs end to end on a tiny load (it measures nothing
here: timing stays out of the tests; see BENCHMARKS.md for numbers)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import BIN, ROOT


def test_bench_script_runs_on_a_tiny_load():
    if not shutil.which("wrk"):
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is missing; .ci/run installs it")
        pytest.skip("wrk not installed")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench.py"), "--quick", "--no-peer", "--bin", BIN],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(ROOT, "bench", "results", "latest.json")) as f:
        res = json.load(f)["servers"]["workspace-agent"]
    assert res["card"][0]["requests"] > 0 and res["send"][0]["requests"] > 0
    assert res["idle_rss_kib"] > 0
    assert "| card GET req/s @1 |" in r.stdout
