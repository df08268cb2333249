#!/usr/bin/env bash
# Fails when a function in src/ reaches MAX_FN_LINES lines (counted from the
# line with `fn` to its closing brace, both included), so functions keep
# fitting on a screen. rustfmt puts a body's closing brace at the indentation
# of its `fn` line, which is what ends a function here.
#
#   scripts/long-fns.sh            check src/ (what `make lint` runs)
#   scripts/long-fns.sh --all      list every function, longest first
#   scripts/long-fns.sh FILE...    check these files
#
# Known exceptions, one `path:function` a line, are in scripts/long-fns.allow
# (files being rewritten by other work); an entry that no longer matches a
# long function is reported so the list only shrinks.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${MAX_FN_LINES:-80}
ALLOW=scripts/long-fns.allow
mode=check
if [[ ${1:-} == --all ]]; then mode=all; shift; fi
if [[ $# -gt 0 ]]; then files=("$@"); else mapfile -t files < <(find src -name '*.rs' | sort); fi

measure() {
    awk '
    function indent(s) { match(s, /^[ ]*/); return RLENGTH }
    FNR == 1 { n = 0; split("", open) }
    # a `fn` item: optional visibility and qualifiers, then `fn name`
    /^[ ]*(pub(\([^)]*\))? )?((const|unsafe|async|extern "[^"]*") )*fn [A-Za-z_][A-Za-z0-9_]*/ {
        n++; start[n] = FNR; ind[n] = indent($0)
        s = $0; sub(/^.*fn /, "", s); sub(/[^A-Za-z0-9_].*$/, "", s); name[n] = s
        open[n] = 1
        # one-line items: a body `{ ... }` or a bodyless declaration
        if ($0 ~ /;[ ]*$/ || $0 ~ /\}[ ]*$/) { if ($0 ~ /\{/) print FILENAME ":" FNR ":" s " 1"; open[n] = 0 }
        next
    }
    {
        for (i = n; i >= 1; i--) {
            if (!open[i]) continue
            if (indent($0) == ind[i] && $0 ~ /^[ ]*\}/) {
                print FILENAME ":" start[i] ":" name[i] " " (FNR - start[i] + 1); open[i] = 0
            } else if (indent($0) == ind[i] && $0 ~ /;[ ]*$/) {
                open[i] = 0  # a declaration without a body
            }
        }
    }
    ' "$@"
}

if [[ $mode == all ]]; then
    measure "${files[@]}" | sort -k2 -n -r
    exit 0
fi

allowed=()
[[ -f $ALLOW ]] && mapfile -t allowed < <(grep -v '^[[:space:]]*\(#\|$\)' "$ALLOW")
fail=0
declare -A seen=()
while read -r where lines; do
    (( lines >= MAX )) || continue
    file=${where%%:*}; fn=${where##*:}
    key="$file:$fn"
    if printf '%s\n' "${allowed[@]}" | grep -qxF "$key"; then
        seen[$key]=1
        echo "long-fns: $where is $lines lines (known exception in $ALLOW)"
        continue
    fi
    echo "long-fns: $where is $lines lines; functions must stay under $MAX (split it)"
    fail=1
done < <(measure "${files[@]}")
for key in "${allowed[@]}"; do
    [[ -n ${seen[$key]:-} ]] || echo "long-fns: $key in $ALLOW is no longer over $MAX lines: remove it"
done
exit $fail
