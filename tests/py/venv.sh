#!/usr/bin/env bash
# Makes (or reuses) the test venvs in target/: `source tests/py/venv.sh`.
# A venv is rebuilt only when its requirements file changes.
_WA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_WA_PY=${PYTHON:-python3}

wa_venv() { # wa_venv DIR REQUIREMENTS
  local dir=$1 req=$2 stamp
  stamp="$dir/.req-$(sha256sum "$req" | cut -c1-16)"
  if [[ ! -f $stamp ]]; then
    rm -rf "$dir"
    "$_WA_PY" -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$req"
    touch "$stamp"
  fi
}

VENV10="$_WA_ROOT/target/venv-py10"
VENV03="$_WA_ROOT/target/venv-py03"
wa_venv "$VENV10" "$_WA_ROOT/tests/py/requirements.txt"
