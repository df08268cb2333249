#!/usr/bin/env bash
# `make bench`: installs the load generator, builds the a2a-rs peer (its own
# Cargo project, bench/a2a-rs-peer, into target/a2a-rs-peer) and the Python
# peer's venv when the run needs them, then runs bench.py with the given
# arguments (e.g. --quick, --servers workspace-agent,a2a-rs).
# Results: bench/results/latest.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."

# Is server $1 in this run? (all three unless --servers says otherwise)
servers="workspace-agent,a2a-rs,python"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --servers=*) servers="${args[i]#--servers=}" ;;
    --servers) servers="${args[i + 1]:-}" ;;
  esac
done
wants() { [[ ",$servers," == *",$1,"* || ",$servers," == *",$2,"* ]]; }

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
if wants a2a-rs rs; then
  # nice: the benchmark machine may be shared; the build is not measured.
  nice -n 19 cargo build --release --locked --manifest-path bench/a2a-rs-peer/Cargo.toml \
    --target-dir target/a2a-rs-peer
fi
if wants python py; then
  source tests/py/venv.sh
  wa_venv target/venv-bench bench/requirements-peer.txt
fi
python3 bench/bench.py --peer-python target/venv-bench/bin/python "$@"
