#!/bin/bash
# install.sh: what ships beside the binary: make install / uninstall with
# PREFIX and DESTDIR, the manual page as man renders it, the example config
# and hooks (shellcheck, then run by larkhook on the seed events of
# examples/*.json), the example events sent with forge, and make demo with
# DEMO_EXIT=1.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for t in man shellcheck; do
	command -v "$t" >/dev/null || fail "$t is installed" "run: make deps"
done
version=$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")

# --- make install / uninstall
D=$T/dest
make -s -C "$ROOT" install DESTDIR="$D" PREFIX=/opt/lh >"$T/install.log" 2>&1
check "make install DESTDIR PREFIX=/opt/lh succeeds" 0 $?
check "the binary is installed under PREFIX/sbin, mode 755" \
	"755 larkhook $version" \
	"$(stat -c %a "$D/opt/lh/sbin/larkhook" 2>&1) $("$D/opt/lh/sbin/larkhook" --version 2>&1)"
page=$D/opt/lh/share/man/man8/larkhook.8
check "the manual page is installed under PREFIX/share/man/man8, mode 644" 644 "$(stat -c %a "$page" 2>&1)"
MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >"$T/man.txt" 2>"$T/man.err"
check "man -l renders larkhook(8) without a warning" "0 " "$? $(cat "$T/man.err")"
check "the page has its sections" "NAME SYNOPSIS DESCRIPTION COMMANDS CONFIGURATION FILES" \
	"$(grep -oE '^(NAME|SYNOPSIS|DESCRIPTION|COMMANDS|CONFIGURATION|FILES)$' "$T/man.txt" | tr '\n' ' ' | sed 's/ $//')"
check "the page names the version, /etc/larkhook.conf and the docs under PREFIX" "1 1 1 0" \
	"$(grep -c "larkhook $version" "$T/man.txt") $(grep -c '^ *\/etc\/larkhook.conf' "$T/man.txt") \
$(grep -c '/opt/lh/share/doc/larkhook/' "$T/man.txt") $(grep -c '@[A-Z]*@' "$T/man.txt")"
for f in examples/larkhook.conf examples/salary.sh apache/larkhook-cgi.conf apache/htaccess \
	lighttpd/larkhook-fastcgi.conf examples/nginx.conf examples/compensation.json examples/review.json \
	doc/README.md doc/4-spool.md; do
	check_true "make install ships $f" cmp -s "$ROOT/$f" "$D/opt/lh/share/doc/larkhook/$f"
done
make -s -C "$ROOT" uninstall DESTDIR="$D" PREFIX=/opt/lh >>"$T/install.log" 2>&1
check "make uninstall removes every file it installed" "0 0" "$? $(find "$D" -type f | wc -l)"
check "and the directories of its own" "" "$(cd "$D" && find . -path '*larkhook*' -type d)"
make -s -C "$ROOT" install DESTDIR="$D" >>"$T/install.log" 2>&1
check "the default PREFIX is /usr/local" "yes yes" \
	"$([ -x "$D/usr/local/sbin/larkhook" ] && echo yes) $([ -f "$D/usr/local/share/man/man8/larkhook.8" ] && echo yes)"

# --- the examples
check "the example hooks pass shellcheck" "" \
	"$(cd "$ROOT/examples" && shellcheck -x salary.sh review.sh card.sh 2>&1)"
# every $ expansion in the hooks is inside double quotes (or an arithmetic
# or a test of a fixed name): what shellcheck calls SC2086, made an error
check "the example hooks quote every variable" "" \
	"$(cd "$ROOT/examples" && shellcheck -S info -i SC2086,SC2248 -o all salary.sh review.sh card.sh 2>&1)"

# a site made of the shipped example config and hooks, with real secrets
E=$T/example
mkdir -p "$E"
sed -e "s|^verification_token = .*|verification_token = $TOKEN|" \
	-e "s|^encrypt_key = .*|encrypt_key = $KEY|" -e "s|^#log = .*|log = $E/larkhook.log|" \
	"$ROOT/examples/larkhook.conf" >"$E/larkhook.conf"
cp "$ROOT"/examples/*.sh "$E/"
chmod 600 "$E/larkhook.conf"
chown -R "$OWNER" "$E"
"${RUNAS[@]}" "$BIN" -c "$E/larkhook.conf" check >"$T/check.out" 2>&1
check "larkhook check accepts the example config" 0 $?
check "it lists the three example hooks" 3 "$(grep -c '^hook \[on ' "$T/check.out")"

# the seed events are the files examples/ ships (doc/2-config.md §2.6)
cp "$ROOT/examples/compensation.json" "$T/comp.json"
cp "$ROOT/examples/review.json" "$T/perf.json"
for v in comp perf; do
	check "examples/ ships the $v seed event: the vector's plaintext, without its token" \
		"$(vector "$v" plaintext | jq -cS 'del(.header.token)')" "$(jq -cS . "$T/$v.json" 2>&1)"
done
vector card_new plaintext >"$T/card_new.json"
jq -c '.event.action.value = {"decision": "approve"}' "$T/card_new.json" >"$T/approve.json"
# run EVENT: larkhook run on the example site, as the unprivileged user
run() { (cd "$E" && "${RUNAS[@]}" "$BIN" -c "$E/larkhook.conf" run "$1" >"$T/run.out" 2>&1); }

run "$T/comp.json"
# without app_id the example config has no OpenAPI: the hooks record ids only
rec=$E/changes/salary.$(idhash f7984f25108f8137722bb63cee927e66).env
check "salary.sh exits 0 on the salary event" "0 1" "$? $(grep -c '^--- exit 0$' "$T/run.out")"
check "and keeps the run's variables in a 0600 record" \
	"600 LARK_EVENT_EMPLOYMENT_ID=7140964208476371111" \
	"$(stat -c %a "$rec" 2>&1) $(grep '^LARK_EVENT_EMPLOYMENT_ID=' "$rec" 2>&1)"
run "$T/comp.json"
check "a second delivery of the same event changes nothing" "0 1 1" \
	"$? $(grep -c 'already handled' "$T/run.out") $(find "$E/changes" -name 'salary.*' | wc -l)"

run "$T/perf.json"
rec=$E/changes/review.$(idhash 5e3702a84e847582be8db7fb73283c02).0.env
check "review.sh exits 0 on item 0 of the review event" "0 1" \
	"$? $(grep -c '^review item 1 of 1 in 5e3702a84e847582be8db7fb73283c02 handled: ids only' "$T/run.out")"
check "its record holds the item's variables" "LARK_ITEM_SEMESTER_ID=7194320234327572499" \
	"$(grep '^LARK_ITEM_SEMESTER_ID=' "$rec" 2>&1)"

run "$T/approve.json"
check "card.sh answers an approve click with a success toast" \
	'{"toast":{"type":"success","content":"Approved"}}' "$(grep '^{' "$T/run.out")"
run "$T/card_new.json"
check "and an unknown action with a warning, still valid JSON" "warning" \
	"$(grep '^{' "$T/run.out" | jq -r .toast.type 2>&1)"
(cd "$E" && env -i PATH=/usr/bin:/bin "${RUNAS[@]}" sh ./salary.sh </dev/null >/dev/null 2>&1)
check "salary.sh outside larkhook refuses with 100 (never retried)" 100 $?

# forge EVENT | sh, with a curl that hands the request to larkhook as a CGI
# (what a web server would do), on a site of its own: the example events
# are accepted as Feishu's requests and reach their hooks
hooksite forged
F=$S
mkdir -p "$T/fakebin"
cat >"$T/fakebin/curl" <<'CURL'
#!/bin/bash
# curl -sS -i -X POST -H 'Name: value'... --data-binary BODY URL, as a CGI
env=()
while [ $# -gt 1 ]; do
	case $1 in
	-H) h=${2%%:*}; v=${2#*: }; h=${h^^}; env+=("HTTP_${h//-/_}=$v"); shift 2 ;;
	--data-binary) printf %s "$2" >"$FAKE_BODY"; shift 2 ;;
	*) shift ;;
	esac
done
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	CONTENT_LENGTH="$(stat -c %s "$FAKE_BODY")" LARKHOOK_CONFIG="$FAKE_CONF" "${env[@]}" \
	$FAKE_RUNAS "$FAKE_BIN" <"$FAKE_BODY"
CURL
chmod 755 "$T/fakebin/curl"
for ev in compensation review; do
	"$BIN" -c "$F/larkhook.conf" forge -u http://127.0.0.1:9/larkhook "$ROOT/examples/$ev.json" \
		>"$T/forge.$ev" 2>"$T/forge.$ev.err"
	PATH=$T/fakebin:$PATH FAKE_BODY=$T/forged.$ev.body FAKE_CONF=$F/larkhook.conf FAKE_BIN=$BIN \
		FAKE_RUNAS="${RUNAS[*]}" sh "$T/forge.$ev" >"$T/forged.$ev.resp" 2>&1
	check "forge examples/$ev.json | sh: 200, accepted as Feishu's request" "200" \
		"$(sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$T/forged.$ev.resp")"
done
check "both forged events were stored" 2 "$(queued "$F/larkhook-spool")"
hook_ran "the compensation hook ran for examples/compensation.json" "$F"

# --- make demo
DEMO_EXIT=1 make -s -C "$ROOT" demo </dev/null >"$T/demo.out" 2>&1
check "make demo with DEMO_EXIT=1 succeeds" 0 $?
check "it answers the challenge and stores both seed events" "1 1 1" \
	"$(grep -c '^URL verification.*(HTTP 200)' "$T/demo.out") \
$(grep -c '^compensation.archive.changed_v1 .*success.*(HTTP 200)' "$T/demo.out") \
$(grep -c '^performance.review_data.changed_v2 .*success.*(HTTP 200)' "$T/demo.out")"
check "it shows the salary hook's variables" 1 \
	"$(grep -c '^ *LARK_EVENT_EMPLOYMENT_ID=7140964208476371111$' "$T/demo.out")"
check "it shows the review hook's item variables" 1 \
	"$(grep -c '^ *LARK_ITEM_USER_ID_OPEN_ID=ou_7dab8a3d3cdcc9da365777c7ad535d62$' "$T/demo.out")"
check "the salary hook fetched the archive version the event names from the emulator" 1 \
	"$(grep -c '^ *archive version 7303487035893753388 of employment 7140964208476371111, effective 2024-01-01' "$T/demo.out")"
check "... and logged what changed by pay item id, no figure" "1 0" \
	"$(grep -c 'handled: new archive version fetched: 1 pay item(s) changed (7213568185773066284)$' "$T/demo.out") \
$(grep -c '30000\|1500\.00' "$T/demo.out")"
check "the review hook fetched the stage's review data" 1 \
	"$(grep -c 'review item 1 of 1 in 5e3702a84e847582be8db7fb73283c02 handled: 1 review data set(s), 1 stage(s)' "$T/demo.out")"
check "its closing hint shows examples/compensation.json" 1 \
	"$(grep -c '^ *"event_type": "compensation.archive.changed_v1",$' "$T/demo.out")"
check "it prints the URL and a curl line" "1 1" \
	"$(grep -c '^Webhook URL: http://127.0.0.1:[0-9]*/larkhook$' "$T/demo.out") \
$(grep -c "^  curl .*'http://127.0.0.1:[0-9]*/larkhook'$" "$T/demo.out")"
check "its log holds no field value" 0 \
	"$(sed -n '/^Log /,/^Queue/p' "$T/demo.out" | grep -c -e 7140964208476371111 -e e33ggbyz)"
