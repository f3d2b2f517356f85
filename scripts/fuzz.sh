#!/usr/bin/env bash
# Run every Go fuzz target in the module for FUZZTIME each (default 10s), one
# after another, and print a table of executions per target. Exits non-zero if
# any target crashed, leaving each failing input in its package's testdata/fuzz/
# (commit it with the fix: it becomes a regression seed).
#
#   scripts/fuzz.sh            # every target, 10s each
#   FUZZTIME=10m scripts/fuzz.sh
#   FUZZ=FuzzFernet scripts/fuzz.sh   # targets whose name matches the regexp
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go="${GO:-go}"
fuzztime="${FUZZTIME:-10s}"
match="${FUZZ:-.}"

# Targets are found in the sources (compiling every test binary to ask
# "go test -list" would cost minutes): "func FuzzX(f *testing.F)" in a
# _test.go file, run in that file's package folder.
targets=()
while IFS=: read -r file _ line; do
	name="${line#func }"
	name="${name%%(*}"
	[[ "$name" =~ $match ]] && targets+=("./$(dirname "$file") $name")
done < <(git ls-files -co --exclude-standard -- '*_test.go' | xargs grep -n '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' | sort)

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz: no target matches '$match'" >&2
	exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
printf '%-55s %-24s %12s %s\n' package target executions result
failed=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
		result=ok
	else
		result=FAIL
		failed=1
	fi
	# A target still gathering its baseline when FUZZTIME ends prints no count.
	execs="$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)"
	printf '%-55s %-24s %12s %s\n' "${pkg#./}" "$name" "${execs:-0}" "$result"
	if [[ $result == FAIL ]]; then
		sed -n '/--- FAIL/,$p' "$log" | head -30
	fi
done
exit "$failed"
