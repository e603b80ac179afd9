#!/bin/bash
# bench/lc.sh: the long-connection figures of make bench (doc/8-performance.md):
# events per second through one connection, from the project's emulator
# (tests/emu/lc.js) on 127.0.0.1, `larkhook connect` (each event stored
# durably, spool on tmpfs, runner held off, then acked) next to the official
# Node SDK's WSClient with an empty handler (bench/lc-peer.js), on the same
# emulator and the same stream, in paired rounds; the ack latency as the
# emulator measures it, from writing an event's frame to its ack arriving.
# Never fails on a number.
#
#   bash bench/lc.sh [OUTDIR]
# writes OUTDIR/target.md (the row of the targets table) and
# OUTDIR/section.md (the details), or prints both without OUTDIR; bench/run.sh
# calls it. Knobs (environment): BENCH_LC_EVENTS events per stream (50000),
# BENCH_LC_WINDOW events the emulator keeps unacked at most (128),
# BENCH_LC_LAT events sent one at a time for the unloaded latency (2000),
# BENCH_LC_ROUNDS paired rounds (5: the peer alone moves by a sixth
# between rounds), BENCH_LC_BIN the larkhook binary
# (./larkhook).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-}
N=${BENCH_LC_EVENTS:-50000}
WINDOW=${BENCH_LC_WINDOW:-128}
LATN=${BENCH_LC_LAT:-2000}
ROUNDS=${BENCH_LC_ROUNDS:-5}
SRC_BIN=${BENCH_LC_BIN:-$ROOT/larkhook}
WARM=500
APP_ID=cli_a1b2c3d4e5f60001
SECRET=lc-bench-secret-$RANDOM$RANDOM
NODE_MODULES=$ROOT/tests/node/node_modules
PIDS=()

say() { printf '%s\n' "$*" >&2; }
die() { say "bench/lc: $*"; exit 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "n/a"; else printf "%.2f", u / 1000 }'; }

for c in node npm curl jq flock setpriv; do
	command -v "$c" >/dev/null || die "$c is missing (make deps)"
done
[ -x "$SRC_BIN" ] || die "$SRC_BIN is missing (make)"
if [ ! -d "$NODE_MODULES/@larksuiteoapi/node-sdk" ] || [ ! -d "$NODE_MODULES/ws" ]; then
	say "bench/lc: npm install in tests/node"
	(cd "$ROOT/tests/node" && npm install --no-audit --no-fund --loglevel=error >&2) ||
		die "npm install failed"
fi
SDKV=$(jq -r .version "$NODE_MODULES/@larksuiteoapi/node-sdk/package.json")

# shellcheck source-path=SCRIPTDIR source=../tests/runas.sh
. "$ROOT/tests/runas.sh"
NOPROXY=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)

W=$(mktemp -d /tmp/larkhook-bench-lc.XXXXXX)
SHM=$(mktemp -d /dev/shm/larkhook-bench-lc.XXXXXX)
chmod 755 "$W" "$SHM"
chown "$OWNER" "$SHM"
mkdir -p "$W/bin"
cp "$SRC_BIN" "$W/bin/larkhook"
chmod 755 "$W/bin" "$W/bin/larkhook"
BIN=$W/bin/larkhook

stop() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null
	return 0
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop "$p"; done
	rm -rf "$W" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the emulator; its port from its first line, awaited
exec {fd}< <(NODE_PATH=$NODE_MODULES exec "${NOPROXY[@]}" node "$ROOT/tests/emu/lc.js" --quiet \
	--app-id "$APP_ID" --app-secret "$SECRET" 2>"$W/emu.log")
EMU_PID=$!
PIDS+=("$EMU_PID")
IFS= read -r -t 30 line <&"$fd" || die "the emulator does not start: $(cat "$W/emu.log")"
exec {fd}<&-
EMU=http://127.0.0.1:${line#port=}
post() { curl -sS --noproxy '*' -m 600 -X POST -H 'Content-Type: application/json' --data-binary "$2" "$EMU/_emu/$1"; }
waitc() { curl -sf --noproxy '*' -m 60 -o /dev/null "$EMU/_emu/wait?$1&timeout=30"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

HAVE_CONNECT=0
"$BIN" --help 2>&1 | grep -qw connect && HAVE_CONNECT=1

# A site for larkhook connect: its spool on tmpfs, made as the user by
# drain; the runner held off by holding runner.lock, so only the intake
# (store + ack) is measured, as for the FastCGI intake.
site() {
	local d=$W/site
	SPOOL=$SHM/spool CONF=$d/larkhook.conf
	rm -rf "$SPOOL"
	mkdir -p "$d"
	{
		echo "verification_token = lc-bench-token"
		echo "app_id = $APP_ID"
		echo "app_secret = $SECRET"
		echo "api_base = $EMU"
		echo "log = $d/larkhook.log"
		echo "spool = $SPOOL"
		echo "[on compensation.archive.changed_v1]"
		echo "run = true"
	} >"$CONF"
	chmod 600 "$CONF"
	chown -R "$OWNER" "$d"
	"${RUNAS[@]}" "$BIN" -c "$CONF" drain >/dev/null 2>&1
	[ -f "$SPOOL/runner.lock" ] || die "larkhook did not create $SPOOL: $(tail -3 "$d/larkhook.log" 2>/dev/null)"
	bash -c 'exec 9<>"$1" && flock 9 && exec sleep 100000' _ "$SPOOL/runner.lock" &
	HOLDER=$!
	PIDS+=("$HOLDER")
	for _ in $(seq 200); do flock -n "$SPOOL/runner.lock" true || return 0; sleep 0.05; done
	die "cannot hold $SPOOL/runner.lock"
}

declare -A EPS P50 P99 LP50 LP99 OK200 CPUC CPUE STORED
# client NAME KIND: start the client (sdk or lark), wait for its
# connection, warm up, one stream of N events (window WINDOW), one of LATN
# one at a time; the figures go into the arrays under NAME.
client() {
	local name=$1 kind=$2 pid conn r c0 e0 base
	if [ "$kind" = sdk ]; then
		NODE_PATH=$NODE_MODULES "${NOPROXY[@]}" node "$ROOT/bench/lc-peer.js" "$EMU" "$APP_ID" "$SECRET" \
			>>"$W/peer.log" 2>&1 &
		pid=$!
	else
		site
		"${NOPROXY[@]}" "${RUNAS[@]}" "$BIN" -c "$CONF" connect >>"$W/connect.log" 2>&1 &
		pid=$!
	fi
	PIDS+=("$pid")
	waitc 'conns=1' || die "$name: no connection: $(tail -3 "$W/peer.log" "$W/connect.log" 2>/dev/null)"
	conn=$(curl -sS --noproxy '*' "$EMU/_emu/state" | jq '[.connections[] | select(.open)][0].id')
	r=$(post stream "{\"conn\":$conn,\"count\":$WARM,\"window\":$WINDOW}")
	[ "$(jq -r .acked <<<"$r")" = "$WARM" ] || die "$name: warm-up failed: $r"
	c0=$(ticks "$pid") e0=$(ticks "$EMU_PID")
	say "bench/lc: $name: $N events, window $WINDOW"
	r=$(post stream "{\"conn\":$conn,\"count\":$N,\"window\":$WINDOW,\"timeout\":600}")
	EPS[$name]=$(jq -r .eps <<<"$r") P50[$name]=$(jq -r .p50_us <<<"$r") P99[$name]=$(jq -r .p99_us <<<"$r")
	OK200[$name]=$(jq -r '.codes["200"] // 0' <<<"$r")
	base=$(jq -r .elapsed_ms <<<"$r")
	CPUC[$name]=$(awk -v a="$(ticks "$pid")" -v b="$c0" -v hz="$HZ" -v t="$base" 'BEGIN { printf "%.0f %%", 100 * (a - b) / hz / (t / 1000) }')
	CPUE[$name]=$(awk -v a="$(ticks "$EMU_PID")" -v b="$e0" -v hz="$HZ" -v t="$base" 'BEGIN { printf "%.0f %%", 100 * (a - b) / hz / (t / 1000) }')
	[ "$(jq -r .echo_bad <<<"$r")" = 0 ] || say "bench/lc: WARNING: $name: $(jq -r .echo_bad <<<"$r") acks did not echo their frame"
	r=$(post stream "{\"conn\":$conn,\"count\":$LATN,\"window\":1,\"timeout\":600}")
	LP50[$name]=$(jq -r .p50_us <<<"$r") LP99[$name]=$(jq -r .p99_us <<<"$r")
	stop "$pid"
	waitc 'live=0' || die "$name: the connection stays open"
	if [ "$kind" = lark ]; then
		STORED[$name]=$(find "$SPOOL/new" -type f | wc -l)
		stop "$HOLDER"
		rm -rf "$SPOOL"
	fi
}

ratios=""
for r in $(seq "$ROUNDS"); do
	client "sdk-$r" sdk
	if [ "$HAVE_CONNECT" = 1 ]; then
		client "lark-$r" lark
		ratios+="$(ratio "${EPS[lark-$r]}" "${EPS[sdk-$r]}") $r"$'\n'
	else
		ratios+="0 $r"$'\n'
	fi
done
MED=$(sort -n <<<"${ratios%$'\n'}" | awk '{ r[NR] = $2 } END { print r[int((NR + 1) / 2)] }')

# --- report ---------------------------------------------------------------
TOTAL=$((WARM + N + LATN))
target() {
	local s=sdk-$MED l=lark-$MED met
	if [ "$HAVE_CONNECT" != 1 ]; then
		echo "| long connection: events/s through one connection, stored durably (tmpfs) and acked, >= 1.5x the Node SDK's WSClient (empty handler) | not measured: this larkhook has no \`connect\` command (WSClient: ${EPS[$s]} events/s) | n/a |"
		return
	fi
	if [ "${OK200[$l]}" != "$N" ] || [ "${STORED[$l]}" != "$TOTAL" ]; then
		met="**void**: ${OK200[$l]} of $N acks were 200, ${STORED[$l]} of $TOTAL events stored"
	elif awk -v a="${EPS[$l]}" -v b="${EPS[$s]}" 'BEGIN { exit !(a >= 1.5 * b) }'; then met="**met**"
	else met="**not met**"; fi
	echo "| long connection: events/s through one connection, stored durably (tmpfs) and acked, >= 1.5x the Node SDK's WSClient (empty handler) | $(ratio "${EPS[$l]}" "${EPS[$s]}")x (${EPS[$l]} vs ${EPS[$s]} events/s); ack p50 / p99 $(ms "${P50[$l]}") / $(ms "${P99[$l]}") ms under load, $(ms "${LP50[$l]}") / $(ms "${LP99[$l]}") ms one at a time | $met |"
}
row() {	# row NAME LABEL
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "${EPS[$1]:-}" "$(ms "${P50[$1]:-}")" \
		"$(ms "${P99[$1]:-}")" "$(ms "${LP50[$1]:-}")" "$(ms "${LP99[$1]:-}")" "${OK200[$1]:-} of $N" \
		"${CPUC[$1]:-}; emulator ${CPUE[$1]:-}" "${STORED[$1]:-n/a}"
}
section() {
	echo "## Long connection (emulator on 127.0.0.1, one connection)"
	echo
	echo "The emulator (tests/emu/lc.js) streams $N distinct compensation events (plaintext event JSON in pbbp2 frames, as Feishu sends them) through one WebSocket connection, at most $WINDOW unacked at a time, to each client in turn;"
	echo "then $LATN more one at a time (\"unloaded\"). Latency: from the emulator writing an event's frame to its ack arriving, measured by the emulator. Before each stream, $WARM events of warm-up."
	echo "larkhook connect: spool on tmpfs, runner held off (intake only: classify, route, dedupe, durable store, ack), as \`www-data\`. The peer: @larksuiteoapi/node-sdk $SDKV WSClient with an empty handler for the event type (bench/lc-peer.js): it stores nothing and deduplicates nothing."
	echo "CPU: user + system time of the client process (all its threads) over the stream's wall time (100 % = one core), and of the emulator's (node: its garbage collector and I/O threads included; its main thread alone was about 30 % busy when profiled). $ROUNDS paired rounds (WSClient, then larkhook); the target uses round $MED, the median ratio."
	echo
	echo "| client | events/s | ack p50 ms | ack p99 ms | unloaded p50 ms | unloaded p99 ms | acks 200 | CPU | larkhook: events stored |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for r in $(seq "$ROUNDS"); do
		row "sdk-$r" "round $r: Node SDK WSClient"
		[ "$HAVE_CONNECT" = 1 ] && row "lark-$r" "round $r: larkhook connect (ratio $(ratio "${EPS[lark-$r]}" "${EPS[sdk-$r]}"))"
	done
	echo
	if [ "$HAVE_CONNECT" = 1 ]; then
		echo "Events stored: jobs in the spool's new/ after the run, of $TOTAL sent (warm-up, stream, unloaded)."
	else
		echo "This larkhook has no \`connect\` command: only the peer was measured."
	fi
}
if [ -n "$OUT" ]; then
	mkdir -p "$OUT"
	target >"$OUT/target.md"
	section >"$OUT/section.md"
else
	target
	echo
	section
fi
