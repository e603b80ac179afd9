# shellcheck shell=bash disable=SC2034 # EMU* are for the suites that source this
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
# --expire N, --token-len N, --tls-cert C --tls-key K, ...) on a port of its
# choosing; wait until it listens. Sets EMU (its base URL: http://127.0.0.1:N,
# or https://), EMU_PORT, EMU_PID, and EMU_APP_ID, EMU_SECRET (the
# credentials it accepts); the PID joins PIDS. Several may run at once: each
# call overwrites EMU* (save them first). A site that talks to it:
#     S=$(site api "app_id = $EMU_APP_ID" "app_secret = $EMU_SECRET" "api_base = $EMU")
openapi_emu() {
	local out a prev=
	EMU_APP_ID=cli_a1b2c3d4e5f60001
	EMU_SECRET=emu-app-secret-0001
	for a in "$@"; do
		case $prev in
		--app-id) EMU_APP_ID=$a ;;
		--app-secret) EMU_SECRET=$a ;;
		esac
		prev=$a
	done
	out=$(mktemp "$T/openapi-emu.XXXXXX")
	"${EMU_NOPROXY[@]}" node "$ROOT/tests/emu/openapi.js" "$@" >"$out" 2>"$out.err" &
	EMU_PID=$!
	PIDS+=("$EMU_PID")
	if ! wait_for 20 grep -q '^url=' "$out"; then
		fail "openapi emulator starts" "$(head -c 2000 "$out.err")"
		return 1
	fi
	EMU_PORT=$(sed -n 's/^port=//p' "$out")
	EMU=$(sed -n 's/^url=//p' "$out")
}

# emu_cert DIR: a self-signed certificate for 127.0.0.1 in DIR/cert.pem and
# DIR/key.pem (for --tls-cert / --tls-key; a client trusts it only when told
# to, e.g. curl --cacert DIR/cert.pem).
emu_cert() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# emu_wait SECONDS JQ-TEST: wait until the emulator's state passes JQ-TEST
# (e.g. '.counters.tenant_token_requests >= 3').
emu_wait() { wait_for "$1" emu_test "$2"; }
# emu_test JQ-TEST: the emulator's state passes JQ-TEST now.
emu_test() { [ "$(emu_state "$1")" = true ]; }

# emu_ctl NAME [JSON]: POST JSON (default {}) to /_emu/NAME; prints the reply.
emu_ctl() {
	local data=${2-'{}'}
	curl -sSk --noproxy '*' -m 20 -X POST -H 'Content-Type: application/json' \
		--data-binary "$data" "$EMU/_emu/$1"
}

# emu_state [JQ-FILTER]: the emulator's state (counters, config, tokens,
# request log) through jq -r FILTER (default: all of it).
emu_state() {
	curl -sSk --noproxy '*' -m 20 "$EMU/_emu/state" | jq -r "${1:-.}"
}

# emu_requests PATH-PREFIX [JQ-FILTER]: the logged requests whose path starts
# with PATH-PREFIX, as a JSON array through jq -r FILTER (default: .).
emu_requests() {
	curl -sSk --noproxy '*' -m 20 -G --data-urlencode "path=$1" "$EMU/_emu/state" |
		jq -r ".requests | ${2:-.}"
}
