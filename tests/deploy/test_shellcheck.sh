#!/bin/sh
# Every deploy script parses (sh -n / bash -n, by its #! line) and, when the
# linter is installed, passes shellcheck without a finding.  Skips (77) after the
# syntax checks when shellcheck is missing.
set -u
SRC=${HPT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$SRC" || exit 1
fail=0
files=$(ls deploy/*.sh deploy/systemd/*.sh deploy/slurm/*.sbatch tests/deploy/*.sh 2>/dev/null)
[ -n "$files" ] || { echo "FAIL: no scripts found"; exit 1; }
for f in $files; do
    case "$(head -n 1 "$f")" in
    *bash*) bash -n "$f" || { echo "FAIL: bash -n $f"; fail=1; } ;;
    *sh*) sh -n "$f" || { echo "FAIL: sh -n $f"; fail=1; } ;;
    *) echo "FAIL: $f has no #! line"; fail=1 ;;
    esac
    [ -x "$f" ] || { echo "FAIL: $f is not executable"; fail=1; }
done
# The bash completion is sourced, not run: no #! line, not executable.
completions=deploy/completion/hptune
bash -n "$completions" || { echo "FAIL: bash -n $completions"; fail=1; }
[ "$fail" = 0 ] || exit 1
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "SKIP: shellcheck not installed (apt-get install shellcheck); syntax checks passed"
    exit 77
fi
# shellcheck disable=SC2086
shellcheck --external-sources $files $completions || exit 1
echo "ok: $(echo "$files" | wc -l) scripts and the bash completion"
