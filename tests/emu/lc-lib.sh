# shellcheck shell=bash
# lc-lib.sh: start and drive the long-connection emulator (tests/emu/lc.js)
# from an end-to-end suite. Source it after tests/e2e/lib.sh, whose ROOT, T,
# PIDS (stopped by its cleanup) and fail it uses:
#     . "$(dirname "$0")/lib.sh"; . "$ROOT/tests/emu/lc-lib.sh"
#     lc_emu --app-secret "$SECRET" || exit 1   # sets LC_EMU, LC_EMU_PORT, LC_EMU_PID
#     lc_post config '{"client_config":{"PingInterval":1}}'
#     lc_wait 'conns=1&pings=1' || fail "larkhook connects and pings"
#     lc_post push '{"fragments":3,"order":"reverse","wait":true}' | jq .ack.code
#     lc_state '.acks[0].headers'
# The control API is described at the top of tests/emu/lc.js; its log (one
# line per connection, push, ack) goes to $T/lc-emu.log.

LC_NOPROXY=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)

# lc_emu [ARGS...]: start lc.js with ARGS (--app-id, --app-secret,
# --client-config JSON, --tls-cert/--tls-key) on a port of its choosing,
# once its first lines (port=N, url=...) are read. Sets LC_EMU
# (http[s]://127.0.0.1:PORT), LC_EMU_PORT, LC_EMU_PID (the PID joins PIDS)
# and LC_CURL (curl with the options to reach it). One emulator at a time:
# a second lc_emu takes these names over.
lc_emu() {
	local line url fd
	if [ ! -r "$ROOT/tests/node/node_modules/ws/package.json" ]; then
		fail "the Node packages are installed in tests/node" "run sh tests/deps.sh"
		return 1
	fi
	# read from a process substitution: the line is awaited, not polled for
	exec {fd}< <(NODE_PATH=$ROOT/tests/node/node_modules exec "${LC_NOPROXY[@]}" \
		node "$ROOT/tests/emu/lc.js" "$@" 2>>"$T/lc-emu.log")
	LC_EMU_PID=$!
	PIDS+=("$LC_EMU_PID")
	if ! IFS= read -r -t 30 line <&"$fd" || [ "${line#port=}" = "$line" ] ||
		! IFS= read -r -t 30 url <&"$fd"; then
		exec {fd}<&-
		fail "the long-connection emulator starts" "$(head -c 2000 "$T/lc-emu.log")"
		return 1
	fi
	exec {fd}<&-
	# shellcheck disable=SC2034 # for the suites that source this file
	LC_EMU_PORT=${line#port=}
	LC_EMU=${url#url=}
	LC_CURL=(curl -sS --noproxy '*')
	while [ $# -gt 1 ]; do
		[ "$1" = --tls-cert ] && LC_CURL+=(--cacert "$2")
		shift
	done
}

# lc_tls_cert: a self-signed certificate for 127.0.0.1 (and localhost) in
# $T; sets LC_CERT and LC_KEY, for lc_emu --tls-cert "$LC_CERT" --tls-key
# "$LC_KEY" (then LC_EMU is https://..., the gateway wss://...). A client
# trusts it through its own CA setting (node: NODE_EXTRA_CA_CERTS).
lc_tls_cert() {
	LC_CERT=$T/lc-cert.pem LC_KEY=$T/lc-key.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
		-keyout "$LC_KEY" -out "$LC_CERT" 2>/dev/null
	chmod 644 "$LC_CERT" "$LC_KEY"
}

# lc_post NAME [JSON]: POST JSON (default {}) to /_emu/NAME; prints the reply.
lc_post() {
	local data=${2-'{}'}
	"${LC_CURL[@]}" -m 200 -X POST -H 'Content-Type: application/json' \
		--data-binary "$data" "$LC_EMU/_emu/$1"
}
# lc_state [JQ-FILTER]: GET /_emu/state through jq -r FILTER (default: all).
lc_state() { "${LC_CURL[@]}" -m 20 "$LC_EMU/_emu/state" | jq -r "${1:-.}"; }
# lc_wait QUERY: GET /_emu/wait?QUERY (e.g. 'acks=2&timeout=10'): true once
# the conditions hold, false when the emulator's timeout (default 10 s) ran out.
lc_wait() { "${LC_CURL[@]}" -f -m 200 -o /dev/null "$LC_EMU/_emu/wait?$1" 2>/dev/null; }
# lc_find STRING: where STRING occurs in what clients sent
# ({"endpoint":N,"handshakes":N,"frames":N}).
lc_find() { "${LC_CURL[@]}" -m 20 -G --data-urlencode "s=$1" "$LC_EMU/_emu/find"; }
