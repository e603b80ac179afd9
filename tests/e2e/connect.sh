#!/bin/bash
# connect.sh: `larkhook connect` (doc/10-connect.md) against the long-connection
# emulator (tests/emu/lc.js, itself checked by the Node SDK in lc-emu.sh):
# whole and fragmented events reach hooks, acks echo the frame and come
# after the durable store (strace order), duplicates and redeliveries run
# once, a storage fault acks 500, reconnects after a close and after
# silence, retryable and fatal answers, kill -9 between store and ack, two
# processes on one spool, a reply hook's answer in the ack, the App Secret
# nowhere but the endpoint request, a CONNECT proxy, SIGTERM.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../emu/lc-lib.sh
. "$ROOT/tests/emu/lc-lib.sh"

for tool in node strace tinyproxy; do
	command -v "$tool" >/dev/null || { fail "$tool is installed" "run sh tests/deps.sh"; exit 1; }
done
APP_ID=cli_a1b2c3d4e5f60001
SECRET=lc-secret-$RANDOM$RANDOM$RANDOM
# no jitter and 1 s between attempts, so reconnects are quick to see
lc_emu --app-id "$APP_ID" --app-secret "$SECRET" \
	--client-config '{"ReconnectNonce":0,"ReconnectInterval":1}' || exit 1

# lcsite DIR [extra config lines...]: a config for connect in DIR whose
# compensation hook keeps its environment (DIR/env.ID), its event file
# (DIR/json.ID) and a line "TYPE ID" in DIR/hook.ran; card callbacks go to
# a reply hook answering with a toast naming the card's value.
lcsite() {
	local d=$1 l; shift
	mkdir -p "$d"
	{
		echo "verification_token = $TOKEN"
		echo "log = $d/larkhook.log"
		echo "spool = $d/spool"
		echo "app_id = $APP_ID"
		echo "app_secret = $SECRET"
		echo "api_base = $LC_EMU"
		for l in "$@"; do echo "$l"; done
		echo "[on compensation.archive.changed_v1]"
		# shellcheck disable=SC2016 # expanded by the hook's shell
		echo 'run = env | sort >"env.$LARK_ID"; cat "$LARK_JSON_FILE" >"json.$LARK_ID"; echo "$LARK_TYPE $LARK_ID" >>hook.ran'
		echo "[on card.action.trigger]"
		echo "mode = reply"
		# shellcheck disable=SC2016
		echo 'run = printf '"'"'{"toast":{"type":"info","content":"%s"}}'"'"' "$LARK_EVENT_ACTION_VALUE_NAME"'
	} >"$d/larkhook.conf"
	chmod 600 "$d/larkhook.conf"
	chown -R "$OWNER" "$d"
}

# start DIR [NAME=VALUE...]: larkhook connect on DIR's config, in the
# background, as the unprivileged user, with only PATH and the given
# variables in its environment. Sets CPID (joins PIDS).
start() {
	local d=$1; shift
	env -i PATH=/usr/bin:/bin "$@" "${RUNAS[@]}" "$BIN" -c "$d/larkhook.conf" connect \
		</dev/null >"$d/stdout.log" 2>&1 &
	CPID=$!
	PIDS+=("$CPID")
}
# stop PID: SIGTERM, then its exit status.
stop() { kill -TERM "$1"; wait "$1"; }
# opened: connections the emulator ever accepted.
opened() { lc_state .opened; }
# newest: the id of the newest live connection.
newest() { lc_state '[.connections[] | select(.open)] | last | .id'; }
# up NAME N [LIVE]: N connections were ever accepted, LIVE (1) are open.
up() {
	if lc_wait "opened=$2&live=${3:-1}&pings=1&timeout=20"; then ok "$1"; else
		fail "$1" "$(tail -3 "$T/lc-emu.log")"; return 1; fi
}
# event ID [EVENT-MEMBERS-JSON]: a compensation event with that event_id.
event() {
	jq -nc --arg id "$1" --arg app "$APP_ID" --argjson more "${2-{\}}" '{schema: "2.0",
		header: {event_id: $id, event_type: "compensation.archive.changed_v1",
			create_time: "1700000000000", token: "", app_id: $app, tenant_key: "2ca1d211f64f6438"},
		event: ({operate_type: "modify", employment_id: "7140964208476371111",
			effective_date: "2024-01-01"} + $more)}'
}
# push JSON-EVENT [PUSH-OPTIONS-JSON]: push the event's exact text, wait for
# its ack; the emulator's answer goes to $T/push.
push() {
	jq -nc --arg e "$1" --argjson o "${2-{\}}" '{event: $e, wait: true, timeout: 10} + $o' >"$T/push.req"
	lc_post push "$(cat "$T/push.req")" >"$T/push"
}
pushed() { jq -r "$1" "$T/push"; }
# ran DIR ID: how many times the hook of DIR ran for event ID, once the
# runner is idle.
ran() {
	idle "$1/spool"
	grep -cxs "compensation.archive.changed_v1 $2" "$1/hook.ran" || [ -e "$1/hook.ran" ] || echo 0
}

# --- check -----------------------------------------------------------------
S=$T/a
lcsite "$S"
"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" check >"$T/check.out" 2>&1
check "check accepts a config for connect" 0 "$?"
check_true "check says connect can run" grep -q "^connect: " "$T/check.out"
check_true "check never shows the App Secret" bash -c "! grep -qF '$SECRET' '$T/check.out'"

# --- connection, ping, whole and fragmented events -----------------------------
start "$S"
up "connects: endpoint, upgrade, a ping at once" 1 || { cat "$S/stdout.log" "$S/larkhook.log"; exit 1; }
check "the ping: method 0, type ping, service = service_id from the URL" "true ping 0" \
	"$(lc_state '.pings[0] | "\(.service_ok) \(.headers[0].value) \(.seq_id)"')"
check "the endpoint request: POST, locale zh, JSON, no problem" 'POST zh application/json []' \
	"$(lc_state '.endpoint[0] | "\(.method) \(.headers.locale) \(.headers["content-type"]) \(.problems)"')"

E1=$(event ev-whole-1)
push "$E1"
check "a whole event is acked 200" 200 "$(pushed .ack.code)"
check "the ack echoes SeqID, LogID, service and every header" "true []" \
	"$(pushed '"\(.ack.echo_ok) \(.ack.echo_problems)"')"
check_true "the ack carries biz_rt" test -n "$(pushed '.ack.biz_rt // empty')"
check "the hook ran once" 1 "$(ran "$S" ev-whole-1)"
env1=$S/env.ev-whole-1
check "LARK_TYPE, LARK_ID, LARK_SCHEMA" \
	"LARK_ID=ev-whole-1 LARK_SCHEMA=2.0 LARK_TYPE=compensation.archive.changed_v1" \
	"$(grep -E '^LARK_(TYPE|ID|SCHEMA)=' "$env1" | paste -sd' ')"
check "LARK_TIME, LARK_APP_ID, LARK_TENANT_KEY, LARK_ATTEMPT" \
	"LARK_APP_ID=$APP_ID LARK_ATTEMPT=1 LARK_TENANT_KEY=2ca1d211f64f6438 LARK_TIME=1700000000000" \
	"$(grep -E '^LARK_(TIME|APP_ID|TENANT_KEY|ATTEMPT)=' "$env1" | paste -sd' ')"
check "the event's fields flattened" "LARK_EVENT_EMPLOYMENT_ID=7140964208476371111" \
	"$(grep '^LARK_EVENT_EMPLOYMENT_ID=' "$env1")"
check "LARK_JSON_FILE holds the event as sent" "$E1" "$(cat "$S/json.ev-whole-1")"

# a refused identity is acked 400 and still shown in the log, escaped
# (doc/6-hostile.md §6.4)
push "$(event "$(printf 'bad\001id')")"
check "an event_id with a control byte is acked 400" 400 "$(pushed .ack.code)"
check_true "the log shows the refused id, escaped, with its type" grep -qF \
	'type="compensation.archive.changed_v1" id="bad\x01id"' "$S/larkhook.log"

# a big event in 5 pieces, sent out of order; a UTF-8 character may be cut
E2=$(event ev-frag-1 "{\"note\":\"$(printf 'é%.0s' $(seq 3000))\"}")
push "$E2" '{"fragments":5,"order":[3,0,4,2,1],"headers":[{"key":"instance_id","value":"i-7"}]}'
check "a fragmented event (5 pieces, out of order) is acked 200" "200 5" \
	"$(pushed '"\(.ack.code) \(.frames)"')"
check "its ack echoes the completing frame's headers, extra ones too" "true i-7" \
	"$(pushed '"\(.ack.echo_ok) \(.ack.headers | map(select(.key == "instance_id")) | .[0].value)"')"
check "the joined event reached the hook once, byte for byte" "1 yes" \
	"$(ran "$S" ev-frag-1) $(cmp -s <(printf %s "$E2") "$S/json.ev-frag-1" && echo yes)"

# --- duplicates, redelivery, an incomplete set ---------------------------------
push "$E1"
c1=$(pushed .ack.code)
push "$E1" '{"fragments":2}'
check "a redelivered event (whole, then fragmented) is acked 200 both times" "200 200" \
	"$c1 $(pushed .ack.code)"
check "and its hook still ran once" 1 "$(ran "$S" ev-whole-1)"

E3=$(event ev-incomplete)
mid=$(lc_post push "$(jq -nc --arg e "$E3" '{event: $e, fragments: 3, omit: [1]}')" | jq -r .message_id)
check_true "an incomplete set is dropped after a few seconds" \
	wait_for 15 grep -q "dropped an incomplete fragmented message" "$S/larkhook.log"
check "nothing of it was stored or acked" "0 0" \
	"$(ran "$S" ev-incomplete) $(lc_state "[.acks[] | select(.message_id == \"$mid\")] | length")"
push "$E3"
check "its redelivery is acked and runs once" "200 1" "$(pushed .ack.code) $(ran "$S" ev-incomplete)"

# --- a reply hook answers in the ack ----------------------------------------------
CARD=$(jq -nc --arg app "$APP_ID" '{schema: "2.0", header: {event_id: "card-1",
	event_type: "card.action.trigger", create_time: "1700000000000", app_id: $app, token: ""},
	event: {action: {value: {name: "approve"}}}}')
push "$CARD" '{"type":"card"}'
check "a card callback's ack carries the reply hook's answer as data (base64 JSON)" \
	'200 {"toast":{"type":"info","content":"approve"}}' "$(pushed '"\(.ack.code) \(.ack.data_json | tojson)"')"

# --- WebSocket details: continuation frames, pings, what is not a frame -------------
push "$(event ev-wsfrag)" '{"ws_fragments":3}'
check "a frame sent as 3 WebSocket frames (continuations) is joined and acked" "200 1" \
	"$(pushed .ack.code) $(ran "$S" ev-wsfrag)"
cid=$(newest)
lc_post wsping "{\"conn\":$cid,\"data\":\"are-you-there\"}" >/dev/null
check "a WebSocket ping is answered with a pong carrying its data" "are-you-there" \
	"$(lc_wait 'wspongs=1' && lc_state '.wspongs[0].data')"
lc_post raw "{\"conn\":$cid,\"hex\":\"0a0b0c\"}" >/dev/null
lc_post raw "{\"conn\":$cid,\"text\":\"hello\"}" >/dev/null
push "$(event ev-after-junk)"
check "an undecodable frame and a text message are ignored; the connection goes on" \
	"200 1 $cid" "$(pushed .ack.code) $(ran "$S" ev-after-junk) $(pushed .conn)"
check_true "the log says so" grep -q "does not decode" "$S/larkhook.log"
lc_post config '{"big_ids":true}' >/dev/null
push "$(event ev-big-ids)"
check "SeqID and LogID above 2^63 are echoed exactly" "200 true" "$(pushed '"\(.ack.code) \(.ack.echo_ok)"')"
lc_post config '{"big_ids":false}' >/dev/null

# --- ClientConfig from a pong; reconnect after a close and after silence ---------
# the endpoint says PingInterval 120 s, the pongs from now on 1 s
lc_post config '{"pong_config":{"PingInterval":1,"ReconnectNonce":0,"ReconnectInterval":1}}' >/dev/null
o=$(opened)
lc_post close '{"conn":"all","code":1000}' >/dev/null
up "after the server closes (code 1000) it reconnects, asking the endpoint again" $((o + 1))
cid=$(newest)
check_true "a pong's ClientConfig is applied (PingInterval 1 s: pings keep coming)" \
	lc_wait "pings=4&conn=$cid&timeout=15"
push "$(event ev-after-close)"
check "and events flow on the new connection" "200 1" "$(pushed .ack.code) $(ran "$S" ev-after-close)"
o=$(opened)
lc_post close '{"conn":"all","abrupt":true}' >/dev/null
up "after the TCP connection drops it reconnects" $((o + 1))
o=$(opened)
lc_post silence "{\"conn\":$(newest)}" >/dev/null
up "a connection silent past the ping interval and a margin is left and replaced" $((o + 1))
check_true "the log says why" grep -q "presumed dead" "$S/larkhook.log"
lc_post config '{"pong_config":null}' >/dev/null

# --- retryable and fatal answers --------------------------------------------------
o=$(opened)
e=$(lc_state '.endpoint | length')
lc_post endpoint-mode '{"mode":"code","code":1,"times":1}' >/dev/null
lc_post close '{"conn":"all"}' >/dev/null
up "endpoint code 1 (busy) is retried" $((o + 1))
check "one more endpoint request for the retry" $((e + 2)) "$(lc_state '.endpoint | length')"
for mode in '{"mode":"code","code":1000040343,"times":1}' '{"mode":"http","status":503,"times":1}' \
	'{"mode":"garbage","times":1}'; do
	o=$(opened)
	lc_post endpoint-mode "$mode" >/dev/null
	lc_post close '{"conn":"all"}' >/dev/null
	up "endpoint answer $mode is retried" $((o + 1))
done
o=$(opened)
lc_post handshake-mode '{"mode":"refuse","status":500,"http":400,"times":1}' >/dev/null
lc_post close '{"conn":"all"}' >/dev/null
up "a handshake refused with Handshake-Status 500 is retried" $((o + 1))

lc_post handshake-mode '{"mode":"refuse","status":514,"autherrcode":1000040350,"times":1}' >/dev/null
lc_post close '{"conn":"all"}' >/dev/null
wait "$CPID"
check "a handshake refused 514 / 1000040350 (too many connections) ends it: exit 1" 1 "$?"
check_true "with a clear message" grep -q "too many connections" "$S/larkhook.log"

lc_post handshake-mode '{"mode":"refuse","status":403,"times":1}' >/dev/null
start "$S"
wait "$CPID"
check "a handshake refused 403 ends it: exit 1" 1 "$?"
check_true "with a clear message" grep -q "forbidden" "$S/larkhook.log"

W=$T/wrong
lcsite "$W"
sed -i "s/^app_secret = .*/app_secret = not-the-secret/" "$W/larkhook.conf"
start "$W"
wait "$CPID"
check "a refused App Secret (a fatal endpoint code) ends it: exit 1" 1 "$?"
check_true "with a clear message on standard error, naming app_id and app_secret" \
	grep -q "refused the app.*app_id and app_secret" "$W/stdout.log"
check_true "which does not hold the secret" bash -c "! grep -q not-the-secret '$W/stdout.log' '$W/larkhook.log'"

# traced DIR NAME: a connect site in DIR, its larkhook under strace (its
# spool's fsync, renameat, linkat and each sendto into DIR/trace); NAME
# passes once it is connected. Sets SPID (strace, joins PIDS) and LPID
# (strace's child: larkhook, setpriv execs it).
traced() {
	local o
	lcsite "$1"
	o=$(opened)
	env -i PATH=/usr/bin:/bin strace -f -y -qq -o "$1/trace" -e trace=fsync,renameat,linkat,sendto \
		"${RUNAS[@]}" "$BIN" -c "$1/larkhook.conf" connect </dev/null >"$1/stdout.log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	up "$2" $((o + 1))
	LPID=$(pgrep -P "$SPID")
}

# --- the ack comes after the durable store (strace order) -------------------------
R=$T/strace
traced "$R" "under strace: connected"
push "$(event ev-strace)"
check "under strace: acked 200" 200 "$(pushed .ack.code)"
kill -TERM "$LPID"
wait "$SPID"
# larkhook's own calls in order (not the runner's or the hook's): the
# record's fsync (born as its job in new/), its claim (link into seen/),
# the fsyncs of new/ and seen/, and only then the first sendto since the
# event came: the ack
grep "^$LPID " "$R/trace" | grep -v 'resumed>' >"$R/main"
rec=$(grep -n "fsync([0-9]*<$R/spool/new/" "$R/main" | tail -1 | cut -d: -f1)
claim=$(grep -n "linkat([0-9]*<$R/spool/new>.*<$R/spool/seen>" "$R/main" | tail -1 | cut -d: -f1)
seen=$(grep -n "fsync([0-9]*<$R/spool/seen>)" "$R/main" | tail -1 | cut -d: -f1)
send=$(awk -v s="${rec:-999999}" 'NR > s && /sendto\(/ { print NR; exit }' "$R/main")
if [ -n "$rec" ] && [ -n "$claim" ] && [ -n "$seen" ] && [ -n "$send" ] &&
	[ "$rec" -lt "$claim" ] && [ "$claim" -lt "$seen" ] && [ "$seen" -lt "$send" ]; then
	ok "strace: fsync of the record (line $rec), its claim in seen/ ($claim), fsync of seen/ ($seen), then the ack's sendto ($send)"
else
	fail "strace: the store precedes the ack" "rec=$rec claim=$claim seen=$seen send=$send; $(head -c 3000 "$R/main")"
fi

# --- many events in one read: stored, committed together, then acked at once ------
# doc/10-connect.md §10.4 step 7: the events of one read are stored one by one,
# made durable together (one fsync of new/ and one of seen/), and their acks
# leave in one write. Under strace: no sendto while a store is not yet
# committed (between a claim in seen/ and the next fsync of seen/).
R=$T/stream
traced "$R" "a stream under strace: connected"
lc_post stream "{\"conn\":$(newest),\"count\":40,\"window\":40,\"timeout\":60}" >"$T/stream.out"
check "a stream of 40 events at once: all acked 200, each echoing its frame" "40 0" \
	"$(jq -r '"\(.codes["200"] // 0) \(.echo_bad)"' "$T/stream.out")"
idle "$R/spool"
check "... and each stored and run once" "40 40" \
	"$(wc -l <"$R/hook.ran") $(sort -u "$R/hook.ran" | wc -l)"
kill -TERM "$LPID"
wait "$SPID"
grep "^$LPID " "$R/trace" | grep -v 'resumed>' >"$R/main"
read -r claims commits early < <(awk -v seen="<$R/spool/seen>" '
	/linkat\(/ && index($0, seen) { n++; open = 1 }
	/^[0-9]+ +fsync\(/ && index($0, seen ")") { c++; open = 0 }
	/sendto\(/ && open { bad++ }
	END { print n + 0, c + 0, bad + 0 }' "$R/main")
check "strace: no ack written while a stored event is not yet committed" "40 0" "$claims $early"
# the emulator writes the 40 frames at once: they come in far fewer reads
check_true "strace: new/ and seen/ fsynced once per read, not per event ($commits commits for $claims events)" \
	test "$commits" -ge 1 -a "$commits" -lt "$claims"

# --- a storage fault acks 500; the redelivery is stored once fixed ------------------
o=$(opened)
start "$S"
up "restarted" $((o + 1))
# seen/ not writable: the record is born (as its job in new/), its claim
# fails, and the intake is undone
chmod 500 "$S/spool/seen"
E4=$(event ev-fault)
push "$E4"
check "storage fault: acked 500, so Feishu redelivers" 500 "$(pushed .ack.code)"
check "storage fault: nothing stored, nothing claimed" "0 0 0" \
	"$(find "$S/spool/seen" "$S/spool/new" -name "*$(idhash ev-fault)*" | wc -l) $(ran "$S" ev-fault) $(count "$S/spool" tmp)"
chmod 700 "$S/spool/seen"
push "$E4"
check "fixed: the redelivery is acked 200 and runs once" "200 1" "$(pushed .ack.code) $(ran "$S" ev-fault)"
# the same with the emulator redelivering by itself, as Feishu does
chmod 500 "$S/spool/seen"
n=$(lc_state '[.acks[] | select(.code == 200)] | length')
push "$(event ev-fault-2)" '{"redeliver_ms":1000,"redeliver_times":5}'
check "storage fault: acked 500" 500 "$(pushed .ack.code)"
chmod 700 "$S/spool/seen"
check_true "fixed: one of the emulator's redeliveries is acked 200" lc_wait "ok=$((n + 1))&timeout=15"
check "and the hook ran once" 1 "$(ran "$S" ev-fault-2)"

# --- kill -9 between the store and the ack, restart, redelivery -----------------
cid=$(newest)
stop "$CPID"
check "SIGTERM: exit 0" 0 "$?"
check "SIGTERM: the connection is closed with code 1000 by the client" "1000 client" \
	"$(lc_state ".connections[] | select(.id == $cid) | \"\\(.close_code) \\(.closed_by)\"")"
K=$T/kill
lcsite "$K"
o=$(opened)
# the connect process's first flock is its record's lock (doc/4-spool.md
# §4.4), the second the runner kick right after the store: SIGKILL there,
# before the ack is sent
# (in a subshell that exits with its status: bash reports no "Killed")
(env -i PATH=/usr/bin:/bin strace -qq -o /dev/null -e trace=flock -e inject=flock:signal=KILL:when=2 \
	"${RUNAS[@]}" "$BIN" -c "$K/larkhook.conf" connect </dev/null >"$K/stdout.log" 2>&1; exit $?) 2>/dev/null &
KPID=$!
PIDS+=("$KPID")
up "kill -9: connected" $((o + 1))
E5=$(event ev-killed)
mid=$(lc_post push "$(jq -nc --arg e "$E5" '{event: $e}')" | jq -r .message_id)
wait "$KPID"
check "the process died of SIGKILL" 137 "$?"
check "kill -9 after the store: no ack" 0 "$(lc_state "[.acks[] | select(.message_id == \"$mid\")] | length")"
check "the event is durable (seen/ claims it)" 1 "$(find "$K/spool/seen" -name "$(idhash ev-killed)" | wc -l)"
start "$K"
up "restarted after kill -9" $((o + 2))
push "$E5"
check "Feishu's redelivery is acked 200 and the hook runs once" "200 1" \
	"$(pushed .ack.code) $(ran "$K" ev-killed)"
stop "$CPID"

# --- a config for connect alone: no verification_token ----------------------------
N=$T/notoken
lcsite "$N"
sed -i '/^verification_token = /d' "$N/larkhook.conf"
"${RUNAS[@]}" "$BIN" -c "$N/larkhook.conf" check >"$T/check-nt.out" 2>&1
check "check accepts a connect-only config without verification_token, says the webhook is off" "0 1" \
	"$? $(grep -c '^webhook: off (no verification_token)' "$T/check-nt.out")"
o=$(opened)
start "$N"
up "connect without a verification_token: connected" $((o + 1))
push "$(event ev-notoken)"
check "its event is acked 200 and the hook runs once" "200 1" "$(pushed .ack.code) $(ran "$N" ev-notoken)"
stop "$CPID"
event ev-notoken-cgi >"$T/nt.json"
cgi "$N/larkhook.conf" "$T/nt.json"
check "the same config as a CGI answers 500: no webhook without a token" 500 "$(status)"
check_true "and the log says why" grep -q 'status=500 reason="no verification_token: this config is for larkhook connect' "$N/larkhook.log"
check "and stores nothing" 0 "$(find "$N/spool/seen" -name "$(idhash ev-notoken-cgi)" | wc -l)"

# --- two processes sharing one spool ------------------------------------------------
lc_post reset >/dev/null
o=$(opened)
start "$S"
P1=$CPID
up "two processes: the first connected" $((o + 1))
c1=$(newest)
start "$S"
P2=$CPID
up "two processes: the second connected" $((o + 2)) 2
c2=$(newest)
E6=$(event ev-shared)
push "$E6" "{\"conn\":$c1}"
a=$(pushed .ack.code)
push "$E6" "{\"conn\":$c2}"
check "an event and its redelivery to the other process: both acked" "200 200" "$a $(pushed .ack.code)"
E7=$(event ev-both)
lc_post push "$(jq -nc --arg e "$E7" '{event: $e, conn: "all"}')" >/dev/null
lc_wait "acks=4" || fail "both processes ack the event sent to both"
check "each ran its hook once" "1 1" "$(ran "$S" ev-shared) $(ran "$S" ev-both)"
stop "$P1"
stop "$P2"

# --- the App Secret: only in the endpoint request's body ----------------------------
check "the App Secret is in endpoint requests only, in no handshake and no frame" \
	'{"endpoint":true,"handshakes":0,"frames":0}' \
	"$(lc_find "$SECRET" | jq -c '{endpoint: (.endpoint > 0), handshakes, frames}')"
check "the App Secret is in the endpoint body, not its headers" "true false" \
	"$(lc_state ".endpoint | map(.body | tostring | contains(\"$SECRET\")) | all") $(
	   lc_state ".endpoint | map(.headers | tostring | contains(\"$SECRET\")) | any")"
check "nor in any log line, output or hook environment" "" \
	"$(grep -lF "$SECRET" "$S"/larkhook.log "$S"/stdout.log "$S"/env.* "$K"/larkhook.log "$R"/larkhook.log 2>/dev/null)"
check "nor the verification token in a hook environment" "" "$(grep -lF "$TOKEN" "$S"/env.* 2>/dev/null)"

# --- through an HTTP CONNECT proxy ------------------------------------------------------
X=$T/proxy
lcsite "$X" "max_body = 8K"
PP=$(free_port)
{
	echo "Port $PP"
	echo "Listen 127.0.0.1"
	echo "Timeout 60"
	echo "LogFile \"$X/tinyproxy.log\""
	echo "LogLevel Connect"
	echo "Allow 127.0.0.1"
	echo "PidFile \"$X/tinyproxy.pid\""
} >"$X/tinyproxy.conf"
chown -R "$OWNER" "$X"
"${RUNAS[@]}" tinyproxy -d -c "$X/tinyproxy.conf" </dev/null >"$X/tinyproxy.out" 2>&1 &
PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PP" 2>/dev/null || fail "tinyproxy starts" "$(cat "$X/tinyproxy.out")"
o=$(opened)
# the emulator serves ws:// (http://): libcurl takes http_proxy for it
start "$X" http_proxy="http://127.0.0.1:$PP"
up "through the proxy: connected" $((o + 1))
push "$(event ev-proxied)"
check "through the proxy: an event is acked and runs" "200 1" "$(pushed .ack.code) $(ran "$X" ev-proxied)"
push "$(event ev-too-big "{\"note\":\"$(head -c 9000 /dev/zero | tr '\0' x)\"}")"
check "an event over max_body (8K here) is acked 413, as a webhook answers, and not stored" "413 0" \
	"$(pushed .ack.code) $(ran "$X" ev-too-big)"
# over the WebSocket message limit too (max_body + 64 KiB): cut there, its
# head is enough for the ack; no reconnect, which Feishu's redeliveries of
# it would repeat forever
o=$(opened)
push "$(event ev-far-too-big "{\"note\":\"$(head -c 100000 /dev/zero | tr '\0' x)\"}")"
check "an event over the WebSocket limit (8K + 64 KiB here) is acked 413 too, echoing its frame, not stored" \
	"413 true 0" "$(pushed '"\(.ack.code) \(.ack.echo_ok)"') $(ran "$X" ev-far-too-big)"
push "$(event ev-after-big)"
check "... on the same connection (no reconnect), and the next event is acked 200 and runs" "$o 200 1" \
	"$(opened) $(pushed .ack.code) $(ran "$X" ev-after-big)"
check_true "the proxy carried the WebSocket as a CONNECT tunnel" \
	grep -q "CONNECT 127.0.0.1:$LC_EMU_PORT HTTP/1.1" "$X/tinyproxy.log"
check_true "and the endpoint request" grep -q "POST http://127.0.0.1:$LC_EMU_PORT/callback/ws/endpoint" \
	"$X/tinyproxy.log"
stop "$CPID"

# --- TLS: verified against the system's CAs ---------------------------------------------
# a second emulator, over https and wss, with a self-signed certificate
lc_tls_cert
lc_emu --app-id "$APP_ID" --app-secret "$SECRET" --tls-cert "$LC_CERT" --tls-key "$LC_KEY" \
	--client-config '{"ReconnectNonce":0,"ReconnectInterval":1}' || exit 1
V=$T/tls
lcsite "$V"
start "$V"
check_true "an endpoint with a certificate no system CA signed is refused" \
	wait_for 20 grep -qis "certificate" "$V/larkhook.log"
stop "$CPID"
rc=$?
check "so no request reached it, and it was retried, not fatal (SIGTERM ended it: 0)" "0 0" \
	"$(lc_state '.endpoint | length') $rc"
# the same, in a private mount namespace whose system CA bundle is that
# certificate: everything as before, over https and wss
cp "$LC_CERT" "$V/ca.crt"
chmod 644 "$V/ca.crt"
# shellcheck disable=SC2016 # expanded by that sh
unshare -m sh -c 'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && shift && exec "$@"' sh \
	"$V/ca.crt" env -i PATH=/usr/bin:/bin "${RUNAS[@]}" "$BIN" -c "$V/larkhook.conf" connect \
	</dev/null >"$V/stdout.log" 2>&1 &
CPID=$!
PIDS+=("$CPID")
up "with the certificate among the system's CAs: connected over wss" 1
check "the endpoint was https://, the gateway URL it gave wss://" "https wss" \
	"${LC_EMU%%:*} $(lc_state '.endpoint[0].url' | cut -d: -f1)"
push "$(event ev-tls)"
check "over TLS: an event is acked and runs" "200 1" "$(pushed .ack.code) $(ran "$V" ev-tls)"
stop "$CPID"
check "over TLS: SIGTERM exits 0" 0 "$?"

# --- what the other builds and paths pay -------------------------------------------------
check "larkhook is not linked with libcurl (it is loaded only by the commands that talk to Feishu)" \
	"" "$(ldd "$BIN" | grep -i curl)"
if [ -x "$ROOT/larkhook-static" ]; then
	install -m 755 "$ROOT/larkhook-static" "$T/bin/larkhook-static"
	"${RUNAS[@]}" "$T/bin/larkhook-static" -c "$S/larkhook.conf" connect >"$T/static.out" 2>&1
	check "larkhook-static: connect exits 78 with a clear message" "78 1" \
		"$? $(grep -c 'larkhook-static cannot' "$T/static.out")"
else
	fail "larkhook-static is built" "make static"
fi

# --- the shipped systemd unit ----------------------------------------------------------------
U=$ROOT/examples/larkhook-connect.service
unit() { sed -n "s/^$1=//p" "$U"; }
check "the unit restarts always, runs connect as a dedicated user" "always larkhook connect" \
	"$(unit Restart) $(unit User) $(unit ExecStart | awk '{print $NF}')"
check "the unit is hardened: no new privileges, the system read-only but the spool and log" \
	"yes strict /var/spool/larkhook /var/log/larkhook yes" \
	"$(unit NoNewPrivileges) $(unit ProtectSystem) $(unit ReadWritePaths) $(unit PrivateTmp)"
sed "s|^ExecStart=/usr/local/sbin/larkhook |ExecStart=$BIN |" "$U" >"$T/larkhook-connect.service"
check "systemd-analyze verify finds nothing wrong in it" "" \
	"$(systemd-analyze verify --man=no "$T/larkhook-connect.service" 2>&1)"

# --- make demo, DEMO_MODE=connect ---------------------------------------------------------
DEMO_MODE=connect DEMO_EXIT=1 make -s -C "$ROOT" demo </dev/null >"$T/demo.out" 2>&1
check "DEMO_MODE=connect make demo succeeds" 0 $?
check "the demo's two seed events arrive over the long connection and are acked 200" "1 1" \
	"$(grep -c '^compensation.archive.changed_v1 (3 pieces) *-> ack {"code":200' "$T/demo.out") $(
	   grep -c '^performance.review_data.changed_v2 *-> ack {"code":200' "$T/demo.out")"
check "and their hooks ran with the events' fields" "1 1" \
	"$(grep -c '^ *LARK_EVENT_EMPLOYMENT_ID=7140964208476371111$' "$T/demo.out") $(
	   grep -c '^ *LARK_ITEM_USER_ID_OPEN_ID=ou_7dab8a3d3cdcc9da365777c7ad535d62$' "$T/demo.out")"
