#!/usr/bin/env bash
# `make bench`: installs the load generator and the Python peer (in a venv),
# then runs bench.py. Results: bench/results/latest.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
source tests/py/venv.sh
wa_venv target/venv-bench bench/requirements-peer.txt
python3 bench/bench.py --peer-python target/venv-bench/bin/python "$@"
