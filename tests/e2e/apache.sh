#!/bin/bash
# apache.sh: larkhook as a plain CGI behind a real apache2 (mpm_event +
# mod_cgid) on 127.0.0.1, through the shipped snippet apache/larkhook-cgi.conf
# templated only for its two paths; the port, modules and runtime paths are
# in the small server config that includes it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v apache2 >/dev/null || { fail "apache2 is installed" "run: make deps"; exit 1; }

vector challenge raw_body >"$T/challenge.body"
vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
# the same signature with its first hex digit changed
BADSIG=$( (case ${SIG:0:1} in 0) printf 1 ;; *) printf 0 ;; esac; printf %s "${SIG:1}") )
# 256 KiB that is not JSON, unsigned: the uniform 401, once read to the end
head -c 262144 /dev/zero | tr '\0' x >"$T/big.body"

# post NAME URL [curl args...]: the response body goes to $T/NAME, its
# headers to $T/NAME.head; prints "CODE CONTENT_TYPE" (000 when nothing answered).
post() {
	local out=$T/$1 url=$2; shift 2
	curl -s -m 20 -o "$out" -D "$out.head" -w '%{http_code} %{content_type}' "$@" "$url"
}
# signed SIGNATURE: the three Feishu headers as curl arguments, in HDR.
signed() {
	HDR=(-H "X-Lark-Request-Timestamp: $TS" -H "X-Lark-Request-Nonce: $NONCE"
		-H "X-Lark-Signature: $1")
}

# serve NAME: start apache2 with a fresh hooksite NAME; sets PORT, S, RUN.
serve() {
	hooksite "$1"
	apache_start "$1" "$S"
}

serve apache || exit 1
URL=http://127.0.0.1:$PORT/larkhook
SP=$S/larkhook-spool
LOGS=("$RUN/error.log")

# (a)
r=$(post challenge "$URL" --data-binary @"$T/challenge.body")
check "unsigned encrypted challenge answers 200 application/json with the challenge" \
	'200 application/json {"challenge":"ajls384kdjx98XX"}' "$r $(cat "$T/challenge")"

# (b)
signed "$SIG"
r=$(post comp "$URL" "${HDR[@]}" --data-binary @"$T/comp.body")
check "signed compensation event answers 200 success" \
	'200 {"msg":"success"}' "${r%% *} $(cat "$T/comp")"
one_job "one compensation job queued" "$SP"
hook_ran "its hook ran with LARK_TYPE and LARK_ID of the event" "$S"

# (c)
r=$(post comp2 "$URL" "${HDR[@]}" --data-binary @"$T/comp.body")
check "the same event again answers 200 and queues no second job" \
	'200 {"msg":"success"} 1' "${r%% *} $(cat "$T/comp2") $(queued "$SP")"

# (d)
signed "$BADSIG"
r=$(post tampered "$URL" "${HDR[@]}" --data-binary @"$T/comp.body")
check "tampered signature answers 401 rejected" \
	'401 {"msg":"rejected"}' "${r%% *} $(cat "$T/tampered")"

# (e)
r=$(post get "$URL")
check "GET answers 405 with Allow: POST" \
	'405 Allow: POST' "${r%% *} $(grep -i '^Allow:' "$T/get.head" | tr -d '\r')"

# (h) mod_cgid turns the words of a query without '=' into argv
r=$(post query "$URL?foo+bar" --data-binary @"$T/challenge.body")
check "?foo+bar on the challenge still answers 200 with the challenge" \
	'200 {"challenge":"ajls384kdjx98XX"}' "${r%% *} $(cat "$T/query")"

# (f) mod_cgid passes no CONTENT_LENGTH for a chunked body: larkhook reads
# to EOF. A fresh server and spool, so the job can only come from this one.
serve apache-chunked || exit 1
URL=http://127.0.0.1:$PORT/larkhook
LOGS+=("$RUN/error.log")
signed "$SIG"
r=$(post chunked "$URL" "${HDR[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/comp.body")
check "chunked compensation event (no CONTENT_LENGTH) answers 200 success" \
	'200 {"msg":"success"}' "${r%% *} $(cat "$T/chunked")"
one_job "chunked: one compensation job in the fresh spool" "$S/larkhook-spool"

# (g) A CGI that exits before reading its body makes mod_cgid stall and log
# "(104)Connection reset by peer ... AH00574". Rejected requests with
# bodies, announced and chunked, then the logs of both servers.
# No timing is asserted: the log line is the symptom looked for.
signed "$BADSIG"
r1=$(post tampered2 "$URL" "${HDR[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/comp.body")
r2=$(post big "$URL" --data-binary @"$T/big.body")
r3=$(post bigchunked "$URL" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.body")
check "rejected bodies are read: answered 401, no AH00574 or connection reset in the error logs" \
	'401 401 401 []' \
	"${r1%% *} ${r2%% *} ${r3%% *} [$(grep -h -e AH00574 -e 'Connection reset by peer' "${LOGS[@]}")]"
