#!/bin/bash
# bench/run.sh: make bench (doc/8-performance.md). Measures larkhook on 127.0.0.1
# next to floors built here (an empty C CGI, an empty libfcgi responder, one
# that fsyncs one write per request) and the official Node SDK's server, and
# prints every figure as a ratio to its floor. Never fails on a number: a
# benchmark reports, tests assert. Writes bench/results.md.
#
# Knobs (environment): BENCH_TIME seconds per load run (10), BENCH_THREADS
# and BENCH_CONNS for wrk (2, 16), BENCH_EVENTS distinct events per load run
# (25000 per second of BENCH_TIME, at least 20000), BENCH_ROUNDS paired
# rounds of the FastCGI floor and larkhook (5), BENCH_SEQ requests for
# the CGI wall time (300), BENCH_LAT requests for the hook latency (20);
# the long connection's (bench/lc.sh): BENCH_LC_EVENTS, BENCH_LC_WINDOW,
# BENCH_LC_LAT, BENCH_LC_ROUNDS.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$ROOT/build/bench
VEC=$ROOT/tests/data/lark-vectors.json
TIME=${BENCH_TIME:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-16}
NEV=${BENCH_EVENTS:-$((TIME * 25000 > 20000 ? TIME * 25000 : 20000))}
SEQ=${BENCH_SEQ:-300}
ROUNDS=${BENCH_ROUNDS:-5}
LAT=${BENCH_LAT:-20}
PIDS=()

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.0f %%", 100 * a / b }'; }

for c in cc pkg-config lighttpd wrk valgrind callgrind_annotate node npm curl jq python3 flock setpriv; do
	command -v "$c" >/dev/null || die "$c is missing (make deps; wrk: apt-get install wrk)"
done
pkg-config --exists fcgi || die "libfcgi-dev is missing (make deps)"
[ -x "$ROOT/larkhook" ] || die "./larkhook is missing (make)"

# Servers drop to www-data when run as root: larkhook refuses root.
# shellcheck source-path=SCRIPTDIR source=../tests/runas.sh
. "$ROOT/tests/runas.sh"

KEY=$(jq -r .encrypt_key "$VEC")
TOKEN=$(jq -r .verification_token "$VEC")

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- build ------------------------------------------------------------------
# The Makefile's flag style: -O2 -g, libfcgi through pkg-config.
mkdir -p "$B/node"
CFLAGS=${CFLAGS:--O2 -g}
# shellcheck disable=SC2046,SC2086 # flag lists
{
	cc $CFLAGS -Wall -Wextra -o "$B/floor-cgi" "$ROOT/bench/floor-cgi.c" &&
	cc $CFLAGS -Wall -Wextra $(pkg-config --cflags fcgi) -o "$B/floor-fcgi" \
		"$ROOT/bench/floor-fcgi.c" $(pkg-config --libs fcgi)
} || die "cannot build the floors"
if ! cmp -s "$ROOT/bench/package.json" "$B/node/package.json" ||
	[ ! -d "$B/node/node_modules/@larksuiteoapi/node-sdk" ]; then
	say "bench: npm install @larksuiteoapi/node-sdk into $B/node"
	cp "$ROOT/bench/package.json" "$B/node/package.json"
	(cd "$B/node" && npm install --no-audit --no-fund --loglevel=error >&2) ||
		die "npm install failed"
fi
SDKV=$(jq -r .version "$B/node/node_modules/@larksuiteoapi/node-sdk/package.json")

# --- places -----------------------------------------------------------------
# W: configs, logs, binaries (world-traversable: the servers run as
# www-data); SHM: spools on tmpfs; DISK: spools on the root filesystem.
W=$(mktemp -d /tmp/larkhook-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/larkhook-bench.XXXXXX)
DISK=$(mktemp -d /var/tmp/larkhook-bench.XXXXXX)
chmod 755 "$W" "$SHM" "$DISK"
chown "$OWNER" "$SHM" "$DISK"
mkdir -p "$W/bin"
cp "$ROOT/larkhook" "$B/floor-cgi" "$B/floor-fcgi" "$W/bin/"
chmod 755 "$W/bin" "$W"/bin/*
BIN=$W/bin/larkhook

# Stop what this script started, by PID: servers and lock holders, then
# any FastCGI child left in our session running one of our binaries.
MYSID=$(ps -o sid= -p $$ | tr -d ' ')
sid_of() { ps -o sid= -p "$1" 2>/dev/null | tr -d ' '; }
stop() {
	local p
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null
	for p in $(ours); do [ "$(sid_of "$p")" = "$MYSID" ] && kill -TERM "$p" 2>/dev/null; done
	return 0
}
# PIDs of processes whose executable is one of ours.
ours() {
	local d
	for d in /proc/[0-9]*; do
		case $(readlink "$d/exe" 2>/dev/null) in "$W"/bin/*) echo "${d#/proc/}" ;; esac
	done
}
# kill_runners: every process in a runner's session (a runner calls setsid;
# the hooks it starts stay in that session): the sessions of our binaries
# and of whoever holds a spool's runner.lock, other than our own, by PID.
kill_runners() {
	local d sids="" s p
	for p in $(ours); do sids="$sids $(sid_of "$p")"; done
	for d in /proc/[0-9]*; do
		find "$d/fd" -maxdepth 1 -lname "$SHM/*" -o -maxdepth 1 -lname "$DISK/*" 2>/dev/null |
			grep -q . || continue
		sids="$sids $(sid_of "${d#/proc/}")"
	done
	for s in $(printf '%s\n' "$sids" | tr ' ' '\n' | sort -u); do
		if [ "$s" -le 1 ] || [ "$s" = "$MYSID" ]; then continue; fi
		for p in $(ps -e -o pid=,sid= | awk -v s="$s" '$2 == s { print $1 }'); do
			kill -KILL "$p" 2>/dev/null
		done
	done
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop "$p"; done
	kill_runners
	rm -rf "$W" "$SHM" "$DISK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
	local limit=$1; shift
	for _ in $(seq $((limit * 20))); do "$@" && return 0; sleep 0.05; done
	return 1
}
free_port() {
	local p
	while :; do
		p=$(( (RANDOM % 20000) + 20000 ))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# --- events -----------------------------------------------------------------
# Distinct compensation events, each encrypted and signed as Feishu does
# (doc/7-feishu.md §7.2, §7.3), by node's crypto, not larkhook's code. One line each:
# timestamp, nonce, signature, body. events.tsv feeds the load runs,
# extra.tsv the single requests (never in a load run: no duplicate).
gen() {
	node - "$KEY" "$1" "$2" "$3" <<'EOF'
const crypto = require('crypto'), fs = require('fs');
const [key, n, out, tag] = process.argv.slice(2);
const aes = crypto.createHash('sha256').update(key).digest();
const ts = String(Math.floor(Date.now() / 1000));
const run = crypto.randomBytes(4).toString('hex');
const lines = [];
for (let i = 0; i < Number(n); i++) {
	const id = (tag + run + i.toString(16).padStart(8, '0')).padEnd(32, '0');
	const plain = JSON.stringify({ schema: '2.0', header: {
		event_id: id, event_type: 'compensation.archive.changed_v1',
		create_time: String(Date.now()), token: process.env.TOKEN,
		app_id: 'cli_a1b2c3d4e5f60001', tenant_key: '2ca1d211f64f6438' },
		event: { operate_type: 'modify', employment_id: '7140964208476371111',
			effective_date: '2024-01-01', before_tid: '7303487035893753387',
			after_tid: '7303487035893753388' } });
	const iv = crypto.randomBytes(16);
	const c = crypto.createCipheriv('aes-256-cbc', aes, iv);
	const enc = Buffer.concat([iv, c.update(plain), c.final()]).toString('base64');
	const body = JSON.stringify({ encrypt: enc });
	const nonce = crypto.randomBytes(4).toString('hex');
	const sig = crypto.createHash('sha256').update(ts + nonce + key + body).digest('hex');
	lines.push([ts, nonce, sig, body].join('\t'));
}
fs.writeFileSync(out, lines.join('\n') + '\n');
EOF
}
say "bench: sealing $NEV distinct events (+ $((SEQ + LAT * 2 + 50)) for single requests)"
TOKEN=$TOKEN gen "$NEV" "$W/events.tsv" b || die "cannot generate events"
TOKEN=$TOKEN gen $((SEQ + LAT * 2 + 50)) "$W/extra.tsv" e || die "cannot generate events"
chmod 644 "$W/events.tsv" "$W/extra.tsv"
# line N of extra.tsv: NEXT counts the ones used.
NEXT=0
# post URL: one extra event; prints the status code.
post() {
	local l ts nonce sig
	NEXT=$((NEXT + 1))
	l=$(sed -n "${NEXT}p" "$W/extra.tsv")
	IFS=$'\t' read -r ts nonce sig _ <<<"$l"
	printf '%s' "${l#*$'\t'*$'\t'*$'\t'}" >"$W/one.body"
	curl -s -m 10 -o "$W/one.resp" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "X-Lark-Request-Timestamp: $ts" -H "X-Lark-Request-Nonce: $nonce" \
		-H "X-Lark-Signature: ${2:-$sig}" --data-binary @"$W/one.body" "$1"
}

# --- sites, spools, servers -------------------------------------------------
# site NAME SPOOLROOT [HOOK]: a config in $W/NAME with its spool under
# SPOOLROOT, the compensation hook running HOOK (default true); the spool is
# made as the server's user by `larkhook drain`. Sets CONF, SPOOL, LOG.
site() {
	local d=$W/$1
	SPOOL=$2/$1 LOG=$d/larkhook.log CONF=$d/larkhook.conf
	mkdir -p "$d"
	{
		echo "verification_token = $TOKEN"
		echo "encrypt_key = $KEY"
		echo "log = $LOG"
		echo "spool = $SPOOL"
		echo "[on compensation.archive.changed_v1]"
		echo "run = ${3:-true}"
	} >"$CONF"
	chmod 600 "$CONF"
	chown -R "$OWNER" "$d"
	"${RUNAS[@]}" "$BIN" -c "$CONF" drain >/dev/null 2>&1
	[ -f "$SPOOL/runner.lock" ] || die "larkhook did not create $SPOOL"
}
held() { ! flock -n "$1/runner.lock" true; }
# hold SPOOL: keep the runner off by holding its lock (larkhook then takes
# a runner to be alive and starts none); release with stop $HOLDER.
hold() {
	bash -c 'exec 9<>"$1" && flock 9 && exec sleep 100000' _ "$1/runner.lock" &
	HOLDER=$!
	PIDS+=("$HOLDER")
	wait_for 10 held "$1" || die "cannot hold $1/runner.lock"
}

# lighty NAME MODE PROGRAM CONF: lighttpd on 127.0.0.1 from the shipped
# lighttpd/larkhook-MODE.conf (cgi or fastcgi), templated for paths only:
# PROGRAM takes the place of the installed binary (for FastCGI, of the whole
# bin-path: a floor gets no -c), CONF of /etc/larkhook.conf. So floors and
# larkhook run under identical settings (max-procs, request size, ...).
# Sets PORT and SERVER.
lighty() {
	local name=$1 mode=$2 prog=$3 conf=$4 run=$W/$1-run snip
	PORT=$(free_port)
	mkdir -p "$run/www"
	chown "$OWNER" "$run"
	snip=$run/larkhook-$mode.conf
	sed -e "s|\"/usr/local/sbin/larkhook -c /etc/larkhook\.conf\"|\"$prog\"|" \
		-e "s|/usr/local/sbin/larkhook|$prog|g" -e "s|/etc/larkhook\.conf|$conf|g" \
		-e "s|/run/lighttpd/larkhook\.sock|$run/larkhook.sock|g" \
		"$ROOT/lighttpd/larkhook-$mode.conf" >"$snip"
	grep -qF "\"$prog\"" "$snip" || die "$name: lighttpd/larkhook-$mode.conf lost its installed paths"
	{
		echo "server.document-root = \"$run/www\""
		echo "server.bind = \"127.0.0.1\""
		echo "server.port = $PORT"
		echo "server.errorlog = \"$run/error.log\""
		if [ "$(id -u)" -eq 0 ]; then
			echo 'server.username = "www-data"'
			echo 'server.groupname = "www-data"'
		fi
		echo "include \"$snip\""
	} >"$run/lighttpd.conf"
	lighttpd -tt -f "$run/lighttpd.conf" >"$run/check.log" 2>&1 ||
		die "$name: lighttpd rejects its config: $(cat "$run/check.log")"
	lighttpd -D -f "$run/lighttpd.conf" </dev/null >"$run/stdout.log" 2>&1 &
	SERVER=$!
	PIDS+=("$SERVER")
	wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$PORT/" ||
		die "$name: lighttpd does not start: $(cat "$run/stdout.log" "$run/error.log" 2>/dev/null)"
}

# --- load -------------------------------------------------------------------
declare -A RPS P50 P99 BAD REP STORED ANSW REQS
# load NAME URL [WRK OPTIONS]: wrk with post.lua for TIME seconds; the
# figures go into the arrays above under NAME.
load() {
	local name=$1 url=$2 line k v; shift 2
	say "bench: $name: wrk -t$THREADS -c$CONNS -d${TIME}s $*"
	BENCH_EVENTS=$W/events.tsv BENCH_THREADS=$THREADS \
		wrk -t"$THREADS" -c"$CONNS" -d"${TIME}s" --timeout 15s "$@" \
		-s "$ROOT/bench/post.lua" "$url" >"$W/$name.wrk" 2>&1
	line=$(grep '^BENCH ' "$W/$name.wrk") || die "$name: wrk failed: $(cat "$W/$name.wrk")"
	for kv in ${line#BENCH }; do
		k=${kv%%=*} v=${kv#*=}
		case $k in
		rps) RPS[$name]=$v ;; p50_us) P50[$name]=$v ;; p99_us) P99[$name]=$v ;;
		repeats) REP[$name]=$v ;; requests) REQS[$name]=$v ;;
		bad_status) BAD[$name]=$v ;;
		socket_errors | timeouts) BAD[$name]=$(( ${BAD[$name]:-0} + v )) ;;
		esac
	done
}
# tally NAME: from larkhook's log, how many answers were "event stored".
tally() {
	STORED[$1]=$(( $(grep -c 'status=200 reason="event stored"' "$LOG") - ${2:-0} ))
	ANSW[$1]=$(( $(grep -c ' status=' "$LOG") - ${2:-0} ))
}

# cgi_floor, lark_cgi, ...: one server, one check request, one load run.
floor_run() {	# floor_run NAME MODE PROGRAM
	lighty "$1" "$2" "$3" /dev/null
	local code; code=$(post "http://127.0.0.1:$PORT/larkhook")
	[ "$code" = 200 ] || die "$1 answers $code"
	load "$1" "http://127.0.0.1:$PORT/larkhook"
	stop "$SERVER"
}
lark_run() {	# lark_run NAME MODE SPOOLROOT: runner held off
	local code
	site "$1" "$3"
	hold "$SPOOL"
	if [ "$2" = fastcgi ]; then lighty "$1" fastcgi "$BIN -c $CONF" "$CONF"
	else lighty "$1" cgi "$BIN" "$CONF"; fi
	code=$(post "http://127.0.0.1:$PORT/larkhook")
	{ [ "$code" = 200 ] && grep -q 'reason="event stored"' "$LOG"; } ||
		die "$1: the check event got $code: $(tail -3 "$LOG")"
	load "$1" "http://127.0.0.1:$PORT/larkhook"
	stop "$SERVER"
	tally "$1" 1	# not the check request
	stop "$HOLDER"
	rm -rf "$SPOOL"
}

say "bench: intake under load ($TIME s per target)"
floor_run floor-cgi cgi "$W/bin/floor-cgi"
lark_run lark-cgi cgi "$SHM"
# The targeted FastCGI figure in paired rounds: the floor, then larkhook,
# ROUNDS times. On a shared VM the floor alone moved by a fifth between runs
# minutes apart; a pair run back to back shares the machine's state, so its
# ratio drifts far less. The round with the median ratio stands for the
# target; every round is listed under the table.
FCGI_ROUNDS=""
ratios=""
for r in $(seq "$ROUNDS"); do
	floor_run "floor-fcgi-$r" fastcgi "$W/bin/floor-fcgi"
	lark_run "lark-fcgi-$r" fastcgi "$SHM"
	ratios+="$(ratio "${RPS[lark-fcgi-$r]}" "${RPS[floor-fcgi-$r]}") $r"$'\n'
done
MEDIAN=$(sort -n <<<"${ratios%$'\n'}" | awk '{ r[NR] = $2 } END { print r[int((NR + 1) / 2)] }')
for k in floor-fcgi lark-fcgi; do
	f=$k-$MEDIAN
	RPS[$k]=${RPS[$f]} P50[$k]=${P50[$f]} P99[$k]=${P99[$f]} BAD[$k]=${BAD[$f]}
	REP[$k]=${REP[$f]} REQS[$k]=${REQS[$f]} STORED[$k]=${STORED[$f]:-} ANSW[$k]=${ANSW[$f]:-}
done
for r in $(seq "$ROUNDS"); do
	# a repeat in any round voids the target
	[ "${REP[lark-fcgi-$r]:-0}" -gt "${REP[lark-fcgi]:-0}" ] && REP[lark-fcgi]=${REP[lark-fcgi-$r]}
	FCGI_ROUNDS+="${FCGI_ROUNDS:+; }round $r: ${RPS[floor-fcgi-$r]} and ${RPS[lark-fcgi-$r]} req/s, $(pct "${RPS[lark-fcgi-$r]}" "${RPS[floor-fcgi-$r]}")"
done
mkdir -p "$DISK/fsync"
chown "$OWNER" "$DISK/fsync"
floor_run floor-fsync fastcgi "$W/bin/floor-fcgi $DISK/fsync"
rm -rf "$DISK/fsync"
lark_run lark-fcgi-disk fastcgi "$DISK"

# --- the peer ---------------------------------------------------------------
say "bench: the Node SDK $SDKV as the peer"
PORT=$(free_port)
NODE_PATH=$B/node/node_modules PEER_PORT=$PORT LARK_ENCRYPT_KEY=$KEY \
	LARK_VERIFICATION_TOKEN=$TOKEN node "$ROOT/bench/peer.js" >"$W/peer.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
PEER=http://127.0.0.1:$PORT
wait_for 20 curl -s -m 1 -o /dev/null "$PEER/stats" || die "the peer does not start: $(cat "$W/peer.log")"
# Honest comparison: a valid event must reach the handler, a forged one not.
PEER_OK=$(post "$PEER/larkhook"):$(cat "$W/one.resp"):$(curl -s "$PEER/stats")
PEER_BAD=$(post "$PEER/larkhook" 0000000000000000000000000000000000000000000000000000000000000000):$(cat "$W/one.resp"):$(curl -s "$PEER/stats")
{ [ "${PEER_OK%%:*}" = 200 ] && [ "${PEER_OK##*:}" = 1 ]; } ||
	die "the peer does not accept a valid event: $PEER_OK $(cat "$W/peer.log")"
load peer "$PEER/larkhook"
PEER_HANDLED=$(( $(curl -s "$PEER/stats") - 1 ))
stop "$SERVER"

# --- the long connection ------------------------------------------------------
# bench/lc.sh: larkhook connect and the Node SDK's WSClient on the emulator's
# stream; it writes its row of the targets table and its section.
say "bench: the long connection (bench/lc.sh)"
BENCH_LC_BIN=$ROOT/larkhook bash "$ROOT/bench/lc.sh" "$W/lc" ||
	say "bench: WARNING: the long-connection bench failed"

# --- CGI: instructions and wall time ----------------------------------------
say "bench: callgrind, one CGI request each"
site cg "$SHM"
hold "$SPOOL"
CG_CONF=$CONF
# the work: what main.c calls for the request (handle() and accept_event()
# are inlined into serve()); the rest of the process is start-up and exit.
WORKFNS="tr_accept tr_read_body lark_decide cfg_route lark_each_count spool_store runner_kick"
WORKFNS+=" hook_reply hook_home log_request tr_respond tr_finish lark_event_free"
# cgrind NAME PROGRAM BODY [VAR=VALUE...]: one CGI request under callgrind
# as the server's user; prints "total main work cfg_load lark_decide
# spool_store crypto_random evp_fetch status". The profile is the request process's own (its pid
# is written before valgrind execs; no runner forks: the lock is held).
cgrind() {
	local name=$1 prog=$2 body=$3 f; shift 3
	mkdir -p "$W/cg"
	chown "$OWNER" "$W/cg"
	# shellcheck disable=SC2016,SC2094 # sh expands these; body is only read
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		CONTENT_LENGTH="$(stat -c %s "$body")" LARKHOOK_CONFIG="$CG_CONF" "$@" \
		"${RUNAS[@]}" sh -c 'echo $$ >"$0/$1.pid"; exec valgrind -q --tool=callgrind \
			--callgrind-out-file="$0/$1.%p" "$2"' "$W/cg" "$name" "$prog" \
		<"$body" >"$W/cg/$name.resp" 2>"$W/cg/$name.err"
	f=$W/cg/$name.$(cat "$W/cg/$name.pid")
	[ -s "$f" ] || die "callgrind $name: no profile: $(cat "$W/cg/$name.err")"
	# from /: file names stay absolute (it shortens those under the cwd)
	(cd / && callgrind_annotate --inclusive=yes --tree=calling --threshold=100 --auto=no "$f") \
		>"$f.txt" 2>/dev/null
	awk -v work=" $WORKFNS " -v st="$(sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$W/cg/$name.resp")" '
		function num(s) { gsub(/,/, "", s); return s + 0 }
		function fname(s) { sub(/ .*/, "", s); sub(/.*:/, "", s); sub(/\..*/, "", s); return s }
		/PROGRAM TOTALS/ { total = num($1) }
		/\)  \*  / {
			s = $0; sub(/.*\)  \*  /, "", s)
			inmain = (s ~ /(^|\/)(src\/main|src\/intake|floor-cgi)\.c:/)
			if (inmain && fname(s) == "main") main = num($1)
			if (s ~ /(^|\/)src\/crypto\.c:crypto_random /) rnd = num($1)
			if (s ~ /:EVP_(MD|CIPHER)_fetch /) fetch += num($1)
			next
		}
		/^$/ { inmain = 0 }
		inmain && /\)  >   / {
			s = $0; sub(/.*\)  >   /, "", s)
			if (s ~ /(^|\/)src\/(main|intake)\.c:/) next
			f = fname(s); c[f] += num($1)
			if (index(work, " " f " ")) w += num($1)
		}
		END { printf "%d %d %d %d %d %d %d %d %s\n", total, main, w, c["cfg_load"], c["lark_decide"], c["spool_store"], rnd, fetch, st }
	' "$f.txt"
}
L1=$(sed -n "$((NEXT + 1))p" "$W/extra.tsv")
NEXT=$((NEXT + 1))
IFS=$'\t' read -r CTS CNONCE CSIG _ <<<"$L1"
printf '%s' "${L1#*$'\t'*$'\t'*$'\t'}" >"$W/cg.body"
jq -j '.vectors[] | select(.name == "challenge") | .raw_body' "$VEC" >"$W/challenge.body"
SIGNED=(HTTP_X_LARK_REQUEST_TIMESTAMP="$CTS" HTTP_X_LARK_REQUEST_NONCE="$CNONCE")
declare -A CG
CG[floor]=$(cgrind floor "$W/bin/floor-cgi" "$W/cg.body")
CG[event]=$(cgrind event "$BIN" "$W/cg.body" "${SIGNED[@]}" HTTP_X_LARK_SIGNATURE="$CSIG")
CG[challenge]=$(cgrind challenge "$BIN" "$W/challenge.body")
CG[rejected]=$(cgrind rejected "$BIN" "$W/cg.body" "${SIGNED[@]}" \
	HTTP_X_LARK_SIGNATURE="$(printf %s "$CSIG" | tr 0-9a-f 1-9a-f0)")
for k in event challenge rejected; do
	# shellcheck disable=SC2086 # fields
	set -- ${CG[$k]}
	case $k in event) want=200 ;; challenge) want=200 ;; rejected) want=401 ;; esac
	[ "${9:-}" = "$want" ] || say "bench: WARNING: callgrind $k answered ${9:-nothing}, expected $want"
done

# Wall time of one CGI request, started directly (fork, exec, answer, exit)
# from one process as the server's user: SEQ requests to each, the floor
# and larkhook alternating so both see the same machine load; the median.
say "bench: CGI wall time, $SEQ sequential requests each"
WALL=$(python3 - "$W/bin/floor-cgi" "$BIN" "$W/extra.tsv" "$NEXT" "$SEQ" "$CG_CONF" "$OWNER" <<'EOF'
import os, pwd, resource, subprocess, sys, tempfile, time
floor, lark, events, first, n, conf, owner = sys.argv[1:8]
first, n = int(first), int(n)
lines = open(events).read().split('\n')[first:first + n]
pw = pwd.getpwnam(owner)
root = os.getuid() == 0
kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[]) if root else {}
times = {floor: [], lark: []}
cpu = {floor: 0.0, lark: 0.0}
ru = lambda: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN))
for l in lines:
    ts, nonce, sig, body = l.split('\t', 3)
    f = tempfile.TemporaryFile()
    f.write(body.encode()); f.flush()
    env = {'PATH': '/usr/bin:/bin', 'GATEWAY_INTERFACE': 'CGI/1.1', 'REQUEST_METHOD': 'POST',
           'CONTENT_LENGTH': str(len(body)), 'LARKHOOK_CONFIG': conf,
           'HTTP_X_LARK_REQUEST_TIMESTAMP': ts, 'HTTP_X_LARK_REQUEST_NONCE': nonce,
           'HTTP_X_LARK_SIGNATURE': sig}
    for prog in (floor, lark):
        f.seek(0)
        c0, t0 = ru(), time.perf_counter()
        r = subprocess.run([prog], stdin=f, stdout=subprocess.PIPE, env=env, **kw)
        times[prog].append(time.perf_counter() - t0)
        cpu[prog] += ru() - c0
        if not r.stdout.startswith(b'Status: 200'):
            sys.exit('%s: not 200: %s' % (prog, r.stdout[:40].decode(errors='replace')))
med = lambda v: sorted(v)[len(v) // 2]
print(int(med(times[floor]) * 1e6), int(med(times[lark]) * 1e6),
      int(cpu[floor] / n * 1e6), int(cpu[lark] / n * 1e6))
EOF
) || die "CGI wall time: $WALL"
read -r WALL_FLOOR WALL_LARK CPU_FLOOR CPU_LARK <<<"$WALL"
NEXT=$((NEXT + SEQ))
stop "$HOLDER"
rm -rf "$SPOOL"

# --- larkhook token from a warm cache: instructions ---------------------------
# doc/9-openapi.md §9.2: a cached token takes no lock, no request and no
# libcurl. The cache is written here (a token valid for two hours), so no
# OpenAPI is needed; the floor is the empty C program of the CGI floor,
# run with nothing on its input.
say "bench: callgrind, larkhook token from a warm cache"
TK=$W/token
mkdir -p "$TK/spool/state"
printf 'verification_token = %s\napp_id = cli_bench\napp_secret = bench-secret\nspool = %s/spool\n' \
	"$TOKEN" "$TK" >"$TK/larkhook.conf"
now=$(date +%s)
# the key: SHA-256 of app_id, api_base and the tenant (none), 16 hex digits
key=$(printf 'cli_bench\nhttps://open.feishu.cn\n' | sha256sum | cut -c1-16)
printf 'larkhook-token 2 %s %s %s %s\nt-bench-%s\n' "$key" "$now" "$((now + 7200))" "$((now + 6900))" \
	"$(openssl rand -hex 16)" >"$TK/spool/state/tenant_token"
chmod 700 "$TK/spool" "$TK/spool/state"
chmod 600 "$TK/larkhook.conf" "$TK/spool/state/tenant_token"
chown -R "$OWNER" "$TK" "$W/cg"
# insgrind NAME PROGRAM [ARGS...]: total instructions of one run under
# callgrind, as the server's user, standard input empty
insgrind() {
	local name=$1; shift
	"${RUNAS[@]}" valgrind -q --tool=callgrind --callgrind-out-file="$W/cg/$name.out" "$@" \
		</dev/null >"$W/cg/$name.resp" 2>"$W/cg/$name.err" || die "callgrind $name: $(cat "$W/cg/$name.err")"
	callgrind_annotate "$W/cg/$name.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1 }'
}
TOKF_T=$(insgrind token-floor "$W/bin/floor-cgi")
TOKL_T=$(insgrind token "$BIN" -c "$TK/larkhook.conf" token)
[ "$(cat "$W/cg/token.resp")" = "$(tail -n 1 "$TK/spool/state/tenant_token")" ] ||
	say "bench: WARNING: token did not print the cached token: $(cat "$W/cg/token.err")"

# --- hooks ------------------------------------------------------------------
# Independence: the same FastCGI load with a hook that sleeps 10 s and with
# one that exits at once; the runner is NOT held off.
say "bench: answer time under load, slow hook against quick hook"
for h in quick slow; do
	if [ "$h" = slow ]; then site "hook-$h" "$SHM" 'sleep 10'; else site "hook-$h" "$SHM" true; fi
	lighty "hook-$h" fastcgi "$BIN -c $CONF" "$CONF"
	load "hook-$h" "http://127.0.0.1:$PORT/larkhook"
	stop "$SERVER"
	tally "hook-$h"
	kill_runners
	rm -rf "$SPOOL"
done

# Latency from the 200 to the hook's start, empty queue, one request at a
# time: the hook notes date +%s%N, the client the arrival of the 200.
say "bench: hook start latency, $LAT single requests per mode"
hooklat() {	# hooklat URL SITEDIR SPOOL FIRSTLINE: prints "median_us max_us"
	python3 - "$1" "$2" "$3/runner.lock" "$W/extra.tsv" "$4" "$LAT" <<'EOF'
import http.client, os, sys, time, urllib.parse
url, sdir, lock, events, first, n = sys.argv[1:7]
first, n = int(first), int(n)
u = urllib.parse.urlparse(url)
lines = open(events).read().split('\n')[first:first + n]
def runner_alive():
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            for fd in os.listdir('/proc/%s/fd' % p):
                if os.readlink('/proc/%s/fd/%s' % (p, fd)) == lock:
                    return True
        except OSError:
            pass
    return False
lat = []
for l in lines:
    ts, nonce, sig, body = l.split('\t', 3)
    known = set(os.listdir(sdir))
    deadline = time.time() + 10
    while runner_alive() and time.time() < deadline:   # an empty queue, no runner
        time.sleep(0.01)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request('POST', u.path, body, {'Content-Type': 'application/json',
              'X-Lark-Request-Timestamp': ts, 'X-Lark-Request-Nonce': nonce,
              'X-Lark-Signature': sig})
    r = c.getresponse()
    t200 = time.time_ns()
    r.read(); c.close()
    if r.status != 200:
        sys.exit('answer %d' % r.status)
    mark = None
    deadline = time.time() + 10
    while mark is None and time.time() < deadline:
        new = [f for f in os.listdir(sdir) if f.endswith('.start') and f not in known]
        if new:
            mark = new[0]
        else:
            time.sleep(0.002)
    if mark is None:
        sys.exit('the hook did not start within 10 s')
    text = ''
    while not text.endswith('\n') and time.time() < deadline:   # date may still be writing
        text = open(os.path.join(sdir, mark)).read()
    started = int(text.strip())
    lat.append((started - t200) / 1000)
lat.sort()
print(int(lat[len(lat) // 2]), int(lat[-1]), int(lat[0]))
EOF
}
declare -A HL
for m in fastcgi cgi; do
	# shellcheck disable=SC2016 # the hook's /bin/sh expands it
	site "lat-$m" "$SHM" 'date +%s%N >"$LARK_ID.start"'
	if [ "$m" = fastcgi ]; then lighty "lat-$m" fastcgi "$BIN -c $CONF" "$CONF"
	else lighty "lat-$m" cgi "$BIN" "$CONF"; fi
	HL[$m]=$(hooklat "http://127.0.0.1:$PORT/larkhook" "$W/lat-$m" "$SPOOL" "$NEXT") ||
		say "bench: WARNING: hook latency ($m) not measured"
	NEXT=$((NEXT + LAT))
	stop "$SERVER"
	kill_runners
	rm -rf "$SPOOL"
done

# --- report -----------------------------------------------------------------
say "bench: writing the report"
body_of() { local b; b=$(cut -d: -f2 <<<"$1"); if [ -n "$b" ]; then echo "body \`$b\`"; else echo "empty body"; fi; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
# met A B OP [NAME]: A OP B; a load run (NAME) that repeated events proves
# nothing, since a duplicate costs larkhook less than a new event
met() {
	if [ -n "${4:-}" ] && [ "${REP[$4]:-0}" -gt 0 ]; then
		echo "**void**: ${REP[$4]} requests repeated an event (raise BENCH_EVENTS)"
	elif awk -v a="$1" -v b="$2" "BEGIN { exit !(a + 0 $3 b + 0) }"; then echo "**met**"
	else echo "**not met**"; fi
}

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src Makefile 2>/dev/null || COMMIT="$COMMIT (+ uncommitted changes in src/ or Makefile)"
CGF_T=${CG[floor]%% *}
CGE_T=${CG[event]%% *}

row() {	# row NAME LABEL FLOOR: one line of the load table
	local n=$1 extra="" rep=${REP[$1]}
	[ -n "${STORED[$n]:-}" ] && extra="${STORED[$n]} of ${ANSW[$n]}"
	# a floor never looks at the body: a repeat costs it the same
	case $n in floor-*) rep="n/a" ;; esac
	[ "$n" = peer ] && extra="$PEER_HANDLED reached the handler"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "${RPS[$n]}" "$(ms "${P50[$n]}")" \
		"$(ms "${P99[$n]}")" "${BAD[$n]}" "$rep" "${3:-}" "$extra"
}
cgrow() {	# cgrow CASE LABEL
	local total main work cfg dec sp rnd fetch st
	read -r total main work cfg dec sp rnd fetch st <<<"${CG[$1]}"
	if [ "$1" = floor ]; then
		printf '| %s | %s | %s | %s | %s | %s | | | | | | 1.00 |\n' "$2" "$st" "$total" \
			"$((total - main))" "$((total - main))" "$main"
	else
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$st" "$total" \
			"$((total - work))" "$((total - main))" "$work" "$cfg" "$dec" "$sp" "$rnd" "$fetch" \
			"$(ratio "$total" "$CGF_T")"
	fi
}
{
	echo "# make bench: results"
	echo
	echo "Written by \`make bench\` (tools/bench.sh, bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo "Every figure of doc/8-performance.md is a ratio to a floor or peer measured in this same run."
	echo
	echo "## Machine"
	echo
	echo "- CPU: $CPU, $(nproc) cores online; memory $MEM"
	echo "- kernel $(uname -sr); $(lighttpd -v 2>&1 | head -1 | sed 's/ - .*//')"
	echo "- $(wrk -v 2>&1 | head -1 | sed 's/ Copyright.*//'); valgrind $(valgrind --version | sed 's/valgrind-//'); node $(node --version); @larksuiteoapi/node-sdk $SDKV"
	echo "- $(openssl version | cut -d' ' -f1-2); larkhook commit $COMMIT"
	echo "- load: wrk -t$THREADS -c$CONNS -d${TIME}s on 127.0.0.1 (client, server and hooks share the cores); $NEV distinct signed, encrypted compensation events, each thread its own slice"
	echo "- load average (1, 5, 15 min) before the run: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews absolute figures; ratios of back-to-back runs less so)"
	echo "- spools: tmpfs ($(df -T "$SHM" | awk 'NR == 2 { print $2 }') under /dev/shm) and disk ($(df -T "$DISK" | awk 'NR == 2 { print $2 }') under /var/tmp); runner held off by holding spool/runner.lock except in the hook runs"
	echo
	echo "## Targets (doc/8-performance.md §8.6)"
	echo
	echo "| target | measured | met? |"
	echo "|---|---|---|"
	echo "| FastCGI intake (tmpfs) >= 80 % of the empty libfcgi responder's req/s | $(pct "${RPS[lark-fcgi]}" "${RPS[floor-fcgi]}") (${RPS[lark-fcgi]} vs ${RPS[floor-fcgi]} req/s) | $(met "${RPS[lark-fcgi]}" "$(awk -v f="${RPS[floor-fcgi]}" 'BEGIN { print 0.8 * f }')" '>=' lark-fcgi) |"
	echo "| CGI request <= 5x the instructions of an empty C CGI | $(ratio "$CGE_T" "$CGF_T")x ($CGE_T vs $CGF_T) | $(met "$CGE_T" "$((5 * CGF_T))" '<=') |"
	echo "| \`larkhook token\` from a warm cache <= 5x the instructions of an empty C program | $(ratio "$TOKL_T" "$TOKF_T")x ($TOKL_T vs $TOKF_T) | $(met "$TOKL_T" "$((5 * TOKF_T))" '<=') |"
	echo "| CGI request wall time <= 2x the empty C CGI's | $(ratio "$WALL_LARK" "$WALL_FLOOR")x ($(ms "$WALL_LARK") vs $(ms "$WALL_FLOOR") ms) | $(met "$WALL_LARK" "$((2 * WALL_FLOOR))" '<=') |"
	echo "| p99 answer time, hook sleeping 10 s, within 2x of a hook exiting at once | $(ratio "${P99[hook-slow]}" "${P99[hook-quick]}")x ($(ms "${P99[hook-slow]}") vs $(ms "${P99[hook-quick]}") ms) | $(met "${P99[hook-slow]}" "$((2 * ${P99[hook-quick]}))" '<=') |"
	if [ -n "${HL[fastcgi]:-}" ]; then
		# shellcheck disable=SC2086 # fields
		set -- ${HL[fastcgi]}
		echo "| from the 200 to the hook's start < 50 ms median, empty queue (FastCGI) | $(ms "$1") ms median (max $(ms "$2"), min $(ms "$3")) | $(met "$1" 50000 '<') |"
	fi
	if [ -n "${HL[cgi]:-}" ]; then
		# shellcheck disable=SC2086 # fields
		set -- ${HL[cgi]}
		echo "| same, CGI | $(ms "$1") ms median (max $(ms "$2"), min $(ms "$3")) | $(met "$1" 50000 '<') |"
	fi
	echo "| >= 1.5x the req/s of the official Node SDK's server (FastCGI, tmpfs) | $(ratio "${RPS[lark-fcgi]}" "${RPS[peer]}")x (${RPS[lark-fcgi]} vs ${RPS[peer]} req/s) | $(met "${RPS[lark-fcgi]}" "$(awk -v f="${RPS[peer]}" 'BEGIN { print 1.5 * f }')" '>=' lark-fcgi) |"
	cat "$W/lc/target.md" 2>/dev/null
	case "${HL[fastcgi]:-} ${HL[cgi]:-}" in *-*)
		echo
		echo "A negative hook latency means the hook started before the 200 reached the client: the runner is started before the answer is written (doc/1-flow.md §1.2, step 12)." ;;
	esac
	echo
	echo "## Under load (lighttpd, shipped configs; larkhook runs as \`www-data\`)"
	echo
	echo "| target | req/s | p50 ms | p99 ms | non-200 or errors | repeated events | ratio | larkhook log: \"event stored\" |"
	echo "|---|---|---|---|---|---|---|---|"
	row floor-cgi "floor: empty C CGI" ""
	row lark-cgi "larkhook CGI, spool on tmpfs" "$(ratio "${RPS[lark-cgi]}" "${RPS[floor-cgi]}") of floor CGI"
	row floor-fcgi "floor: empty libfcgi responder" ""
	row lark-fcgi "larkhook FastCGI, spool on tmpfs" "$(ratio "${RPS[lark-fcgi]}" "${RPS[floor-fcgi]}") of floor; $(ratio "${RPS[lark-fcgi]}" "${RPS[peer]}") of peer"
	row floor-fsync "floor: libfcgi, one fsync'd write per request, disk" ""
	row lark-fcgi-disk "larkhook FastCGI, spool on disk" "$(ratio "${RPS[lark-fcgi-disk]}" "${RPS[floor-fsync]}") of fsync floor; $(ratio "${RPS[lark-fcgi-disk]}" "${RPS[peer]}") of peer"
	row peer "peer: Node SDK $SDKV, adaptDefault + http" ""
	row hook-quick "larkhook FastCGI, runner live, hook exits at once" ""
	row hook-slow "larkhook FastCGI, runner live, hook sleeps 10 s" "p99 $(ratio "${P99[hook-slow]}" "${P99[hook-quick]}") of quick hook"
	echo
	echo "FastCGI on tmpfs, the floor and larkhook back to back in $ROUNDS rounds ($FCGI_ROUNDS); the table and the target show round $MEDIAN, the median ratio."
	echo
	echo "Latency ratios to the floor (p50 / p99): CGI $(ratio "${P50[lark-cgi]}" "${P50[floor-cgi]}") / $(ratio "${P99[lark-cgi]}" "${P99[floor-cgi]}");" \
		"FastCGI $(ratio "${P50[lark-fcgi]}" "${P50[floor-fcgi]}") / $(ratio "${P99[lark-fcgi]}" "${P99[floor-fcgi]}");" \
		"FastCGI on disk vs fsync floor $(ratio "${P50[lark-fcgi-disk]}" "${P50[floor-fsync]}") / $(ratio "${P99[lark-fcgi-disk]}" "${P99[floor-fsync]}");" \
		"FastCGI vs peer $(ratio "${P50[lark-fcgi]}" "${P50[peer]}") / $(ratio "${P99[lark-fcgi]}" "${P99[peer]}")."
	echo
	echo "The peer, checked before its run: a valid event got ${PEER_OK%%:*} ($(body_of "$PEER_OK"), handler called)," \
		"an event with a wrong signature got ${PEER_BAD%%:*} ($(body_of "$PEER_BAD"), handler calls still ${PEER_BAD##*:});" \
		"its handler ran $PEER_HANDLED times for ${REQS[peer]} completed requests of the load run."
	echo "So the SDK decrypts and verifies the signature (over JSON.stringify of the parsed body, not the raw bytes) but answers 200 to a forged event too;"
	echo "it checks no token on events, keeps nothing on disk, deduplicates nothing, runs its handler inside the request, and is one node process."
	echo "larkhook additionally parses strictly, checks the token, writes the event durably (fsync'd file, its link into seen/, directory fsyncs) and logs one line per request."
	echo
	if [ -s "$W/lc/section.md" ]; then
		cat "$W/lc/section.md"
		echo
	fi
	echo "## CGI instructions (callgrind, one request, as www-data, runner held off)"
	echo
	echo "Start-up is everything outside the request: the dynamic loader, libc, cfg_load (which reads the config and derives the AES key with the SHA-256 primitive: no OpenSSL provider is loaded anywhere), exit. crypto_random is no longer called on this path (records are named by pid and arrival time) and shows 0."
	echo "Work is what main.c calls for the request: $WORKFNS (handle() is inlined into serve())."
	echo
	echo "| request | status | instructions | start-up | of which outside main (loader, libc, exit) | work | cfg_load (start-up) | lark_decide (work) | spool_store (work) | crypto_random (in spool_store) | OpenSSL EVP_MD/CIPHER_fetch, all calls | ratio to floor |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	cgrow floor "floor: empty C CGI (start-up = before main)"
	cgrow event "larkhook: signed, encrypted event (stored)"
	cgrow challenge "larkhook: URL verification (unsigned challenge)"
	cgrow rejected "larkhook: event with a wrong signature"
	echo
	echo "Wall time per CGI request, median of $SEQ sequential fork+exec+wait from one process, floor and larkhook alternating, as www-data: floor $(ms "$WALL_FLOOR") ms, larkhook $(ms "$WALL_LARK") ms, ratio $(ratio "$WALL_LARK" "$WALL_FLOOR")" \
		"(this includes the launcher's own fork and exec, the same for both). CPU time (user + sys) of the CGI process itself, mean: floor $(ms "$CPU_FLOOR") ms, larkhook $(ms "$CPU_LARK") ms, ratio $(ratio "$CPU_LARK" "$CPU_FLOOR")."
} >"$W/results.md"
cp "$W/results.md" "$ROOT/bench/results.md"
cat "$W/results.md"
