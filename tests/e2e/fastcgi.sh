#!/bin/bash
# fastcgi.sh: larkhook as a FastCGI responder without a web server:
# spawn-fcgi hands it a listening socket, cgi-fcgi plays the web server.
# One responder process serves every request, good and bad, in turn.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for c in spawn-fcgi cgi-fcgi; do
	command -v "$c" >/dev/null || { fail "$c is installed" "run: make deps"; exit 1; }
done

S=$(site fcgi)
C=$S/larkhook.conf
SP=$S/larkhook-spool
SOCK=$T/fcgi.sock
for v in challenge comp perf; do vector $v raw_body >"$T/$v.body"; done
printf '{"encrypt":' >"$T/truncated.body"

# -c must win over $LARKHOOK_CONFIG, which points at nothing here: every
# 200 below is also a proof of that.
SPAWN=(spawn-fcgi -n -s "$SOCK")
[ "$(id -u)" -eq 0 ] && SPAWN+=(-u www-data -g www-data)
env LARKHOOK_CONFIG="$T/no-such.conf" "${SPAWN[@]}" -- "$BIN" -c "$C" \
	</dev/null >"$T/spawn.log" 2>&1 &
PID=$!	# -n: spawn-fcgi execs the responder in its own place
PIDS+=("$PID")
if ! wait_for 10 test -S "$SOCK"; then
	fail "spawn-fcgi starts the responder" "$(cat "$T/spawn.log")"
	exit 1
fi

# fcgi BODYFILE [NAME=VALUE...]: one POST through the socket; the response
# goes to $T/resp (read it with status and resp_body from lib.sh).
fcgi() {
	local body=$1; shift
	# shellcheck disable=SC2094 # $body is never $T/resp
	env -i REQUEST_METHOD=POST CONTENT_LENGTH="$(stat -c %s "$body")" "$@" \
		cgi-fcgi -bind -connect "$SOCK" <"$body" >"$T/resp" 2>"$T/stderr"
}
# fcgi_signed BODYFILE SIGNATURE
fcgi_signed() {
	fcgi "$1" HTTP_X_LARK_SIGNATURE="$2" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" \
		HTTP_X_LARK_REQUEST_NONCE="$NONCE"
}
SIG=$(vector perf x_lark_signature)

fcgi_signed "$T/perf.body" "$SIG"
first=$(status)
check "signed performance event: Status 200" 200 "$first"
check "performance event (1 item, each = items): 1 job in new/" 1 \
	"$(jobs_of performance.review_data.changed_v2 "$SP")"
# the responder's environment names a missing config, yet it answered 200
check "-c FILE is honoured over \$LARKHOOK_CONFIG" "LARKHOOK_CONFIG=$T/no-such.conf 200" \
	"$(tr '\0' '\n' <"/proc/$PID/environ" | grep '^LARKHOOK_CONFIG=') $first"

# bad requests in between must leave the responder serving
fcgi_signed "$T/perf.body" "$(case ${SIG:0:1} in 0) printf 1 ;; *) printf 0 ;; esac)${SIG:1}"
check "tampered signature: Status 401 rejected" '401 {"msg":"rejected"}' "$(status) $(resp_body)"
fcgi_signed "$T/truncated.body" "$(sign "$T/truncated.body")"
check "signed but malformed body: Status 400" 400 "$(status)"

fcgi_signed "$T/comp.body" "$(vector comp x_lark_signature)"
check "signed compensation event after the bad ones: Status 200 success" \
	'200 {"msg":"success"}' "$(status) $(resp_body)"
check "compensation event: 1 job in new/" 1 "$(jobs_of compensation.archive.changed_v1 "$SP")"

fcgi "$T/challenge.body"
check "unsigned encrypted challenge: Status 200 with the challenge" \
	'200 {"challenge":"ajls384kdjx98XX"}' "$(status) $(resp_body)"
check_true "challenge answered with application/json" \
	grep -q $'^Content-Type: application/json\r$' "$T/resp"

env -i REQUEST_METHOD=GET cgi-fcgi -bind -connect "$SOCK" </dev/null >"$T/resp" 2>"$T/stderr"
check "GET: Status 405" 405 "$(status)"

# one process served all of it: it is still there, and every request it
# logged carries its PID
check "the responder is still alive after 6 requests" "$BIN" \
	"$(readlink "/proc/$PID/exe")"
check "all 6 requests were served by that one process" "6 larkhook[$PID]:" \
	"$(grep ' status=' "$S/larkhook.log" | grep -o 'larkhook\[[0-9]*\]:' | sort | uniq -c |
		sed 's/^ *//')"

# a body that never arrives: 408 after read_timeout, and the responder
# goes on serving
S2=$(site fcgi-slow "read_timeout = 1")
SOCK2=$T/slow.sock
spawn=(spawn-fcgi -n -s "$SOCK2")
[ "$(id -u)" -eq 0 ] && spawn+=(-u www-data -g www-data)
"${spawn[@]}" -- "$BIN" -c "$S2/larkhook.conf" </dev/null >"$T/spawn2.log" 2>&1 &
PIDS+=($!)
wait_for 10 test -S "$SOCK2" || fail "second responder starts" "$(cat "$T/spawn2.log")"
mkfifo "$T/fifo"
sleep 30 >"$T/fifo" &
writer=$!
PIDS+=("$writer")
env -i REQUEST_METHOD=POST CONTENT_LENGTH=100 cgi-fcgi -bind -connect "$SOCK2" \
	<"$T/fifo" >"$T/resp" 2>/dev/null &
client=$!
PIDS+=("$client")
wait_for 10 grep -q '^Status:' "$T/resp"
check "FastCGI body not sent within read_timeout: Status 408" 408 "$(status)"
kill "$writer" "$client" 2>/dev/null
fcgi_slow_challenge=$(env -i REQUEST_METHOD=POST CONTENT_LENGTH="$(stat -c %s "$T/challenge.body")" \
	cgi-fcgi -bind -connect "$SOCK2" <"$T/challenge.body" 2>/dev/null | sed -n '1s/^Status: \([0-9]*\).*/\1/p')
check "after a 408 the responder serves the next request" 200 "$fcgi_slow_challenge"
