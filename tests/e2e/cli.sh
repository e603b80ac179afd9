#!/bin/bash
# cli.sh: the command line (check, --help, --version, usage errors) and
# config discovery in each mode.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

S=$(site cli "max_age = 1d" "reply_max_age = 5m")
C=$S/larkhook.conf

out=$("$BIN" -c "$C" check 2>&1); rc=$?
check "check on a valid config: exit 0" 0 "$rc"
check_true "check lists the hooks" grep -q '^hook \[on compensation.archive.changed_v1\]: true$' <<<"$out"
check_true "check names the each path" grep -q 'performance.review_data.changed_v2\]: true (each items' <<<"$out"
check "check: no warning for a 0600 config with a key" 0 "$(grep -c '^warning' <<<"$out")"
check "check never prints a secret" 0 "$(grep -cF -e "$KEY" -e "$TOKEN" <<<"$out")"

chmod 644 "$C"
out=$("$BIN" -c "$C" check 2>&1)
check_true "check warns about a world-readable config holding secrets" grep -q 'readable by everyone' <<<"$out"
chmod 600 "$C"

printf 'verification_token = t\nspool = %s/public_html/spool\n' "$T" >"$T/plain.conf"
out=$("$BIN" -c "$T/plain.conf" check 2>&1); rc=$?
check "check on a token-only config: exit 0" 0 "$rc"
check_true "check warns about token-only mode" grep -q 'no encrypt_key' <<<"$out"
check_true "check warns about a spool in a document root" grep -q 'document root' <<<"$out"

printf 'verification_token = t\nretain = 7h\n' >"$T/bad.conf"
out=$("$BIN" -c "$T/bad.conf" check 2>&1); rc=$?
check "check on an invalid config: exit 1" 1 "$rc"
check_true "check names FILE:LINE" grep -q "bad.conf:2: retain: 7h is out of range" <<<"$out"
out=$("$BIN" -c "$T/missing.conf" check 2>&1); rc=$?
check "check on a missing config: exit 1" 1 "$rc"
check_true "check says the file cannot be read" grep -q 'missing.conf: cannot read the config' <<<"$out"

out=$(LARKHOOK_CONFIG=$C "$BIN" check 2>&1); rc=$?
check "check finds the config through LARKHOOK_CONFIG" 0 "$rc"
out=$(LARKHOOK_CONFIG=$T/missing.conf "$BIN" -c "$C" check 2>&1); rc=$?
check "-c wins over LARKHOOK_CONFIG" 0 "$rc"

"$BIN" --help >"$T/help" 2>&1; rc=$?
check "--help: exit 0" 0 "$rc"
check_true "--help explains check and the config search" grep -q 'LARKHOOK_CONFIG' "$T/help"
check "--version prints the version" "larkhook" "$("$BIN" --version | cut -d' ' -f1)"
"$BIN" frobnicate >/dev/null 2>&1; rc=$?
check "an unknown command: exit 2" 2 "$rc"
"$BIN" -c >/dev/null 2>&1; rc=$?
check "-c without a file: exit 2" 2 "$rc"

# larkhook.conf beside the executable, found without any setting (suEXEC)
mkdir -p "$T/beside"
cp "$BIN" "$T/beside/larkhook"
cp "$C" "$T/beside/larkhook.conf"
sed -i "s|^log = .*|log = $T/beside/larkhook.log|" "$T/beside/larkhook.conf"
chown -R "$OWNER" "$T/beside"
vector challenge raw_body >"$T/challenge.body"
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	CONTENT_LENGTH="$(stat -c %s "$T/challenge.body")" \
	"${RUNAS[@]}" "$T/beside/larkhook" <"$T/challenge.body" >"$T/resp" 2>/dev/null
check "CGI finds larkhook.conf beside the executable" 200 "$(status)"
check_true "... and uses it (its log)" grep -q 'challenge answered' "$T/beside/larkhook.log"
printf 'bogus\n' >"$T/other.conf"
chmod 644 "$T/other.conf"
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST LARKHOOK_CONFIG="$T/other.conf" \
	CONTENT_LENGTH="$(stat -c %s "$T/challenge.body")" \
	"${RUNAS[@]}" "$T/beside/larkhook" <"$T/challenge.body" >"$T/resp" 2>/dev/null
check "LARKHOOK_CONFIG wins over the file beside the executable" 500 "$(status)"

printf 'verification_token = t\nencrypt_key = k\n[on a.b]\nrun = %s/nope.sh --flag\n' "$T" >"$T/hook.conf"
chmod 600 "$T/hook.conf"
out=$("$BIN" -c "$T/hook.conf" check 2>&1); rc=$?
check "check with a missing hook program: still exit 0" 0 "$rc"
check_true "check warns that the hook program is missing" grep -q "\[on a.b\]: $T/nope.sh is not an executable file" <<<"$out"
