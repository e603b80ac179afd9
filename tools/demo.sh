#!/bin/bash
# demo.sh: larkhook as a CGI behind a real lighttpd on 127.0.0.1, with the
# example config and hooks of examples/ and fresh keys, and the project's
# OpenAPI emulator (tests/emu/openapi.js, node) as the app's api_base; sends
# the two seed events (examples/compensation.json and review.json) and a
# card click as Feishu would, and shows what the hooks received and what
# they fetched from the OpenAPI with "$LARKHOOK" api.
# DEMO_EXIT=1 exits after the sample events instead of serving until Ctrl-C.
# DEMO_MODE=connect: no web server; `larkhook connect` holds the long
# connection to the project's long-connection emulator (tests/emu/lc.js)
# and the same events arrive over it.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
sh tests/deps.sh
make -s larkhook

T=$(mktemp -d /tmp/larkhook-demo.XXXXXX)
chmod 755 "$T"
LPID=
EPID=
CPIDS=
stop() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	[ -n "$EPID" ] && kill "$EPID" 2>/dev/null && wait "$EPID" 2>/dev/null
	for p in $CPIDS; do kill "$p" 2>/dev/null && { wait "$p" 2>/dev/null || :; }; done
	rm -rf "$T"
}
trap stop EXIT
trap 'exit 0' INT TERM

user=$(id -un)
[ "$user" = root ] && user=www-data	# larkhook refuses to serve as root
KEY=$(openssl rand -hex 16)
TOKEN=$(openssl rand -hex 16)
mkdir -p "$T/bin" "$T/site" "$T/www" "$T/run"
cp larkhook "$T/bin/larkhook"

# the OpenAPI emulator on 127.0.0.1 (a port of its choosing), with its
# default app id and a fresh secret; the proxies of the environment are not
# for it
APPSECRET=$(openssl rand -hex 16)
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
	node tests/emu/openapi.js --app-secret "$APPSECRET" >"$T/run/emu.out" 2>"$T/run/emu.err" &
EPID=$!
for _ in $(seq 200); do grep -q '^url=' "$T/run/emu.out" && break; sleep 0.05; done
API=$(sed -n 's/^url=//p' "$T/run/emu.out")
[ -n "$API" ] || { echo "demo: the OpenAPI emulator did not start: $(cat "$T/run/emu.err")" >&2; exit 1; }

# the shipped example config and hooks, with fresh secrets, a log file and
# the emulator as the app's OpenAPI
sed -e "s|^verification_token = .*|verification_token = $TOKEN|" \
	-e "s|^encrypt_key = .*|encrypt_key = $KEY|" \
	-e "s|^#log = .*|log = $T/site/larkhook.log|" \
	-e "s|^#app_id = .*|app_id = cli_a1b2c3d4e5f60001|" \
	-e "s|^#app_secret_file = .*|app_secret_file = $T/site/app-secret|" \
	-e "s|^#api_base = .*|api_base = $API|" \
	examples/larkhook.conf >"$T/site/larkhook.conf"
grep -q "^encrypt_key = $KEY\$" "$T/site/larkhook.conf" && grep -q "^api_base = $API\$" "$T/site/larkhook.conf" ||
	{ echo "demo: examples/larkhook.conf has no encrypt_key or #api_base line" >&2; exit 1; }
printf '%s\n' "$APPSECRET" >"$T/site/app-secret"
chmod 600 "$T/site/larkhook.conf" "$T/site/app-secret"
cp examples/salary.sh examples/review.sh examples/card.sh "$T/site/"
chown -R "$user" "$T/site" "$T/run"

# results: what the hooks received and fetched, the log, the queue; first
# the wait for both hooks' files (the runner works detached from the
# request; 20 s at most).
results() {
	for _ in $(seq 400); do
		[ "$(find "$T/site/changes" -name '*.env' 2>/dev/null | wc -l)" -ge 2 ] && break
		sleep 0.05
	done
	echo "What the hooks received (examples/salary.sh and review.sh keep each run's LARK_ variables):"
	for f in "$T"/site/changes/*.env; do
		echo "--- ${f##*/}"
		sed 's/^/    /' "$f"
	done
	echo
	echo "What the hooks fetched with \"\$LARKHOOK\" api (kept 0600 in changes/; figures stay out of the log):"
	for f in "$T"/site/changes/*.json; do
		[ -e "$f" ] || { echo "    (nothing: see the log)"; break; }
		echo "--- ${f##*/}"
		case ${f##*/} in
		salary.*) jq -r '.data.items[] | "    archive version \(.tid) of employment \(.user_id), effective \(.effective_date): pay items \([.archive_items[].item_id] | join(", "))"' "$f" ;;
		*) jq -r '.data.datas[] | "    review of \(.user_id.open_id) in semester \(.semester_id): \(.stages | length) stage(s), \([.stages[].records[]?] | length) record(s)"' "$f" ;;
		esac
	done
	echo "The emulator saw: $(curl -s --noproxy '*' "$API/_emu/state?requests=0" |
		jq -r '.counters | "\(.tenant_mints) token mint(s) for \(.api_calls) API call(s)"')"
	echo
	echo "Log ($T/site/larkhook.log):"
	sed 's/^/    /' "$T/site/larkhook.log"
	echo
	echo "Queue (larkhook status):"
	"$T/bin/larkhook" -c "$T/site/larkhook.conf" status 2>&1 | sed 's/^/    /'
}

# --- DEMO_MODE=connect: the same events over the long connection ----------------
if [ "${DEMO_MODE:-}" = connect ]; then
	# the long-connection emulator, with the same app and secret
	env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		node tests/emu/lc.js --app-secret "$APPSECRET" --quiet >"$T/run/lc.out" 2>"$T/run/lc.err" &
	CPIDS="$CPIDS $!"
	for _ in $(seq 200); do grep -q '^url=' "$T/run/lc.out" && break; sleep 0.05; done
	LC=$(sed -n 's/^url=//p' "$T/run/lc.out")
	[ -n "$LC" ] || { echo "demo: the long-connection emulator did not start: $(cat "$T/run/lc.err")" >&2; exit 1; }
	# open.feishu.cn serves both the long connection's endpoint and the
	# OpenAPI: a small router on one port sends each to its emulator
	LC="$LC" API="$API" node -e '
		const http = require("http");
		const s = http.createServer((req, res) => {
			const to = new URL(req.url.startsWith("/callback/ws/") ? process.env.LC : process.env.API);
			const up = http.request({ host: to.hostname, port: to.port, method: req.method,
				path: req.url, headers: req.headers }, (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
			up.on("error", () => { res.writeHead(502); res.end(); });
			req.pipe(up);
		});
		s.listen(0, "127.0.0.1", () => console.log("url=http://127.0.0.1:" + s.address().port));
		process.on("SIGTERM", () => process.exit(0));
	' >"$T/run/router.out" 2>&1 &
	CPIDS="$CPIDS $!"
	for _ in $(seq 200); do grep -q '^url=' "$T/run/router.out" && break; sleep 0.05; done
	FEISHU=$(sed -n 's/^url=//p' "$T/run/router.out")
	[ -n "$FEISHU" ] || { echo "demo: the router did not start: $(cat "$T/run/router.out")" >&2; exit 1; }
	sed -i "s|^api_base = .*|api_base = $FEISHU|" "$T/site/larkhook.conf"
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$user" --regid="$user" --clear-groups \
			"$T/bin/larkhook" -c "$T/site/larkhook.conf" connect </dev/null >"$T/run/connect.log" 2>&1 &
	else
		"$T/bin/larkhook" -c "$T/site/larkhook.conf" connect </dev/null >"$T/run/connect.log" 2>&1 &
	fi
	CPID=$!
	CPIDS="$CPID $CPIDS"
	curl -sf --noproxy '*' -o /dev/null "$LC/_emu/wait?conns=1&pings=1&timeout=15" ||
		{ echo "demo: larkhook connect did not connect: $(cat "$T/run/connect.log")" >&2; exit 1; }
	echo "larkhook demo: larkhook connect holds the long connection (no web server, no public URL)"
	echo "               to the emulator tests/emu/lc.js; config $T/site/larkhook.conf"
	echo "               endpoint and OpenAPI at $FEISHU (both emulators behind one port)"
	echo
	# push NAME FILE [PUSH-OPTIONS]: Feishu sends the event over the
	# connection; print larkhook's ack
	push() {
		jq -nc --rawfile e "$2" --argjson o "${3:-{\}}" '{event: ($e | rtrimstr("\n")), wait: true} + $o' |
			curl -s --noproxy '*' -X POST --data-binary @- "$LC/_emu/push" >"$T/push.json"
		printf '%-44s -> ack %s\n' "$1" "$(jq -c '.ack | {code, biz_rt, data: .data_json} | del(..|nulls)' "$T/push.json")"
	}
	jq -c . examples/compensation.json >"$T/comp.json"
	jq -c . examples/review.json >"$T/perf.json"
	push "compensation.archive.changed_v1 (3 pieces)" "$T/comp.json" '{"fragments":3,"order":"reverse"}'
	push "performance.review_data.changed_v2" "$T/perf.json"
	push "the same salary event again (redelivery)" "$T/comp.json"
	jq -c '.vectors[] | select(.name == "card_new") | .plaintext | fromjson
		| .event.action.value = {"decision": "approve"}' tests/data/lark-vectors.json >"$T/card.json"
	push "card.action.trigger (reply hook)" "$T/card.json" '{"type":"card"}'
	echo
	results
	echo
	echo "Push more as Feishu would (the emulator's control API, tests/emu/lc.js):"
	echo "  curl -s -X POST --data-binary '{\"event\":{...},\"wait\":true}' $LC/_emu/push"
	[ "${DEMO_EXIT:-}" = 1 ] && exit 0
	echo "Holding the connection until Ctrl-C."
	wait "$CPID"
	exit 0
fi

port=18080
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
sed -e "s|/usr/local/sbin/larkhook|$T/bin/larkhook|" -e "s|/etc/larkhook\.conf|$T/site/larkhook.conf|" \
	lighttpd/larkhook-cgi.conf >"$T/run/larkhook-cgi.conf"
{
	echo "server.document-root = \"$T/www\""
	echo "server.bind = \"127.0.0.1\""
	echo "server.port = $port"
	echo "server.errorlog = \"$T/run/error.log\""
	[ "$(id -u)" -eq 0 ] && printf 'server.username = "www-data"\nserver.groupname = "www-data"\n'
	echo "include \"$T/run/larkhook-cgi.conf\""
} >"$T/run/lighttpd.conf"
lighttpd -D -f "$T/run/lighttpd.conf" </dev/null >"$T/run/stdout.log" 2>&1 &
LPID=$!
URL=http://127.0.0.1:$port/larkhook
for _ in $(seq 100); do curl -s -o /dev/null "$URL" && break; sleep 0.05; done

# post NAME BODYFILE [SIGNATURE]: send like Feishu and print the answer.
post() {
	local h=()
	[ -n "${3:-}" ] && h=(-H "X-Lark-Request-Timestamp: $TS" -H "X-Lark-Request-Nonce: $NONCE"
		-H "X-Lark-Signature: $3")
	printf '%-34s -> %s\n' "$1" "$(curl -s -w ' (HTTP %{http_code})' "${h[@]}" \
		-H 'Content-Type: application/json' --data-binary @"$2" "$URL" | tr -d '\n')"
}
TS=$(date +%s)
NONCE=$(openssl rand -hex 4)
VEC=tests/data/lark-vectors.json
echo "larkhook demo: lighttpd on $URL (CGI), config $T/site/larkhook.conf"
echo "               the OpenAPI emulator (tests/emu/openapi.js) as api_base: $API"
echo
printf '{"challenge":"demo-%s","token":"%s","type":"url_verification"}' "$NONCE" "$TOKEN" >"$T/challenge.json"
"$ROOT/tools/seal" "$KEY" "$TS" "$NONCE" "$T/challenge.json" "$T/challenge.body" >/dev/null
post "URL verification (encrypted)" "$T/challenge.body"
# seed NAME: a vector's event, carrying this demo's token, as Feishu sends it
seed() {
	jq -c --arg n "$1" --arg t "$TOKEN" '.vectors[] | select(.name == $n) | .plaintext | fromjson
		| .header.token = $t' "$VEC" >"$T/$1.json"
}
# the two seed events are the example files, with this demo's token
for v in comp:compensation perf:review; do
	jq -c --arg t "$TOKEN" '.header.token = $t' "examples/${v#*:}.json" >"$T/${v%%:*}.json"
	sig=$("$ROOT/tools/seal" "$KEY" "$TS" "$NONCE" "$T/${v%%:*}.json" "$T/${v%%:*}.body")
	post "$(jq -r .header.event_type "$T/${v%%:*}.json")" "$T/${v%%:*}.body" "$sig"
done
post "the same salary event again" "$T/comp.body" "$("$ROOT/tools/seal" "$KEY" "$TS" "$NONCE" "$T/comp.json" "$T/comp.body")"
post "a forged signature" "$T/comp.body" 0000000000000000000000000000000000000000000000000000000000000000
# a click on an "approve" button: card.sh answers inside the request
seed card_new
jq -c '.event.action.value = {"decision": "approve"}' "$T/card_new.json" >"$T/card.json"
post "card.action.trigger (reply hook)" "$T/card.body" \
	"$("$ROOT/tools/seal" "$KEY" "$TS" "$NONCE" "$T/card.json" "$T/card.body")"

echo
results
echo
echo "Webhook URL: $URL"
echo "Send more: the two events above are files in examples/; this is examples/compensation.json:"
sed 's/^/    /' examples/compensation.json
echo "Copy one, edit its event fields and give it a new header.event_id (an id is accepted"
echo "once), then try the hook alone, or send it encrypted and signed as Feishu would:"
echo "  $T/bin/larkhook -c $T/site/larkhook.conf run my-event.json"
echo "  $T/bin/larkhook -c $T/site/larkhook.conf forge -u $URL my-event.json | sh"
echo "forge prints the curl line Feishu's request amounts to; for examples/compensation.json:"
"$T/bin/larkhook" -c "$T/site/larkhook.conf" forge -u "$URL" examples/compensation.json 2>/dev/null |
	sed 's/^/  /'

[ "${DEMO_EXIT:-}" = 1 ] && exit 0
echo "Serving until Ctrl-C."
wait "$LPID"
