#!/bin/bash
# races.sh: what the spool and the runner must survive besides interleaved
# deliveries (interleave.sh): the timeout's grace, a stranger's spool or
# job, the replay windows, a missing /dev/null, a record that cannot be read
# for a while, a job that keeps killing its runner (doc/5-guarantees.md,
# doc/4-spool.md, doc/2-config.md).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
ID=$(vector comp plaintext | jq -r .header.event_id)
CH=$(idhash "$ID")
vector card_new raw_body >"$T/card.body"
CARD_SIG=$(vector card_new x_lark_signature)

# runsite NAME RUN [lines...]: a site whose compensation hook is RUN; sets S
# and SP (its spool, made).
runsite() {
	S=$T/$1
	siteconf "$S" "$2" "${@:3}"
	SP=$S/larkhook-spool
	"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >/dev/null 2>&1
}
drain() { "${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >"$T/drain.out" 2>&1 </dev/null; }
# held: deliver the event while this shell holds the runner's lock: the
# job waits in new/.
held() {
	exec 9<"$SP/runner.lock"
	flock -x 9
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG" 9<&-
	exec 9<&-
}
in_dir() { find "$SP/$1" -name "*.$CH.*" 2>/dev/null | wc -l; }
# signed_at TS BODY: deliver BODY (to $S) signed with timestamp TS.
signed_at() {
	cgi "$S/larkhook.conf" "$2" HTTP_X_LARK_SIGNATURE="$(TS=$1 sign "$2")" \
		HTTP_X_LARK_REQUEST_TIMESTAMP="$1" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
}

# --- the timeout's grace: SIGTERM to the group, SIGKILL 5 s later ------------------
# The hook and a member of its group trap SIGTERM and take a second to
# clean up; the group leader (larkhook's supervisor) must outlive the
# SIGTERM, or its death has the runner kill the group at once.
runsite grace "sh grace.sh" "backoff = 1"
sed -i 's/^run = sh grace.sh$/run = sh grace.sh\ntimeout = 1/' "$S/larkhook.conf"
cat >"$S/grace.sh" <<'EOF'
sh -c 'trap "sleep 1; echo member-cleaned >>grace.log; exit 0" TERM
	echo member-up >>grace.log; while :; do sleep 0.2; done' &
trap 'sleep 1; echo leader-cleaned >>grace.log; exit 0' TERM
while :; do sleep 0.2; done
EOF
chown "$OWNER" "$S/grace.sh"
held
drain
check "grace: the hook timed out" 1 "$(grep -c 'attempt 1: timeout; retry in' "$S/larkhook.log")"
check_true "grace: the hook's own SIGTERM trap ran to its end" grep -qx leader-cleaned "$S/grace.log"
check_true "grace: a member of its group trapping SIGTERM ran to its end" grep -qx member-cleaned "$S/grace.log"
check "grace: nothing of the group is left" "" "$(pgrep -u "$OWNER" -f 'member-cleaned' || true)"

# a hook that ignores SIGTERM (its whole group does) is killed 5 s later
runsite deaf "sh deaf.sh"
sed -i 's/^run = sh deaf.sh$/run = sh deaf.sh\ntimeout = 1/' "$S/larkhook.conf"
printf '%s\n' "trap '' TERM" 'echo $$ >deaf.pid' 'while :; do sleep 0.2; done' >"$S/deaf.sh"
chown "$OWNER" "$S/deaf.sh"
held
drain
check "grace: a hook deaf to SIGTERM timed out" 1 "$(grep -c 'attempt 1: timeout' "$S/larkhook.log")"
check_true "grace: ... it had started (its PID kept)" test -s "$S/deaf.pid"
# gone PID: no process PID (an empty PID is not gone: the test must fail)
gone() { [ -n "$1" ] && ! kill -0 "$1" 2>/dev/null; }
check_true "grace: ... and was killed (SIGKILL after the grace): its process is gone" \
	wait_for 5 gone "$(cat "$S/deaf.pid" 2>/dev/null)"

# --- a stranger's spool ---------------------------------------------------------------
# stranger NAME HOW: the spool made, then HOW (a function, as root) done to
# it; intake answers 503 with Retry-After, logs why, stores nothing; check
# says so.
stranger() {
	S=$T/stranger-$1
	siteconf "$S" true
	SP=$S/larkhook-spool
	"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >/dev/null 2>&1
	"$2"
	cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
	check "stranger's spool ($1): 503" 503 "$(status)"
	check_true "stranger's spool ($1): Retry-After" grep -q $'^Retry-After: [0-9]*\r$' "$T/resp"
	check_true "stranger's spool ($1): the log says why" \
		grep -q "spool: .*\\(not owned by larkhook's user\\|writable by group or others\\): refusing" "$S/larkhook.log"
	check "stranger's spool ($1): nothing claimed or queued" "0 0" "$(count "$SP" seen) $(count "$SP" new)"
	"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" check >"$T/check.out" 2>&1
	check_true "stranger's spool ($1): check warns" grep -q "^warning: spool: .*\\(not owned\\|writable by group\\)" "$T/check.out"
}
open_to_all() { chmod 777 "$SP"; }
roots() { chown root "$SP" && chmod 777 "$SP"; }
new_open() { chmod 773 "$SP/new"; }
seen_roots() { chown root "$SP/seen" && chmod 777 "$SP/seen"; }
stranger "mode 0777" open_to_all
stranger "owned by root, 0777" roots
stranger "new, 0773" new_open
stranger "seen owned by root, 0777" seen_roots

# a job that is not a regular file of larkhook's user is never run: one
# planted by root, a symbolic link to a good record, a FIFO
runsite planted 'echo "$LARK_ID" >>runs'
held
good=$(find "$SP/new" -type f | head -1)
job=$(basename "$good")
mv "$good" "$T/good.record"
chown "$OWNER" "$T/good.record"
cp "$T/good.record" "$SP/new/1000000000000001.$CH.0"
chown root "$SP/new/1000000000000001.$CH.0"
chmod 644 "$SP/new/1000000000000001.$CH.0"
ln -s "$T/good.record" "$SP/new/1000000000000002.$CH.0"
mkfifo "$SP/new/1000000000000003.$CH.0"
chown -h "$OWNER" "$SP/new/1000000000000002.$CH.0" "$SP/new/1000000000000003.$CH.0"
# bounded: opening a FIFO without O_NONBLOCK would hang the runner
timeout 60 "${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >"$T/drain.out" 2>&1 </dev/null
check "planted jobs: none ran (root's file, a symbolic link, a FIFO)" 0 "$(grep -c . "$S/runs" 2>/dev/null || echo 0)"
check "planted jobs: all three moved to failed/, marked notours" 3 "$(find "$SP/failed" -name '*:*notours' | wc -l)"
check "planted jobs: the log says so" 3 "$(grep -c 'not a regular file owned by larkhook.s user' "$S/larkhook.log")"
check "planted jobs: drain reports them failed" "drain: 0 done, 0 to retry later, 3 failed" "$(cat "$T/drain.out")"
: "$job"

# --- the replay windows ------------------------------------------------------------------
now=$(date +%s)
# default: max_age is on (1d); the vectors' timestamp is from 2023
S=$T/window-default
mkdir -p "$S"
{
	echo "verification_token = $TOKEN"
	echo "encrypt_key = $KEY"
	echo "log = $S/larkhook.log"
	echo "[on compensation.archive.changed_v1]"
	echo "run = true"
} >"$S/larkhook.conf"
chmod 600 "$S/larkhook.conf"
chown -R "$OWNER" "$S"
cgi_signed "$S/larkhook.conf" "$T/comp.body" "$SIG"
check "replay window on by default: a request signed in 2023 is 401" 401 "$(status)"
check_true "replay window on by default: the log says why" grep -q 'reason="timestamp outside max_age"' "$S/larkhook.log"
signed_at $((now - 3600)) "$T/comp.body"
check "replay window on by default: signed an hour ago, 200" 200 "$(status)"
signed_at $((now - 86400 - 120)) "$T/comp.body"
check "replay window on by default: signed a day and 2 minutes ago, 401" 401 "$(status)"

# check refuses a window over retain or under 8 h, and warns when it is off
checked() {
	local c=$T/checked.conf
	{ echo "verification_token = t"; printf '%s\n' "$@"; } >"$c"
	"$BIN" -c "$c" check 2>&1
}
out=$(checked "retain = 1d" "max_age = 2d"); rc=$?
check "check: max_age over retain refused" "1 yes" "$rc $(grep -q 'max_age (172800s) exceeds retain (86400s)' <<<"$out" && echo yes)"
out=$(checked "max_age = 1h"); rc=$?
check "check: max_age under 8h refused" "1 yes" "$rc $(grep -q 'max_age under 8h' <<<"$out" && echo yes)"
out=$(checked "max_age = 0"); rc=$?
check "check: max_age = 0 accepted with a warning" "0 yes" "$rc $(grep -q '^warning: max_age = 0: the replay window is off' <<<"$out" && echo yes)"
out=$(checked "max_age = 8h"); rc=$?
check "check: max_age = 8h, no window warning" "0 0" "$rc $(grep -c 'replay window' <<<"$out")"

# reply hooks are not deduplicated: a short window of their own
# (reply_max_age, default 5 min), even with max_age = 0
card_site() {
	S=$T/reply-$1
	mkdir -p "$S"
	{
		echo "verification_token = $TOKEN"
		echo "encrypt_key = $KEY"
		echo "log = $S/larkhook.log"
		echo "max_age = 0"
		[ -z "${2:-}" ] || echo "$2"
		echo "[on card.action.trigger]"
		echo "mode = reply"
		echo "run = echo '{}'"
	} >"$S/larkhook.conf"
	chmod 600 "$S/larkhook.conf"
	chown -R "$OWNER" "$S"
}
card_site default
cgi_signed "$S/larkhook.conf" "$T/card.body" "$CARD_SIG"
check "reply hook: a card callback signed in 2023 is 401" 401 "$(status)"
check_true "reply hook: the log says why" grep -q 'reason="timestamp outside reply_max_age (a reply hook)"' "$S/larkhook.log"
signed_at "$now" "$T/card.body"
check "reply hook: signed now, 200 with its answer" "200 {}" "$(status) $(resp_body)"
signed_at $((now - 360)) "$T/card.body"
check "reply hook: signed 6 minutes ago, 401" 401 "$(status)"
signed_at $((now - 240)) "$T/card.body"
check "reply hook: signed 4 minutes ago, 200" 200 "$(status)"
card_site off "reply_max_age = 0"
cgi_signed "$S/larkhook.conf" "$T/card.body" "$CARD_SIG"
check "reply hook with reply_max_age = 0: signed in 2023, 200" 200 "$(status)"

# --- no /dev/null: the runner must not keep the request's streams ---------------------------
# In a mount namespace where /dev/null is a file larkhook's user cannot
# open, the response must still end while the hook runs.
runsite nonull 'touch started; n=0; while [ ! -e release ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done'
: >"$T/nullfile"
chmod 600 "$T/nullfile"
(
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		CONTENT_LENGTH="$(stat -c %s "$T/comp.body")" LARKHOOK_CONFIG="$S/larkhook.conf" \
		HTTP_X_LARK_SIGNATURE="$SIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE" \
		unshare -m sh -c 'mount --bind "$0" /dev/null && exec "$@"' "$T/nullfile" \
		"${RUNAS[@]}" "$BIN" <"$T/comp.body" 2>"$T/nonull.err" | cat >"$T/nonull.resp"
	echo ended >"$S/response.ended"
) &
# the hook cannot end before release exists: a response that ends first
# did not wait for it
if wait_for 20 test -e "$S/response.ended"; then
	check "no /dev/null: the response ended before the hook could" no \
		"$([ -e "$S/release" ] && echo yes || echo no)"
else
	fail "no /dev/null: the response ended before the hook could" "it waited for the hook"
fi
check "no /dev/null: 200" 200 "$(sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$T/nonull.resp")"
check_true "no /dev/null: the hook runs" wait_for 20 test -e "$S/started"
touch "$S/release"
wait
idle "$SP"

# --- a record that cannot be read for a while is retried, not failed ----------------
# (backoff 3 s: a retry due within a second could come due in the same drain)
runsite unreadable 'echo "$LARK_ID $LARK_ATTEMPT" >>runs' "backoff = 3"
held
job=$(find "$SP/new" -type f -printf '%f\n' | head -1)
strace -qq -o "$T/eio.strace" -P "$SP/new/$job" -e trace=read,pread64 -e inject=read,pread64:error=EIO:when=1 \
	"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >"$T/drain.out" 2>&1 </dev/null
check_true "unreadable record: EIO was injected" grep -q 'EIO.*INJECTED' "$T/eio.strace"
check "unreadable record: left in new/ (not failed), not run" "1 0 0" \
	"$(in_dir new) $(in_dir failed) $(grep -c . "$S/runs" 2>/dev/null || echo 0)"
check_true "unreadable record: the log says it is tried again" grep -q 'cannot read its record (Input/output error): tried again in 3s' "$S/larkhook.log"
drained() { drain; [ "$(in_dir new)" = 0 ]; }
wait_for 15 drained
check "unreadable record: run later, once, as attempt 1" "$ID 1" "$(cat "$S/runs" 2>/dev/null)"
check "unreadable record: done" 1 "$(in_dir "done")"

# --- a job whose run keeps killing its runner is bounded ------------------------------
# the hook kills the runner (its supervisor's parent) with SIGKILL: each
# next runner finds the job in cur/, "lost"; three in a row: failed/
runsite killer 'echo "$LARK_ID $LARK_ATTEMPT" >>runs; kill -9 "$(cut -d" " -f4 /proc/$PPID/stat)"'
held
for _ in 1 2 3 4 5 6; do
	(drain) 2>/dev/null
	[ "$(in_dir failed)" = 1 ] && break
done
check "runner killed by its job: failed after three lost runs in a row" "1 3" \
	"$(find "$SP/failed" -name "*.$CH.*:*,lost3" | wc -l) $(grep -c . "$S/runs" 2>/dev/null || echo 0)"

# --- a wall clock stepped forward does not empty the dedupe set -----------------------
# (libfaketime moves the wall clock 400 days; CLOCK_BOOTTIME and the files'
# times stay true)
runsite clock true
held
drain
check "clock: the event ran, its id is in seen/" "1 1" "$(in_dir "done") $(count "$SP" seen)"
jumped() {
	env FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 "${RUNAS[@]}" faketime -f +400d "$@"
}
jumped "$BIN" -c "$S/larkhook.conf" drain >"$T/drain.out" 2>&1 </dev/null
check "clock stepped 400 days ahead: the sweep kept seen/ and done/" "1 1" \
	"$(count "$SP" seen) $(in_dir "done")"
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	CONTENT_LENGTH="$(stat -c %s "$T/comp.body")" LARKHOOK_CONFIG="$S/larkhook.conf" \
	HTTP_X_LARK_SIGNATURE="$SIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE" \
	FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 "${RUNAS[@]}" faketime -f +400d "$BIN" <"$T/comp.body" >"$T/resp" 2>/dev/null
check "clock stepped 400 days ahead: a redelivery is still a duplicate" "200 1" \
	"$(status) $(grep -c 'reason="duplicate event id"' "$S/larkhook.log")"

# --- FastCGI: after a read timeout the connection lingers ------------------------------
# libfcgi's close shuts its side down and waits for the server, so unread
# input cannot turn into a reset that loses the answer; only a request whose
# input was read to its end without error is closed at once.
runsite linger true "read_timeout = 1"
python3 "$ROOT/tests/e2e/fcgi-linger.py" "$BIN" "$S/larkhook.conf" "$T/linger.strace" "$SIG" "$TS" \
	"$NONCE" "$T/comp.body" "${RUNAS[@]}" >"$T/linger.out" 2>&1
check "FastCGI: a whole request, one whose body never ends, a whole one" \
	"Status: 200 OK|Status: 408 Request Timeout|Status: 200 OK" "$(paste -sd'|' "$T/linger.out")"
check "FastCGI: the timed-out request's connection lingers (shutdown), the whole one's does not" 1 \
	"$(grep -c 'shutdown(' "$T/linger.strace")"

# --- a dead writer's claim is kept, and its jobs made, before seen/ expires -------------
# A writer killed after its claim, its claim then older than retain (8 h):
# the next runner must run the event once and keep the claim, not expire
# it and then take the job or record for an orphan (doc/4-spool.md §4.6).
# kill_at CALL WHEN BODY: deliver BODY to $S, the writer killed on entering
# its WHEN-th CALL.
kill_at() {
	(cgi_under "$S/larkhook.conf" "$3" "$(sign "$3")" "$T/resp" \
		strace -qq -o /dev/null -e trace="$1" -e inject="$1:signal=KILL:when=$2") 2>/dev/null
}
# One job: the record is born as its job in new/; killed at the fsync of
# new/ (the record's own fsync is the first), after its claim.
runsite oldclaim 'echo "$LARK_ID" >>runs' "retain = 8h"
kill_at fsync 2 "$T/comp.body"
check "old claim (one job): the writer died after its claim, its job in new/, nothing in tmp/" "1 0 1 " \
	"$(count "$SP" seen) $(count "$SP" tmp) $(count "$SP" new) $(cat "$T/resp")"
touch -d '9 hours ago' "$SP/seen/$CH"
drain
check "old claim (one job): the runner ran it once" "$ID" "$(cat "$S/runs" 2>/dev/null)"
check "old claim (one job): its id is still claimed (its job kept it)" 1 "$(count "$SP" seen)"
# Two jobs (each): the record is born in tmp/; killed at the rename that
# makes its last job, after its claim and its first job.
TWO_ID=races-old-claim-two-0001
vector perf plaintext | jq -c --arg id "$TWO_ID" '.header.event_id = $id | .event.items += .event.items' \
	>"$T/two.json"
seal "$T/two.json" "$T/two.body" >/dev/null
runsite oldclaim2 true "retain = 8h"
# shellcheck disable=SC2016 # expanded by the hook's shell
sed -i '/^\[on performance/,$ s/^run = true$/run = echo "$LARK_ID $LARK_EACH_INDEX" >>runs/' "$S/larkhook.conf"
kill_at renameat 1 "$T/two.body"
check "old claim (two jobs): the writer died after its claim and first job, record in tmp/" "1 1 1 " \
	"$(count "$SP" seen) $(count "$SP" tmp) $(count "$SP" new) $(cat "$T/resp")"
touch -d '9 hours ago' "$SP/seen/$(idhash "$TWO_ID")"
drain
check "old claim (two jobs): the runner completed it and ran each job once" "$TWO_ID 0|$TWO_ID 1" \
	"$(sort "$S/runs" 2>/dev/null | paste -sd'|')"
check "old claim (two jobs): its id is still claimed, tmp/ empty" "1 0" \
	"$(count "$SP" seen) $(count "$SP" tmp)"

# --- the sweep that cannot list new/ expires no claim --------------------------------
# A job waiting in new/, its claim older than retain; the sweep's listing of
# new/ fails (EMFILE injected at its opendir): the claim must stay, or the
# runner would take the waiting job for a dead writer's and remove it unrun.
# traced_drain OUT [STRACE OPTIONS...]: drain $S under strace -y.
traced_drain() {
	local out=$1; shift
	strace -qq -y -o "$out" "$@" "${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" drain >/dev/null 2>&1 </dev/null
}
runsite sweepfail 'echo "$LARK_ID" >>runs' "retain = 8h"
held
touch -d '9 hours ago' "$SP/seen/$CH"
# the sweep's own opendir of new/: the second open of new/ as a directory
# (the first is the tmp/ sweep's), found by a dry run on a twin site
S0=$S SP0=$SP
runsite sweepfail-dry true "retain = 8h"
held
traced_drain "$T/sweepdry.strace" -e trace=openat
n=$(awk '/openat\(/ { k++ } /openat\(.*-spool\/new", O_RDONLY/ && /O_DIRECTORY/ { if (++m == 2) { print k; exit } }' \
	"$T/sweepdry.strace")
S=$S0 SP=$SP0
traced_drain "$T/sweepfail.strace" -e trace=openat -e inject="openat:error=EMFILE:when=${n:-0}"
check_true "sweep cannot list new/: the fault was injected at its opendir" \
	grep -q 'spool/new", O_RDONLY.*EMFILE (Too many open files) (INJECTED)' "$T/sweepfail.strace"
check "sweep cannot list new/: the old claim is kept, the waiting job ran once" "1 $ID" \
	"$(count "$SP" seen) $(cat "$S/runs" 2>/dev/null)"
check "sweep cannot list new/: nothing was set aside unrun" "0 0" \
	"$(grep -c 'moved to failed/ unrun' "$S/larkhook.log") $(count "$SP" failed)"

# --- a spool copied without its hard links --------------------------------------------
# Each waiting job and its claim become two files: the runner cannot tell
# them from a dead writer's and sets the jobs aside in failed/ (noclaim),
# destroying nothing; `retry all` then runs them (doc/4-spool.md §4.6).
runsite copied 'echo "$LARK_ID" >>runs'
held
cp -r "$SP" "$S/copy"
chown -R "$OWNER" "$S/copy"
rm -rf "$SP"
mv "$S/copy" "$SP"
drain
check "spool copied without hard links: the waiting job set aside as noclaim, not run, not lost" "1 0 0" \
	"$(find "$SP/failed" -name "*.$CH.0:*,noclaim" | wc -l) $(count "$SP" new) $(cat "$S/runs" 2>/dev/null | wc -l)"
"${RUNAS[@]}" "$BIN" -c "$S/larkhook.conf" retry all >/dev/null 2>&1
drain
check "spool copied without hard links: retry all runs it, once" "$ID 0" \
	"$(cat "$S/runs" 2>/dev/null) $(count "$SP" failed)"
