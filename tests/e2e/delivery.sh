#!/bin/bash
# delivery.sh: what the runner promises (doc/3-hooks.md, doc/4-spool.md), driven
# through the real binary as a CGI and with `larkhook drain`: each event
# runs once, in arrival order, `concurrency` at a time; retries, failed/,
# status and retry; timeouts kill the hook's group; a crashed runner's job
# runs again; each = items; retain.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

EV=$T/ev
mkdir -p "$EV"
vector comp plaintext >"$T/comp.plain"
vector perf plaintext >"$T/perf.plain"
COMP=compensation.archive.changed_v1

# ev ID [JQ FILTER [PLAINFILE]]: a distinct event: the plaintext with that
# event id (and the filter applied), sealed into $EV/ID.body and ID.sig.
ev() {
	jq -c --arg id "$1" ".header.event_id = \$id | ${2:-.}" "${3:-$T/comp.plain}" >"$EV/$1.plain"
	seal "$EV/$1.plain" "$EV/$1.body" >"$EV/$1.sig"
}
# send CONF ID: deliver event ID as Feishu would (response: status, resp_body).
send() { cgi_signed "$1" "$EV/$2.body" "$(cat "$EV/$2.sig")"; }
# send_all CONF ID...: deliver the events one after the other; prints
# the statuses, space-separated.
send_all() {
	local c=$1 id res=(); shift
	for id in "$@"; do send "$c" "$id"; res+=("$(status)"); done
	echo "${res[*]}"
}
# mk NAME [LINE...]: a site whose config is the secrets, its log and these
# lines; prints its directory (the hooks' working directory).
mk() {
	local d=$T/$1; shift
	mkdir -p "$d"
	{
		echo "verification_token = $TOKEN"
		echo "encrypt_key = $KEY"
		echo "log = $d/larkhook.log"
		window_off "$@"
		printf '%s\n' "$@"
	} >"$d/larkhook.conf"
	chmod 600 "$d/larkhook.conf"
	chown -R "$OWNER" "$d"
	echo "$d"
}
# hook DIR: the hook script DIR/hook.sh from standard input.
hook() { cat >"$1/hook.sh"; chown "$OWNER" "$1/hook.sh"; }
# lh DIR ARGS...: a larkhook command on DIR's config, as the web server's user.
lh() { local d=$1; shift; "${RUNAS[@]}" "$BIN" -c "$d/larkhook.conf" "$@"; }
# names SPOOL DIR: the job file names in a spool directory, one a line.
names() { find "$1/$2" -type f -printf '%f\n' | sort; }
# lines FILE: its line count (0 when missing).
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
# held SPOOL: some process holds the runner's lock.
held() { ! flock -n "$1/runner.lock" true; }
# hold SPOOL: hold the runner's lock from a background process (HOLDER), as
# a live runner would; kicks then leave the jobs alone.
hold() {
	(exec 9>>"$1/runner.lock"; flock 9; exec sleep 300) &
	HOLDER=$!
	PIDS+=("$HOLDER")
	wait_for 10 held "$1" || fail "holding the runner lock of $1"
}
release() { kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; }
# live PID: a process that is there and not a zombie.
live() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
# group_live PGID: some process of that group is there and not a zombie.
group_live() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
group_gone() { ! group_live "$1"; }
gone() { ! live "$1"; }
# count of lines matching a regex in a file (0 when none or missing)
matches() { grep -cE "$1" "$2" 2>/dev/null || true; }

# --- the same event delivered three times: one run ------------------------------
S=$(mk dedupe "[on $COMP]" 'run = echo "$LARK_ID $LARK_ATTEMPT" >> runs.log')
ev dup
check "same event delivered 3 times: 200 each time" "200 200 200" "$(send_all "$S/larkhook.conf" dup dup dup)"
idle "$S/larkhook-spool"
check "same event delivered 3 times: the hook ran once" "dup 1" "$(cat "$S/runs.log" 2>/dev/null)"
check "same event delivered 3 times: one job, in done/" 1 "$(count "$S/larkhook-spool" "done")"

# --- 30 distinct events, 10 at once, three rounds: 30 runs, each id once --------
S=$(mk many "[on $COMP]" 'run = echo "$LARK_ID $LARK_ATTEMPT" >> runs.log')
for n in $(seq 30); do ev "many-$n" & done
wait
mkdir -p "$T/par"
for round in 0 1 2; do
	pids=()
	for i in $(seq 10); do
		n=$((round * 10 + i))
		mkdir -p "$T/par/$n"
		( T=$T/par/$n; send "$S/larkhook.conf" "many-$n"; status >"$T/status" ) &
		pids+=($!)
	done
	wait "${pids[@]}"
done
check "30 events, 10 concurrent requests at a time: every response 200" 30 \
	"$(cat "$T"/par/*/status | grep -cx 200)"
wait_for 30 has_lines "$S/runs.log" 30
idle "$S/larkhook-spool"
check "30 events: exactly 30 hook runs" 30 "$(lines "$S/runs.log")"
check "30 events: each id ran once, on its first attempt" \
	"$(for n in $(seq 30); do echo "many-$n 1"; done | sort)" "$(sort "$S/runs.log")"
check "30 events: 30 jobs in done/, none waiting or failed" "30 0 0 0" \
	"$(count "$S/larkhook-spool" "done") $(count "$S/larkhook-spool" new) $(count "$S/larkhook-spool" cur) $(count "$S/larkhook-spool" failed)"

# --- concurrency = 1 (the default): runs never overlap ----------------------------
S=$(mk serial "[on $COMP]" "run = sh hook.sh")
hook "$S" <<'EOF'
if mkdir busy 2>/dev/null; then
	echo "start $LARK_ID" >>runs.log
	sleep 0.1
	echo "end $LARK_ID" >>runs.log
	rmdir busy
else
	echo "overlap $LARK_ID" >>violations.log
fi
EOF
for n in 1 2 3 4 5 6; do ev "serial-$n"; done
mkdir -p "$T/ser"
pids=()
for n in 1 2 3 4 5 6; do
	mkdir -p "$T/ser/$n"
	( T=$T/ser/$n; send "$S/larkhook.conf" "serial-$n"; status >"$T/status" ) &
	pids+=($!)
done
wait "${pids[@]}"
check "concurrency 1: 6 simultaneous events answered 200" 6 "$(cat "$T"/ser/*/status | grep -cx 200)"
wait_for 30 has_lines "$S/runs.log" 12
idle "$S/larkhook-spool"
check "concurrency 1: no hook started while another ran" 0 "$(lines "$S/violations.log")"
check "concurrency 1: all 6 ran, each start followed by its own end" 6 \
	"$(paste - - <"$S/runs.log" | awk '$1 == "start" && $3 == "end" && $2 == $4' | sort -u | wc -l)"

# --- concurrency = 3: more than one at once, never more than 3 ----------------------
S=$(mk parallel "concurrency = 3" "[on $COMP]" "run = sh hook.sh")
mkdir -p "$S/active"
chown "$OWNER" "$S/active"
hook "$S" <<'EOF'
: >"active/$LARK_ID"
ls active | wc -l >>overlap.log
sleep 0.3
ls active | wc -l >>overlap.log
rm "active/$LARK_ID"
echo "$LARK_ID" >>runs.log
EOF
lh "$S" drain >/dev/null
for n in 1 2 3 4 5 6 7; do ev "par-$n"; done
hold "$S/larkhook-spool"
check "concurrency 3: 7 events queued while a runner is alive: 200" "200 200 200 200 200 200 200" \
	"$(send_all "$S/larkhook.conf" par-1 par-2 par-3 par-4 par-5 par-6 par-7)"
release
check "concurrency 3: drain runs the 7" "drain: 7 done, 0 to retry later, 0 failed" "$(lh "$S" drain)"
max=$(sort -n "$S/overlap.log" | tail -1)
check_true "concurrency 3: more than one hook ran at once (max $max)" test "${max:-0}" -gt 1
check_true "concurrency 3: never more than 3 at once (max $max)" test "${max:-0}" -le 3
check "concurrency 3: each ran once" "$(printf 'par-%s\n' 1 2 3 4 5 6 7)" "$(sort "$S/runs.log")"

# --- arrival order ------------------------------------------------------------------
S=$(mk order "[on $COMP]" 'run = echo "$LARK_ID" >> runs.log')
lh "$S" drain >/dev/null
order=(ord-e ord-c ord-a ord-d ord-b)
for id in "${order[@]}"; do ev "$id"; done
hold "$S/larkhook-spool"
check "order: 5 events sent while a runner is alive: 200" "200 200 200 200 200" \
	"$(send_all "$S/larkhook.conf" "${order[@]}")"
check "order: their kicks found the runner alive and left the jobs in new/" "5 0" \
	"$(count "$S/larkhook-spool" new) $(lines "$S/runs.log")"
release
check "order: drain runs the 5" "drain: 5 done, 0 to retry later, 0 failed" "$(lh "$S" drain)"
check "order: the hooks ran in the order the events arrived" "${order[*]}" "$(paste -sd' ' "$S/runs.log")"

# --- a live runner picks up jobs spooled while it runs --------------------------------
S=$(mk live "[on $COMP]" "run = sh hook.sh" "timeout = 30")
hook "$S" <<'EOF'
echo "start $LARK_ID" >>runs.log
if [ "$LARK_ID" = live-1 ]; then
	while [ ! -e go ]; do sleep 0.05; done
fi
echo "end $LARK_ID" >>runs.log
EOF
ev live-1
ev live-2
send "$S/larkhook.conf" live-1
check "live runner: first event 200" 200 "$(status)"
wait_for 10 grep -qsx "start live-1" "$S/runs.log" || fail "live runner: the first hook starts"
send "$S/larkhook.conf" live-2
check "live runner: second event 200" 200 "$(status)"
check_true "live runner: the runner still holds the lock (the second kick found it alive)" \
	held "$S/larkhook-spool"
check "live runner: the second job waits in new/" 1 "$(count "$S/larkhook-spool" new)"
touch "$S/go"
check_true "live runner: the second event's hook runs without another request or drain" \
	wait_for 20 grep -qsx "end live-2" "$S/runs.log"
idle "$S/larkhook-spool"
check "live runner: both ran once, one after the other" \
	"start live-1,end live-1,start live-2,end live-2" "$(paste -sd, "$S/runs.log")"

# --- a failing hook: attempts, failed/, status, retry ---------------------------------
S=$(mk failing "backoff = 0" "[on $COMP]" "run = sh hook.sh" "attempts = 3")
SP=$S/larkhook-spool
hook "$S" <<'EOF'
echo "$LARK_ID $LARK_ATTEMPT" >>runs.log
[ -e ok ] || exit 1
EOF
ev fail-1
send "$S/larkhook.conf" fail-1
check "failing hook: event 200" 200 "$(status)"
idle "$SP"
check "failing hook, backoff 0, attempts 3: ran 3 times, LARK_ATTEMPT 1 2 3" \
	"fail-1 1,fail-1 2,fail-1 3" "$(paste -sd, "$S/runs.log")"
check "failing hook: nothing left waiting" 0 "$(($(count "$SP" new) + $(count "$SP" cur)))"
check_true "failing hook: the job is in failed/ with state :3,0,WHEN,exit1" \
	grep -qxE "[0-9]{16}\.$(idhash fail-1)\.0:3,0,[0-9]+,exit1" <<<"$(names "$SP" failed)"
check_true "failing hook: the log says it retried" \
	grep -q "fail-1 attempt 1: exit 1; retry in 0s" "$S/larkhook.log"
check_true "failing hook: the log says it moved to failed/" \
	grep -q "fail-1 attempt 3: exit 1; moved to failed/ after 3 runs" "$S/larkhook.log"
out=$(lh "$S" status); rc=$?
check "status with a failed job: exit 1" 1 "$rc"
check_true "status lists the failed job: id, type, attempts 3, last exit1" \
	grep -qE "^ +fail-1 +$COMP +attempts 3 +last exit1$" <<<"$out"
lh "$S" retry no-such-event >/dev/null 2>&1; rc=$?
check "retry of an unknown id: exit 1" 1 "$rc"
touch "$S/ok"
lh "$S" retry fail-1 >"$T/retry.out" 2>&1; rc=$?
check "retry ID: exit 0" 0 "$rc"
idle "$SP"
check "retry ID: the runner it started ran the hook again, LARK_ATTEMPT=4" "fail-1 4" \
	"$(tail -1 "$S/runs.log")"
check "retry ID: ran once more" 4 "$(lines "$S/runs.log")"
check_true "retry ID: the job ends in done/ (:4,3,WHEN,exit0)" \
	grep -qxE "[0-9]{16}\.$(idhash fail-1)\.0:4,3,[0-9]+,exit0" <<<"$(names "$SP" "done")"
check "retry ID: failed/ is empty" 0 "$(count "$SP" failed)"
lh "$S" status >/dev/null; rc=$?
check "status with nothing failed: exit 0" 0 "$rc"
lh "$S" retry fail-1 >/dev/null 2>&1; rc=$?
check "retry of an id that is done, not failed: exit 1" 1 "$rc"
rm "$S/ok"
ev fail-2
ev fail-3
check "retry all: two more failing events 200" "200 200" "$(send_all "$S/larkhook.conf" fail-2 fail-3)"
idle "$SP"
check "retry all: both in failed/" 2 "$(count "$SP" failed)"
out=$(lh "$S" status); rc=$?
check "status lists both failed jobs, exit 1" "1 2" \
	"$rc $(grep -cE "^ +fail-[23] +$COMP +attempts 3 +last exit1$" <<<"$out")"
touch "$S/ok"
lh "$S" retry all >/dev/null 2>&1; rc=$?
check "retry all: exit 0" 0 "$rc"
idle "$SP"
check "retry all: both ran again with LARK_ATTEMPT=4" "fail-2 4,fail-3 4" \
	"$(grep -E '^fail-[23] 4$' "$S/runs.log" | sort | paste -sd,)"
check "retry all: failed/ empty, 3 jobs done" "0 3" "$(count "$SP" failed) $(count "$SP" "done")"
lh "$S" status >/dev/null; rc=$?
check "status after retry all: exit 0" 0 "$rc"

# --- the default backoff: a failed run waits for its time -------------------------------
S=$(mk backoff "[on $COMP]" 'run = echo "$LARK_ID $LARK_ATTEMPT" >> runs.log; exit 1')
SP=$S/larkhook-spool
ev back-1
send "$S/larkhook.conf" back-1
check "default backoff: event 200" 200 "$(status)"
idle "$SP"
now=$(date +%s)
job=$(names "$SP" new)
check "default backoff: one run" "back-1 1" "$(cat "$S/runs.log" 2>/dev/null)"
check_true "default backoff: the job waits in new/ as :1,0,WHEN,exit1" \
	grep -qxE "[0-9]{16}\.$(idhash back-1)\.0:1,0,[0-9]+,exit1" <<<"$job"
when=$(sed -n 's/.*:[0-9]*,[0-9]*,\([0-9]*\),.*/\1/p' <<<"$job")
check_true "default backoff: its not-before time is in the future, at most 10 s away ($when, now $now)" \
	test "${when:-0}" -gt "$now" -a "${when:-0}" -le $((now + 10))
check_true "default backoff: the log says retry in 10s" \
	grep -q "back-1 attempt 1: exit 1; retry in 10s" "$S/larkhook.log"
check "default backoff: drain right away runs nothing" "drain: 0 done, 0 to retry later, 0 failed" \
	"$(lh "$S" drain)"
check "default backoff: ... the hook did not run again" 1 "$(lines "$S/runs.log")"
check "default backoff: ... the job is unchanged in new/" "$job" "$(names "$SP" new)"
out=$(lh "$S" status); rc=$?
check "default backoff: status says one waiting for a retry time, exit 0" \
	"0 waiting  1 (0 due, 1 waiting for a retry time)" "$rc $(grep '^waiting' <<<"$out")"

# --- exit 100: straight to failed/ ---------------------------------------------------------
S=$(mk permanent "backoff = 0" "[on $COMP]" 'run = echo "$LARK_ID $LARK_ATTEMPT" >> runs.log; exit 100')
SP=$S/larkhook-spool
ev perm-1
send "$S/larkhook.conf" perm-1
check "exit 100: event 200" 200 "$(status)"
idle "$SP"
check "exit 100: one run only (attempts 5, backoff 0)" "perm-1 1" "$(cat "$S/runs.log" 2>/dev/null)"
check_true "exit 100: straight to failed/ as :1,0,WHEN,exit100" \
	grep -qxE "[0-9]{16}\.$(idhash perm-1)\.0:1,0,[0-9]+,exit100" <<<"$(names "$SP" failed)"
check "exit 100: nothing waiting" 0 "$(count "$SP" new)"
check_true "exit 100: the log says moved to failed/ after 1 run" \
	grep -q "perm-1 attempt 1: exit 100; moved to failed/ after 1 run$" "$S/larkhook.log"

# --- timeout: the hook's whole process group is killed ----------------------------------------
S=$(mk timeout "[on $COMP]" "run = sh hook.sh" "timeout = 1")
SP=$S/larkhook-spool
hook "$S" <<'EOF'
ps -o pgid= -p $$ | tr -d ' ' >pgid
echo "$LARK_ID $LARK_ATTEMPT" >>runs.log
(trap '' TERM; exec sleep 1000) &
echo $! >child
sleep 1000 &
sleep 1000
EOF
ev slow-1
send "$S/larkhook.conf" slow-1
check "timeout: event 200" 200 "$(status)"
wait_for 10 test -s "$S/child"
pg=$(cat "$S/pgid" 2>/dev/null)
child=$(cat "$S/child" 2>/dev/null)
check_true "timeout: the hook and its children ran in their own group" \
	test -n "$pg" -a -n "$child" -a "$(ps -o pgid= -p "${child:-1}" | tr -d ' ')" = "$pg"
idle "$SP"
check_true "timeout: afterwards no process of the hook's group is left (pgid $pg)" \
	wait_for 3 group_gone "${pg:-1}"
check_true "timeout: the child that ignored SIGTERM is gone too" wait_for 3 gone "${child:-1}"
check_true "timeout: the job is back in new/ as :1,0,WHEN,timeout" \
	grep -qxE "[0-9]{16}\.$(idhash slow-1)\.0:1,0,[0-9]+,timeout" <<<"$(names "$SP" new)"
check_true "timeout: the log says timeout; retry" \
	grep -q "slow-1 attempt 1: timeout; retry in 10s" "$S/larkhook.log"
check "timeout: ran once" 1 "$(lines "$S/runs.log")"

# --- a crashed runner's job in cur/ becomes due again ------------------------------------------
S=$(mk crash "[on $COMP]" "run = sh hook.sh" "timeout = 30" "attempts = 1")
SP=$S/larkhook-spool
hook "$S" <<'EOF'
echo "$LARK_ID $LARK_ATTEMPT" >>runs.log
ls larkhook-spool/cur >"cur.$LARK_ATTEMPT"
[ "$LARK_ATTEMPT" -ge 2 ] && exit 0
echo $$ >script.pid
ps -o pgid= -p $$ | tr -d ' ' >pgid
while :; do sleep 0.05; done
EOF
lh "$S" drain >/dev/null
ev crash-1
hold "$SP"
send "$S/larkhook.conf" crash-1
check "crash: event 200" 200 "$(status)"
release
"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >"$T/drain1.out" 2>&1 &
drainer=$!	# setpriv execs larkhook: this is the runner's pid
PIDS+=("$drainer")
wait_for 10 test -s "$S/pgid" || fail "crash: the first run's hook starts"
pg=$(cat "$S/pgid" 2>/dev/null)
script=$(cat "$S/script.pid" 2>/dev/null)
PIDS+=("${script:-}")	# in case it outlives its runner
check "crash: the job is in cur/ while its hook runs" 1 "$(count "$SP" cur)"
check "crash: the hook is a child of the drain process" "$drainer" "$(ps -o ppid= -p "${pg:-1}" | tr -d ' ')"
kill -KILL "$drainer"
wait "$drainer" 2>/dev/null
check_true "crash: the first run's hook (its shell, pid $pg) is killed with its runner" \
	wait_for 3 gone "${pg:-1}"
check_true "crash: nothing of the first run's hook (group $pg) is left running" \
	wait_for 3 group_gone "${pg:-1}"
check "crash: the job is still in cur/" 1 "$(count "$SP" cur)"
check "crash: a new drain runs it" "drain: 1 done, 0 to retry later, 0 failed" "$(lh "$S" drain)"
check "crash: ran again with LARK_ATTEMPT=2" "crash-1 1,crash-1 2" "$(paste -sd, "$S/runs.log")"
check_true "crash: the second run's job was :1,1,WHEN,lost (the lost run uses no attempt: attempts = 1 still runs it)" \
	grep -qxE "[0-9]{16}\.$(idhash crash-1)\.0:1,1,[0-9]+,lost" "$S/cur.2"
check_true "crash: the job ends in done/ as :2,1,WHEN,exit0" \
	grep -qxE "[0-9]{16}\.$(idhash crash-1)\.0:2,1,[0-9]+,exit0" <<<"$(names "$SP" "done")"
check "crash: cur/ is empty" 0 "$(count "$SP" cur)"
if [ -n "$pg" ] && group_live "$pg"; then kill -KILL -- "-$pg" 2>/dev/null; fi

# --- each = items --------------------------------------------------------------------------------
S=$(mk each "[on performance.review_data.changed_v2]" "each = items" \
	'run = echo "$LARK_ID $LARK_EACH_INDEX $LARK_EACH_COUNT $LARK_ITEM_USER_ID_OPEN_ID $LARK_ATTEMPT" >> runs.log')
SP=$S/larkhook-spool
ev each-3 '.event.items = [range(3) as $i | .event.items[0] | .user_id.open_id = "ou_\($i)"]' "$T/perf.plain"
ev each-0 '.event.items = []' "$T/perf.plain"
send "$S/larkhook.conf" each-3
check "each: event with 3 items 200" 200 "$(status)"
idle "$SP"
check "each: 3 runs, LARK_EACH_INDEX 0 1 2, LARK_EACH_COUNT 3, the item's fields" \
	"each-3 0 3 ou_0 1,each-3 1 3 ou_1 1,each-3 2 3 ou_2 1" "$(sort "$S/runs.log" | paste -sd,)"
check "each: 3 jobs done" 3 "$(count "$SP" "done")"
send "$S/larkhook.conf" each-0
check "each: event with an empty items array 200" 200 "$(status)"
idle "$SP"
check "each: empty items: no run" 3 "$(lines "$S/runs.log")"
check "each: empty items: no job" "0 3" "$(count "$SP" new) $(count "$SP" "done")"
check_true "each: empty items: the log says so" \
	grep -q 'reason="event stored, no job (each path empty or missing)"' "$S/larkhook.log"

# --- retain: old done/ jobs and seen/ ids are removed by the runner ------------------------------
S=$(mk retain "retain = 8h" "[on $COMP]" "run = sh hook.sh")
SP=$S/larkhook-spool
hook "$S" <<'EOF'
[ "$LARK_ID" = ret-pend ] && exit 1
echo "$LARK_ID" >>runs.log
EOF
for id in ret-a ret-b ret-c ret-pend ret-d; do ev "$id"; done
check "retain: 4 events 200" "200 200 200 200" "$(send_all "$S/larkhook.conf" ret-a ret-b ret-c ret-pend)"
idle "$SP"
check "retain: 3 done, 1 waiting for a retry" "3 1" "$(count "$SP" "done") $(count "$SP" new)"
# ret-a: seen/ entry 9 h old (done/ job fresh); ret-b: done/ job finished
# 9 h ago (seen/ fresh); ret-c: both fresh; ret-pend: seen/ entry 9 h old
# but its job still waits
touch -d '9 hours ago' "$SP/seen/$(idhash ret-a)" "$SP/seen/$(idhash ret-pend)"
old=$(($(date +%s) - 9 * 3600))
b=$(names "$SP" "done" | grep "\.$(idhash ret-b)\.")
mv "$SP/done/$b" "$SP/done/$(sed -E "s/^([^:]*:[0-9]+,[0-9]+,)[0-9]+,/\1$old,/" <<<"$b")"
send "$S/larkhook.conf" ret-d
check "retain: another event 200" 200 "$(status)"
idle "$SP"
present() { [ -e "$SP/$1" ] && echo yes || echo no; }
done_of() { names "$SP" "done" | grep -c "\.$(idhash "$1")\." ; }
check "retain: seen/ entry 9 h old removed" no "$(present "seen/$(idhash ret-a)")"
check "retain: done/ job finished 9 h ago removed" 0 "$(done_of ret-b)"
check "retain: a fresh done/ job stays (its seen/ entry was old)" 1 "$(done_of ret-a)"
check "retain: a fresh seen/ entry stays (its done/ job was old)" yes "$(present "seen/$(idhash ret-b)")"
check "retain: fresh seen/ and done/ entries stay" "yes 1" "$(present "seen/$(idhash ret-c)") $(done_of ret-c)"
check "retain: an old seen/ entry whose job still waits stays" yes "$(present "seen/$(idhash ret-pend)")"
check "retain: the triggering event ran" "ret-d" "$(tail -1 "$S/runs.log")"
