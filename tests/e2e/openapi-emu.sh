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
"${EMU_NOPROXY[@]}" node "$ROOT/tests/e2e/openapi-emu.js" "$EMU" "$SECRET"
rc=$?
# the emulator's own answers, without the SDK in the way
r=$(curl -sS --noproxy '*' -X POST -d '{"app_id":"cli_a1b2c3d4e5f60001"}' "$EMU/open-apis/auth/v3/tenant_access_token/internal")
check "mint without app_secret: code 10003" 10003 "$(jq -r .code <<<"$r")"
r=$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -X POST -d 'not json' "$EMU/open-apis/auth/v3/tenant_access_token/internal")
check "mint with a body that is not JSON: HTTP 400" 400 "$r"
check "the control API refuses an unknown config key" 1 \
	"$(curl -sS --noproxy '*' -X POST -d '{"no_such_key":1}' "$EMU/_emu/config" | jq -r .code)"
kill -TERM "$EMU_PID"
wait "$EMU_PID"
check "the emulator exits 0 on SIGTERM" 0 "$?"
exit "$rc"
