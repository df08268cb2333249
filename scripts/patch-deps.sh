#!/usr/bin/env bash
# Prepares the crates we patch: takes the crate cargo downloads from
# crates.io (checksum-verified twice: by cargo against
# patches/fetch/Cargo.lock, and here against a pinned sha256), applies our
# patch into the git-ignored folder .patched/, which Cargo.toml's
# [patch.crates-io] points at.
#
#   scripts/patch-deps.sh          apply (skipped when already up to date)
#   scripts/patch-deps.sh save     write your edits in .patched/ back into
#                                  the patch file (then explain them in
#                                  patches/PATCHES.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NAME=tiny_http
VERSION=0.12.0
SHA256=389915df6413a2e74fb181895f933386023c71110878cd0825588928e64cdc82
PATCH=$ROOT/patches/$NAME.patch
OUT=$ROOT/.patched/$NAME
STAMP=$OUT/.workspace-agent-patch

fail() { echo "patch-deps: $*" >&2; exit 1; }

# Unpacks the pristine, verified crate into $1/$NAME-$VERSION.
unpack_pristine() {
  local into=$1 crate
  cargo fetch --locked --quiet --manifest-path "$ROOT/patches/fetch/Cargo.toml" ||
    fail "cargo could not download $NAME $VERSION (is crates.io reachable?)"
  crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$NAME-$VERSION.crate" 2>/dev/null | head -1)
  [[ -n "$crate" ]] || fail "$NAME-$VERSION.crate not found in cargo's registry cache"
  echo "$SHA256  $crate" | sha256sum --check --quiet ||
    fail "$crate does not have the pinned sha256 $SHA256"
  tar -xzf "$crate" -C "$into"
}

want_stamp() { sha256sum "$PATCH" "$0" | sha256sum | cut -d' ' -f1; }

apply() {
  if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(want_stamp)" ]]; then
    return 0
  fi
  command -v patch >/dev/null || fail "the 'patch' program is missing (apt-get install patch)"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  unpack_pristine "$tmp"
  (cd "$tmp/$NAME-$VERSION" && patch -p1 -E --quiet --batch --forward <"$PATCH") ||
    fail "patches/$NAME.patch does not apply to $NAME $VERSION"
  rm -rf "$OUT" && mkdir -p "$(dirname "$OUT")"
  mv "$tmp/$NAME-$VERSION" "$OUT"
  want_stamp >"$STAMP"
  echo "patch-deps: $NAME $VERSION patched into .patched/$NAME"
}

save() {
  [[ -d "$OUT" ]] || fail "nothing to save: .patched/$NAME does not exist"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  unpack_pristine "$tmp"
  mv "$tmp/$NAME-$VERSION" "$tmp/a"
  cp -r "$OUT" "$tmp/b"
  rm -rf "$tmp/b/target" "$tmp/b/.workspace-agent-patch"
  # diff exits 1 when the trees differ, which is the point here
  (cd "$tmp" && diff -ruN -x Cargo.lock a b || true) | sed -E 's/^((---|\+\+\+) [^\t]*)\t.*/\1/' >"$PATCH"
  want_stamp >"$STAMP"
  echo "patch-deps: wrote patches/$NAME.patch ($(grep -c '^@@' "$PATCH") hunks)"
}

case "${1:-apply}" in
  apply) apply ;;
  save) save ;;
  *) fail "usage: $0 [apply|save]" ;;
esac
