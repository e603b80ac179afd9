#!/bin/bash
# interleave.sh: two deliveries of one event, interleaved step by step
# (doc/5-guarantees.md §5.2, doc/4-spool.md §4.4). Delivery A is stopped
# (strace injects SIGSTOP) right after each system call of its intake that
# touches the spool; delivery B runs in full meanwhile; then A resumes and
# succeeds, or fails (EIO at its next fsync, ENOSPC at its next write or
# link), or is killed -9. For every cell: if any delivery got 200, the hook
# has run exactly once per job after `drain`; a delivery that got 503 left
# no claim of its own; a later redelivery is accepted and runs nothing more.
# The same for an event with `each` (two jobs). Then the runner's steps
# (a `drain` stopped at each) interleaved with the intake of another event:
# that event's hook runs with no further request or drain (no lost wake-up).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

JOBS=${INTERLEAVE_JOBS:-4}	# cells run at once (they mostly wait)

vector comp raw_body >"$T/one.body"
ONE_SIG=$(vector comp x_lark_signature)
ONE_ID=$(vector comp plaintext | jq -r .header.event_id)
# an event whose each = items makes two jobs
TWO_ID=interleave-two-items-0001
vector perf plaintext | jq -c --arg id "$TWO_ID" '.header.event_id = $id | .event.items += .event.items' >"$T/two.json"
TWO_SIG=$(seal "$T/two.json" "$T/two.body")
# another event, for the runner's cells
OTHER_ID=interleave-other-0001
vector comp plaintext | jq -c --arg id "$OTHER_ID" '.header.event_id = $id' >"$T/other.json"
OTHER_SIG=$(seal "$T/other.json" "$T/other.body")

# Intake steps are the calls of these system calls whose strace -y line
# names the spool; a runner's the same for these.
A_CALLS=openat,flock,write,fsync,linkat,renameat,unlinkat,close
R_CALLS=openat,flock,getdents64,rename,fsync,unlink,close

# cellsite DIR: a site whose hooks append "LARK_ID INDEX" to DIR/runs, with
# its spool made (so that intake makes no directory).
cellsite() {
	siteconf "$1" 'echo "$LARK_ID ${LARK_EACH_INDEX:--}" >>runs'
	sed -i 's/^run = true$/run = echo "$LARK_ID ${LARK_EACH_INDEX:--}" >>runs/' "$1/larkhook.conf"
	"${RUNAS[@]}" "$BIN" -c "$1/larkhook.conf" drain >/dev/null 2>&1
}
# post SITE BODY SIG OUT [COMMAND PREFIX...]: deliver BODY as a CGI (run
# under the prefix, e.g. strace), the response into OUT.
post() { cgi_under "$1/larkhook.conf" "${@:2}"; }
# post_bg: the same, as a background job whose $! is the prefix's process.
post_bg() { CGI_EXEC=1 cgi_under "$1/larkhook.conf" "${@:2}"; }
code() { sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$1" 2>/dev/null; }
drain_site() { idle "$1/larkhook-spool"; "${RUNAS[@]}" "$BIN" -c "$1/larkhook.conf" drain >/dev/null 2>&1; }
# runs_ok DIR ID JOBS: the hook ran exactly once for each of the JOBS jobs.
runs_ok() {
	local got
	got=$(awk -v id="$2" '$1 == id { print $2 }' "$1/runs" 2>/dev/null | sort | uniq -c | awk '{ print $1 }' | sort -u | paste -sd,)
	[ "$(awk -v id="$2" '$1 == id' "$1/runs" 2>/dev/null | wc -l) $got" = "$3 1" ]
}
nruns() { awk -v id="$2" '$1 == id' "$1/runs" 2>/dev/null | wc -l; }
has_run() { [ "$(nruns "$1" "$2")" -ge 1 ]; }
# stopped FILE: strace says its tracee is stopped.
stopped() { grep -q -- '--- stopped by SIGSTOP ---' "$1" 2>/dev/null; }
# halted NAME SPID FILE: true once strace SPID, writing FILE, has stopped
# its tracee; else fails NAME, kills that strace and waits for it.
halted() {
	wait_for 30 stopped "$3" && return 0
	fail "$1" "$(tail -3 "$3")"
	kill -KILL "$2" 2>/dev/null
	wait "$2"
	return 1
}
# child PID: the one child of PID (strace's tracee).
child() { tr -d ' \n' <"/proc/$1/task/$1/children" 2>/dev/null; }

# steps FILE CALLS: "CALL WHEN LINE" for every traced call that names the
# spool, WHEN its number among the calls of its kind (strace counts so).
steps() {
	# closes only of files (a record's close is the end of its lock)
	awk -v calls=",$2," '{
		c = $0; sub(/\(.*/, "", c)
		if (index(calls, "," c ",") == 0) next
		n[c]++
		if ($0 !~ /-spool[\/>"]/ || (c == "close" && $0 !~ /-spool\/(tmp|new|cur)\//)) next
		l = $0; gsub(/[<"][^<>"]*-spool/, "<spool", l)
		print c, n[c], l
	}' "$1" | sed -E 's/[0-9a-f]{64}[^ ,">]*/ID/g; s/^(.{110}).*/\1/'
}

# --- the intake matrix -------------------------------------------------------------
# cell NAME KIND CALL WHEN OUTCOME: one cell; prints its ok / FAIL lines.
# KIND one or two (the event); OUTCOME ok, eio, enospc or kill.
cell() {
	local name=$1 kind=$2 call=$3 when=$4 outcome=$5 c=$T/c-$1 body sig id jobs spid apid s2 a b
	case $kind in
	one) body=$T/one.body sig=$ONE_SIG id=$ONE_ID jobs=1 ;;
	*) body=$T/two.body sig=$TWO_SIG id=$TWO_ID jobs=2 ;;
	esac
	cellsite "$c"
	post_bg "$c" "$body" "$sig" "$c/a.resp" strace -qq -y -o "$c/a.strace" -e trace="$A_CALLS" \
		-e inject="$call:signal=SIGSTOP:when=$when" &
	spid=$!
	halted "$name: A stopped after its step" "$spid" "$c/a.strace" || return
	apid=$(child "$spid")
	if [ "$(readlink "/proc/$apid/exe")" != "$BIN" ]; then
		fail "$name: A is larkhook" "$(readlink "/proc/$apid/exe")"
		kill -KILL "$apid" "$spid"
		return
	fi
	post "$c" "$body" "$sig" "$c/b.resp"
	b=$(code "$c/b.resp")
	case $outcome in
	ok) kill -CONT "$apid"; wait "$spid" ;;
	kill) kill -KILL "$apid"; wait "$spid" ;;
	eio | enospc)
		# strace's own death leaves A stopped; a second strace, whose
		# counts start at A's next call, injects the fault
		kill -KILL "$spid"
		{ wait "$spid"; } 2>/dev/null
		if [ "$outcome" = eio ]; then
			strace -qq -o "$c/a2.strace" -e trace=fsync -e inject=fsync:error=EIO:when=1 -p "$apid" &
		else
			strace -qq -o "$c/a2.strace" -e trace=write,linkat,renameat \
				-e inject=write,linkat,renameat:error=ENOSPC:when=1 -p "$apid" &
		fi
		s2=$!
		wait_for 10 stopped "$c/a2.strace" || fail "$name: the second strace attached"
		kill -CONT "$apid"
		wait "$s2"
		;;
	esac
	a=$(code "$c/a.resp")
	[ -n "$a" ] || a=none
	[ -n "$b" ] || b=none
	drain_site "$c"
	if [ "$a" = 200 ] || [ "$b" = 200 ]; then
		check_true "$name (A $a, B $b): the hook ran exactly once per job" runs_ok "$c" "$id" "$jobs"
	elif [ "$a" != none ]; then
		# both answered 503: A undid its claim, B never had one
		check "$name (A $a, B $b): no claim left, no run" "0 0" \
			"$(count "$c/larkhook-spool" seen) $(nruns "$c" "$id")"
	else
		# A died after its claim maybe: that claim is completed (the
		# redelivery is then a duplicate), never run twice
		check_true "$name (A killed, B $b): at most once per job" \
			test "$(awk -v id="$id" '$1 == id { print $2 }' "$c/runs" 2>/dev/null | sort | uniq -d | wc -l)" = 0
	fi
	check "$name (A $a, B $b): nothing of B's left in tmp/" 0 \
		"$(find "$c/larkhook-spool/tmp" -type f ! -name "*.$apid.*" | wc -l)"
	post "$c" "$body" "$sig" "$c/c.resp"
	check "$name: a later redelivery is accepted" 200 "$(code "$c/c.resp")"
	drain_site "$c"
	check_true "$name, redelivered and drained: the hook ran exactly once per job" runs_ok "$c" "$id" "$jobs"
	# an empty record of A's, killed between its create and its write (it
	# writes only once locked), is left a minute: it may be a live writer's.
	# It is born in new/ (one job) or tmp/ (two); B leaves nothing empty.
	# A job of A's killed after writing it, before its claim, is set aside
	# in failed/ as noclaim (doc/4-spool.md §4.5): nothing else is there.
	check "$name, redelivered and drained: new/ cur/ failed/ empty, nothing but that in new/ or tmp/" "0 0 0 0" \
		"$(find "$c/larkhook-spool/new" -type f ! -empty | wc -l) $(count "$c/larkhook-spool" cur) $(find "$c/larkhook-spool/failed" -type f ! -name '*,noclaim' | wc -l) $(find "$c/larkhook-spool/tmp" -type f ! \( -empty -name "*.$apid.*" \) | wc -l)"
	echo "$a $b" >"$c/outcome"
}

# pool: run the queued cell commands JOBS at a time, printing each one's
# output whole, in order.
CELLS=()
pool() {
	local i=0 n=${#CELLS[@]} started=0 p
	local -a pids=()
	while [ "$i" -lt "$n" ]; do
		while [ "$started" -lt "$n" ] && [ "$((started - i))" -lt "$JOBS" ]; do
			# shellcheck disable=SC2086 # the cell's words
			cell ${CELLS[$started]} >"$T/out.$started" 2>&1 &
			pids[started]=$!
			started=$((started + 1))
		done
		p=${pids[$i]}
		wait "$p"
		cat "$T/out.$i"
		i=$((i + 1))
	done
}

# The matrix: from a dry run of each event, every step of its intake.
for kind in one two; do
	d=$T/dry-$kind
	cellsite "$d"
	if [ "$kind" = one ]; then
		post "$d" "$T/one.body" "$ONE_SIG" "$d/resp" strace -qq -y -o "$d/strace" -e trace="$A_CALLS"
	else
		post "$d" "$T/two.body" "$TWO_SIG" "$d/resp" strace -qq -y -o "$d/strace" -e trace="$A_CALLS"
	fi
	steps "$d/strace" "$A_CALLS" >"$d/steps"
	check "dry run ($kind): 200 and intake steps found" "200 yes" \
		"$(code "$d/resp") $([ "$(wc -l <"$d/steps")" -ge 10 ] && echo yes)"
	k=0
	while read -r call when line; do
		k=$((k + 1))
		rest=$(awk -v k="$k" 'NR > k' "$d/steps")
		echo "# $kind step $k: after $line"
		for outcome in ok eio enospc kill; do
			case $outcome in
			# a fault exists only where a call of its kind follows
			eio) grep -q '^fsync ' <<<"$rest" || continue ;;
			enospc) grep -qE '^(write|linkat|renameat) ' <<<"$rest" || continue ;;
			esac
			CELLS+=("$kind-$k-$call$when-$outcome $kind $call $when $outcome")
		done
	done <"$d/steps"
done
echo "# ${#CELLS[@]} cells: $(printf '%s\n' "${CELLS[@]}" | awk '{ print $5 }' | sort | uniq -c | paste -sd' ')"
pool
ran=$(find "$T" -maxdepth 2 -name outcome | wc -l)
check "every cell of the intake matrix ran (${#CELLS[@]})" "${#CELLS[@]}" "$ran"
echo "# outcomes (A B): $(cat "$T"/c-*/outcome | sort | uniq -c | paste -sd' ')"

# --- the runner interleaved with an intake: no lost wake-up ------------------------
# A `drain` (the runner's own loop) is stopped after each of its steps,
# another event is delivered in full (its kick finds the runner's lock
# held), then the drain resumes: that event's hook must run without any
# further request or drain. QUEUED: whether a job waited before the drain.
# queue_one SITE: deliver the one-job event while this shell holds SITE's
# runner lock, so no runner starts and its job waits in new/.
queue_one() {
	exec 9<"$1/larkhook-spool/runner.lock"
	flock -x 9
	post "$1" "$T/one.body" "$ONE_SIG" "$1/q.resp" 9<&-
	exec 9<&-
}
rcell() {
	local name=$1 queued=$2 call=$3 when=$4 c=$T/r-$1 spid apid
	cellsite "$c"
	[ "$queued" = no ] || queue_one "$c"
	strace -qq -y -o "$c/r.strace" -e trace="$R_CALLS" -e inject="$call:signal=SIGSTOP:when=$when" \
		"${RUNAS[@]}" "$BIN" -c "$c/larkhook.conf" drain >/dev/null 2>&1 </dev/null &
	spid=$!
	halted "$name: the runner stopped after its step" "$spid" "$c/r.strace" || return
	apid=$(child "$spid")
	post "$c" "$T/other.body" "$OTHER_SIG" "$c/e.resp"
	check "$name: the other event is stored" 200 "$(code "$c/e.resp")"
	kill -CONT "$apid"
	wait "$spid"
	# no drain, no request: the runner that was stopped, or one the
	# intake started, runs it
	if wait_for 20 has_run "$c" "$OTHER_ID"; then
		idle "$c/larkhook-spool"
		check "$name: the other event's hook ran once, with no request or drain after it" 1 \
			"$(nruns "$c" "$OTHER_ID")"
	else
		fail "$name: the other event's hook ran with no request or drain after it" "lost wake-up"
	fi
	[ "$queued" = no ] || check "$name: the queued event ran once" 1 "$(nruns "$c" "$ONE_ID")"
	echo done >"$c/outcome"
}
CELLS=()
for queued in no yes; do
	d=$T/rdry-$queued
	cellsite "$d"
	[ "$queued" = no ] || queue_one "$d"
	strace -qq -y -o "$d/strace" -e trace="$R_CALLS" "${RUNAS[@]}" "$BIN" -c "$d/larkhook.conf" drain \
		>/dev/null 2>&1 </dev/null
	steps "$d/strace" "$R_CALLS" >"$d/steps"
	check "runner dry run (job queued: $queued): steps found" yes "$([ -s "$d/steps" ] && echo yes)"
	k=0
	while read -r call when line; do
		k=$((k + 1))
		echo "# runner (job queued: $queued) step $k: after $line"
		CELLS+=("q$queued-$k-$call$when $queued $call $when")
	done <"$d/steps"
done
cell() { rcell "$@"; }
echo "# ${#CELLS[@]} runner cells"
pool
ran=$(find "$T" -maxdepth 2 -path '*/r-*' -name outcome | wc -l)
check "every runner cell ran (${#CELLS[@]})" "${#CELLS[@]}" "$ran"

# --- the runner meets a writer caught between its create and its flock -------------
# A job straight from intake, empty and (as a stalled writer or a clock step
# makes it) over a minute old, unclaimed: the runner removes it under its
# shared lock. The writer, resumed, finds its name gone at its claim and
# stores the event afresh: a 200, one run, nothing left (doc/4-spool.md §4.5).
c=$T/stale
cellsite "$c"
when=$(awk '$1 == "openat" && /<spool\/new>, "/ { print $2; exit }' "$T/dry-one/steps")
post_bg "$c" "$T/one.body" "$ONE_SIG" "$c/a.resp" strace -qq -y -o "$c/a.strace" -e trace="$A_CALLS" \
	-e inject="openat:signal=SIGSTOP:when=$when" &
spid=$!
if halted "stale job: the writer stopped after creating its job" "$spid" "$c/a.strace"; then
	apid=$(child "$spid")
	touch -d '2 minutes ago' "$c"/larkhook-spool/new/*
	check "stale job: one empty job in new/, unclaimed" "1 0" \
		"$(find "$c/larkhook-spool/new" -type f -empty | wc -l) $(count "$c/larkhook-spool" seen)"
	"${RUNAS[@]}" "$BIN" -c "$c/larkhook.conf" drain >/dev/null 2>&1
	check "stale job: the runner removed it unrun" "0 1" \
		"$(count "$c/larkhook-spool" new) $(grep -c 'empty and unclaimed for over a minute (its writer died before writing): removed' "$c/larkhook.log")"
	kill -CONT "$apid"
	wait "$spid"
	check "stale job: the writer, resumed, stored the event afresh" 200 "$(code "$c/a.resp")"
	drain_site "$c"
	check_true "stale job: the hook ran exactly once" runs_ok "$c" "$ONE_ID" 1
	check "stale job: nothing left waiting, claimed once" "0 0 1" \
		"$(count "$c/larkhook-spool" new) $(count "$c/larkhook-spool" tmp) $(count "$c/larkhook-spool" seen)"
fi
