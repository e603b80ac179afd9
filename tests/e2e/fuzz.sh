#!/bin/bash
# fuzz.sh: the short fuzzing pass of make test. tools/fuzz.sh builds every
# libFuzzer target (fuzz/fuzz_*.c, ASan + UBSan) and runs each for
# FUZZ_SHORT seconds (15 by default) from the seeded corpus: each must run
# and find nothing; a finding is a FAIL naming the input that caused it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TARGETS="json decide decrypt flatten config frame ws openapi"
out=$T/fuzz.out
FUZZ_TIME=${FUZZ_SHORT:-15} FUZZ_TARGETS=$TARGETS sh "$ROOT/tools/fuzz.sh" >"$out" 2>&1
rc=$?

# a build failure or a missing tool: tools/fuzz.sh said why in one FAIL line
if grep -q '^FAIL - fuzz: \|^FAIL - fuzz build' "$out"; then
	fail "fuzz targets build" "$(cat "$out")"
	exit 1
fi
for t in $TARGETS; do
	line=$(grep "^\(ok\|FAIL\) - fuzz $t: " "$out")
	case $line in
	"ok - fuzz $t: "*" runs, no finding") echo "$line" ;;
	"FAIL - "*)
		echo "$line"
		# the report's first lines: what the sanitizer or the invariant said
		sed -n "/^FAIL - fuzz $t: /,/^\(ok\|FAIL\) /{/^    /p}" "$out"
		;;
	*) fail "fuzz $t" "no result line from tools/fuzz.sh: $(tail -3 "$out")" ;;
	esac
done
fails=$(grep -c '^FAIL ' "$out")
if { [ "$rc" -eq 0 ] && [ "$fails" -eq 0 ]; } || { [ "$rc" -ne 0 ] && [ "$fails" -gt 0 ]; }; then
	ok "fuzz: exit status $rc agrees with $fails findings"
else
	fail "fuzz: exit status agrees with the findings" "status $rc, $fails FAIL lines"
fi
