#!/bin/sh
# run.sh: run every test suite and total the ok / FAIL lines they print.
# A suite that exits non-zero without saying FAIL counts as one failure.
set -u
cd "$(dirname "$0")/.." || exit 1
out=tests/out
rm -rf "$out"
mkdir -p "$out"
pass=0
fail=0
for suite in tests/unit/test_crypto tests/unit/test_json tests/unit/test_config \
	tests/unit/test_lark tests/unit/test_log tests/unit/test_spool tests/unit/test_flatten \
	tests/unit/test_queue tests/unit/test_frame tests/unit/test_ws tests/unit/test_http tests/unit/test_token tests/unit/test_api \
	tests/e2e/cli.sh tests/e2e/cgi.sh tests/e2e/fastcgi.sh \
	tests/e2e/lighttpd.sh tests/e2e/apache.sh tests/e2e/apache-modules.sh tests/e2e/nginx.sh \
	tests/e2e/static.sh tests/e2e/install.sh tests/e2e/faults.sh tests/e2e/hooks.sh \
	tests/e2e/commands.sh tests/e2e/delivery.sh tests/e2e/crash.sh tests/e2e/interleave.sh tests/e2e/races.sh \
	tests/e2e/slowhook.sh \
	tests/e2e/hostile.sh tests/e2e/connect.sh tests/e2e/fuzz.sh tests/e2e/selfcontained.sh \
	tests/e2e/openapi-emu.sh tests/e2e/api.sh tests/e2e/lc-emu.sh tests/e2e/vectors.sh; do
	name=$(basename "$suite")
	log="$out/$name.log"
	echo "== $name"
	case "$suite" in
	*.sh) bash "$suite" >"$log" 2>&1 ;;
	*) "$suite" >"$log" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	grep '^FAIL ' "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name exited with status $rc; see $log"
		tail -5 "$log"
		f=1
	fi
	echo "   $p passed, $f failed"
	pass=$((pass + p))
	fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
