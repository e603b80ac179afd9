#!/bin/bash
# lighttpd.sh: larkhook behind a real lighttpd on 127.0.0.1, once as a CGI
# and once as a FastCGI responder lighttpd spawns itself, each through the
# shipped snippet (lighttpd/larkhook-*.conf) templated only for its paths;
# the port is in the small server config that includes it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v lighttpd >/dev/null || { fail "lighttpd is installed" "run: make deps"; exit 1; }

vector challenge raw_body >"$T/challenge.body"
vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
# the same signature with its first hex digit changed
BADSIG=$( (case ${SIG:0:1} in 0) printf 1 ;; *) printf 0 ;; esac; printf %s "${SIG:1}") )

# post MODE NAME URL [curl args...]: the response body goes to $T/MODE.NAME;
# prints "CODE CONTENT_TYPE" (000 when nothing answered).
post() {
	local out=$T/$1.$2 url=$3; shift 3
	curl -s -m 10 -o "$out" -w '%{http_code} %{content_type}' "$@" "$url"
}
# signed SIGNATURE: the three Feishu headers as curl arguments, in HDR.
signed() {
	HDR=(-H "X-Lark-Request-Timestamp: $TS" -H "X-Lark-Request-Nonce: $NONCE"
		-H "X-Lark-Signature: $1")
}


# serve MODE: start lighttpd with lighttpd/larkhook-MODE.conf; sets PORT, S.
serve() {
	hooksite "$1"
	lighttpd_start "$1" "$1" "$S"
}

# suite MODE: assertions (a) to (e) through one server.
suite() {
	local m=$1 url r sp
	serve "$m" || return
	url=http://127.0.0.1:$PORT/larkhook
	sp=$S/larkhook-spool

	r=$(post "$m" challenge "$url" --data-binary @"$T/challenge.body")
	check "$m: unsigned encrypted challenge answers 200 application/json with the challenge" \
		'200 application/json {"challenge":"ajls384kdjx98XX"}' "$r $(cat "$T/$m.challenge")"

	signed "$SIG"
	r=$(post "$m" comp "$url" "${HDR[@]}" --data-binary @"$T/comp.body")
	check "$m: signed compensation event answers 200 success" \
		'200 {"msg":"success"}' "${r%% *} $(cat "$T/$m.comp")"
	one_job "$m: one compensation job queued" "$sp"
	hook_ran "$m: its hook ran with LARK_TYPE and LARK_ID" "$S"

	r=$(post "$m" comp2 "$url" "${HDR[@]}" --data-binary @"$T/comp.body")
	check "$m: the same event again answers 200 and queues no second job" \
		'200 {"msg":"success"} 1' "${r%% *} $(cat "$T/$m.comp2") $(queued "$sp")"

	signed "$BADSIG"
	r=$(post "$m" tampered "$url" "${HDR[@]}" --data-binary @"$T/comp.body")
	check "$m: tampered signature answers 401 rejected" \
		'401 {"msg":"rejected"}' "${r%% *} $(cat "$T/$m.tampered")"

	r=$(post "$m" get "$url")
	check "$m: GET answers 405" 405 "${r%% *}"

	# lighttpd sends SIGTERM to a CGI once its response is complete: the
	# log line must already be written by then (5 requests so far)
	for _ in 1 2 3 4 5 6 7 8 9 10; do post "$m" more "$url" >/dev/null; done
	check "$m: one log line per request, none lost when the response ends" \
		15 "$(grep -c ' status=' "$S/larkhook.log")"
}

suite cgi
suite fastcgi
