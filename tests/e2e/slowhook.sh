#!/bin/bash
# slowhook.sh: a slow hook neither delays the answer nor dies with the
# request, behind real web servers on 127.0.0.1: lighttpd CGI, lighttpd
# FastCGI (each through the shipped lighttpd/larkhook-*.conf) and apache2
# mpm_event + mod_cgid (apache/larkhook-cgi.conf), started as lighttpd.sh
# and apache.sh start them, one site per server. The compensation hook
# sleeps 4 s between two markers; the answer must come before the second.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for c in lighttpd apache2; do
	command -v "$c" >/dev/null || { fail "$c is installed" "run: make deps"; exit 1; }
done
SLEEP=4	# the hook's sleep, seconds

vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
ID=$(vector comp plaintext | jq -r .header.event_id)
# a second, distinct compensation event (FastCGI), sealed like Feishu does
ID2=slowhook-second-event-0001
vector comp plaintext | jq -c --arg id "$ID2" '.header.event_id = $id' >"$T/comp2.plain"
SIG2=$(seal "$T/comp2.plain" "$T/comp2.body")

# The hook, run by /bin/sh in the config's directory: it notes its own
# session and the process table (pid, ppid) as it sees it, one line in
# runs per run, then the two markers around the sleep. No " #" in it: that
# would start a comment.
HOOK='ps -o sid= -p $$ >sid.$LARK_ID; echo $$ >pid.$LARK_ID;'
HOOK+=' ps -e -o pid= -o ppid= >ps.$LARK_ID; echo $LARK_ID >>runs;'
HOOK+=" touch started.\$LARK_ID; sleep $SLEEP; touch finished.\$LARK_ID"

# conf NAME: a fresh site NAME whose only hook is the slow one; sets S.
conf() {
	S=$(site "$1")
	{
		echo "verification_token = $TOKEN"
		echo "encrypt_key = $KEY"
		echo "log = $S/larkhook.log"
		window_off
		echo "[on compensation.archive.changed_v1]"
		echo "run = $HOOK"
	} >"$S/larkhook.conf"
	chmod 600 "$S/larkhook.conf"
	chown "$OWNER" "$S/larkhook.conf"
}

# lighttpd_serve MODE (cgi or fastcgi): as lighttpd.sh does; sets PORT, S,
# SERVER (lighttpd's pid).
lighttpd_serve() {
	conf "$1"
	lighttpd_start "$1" "$1" "$S"
}

# apache_serve: as apache.sh does; sets PORT, S, SERVER (apache's parent).
apache_serve() {
	conf apache
	apache_start apache "$S"
}

# send NAME BODY SIGNATURE EVENT_ID: POST the signed event to $URL; the body
# goes to $T/NAME. Sets CODE and TIME (curl's time_total), and GONE to
# "no" when the hook's finished marker did not exist yet once curl returned.
send() {
	local r
	r=$(curl -s -m 10 -o "$T/$1" -w '%{http_code} %{time_total}' \
		-H "X-Lark-Request-Timestamp: $TS" -H "X-Lark-Request-Nonce: $NONCE" \
		-H "X-Lark-Signature: $3" --data-binary @"$2" "$URL")
	if [ -e "$S/finished.$4" ]; then GONE=yes; else GONE=no; fi
	CODE=${r%% *} TIME=${r#* }
}
# below SECONDS VALUE: VALUE < SECONDS
below() { awk -v t="$2" -v l="$1" 'BEGIN { exit !(t != "" && t + 0 < l + 0) }'; }

# answered LABEL NAME WHICH: the checks on the answer send just got; WHICH
# names the hook whose finished marker send looked at.
answered() {
	check "$1: 200 {\"msg\":\"success\"}" '200 {"msg":"success"}' "$CODE $(cat "$T/$2")"
	check "$1: $3 had not finished when the answer arrived" \
		"finished marker absent" "finished marker $([ "$GONE" = no ] && echo absent || echo present)"
	check_true "$1: answered in $TIME s while the hook sleeps $SLEEP s" below "$SLEEP" "$TIME"
}

# ancestors PSFILE PID: PID and its ancestors, from a "pid ppid" snapshot.
ancestors() {
	awk -v p="$2" '{ pp[$1] = $2 } END { n = 0; while (p > 1 && n++ < 100) { print p; p = pp[p] } }' "$1"
}

# ran LABEL EVENT_ID: the hook ran to its end, once, outside the server.
ran() {
	local l=$1 id=$2 sid ssid chain
	check_true "$l: the hook started" wait_for 15 test -e "$S/started.$id"
	check_true "$l: the hook finished (not killed when the request ended)" \
		wait_for 15 test -e "$S/finished.$id"
	check_true "$l: the runner logs the run as exit 0, done" \
		wait_for 10 grep -q "$id.*attempt 1: exit 0; done" "$S/larkhook.log"
	check "$l: the hook ran once" 1 "$(grep -cxF "$id" "$S/runs")"
	sid=$(tr -d ' ' <"$S/sid.$id")
	ssid=$(ps -o sid= -p "$SERVER" | tr -d ' ')
	check_true "$l: the hook's session ($sid) is not the server's (pid $SERVER, session $ssid)" \
		test -n "$sid" -a -n "$ssid" -a "$sid" != "$SERVER" -a "$sid" != "$ssid"
	chain=$(ancestors "$S/ps.$id" "$(cat "$S/pid.$id")" | tr '\n' ' ')
	if [ -n "$chain" ] && ! grep -qw "$SERVER" <<<"$chain"; then
		ok "$l: the hook is not a descendant of the server $SERVER (ancestry: $chain)"
	else
		fail "$l: the hook is not a descendant of the server $SERVER" "ancestry: [$chain]"
	fi
}

# lighttpd CGI, lighttpd FastCGI
for mode in cgi fastcgi; do
	case $mode in cgi) L="lighttpd CGI" ;; fastcgi) L="lighttpd FastCGI" ;; esac
	lighttpd_serve "$mode" || continue
	URL=http://127.0.0.1:$PORT/larkhook
	send "$mode.comp" "$T/comp.body" "$SIG" "$ID"
	answered "$L" "$mode.comp" "the hook"
	if [ "$mode" = fastcgi ]; then
		# while the first hook sleeps (the runner is busy with it), the
		# same responder takes a second event and answers at once
		check_true "$L: the first hook started before the second event" \
			wait_for 15 test -e "$S/started.$ID"
		send "$mode.comp2" "$T/comp2.body" "$SIG2" "$ID"
		answered "$L second event" "$mode.comp2" "the first hook"
	fi
	ran "$L" "$ID"
	[ "$mode" = fastcgi ] && ran "$L second event" "$ID2"
	check_true "$L: the runner exits once nothing is due" idle "$S/larkhook-spool"
	check "$L: one line in runs per event" "$([ "$mode" = fastcgi ] && echo 2 || echo 1)" \
		"$(grep -c . "$S/runs")"
done

# apache2 mod_cgid
L="apache mod_cgid"
if apache_serve; then
	URL=http://127.0.0.1:$PORT/larkhook
	send apache.comp "$T/comp.body" "$SIG" "$ID"
	answered "$L" apache.comp "the hook"
	ran "$L" "$ID"
	check_true "$L: the runner exits once nothing is due" idle "$S/larkhook-spool"
	check "$L: one line in runs" 1 "$(grep -c . "$S/runs")"
fi
