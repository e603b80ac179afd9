#!/bin/bash
# openapi-emu.sh: the OpenAPI emulator (tests/emu/openapi.js) checked by an
# independent client, the official Node SDK pinned in tests/node/package.json,
# before larkhook's `token` and `api` commands are tested against it. The checks themselves are in openapi-emu.js.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../emu/lib.sh
. "$ROOT/tests/emu/lib.sh"

if ! command -v node >/dev/null; then
	fail "node is installed" "run sh tests/deps.sh"
	exit 1
fi
if [ ! -r "$ROOT/tests/node/node_modules/@larksuiteoapi/node-sdk/package.json" ]; then
	fail "the Node SDK is installed in tests/node" "run sh tests/deps.sh"
	exit 1
fi
check "the Node SDK is the pinned version" \
	"$(jq -r '.dependencies["@larksuiteoapi/node-sdk"]' "$ROOT/tests/node/package.json")" \
	"$(jq -r .version "$ROOT/tests/node/node_modules/@larksuiteoapi/node-sdk/package.json")"

SECRET=emu-secret-$RANDOM$RANDOM
openapi_emu --app-secret "$SECRET" || exit 1
check "the emulator listens on 127.0.0.1 only" "127.0.0.1:$EMU_PORT" \
	"$(ss -Hltnp 2>/dev/null | awk -v p=":$EMU_PORT" '$4 ~ p"$" {print $4}')"
"${EMU_NOPROXY[@]}" node "$ROOT/tests/e2e/openapi-emu.js" "$EMU" "$EMU_SECRET"
rc=$?
# the emulator's own answers, without the SDK in the way
r=$(curl -sS --noproxy '*' -X POST -d '{"app_id":"cli_a1b2c3d4e5f60001"}' "$EMU/open-apis/auth/v3/tenant_access_token/internal")
check "mint without app_secret: code 10003" 10003 "$(jq -r .code <<<"$r")"
r=$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -X POST -d 'not json' "$EMU/open-apis/auth/v3/tenant_access_token/internal")
check "mint with a body that is not JSON: HTTP 400" 400 "$r"
check "the control API refuses an unknown config key" 1 \
	"$(curl -sS --noproxy '*' -X POST -d '{"no_such_key":1}' "$EMU/_emu/config" | jq -r .code)"
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"hold","where":"token"}' >/dev/null
curl -sS --noproxy '*' -X POST -d '{"app_id":"cli_a1b2c3d4e5f60001","app_secret":"'"$SECRET"'"}' \
	"$EMU/open-apis/auth/v3/tenant_access_token/internal" >"$T/held.json" &
held=$!
if emu_wait 10 '.held == 1 and .counters.tenant_token_requests == 0'; then
	ok "a held mint is in flight and not yet served"
else
	fail "a held mint is in flight and not yet served" "$(emu_state '[.held, .counters.tenant_token_requests]')"
fi
check "release lets it go on" 1 "$(emu_ctl release | jq -r .released)"
wait "$held"
check "... and it is served" "0 1 0" \
	"$(jq -r .code "$T/held.json") $(emu_state '"\(.counters.tenant_token_requests) \(.held)"')"
emu_ctl fault '{"kind":"hang"}' >/dev/null
curl -sS --noproxy '*' -m 1 -o /dev/null "$EMU/open-apis/compensation/v1/archives/query" 2>/dev/null
check "a hang fault: the client times out (curl 28), logged as hang" "28 hang" \
	"$? $(emu_requests /open-apis/compensation '.[-1].status')"
curl -sS --noproxy '*' --path-as-is -o /dev/null "$EMU/open-apis/x/../y?a=1"
check "the log keeps the target as sent and its resolved path" '/open-apis/x/../y?a=1 /open-apis/y' \
	"$(emu_requests /open-apis/y '.[-1] | "\(.target) \(.path)"')"
kill -TERM "$EMU_PID"
wait "$EMU_PID"
check "the emulator exits 0 on SIGTERM" 0 "$?"

# HTTPS mode: its certificate is trusted only when the client is told to
emu_cert "$T/tls"
openapi_emu --tls-cert "$T/tls/cert.pem" --tls-key "$T/tls/key.pem" || exit 1
check "HTTPS mode: the base URL" "https://127.0.0.1:$EMU_PORT" "$EMU"
mint() {
	curl -sS --noproxy '*' "$@" -X POST -d '{"app_id":"cli_a1b2c3d4e5f60001","app_secret":"emu-app-secret-0001"}' \
		"$EMU/open-apis/auth/v3/tenant_access_token/internal" 2>/dev/null
}
check "HTTPS mode: a client that trusts the certificate mints" 0 "$(mint --cacert "$T/tls/cert.pem" | jq -r .code)"
mint >/dev/null
check "HTTPS mode: a client that verifies against the system CAs refuses it (curl 60)" 60 "$?"
check "HTTPS mode: the refused handshake reached no handler" 1 "$(emu_state .counters.tenant_token_requests)"
exit "$rc"
