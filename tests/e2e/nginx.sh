#!/bin/bash
# nginx.sh: larkhook behind a real nginx on 127.0.0.1 through the shipped
# examples/nginx.conf, templated only for paths (the binary, the config and
# the socket fastcgi_pass names); the port is in the small nginx.conf that
# includes it. Twice: (a) as a CGI run by fcgiwrap, configured by the
# LARKHOOK_CONFIG fastcgi_param, and (b) as a FastCGI responder started by
# spawn-fcgi with -c, the socket being the only difference.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FCGIWRAP=/usr/sbin/fcgiwrap
for tool in nginx spawn-fcgi "$FCGIWRAP"; do
	command -v "$tool" >/dev/null || { fail "$tool is installed" "run: make deps"; exit 1; }
done

vector challenge raw_body >"$T/challenge.body"
vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
head -c 1100000 /dev/zero | tr '\0' 'x' >"$T/big.body"

# spawn-fcgi switches to www-data only when it starts as root
if [ "$(id -u)" -eq 0 ]; then SPAWNAS=(-u www-data -M 0660); else SPAWNAS=(-M 0600); fi

# backend NAME SOCKET COMMAND...: start a FastCGI program under spawn-fcgi
# on SOCKET, in the foreground of a background job (its PID joins PIDS),
# with an environment of PATH only, as a service would have; wait for the
# socket.
backend() {
	local name=$1 sock=$2 run=$T/$1-run; shift 2
	env -i PATH=/usr/bin:/bin spawn-fcgi -n -s "$sock" "${SPAWNAS[@]}" -- "$@" \
		</dev/null >"$run/$name.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -S "$sock" && return 0
	fail "$name: spawn-fcgi starts its program" "$(cat "$run/$name.log")"
	return 1
}

# nginx_start NAME SOCKET: nginx with examples/nginx.conf passing /larkhook
# to SOCKET and naming $BIN and $S's config; its files in $T/NAME-run. Sets
# PORT.
nginx_start() {
	local name=$1 sock=$2 run=$T/$1-run snippet
	PORT=$(free_port)
	snippet=$run/larkhook.conf
	sed -e "s|/usr/local/sbin/larkhook|$BIN|g" \
		-e "s|/etc/larkhook\.conf|$S/larkhook.conf|g" \
		-e "s|unix:/run/fcgiwrap\.socket|unix:$sock|g" \
		"$ROOT/examples/nginx.conf" >"$snippet"
	# the paths the test relies on must still be the ones shipped
	if ! grep -q "^[[:space:]]*fastcgi_param SCRIPT_FILENAME $BIN;" "$snippet" ||
		! grep -q "^[[:space:]]*fastcgi_param LARKHOOK_CONFIG $S/larkhook.conf;" "$snippet" ||
		! grep -q "^[[:space:]]*fastcgi_pass unix:$sock;" "$snippet"; then
		fail "$name: shipped snippet has the installed paths" "see $ROOT/examples/nginx.conf"
		return 1
	fi
	mkdir -p "$run/www"
	cat >"$run/nginx.conf" <<-EOF
		daemon off;
		master_process off;
		pid $run/nginx.pid;
		error_log $run/error.log;
		events { worker_connections 64; }
		http {
			access_log off;
			client_body_temp_path $run/client_body;
			proxy_temp_path $run/proxy;
			fastcgi_temp_path $run/fastcgi;
			uwsgi_temp_path $run/uwsgi;
			scgi_temp_path $run/scgi;
			server {
				listen 127.0.0.1:$PORT;
				root $run/www;
				include $snippet;
			}
		}
	EOF
	# -e: nginx opens its default error log before reading the config
	config_ok "$name: nginx" "$run" nginx -t -p "$run" -e "$run/error.log" -c "$run/nginx.conf" ||
		return 1
	launch "$name: nginx" "$run" "$PORT" nginx -p "$run" -e "$run/error.log" -c "$run/nginx.conf"
}

# post NAME URL [curl args...]: the response body goes to $T/NAME; prints
# "CODE CONTENT_TYPE" (000 when nothing answered).
post() {
	local out=$T/$1 url=$2; shift 2
	curl -s -m 10 -o "$out" -w '%{http_code} %{content_type}' "$@" "$url"
}

# suite MODE SOCKET: the assertions through nginx to an already started
# backend on SOCKET, for site S.
suite() {
	local m=$1 sock=$2 url r
	nginx_start "$m" "$sock" || return
	url=http://127.0.0.1:$PORT/larkhook

	r=$(post "$m.challenge" "$url" --data-binary @"$T/challenge.body")
	check "$m: unsigned encrypted challenge answers 200 application/json with the challenge" \
		'200 application/json {"challenge":"ajls384kdjx98XX"}' "$r $(cat "$T/$m.challenge")"

	r=$(post "$m.comp" "$url" -H "X-Lark-Request-Timestamp: $TS" \
		-H "X-Lark-Request-Nonce: $NONCE" -H "X-Lark-Signature: $SIG" --data-binary @"$T/comp.body")
	check "$m: signed compensation event answers 200 success" \
		'200 {"msg":"success"}' "${r%% *} $(cat "$T/$m.comp")"
	hook_ran "$m: its hook ran with LARK_TYPE and LARK_ID" "$S"

	r=$(post "$m.big" "$url" --data-binary @"$T/big.body")
	check "$m: a body over client_max_body_size gets 413 from nginx" 413 "${r%% *}"
	check "$m: larkhook logged the two requests it saw" 2 "$(grep -c ' status=' "$S/larkhook.log")"
	idle "$S/larkhook-spool"
}

# (a) CGI through fcgiwrap, configured by the fastcgi_param alone: there
# is no larkhook.conf beside $BIN, and fcgiwrap's own environment is PATH
hooksite fcgiwrap
mkdir -p "$T/fcgiwrap-run"
chown "$OWNER" "$T/fcgiwrap-run"
backend fcgiwrap "$T/fcgiwrap-run/fcgiwrap.sock" "$FCGIWRAP" -f &&
	suite fcgiwrap "$T/fcgiwrap-run/fcgiwrap.sock"

# (b) FastCGI responder, configured by -c
hooksite fastcgi
mkdir -p "$T/fastcgi-run"
chown "$OWNER" "$T/fastcgi-run"
backend fastcgi "$T/fastcgi-run/larkhook.sock" "$BIN" -c "$S/larkhook.conf" &&
	suite fastcgi "$T/fastcgi-run/larkhook.sock"
