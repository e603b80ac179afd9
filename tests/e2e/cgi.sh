#!/bin/bash
# cgi.sh: larkhook as a CGI, driven through its environment and stdin:
# every status of doc/1-flow.md §1.3, the seed events, dedupe, the uniform 401.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

S=$(site main)
C=$S/larkhook.conf
SP=$S/larkhook-spool
for v in challenge challenge16 comp perf v1; do vector $v raw_body >"$T/$v.body"; done

# --- 200: challenges and the two seed events -------------------------------
cgi "$C" "$T/challenge.body"
check "unsigned encrypted challenge: 200" 200 "$(status)"
check "challenge echoed as JSON" '{"challenge":"ajls384kdjx98XX"}' "$(resp_body)"
check_true "challenge answered with application/json" grep -q $'^Content-Type: application/json\r$' "$T/resp"
cgi "$C" "$T/challenge16.body"
check "block-aligned challenge plaintext: 200" 200 "$(status)"

cgi_signed "$C" "$T/comp.body" "$(vector comp x_lark_signature)"
check "signed compensation event: 200" 200 "$(status)"
check "compensation event answered success" '{"msg":"success"}' "$(resp_body)"
check "compensation event: one job queued" 1 "$(queued "$SP")"
job=$(grep -l '^type compensation.archive.changed_v1$' "$SP"/{new,cur,done,failed}/* 2>/dev/null | head -1)
check_true "job record names the type and id" grep -q '^id f7984f25108f8137722bb63cee927e66$' "${job:-/dev/null}"
check "job record ends with the decrypted JSON exactly" "$(vector comp plaintext)" "$(sed '1,/^$/d' "${job:-/dev/null}")"
check "job file is 0600" 600 "$(stat -c %a "${job:-/dev/null}")"
check "spool directories are 0700" "700 700 700" "$(stat -c %a "$SP" "$SP/new" "$SP/seen" | tr '\n' ' ' | sed 's/ $//')"
check "seen/ holds the sha256 of the event id" \
	"$(idhash f7984f25108f8137722bb63cee927e66)" "$(ls "$SP/seen")"

cgi_signed "$C" "$T/perf.body" "$(vector perf x_lark_signature)"
check "signed performance event: 200" 200 "$(status)"
check "performance event with each = items: one job per item" 2 "$(queued "$SP")"
check "no temp file left behind" 0 "$(count "$SP" tmp)"

# --- duplicates -------------------------------------------------------------
idle "$SP"
before=$(find "$SP" -type f | sort | md5sum)
cgi_signed "$C" "$T/comp.body" "$(vector comp x_lark_signature)"
check "duplicate delivery: 200" 200 "$(status)"
idle "$SP"
check "duplicate delivery stores nothing new" "$before" "$(find "$SP" -type f | sort | md5sum)"
check_true "duplicate is logged as such" grep -q 'reason="duplicate event id"' "$S/larkhook.log"

# the same event sent with a space after the colon: other bytes, same
# signature scheme over the raw bytes, so a raw-body verifier accepts it
S2=$(site spaced)
jq -j '.negative.perf_body_with_space_after_colon.raw_body' "$VEC" >"$T/spaced.body"
cgi_signed "$S2/larkhook.conf" "$T/spaced.body" \
	"$(jq -r '.negative.perf_body_with_space_after_colon.x_lark_signature_over_these_exact_bytes' "$VEC")"
check "body re-serialised with a space, signed over its bytes: 200" 200 "$(status)"
check "... and stored" 1 "$(queued "$S2/larkhook-spool")"

# --- no hook: acknowledged, nothing spooled ---------------------------------
cgi_signed "$C" "$T/v1.body" "$(vector v1 x_lark_signature)"
check "schema 1.0 event without a hook: 200" 200 "$(status)"
check_true "no hook is logged" grep -q 'reason="no hook for this event type" type="app_ticket"' "$S/larkhook.log"
check "schema 1.0 event without a hook: nothing spooled" 2 "$(queued "$SP")"
S3=$(site v1hook "[on app_ticket]" "run = true")
cgi_signed "$S3/larkhook.conf" "$T/v1.body" "$(vector v1 x_lark_signature)"
check "schema 1.0 event with a hook: 200" 200 "$(status)"
check_true "schema 1.0 record has the uuid as id" grep -qr '^id bc447199585340d1f3728d26b1c0297a$' "$S3/larkhook-spool"/{new,cur,done,failed}

# --- 401 on the signed path ---------------------------------------------------
sig=$(vector comp x_lark_signature)
cgi_signed "$C" "$T/comp.body" "${sig:0:63}0"
check "signature with a changed digit: 401" 401 "$(status)"
check "401 body" '{"msg":"rejected"}' "$(resp_body)"
cgi_signed "$C" "$T/comp.body" "${sig^^}"
check "uppercase signature: 401" 401 "$(status)"
cgi_signed "$C" "$T/comp.body" "${sig:0:62}"
check "short signature: 401" 401 "$(status)"
cgi "$C" "$T/comp.body" HTTP_X_LARK_SIGNATURE="$sig" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS"
check "signature without nonce: 401" 401 "$(status)"
cgi_signed "$C" "$T/comp.body" "$sig" HTTP_X_LARK_REQUEST_NONCE=other
check "signature over another nonce: 401" 401 "$(status)"
{ cat "$T/comp.body"; printf ' '; } >"$T/comp-space.body"
cgi_signed "$C" "$T/comp-space.body" "$sig"
check "one byte appended to a signed body: 401" 401 "$(status)"
cgi_signed "$C" "$T/comp.body" "$sig, $sig"
check "two signature headers merged by the server: 401" 401 "$(status)"
long=$(head -c 300 /dev/zero | tr '\0' n)
cgi "$C" "$T/comp.body" HTTP_X_LARK_SIGNATURE="$(NONCE=$long sign "$T/comp.body")" \
	HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$long"
check "a 300-byte nonce, even correctly signed: 401" 401 "$(status)"

# --- the unsigned path: one response, byte for byte -----------------------------
cgi "$C" "$T/comp.body"
cp "$T/resp" "$T/r401"
check "unsigned event: 401" 401 "$(status)"
unsigned_case() { # NAME BODYFILE
	cgi "$C" "$2"
	if cmp -s "$T/resp" "$T/r401"; then ok "unsigned $1: the same 401 byte for byte"
	else fail "unsigned $1: the same 401 byte for byte" "$(head -1 "$T/resp")"; fi
}
printf '{"challenge":"c","token":"wrong-token","type":"url_verification"}' >"$T/p-badtoken"
seal "$T/p-badtoken" "$T/badtoken.body" >/dev/null
unsigned_case "challenge with a wrong token" "$T/badtoken.body"
printf '{"challenge":"c","type":"url_verification"}' >"$T/p-notoken"
seal "$T/p-notoken" "$T/notoken.body" >/dev/null
unsigned_case "challenge without a token" "$T/notoken.body"
printf '{"challenge":"%s","token":"%s","type":"url_verification"}' "$(head -c 1025 /dev/zero | tr '\0' c)" "$TOKEN" >"$T/p-long"
seal "$T/p-long" "$T/long.body" >/dev/null
unsigned_case "challenge over 1 KiB" "$T/long.body"
printf 'not json at all' >"$T/p-notjson"
seal "$T/p-notjson" "$T/notjson.body" >/dev/null
unsigned_case "plaintext that is not JSON" "$T/notjson.body"
printf '{"challenge":"c","token":"%s","type":"url_verification"} x' "$TOKEN" >"$T/p-trail"
seal "$T/p-trail" "$T/trail.body" >/dev/null
unsigned_case "plaintext with trailing data" "$T/trail.body"
printf '{"encrypt":"AAECAwQFBgcICQoLDA0ODy0jLftcnnjB2FTKFeMqR6N!"}' >"$T/b64.body"
unsigned_case "bad base64" "$T/b64.body"
printf '{"encrypt":"%s"}' "$(head -c 16 /dev/zero | base64)" >"$T/len16.body"
unsigned_case "16 bytes (an IV, no block)" "$T/len16.body"
printf '{"encrypt":"%s"}' "$(head -c 33 /dev/zero | base64)" >"$T/len33.body"
unsigned_case "33 bytes (not whole blocks)" "$T/len33.body"
printf '{"encrypt":"%s"}' "$(head -c 48 /dev/urandom | base64 -w0)" >"$T/pad.body"
unsigned_case "random blocks (bad padding)" "$T/pad.body"
printf '{"encrypt":42}' >"$T/num.body"
unsigned_case "encrypt not a string" "$T/num.body"
printf '{"encrypt":"x"' >"$T/trunc.body"
unsigned_case "truncated outer JSON" "$T/trunc.body"
printf '{"challenge":"c","token":"%s","type":"url_verification"}' "$TOKEN" >"$T/plainchal.body"
unsigned_case "plaintext challenge when a key is set" "$T/plainchal.body"
check "nothing from the unsigned path was spooled" 2 "$(queued "$SP")"

# --- 400 on the signed path: the sender is authenticated, errors are precise --
signed_case() { # NAME BODYFILE EXPECTED
	cgi_signed "$C" "$2" "$(sign "$2")"
	check "signed $1: $3" "$3" "$(status)"
}
printf '{"encrypt":' >"$T/s-trunc.body"
signed_case "truncated JSON" "$T/s-trunc.body" 400
printf '{"encrypt":"@@@@"}' >"$T/s-b64.body"
signed_case "bad base64" "$T/s-b64.body" 400
printf '{"encrypt":"%s"}' "$(head -c 48 /dev/urandom | base64 -w0)" >"$T/s-pad.body"
signed_case "bad padding" "$T/s-pad.body" 400
printf '[1,2]' >"$T/s-array.body"
signed_case "array body" "$T/s-array.body" 400
printf '{"a":1}' >"$T/s-noenc.body"
signed_case "plaintext body when a key is set" "$T/s-noenc.body" 401
seal_case() { # NAME PLAINTEXT EXPECTED
	printf %s "$2" >"$T/p-case"
	seal "$T/p-case" "$T/case.body" >/dev/null
	signed_case "$1" "$T/case.body" "$3"
}
hdr() { printf '{"schema":"2.0","header":{%s"token":"%s"},"event":{}}' "$1" "$TOKEN"; }
seal_case "event without event_id" "$(hdr '"event_type":"a.b",')" 400
seal_case "event without event_type" "$(hdr '"event_id":"e1",')" 400
seal_case "event with an empty id" "$(hdr '"event_id":"","event_type":"a.b",')" 400
seal_case "event id with a newline" "$(hdr '"event_id":"e\n1","event_type":"a.b",')" 400
seal_case "event type with ESC" "$(hdr '"event_id":"e1","event_type":"a\u001bb",')" 400
seal_case "event id of 257 bytes" "$(hdr "\"event_id\":\"$(head -c 257 /dev/zero | tr '\0' a)\",\"event_type\":\"a.b\",")" 400
seal_case "event type as a number" "$(hdr '"event_id":"e1","event_type":7,')" 400
seal_case "neither event nor challenge" "{\"token\":\"$TOKEN\"}" 400
seal_case "duplicate keys in the plaintext" "$(printf '{"schema":"2.0","header":{"event_id":"e1","event_type":"a.b","token":"%s","token":"x"},"event":{}}' "$TOKEN")" 400
seal_case "signed event with a wrong token" "$(printf '{"schema":"2.0","header":{"event_id":"e1","event_type":"a.b","token":"nope"},"event":{}}')" 401
seal_case "signed event with an id of 256 bytes" "$(hdr "\"event_id\":\"$(head -c 256 /dev/zero | tr '\0' a)\",\"event_type\":\"x.y\",")" 200

# --- 400: framing ------------------------------------------------------------------
cgi "$C" "$T/comp.body" CONTENT_LENGTH=12x
check "malformed CONTENT_LENGTH: 400" 400 "$(status)"
cgi "$C" "$T/comp.body" CONTENT_LENGTH=-5
check "negative CONTENT_LENGTH: 400" 400 "$(status)"
cgi "$C" "$T/comp.body" CONTENT_LENGTH=" 12"
check "CONTENT_LENGTH with a space: 400" 400 "$(status)"
cgi "$C" "$T/comp.body" CONTENT_LENGTH=5000
check "body shorter than CONTENT_LENGTH: 400" 400 "$(status)"
: >"$T/empty.body"
cgi_signed "$C" "$T/empty.body" "$(sign "$T/empty.body")"
check "signed empty body: 400" 400 "$(status)"
cgi "$C" "$T/empty.body"
check "unsigned empty body: 401" 401 "$(status)"

# a missing CONTENT_LENGTH means: read to the end of input
S4=$(site nolength)
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	LARKHOOK_CONFIG="$S4/larkhook.conf" HTTP_X_LARK_SIGNATURE="$sig" \
	HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE" \
	"${RUNAS[@]}" "$BIN" <"$T/comp.body" >"$T/resp" 2>/dev/null
check "no CONTENT_LENGTH: body read to the end, 200" 200 "$(status)"
check "no CONTENT_LENGTH: stored" 1 "$(queued "$S4/larkhook-spool")"

# --- 405 ---------------------------------------------------------------------------
cgi "$C" "$T/comp.body" REQUEST_METHOD=GET
check "GET: 405" 405 "$(status)"
check_true "405 says Allow: POST" grep -q $'^Allow: POST\r$' "$T/resp"
cgi "$C" "$T/comp.body" REQUEST_METHOD=PUT
check "PUT: 405" 405 "$(status)"

# --- 408: a body that never arrives ---------------------------------------------------
S5=$(site slow "read_timeout = 1")
mkfifo "$T/fifo"
sleep 30 >"$T/fifo" &
PIDS+=($!)
writer=$!
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST CONTENT_LENGTH=100 \
	LARKHOOK_CONFIG="$S5/larkhook.conf" "${RUNAS[@]}" "$BIN" <"$T/fifo" >"$T/resp" 2>/dev/null
check "body not sent within read_timeout: 408" 408 "$(status)"
kill "$writer" 2>/dev/null

# --- 413 -------------------------------------------------------------------------------
S6=$(site small "max_body = 1K")
head -c 1025 /dev/zero | tr '\0' ' ' >"$T/1025.body"
cgi "$S6/larkhook.conf" "$T/1025.body"
check "CONTENT_LENGTH over max_body: 413" 413 "$(status)"
cgi "$C" "$T/comp.body" CONTENT_LENGTH=99999999999999999999999999
check "CONTENT_LENGTH too large to hold: 413" 413 "$(status)"
head -c 2000 /dev/zero | tr '\0' ' ' >"$T/big.body"
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	LARKHOOK_CONFIG="$S6/larkhook.conf" "${RUNAS[@]}" "$BIN" <"$T/big.body" >"$T/resp" 2>/dev/null
check "body over max_body without CONTENT_LENGTH: 413" 413 "$(status)"

# --- 500: misconfiguration -------------------------------------------------------------
S7=$(site plain)
sed -i '/^encrypt_key/d' "$S7/larkhook.conf"
cgi "$S7/larkhook.conf" "$T/comp.body"
check "encrypted body, no encrypt_key configured: 500" 500 "$(status)"
check_true "... logged as such" grep -q 'encrypted body but no encrypt_key configured' "$S7/larkhook.log"
cgi "$T/nonexistent.conf" "$T/comp.body"
check "unreadable config: 500" 500 "$(status)"
check_true "unreadable config: the error names the file" grep -q 'nonexistent.conf: cannot read the config' "$T/stderr"
printf 'bogus_key = 1\n' >"$T/bad.conf"
chmod 644 "$T/bad.conf"
cgi "$T/bad.conf" "$T/comp.body"
check "invalid config: 500" 500 "$(status)"
check_true "invalid config: FILE:LINE in the log" grep -q 'bad.conf:1: unknown key "bogus_key"' "$T/stderr"
if [ "$(id -u)" -eq 0 ]; then
	S8=$(site asroot)
	saved=("${RUNAS[@]}")
	RUNAS=()
	cgi_signed "$S8/larkhook.conf" "$T/comp.body" "$sig"
	check "running as root: 500" 500 "$(status)"
	check "running as root: nothing spooled" 0 "$(queued "$S8/larkhook-spool")"
	# the refusal comes before the log is opened: a log file made by root
	# would lock the real user out of it
	check_true "running as root: the refusal is on standard error (the server's log)" \
		grep -q 'refusing to run as root' "$T/stderr"
	check "running as root: the log file is not created (root would own it)" no \
		"$([ -e "$S8/larkhook.log" ] && echo yes || echo no)"
	printf 'verification_token = %s\nencrypt_key = %s\nlog = %s\nallow_root = yes\nmax_age = 0\nreply_max_age = 0\n[on compensation.archive.changed_v1]\nrun = true\n' \
		"$TOKEN" "$KEY" "$S8/larkhook.log" >"$S8/larkhook.conf"
	cgi_signed "$S8/larkhook.conf" "$T/comp.body" "$sig"
	check "running as root with allow_root = yes: 200" 200 "$(status)"
	RUNAS=("${saved[@]}")
fi

# --- token-only mode ----------------------------------------------------------------------
cgi "$S7/larkhook.conf" "$T/plainchal.body"
check "token-only challenge: 200" 200 "$(status)"
check "token-only challenge answer" '{"challenge":"c"}' "$(resp_body)"
cgi "$S7/larkhook.conf" "$T/p-badtoken"
check "token-only challenge with a wrong token: 401" 401 "$(status)"
vector comp plaintext >"$T/comp.plain"
cgi "$S7/larkhook.conf" "$T/comp.plain"
check "token-only event: 200" 200 "$(status)"
check "token-only event: stored" 1 "$(queued "$S7/larkhook-spool")"
printf '{"challenge":"a\\"b<\\/c\\u00e9","token":"%s","type":"url_verification"}' "$TOKEN" >"$T/esc.body"
cgi "$S7/larkhook.conf" "$T/esc.body"
check "challenge with quotes is JSON-escaped in the answer" '{"challenge":"a\"b</cé"}' "$(resp_body)"

# --- replay window --------------------------------------------------------------------------
S9=$(site window "max_age = 8h")
cgi_signed "$S9/larkhook.conf" "$T/comp.body" "$sig"
check "max_age = 8h, timestamp from 2023: 401" 401 "$(status)"
now=$(date +%s)
sig_now=$(TS=$now sign "$T/comp.body")
cgi "$S9/larkhook.conf" "$T/comp.body" HTTP_X_LARK_SIGNATURE="$sig_now" \
	HTTP_X_LARK_REQUEST_TIMESTAMP="$now" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
check "max_age = 8h, timestamp now: 200" 200 "$(status)"

# --- CGI mode ignores argv ----------------------------------------------------------------------
S10=$(site argv)
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	CONTENT_LENGTH="$(stat -c %s "$T/challenge.body")" LARKHOOK_CONFIG="$S10/larkhook.conf" \
	"${RUNAS[@]}" "$BIN" -c /nonexistent check <"$T/challenge.body" >"$T/resp" 2>/dev/null
check "CGI with query words as argv: argv ignored, 200" 200 "$(status)"

# --- the log: one line per request, no secrets, no field values -------------------------------
logs=$(cat "$T"/*/larkhook.log)
check_true "log lines carry status and reason" grep -q 'status=401 reason="signature mismatch"' "$S/larkhook.log"
check "log holds no encrypt key" 0 "$(grep -cF "$KEY" <<<"$logs")"
check "log holds no verification token" 0 "$(grep -cF "$TOKEN" <<<"$logs")"
check "log holds no event field values" 0 "$(grep -cE '7140964208476371111|ou_7dab8a3d3cdcc9da365777c7ad535d62|ajls384kdjx98XX' <<<"$logs")"

# --- secrets read from files (one trailing newline dropped) ---------------------------------
S11=$(site secretfiles)
printf '%s\n' "$KEY" >"$S11/key"
printf '%s\n' "$TOKEN" >"$S11/token"
sed -i -e "s|^encrypt_key = .*|encrypt_key_file = key|" \
	-e "s|^verification_token = .*|verification_token_file = $S11/token|" "$S11/larkhook.conf"
chown "$OWNER" "$S11/key" "$S11/token"
chmod 600 "$S11/key" "$S11/token"
cgi_signed "$S11/larkhook.conf" "$T/comp.body" "$sig"
check "secrets from encrypt_key_file (relative) and verification_token_file: 200" 200 "$(status)"
check "... and the event is stored" 1 "$(queued "$S11/larkhook-spool")"

# --- 20 deliveries of one event at once: one claim, one job ----------------------------------
S12=$(site concurrent)
pids=()
for i in $(seq 20); do
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		CONTENT_LENGTH="$(stat -c %s "$T/comp.body")" LARKHOOK_CONFIG="$S12/larkhook.conf" \
		HTTP_X_LARK_SIGNATURE="$sig" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" \
		HTTP_X_LARK_REQUEST_NONCE="$NONCE" "${RUNAS[@]}" "$BIN" <"$T/comp.body" >"$T/par.$i" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
# a duplicate answers 200 once the first intake is durable; one that finds
# it still at work after SPOOL_WAIT_MS (a loaded machine) answers 503
busy=$(grep -c 'reason="duplicate of an intake still at work' "$S12/larkhook.log")
check "20 simultaneous deliveries: each answered 200, or 503 while the first was at work" 20 \
	"$(($(grep -l '^Status: 200' "$T"/par.* | wc -l) + $(grep -l '^Status: 503' "$T"/par.* | wc -l)))"
check "20 simultaneous deliveries: every 503 is a duplicate that met the first still at work" "$busy" \
	"$(grep -l '^Status: 503' "$T"/par.* | wc -l)"
check "20 simultaneous deliveries: exactly one job" 1 "$(queued "$S12/larkhook-spool")"
check "20 simultaneous deliveries: one stored, the other 19 duplicates" "1 19" \
	"$(grep -c 'reason="event stored"' "$S12/larkhook.log") $(($(grep -c 'reason="duplicate event id"' "$S12/larkhook.log") + busy))"
check "20 simultaneous deliveries: no temp record left" 0 "$(count "$S12/larkhook-spool" tmp)"
