#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target (FUZZ_TARGETS, default all) for SECS
# seconds (default 60; FUZZ_SECS in make) with
# cargo-fuzz (libFuzzer). On stable Rust, RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass its -Z flags. A crash is saved under fuzz/artifacts/<target>/: copy it
# into fuzz/regressions/<target>/ once fixed so `make test` replays it. The
# decoder targets also build an A2A call from the input (a2a_json.rs);
# `A2A_FUZZ_SHOW=1 cargo fuzz run <target> <crash>` prints that call as JSON,
# which is what to save.
set -euo pipefail
SECS=${1:-60}
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
TARGETS=${FUZZ_TARGETS:-"http_connection jsonrpc_request message_decoders sse_line backend_events task_pack"}
# build first: a target that does not build must fail the run, not pass as
# "no crash" (the run's output is filtered below)
#
# Without a sanitizer: what the targets look for (panics, aborts, stack
# overflows, runaway memory) needs none, and ASan's allocator grows by
# kilobytes per run here (the jsonrpc target passed 2 GB in two minutes
# while the same target without ASan stays at 33 MB), so long runs would end
# in false out-of-memory reports. Our code has no `unsafe` on input data.
for t in $TARGETS; do
  cargo fuzz build --sanitizer none "$t"
done
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
for t in $TARGETS; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  cp -n fuzz/regressions/$t/* "fuzz/corpus/$t/" 2>/dev/null || true
  echo "== fuzz $t for ${SECS}s"
  dict=()
  [[ -f "fuzz/$t.dict" ]] && dict=("-dict=fuzz/$t.dict")
  # the binary built above, so edits made meanwhile cannot change what runs
  set +e
  "fuzz/target/$TRIPLE/release/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
    -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 "${dict[@]}" 2>&1 \
    | grep -E "^(#[0-9]+\s+(DONE|INITED)|==|SUMMARY|Done)|panicked|ERROR"
  status=${PIPESTATUS[0]}
  set -e
  if [[ $status -ne 0 || -n "$(ls -A fuzz/artifacts/$t 2>/dev/null)" ]]; then
    echo "fuzz: $t found a crash: fuzz/artifacts/$t" >&2
    exit 1
  fi
done
echo "fuzz: no crash in $SECS s per target"
