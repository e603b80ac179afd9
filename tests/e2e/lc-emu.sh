#!/bin/bash
# lc-emu.sh: the long-connection emulator (tests/emu/lc.js) checked by an
# independent client, the official Node SDK's WSClient (pinned in
# tests/node/package.json), before larkhook's `connect` is tested against it
# (doc/10-connect.md). The checks themselves are in lc-emu.js.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../emu/lc-lib.sh
. "$ROOT/tests/emu/lc-lib.sh"

if ! command -v node >/dev/null; then
	fail "node is installed" "run sh tests/deps.sh"
	exit 1
fi
APP_ID=cli_a1b2c3d4e5f60001
SECRET=lc-emu-secret-$RANDOM$RANDOM
lc_emu --app-id "$APP_ID" --app-secret "$SECRET" || exit 1
check "the emulator listens on 127.0.0.1 only" "127.0.0.1:$LC_EMU_PORT" \
	"$(ss -Hltn 2>/dev/null | awk -v p=":$LC_EMU_PORT" '$4 ~ p"$" {print $4}')"

# the SDK must not reach the emulator through a proxy
"${LC_NOPROXY[@]}" NODE_PATH="$ROOT/tests/node/node_modules" \
	node "$ROOT/tests/e2e/lc-emu.js" "$LC_EMU" "$APP_ID" "$SECRET"
rc=$?
[ "$rc" -eq 0 ] || echo "# emulator log: $(tail -5 "$T/lc-emu.log")"

# the emulator's own answers, without the SDK in the way
ep() { curl -sS --noproxy '*' -o "$T/ep" -w '%{http_code}' "$@" "$LC_EMU/callback/ws/endpoint"; }
json=(-H 'locale: zh' -H 'Content-Type: application/json')
check "endpoint without the locale header: HTTP 400" 400 \
	"$(ep -H 'Content-Type: application/json' -d "{\"AppID\":\"$APP_ID\",\"AppSecret\":\"$SECRET\"}")"
check "endpoint with a body that is not JSON: HTTP 400" 400 "$(ep "${json[@]}" -d 'not json')"
check "endpoint with a wrong secret: code 10014" "200 10014" \
	"$(ep "${json[@]}" -d "{\"AppID\":\"$APP_ID\",\"AppSecret\":\"x\"}") $(jq -r .code "$T/ep")"
lc_post endpoint-mode '{"mode":"code","code":1,"times":1}' >/dev/null
check "endpoint-mode code 1, once: then ok again" "1 0" \
	"$(ep "${json[@]}" -d "{\"AppID\":\"$APP_ID\",\"AppSecret\":\"$SECRET\"}" >/dev/null; jq -r .code "$T/ep") $(ep "${json[@]}" -d "{\"AppID\":\"$APP_ID\",\"AppSecret\":\"$SECRET\"}" >/dev/null; jq -r .code "$T/ep")"
lc_post endpoint-mode '{"mode":"http","status":503,"times":1}' >/dev/null
check "endpoint-mode http 503" 503 "$(ep "${json[@]}" -d "{\"AppID\":\"$APP_ID\",\"AppSecret\":\"$SECRET\"}")"
kill -TERM "$LC_EMU_PID"
wait "$LC_EMU_PID"
check "the emulator exits 0 on SIGTERM" 0 "$?"

# over TLS, with a certificate made here that only the client is told of
lc_tls_cert
lc_emu --app-id "$APP_ID" --app-secret "$SECRET" --tls-cert "$LC_CERT" --tls-key "$LC_KEY" || exit 1
check "with --tls-cert the emulator says https" "https://127.0.0.1:$LC_EMU_PORT" "$LC_EMU"
curl -s --noproxy '*' -o /dev/null "$LC_EMU/_emu/state"
check "a client without the certificate is refused (TLS verified: curl 60)" 60 "$?"
"${LC_NOPROXY[@]}" NODE_PATH="$ROOT/tests/node/node_modules" NODE_EXTRA_CA_CERTS="$LC_CERT" \
	node "$ROOT/tests/e2e/lc-emu.js" "$LC_EMU" "$APP_ID" "$SECRET" tls || rc=1
exit "$rc"
