#!/bin/bash
# faults.sh: storage faults give 503 with Retry-After, leave nothing claimed,
# and the redelivered event is accepted once the fault is gone.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

vector comp raw_body >"$T/comp.body"
vector perf raw_body >"$T/perf.body"
SIG=$(vector comp x_lark_signature)

# A site whose spool tree already exists (the perf event made it).
fresh_site() {
	local s
	s=$(site "$1")
	cgi_signed "$s/larkhook.conf" "$T/perf.body" "$(vector perf x_lark_signature)"
	[ "$(status)" = 200 ] || fail "$1: setting up the spool" "$(status)"
	# its job done: a test that then removes new/ must not remove it
	idle "$s/larkhook-spool"
	echo "$s"
}
# after_fault NAME SPOOL: the state a failed intake must leave.
after_fault() {
	check "$1: 503" 503 "$(status)"
	check_true "$1: Retry-After sent" grep -q $'^Retry-After: [0-9]*\r$' "$T/resp"
	check "$1: no seen/ entry for the event" 0 "$(find "$2/seen" -name "$CH" | wc -l)"
	check "$1: no job queued" 1 "$(queued "$2")"
	check "$1: no temp file left" 0 "$(count "$2" tmp)"
}
# redeliver NAME SITE: Feishu retries once the fault is gone.
redeliver() {
	cgi_signed "$2/larkhook.conf" "$T/comp.body" "$SIG"
	check "$1, fixed: the retried event is accepted" 200 "$(status)"
	check "$1, fixed: the event is queued once" 2 "$(queued "$2/larkhook-spool")"
	check "$1, fixed: seen/ claims it" 1 "$(find "$2/larkhook-spool/seen" -name "$CH" | wc -l)"
}
CH=$(idhash f7984f25108f8137722bb63cee927e66)

# --- permissions -------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || [ ${#RUNAS[@]} -gt 0 ]; then
	# an event of one job is born as its job in new/: tmp/ is not on its way
	S=$(fresh_site perm-tmp)
	chmod 500 "$S/larkhook-spool/tmp"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "tmp/ not writable: an event of one job is stored all the same (born in new/)" "200 2" \
		"$(status) $(queued "$S/larkhook-spool")"
	chmod 700 "$S/larkhook-spool/tmp"
	for d in seen new; do
		S=$(fresh_site "perm-$d")
		chmod 500 "$S/larkhook-spool/$d"
		cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
		after_fault "$d/ not writable" "$S/larkhook-spool"
		chmod 700 "$S/larkhook-spool/$d"
		redeliver "$d/ not writable" "$S"
	done
	S=$(site perm-parent)
	chmod 555 "$S"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "spool cannot be created: 503" 503 "$(status)"
	chmod 755 "$S"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "spool cannot be created, fixed: 200" 200 "$(status)"
	check "spool cannot be created, fixed: queued" 1 "$(queued "$S/larkhook-spool")"
else
	fail "permission faults" "need a non-root user to run larkhook as"
fi

# --- injected system call failures (strace) ------------------------------------------
# run_traced SITE CALL OUT [STRACE OPTIONS...]: deliver the event under strace.
run_traced() {
	cgi_under "$1/larkhook.conf" "$T/comp.body" "$SIG" "$T/resp" strace -f -qq -o "$3" -e trace="$2" "${@:4}"
}
# nth CALL PATTERN: which call of CALL (counting from 1) has PATTERN in its
# arguments, found by a dry run on a throwaway site.
nth() {
	local S
	S=$(fresh_site "dry-$1-$RANDOM")
	run_traced "$S" "$1" "$T/dry.strace"
	awk -v call="$1(" -v pat="$2" 'index($0, call) { n++; if ($0 ~ pat) { print n; exit } }' "$T/dry.strace"
}
# inject NAME SYSCALL ERRNO WHEN: fail the WHEN-th call of SYSCALL.
inject() {
	local name=$1 call=$2 err=$3 when=$4 S
	S=$(fresh_site "inject-$call-$when")
	run_traced "$S" "$call" "$T/strace.$call.$when" -e inject="$call:error=$err:when=$when"
	check_true "$name: the fault was injected" grep -q "(INJECTED)" "$T/strace.$call.$when"
	after_fault "$name" "$S/larkhook-spool"
	redeliver "$name" "$S"
}
inject "fsync of the record fails (EIO)" fsync EIO 1
inject "fsync of new/ fails (EIO)" fsync EIO 2
inject "fsync of seen/ fails (EIO)" fsync EIO 3
inject "write of the record fails (ENOSPC)" write ENOSPC 1
inject "link into seen/ fails (EDQUOT)" linkat EDQUOT 1
inject "creating the record, as its job in new/, fails (ENOSPC)" openat ENOSPC \
	"$(nth openat '"[0-9]+[.][0-9a-f]+[.]0", O_WRONLY[|]O_CREAT[|]O_EXCL')"
# the job's name taken in new/ (the same id in the same microsecond, from
# another writer): born a microsecond later, still in new/; taken 8 times
# in a row: 503, nothing left
JOBOPEN=$(nth openat '"[0-9]+[.][0-9a-f]+[.]0", O_WRONLY[|]O_CREAT[|]O_EXCL')
S=$(fresh_site inject-taken)
run_traced "$S" openat "$T/strace.taken" -e inject="openat:error=EEXIST:when=$JOBOPEN"
check_true "the job's name taken in new/: the fault was injected" grep -q "(INJECTED)" "$T/strace.taken"
names=$(grep -oE '"[0-9]+[.][0-9a-f]+[.]0", O_WRONLY[|]O_CREAT[|]O_EXCL' "$T/strace.taken" | cut -d'"' -f2 | cut -d. -f1)
check "the job's name taken in new/: tried again a microsecond later, in new/, stored and claimed" "200 2 1 1 0" \
	"$(status) $(wc -l <<<"$names") $(($(tail -1 <<<"$names") - $(head -1 <<<"$names"))) $(find "$S/larkhook-spool/seen" -name "$CH" | wc -l) $(count "$S/larkhook-spool" tmp)"
check "the job's name taken in new/: queued once" 1 "$(jobs_of compensation.archive.changed_v1 "$S/larkhook-spool")"
S=$(fresh_site inject-taken-8)
run_traced "$S" openat "$T/strace.taken8" -e inject="openat:error=EEXIST:when=$JOBOPEN..$((JOBOPEN + 7))"
after_fault "the job's name taken 8 times in a row" "$S/larkhook-spool"
check "the job's name taken 8 times in a row: 8 names tried" 8 "$(grep -c '(INJECTED)' "$T/strace.taken8")"
redeliver "the job's name taken 8 times in a row" "$S"
inject "opening the spool's tmp/ fails (EMFILE)" openat EMFILE "$(nth openat 'larkhook-spool/tmp", O_RDONLY[|]O_CLOEXEC[|]O_DIRECTORY')"

# --- a part of the spool removed while larkhook serves: the spool is not
# re-made before every event, so the step that finds a directory missing
# makes them again and the event is stored all the same -------------------------
for d in tmp seen new; do
	S=$(fresh_site "gone-$d")
	rm -rf "$S/larkhook-spool/$d"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "$d/ removed: the next event is stored" "200 2 1" \
		"$(status) $(queued "$S/larkhook-spool") $(find "$S/larkhook-spool/seen" -name "$CH" | wc -l)"
	check "$d/ removed: made again, 0700" 700 "$(stat -c %a "$S/larkhook-spool/$d" 2>&1)"
done
S=$(site gone-all)
cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
rm -rf "$S/larkhook-spool"
cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
check "the whole spool removed: the same event is stored again, as new" "200 1" \
	"$(status) $(queued "$S/larkhook-spool")"

# --- kill -9 at each step of intake: no 200 was sent, so Feishu redelivers;
# the redelivery must end with the event queued exactly once ---------------------------
# crash NAME SYSCALL WHEN LEFT: SIGKILL on entering the WHEN-th call of
# SYSCALL; LEFT temp records remain after the redelivery (a record that was
# never claimed is an orphan: the runner the redelivery starts removes it).
# NOCLAIM (0 unless given) jobs of a writer killed before its claim are
# set aside in failed/ (doc/4-spool.md §4.5) and not counted as queued.
crash() {
	local name=$1 call=$2 when=$3 left=$4 noclaim=${5:-0} S
	S=$(fresh_site "crash-$call-$when")
	# strace dies by the tracee's signal too; keep bash's report out
	(run_traced "$S" "$call" "$T/crash.$call.$when" -e inject="$call:signal=KILL:when=$when") 2>/dev/null
	check "killed at $name: no answer was sent" "" "$(status)"
	check_true "killed at $name: it really died there" grep -q 'killed by SIGKILL' "$T/crash.$call.$when"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "killed at $name, redelivered: 200" 200 "$(status)"
	check "killed at $name, redelivered: queued exactly once; set aside as noclaim: $noclaim" "1 $noclaim" \
		"$(($(jobs_of compensation.archive.changed_v1 "$S/larkhook-spool") - noclaim)) $(find "$S/larkhook-spool/failed" -name '*,noclaim' | wc -l)"
	check "killed at $name, redelivered: claimed in seen/" 1 "$(find "$S/larkhook-spool/seen" -name "$CH" | wc -l)"
	check "killed at $name, redelivered: temp records left" "$left" "$(idle "$S/larkhook-spool"; count "$S/larkhook-spool" tmp)"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "killed at $name, delivered again: a duplicate, still once" "200 1" \
		"$(status) $(($(jobs_of compensation.archive.changed_v1 "$S/larkhook-spool") - noclaim))"
}
# before its claim, its job written in new/: the runner sets it aside in
# failed/ unrun
crash "the fsync of the record (its job in new/, not yet claimed)" fsync 1 0 1
crash "the claim in seen/ (the kill comes before the link)" linkat 1 0 1
crash "the fsync of new/" fsync 2 0
crash "the fsync of seen/" fsync 3 0
