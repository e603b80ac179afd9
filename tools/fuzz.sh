#!/bin/sh
# fuzz.sh: build the libFuzzer targets fuzz/fuzz_*.c with ASan and UBSan
# into build/fuzz (the src objects too, compiled apart from the normal
# build), seed each target's corpus from the shared vectors, the tests'
# data and the example configs, and run each for FUZZ_TIME seconds.
# Prints one line per target, "ok - fuzz NAME: N runs, no finding" or
# "FAIL - fuzz NAME: ...", and exits 1 on any finding; the input that
# triggered it is kept in build/fuzz/artifacts and its report beside it.
#   FUZZ_TIME=60 (seconds per target)  FUZZ_TARGETS="json decide ..."
#   FUZZ_CC=clang
# Replay an artifact: build/fuzz/fuzz_NAME build/fuzz/artifacts/NAME-crash-…
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT=$ROOT/build/fuzz
TIME=${FUZZ_TIME:-60}
TARGETS=${FUZZ_TARGETS:-json decide decrypt flatten config frame ws openapi}
CC=${FUZZ_CC:-clang}
CORE="config crypto env flatten frame hook http io json lark log queue runner spool ws token api"
VEC=$ROOT/tests/data/lark-vectors.json

for tool in "$CC" jq pkg-config; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL - fuzz: $tool is missing (run make deps)"
		exit 1
	fi
done
KEY=$(jq -r .encrypt_key "$VEC")
TOKEN=$(jq -r .verification_token "$VEC")
TS=$(jq -r .timestamp "$VEC")
NONCE=$(jq -r .nonce "$VEC")

mkdir -p "$OUT/obj" "$OUT/logs" "$OUT/artifacts" "$OUT/seeds" "$OUT/corpus" "$OUT/dict"

# --- build ---------------------------------------------------------------------
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
PKG_CFLAGS=$(pkg-config --cflags fcgi libcjson libcrypto)
PKG_LIBS=$(pkg-config --libs fcgi libcjson libcrypto)
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra"

# newer SRC OBJ: OBJ is missing or older than SRC or a header
newer() {
	[ -e "$2" ] || return 0
	[ -n "$(find "$1" src/*.h -newer "$2")" ]
}

build_fail() {
	echo "FAIL - fuzz build: $1 (see $OUT/logs/build.log)"
	tail -20 "$OUT/logs/build.log"
	exit 1
}

: >"$OUT/logs/build.log"
objs=""
for m in $CORE; do
	o=$OUT/obj/$m.o
	objs="$objs $o"
	if newer "src/$m.c" "$o"; then
		# shellcheck disable=SC2086 # word splitting of flag lists is meant
		$CC $CFLAGS $SAN -fsanitize=fuzzer-no-link $PKG_CFLAGS '-DSYSCONFDIR="/etc"' \
			'-DVERSION="fuzz"' -c -o "$o" "src/$m.c" \
			>>"$OUT/logs/build.log" 2>&1 || { rm -f "$o"; build_fail "src/$m.c"; }
	fi
done
for t in $TARGETS; do
	bin=$OUT/fuzz_$t
	[ -r "fuzz/fuzz_$t.c" ] || build_fail "no fuzz/fuzz_$t.c"
	stale=0
	newer "fuzz/fuzz_$t.c" "$bin" && stale=1
	# shellcheck disable=SC2086
	[ -e "$bin" ] && [ -n "$(find $objs -newer "$bin")" ] && stale=1
	if [ "$stale" = 1 ]; then
		# shellcheck disable=SC2086
		# the targets are built against the vectors' secrets
		$CC $CFLAGS $SAN -fsanitize=fuzzer -Isrc $PKG_CFLAGS "-DFUZZ_KEY=\"$KEY\"" \
			"-DFUZZ_TOKEN=\"$TOKEN\"" -o "$bin" \
			"fuzz/fuzz_$t.c" $objs $PKG_LIBS >>"$OUT/logs/build.log" 2>&1 ||
			{ rm -f "$bin"; build_fail "fuzz/fuzz_$t.c"; }
	fi
done

# --- seeds and dictionaries -------------------------------------------------------
# seed TARGET NAME: standard input becomes one seed file
seed() { cat >"$OUT/seeds/$1/$2"; }
# field VECTOR KEY: a field of one of the vectors, raw
field() { jq -j --arg n "$1" --arg f "$2" '.vectors[] | select(.name == $n) | .[$f]' "$VEC"; }
names=$(jq -r '.vectors[].name' "$VEC")
rm -rf "$OUT/seeds"
for t in $TARGETS; do mkdir -p "$OUT/seeds/$t" "$OUT/corpus/$t"; done
for t in $TARGETS; do
	case $t in
	json)
		for n in $names; do
			field "$n" raw_body | seed json "$n.body"
			field "$n" plaintext | seed json "$n.plain"
		done
		jq -j .negative.perf_body_with_space_after_colon.raw_body "$VEC" | seed json spaced
		jq -j .card_legacy_sha1.raw_body "$VEC" | seed json card-legacy
		i=0
		for f in tests/data/*.json examples/*.json; do
			[ -r "$f" ] || continue
			i=$((i + 1))
			seed json "data$i" <"$f"
		done
		printf '{"a":"\\ud83d\\ude00\\u00e9","b":[1.5e3,-0,true,false,null],"c":{}}' | seed json escapes
		;;
	decide)
		# flags byte (see fuzz/fuzz_decide.c), then signature, timestamp,
		# nonce and body on their own lines
		for n in $names; do
			{ printf '\016'; field "$n" x_lark_signature; printf '\n%s\n%s\n' "$TS" "$NONCE"
			  field "$n" raw_body; } | seed decide "$n.signed"
			{ printf '\116'; field "$n" x_lark_signature; printf '\n%s\n%s\n' "$TS" "$NONCE"
			  field "$n" raw_body; } | seed decide "$n.window"
			{ printf '\000\n\n\n'; field "$n" raw_body; } | seed decide "$n.unsigned"
			{ printf '\076\n%s\n%s\n' "$TS" "$NONCE"; field "$n" plaintext; } | seed decide "$n.sealed"
			{ printf '\001\n\n\n'; field "$n" plaintext; } | seed decide "$n.plain"
		done
		{ printf '\016'; jq -j '.negative.perf_body_with_space_after_colon |
			.x_lark_signature_over_these_exact_bytes, "\n'"$TS"'\n'"$NONCE"'\n", .raw_body' "$VEC"
		} | seed decide spaced
		;;
	decrypt)
		for n in $names; do
			{ printf '\000'; field "$n" encrypt | base64 -d; } | seed decrypt "$n.raw"
			{ printf '\001'; field "$n" encrypt; } | seed decrypt "$n.b64"
		done
		{ printf '\001'; jq -j .documented_vector.encrypt "$VEC"; } | seed decrypt documented
		;;
	flatten)
		# index byte, each = path line, then the event JSON
		for n in $names; do
			{ printf '\000\n'; field "$n" plaintext; } | seed flatten "$n"
		done
		{ printf '\000items\n'; field perf plaintext; } | seed flatten perf.each0
		{ printf '\001items\n'; field perf plaintext; } | seed flatten perf.each1
		{ printf '\377items\n'; field perf plaintext; } | seed flatten perf.each-1
		{ printf '\000items.0.stage_changes\n'; field perf plaintext; } | seed flatten perf.deep
		printf '\000a.b\n{"event":{"a":{"b":[{"x\\u00e9y":1e400,"n":null,"":"\\ud83d\\ude00"}],"b_":2}}}' |
			seed flatten nested
		;;
	config)
		i=0
		for f in examples/*.conf; do
			[ -r "$f" ] || continue
			i=$((i + 1))
			seed config "example$i" <"$f"
		done
		# the config block in README.md, unindented
		awk '/^    # larkhook.conf:/ { on = 1 } on && !/^    / && !/^$/ { exit }
			on { sub(/^    /, ""); print }' README.md | seed config readme
		printf 'verification_token = %s\nencrypt_key = %s\nlog = /tmp/x.log\n[on a.b]\nrun = true\neach = items\n[on a.*]\nrun = x\nmode = reply\n[on *]\nrun = y\ntimeout = 5\nattempts = 3\n' \
			"$TOKEN" "$KEY" | seed config site
		;;
	frame)
		# the Node SDK's own encodings (tests/unit/test_frame.c has them)
		for v in sdk_ping sdk_event sdk_ack sdk_negative sdk_optional; do
			awk -v v="$v" '$0 ~ "^static const char " v "\\[\\] =" { on = 1 }
				on { print } on && /;$/ { exit }' tests/unit/test_frame.c |
				grep -o '"[0-9a-f]*"' | tr -d '"\n' | perl -pe 's/(..)/chr hex $1/ge' | seed frame "$v"
		done
		;;
	ws)
		# mode byte (see fuzz/fuzz_ws.c), then the bytes
		printf '\000HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n' |
			seed ws upgrade
		printf '\000HTTP/1.1 514 \r\nHandshake-Status: 514\r\nHandshake-Msg: x\r\nHandshake-Autherrcode: 1000040350\r\n\r\n' |
			seed ws refusal
		printf '\001\201\005Hello\001\003Hel\211\001p\200\002lo\212\000\202\176\000\003abc\210\002\003\350' |
			seed ws frames
		printf '\002message' | seed ws message
		;;
	openapi)
		# mode byte (see fuzz/fuzz_openapi.c), then the input
		printf '\000larkhook-token 2 0123456789abcdef 1700000000 1700007200 1700006900\nt-g1b2c3d4e5f6\n' |
			seed openapi cache
		printf '\001\000\310{"code":0,"msg":"ok","tenant_access_token":"t-abc","expire":7140}' | seed openapi mint
		printf '\001\001\255{"code":99991400,"msg":"request trigger frequency limit"}' | seed openapi limited
		printf '\002/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id\000page_size=100\nk=a b' |
			seed openapi path
		printf '\002/open-apis/a/../b' | seed openapi dots
		printf '\003{"code":0,"data":{"items":[1],"has_more":true,"page_token":"p2"}}\000{"code":0,"data":{"items":[2],"has_more":false}}' |
			seed openapi pages
		printf '\003{"code":99991663,"msg":"invalid token"}' | seed openapi remint
		;;
	esac
done

# libFuzzer dictionaries: the words the formats are made of
cat >"$OUT/dict/json" <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"\\"
"\\u"
"\\ud800\\udc00"
"\\udbff\\udfff"
"\\u0000"
"\\u001f"
"true"
"false"
"null"
"1e400"
"-0.0E+1"
"\xc3\xa9"
"\xf0\x9f\x98\x80"
"\xed\xa0\x80"
"\xc0\x80"
"\xf4\x90\x80\x80"
"\"encrypt\""
"\"challenge\""
"\"token\""
"\"type\""
"\"url_verification\""
"\"schema\""
"\"2.0\""
"\"header\""
"\"event\""
"\"event_type\""
"\"event_id\""
"\"create_time\""
"\"app_id\""
"\"tenant_key\""
"\"uuid\""
"\"ts\""
"\"items\""
EOF
printf '"\\"%s\\""\n' "$TOKEN" >>"$OUT/dict/json"
cp "$OUT/dict/json" "$OUT/dict/decide"
cp "$OUT/dict/json" "$OUT/dict/flatten"
cat >"$OUT/dict/config" <<'EOF'
"verification_token"
"verification_token_file"
"encrypt_key"
"encrypt_key_file"
"spool"
"max_body"
"max_age"
"read_timeout"
"retain"
"log"
"allow_root"
"concurrency"
"backoff"
"path"
"env"
"[on "
"]"
"[on *]"
".*"
"run"
"timeout"
"attempts"
"each"
"mode"
"reply"
"queue"
"yes"
"no"
" = "
" #"
"K"
"M"
"s"
"m"
"h"
"d"
"="
"\x0a"
"\x0d"
"\x09"
"\x00"
EOF

# --- run -----------------------------------------------------------------------------
status=0
for t in $TARGETS; do
	log=$OUT/logs/$t.log
	dict=""
	[ -r "$OUT/dict/$t" ] && dict="-dict=$OUT/dict/$t"
	# shellcheck disable=SC2086
	"$OUT/fuzz_$t" -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" $dict \
		"$OUT/corpus/$t" "$OUT/seeds/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
	[ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ] && [ -z "$artifact" ]; then
		echo "ok - fuzz $t: $runs runs, no finding"
		continue
	fi
	status=1
	if [ -n "$artifact" ]; then
		cp "$log" "$artifact.log"
		echo "FAIL - fuzz $t: finding, input $artifact, report $artifact.log"
		grep -m1 -E '^SUMMARY|ERROR: |runtime error|fuzz_[a-z]*: ' "$log" | sed 's/^/    /'
	else
		echo "FAIL - fuzz $t: exited $rc without an artifact (see $log)"
		tail -5 "$log" | sed 's/^/    /'
	fi
done
exit "$status"
