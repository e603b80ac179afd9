#!/bin/bash
# crash.sh: crash safety of the whole path (doc/5-guarantees.md §5.3, §5.6). kill -9 is
# injected with strace at each step of intake and at each step of a runner's
# handling of a job; after the repair (Feishu's redelivery, the next runner,
# `larkhook drain`) the event's hook has run exactly once, or twice where the
# kill came after the hook and before its job reached done/ (at least once).
# Each hook appends "LARK_ID LARK_ATTEMPT LARK_EACH_INDEX" to a runs file.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
ID=$(vector comp plaintext | jq -r .header.event_id)
CH=$(idhash "$ID")
# an event whose `each = items` makes two jobs
ID2=crash-two-items-0001
vector perf plaintext | jq -c --arg id "$ID2" '.header.event_id = $id | .event.items += .event.items' >"$T/two.json"
SIG2=$(seal "$T/two.json" "$T/two.body")

# new_site NAME: sets S to a fresh site whose hooks append a line per run to
# S/runs (their cwd), with the spool tree already made (so intake makes no
# directories) and a retry due 3 s after a failed run (see the execve case).
new_site() {
	S=$(site "$1" "backoff = 3")
	sed -i 's/^run = true$/run = printf "%s %s %s\\n" "$LARK_ID" "$LARK_ATTEMPT" "${LARK_EACH_INDEX:--}" >>runs/' \
		"$S/larkhook.conf"
	"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >"$T/drain.out" 2>&1 ||
		fail "$1: making the spool" "$(cat "$T/drain.out")"
}
# drain SITE: `larkhook drain` in the foreground, as the web server's user.
drain() { "${RUNAS[@]}" "$BIN" -c "$1/larkhook.conf" drain >"$T/drain.out" 2>&1; }
# drained SITE: drain; true once no job of the event waits in new/ or cur/.
drained() { drain "$1"; [ "$(in_dir "$1" new) $(in_dir "$1" cur)" = "0 0" ]; }
# runs SITE [ID]: how many times the hook ran for the event; attempts SITE:
# the LARK_ATTEMPT of each run, in order.
runs() { awk -v id="${2:-$ID}" '$1 == id' "$1/runs" 2>/dev/null | grep -c .; }
attempts() { awk -v id="$ID" '$1 == id { print $2 }' "$1/runs" 2>/dev/null | paste -sd' '; }
# in_dir SITE DIR [HASH]: the event's job files in spool/DIR.
in_dir() { find "$1/larkhook-spool/$2" -name "*.${3:-$CH}.*" 2>/dev/null | wc -l; }
# where SITE: the directories holding the event's job.
where() {
	local d
	for d in new cur "done" failed; do [ "$(in_dir "$1" "$d")" = 0 ] || printf '%s ' "$d"; done
}
# dups SITE: requests the log answered as duplicates.
dups() { grep -c 'reason="duplicate event id"' "$1/larkhook.log"; }
# spool_clean NAME SITE: nothing waiting, claimed, failed or half-written.
# A job of a writer killed before its claim is set aside in failed/ as
# noclaim (doc/4-spool.md §4.5): NOCLAIM (0 unless given) of them are.
spool_clean() {
	local sp=$2/larkhook-spool
	local other aside
	other=$(find "$sp/failed" -type f ! -name '*,noclaim' | wc -l)
	aside=$(find "$sp/failed" -type f -name '*,noclaim' | wc -l)
	check "$1: no job left in new/ or cur/, none failed; tmp/ empty; set aside as noclaim: ${3:-0}" \
		"0 0 0 0 ${3:-0}" "$(count "$sp" new) $(count "$sp" cur) $other $(count "$sp" tmp) $aside"
}

# settled NAME SITE ATTEMPTS: the end state after the repair: the job in
# done/ exactly once, nothing waiting or claimed, and the hook's runs.
settled() {
	local name=$1 s=$2 want=$3 noclaim=${4:-0}
	idle "$s/larkhook-spool"
	check "$name: the job is in done/ exactly once" 1 "$(in_dir "$s" "done")"
	spool_clean "$name" "$s" "$noclaim"
	case $want in
	*" "*) check "$name: the hook ran exactly twice (at least once: the run was lost before done/)" 2 "$(runs "$s")" ;;
	*) check "$name: the hook ran exactly once" 1 "$(runs "$s")" ;;
	esac
	check "$name: LARK_ATTEMPT of each run" "$want" "$(attempts "$s")"
}
# redeliver_dup NAME SITE [BODY SIG]: Feishu delivers the event again: a duplicate.
redeliver_dup() {
	local before
	before=$(dups "$2")
	cgi_signed "$2/larkhook.conf" "${3:-$T/comp.body}" "${4:-$SIG}"
	check "$1, redelivered: 200, answered as a duplicate" "200 $((before + 1))" "$(status) $(dups "$2")"
}

# --- strace plumbing -------------------------------------------------------------
# intake SITE BODY SIG OUT [STRACE OPTIONS...]: deliver BODY as a CGI under strace.
intake() {
	local out=$4
	cgi_under "$1/larkhook.conf" "$2" "$3" "$T/resp" strace -f -qq -y -o "$out" "${@:5}"
}
# traced_drain SITE OUT [STRACE OPTIONS...]: `drain` under strace -f (strace
# as root, the program as www-data).
traced_drain() {
	local S=$1 out=$2; shift 2
	strace -f -qq -y -o "$out" "$@" "${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain \
		>"$T/drain.out" 2>/dev/null </dev/null
}
# nth FILE CALL PATTERN: the number, counted as strace counts injections (per
# syscall and per process), of the first CALL of the traced program's first
# process whose line matches PATTERN.
nth() {
	awk -v call="$2(" -v pat="$3" 'NR == 1 { p = $1 }
		$1 == p && index($2, call) == 1 { n++; if ($0 ~ pat) { print n; exit } }' "$1"
}
# died_at FILE PATTERN: a traced process was killed by SIGKILL in the call
# PATTERN matches (its last line before the kill).
died_at() {
	awk -v pat="$2" '/ \+\+\+ killed by SIGKILL \+\+\+$/ { if (last[$1] ~ pat) found = 1; next }
		$2 !~ /^(\+\+\+|---|<\.\.\.)/ { last[$1] = $0 }
		END { exit !found }' "$1"
}
# killed_intake SITE CALL WHEN PATTERN [BODY SIG]: SIGKILL on entering the
# WHEN-th CALL of intake; true if it died there, with no answer.
killed_intake() {
	rm -f "$T/kill.strace"
	# strace dies by the tracee's signal too; keep bash's report out
	(intake "$1" "${5:-$T/comp.body}" "${6:-$SIG}" "$T/kill.strace" \
		-e trace="$2" -e inject="$2:signal=KILL:when=${3:-0}") 2>/dev/null
	[ -z "$(status)" ] && died_at "$T/kill.strace" "$4"
}
# queue_held NAME SITE: deliver the event while this shell holds the runner
# lock, so the request's kick starts no runner: the job waits in new/.
queue_held() {
	exec 9<"$2/larkhook-spool/runner.lock"
	flock -x 9
	cgi_signed "$2/larkhook.conf" "$T/comp.body" "$SIG" 9<&-
	check "$1: queued in new/, no runner started" "200 1 0" "$(status) $(in_dir "$2" new) $(runs "$2")"
	exec 9<&-
}

# Each step: the call, and what its line in `strace -y` output matches. An
# event of one job is born as its job in new/ (P_REC: its fsync, before the
# claim); one of two jobs in tmp/, its last job a rename (P_NEW1).
P_REC='fsync\([0-9]+<[^>]*-spool/new/'
P_SEEN='linkat\([0-9]+<[^>]*-spool/(tmp|new)>, "[^"]*", [0-9]+<[^>]*-spool/seen>'
P_NEW1='renameat\([0-9]+<[^>]*-spool/tmp>, "[^"]*", [0-9]+<[^>]*-spool/new>, "[^"]*\.1"'
P_FNEW='fsync\([0-9]+<[^>]*-spool/new>'
P_FSEEN='fsync\([0-9]+<[^>]*-spool/seen>'
P_CLAIM='rename\(.*/new/[^"]*", "[^"]*/cur/'
P_OPEN='openat\(.*/run/job\.[^"]*", O_WRONLY[|]O_CREAT'
P_WRITE='write\([0-9]+<[^>]*/run/job\.'
P_CLONE='clone\('
P_EXEC='execve\("/bin/sh"'
P_DONE='rename\(.*/cur/[^"]*", "[^"]*/done/'
P_FDONE='fsync\([0-9]+<[^>]*-spool/done>'

# Dry runs on throwaway sites: which call is each step.
new_site dry-intake
intake "$S" "$T/comp.body" "$SIG" "$T/dry.strace" -e trace=linkat,renameat,fsync
I_REC=$(nth "$T/dry.strace" fsync "$P_REC")
I_SEEN=$(nth "$T/dry.strace" linkat "$P_SEEN")
I_FNEW=$(nth "$T/dry.strace" fsync "$P_FNEW")
I_FSEEN=$(nth "$T/dry.strace" fsync "$P_FSEEN")
new_site dry-two
intake "$S" "$T/two.body" "$SIG2" "$T/dry.strace" -e trace=renameat
I_NEW1=$(nth "$T/dry.strace" renameat "$P_NEW1")
new_site dry-runner
queue_held "dry run of a runner" "$S"
traced_drain "$S" "$T/dry.strace" -e trace=rename,openat,write,clone,fsync
R_CLAIM=$(nth "$T/dry.strace" rename "$P_CLAIM")
R_OPEN=$(nth "$T/dry.strace" openat "$P_OPEN")
R_WRITE=$(nth "$T/dry.strace" write "$P_WRITE")
R_CLONE=$(nth "$T/dry.strace" clone "$P_CLONE")
R_DONE=$(nth "$T/dry.strace" rename "$P_DONE")
R_FDONE=$(nth "$T/dry.strace" fsync "$P_FDONE")
check "dry runs found every step (intake: fsync linkat renameat fsync fsync; runner: rename openat write clone rename fsync)" \
	"5 6" "$(echo "$I_REC" "$I_SEEN" "$I_NEW1" "$I_FNEW" "$I_FSEEN" | wc -w) $(echo "$R_CLAIM" "$R_OPEN" "$R_WRITE" "$R_CLONE" "$R_DONE" "$R_FDONE" | wc -w)"

# --- 1. kill -9 at each step of intake; Feishu redelivers, then drain ---------------
# intake_crash NAME CALL WHEN PATTERN [NOCLAIM]
intake_crash() {
	local name="killed in intake at $1" call=$2 when=$3 noclaim=${5:-0}
	new_site "intake-$call-$when"
	check_true "$name: it died there, no answer" killed_intake "$S" "$call" "$when" "$4"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "$name, redelivered: 200" 200 "$(status)"
	idle "$S/larkhook-spool"
	drain "$S"
	check_true "$name: drain ran" grep -q '^drain: ' "$T/drain.out"
	settled "$name, redelivered and drained" "$S" 1 "$noclaim"
}
# before its claim, its record (born as its job in new/) written: the runner
# sets that job aside in failed/ unrun, LAST noclaim (the redelivery's runs)
intake_crash "the fsync of the record, born as its job in new/, before the claim" fsync "$I_REC" "$P_REC" 1
check "killed before the claim: the log says why its job was set aside" 1 \
	"$(grep -c "job .*\\.$CH\\.0: no claim in seen/: its intake never finished and no 200 was given, so Feishu delivers the event again: moved to failed/ unrun" \
		"$S/larkhook.log")"
# at the claim (the kill comes before the link is made): the same
intake_crash "the claim (link into seen/)" linkat "$I_SEEN" "$P_SEEN" 1
intake_crash "the fsync of new/" fsync "$I_FNEW" "$P_FNEW"
intake_crash "the fsync of seen/" fsync "$I_FSEEN" "$P_FSEEN"

# two jobs (each = items), killed between the links of job 0 and job 1: the
# redelivery completes the claim with job 1 only
name="killed in intake at the move of the 2nd of two jobs into new/ (the 1st is a link)"
H2=$(idhash "$ID2")
new_site intake-two
check_true "$name: it died there, no answer" killed_intake "$S" renameat "$I_NEW1" "$P_NEW1" "$T/two.body" "$SIG2"
check "$name: job 0 was queued, job 1 not" "1 0" \
	"$(find "$S/larkhook-spool/new" -name "*.$H2.0" | wc -l) $(find "$S/larkhook-spool/new" -name "*.$H2.1" | wc -l)"
redeliver_dup "$name" "$S" "$T/two.body" "$SIG2"
idle "$S/larkhook-spool"
drain "$S"
check "$name, redelivered and drained: both jobs in done/" 2 "$(in_dir "$S" "done" "$H2")"
spool_clean "$name, redelivered and drained" "$S"
check "$name, redelivered and drained: the hook ran once per item (LARK_ATTEMPT LARK_EACH_INDEX)" "1 0,1 1" \
	"$(awk -v id="$ID2" '$1 == id { print $2, $3 }' "$S/runs" 2>/dev/null | sort | paste -sd,)"

# --- 2. kill -9 in a runner (a foreground drain under strace -f) -------------------
# runner_crash NAME PATTERN LEFT ATTEMPTS STRACE_OPTIONS...: PATTERN the
# killed call's line; LEFT the directory the job is in after the kill;
# ATTEMPTS the LARK_ATTEMPT of every hook run, in order.
N=0
runner_crash() {
	local name="runner killed at $1" pat=$2 left=$3 want=$4; shift 4
	N=$((N + 1))
	new_site "runner-$N"
	queue_held "$name" "$S"
	rm -f "$T/kill.strace"
	(traced_drain "$S" "$T/kill.strace" "$@") 2>/dev/null
	check_true "$name: the kill was injected there" died_at "$T/kill.strace" "$pat"
	check "$name: where the job was left" "$left " "$(where "$S")"
	# the next drain repairs; a retry after a failed run is due 3 s later
	wait_for 15 drained "$S"
	check_true "$name: drain ran" grep -q '^drain: ' "$T/drain.out"
	redeliver_dup "$name" "$S"
	settled "$name, drained again" "$S" "$want"
}
runner_crash "the claim (rename new/ -> cur/)" "$P_CLAIM" new 1 \
	-e trace=rename -e inject="rename:signal=KILL:when=$R_CLAIM"
# killed between the claim and the hook: the next runner finds the job in
# cur/ and cannot tell whether its hook ran, so it counts a lost run
runner_crash "the open of the run/ event file, before the hook (the lost run counts: LARK_ATTEMPT=2)" "$P_OPEN" cur 2 \
	-e trace=openat -e inject="openat:signal=KILL:when=$R_OPEN"
runner_crash "the write of the run/ event file, before the hook (the lost run counts: LARK_ATTEMPT=2)" "$P_WRITE" cur 2 \
	-e trace=write -e inject="write:signal=KILL:when=$R_WRITE"
runner_crash "the fork (clone) of the hook, before the hook (the lost run counts: LARK_ATTEMPT=2)" "$P_CLONE" cur 2 \
	-e trace=clone -e inject="clone:signal=KILL:when=$R_CLONE"
# the hook's child killed at its execve of /bin/sh: the runner lives on and
# counts a run ended by signal 9, retried after the backoff. -P: only execve
# of /bin/sh counts (strace counts per tracee, and setpriv's execve is its 1st).
# strace would kill every hook child it sees at its execve: the backoff (3 s,
# from a time in whole seconds, so at least 2 s) keeps the retry out of the
# traced drain, which leaves milliseconds after settling the killed run.
runner_crash "the execve of /bin/sh in the hook's child (the hook never ran; the killed run counts: LARK_ATTEMPT=2)" "$P_EXEC" new 2 \
	-P /bin/sh -e trace=execve -e inject=execve:signal=KILL:when=1
runner_crash "the rename cur/ -> done/ after the hook finished (at least once: runs twice, LARK_ATTEMPT=2 on the second)" "$P_DONE" cur "1 2" \
	-e trace=rename -e inject="rename:signal=KILL:when=$R_DONE"
runner_crash "the fsync of done/ after the job reached done/" "$P_FDONE" "done" 1 \
	-e trace=fsync -e inject="fsync:signal=KILL:when=$R_FDONE"

# --- 3. a writer killed after its claim, and no redelivery ever -------------------
# An event of two jobs, killed at the rename that makes its 2nd job: the
# next runner completes the claim from tmp/ (doc/4-spool.md §4.6).
# claim_done NAME SITE: both jobs of the event in done/, each run once,
# nothing left.
claim_done() {
	idle "$2/larkhook-spool"
	check "$1: both jobs in done/" 2 "$(in_dir "$2" "done" "$H2")"
	spool_clean "$1" "$2"
	check "$1: the hook ran once per item (LARK_ATTEMPT LARK_EACH_INDEX)" "1 0,1 1" \
		"$(awk -v id="$ID2" '$1 == id { print $2, $3 }' "$2/runs" 2>/dev/null | sort | paste -sd,)"
}
# claimed_two NAME: kill the writer of the two-job event in a new site S.
claimed_two() {
	new_site "$2"
	check_true "$1: it died there, no answer" killed_intake "$S" renameat "$I_NEW1" "$P_NEW1" "$T/two.body" "$SIG2"
	check "$1: seen/ claimed, job 0 only, record in tmp/" "1 1 1" \
		"$(find "$S/larkhook-spool/seen" -name "$H2" | wc -l) $(in_dir "$S" new "$H2") $(count "$S/larkhook-spool" tmp)"
}
# ... completed by the runner another event starts ...
claimed_two "writer killed after its claim" claim-event
cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
check "writer killed after its claim, another event: 200" 200 "$(status)"
claim_done "writer killed after its claim, the next event's runner completed it" "$S"
redeliver_dup "writer killed after its claim, completed by a runner" "$S" "$T/two.body" "$SIG2"
claim_done "writer killed after its claim, completed, then redelivered" "$S"
# ... or by drain (from cron)
claimed_two "writer killed after its claim (drain)" claim-drain
drain "$S"
check "writer killed after its claim, drain: both jobs done" "drain: 2 done, 0 to retry later, 0 failed" "$(cat "$T/drain.out")"
claim_done "writer killed after its claim, drain completed it" "$S"
redeliver_dup "writer killed after its claim, completed by drain" "$S" "$T/two.body" "$SIG2"
claim_done "writer killed after its claim, completed by drain, then redelivered" "$S"
# an event of one job killed after its claim (its record is its job in
# new/): nothing is left to complete
new_site claim-late
check_true "writer killed at the fsync of seen/: it died there, no answer" killed_intake "$S" fsync "$I_FSEEN" "$P_FSEEN"
check "writer killed at the fsync of seen/: job in new/, nothing in tmp/" "1 0" "$(in_dir "$S" new) $(count "$S/larkhook-spool" tmp)"
drain "$S"
settled "writer killed at the fsync of seen/, drain completed it" "$S" 1
redeliver_dup "writer killed at the fsync of seen/, completed by drain" "$S"
settled "writer killed at the fsync of seen/, completed by drain, then redelivered" "$S" 1
