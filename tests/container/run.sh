#!/usr/bin/env bash
# Container tests: build the scratch image and exercise it with Docker.
# Skipped when Docker is unavailable, except under CI=true where that fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! docker info >/dev/null 2>&1; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "container tests: Docker is not available, and CI=true requires it" >&2
    exit 1
  fi
  echo "container tests: SKIPPED (Docker not available)"
  exit 0
fi
if [[ ! -f tests/container/test_container.py ]]; then
  echo "container tests: none yet"
  exit 0
fi
make -s image mock-image
source tests/py/venv.sh
# the image's binary (x86_64 musl) by itself, then the image with Docker
WA_STATIC_BIN=target/static/workspace-agent WA_RUNNER= WA_STATIC_ARCH=x86_64 WA_IMAGE=${IMAGE:-workspace-agent:local} \
  "$VENV10/bin/python" -m pytest -q -p no:cacheprovider tests/container/test_static_binary.py
exec "$VENV10/bin/python" -m pytest -q -p no:cacheprovider tests/container/test_container.py
