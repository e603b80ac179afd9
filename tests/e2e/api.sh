#!/bin/bash
# api.sh: `larkhook token` and `larkhook api` (doc/9-openapi.md) against the
# OpenAPI emulator (tests/emu/openapi.js, itself checked against the Node SDK
# by openapi-emu.sh): the token cache (one mint for many callers, reuse, the
# refresh margin, a short expire, --refresh, 0600 files, refused symbolic
# links), exit statuses 0 / 75 / 78, api's exit status by code, the
# Authorization header, the one re-mint, the rate-limit wait, --all, the
# path and host rules, body sources, a proxy, store apps and the
# app_ticket, a hook calling "$LARKHOOK" api during a real delivery (CGI and
# FastCGI), libcurl kept out of the binary, and the App Secret in no output,
# log, file or hook environment.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../emu/lib.sh
. "$ROOT/tests/emu/lib.sh"

for c in node faketime strace tinyproxy spawn-fcgi cgi-fcgi; do
	command -v "$c" >/dev/null || { fail "$c is installed" "run: make deps"; exit 1; }
done

SECRET=emu-secret-$RANDOM$RANDOM$RANDOM
APP=cli_a1b2c3d4e5f60001
TENANT=2ca1d211f64f6438
openapi_emu --app-secret "$SECRET" || exit 1

# apisite NAME [extra config lines...]: a site whose config has the
# vectors' webhook secrets and this emulator's app (api_base $APIBASE when
# set, else the emulator; the compensation hook $HOOKRUN, else true); the
# App Secret in a 0600 file. Sets S, C (the config), ST (the state
# directory).
apisite() {
	S=$T/$1
	siteconf "$S" "${HOOKRUN:-true}" "app_id = $APP" "app_secret_file = $S/app-secret" \
		"api_base = ${APIBASE:-$EMU}" "${@:2}"
	printf '%s\n' "$SECRET" >"$S/app-secret"
	chmod 600 "$S/app-secret"
	chown "$OWNER" "$S/app-secret"
	C=$S/larkhook.conf
	ST=$S/larkhook-spool/state
}
N=0
# lh ARGS...: larkhook -c $C ARGS as the unprivileged user, without a proxy
# in its environment; sets RC, OUT and ERR (files kept under $T, so the
# final check sees every output).
lh() {
	N=$((N + 1))
	OUT=$T/out.$N
	ERR=$T/err.$N
	"${EMU_NOPROXY[@]}" "${RUNAS[@]}" "$BIN" -c "$C" "$@" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
}
# counter NAME: an emulator counter.
counter() { emu_state ".counters.$1"; }
# mode FILE: its permission bits and owner.
mode() { stat -c '%a %U' "$1"; }

# --- the binary -------------------------------------------------------------
check "libcurl is not linked into larkhook (ldd)" "" "$(ldd "$BIN" | grep -i curl)"
check "... nor named as NEEDED" "" "$(readelf -dW "$BIN" | grep NEEDED | grep -i curl)"
check "the static libcrypto exports no symbol libcurl's libssl could bind to" 0 \
	"$(nm -D --defined-only "$BIN" | grep -c -E ' (EVP|SSL|CRYPTO|OPENSSL)_')"

# --- check ------------------------------------------------------------------
apisite main
lh check
check "check: exit 0" 0 "$RC"
check_true "check: names the app and api_base, and where the secret is" \
	grep -qx "openapi: app $APP (self-built app) at $EMU; App Secret from app_secret_file" "$OUT"
chmod 000 "$S/app-secret"
[ "$(id -u)" -eq 0 ] && chown root "$S/app-secret"
lh check
check "check: an unreadable app_secret_file is an error (exit 1)" 1 "$RC"
check_true "... naming the file" grep -q "$S/app-secret" "$ERR"
chown "$OWNER" "$S/app-secret"
chmod 600 "$S/app-secret"

# --- token: mint, reuse, files ----------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	N=$((N + 1))
	"${EMU_NOPROXY[@]}" "$BIN" -c "$C" token >"$T/out.$N" 2>"$T/err.$N"
	check "token as root (no allow_root): refused, exit 78, no spool made" "78 no" \
		"$? $([ -e "$S/larkhook-spool" ] && echo yes || echo no)"
fi
lh token
check "token: exit 0" 0 "$RC"
TOK=$(cat "$OUT")
check "token: prints the token the emulator minted, and a newline" \
	"$(emu_state '.tokens[0].token')" "$TOK"
check "token: one line, nothing else" 1 "$(wc -l <"$OUT")"
check "token: one mint" "1 1" "$(counter tenant_token_requests) $(counter tenant_mints)"
check "token: the mint carried app_id and app_secret" "$APP $SECRET" \
	"$(emu_requests /open-apis/auth/v3/tenant_access_token/internal '.[0].body | fromjson | "\(.app_id) \(.app_secret)"')"
check "the state directory is 0700, the user's" "700 $OWNER" "$(mode "$ST")"
check "the cache file is 0600, the user's" "600 $OWNER" "$(mode "$ST/tenant_token")"
check "the lock file is 0600, the user's" "600 $OWNER" "$(mode "$ST/token.lock")"
lh token
check "token again: the same token from the cache" "0 $TOK" "$RC $(cat "$OUT")"
check "token again: no request" 1 "$(counter tenant_token_requests)"
"${EMU_NOPROXY[@]}" strace -f -qq -e trace=openat,connect -o "$T/strace.warm" "${RUNAS[@]}" "$BIN" -c "$C" token \
	>"$T/out.warm" 2>&1
check_true "strace saw the warm token call read the cache" grep -q 'state", O_RDONLY\|tenant_token' "$T/strace.warm"
check "token from a warm cache opens no libcurl" "" "$(grep -i 'curl' "$T/strace.warm")"
check "token from a warm cache connects nowhere" "" "$(grep -E 'connect\(' "$T/strace.warm" | grep -v 'AF_UNIX')"

# --- the refresh margin (larkhook's clock moved with faketime) --------------
fake() { N=$((N + 1)); OUT=$T/out.$N; "${EMU_NOPROXY[@]}" "${RUNAS[@]}" faketime -f "$1" "$BIN" -c "$C" token \
	>"$OUT" 2>"$T/err.$N"; RC=$?; }
fake +6800s
check "6800 s later (more than 5 min left of 7200): the cached token, no request" "0 $TOK 1" \
	"$RC $(cat "$OUT") $(counter tenant_token_requests)"
fake +7000s
check "7000 s later (under 5 min left): a mint" "0 2" "$RC $(counter tenant_token_requests)"
# the cache now says minted 7000 s in the future: the real clock is back
# more than the margin before it, so the next real call mints again
lh token
check "a clock back before the mint by more than the margin: a mint" "0 3" "$RC $(counter tenant_token_requests)"

# --- a short expire: cached for half of it -----------------------------------
emu_ctl config '{"expire":120}' >/dev/null
emu_ctl revoke >/dev/null
lh token --refresh
check "--refresh: exit 0, one more request" "0 4" "$RC $(counter tenant_token_requests)"
SHORT=$(cat "$OUT")
check "--refresh after a revoke: a new token" 1 "$([ "$SHORT" != "$TOK" ] && echo 1)"
check "--refresh: the cache holds the new token" "$SHORT" "$(tail -n 1 "$ST/tenant_token")"
fake +50s
check "expire 120, 50 s later: cached (half of 120 is 60)" "0 $SHORT 4" \
	"$RC $(cat "$OUT") $(counter tenant_token_requests)"
fake +70s
check "expire 120, 70 s later: a mint" "0 5" "$RC $(counter tenant_token_requests)"
lh token --refresh
check "--refresh with a fresh cache: a mint all the same" "0 6" "$RC $(counter tenant_token_requests)"

# --- long tokens -------------------------------------------------------------
emu_ctl config '{"expire":7200,"token_len":5000}' >/dev/null
emu_ctl revoke >/dev/null
lh token --refresh
LONG=$(cat "$OUT")
check "a 5000-byte token (JWT-shaped) is printed whole" "0 5000" "$RC ${#LONG}"
lh token
check "... and comes back whole from the cache" "$LONG" "$(cat "$OUT")"
emu_ctl config '{"token_len":42}' >/dev/null

# --- many callers, one mint --------------------------------------------------
emu_ctl revoke >/dev/null
rm -f "$ST/tenant_token"
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"hold","where":"token"}' >/dev/null
CALLERS=()
for i in 1 2 3 4 5 6 7 8; do
	"${EMU_NOPROXY[@]}" "${RUNAS[@]}" "$BIN" -c "$C" token >"$T/many.$i" 2>&1 &
	CALLERS+=($!)
done
# one caller's mint is held in the emulator; the seven others wait on the
# lock (the kernel lists each blocked flock with "->" in /proc/locks)
LOCKINODE=$(stat -c %i "$ST/token.lock")
blocked() { [ "$(grep -c -- "-> FLOCK .*:$LOCKINODE " /proc/locks)" -eq 7 ]; }
if emu_wait 20 '.held == 1' && wait_for 20 blocked; then
	ok "8 simultaneous token calls: one mint in flight, 7 callers waiting on the lock"
else
	fail "8 simultaneous token calls: one mint in flight, 7 callers waiting on the lock" \
		"held $(emu_state .held), blocked $(grep -c -- "-> FLOCK .*:$LOCKINODE " /proc/locks)"
fi
emu_ctl release >/dev/null
rcs=
for p in "${CALLERS[@]}"; do wait "$p"; rcs="$rcs$?"; done
check "... all 8 exit 0" 00000000 "$rcs"
check "... one mint for the 8" 1 "$(counter tenant_token_requests)"
check "... all 8 print the same token" 1 "$(cat "$T"/many.* | sort -u | wc -l)"

# --- exit statuses; a failed mint leaves the cache alone ----------------------
cp "$ST/tenant_token" "$T/cache.before"
temp() {	# temp NAME FAULT-JSON: token --refresh fails with 75, cache untouched
	emu_ctl fault "$2" >/dev/null
	lh token --refresh
	check "token --refresh, $1: exit 75" 75 "$RC"
	check_true "... the cache untouched" cmp -s "$T/cache.before" "$ST/tenant_token"
}
temp "HTTP 500" '{"kind":"status","status":500,"where":"token"}'
temp "HTTP 502 with HTML" '{"kind":"status","status":502,"body":"<html>bad gateway</html>","where":"token"}'
temp "HTTP 429 / 99991400" '{"kind":"ratelimit","reset":1,"where":"token"}'
temp "a closed connection" '{"kind":"close","where":"token"}'
check_true "... the message says what happened" test -s "$ERR"
emu_ctl config '{"bad_credentials":true}' >/dev/null
lh token --refresh
check "token --refresh, credentials refused (10014): exit 78" 78 "$RC"
check_true "... the message names the code" grep -q 10014 "$ERR"
check_true "... the cache untouched" cmp -s "$T/cache.before" "$ST/tenant_token"
emu_ctl config '{"bad_credentials":false}' >/dev/null
lh token
check "the cached token still serves" "0 $(tail -n 1 "$T/cache.before")" "$RC $(cat "$OUT")"
SAVED=$C
APIBASE=http://127.0.0.1:1 apisite down
lh token
check "nothing listening at api_base: exit 75" 75 "$RC"
APIBASE=http://10.0.0.1:80 apisite badbase
lh token
check "an http:// api_base off loopback: the config is refused, exit 78" 78 "$RC"
check_true "... with FILE:LINE" grep -q "larkhook.conf:[0-9]*: api_base" "$ERR"
C=$SAVED
S=$T/main
ST=$S/larkhook-spool/state

# --- refused files ---------------------------------------------------------------
mv "$ST/tenant_token" "$T/cache.saved"
printf 'larkhook-token 1 1 99999999999 99999999999\nt-planted\n' >"$T/planted"
chown "$OWNER" "$T/planted"
chmod 600 "$T/planted"
cp "$T/planted" "$T/planted.before"
ln -s "$T/planted" "$ST/tenant_token"
before=$(counter tenant_token_requests)
lh token
check "a symbolic link planted at the cache path: exit 78" 78 "$RC"
check_true "... the message says so" grep -q "symbolic link" "$ERR"
check "... no token printed, no mint" " $before" "$(cat "$OUT") $(counter tenant_token_requests)"
lh token --refresh
check "... --refresh refuses it too" 78 "$RC"
check_true "... nothing was written through it" cmp -s "$T/planted.before" "$T/planted"
check "... and it is still the link" "$T/planted" "$(readlink "$ST/tenant_token")"
rm -f "$ST/tenant_token"
mv "$ST/token.lock" "$T/lock.saved"
ln -s "$T/planted" "$ST/token.lock"
lh token
check "a symbolic link planted at the lock path: exit 78" 78 "$RC"
check_true "... nothing was written through it" cmp -s "$T/planted.before" "$T/planted"
rm -f "$ST/token.lock"
mv "$T/lock.saved" "$ST/token.lock"
mv "$T/cache.saved" "$ST/tenant_token"
chmod 644 "$ST/tenant_token"
lh token
check "a cache file others can read: exit 78" 78 "$RC"
chmod 600 "$ST/tenant_token"
if [ "$(id -u)" -eq 0 ]; then
	chown root "$ST/tenant_token"
	lh token
	check "a cache file of another user: exit 78" 78 "$RC"
	chown "$OWNER" "$ST/tenant_token"
fi

# a config naming another app on the same spool does not get this app's token
SAVED=$C
SAVED_S=$S
SAVED_ST=$ST
APIBASE=$EMU apisite otherapp "spool = $T/main/larkhook-spool"
sed -i "s/^app_id = .*/app_id = cli_0ther0app0000001/" "$C"
before=$(counter tenant_token_requests)
lh token
check "another app_id on the same spool: the cached token is not handed out, a mint (unknown app: 78)" \
	"78  $((before + 1))" "$RC $(cat "$OUT") $(counter tenant_token_requests)"
C=$SAVED
S=$SAVED_S
ST=$SAVED_ST

# --- api --------------------------------------------------------------------------
lh token
TOK=$(cat "$OUT")
ARCH='/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=100'
AFTER='{"user_id_list":["7140964208476371111"],"tid_list":["7303487035893753388"]}'
emu_ctl reset >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: the archive version asked for: exit 0" 0 "$RC"
check "api: prints the reply JSON" "0 7303487035893753388" "$(jq -r '"\(.code) \(.data.items[0].tid)"' "$OUT")"
check "api: sent Authorization: Bearer with the cached token" "Bearer $TOK" \
	"$(emu_requests /open-apis/compensation '.[0].headers.authorization')"
check "api: Content-Type JSON" "application/json; charset=utf-8" \
	"$(emu_requests /open-apis/compensation '.[0].headers["content-type"]')"
check "api: the body as given" "$AFTER" "$(emu_requests /open-apis/compensation '.[0].body')"
check "api: the query as given" "people_corehr_id 100" \
	"$(emu_requests /open-apis/compensation '.[0].query | "\(.user_id_type) \(.page_size)"')"
check "api: no mint (the cached token)" 0 "$(counter tenant_token_requests)"
printf %s "$AFTER" >"$T/body.json"
chown "$OWNER" "$T/body.json"
lh api POST "$ARCH" "@$T/body.json"
check "api: body from @FILE" "0 $AFTER" "$RC $(emu_requests /open-apis/compensation '.[1].body')"
N=$((N + 1))
"${EMU_NOPROXY[@]}" "${RUNAS[@]}" "$BIN" -c "$C" api POST "$ARCH" - <"$T/body.json" >"$T/out.$N" 2>&1
check "api: body from standard input (-)" "0 $AFTER" "$? $(emu_requests /open-apis/compensation '.[2].body')"
lh api POST "/open-apis/compensation/v1/archives/query" "$AFTER" --query user_id_type=people_corehr_id \
	--query page_size=5
check "api: --query K=V" "0 people_corehr_id 5" \
	"$RC $(emu_requests /open-apis/compensation '.[3].query | "\(.user_id_type) \(.page_size)"')"
emu_ctl route '{"path":"/open-apis/x/v1/fail","body":{"code":1254002,"msg":"no permission"}}' >/dev/null
lh api GET /open-apis/x/v1/fail
check "api: a reply with code 1254002: exit 1, the reply printed" "1 1254002" "$RC $(jq -r .code "$OUT")"
emu_ctl fault '{"kind":"code","code":99991672,"msg":"scope missing"}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: 99991672 (missing scope): exit 1, printed" "1 99991672" "$RC $(jq -r .code "$OUT")"

# the one retry with a new token
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"code","code":99991663}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: a one-time 99991663: re-mint, retry, exit 0" "0 0" "$RC $(jq -r .code "$OUT")"
check "... two calls, one mint" "2 1" "$(counter api_calls) $(counter tenant_token_requests)"
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"code","code":99991663,"count":2}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: 99991663 twice: one retry only, exit 1" "1 99991663 2" "$RC $(jq -r .code "$OUT") $(counter api_calls)"
emu_ctl reset >/dev/null
emu_ctl revoke >/dev/null
OLD=$(tail -n 1 "$ST/tenant_token")
lh api POST "$ARCH" "$AFTER"
NEW=$(tail -n 1 "$ST/tenant_token")
check "api: a revoked token: a new one minted and the call retried, exit 0" "0 2 1" \
	"$RC $(counter api_calls) $(counter tenant_mints)"
check "... the retry carried the new token" "Bearer $NEW" "$(emu_requests /open-apis/compensation '.[1].headers.authorization')"
check "... which replaced the refused one in the cache" 1 "$([ "$NEW" != "$OLD" ] && echo 1)"

# the rate-limit wait
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"ratelimit","reset":1}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: HTTP 429 with x-ogw-ratelimit-reset: 1: waits, retries, exit 0" "0 2" "$RC $(counter api_calls)"
check_true "... saying it waits 1 s" grep -q "waiting 1 s" "$ERR"
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"ratelimit","reset":1,"status":400,"count":1}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: code 99991400 in an HTTP 400: waits too, exit 0" "0 2" "$RC $(counter api_calls)"
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"ratelimit","reset":1,"count":10}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: still limited after 3 waits: gives up, exit 1" "1 99991400 4" \
	"$RC $(jq -r .code "$OUT") $(counter api_calls)"
emu_ctl reset >/dev/null
emu_ctl fault '{"kind":"status","status":503}' >/dev/null
lh api POST "$ARCH" "$AFTER"
check "api: HTTP 503: exit 1, no retry" "1 1" "$RC $(counter api_calls)"

# --all
emu_ctl reset >/dev/null
lh api POST '/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=2' \
	'{"user_id_list":["7140964208476372222"]}' --all
check "api --all: 7 versions in pages of 2: 4 calls" "0 4" "$RC $(counter api_calls)"
check "api --all: one object, data.items of every page, has_more false" "7 false null 0" \
	"$(jq -r '"\(.data.items | length) \(.data.has_more) \(.data.page_token) \(.code)"' "$OUT")"
check "api --all: the items in order, none twice" 7 "$(jq -r '.data.items[].tid' "$OUT" | sort -u | wc -l)"
check "api --all: pages 2-4 asked with a page_token" "false true true true" \
	"$(emu_requests /open-apis/compensation 'map(.query.page_token != null) | map(tostring) | join(" ")')"
lh api POST '/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=2' \
	'{"user_id_list":["7140964208476372222"]}'
check "api without --all: the first page only" "0 2 true" "$RC $(jq -r '"\(.data.items | length) \(.data.has_more)"' "$OUT")"

# --- path and host rules: the token goes to api_base only -----------------------
EMU_MAIN=$EMU
EMU_MAIN_PORT=$EMU_PORT
openapi_emu --app-secret "$SECRET" || exit 1
EVIL=$EMU
EVIL_PORT=$EMU_PORT
EMU=$EMU_MAIN
EMU_PORT=$EMU_MAIN_PORT
emu_ctl reset >/dev/null
for p in "/other/x" "http://127.0.0.1:$EVIL_PORT/open-apis/x" "//127.0.0.1:$EVIL_PORT/open-apis/x" \
	"/open-apis/../../x" "/open-apis/%2e%2e/x" "/open-apis/x%2f..%2fy" $'/open-apis/x\r\nHost: 127.0.0.1' \
	"/open-apis/x y" "open-apis/x" "/open-apis//127.0.0.1:$EVIL_PORT/x"; do
	lh api GET "$p"
	check "api GET [$(printf %q "$p")]: refused, exit 2" 2 "$RC"
done
lh api GET "/open-apis/x@127.0.0.1:$EVIL_PORT/y"
check "api GET /open-apis/x@HOST:PORT/y: sent to api_base, as a path" "1 /open-apis/x@127.0.0.1:$EVIL_PORT/y" \
	"$(counter api_calls) $(emu_requests /open-apis '.[-1].path')"
"${EMU_NOPROXY[@]}" strace -f -qq -e trace=connect -o "$T/strace.api" "${RUNAS[@]}" "$BIN" -c "$C" \
	api POST "$ARCH" "$AFTER" >"$T/out.strace" 2>&1
check "api connects to api_base's port only (strace)" "$EMU_PORT" \
	"$(grep -o 'sin_port=htons([0-9]*)' "$T/strace.api" | grep -o '[0-9]*' | sort -u | tr '\n' ' ' | sed 's/ $//')"
EMU=$EVIL
check "the other host got no request at all" 0 "$(emu_state '.requests | length')"
EMU=$EMU_MAIN
lh api GET "$ARCH" "$AFTER"
check "api: a body with GET: usage error, exit 2" 2 "$RC"
lh api POST "$ARCH" '{"user_id_list":'
check "api: a body that is not JSON: exit 2" 2 "$RC"
lh api FETCH "$ARCH"
check "api: an unknown method: exit 2" 2 "$RC"
lh api POST "$ARCH" "$AFTER" --query novalue
check "api: --query without =: exit 2" 2 "$RC"

# --- https_proxy is honoured -------------------------------------------------------
PP=$(free_port)
mkdir -p "$T/proxy"
printf 'Port %s\nListen 127.0.0.1\nTimeout 10\nLogFile "%s/proxy/log"\nLogLevel Connect\nMaxClients 4\n' \
	"$PP" "$T" >"$T/proxy/conf"
[ "$(id -u)" -eq 0 ] && printf 'User nobody\nGroup nogroup\n' >>"$T/proxy/conf" && chown nobody "$T/proxy"
tinyproxy -d -c "$T/proxy/conf" >"$T/proxy/out" 2>&1 &
PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PP" 2>/dev/null
APIBASE=https://open.feishu.cn apisite proxied
N=$((N + 1))
"${EMU_NOPROXY[@]}" https_proxy="http://127.0.0.1:$PP" "${RUNAS[@]}" "$BIN" -c "$C" token >"$T/out.$N" 2>"$T/err.$N"
check "token with https_proxy set and no network beyond: exit 75" 75 "$?"
check_true "... the request went to the proxy as CONNECT open.feishu.cn:443" \
	grep -q "CONNECT open.feishu.cn:443" "$T/proxy/log"

# --- TLS is verified --------------------------------------------------------------------
emu_cert "$T/tls"
EMU_SAVED=$EMU
openapi_emu --app-secret "$SECRET" --tls-cert "$T/tls/cert.pem" --tls-key "$T/tls/key.pem" || exit 1
apisite tls
lh token
check "an https api_base with a certificate nobody vouches for: exit 75" 75 "$RC"
check_true "... the message says why" grep -qi "certificate" "$ERR"
check "... and the emulator got no request" 0 "$(emu_state '.requests | length')"
EMU=$EMU_SAVED

# --- store apps and the app_ticket ------------------------------------------------------
emu_ctl reset >/dev/null
apisite store "app_type = store"
lh token --tenant "$TENANT"
check "store app, no app_ticket yet: exit 75" 75 "$RC"
check "... and Feishu is asked to resend one" 1 "$(counter ticket_resends)"
check_true "... the message says so" grep -q "app_ticket" "$ERR"
lh token
check "store app without --tenant: exit 78" 78 "$RC"
# the app_ticket event as Feishu pushes it (schema 1.0), with no hook for it
TICKET=$(emu_state .config.app_ticket)
jq -cn --arg t "$TOKEN" --arg a "$APP" --arg k "$TICKET" \
	'{uuid:"ticket-0001",token:$t,ts:"1700000000.000000",type:"event_callback",
	  event:{app_id:$a,app_ticket:$k,type:"app_ticket"}}' >"$T/ticket.plain"
cgi_signed "$C" "$T/ticket.body" "$(seal "$T/ticket.plain" "$T/ticket.body")"
check "the app_ticket event (no hook for it): 200" 200 "$(status)"
check "... kept in state/app_ticket, 0600" "600 $OWNER" "$(mode "$ST/app_ticket")"
check_true "... the log says it was kept" grep -q "app_ticket kept" "$S/larkhook.log"
lh token --tenant "$TENANT"
check "store app: token --tenant KEY: exit 0" 0 "$RC"
check "... a tenant token for that tenant" "$TENANT" \
	"$(emu_state ".tokens[] | select(.token == \"$(cat "$OUT")\") | .tenant_key")"
check "... from an app_access_token minted with the ticket" "1 $TICKET" \
	"$(counter app_token_requests) $(emu_requests /open-apis/auth/v3/app_access_token '.[0].body | fromjson | .app_ticket')"
check "... app token and tenant token cached, 0600" "600 $OWNER 600 $OWNER" \
	"$(mode "$ST/app_token") $(mode "$ST"/tenant_token.*)"
lh token --tenant "$TENANT"
check "store app: the second call comes from the cache" "0 1 1" \
	"$RC $(counter app_token_requests) $(counter tenant_token_requests)"
lh token --tenant other-tenant-01
check "store app: another tenant: its own token, the app token reused" "0 1 2 2" \
	"$RC $(counter app_token_requests) $(counter tenant_token_requests) $(ls "$ST"/tenant_token.* | wc -l)"
N=$((N + 1))
env LARK_TENANT_KEY="$TENANT" "${EMU_NOPROXY[@]}" "${RUNAS[@]}" "$BIN" -c "$C" api POST "$ARCH" "$AFTER" \
	>"$T/out.$N" 2>&1
check "store app: api takes the tenant from LARK_TENANT_KEY (as in a hook)" 0 "$?"
emu_ctl config '{"app_ticket":"tk-rotated-0002"}' >/dev/null
rm "$ST/app_token"
lh token --tenant "$TENANT" --refresh
check "store app: a kept ticket Feishu no longer takes (10012): exit 75" 75 "$RC"
check "... and a resend asked" 2 "$(counter ticket_resends)"

# --- a hook calls "$LARKHOOK" api during a real delivery ------------------------------------
# hookscript DIR: the compensation hook fetches the archive the event names
hookscript() {
	cat >"$1/fetch.sh" <<-'EOF'
	#!/bin/sh
	env >hook.env
	"$LARKHOOK" api POST "/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=10" \
		"{\"user_id_list\":[\"$LARK_EVENT_EMPLOYMENT_ID\"],\"tid_list\":[\"$LARK_EVENT_AFTER_TID\"]}" \
		>api.out 2>api.err
	echo $? >api.rc
	EOF
	chmod 755 "$1/fetch.sh"
	chown "$OWNER" "$1/fetch.sh"
}
# fetched NAME DIR: the hook's api call got the event's archive version
fetched() {
	if wait_for 20 test -s "$2/api.rc"; then
		check "$1: the hook's \"\$LARKHOOK\" api exits 0" 0 "$(cat "$2/api.rc")"
		check "$1: ... and got the version the event names" 7303487035893753388 \
			"$(jq -r '.data.items[0].tid' "$2/api.out")"
		check "$1: LARKHOOK is the binary, LARKHOOK_CONFIG the config" "LARKHOOK=$BIN LARKHOOK_CONFIG=$2/larkhook.conf" \
			"$(grep -E '^LARKHOOK(_CONFIG)?=' "$2/hook.env" | sort | tr '\n' ' ' | sed 's/ $//')"
	else
		fail "$1: the hook ran and called api" "$(cat "$2/larkhook.log" 2>/dev/null | tail -5)"
	fi
}
vector comp raw_body >"$T/comp.body"
HOOKRUN=./fetch.sh apisite hookcgi
hookscript "$S"
cgi_signed "$C" "$T/comp.body" "$(vector comp x_lark_signature)"
check "CGI delivery of the compensation event: 200" 200 "$(status)"
fetched "CGI" "$S"

HOOKRUN=./fetch.sh apisite hookfcgi
hookscript "$S"
SOCK=$T/fcgi.sock
SPAWN=(spawn-fcgi -n -s "$SOCK")
[ "$(id -u)" -eq 0 ] && SPAWN+=(-u www-data -g www-data)
"${EMU_NOPROXY[@]}" "${SPAWN[@]}" -- "$BIN" -c "$C" </dev/null >"$T/spawn.log" 2>&1 &
PIDS+=($!)
if wait_for 10 test -S "$SOCK"; then
	env -i REQUEST_METHOD=POST CONTENT_LENGTH="$(stat -c %s "$T/comp.body")" \
		HTTP_X_LARK_SIGNATURE="$(vector comp x_lark_signature)" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" \
		HTTP_X_LARK_REQUEST_NONCE="$NONCE" cgi-fcgi -bind -connect "$SOCK" <"$T/comp.body" >"$T/resp" 2>&1
	check "FastCGI delivery of the compensation event: 200" 200 "$(status)"
	fetched "FastCGI" "$S"
else
	fail "spawn-fcgi starts the responder" "$(cat "$T/spawn.log")"
fi

# --- larkhook-static cannot load libcurl: it says so ----------------------------------------
if [ -x "$ROOT/larkhook-static" ]; then
	cp "$ROOT/larkhook-static" "$T/bin/larkhook-static"
	chmod 755 "$T/bin/larkhook-static"
	N=$((N + 1))
	"${RUNAS[@]}" "$T/bin/larkhook-static" -c "$T/main/larkhook.conf" api POST "$ARCH" "$AFTER" \
		>"$T/out.$N" 2>"$T/err.$N"
	check "larkhook-static api: exit 78, no crash" 78 "$?"
	check_true "... saying to use the dynamic larkhook" grep -q "larkhook-static cannot" "$T/err.$N"
	N=$((N + 1))
	"${RUNAS[@]}" "$T/bin/larkhook-static" -c "$T/main/larkhook.conf" token >"$T/out.$N" 2>"$T/err.$N"
	check "larkhook-static token from a warm cache: exit 0 (no libcurl needed)" 0 "$?"
	rm -f "$T/main/larkhook-spool/state/tenant_token"
	N=$((N + 1))
	"${RUNAS[@]}" "$T/bin/larkhook-static" -c "$T/main/larkhook.conf" token >"$T/out.$N" 2>"$T/err.$N"
	check "larkhook-static token that must mint: exit 78" 78 "$?"
else
	fail "larkhook-static is built (make larkhook-static)"
fi

# --- the App Secret is nowhere ------------------------------------------------------------
# every output, log, spool and state file and hook environment of this suite
# is under $T; the secret files and the emulators' own output (Feishu's side
# sees the secret) are the only places it may be
leaks=$(grep -rlF -- "$SECRET" "$T" 2>/dev/null | grep -v -e '/app-secret$' -e '/openapi-emu\.' || true)
check "the App Secret is in no output, log, state file or hook environment" "" "$leaks"
check "... which covered the outputs of every larkhook run above" "$N" "$(ls "$T"/out.* | grep -c '/out\.[0-9]*$')"
