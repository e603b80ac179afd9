# shellcheck shell=bash
# tests/emu/lib.sh: start and drive the OpenAPI emulator (tests/emu/openapi.js)
# from an end-to-end suite. Source it after tests/e2e/lib.sh, whose T, PIDS
# (stopped by its cleanup), fail and wait_for it uses:
#     . "$(dirname "$0")/lib.sh"; . "$ROOT/tests/emu/lib.sh"
#     openapi_emu || exit 1          # sets EMU (base URL), EMU_PORT, EMU_PID
#     emu_ctl fault '{"kind":"ratelimit","reset":1}'
#     check "one mint" 1 "$(emu_state .counters.tenant_mints)"
# The control API is described at the top of tests/emu/openapi.js.

# The proxies of the environment must not see requests to 127.0.0.1.
EMU_NOPROXY=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY)

# openapi_emu [ARGS...]: start the emulator with ARGS (--app-secret S,
# --expire N, --token-len N, ...) on a port of its choosing; wait until it
# listens. Sets EMU, EMU_PORT, EMU_PID; the PID joins PIDS.
openapi_emu() {
	local out
	out=$(mktemp "$T/openapi-emu.XXXXXX")
	"${EMU_NOPROXY[@]}" node "$ROOT/tests/emu/openapi.js" "$@" >"$out" 2>"$out.err" &
	EMU_PID=$!
	PIDS+=("$EMU_PID")
	if ! wait_for 20 grep -q '^port=' "$out"; then
		fail "openapi emulator starts" "$(head -c 2000 "$out.err")"
		return 1
	fi
	EMU_PORT=$(sed -n 's/^port=//p' "$out")
	EMU=http://127.0.0.1:$EMU_PORT
}

# emu_ctl NAME [JSON]: POST JSON (default {}) to /_emu/NAME; prints the reply.
emu_ctl() {
	local data=${2-'{}'}
	curl -sS --noproxy '*' -m 20 -X POST -H 'Content-Type: application/json' \
		--data-binary "$data" "$EMU/_emu/$1"
}

# emu_state [JQ-FILTER]: the emulator's state (counters, config, tokens,
# request log) through jq -r FILTER (default: all of it).
emu_state() {
	curl -sS --noproxy '*' -m 20 "$EMU/_emu/state" | jq -r "${1:-.}"
}

# emu_requests PATH-PREFIX [JQ-FILTER]: the logged requests whose path starts
# with PATH-PREFIX, as a JSON array through jq -r FILTER (default: .).
emu_requests() {
	curl -sS --noproxy '*' -m 20 -G --data-urlencode "path=$1" "$EMU/_emu/state" |
		jq -r ".requests | ${2:-.}"
}
