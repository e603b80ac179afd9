#!/bin/bash
# commands.sh: the operator commands end to end: --help, --version, usage
# errors, run, forge (through a real lighttpd with the shipped CGI snippet),
# status, retry, drain and check. Every command runs as the unprivileged
# user, except the one assertion that root is refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# lh ARGS...: larkhook as the unprivileged user.
lh() { "${RUNAS[@]}" "$BIN" "$@"; }
# has NAME FILE ERE: FILE has a line matching ERE.
has() { check_true "$1" grep -Eq -- "$3" "$2"; }
# hasnt NAME FILE FIXED: FILE does not contain FIXED.
hasnt() { if grep -qF -- "$3" "$2"; then fail "$1" "found [$3] in: $(head -c 600 "$2")"; else ok "$1"; fi; }
# lines FILE: its line count (0 when missing).
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# event NAME JQ_FILTER: a plaintext event from the comp vector, in $T/ev/NAME.json.
mkdir -p "$T/ev"
event() { vector comp plaintext | jq -c "$2" >"$T/ev/$1.json"; }
COMP_ID=f7984f25108f8137722bb63cee927e66
COMP_TYPE=compensation.archive.changed_v1

# --- --help, --version, usage errors ---------------------------------------------------
lh --help >"$T/help" 2>"$T/help.err"; rc=$?
check "--help: exit 0" 0 "$rc"
for c in check drain status retry run forge; do
	has "--help describes the command $c" "$T/help" "^  $c( |\$)"
done
has "--help gives a crontab line for drain" "$T/help" \
	'^ *\*/[0-9]+ (\S+ ){4}/\S*larkhook( -c \S+)? drain$'
lh --version >"$T/version" 2>&1; rc=$?
check "--version: exit 0" 0 "$rc"
has "--version prints larkhook and a version number" "$T/version" '^larkhook [0-9]+\.[0-9]+\.[0-9]+'

vector comp plaintext >"$T/ev/comp.json"
# usage NAME ARGS...: exit 2, usage on stderr, nothing on stdout
usage() {
	local n=$1; shift
	lh -c "$T/none.conf" "$@" >"$T/usage.out" 2>"$T/usage.err"; rc=$?
	check "usage error, $n: exit 2" 2 "$rc"
	check_true "usage error, $n: usage on stderr, nothing on stdout" \
		eval 'grep -q "^usage: larkhook" "$T/usage.err" && [ ! -s "$T/usage.out" ]'
}
usage "unknown command" frobnicate
usage "no command"
usage "run without a file" run
usage "run with two files" run "$T/ev/comp.json" "$T/ev/comp.json"
usage "retry without an id" retry
usage "retry with two ids" retry a b
usage "check with an argument" check extra
usage "status with an argument" status extra
usage "drain with an argument" drain extra
usage "forge -u without a file" forge -u http://127.0.0.1/larkhook
usage "forge with two files" forge "$T/ev/comp.json" "$T/ev/comp.json"

# --- run ------------------------------------------------------------------------------
R=$(site run)
RC=$R/larkhook.conf
cat >"$R/hook.sh" <<'EOF'
#!/bin/sh
echo "hook out $LARK_TYPE ${LARK_EACH_INDEX:--}"
echo "$LARK_ID ${LARK_EACH_INDEX:--}" >>runs.log
if cmp -s - "$LARK_JSON_FILE"; then echo "stdin is the event"; fi
exit "$(cat code)"
EOF
chmod 755 "$R/hook.sh"
{
	echo "verification_token = $TOKEN"
	echo "encrypt_key = $KEY"
	echo "log = $R/larkhook.log"
	window_off
	echo "[on $COMP_TYPE]"
	echo "run = $R/hook.sh"
	echo "[on performance.review_data.changed_v2]"
	echo "run = $R/hook.sh"
	echo "each = items"
	echo "[on app_ticket]"
	echo "run = $R/hook.sh"
} >"$RC"
echo 7 >"$R/code"
chown -R "$OWNER" "$R"
RSP=$R/larkhook-spool

lh -c "$RC" run "$T/ev/comp.json" >"$T/run1.out" 2>"$T/run1.err"; rc=$?
check "run: exits with the hook's status (exit 7)" 7 "$rc"
sed '/^--- running /,$d' "$T/run1.out" >"$T/run1.env"
check_true "run: prints an environment before the hook" test -s "$T/run1.env"
check_true "run: the environment is sorted by name" \
	eval 'cut -d= -f1 "$T/run1.env" | LC_ALL=C sort -c'
check "run: every environment line is NAME=VALUE" 0 "$(grep -cvE '^[A-Za-z_][A-Za-z0-9_]*=' "$T/run1.env")"
has "run: LARK_TYPE line" "$T/run1.env" "^LARK_TYPE=$COMP_TYPE\$"
has "run: LARK_ID line" "$T/run1.env" "^LARK_ID=$COMP_ID\$"
has "run: LARK_EVENT_OPERATE_TYPE line" "$T/run1.env" '^LARK_EVENT_OPERATE_TYPE=modify$'
check "run: then the hook line, the hook's output, its exit" \
	"--- running [on $COMP_TYPE]: $R/hook.sh|hook out $COMP_TYPE -|stdin is the event|--- exit 7" \
	"$(sed -n '/^--- running /,$p' "$T/run1.out" | paste -sd'|')"
echo 0 >"$R/code"
lh -c "$RC" run "$T/ev/comp.json" >"$T/run2.out" 2>"$T/run2.err"; rc=$?
check "run: a successful hook: exit 0" 0 "$rc"
check "run: ... and ends with --- exit 0" "--- exit 0" "$(tail -n1 "$T/run2.out")"
check "run twice on the same event: the hook ran twice (no dedupe)" \
	"$COMP_ID -|$COMP_ID -" "$(paste -sd'|' "$R/runs.log")"
check "run stores nothing in the spool (no seen/ entry, no job)" 0 \
	"$(find "$RSP" -type f ! -name runner.lock 2>/dev/null | wc -l)"

# each = items: one run per element
vector perf plaintext | jq -c '.event.items = [.event.items[0], .event.items[0], .event.items[0]]' \
	>"$T/ev/perf3.json"
: >"$R/runs.log"
lh -c "$RC" run "$T/ev/perf3.json" >"$T/run3.out" 2>"$T/run3.err"; rc=$?
check "run, each = items with 3 items: exit 0" 0 "$rc"
check "run, each: three hook runs, one per item" \
	"5e3702a84e847582be8db7fb73283c02 0|5e3702a84e847582be8db7fb73283c02 1|5e3702a84e847582be8db7fb73283c02 2" \
	"$(paste -sd'|' "$R/runs.log")"
check "run, each: three environments printed, each with LARK_EACH_COUNT=3" \
	"3 3 3" "$(grep -c '^--- running ' "$T/run3.out") $(grep -c '^--- exit 0$' "$T/run3.out") $(grep -c '^LARK_EACH_COUNT=3$' "$T/run3.out")"

# a 1.0 event
vector v1 plaintext >"$T/ev/v1.json"
lh -c "$RC" run "$T/ev/v1.json" >"$T/run4.out" 2>"$T/run4.err"; rc=$?
check "run, 1.0 event: exit 0" 0 "$rc"
check "run, 1.0 event: type, id and schema" \
	"LARK_ID=bc447199585340d1f3728d26b1c0297a|LARK_SCHEMA=1.0|LARK_TYPE=app_ticket" \
	"$(grep -E '^LARK_(ID|SCHEMA|TYPE)=' "$T/run4.out" | paste -sd'|')"
has "run, 1.0 event: the hook ran" "$T/run4.out" '^hook out app_ticket -$'

# failures: nothing runs
: >"$R/runs.log"
event unrouted '.header.event_type = "nothing.routes.here_v1"'
lh -c "$RC" run "$T/ev/unrouted.json" >"$T/run5.out" 2>"$T/run5.err"; rc=$?
check "run, an event no hook matches: exit 1" 1 "$rc"
has "run, an event no hook matches: the message names the type" "$T/run5.err" 'nothing\.routes\.here_v1'
vector challenge plaintext >"$T/ev/challenge.json"
lh -c "$RC" run "$T/ev/challenge.json" >"$T/run6.out" 2>"$T/run6.err"; rc=$?
check "run, a URL verification: exit 1" 1 "$rc"
has "run, a URL verification: says it is a URL verification, not an event" "$T/run6.err" \
	'URL verification.*not an event'
printf '{"schema":"2.0","header":{' >"$T/ev/broken.json"
lh -c "$RC" run "$T/ev/broken.json" >"$T/run7.out" 2>"$T/run7.err"; rc=$?
check "run, invalid JSON: exit 1" 1 "$rc"
has "run, invalid JSON: the message names the file" "$T/run7.err" 'broken\.json'
lh -c "$RC" run "$T/ev/missing.json" >"$T/run8.out" 2>"$T/run8.err"; rc=$?
check "run, a missing file: exit 1" 1 "$rc"
check "run: no hook ran for any of these" 0 "$(lines "$R/runs.log")"

if [ "$(id -u)" -eq 0 ]; then
	"$BIN" -c "$RC" run "$T/ev/comp.json" >"$T/run9.out" 2>"$T/run9.err"; rc=$?
	check "run as root without allow_root: exit 1" 1 "$rc"
	has "run as root: the refusal says to run as the web server's user or set allow_root = yes" \
		"$T/run9.err" "root.*(user|www-data).*allow_root = yes"
	check "run as root: the hook did not run" 0 "$(lines "$R/runs.log")"
else
	"$BIN" -c "$RC" run "$T/ev/comp.json" >"$T/run9.out" 2>"$T/run9.err"; rc=$?
	check "run as a non-root user: the hook runs, exit 0" "0 1" "$rc $(lines "$R/runs.log")"
fi

# --- forge through lighttpd -------------------------------------------------------------
command -v lighttpd >/dev/null || fail "lighttpd is installed" "run: make deps"

# serve NAME: a site whose hook appends LARK_ID to its marker file, behind
# lighttpd with lighttpd/larkhook-cgi.conf; sets S, PORT, URL.
serve() {
	S=$(site "$1")
	sed -i "s|^run = true\$|run = echo \"\$LARK_ID\" >>marker|" "$S/larkhook.conf"
	lighttpd_start "$1" cgi "$S" || return 1
	URL=http://127.0.0.1:$PORT/larkhook
}
# forge_post NAME SITE EVENT: forge | sh, keeping the command in $T/NAME.cmd,
# forge's stderr in $T/NAME.err, curl's output in $T/NAME.out; sets RC.
forge_post() {
	local rcs
	lh -c "$2/larkhook.conf" forge -u "$URL" "$3" 2>"$T/$1.err" | tee "$T/$1.cmd" | sh >"$T/$1.out" 2>&1
	rcs=("${PIPESTATUS[@]}")
	RC=${rcs[0]}
}
# answer NAME: "CODE BODY" of the response curl printed with -i.
answer() { echo "$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$T/$1.out") $(tail -n1 "$T/$1.out")"; }
# marker SITE: the ids its hook saw, |-separated.
marker() { idle "$1/larkhook-spool"; paste -sd'|' "$1/marker" 2>/dev/null; }

if serve forge; then
	F=$S
	forge_post forge1 "$F" "$T/ev/comp.json"
	check "forge: exit 0" 0 "$RC"
	check_true "forge prints one curl command line" \
		eval '[ "$(wc -l <"$T/forge1.cmd")" = 1 ] && grep -q "^curl .*X-Lark-Signature: [0-9a-f]\{64\}" "$T/forge1.cmd"'
	check "forge | sh: lighttpd answers 200 success" '200 {"msg":"success"}' "$(answer forge1)"
	check "forge | sh: the event's hook ran" "$COMP_ID" "$(marker "$F")"
	cat "$T/forge1.cmd" "$T/forge1.err" >"$T/forge1.all"
	hasnt "forge, encrypted: the encrypt key is not in the output" "$T/forge1.all" "$KEY"
	hasnt "forge, encrypted: the verification token is not in the output" "$T/forge1.all" "$TOKEN"

	forge_post forge2 "$F" "$T/ev/comp.json"
	check "forge the same event again: 200 success" '0 200 {"msg":"success"}' "$RC $(answer forge2)"
	check "forge the same event again: it is a duplicate, the hook did not run again" \
		"$COMP_ID 1" "$(marker "$F") $(queued "$F/larkhook-spool")"
	has "forge the same event again: logged as a duplicate" "$F/larkhook.log" \
		"reason=\"duplicate event id\".* id=\"$COMP_ID\""

	event badtoken '.header.event_id = "forge-bad-token-0001" | .header.token = "not-the-token"'
	forge_post forge3 "$F" "$T/ev/badtoken.json"
	check "forge, wrong token in the event: exit 0" 0 "$RC"
	has "forge, wrong token: a note on stderr" "$T/forge3.err" 'note:.*token.*verification_token'
	check "forge, wrong token: corrected and accepted" '200 {"msg":"success"}' "$(answer forge3)"
	check "forge, wrong token: its hook ran" "$COMP_ID|forge-bad-token-0001" "$(marker "$F")"
	cat "$T/forge3.cmd" "$T/forge3.err" >"$T/forge3.all"
	hasnt "forge, wrong token: no secret in the output" "$T/forge3.all" "$KEY"
	hasnt "forge, wrong token: the token is not in the output" "$T/forge3.all" "$TOKEN"
fi

if serve plain; then
	P=$S
	sed -i '/^encrypt_key = /d' "$P/larkhook.conf"
	event plain '.header.event_id = "forge-token-only-0001"'
	forge_post plain1 "$P" "$T/ev/plain.json"
	check "forge, token-only: exit 0" 0 "$RC"
	check_true "forge, token-only: a plain JSON POST, no signature headers" \
		eval 'grep -q "^curl .*--data-binary .*\"event_id\":\"forge-token-only-0001\"" "$T/plain1.cmd" &&
			! grep -qi -e "X-Lark-" -e "encrypt" "$T/plain1.cmd"'
	hasnt "forge, token-only: the encrypt key is not in the output" "$T/plain1.cmd" "$KEY"
	check "forge, token-only | sh: 200 success" '200 {"msg":"success"}' "$(answer plain1)"
	check "forge, token-only | sh: the event's hook ran" "forge-token-only-0001" "$(marker "$P")"
fi

# --- status, retry --------------------------------------------------------------------
S=$(site status)
SC=$S/larkhook.conf
SS=$S/larkhook-spool
sed -i "s|^run = true\$|run = echo \"\$LARK_ATTEMPT\" >>attempts; test -e ok \|\| exit 100|" "$SC"
lh -c "$SC" status >"$T/st1.out" 2>&1; rc=$?
check "status on an empty spool: exit 0" 0 "$rc"
check "status on an empty spool: counts 0 waiting, running, done, failed" "0 0 0 0" \
	"$(awk '$1 ~ /^(waiting|running|done|failed)$/ { printf "%s%s", sep, $2; sep = " " }' "$T/st1.out")"

vector comp raw_body >"$T/comp.body"
cgi_signed "$SC" "$T/comp.body" "$(vector comp x_lark_signature)"
check "status: the event is accepted" 200 "$(status)"
idle "$SS"
lh -c "$SC" status >"$T/st2.out" 2>&1; rc=$?
check "status with a failed job (hook exit 100): exit 1" 1 "$rc"
has "status: failed 1" "$T/st2.out" '^failed +1$'
has "status lists the failed job's id, type, attempts and last result" "$T/st2.out" \
	"^ +$COMP_ID +$COMP_TYPE +attempts 1 +last exit100\$"

lh -c "$SC" retry no-such-event >"$T/rt0.out" 2>&1; rc=$?
check "retry an unknown id: exit 1" 1 "$rc"
touch "$S/ok"
lh -c "$SC" retry all >"$T/rt1.out" 2>&1; rc=$?
check "retry all: exit 0" 0 "$rc"
has "retry all: says one job was queued again" "$T/rt1.out" '^1 job\(s\) queued again'
idle "$SS"
lh -c "$SC" status >"$T/st3.out" 2>&1; rc=$?
check "status after retry all (the hook now succeeds): exit 0" 0 "$rc"
check "status after retry: done 1, failed 0" "1 0" \
	"$(awk '$1 == "done" { d = $2 } $1 == "failed" { f = $2 } END { print d, f }' "$T/st3.out")"
check "retry: LARK_ATTEMPT kept counting" "1|2" "$(paste -sd'|' "$S/attempts" 2>/dev/null)"

# --- drain ----------------------------------------------------------------------------
D=$(site drain)
DC=$D/larkhook.conf
DS=$D/larkhook-spool
sed -i "s|^run = true\$|run = echo \"\$LARK_ID\" >>marker|" "$DC"
lh -c "$DC" drain >"$T/dr1.out" 2>&1; rc=$?
check "drain with nothing due: exit 0" 0 "$rc"
check "drain with nothing due: prints the totals" "drain: 0 done, 0 to retry later, 0 failed" \
	"$(cat "$T/dr1.out")"

locked() { ! flock -n "$1/runner.lock" true; }
# the first drain made the spool; the lock file stays the unprivileged user's
mkdir -p "$DS"
touch "$DS/runner.lock"
chown "$OWNER" "$DS" "$DS/runner.lock"
( exec 9>>"$DS/runner.lock"; flock 9; exec sleep 120 ) &
HOLDER=$!
PIDS+=("$HOLDER")
if wait_for 10 locked "$DS"; then
	cgi_signed "$DC" "$T/comp.body" "$(vector comp x_lark_signature)"
	check "drain: an event queued while another process holds the lock" "200 1" \
		"$(status) $(count "$DS" new)"
	lh -c "$DC" drain >"$T/dr2.out" 2>&1; rc=$?
	check "drain while another runner holds the lock: exit 0" 0 "$rc"
	has "drain while locked: says another runner is working" "$T/dr2.out" 'another runner is working'
	check "drain while locked: ran nothing (no marker, the job still waits)" "0 1" \
		"$(lines "$D/marker") $(count "$DS" new)"
else
	fail "drain: the lock holder took runner.lock"
fi
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
keep=()
for p in "${PIDS[@]}"; do [ "$p" = "$HOLDER" ] || keep+=("$p"); done
PIDS=("${keep[@]}")
lh -c "$DC" drain >"$T/dr3.out" 2>&1; rc=$?
check "drain once the lock is free: runs the job" "0 drain: 1 done, 0 to retry later, 0 failed $COMP_ID" \
	"$rc $(cat "$T/dr3.out") $(paste -sd'|' "$D/marker" 2>/dev/null)"

# --- check ----------------------------------------------------------------------------
lh -c "$DC" check >"$T/ck1.out" 2>&1
check "check with a log = line: no warning about the log" 0 "$(grep -c '^warning: no log' "$T/ck1.out")"
sed -i '/^log = /d' "$DC"
lh -c "$DC" check >"$T/ck2.out" 2>&1; rc=$?
check "check without a log = line: still exit 0" 0 "$rc"
has "check without a log = line: warns" "$T/ck2.out" '^warning: no log = '
