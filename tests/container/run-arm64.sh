#!/usr/bin/env bash
# The aarch64 build: `make static-arm64`, then the binary under
# qemu-aarch64-static (card, message/send, a stream, healthcheck, SIGTERM),
# and `make image-arm64` checked with docker image inspect (binfmt_misc is
# not mounted here, so the image itself cannot run). Skipped without qemu,
# except under CI=true where that fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v qemu-aarch64-static >/dev/null; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "arm64 tests: qemu-aarch64-static is not installed, and CI=true requires it" >&2
    exit 1
  fi
  echo "arm64 tests: SKIPPED (qemu-aarch64-static not installed: apt-get install qemu-user-static)"
  exit 0
fi
make -s static-arm64
image=""
if docker info >/dev/null 2>&1; then
  make -s image-arm64
  image=${IMAGE_ARM64:-workspace-agent:local-arm64}
fi
source tests/py/venv.sh
WA_STATIC_BIN=target/static-arm64/workspace-agent WA_RUNNER=qemu-aarch64-static WA_STATIC_ARCH=aarch64 \
WA_IMAGE=$image exec "$VENV10/bin/python" -m pytest -q -p no:cacheprovider tests/container/test_static_binary.py
