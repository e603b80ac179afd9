#!/bin/sh
# check.sh: make check, in copies of the tree under build/check (the normal
# build is left alone).
#  (a) the whole test suite (tests/run.sh) on a build with ASan and UBSan
#      (clang, -fno-sanitize-recover=all). tools/asan-defaults.c is linked
#      in so every larkhook process, even a CGI that a web server starts
#      with an environment of its own or a detached runner, writes its
#      reports to build/check/reports; any report there fails the check.
#      Leaks are looked for in every process except those traced by strace
#      (LeakSanitizer cannot run under ptrace), and those a server kills
#      once their answer is complete (lighttpd does so to its CGIs): they
#      are gone before the leak check at exit; their memory errors are
#      still reported.
#  (b) tests/valgrind.sh: the CGI cases and the commands under
#      valgrind --error-exitcode=1 --leak-check=full, on a -O0 -g build.
# Ends with a summary and exits 1 when anything failed.
#   CHECK_FUZZ_SHORT=5: seconds per fuzz target in the suite's fuzz pass
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
B=$ROOT/build/check
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

for tool in clang valgrind make tar; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check: $tool is missing (run make deps)"
		exit 1
	fi
done

# copy DIR: the tree without its builds, test output and history
copy() {
	mkdir -p "$1"
	tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude=./tests/out -cf - . |
		tar -C "$1" -xf - || return 1
	# cJSON's source fetched once for make static: reuse it offline
	if [ -d "$ROOT/build/cjson" ]; then
		mkdir -p "$1/build" && cp -r "$ROOT/build/cjson" "$1/build/"
	fi
	make -C "$1" --no-print-directory clean >/dev/null
}
# units TREE: the unit test programs the Makefile names
units() {
	# shellcheck disable=SC2016 # $(UNITS) is for make
	printf 'print-units:\n\t@echo $(UNITS)\n' |
		make -C "$1" --no-print-directory -s -f Makefile -f - print-units
}

# symbolize REPORT: the report, with the frames its process could not name
# (a server may start larkhook without PATH, so without llvm-symbolizer)
# named offline from the sanitizer build's binary
symbolize() {
	while IFS= read -r l; do
		off=$(printf '%s\n' "$l" |
			sed -n 's/^ *#[0-9]* 0x[0-9a-f]*  (\/.*\/larkhook+\(0x[0-9a-f]*\)).*/\1/p')
		if [ -n "$off" ] && command -v "$SYMBOLIZER" >/dev/null 2>&1; then
			printf '%s in %s\n' "$l" "$("$SYMBOLIZER" --obj="$B/asan/larkhook" "$off" </dev/null |
				sed '/^$/d' | paste -sd' ')"
		else
			printf '%s\n' "$l"
		fi
	done <"$1"
}

rm -rf "$B"
mkdir -p "$B/reports"
chmod 1777 "$B/reports"	# the suites run larkhook as www-data
if ! copy "$B/asan" || ! copy "$B/plain"; then
	echo "check: cannot copy the tree to $B"
	exit 1
fi

echo "== building: plain -O0 -g (valgrind) and ASan + UBSan (the suite)"
if ! make -C "$B/plain" --no-print-directory CFLAGS="-O0 -g" all >"$B/plain-build.log" 2>&1; then
	tail -20 "$B/plain-build.log"
	echo "check: FAIL: the -O0 -g build failed (see $B/plain-build.log)"
	exit 1
fi
# the static suite checks ./larkhook-static stands alone: a sanitizer
# runtime cannot be linked statically, so it gets the plain one
static_note=""
if grep -q 'static\.sh' "$B/asan/tests/run.sh" && [ -r "$B/plain/tools/static.sh" ]; then
	if make -C "$B/plain" --no-print-directory CFLAGS="-O0 -g" larkhook-static \
		>>"$B/plain-build.log" 2>&1; then
		cp "$B/plain/larkhook-static" "$B/asan/larkhook-static"
		static_note=" (larkhook-static: the plain build)"
	else
		static_note=" (larkhook-static could not be built: see $B/plain-build.log)"
	fi
fi
UNITS=$(units "$B/asan")
SYMBOLIZER=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || echo llvm-symbolizer)
# shellcheck disable=SC2086 # UNITS is a list
if ! clang -c -O1 -g "-DCHECK_LOG_DIR=\"$B/reports\"" "-DCHECK_SYMBOLIZER=\"$SYMBOLIZER\"" \
	-o "$B/asan-defaults.o" tools/asan-defaults.c >"$B/asan-build.log" 2>&1 ||
	! make -C "$B/asan" --no-print-directory CC=clang CFLAGS="-O1 -g $SAN" \
		LDFLAGS="$B/asan-defaults.o" all $UNITS >>"$B/asan-build.log" 2>&1; then
	tail -20 "$B/asan-build.log"
	echo "check: FAIL: the ASan + UBSan build failed (see $B/asan-build.log)"
	exit 1
fi

echo "== (a) the test suite with ASan + UBSan$static_note"
(cd "$B/asan" && FUZZ_SHORT=${CHECK_FUZZ_SHORT:-5} sh tests/run.sh) 2>&1 | tee "$B/asan-suite.log"
a_line=$(tail -1 "$B/asan-suite.log")
a_pass=$(echo "$a_line" | sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p')
a_fail=$(echo "$a_line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p')
[ -n "$a_fail" ] || { a_pass=0; a_fail=1; }
reports=$(find "$B/reports" -type f | sort)
nrep=$(echo "$reports" | grep -c .)
for r in $reports; do
	echo "-- sanitizer report $r"
	symbolize "$r" | head -n 60
done

echo "== (b) the CGI cases and the commands under valgrind"
bash "$B/plain/tests/valgrind.sh" 2>&1 | tee "$B/valgrind.log"
b_pass=$(grep -c '^ok ' "$B/valgrind.log")
b_fail=$(grep -c '^FAIL ' "$B/valgrind.log")
[ "$b_pass" -gt 0 ] || b_fail=$((b_fail + 1))

echo "== make check summary"
echo "ASan + UBSan suite: $a_pass passed, $a_fail failed"
echo "sanitizer reports (ASan, UBSan, LSan) from any process: $nrep"
echo "valgrind cases: $b_pass passed, $b_fail failed"
if [ "$a_fail" -eq 0 ] && [ "$nrep" -eq 0 ] && [ "$b_fail" -eq 0 ]; then
	echo "check: PASS"
	exit 0
fi
echo "check: FAIL (logs in $B)"
exit 1
