#!/usr/bin/env bash
# Run every Go fuzz target in the module for FUZZTIME each (default 10s), one
# after another, and print a table of executions per target. Exits non-zero on
# the first crash, leaving the failing input in the package's testdata/fuzz/
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

# "go test -list" prints a package's fuzz targets, then "ok <package> ...".
targets=()
pending=()
while read -r word pkg _; do
	if [[ "$word" == Fuzz* ]]; then
		pending+=("$word")
	elif [[ "$word" == ok ]]; then
		for name in "${pending[@]}"; do
			[[ "$name" =~ $match ]] && targets+=("$pkg $name")
		done
		pending=()
	fi
done < <("$go" test -list '^Fuzz' ./... 2>/dev/null)

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
	execs="$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)"
	printf '%-55s %-24s %12s %s\n' "${pkg#github.com/openacquire/acquire/}" "$name" "${execs:-0}" "$result"
	if [[ $result == FAIL ]]; then
		sed -n '/--- FAIL/,$p' "$log" | head -30
		break
	fi
done
exit "$failed"
