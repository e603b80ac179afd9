#!/bin/bash
# hooks.sh: what a hook receives (doc/3-hooks.md, doc/6-hostile.md), end to end: the
# real binary as a CGI (and as FastCGI for descriptors) runs hooks that dump
# their environment, standard input, event file and descriptors into the
# site directory; the suite compares those dumps with the spec.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

HOOKPATH=/usr/local/bin:/usr/bin:/bin:/opt/lark-hooks/bin
HOMEDIR=$(getent passwd "$OWNER" | cut -d: -f6)
# The dump every probing hook runs, keyed by event id and item index. The
# descriptor listing is made by a child shell looking at its parent
# ($PPID): a redirection in dash itself would show dash's saved copy of
# the redirected descriptor (fd 10), and ls would see its own directory
# descriptor.
# shellcheck disable=SC2016 # expanded by the hook's shell
DUMP='k=$LARK_ID.${LARK_EACH_INDEX:-x}; sh -c '"'"'ls /proc/$PPID/fd > "$1"; readlink /proc/$PPID/fd/0 > "$2"'"'"' sh "fds.$k" "fd0.$k"; env -0 > "env.$k"; cat > "stdin.$k"; cp "$LARK_JSON_FILE" "jf.$k"; stat -c %a "$LARK_JSON_FILE" > "mode.$k"; true'

# conf DIR LINES...: a config of our own in site DIR (0600, owned by OWNER)
conf() {
	local d=$1; shift
	{
		echo "verification_token = $TOKEN"
		echo "encrypt_key = $KEY"
		echo "log = $d/larkhook.log"
		echo "path = $HOOKPATH"
		window_off "$@"
		printf '%s\n' "$@"
	} >"$d/larkhook.conf"
	chmod 600 "$d/larkhook.conf"
	chown "$OWNER" "$d/larkhook.conf"
}

# Reading a dump written by `env -0`: names sorted, and one value.
names() {
	local kv
	while IFS= read -r -d '' kv; do printf '%s\n' "${kv%%=*}"; done <"$1" | LC_ALL=C sort
}
envval() {
	local kv
	while IFS= read -r -d '' kv; do
		if [ "${kv%%=*}" = "$2" ]; then printf '%s' "${kv#*=}"; return 0; fi
	done <"$1"
	return 1
}
# What the shells add on their own to an environment built from nothing:
# dash (the hook's /bin/sh) adds PWD; bash started from it adds SHLVL and _.
SH_ADDS=$(cd "$T" && env -i /bin/sh -c 'env -0' >"$T/sh-adds" && names "$T/sh-adds")
BASH_ADDS=$(cd "$T" && env -i /bin/sh -c "bash -c 'env -0'" >"$T/bash-adds" && names "$T/bash-adds")
check "what dash adds to an empty environment is only PWD" PWD "$SH_ADDS"

# golden NAME DUMP SPOOL INDEX NAME=VALUE...: the dump holds exactly those
# variables (plus LARK_JSON_FILE and what dash adds), each with its value;
# LARK_JSON_FILE names the job's event file in SPOOL/run/.
golden() {
	local label=$1 dump=$2 sp=$3 index=$4 id want exp v; shift 4
	if [ ! -s "$dump" ]; then fail "$label: the hook ran and dumped its environment"; return; fi
	exp=$( { printf '%s\n' "${@%%=*}" LARK_JSON_FILE; echo "$SH_ADDS"; } | LC_ALL=C sort)
	check "$label: exactly the variables of doc/3-hooks.md" "$(echo "$exp" | tr '\n' ' ')" \
		"$(names "$dump" | tr '\n' ' ')"
	for want in "$@"; do
		v=$(envval "$dump" "${want%%=*}") || v="(unset)"
		check "$label: ${want%%=*}" "${want#*=}" "$v"
	done
	id=$(envval "$dump" LARK_ID)
	v=$(envval "$dump" LARK_JSON_FILE)
	if [[ $v =~ ^$sp/run/job\.[0-9]{16}\.$(idhash "$id")\.$index\.json$ ]]; then
		ok "$label: LARK_JSON_FILE is the job's file in run/"
	else
		fail "$label: LARK_JSON_FILE is the job's file in run/" "got [$v]"
	fi
}

# newevent VECTOR ID OUT: the vector's plaintext with header.event_id = ID
newevent() { vector "$1" plaintext | jq -c --arg id "$2" '.header.event_id = $id' >"$3"; }

# --- the main site: golden dumps, stdin, the event file, descriptors ---------
S=$(site main)
C=$S/larkhook.conf
SP=$S/larkhook-spool
V1TYPE=$(vector v1 plaintext | jq -r .event.type)
conf "$S" "env = HR_API_BASE=https://example.internal" "env = QUERY=a=b  c" \
	"[on compensation.archive.changed_v1]" "run = $DUMP" \
	"[on performance.review_data.changed_v2]" "run = $DUMP" "each = items" \
	"[on $V1TYPE]" "run = $DUMP"

COMPID=$(vector comp plaintext | jq -r .header.event_id)
PERFID=$(vector perf plaintext | jq -r .header.event_id)
V1ID=$(vector v1 plaintext | jq -r .uuid)
for v in comp perf card_new; do vector $v raw_body >"$T/$v.body"; done
vector comp plaintext >"$T/comp.plain"
vector v1 plaintext >"$T/v1.plain"

cgi_signed "$C" "$T/comp.body" "$(vector comp x_lark_signature)"
check "compensation event: 200" 200 "$(status)"
cgi_signed "$C" "$T/perf.body" "$(vector perf x_lark_signature)"
check "performance event: 200" 200 "$(status)"
cgi_signed "$C" "$T/v1.body" "$(seal "$T/v1.plain" "$T/v1.body")"
check "schema 1.0 event ($V1TYPE), sealed: 200" 200 "$(status)"
idle "$SP"
check "three jobs, all in done/" "3 3" "$(queued "$SP") $(count "$SP" "done")"

golden "compensation env" "$S/env.$COMPID.x" "$SP" 0 \
	"PATH=$HOOKPATH" "HOME=$HOMEDIR" "LARKHOOK=$BIN" "LARKHOOK_CONFIG=$C" \
	"HR_API_BASE=https://example.internal" "QUERY=a=b  c" \
	LARK_TYPE=compensation.archive.changed_v1 "LARK_ID=$COMPID" LARK_SCHEMA=2.0 \
	LARK_TIME=1700000001000 LARK_APP_ID=cli_a1b2c3d4e5f60001 LARK_TENANT_KEY=2ca1d211f64f6438 \
	LARK_ATTEMPT=1 \
	LARK_EVENT_OPERATE_TYPE=modify LARK_EVENT_EMPLOYMENT_ID=7140964208476371111 \
	LARK_EVENT_EFFECTIVE_DATE=2024-01-01 LARK_EVENT_BEFORE_TID=7303487035893753387 \
	LARK_EVENT_AFTER_TID=7303487035893753388

PERF_EVENT=(
	LARK_EVENT_ITEMS_COUNT=1
	LARK_EVENT_ITEMS_0_USER_ID_UNION_ID=on_94a1ee5551019f18cd73d9f111898cf2
	LARK_EVENT_ITEMS_0_USER_ID_USER_ID=e33ggbyz
	LARK_EVENT_ITEMS_0_USER_ID_OPEN_ID=ou_7dab8a3d3cdcc9da365777c7ad535d62
	LARK_EVENT_ITEMS_0_SEMESTER_ID=7194320234327572499
	LARK_EVENT_ITEMS_0_ACTIVITY_ID=7194320234327572500
	LARK_EVENT_ITEMS_0_STAGE_CHANGES_COUNT=1
	LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_STAGE_ID=7194320234327572501
	LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_STAGE_TYPE=review
	LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_REVIEW_STAGE_ROLE=solid_line_leader
)
PERF_META=(
	"PATH=$HOOKPATH" "HOME=$HOMEDIR" "LARKHOOK=$BIN" "LARKHOOK_CONFIG=$C"
	"HR_API_BASE=https://example.internal" "QUERY=a=b  c"
	LARK_TYPE=performance.review_data.changed_v2 "LARK_ID=$PERFID" LARK_SCHEMA=2.0
	LARK_TIME=1700000000000 LARK_APP_ID=cli_a1b2c3d4e5f60001 LARK_TENANT_KEY=2ca1d211f64f6438
	LARK_ATTEMPT=1
)
golden "performance env, each = items" "$S/env.$PERFID.0" "$SP" 0 "${PERF_META[@]}" "${PERF_EVENT[@]}" \
	LARK_EACH_INDEX=0 LARK_EACH_COUNT=1 \
	LARK_ITEM_USER_ID_UNION_ID=on_94a1ee5551019f18cd73d9f111898cf2 \
	LARK_ITEM_USER_ID_USER_ID=e33ggbyz \
	LARK_ITEM_USER_ID_OPEN_ID=ou_7dab8a3d3cdcc9da365777c7ad535d62 \
	LARK_ITEM_SEMESTER_ID=7194320234327572499 LARK_ITEM_ACTIVITY_ID=7194320234327572500 \
	LARK_ITEM_STAGE_CHANGES_COUNT=1 \
	LARK_ITEM_STAGE_CHANGES_0_STAGE_ID=7194320234327572501 \
	LARK_ITEM_STAGE_CHANGES_0_STAGE_TYPE=review \
	LARK_ITEM_STAGE_CHANGES_0_REVIEW_STAGE_ROLE=solid_line_leader

# schema 1.0 has no header: larkhook takes app_id (and tenant_key, absent
# here) from the event object; the time is ts as sent
golden "schema 1.0 env" "$S/env.$V1ID.x" "$SP" 0 \
	"PATH=$HOOKPATH" "HOME=$HOMEDIR" "LARKHOOK=$BIN" "LARKHOOK_CONFIG=$C" \
	"HR_API_BASE=https://example.internal" "QUERY=a=b  c" \
	"LARK_TYPE=$V1TYPE" "LARK_ID=$V1ID" LARK_SCHEMA=1.0 LARK_TIME=1700000002.000000 \
	LARK_APP_ID=cli_a1b2c3d4e5f60001 LARK_ATTEMPT=1 \
	LARK_EVENT_TYPE=app_ticket LARK_EVENT_APP_ID=cli_a1b2c3d4e5f60001 \
	LARK_EVENT_APP_TICKET=dummy-ticket-0001

# the same performance event without each
S2=$(site noeach)
conf "$S2" "[on performance.review_data.changed_v2]" "run = $DUMP"
cgi_signed "$S2/larkhook.conf" "$T/perf.body" "$(vector perf x_lark_signature)"
check "performance event without each: 200" 200 "$(status)"
idle "$S2/larkhook-spool"
golden "performance env without each" "$S2/env.$PERFID.x" "$S2/larkhook-spool" 0 \
	"PATH=$HOOKPATH" "HOME=$HOMEDIR" "LARKHOOK=$BIN" "LARKHOOK_CONFIG=$S2/larkhook.conf" \
	LARK_TYPE=performance.review_data.changed_v2 "LARK_ID=$PERFID" LARK_SCHEMA=2.0 \
	LARK_TIME=1700000000000 LARK_APP_ID=cli_a1b2c3d4e5f60001 LARK_TENANT_KEY=2ca1d211f64f6438 \
	LARK_ATTEMPT=1 "${PERF_EVENT[@]}"

# --- standard input and LARK_JSON_FILE --------------------------------------
check_true "stdin is the decrypted plaintext, byte for byte" cmp -s "$T/comp.plain" "$S/stdin.$COMPID.x"
vector perf plaintext >"$T/perf.plain"
check_true "stdin of an each job is the whole event" cmp -s "$T/perf.plain" "$S/stdin.$PERFID.0"
check_true "stdin of a schema 1.0 hook is its plaintext" cmp -s "$T/v1.plain" "$S/stdin.$V1ID.x"
check_true "LARK_JSON_FILE holds the same bytes (read while the hook runs)" \
	cmp -s "$T/comp.plain" "$S/jf.$COMPID.x"
check "LARK_JSON_FILE is mode 0600" 600 "$(cat "$S/mode.$COMPID.x" 2>/dev/null)"
jf=$(envval "$S/env.$COMPID.x" LARK_JSON_FILE)
check_true "LARK_JSON_FILE is gone once the hook has ended" test -n "$jf" -a ! -e "$jf"
check "nothing is left in run/" "" "$(ls -A "$SP/run" 2>/dev/null)"

# --- descriptors under CGI ---------------------------------------------------
check "CGI: the hook has only descriptors 0 1 2" "0 1 2" \
	"$(sort -n "$S/fds.$COMPID.x" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check "CGI: the hook's standard input is its event file" "$jf" "$(cat "$S/fd0.$COMPID.x" 2>/dev/null)"

# --- descriptors under FastCGI: fd 0 of larkhook is the listening socket ----
if command -v spawn-fcgi >/dev/null && command -v cgi-fcgi >/dev/null; then
	S3=$(site fcgi)
	conf "$S3" "env = HR_API_BASE=https://example.internal" "env = QUERY=a=b  c" \
		"[on compensation.archive.changed_v1]" "run = $DUMP"
	SOCK=$T/fcgi.sock
	SPAWN=(spawn-fcgi -n -s "$SOCK")
	[ "$(id -u)" -eq 0 ] && SPAWN+=(-u www-data -g www-data)
	"${SPAWN[@]}" -- "$BIN" -c "$S3/larkhook.conf" </dev/null >"$T/spawn.log" 2>&1 &
	PIDS+=($!)
	if wait_for 10 test -S "$SOCK"; then
		env -i REQUEST_METHOD=POST CONTENT_LENGTH="$(stat -c %s "$T/comp.body")" \
			HTTP_X_LARK_SIGNATURE="$(vector comp x_lark_signature)" \
			HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE" \
			HTTP_PROXY=http://evil HTTP_USER_AGENT='() { :;}; touch MARKER6' \
			cgi-fcgi -bind -connect "$SOCK" <"$T/comp.body" >"$T/resp" 2>"$T/stderr"
		check "FastCGI: compensation event, 200" 200 "$(status)"
		idle "$S3/larkhook-spool"
		check "FastCGI: the hook has only descriptors 0 1 2" "0 1 2" \
			"$(sort -n "$S3/fds.$COMPID.x" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
		fd0=$(cat "$S3/fd0.$COMPID.x" 2>/dev/null)
		check_true "FastCGI: the hook's fd 0 is not a socket" test -n "$fd0" -a "${fd0#socket:}" = "$fd0"
		check "FastCGI: the hook's fd 0 is its event file" \
			"$(envval "$S3/env.$COMPID.x" LARK_JSON_FILE)" "$fd0"
		check_true "FastCGI: stdin is the decrypted plaintext" cmp -s "$T/comp.plain" "$S3/stdin.$COMPID.x"
		check "FastCGI: the same variables as under CGI (no request parameter leaks)" \
			"$(names "$S/env.$COMPID.x" | tr '\n' ' ')" "$(names "$S3/env.$COMPID.x" | tr '\n' ' ')"
	else
		fail "spawn-fcgi starts the responder" "$(cat "$T/spawn.log")"
	fi
else
	fail "spawn-fcgi and cgi-fcgi are installed" "run: make deps"
fi

# --- hostile event fields ---------------------------------------------------
S4=$(site hostile)
# shellcheck disable=SC2016 # expanded by the hook's shells
PROBE='env -0 > "env.$LARK_ID"; bash -c '"'"'env -0 > "bashenv.$LARK_ID"; declare -F > "funcs.$LARK_ID"'"'"'; echo ran > "ran.$LARK_ID"'
conf "$S4" "[on probe.*]" "run = $PROBE"
# a file BASH_ENV could name, were a newline in a value to split a variable
printf 'touch MARKER5\n' >"$T/evil.sh"
chmod 644 "$T/evil.sh"
NL=$'one\nBASH_ENV='"$T"$'/evil.sh\nLD_PRELOAD=/nonexistent.so\n'
# shellcheck disable=SC2016 # literal, never to be expanded
vector comp plaintext | jq -c --arg nl "$NL" '.header.event_id = "hostile-1" |
	.header.event_type = "probe.hostile" |
	.event = {"PATH": "$(touch MARKER1)", "BASH_FUNC_x%%": "() { :;}; touch MARKER2",
		"LD_PRELOAD": $nl, "BASH_ENV": "'"'"';touch MARKER3;'"'"'", "HOME": ("A" * 204800)}' \
	>"$T/hostile.plain"
cgi_signed "$S4/larkhook.conf" "$T/hostile.body" "$(seal "$T/hostile.plain" "$T/hostile.body")"
check "hostile event: 200" 200 "$(status)"
H=$S4/env.hostile-1
HB=$S4/bashenv.hostile-1
idle "$S4/larkhook-spool"
check_true "hostile event: the hook ran (sh and bash)" test -e "$S4/ran.hostile-1"
check "hostile event: the job is done" 1 "$(count "$S4/larkhook-spool" "done")"
check "hostile event: LARK_TRUNCATED=1 (the 200 KB value is left out)" 1 "$(envval "$H" LARK_TRUNCATED)"
check_true "hostile event: the 200 KB value is not in the environment" \
	test "$(envval "$H" LARK_EVENT_HOME; echo $?)" = 1
check "hostile event: PATH is the config's" "$HOOKPATH" "$(envval "$H" PATH)"
check "hostile event: PATH is the config's, in bash too" "$HOOKPATH" "$(envval "$HB" PATH)"
check "hostile event: HOME is the user's, not the event's" "$HOMEDIR" "$(envval "$H" HOME)"
HOSTILE_NAMES=(HOME LARKHOOK LARKHOOK_CONFIG LARK_APP_ID LARK_ATTEMPT LARK_EVENT_BASH_ENV LARK_EVENT_BASH_FUNC_X__
	LARK_EVENT_LD_PRELOAD LARK_EVENT_PATH LARK_ID LARK_JSON_FILE LARK_SCHEMA LARK_TENANT_KEY
	LARK_TIME LARK_TRUNCATED LARK_TYPE PATH)
check "hostile event: only PATH, HOME and LARK_ names of the mapping (sh)" \
	"$(printf '%s\n' "${HOSTILE_NAMES[@]}" "$SH_ADDS" | LC_ALL=C sort | tr '\n' ' ')" \
	"$(names "$H" | tr '\n' ' ')"
check "hostile event: only PATH, HOME and LARK_ names of the mapping (bash)" \
	"$(printf '%s\n' "${HOSTILE_NAMES[@]}" "$BASH_ADDS" | LC_ALL=C sort -u | tr '\n' ' ')" \
	"$(names "$HB" | tr '\n' ' ')"
check "hostile event: no LD_*, BASH_ENV or BASH_FUNC_* variable" "" \
	"$( { names "$H"; names "$HB"; } | grep -E '^(LD_|BASH_ENV$|BASH_FUNC_)' | tr '\n' ' ')"
check "hostile event: bash imported no function" "" "$(cat "$S4/funcs.hostile-1" 2>/dev/null)"
check 'hostile event: a $(...) value arrives as text' '$(touch MARKER1)' "$(envval "$H" LARK_EVENT_PATH)"
check "hostile event: a Shellshock value arrives as text" '() { :;}; touch MARKER2' \
	"$(envval "$HB" LARK_EVENT_BASH_FUNC_X__)"
check_true "hostile event: a value with newlines arrives whole" \
	test "$(envval "$H" LARK_EVENT_LD_PRELOAD; echo .)" = "$NL."
check "hostile event: a quote-breaking value arrives as text" "';touch MARKER3;'" \
	"$(envval "$H" LARK_EVENT_BASH_ENV)"

# --- hostile request environment ------------------------------------------------
newevent comp hostile-2 "$T/req.plain"
jq -c '.header.event_type = "probe.request"' "$T/req.plain" >"$T/req2.plain"
cgi_signed "$S4/larkhook.conf" "$T/req.body" "$(seal "$T/req2.plain" "$T/req.body")" \
	HTTP_PROXY=http://evil HTTP_USER_AGENT='() { :;}; touch MARKER4' LD_PRELOAD=/nonexistent.so
check "request with Proxy:, a Shellshock User-Agent and LD_PRELOAD: 200" 200 "$(status)"
idle "$S4/larkhook-spool"
R=$S4/env.hostile-2
RB=$S4/bashenv.hostile-2
check_true "hostile request: the hook ran" test -s "$R" -a -s "$RB"
check "hostile request: no HTTP_* or LD_* variable reaches the hook" "" \
	"$( { names "$R"; names "$RB"; } | grep -E '^(HTTP_|LD_)' | tr '\n' ' ')"
check "hostile request: bash imported no function" "" "$(cat "$S4/funcs.hostile-2" 2>/dev/null)"
check "no marker file was created anywhere" "" "$(find "$T" -name 'MARKER*' | tr '\n' ' ')"

# --- hook output in the log ---------------------------------------------------------
S5=$(site output)
conf "$S5" "[on compensation.archive.changed_v1]" \
	"run = echo 'line on stdout'; echo 'line on stderr' >&2; printf 'esc:\\033[31mred\\n'" \
	"[on performance.review_data.changed_v2]" \
	"run = yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -c 204800; echo finished > chatty.done"
cgi_signed "$S5/larkhook.conf" "$T/comp.body" "$(vector comp x_lark_signature)"
check "output hook: 200" 200 "$(status)"
cgi_signed "$S5/larkhook.conf" "$T/perf.body" "$(vector perf x_lark_signature)"
check "chatty hook: 200" 200 "$(status)"
idle "$S5/larkhook-spool"
L=$S5/larkhook.log
CP="hook [on compensation.archive.changed_v1] compensation.archive.changed_v1 $COMPID: "
PP="hook [on performance.review_data.changed_v2] performance.review_data.changed_v2 $PERFID: "
check "a stdout line is logged with its hook prefix" 1 "$(grep -cF "]: ${CP}line on stdout" "$L")"
check "a stderr line is logged with its hook prefix" 1 "$(grep -cF "]: ${CP}line on stderr" "$L")"
check "ESC in hook output is logged escaped" 1 "$(grep -cF "]: ${CP}esc:\\x1b[31mred" "$L")"
check "no raw control byte in the log" 0 "$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$L")"
# the bytes of its output that made it to the log: each line and its
# newline, but the last one logged may be a line cut off without one
kept=$(LC_ALL=C awk -v p="]: $PP" '(i = index($0, p)) && !index($0, p "output cut: ") {
		n += length($0) - i - length(p) + 2 }
	END { print (n > 0 ? n - 1 : 0) }' "$L")
check_true "chatty hook: at most 64 KiB of its 200 KB logged ($kept bytes)" test "$kept" -gt 0 -a "$kept" -le 65536
check "chatty hook: a line says the output was cut" 1 "$(grep -cF "${PP}output cut: 204800 bytes" "$L")"
check_true "chatty hook: it ran to its end (never blocked)" test -e "$S5/chatty.done"
check "chatty hook: the job is done (with the other one)" "2 0" \
	"$(count "$S5/larkhook-spool" "done") $(count "$S5/larkhook-spool" failed)"
check "chatty hook: its run ends with exit 0; done" 1 "$(grep -cF "${PP%: }"' attempt 1: exit 0; done' "$L")"

# --- reply mode -------------------------------------------------------------------------
S6=$(site reply)
RSP=$S6/larkhook-spool
check "card_new is a card.action.trigger" card.action.trigger \
	"$(vector card_new plaintext | jq -r .header.event_type)"
reply_with() { conf "$S6" "[on card.action.trigger]" "mode = reply" "timeout = 1" "run = $1"; }
card() { cgi_signed "$S6/larkhook.conf" "$T/card_new.body" "$(vector card_new x_lark_signature)"; }
ANSWER='{"toast":{"type":"success","content":"saved"},"card":{"type":"raw","data":{"a":[1,2]}}}'
reply_with "printf '%s' '$ANSWER'"
card
check "reply hook printing a JSON object: 200" 200 "$(status)"
resp_body >"$T/reply.out"
check_true "reply hook: the body is exactly its output" cmp -s "$T/reply.out" <(printf %s "$ANSWER")
# shellcheck disable=SC2016 # expanded by the hook's shell
reply_with 'sh -c '"'"'ls /proc/$PPID/fd > reply.fds'"'"'; env -0 > reply.env; printf "{}"'
card
check "reply hook: 200 with its {}" "200 {}" "$(status) $(resp_body)"
check "reply hook: only descriptors 0 1 2 (not the CGI's request or response)" "0 1 2" \
	"$(sort -n "$S6/reply.fds" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check "reply hook: LARK_TYPE and LARK_ID of the card event" \
	"card.action.trigger $(vector card_new plaintext | jq -r .header.event_id)" \
	"$(envval "$S6/reply.env" LARK_TYPE) $(envval "$S6/reply.env" LARK_ID)"
reply_with "printf '{}'; exit 1"
card
check "reply hook exiting 1: 500" 500 "$(status)"
reply_with 'echo $$ > reply.pgid; sleep 30 & sleep 30'
card
check "reply hook past its timeout: 500" 500 "$(status)"
pg=$(cat "$S6/reply.pgid" 2>/dev/null)
alive() { ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/' | grep -q .; }
check_true "reply hook past its timeout: its process group is gone" \
	wait_for 10 eval "test -n '$pg' && ! alive '$pg'"
# should it have survived, it is ours to stop (by its group id)
[ -n "$pg" ] && alive "$pg" && kill -KILL -- "-$pg"
reply_with "echo this is not json"
card
check "reply hook printing non-JSON: 500" 500 "$(status)"
check "reply hooks spool nothing" 0 "$(queued "$RSP")"
check "reply hooks leave nothing in run/" "" "$(ls -A "$RSP/run" 2>/dev/null)"
