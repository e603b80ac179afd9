#!/bin/bash
# valgrind.sh: the CGI cases under valgrind (part of make check; run it
# after make in a tree built with CFLAGS="-O0 -g"). BIN becomes a wrapper
# that execs `valgrind --error-exitcode=1 --leak-check=full` on the real
# binary, so every request, the runner it forks and the commands run under
# memcheck; each case asserts its status and that valgrind reported nothing
# (no invalid access, no uninitialised use, no definite or possible leak)
# in any process it started, detached runners included.
# shellcheck source-path=SCRIPTDIR source=e2e/lib.sh
. "$(dirname "$0")/e2e/lib.sh"

if ! command -v valgrind >/dev/null; then
	fail "valgrind is installed" "run: make deps"
	exit 1
fi
VG=$T/vg
mkdir -p "$VG"
chmod 1777 "$VG"
mv "$BIN" "$T/bin/larkhook.real"
cp "$ROOT/tests/valgrind.supp" "$T/bin/valgrind.supp"
# -q: a log stays empty unless valgrind has something to say
cat >"$BIN" <<EOF
#!/bin/sh
exec valgrind -q --error-exitcode=1 --leak-check=full --suppressions=$T/bin/valgrind.supp \\
	--log-file=$VG/vg.%p $T/bin/larkhook.real "\$@"
EOF
chmod 755 "$BIN"

# vg_case NAME: what valgrind said since the last case, in every process
# it ran (wait for a runner with idle first); FAIL shows the reports.
seen=0
: >"$T/reported"
vg_case() {
	local n f reports=()
	n=$(find "$VG" -name 'vg.*' | wc -l)
	if [ "$n" -le "$seen" ]; then
		fail "$1: ran under valgrind" "no valgrind log appeared"
		return
	fi
	seen=$n
	for f in "$VG"/vg.*; do
		[ -s "$f" ] && ! grep -qxF "$f" "$T/reported" && reports+=("$f") && echo "$f" >>"$T/reported"
	done
	if [ ${#reports[@]} -eq 0 ]; then
		ok "$1: valgrind clean"
	else
		fail "$1: valgrind clean" "$(head -n 60 "${reports[@]}")"
	fi
}

S=$(site main)
C=$S/larkhook.conf
SP=$S/larkhook-spool
for v in challenge comp perf v1 card_new; do vector $v raw_body >"$T/$v.body"; done

# --- the requests -----------------------------------------------------------------
cgi "$C" "$T/challenge.body"
check "challenge: 200" 200 "$(status)"
vg_case "challenge"

cgi_signed "$C" "$T/comp.body" "$(vector comp x_lark_signature)"
check "signed event: 200" 200 "$(status)"
check "signed event: queued and run" 1 "$(queued "$SP")"
vg_case "signed event and its runner"

cgi_signed "$C" "$T/perf.body" "$(vector perf x_lark_signature)"
check "signed event with each: 200" 200 "$(status)"
idle "$SP"
vg_case "signed event with each"

cgi_signed "$C" "$T/comp.body" "$(vector comp x_lark_signature)"
check "duplicate: 200" 200 "$(status)"
idle "$SP"
vg_case "duplicate"

sig=$(vector comp x_lark_signature)
cgi_signed "$C" "$T/comp.body" "${sig:0:63}0"
check "bad signature: 401" 401 "$(status)"
vg_case "bad signature"

cgi "$C" "$T/comp.body"
check "unsigned event: 401" 401 "$(status)"
vg_case "unsigned event"

printf '{"encrypt":' >"$T/trunc.body"
cgi_signed "$C" "$T/trunc.body" "$(sign "$T/trunc.body")"
check "signed bad JSON: 400" 400 "$(status)"
vg_case "signed bad JSON"

printf '{"encrypt":"%s"}' "$(head -c 48 /dev/urandom | base64 -w0)" >"$T/pad.body"
cgi_signed "$C" "$T/pad.body" "$(sign "$T/pad.body")"
check "signed bad padding: 400" 400 "$(status)"
vg_case "signed bad padding"

S2=$(site small "max_body = 1K")
head -c 2048 /dev/zero | tr '\0' x >"$T/big.body"
cgi "$S2/larkhook.conf" "$T/big.body"
check "oversized body: 413" 413 "$(status)"
vg_case "oversized body"

cgi "$C" "$T/comp.body" REQUEST_METHOD=GET
check "GET: 405" 405 "$(status)"
vg_case "GET"

S3=$(site reply "[on card.action.trigger]" "mode = reply" "run = printf '{\"toast\":{}}'")
cgi_signed "$S3/larkhook.conf" "$T/card_new.body" "$(vector card_new x_lark_signature)"
check "reply hook: 200 with its answer" '200 {"toast":{}}' "$(status) $(resp_body)"
vg_case "reply hook"

S4=$T/plain
mkdir -p "$S4"
printf 'verification_token = %s\nlog = %s/larkhook.log\n[on compensation.archive.changed_v1]\nrun = true\n' \
	"$TOKEN" "$S4" >"$S4/larkhook.conf"
chown -R "$OWNER" "$S4"
vector comp plaintext >"$T/comp.plain"
cgi "$S4/larkhook.conf" "$T/comp.plain"
check "token-only mode, plaintext event: 200" 200 "$(status)"
idle "$S4/larkhook-spool"
vg_case "token-only mode"

# --- the commands --------------------------------------------------------------------
cmd() { "${RUNAS[@]}" "$BIN" -c "$C" "$@" >"$T/out" 2>&1; }
cmd check
check "check: exit 0" 0 "$?"
vg_case "check"
cmd status
check "status: exit 0" 0 "$?"
vg_case "status"
cmd drain
check "drain: exit 0" 0 "$?"
vg_case "drain"
cmd run "$T/comp.plain"
check "run EVENT.json: exit 0" 0 "$?"
vg_case "run"
cmd forge -u http://127.0.0.1:1/larkhook "$T/comp.plain"
check "forge: exit 0" 0 "$?"
vg_case "forge"

# --- token and api (doc/9-openapi.md), against the OpenAPI emulator -----------------
# shellcheck source=../tests/emu/lib.sh
. "$ROOT/tests/emu/lib.sh"
openapi_emu || exit 1
S5=$T/openapi
siteconf "$S5" true "app_id = cli_a1b2c3d4e5f60001" "app_secret = emu-app-secret-0001" "api_base = $EMU"
lh() { "${EMU_NOPROXY[@]}" "${RUNAS[@]}" "$BIN" -c "$S5/larkhook.conf" "$@" >"$T/out" 2>&1; }
ARCH='/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=2'
lh token
check "token, minting: exit 0" 0 "$?"
vg_case "token, minting (libcurl loaded)"
lh token
check "token from the cache: exit 0" 0 "$?"
vg_case "token from the cache"
emu_ctl fault '{"kind":"code","code":99991663}' >/dev/null
emu_ctl fault '{"kind":"ratelimit","reset":1}' >/dev/null
lh api POST "$ARCH" '{"user_id_list":["7140964208476371111"]}'
check "api through a refused token and a rate limit: exit 0" 0 "$?"
vg_case "api: re-mint, rate-limit wait"
lh api POST "$ARCH" '{"user_id_list":["7140964208476372222"]}' --all
check "api --all over 4 pages: exit 0" 0 "$?"
vg_case "api --all"
