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

# --- what the responder keeps from one request to the next -------------------
vector comp plaintext >"$T/comp.plain"
# ev ID: the compensation event under that id, sealed into $T/ID.body, .sig
ev() {
	jq -c --arg id "$1" '.header.event_id = $id' "$T/comp.plain" >"$T/$1.plain"
	seal "$T/$1.plain" "$T/$1.body" >"$T/$1.sig"
}
send() { fcgi_signed "$T/$1.body" "$(cat "$T/$1.sig")"; }
# where ID: the directories that hold a job of event ID, once no runner runs
where() {
	idle "$SP"
	find "$SP" -path "*/[a-z]*/*.$(idhash "$1").0*" -printf '%h\n' 2>/dev/null | sed 's|.*/||' | sort | paste -sd' '
}

# The spool's tmp/, new/ and seen/ stay open in the responder: removing
# them (or the whole spool) under it must not lose the next event.
for d in seen new tmp ""; do
	rm -rf "${SP:?}/$d"
	ev "gone-${d:-all}"
	send "gone-${d:-all}"
	check "spool/$d removed under the living responder: the next event is stored and run" \
		"200 done" "$(status) $(where "gone-${d:-all}")"
done

# A runner alive (its lock held here): events wait in new/. Released, the
# next event's kick starts one that runs them all; the responder keeps the
# lock descriptor that found the runner busy, which must not stop that.
exec 9>>"$SP/runner.lock"
flock -x 9
for id in busy-1 busy-2; do
	ev "$id"
	send "$id"
	check "$id, with a runner holding the lock: 200, waits in new/" "200 new" \
		"$(status) $(find "$SP/new" -name "*.$(idhash "$id").0*" -printf 'new\n')"
done
exec 9>&-
ev busy-3
send busy-3
check "lock released: the next event starts a runner that runs all three" "200 done done done" \
	"$(status) $(where busy-3) $(where busy-1) $(where busy-2)"

# traced REQUEST...: run the request with strace attached to the responder;
# its shutdown and close calls go to $T/close.trace.
traced() {
	local st
	strace -qq -p "$PID" -e trace=shutdown,close -o "$T/close.trace" 2>/dev/null &
	st=$!
	PIDS+=("$st")
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$PID/status"
	"$@"
	kill "$st"
	wait "$st" 2>/dev/null
}
# libfcgi's close shuts the socket down and waits for the server to close
# first, in case unread input would reset the connection. larkhook reads
# every request to its end, and then closes at once; with input left
# unread (more body than CONTENT_LENGTH) it must still wait.
traced send busy-3
check "input read to its end: closed without shutdown" "200 0 closed" \
	"$(status) $(grep -c '^shutdown(' "$T/close.trace") $(grep -q '^close(' "$T/close.trace" && echo closed)"
head -c 4000 /dev/zero | tr '\0' x >"$T/long.body"
traced fcgi "$T/long.body" CONTENT_LENGTH=10
check "more body than CONTENT_LENGTH: answered (401: unsigned), then shutdown before close" "401 1" \
	"$(status) $(grep -c '^shutdown(' "$T/close.trace")"
fcgi "$T/challenge.body"
check "the responder serves on after both" 200 "$(status)"

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
