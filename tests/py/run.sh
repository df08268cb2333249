#!/usr/bin/env bash
# Runs the Python tests against the debug binary: the official a2a-sdk
# clients of both protocol generations (each in its own venv, made here) and
# the metrics parser. Venvs live in target/ and are reused when their
# requirements have not changed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export WA_BIN="${WA_BIN:-$ROOT/target/debug/workspace-agent}"
source ./venv.sh
wa_venv "$VENV03" requirements-v03.txt

status=0
"$VENV10/bin/python" -m pytest -q -p no:cacheprovider \
  test_interop_v10.py test_conformance_v10.py test_metrics.py test_deploy.py || status=$?
"$VENV03/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning \
  test_interop_v03.py test_conformance_v03.py || status=$?
exit $status
