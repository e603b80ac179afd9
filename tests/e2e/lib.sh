# shellcheck shell=bash
# lib.sh: shared helpers for the end-to-end suites (sourced by bash).
# Every suite prints "ok - NAME" or "FAIL - NAME: why" per assertion.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VEC=$ROOT/tests/data/lark-vectors.json
KEY=$(jq -r .encrypt_key "$VEC")
TOKEN=$(jq -r .verification_token "$VEC")
TS=$(jq -r .timestamp "$VEC")
NONCE=$(jq -r .nonce "$VEC")

T=$(mktemp -d /tmp/larkhook-test.XXXXXX)
chmod 755 "$T"
# the unprivileged user may not reach into the checkout (e.g. under /root)
mkdir -p "$T/bin"
cp "$ROOT/larkhook" "$T/bin/larkhook"
chmod 755 "$T/bin" "$T/bin/larkhook"
BIN=$T/bin/larkhook
PIDS=()

# Stop what this suite started, by PID, and wait for each to be gone.
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
fail() { echo "FAIL - $1${2:+: $2}"; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected [$2], got [$3]"; fi; }
# check_true NAME COMMAND...
check_true() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }

# The unprivileged user the program runs as in tests (larkhook refuses root).
# shellcheck source-path=SCRIPTDIR source=../runas.sh
. "$ROOT/tests/runas.sh"

# window_off [config lines...]: "max_age = 0" and "reply_max_age = 0",
# each unless a line sets it. The vectors are signed at a fixed time (2023):
# a config that is sent them turns the replay windows off, since they are on
# by default (doc/2-config.md).
window_off() {
	local l m=1 r=1
	for l in "$@"; do
		case $l in max_age*) m= ;; reply_max_age*) r= ;; esac
	done
	[ -z "$m" ] || echo "max_age = 0"
	[ -z "$r" ] || echo "reply_max_age = 0"
}

# siteconf DIR RUN [extra config lines...]: DIR holds a config (0600, the
# server's user's) with the vectors' secrets, whose compensation hook is
# the command RUN.
siteconf() {
	local d=$1 run=$2 l; shift 2
	mkdir -p "$d"
	{
		echo "verification_token = $TOKEN"
		echo "encrypt_key = $KEY"
		echo "log = $d/larkhook.log"
		window_off "$@"
		for l in "$@"; do echo "$l"; done
		echo "[on compensation.archive.changed_v1]"
		echo "run = $run"
		echo "[on performance.review_data.changed_v2]"
		echo "run = true"
		echo "each = items"
	} >"$d/larkhook.conf"
	chmod 600 "$d/larkhook.conf"
	chown -R "$OWNER" "$d"
}
# A fresh site directory holding a config; prints its path.
# site NAME [extra config lines...]
site() {
	siteconf "$T/$1" true "${@:2}"
	echo "$T/$1"
}
# hooked DIR: DIR holds a config whose compensation hook appends the
# LARK_TYPE and LARK_ID it was given to DIR/hook.ran (hooks run in the
# config's directory), one line per run.
hooked() {
	# shellcheck disable=SC2016 # expanded by the hook's shell
	siteconf "$1" 'echo "$LARK_TYPE $LARK_ID" >>hook.ran'
}
# hooksite NAME: hooked in $T/NAME; sets S.
hooksite() {
	S=$T/$1
	hooked "$S"
}
# hook_ran NAME DIR: the hook of a hooked DIR ran, once, for the vectors'
# compensation event.
hook_ran() {
	local want
	want="compensation.archive.changed_v1 $(vector comp plaintext | jq -r .header.event_id)"
	if wait_for 20 test -s "$2/hook.ran"; then
		check "$1" "$want" "$(cat "$2/hook.ran")"
	else
		fail "$1" "no $2/hook.ran after 20 s"
	fi
}

# vector NAME FIELD: a field of a vector of the shared vectors file.
vector() { jq -j --arg n "$1" --arg f "$2" '.vectors[] | select(.name == $n) | .[$f]' "$VEC"; }

# seal PLAINFILE OUTBODY: encrypt and sign a plaintext as Feishu does (see
# tools/seal). Prints the signature over TS, NONCE, KEY and the body.
seal() { "$ROOT/tools/seal" "$KEY" "$TS" "$NONCE" "$1" "$2"; }
# sign BODYFILE: the X-Lark-Signature for that body.
sign() { { printf %s "$TS$NONCE$KEY"; cat "$1"; } | sha256sum | cut -c1-64; }
# idhash ID: the SHA-256 of an event id, as job and seen/ names hold it.
idhash() { printf %s "$1" | sha256sum | cut -c1-64; }

# cgi CONF BODYFILE [NAME=VALUE...]: run larkhook as a CGI on BODYFILE as
# the unprivileged user; the response goes to $T/resp. Extra NAME=VALUE
# arguments are added to (or override) the CGI environment.
cgi() {
	local conf=$1 body=$2; shift 2
	# shellcheck disable=SC2094 # $body is only read
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		CONTENT_LENGTH="$(stat -c %s "$body")" LARKHOOK_CONFIG="$conf" "$@" \
		"${RUNAS[@]}" "$BIN" <"$body" >"$T/resp" 2>"$T/stderr"
}
# cgi_signed CONF BODYFILE SIGNATURE [NAME=VALUE...]
cgi_signed() {
	local conf=$1 body=$2 sig=$3; shift 3
	cgi "$conf" "$body" HTTP_X_LARK_SIGNATURE="$sig" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" \
		HTTP_X_LARK_REQUEST_NONCE="$NONCE" "$@"
}
# cgi_under CONF BODYFILE SIGNATURE OUT [PREFIX...]: the same request,
# signed with SIGNATURE (TS, NONCE), run under PREFIX (strace ..., say) in
# front of the unprivileged user's larkhook; the response into OUT, its
# stderr dropped. With CGI_EXEC set the shell is replaced (exec), so that a
# background job's $! is PREFIX's process.
cgi_under() {
	local conf=$1 body=$2 sig=$3 out=$4; shift 4
	# shellcheck disable=SC2094 # $body is only read
	${CGI_EXEC:+exec} env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		CONTENT_LENGTH="$(stat -c %s "$body")" LARKHOOK_CONFIG="$conf" \
		HTTP_X_LARK_SIGNATURE="$sig" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" \
		HTTP_X_LARK_REQUEST_NONCE="$NONCE" \
		"$@" "${RUNAS[@]}" "$BIN" <"$body" >"$out" 2>/dev/null
}
# The status of the last CGI response, and its body.
status() { sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$T/resp"; }
resp_body() { sed '1,/^\r$/d' "$T/resp"; }

# Files under a spool subdirectory (tmp, new, seen, ...), counted.
count() { find "$1/$2" -type f 2>/dev/null | wc -l; }

# idle SPOOL: wait until no runner holds SPOOL. A request that queued a job
# took the runner's lock before its answer, so once this returns the
# runner has settled every due job.
idle() { [ ! -e "$1/runner.lock" ] || wait_for 30 flock -n "$1/runner.lock" true; }
# jobs FILES...: distinct jobs among job files (a job's state after ':' and
# its directory change as it moves; ARRIVAL.HASH.INDEX does not).
jobs() { printf '%s\n' "$@" | sed 's|.*/||; s|:.*||' | grep -v '^\*$' | sort -u | grep -c .; }
# queued SPOOL: jobs ever queued and not yet expired (waiting, running,
# done or failed), once the runner is idle.
queued() { idle "$1"; jobs "$1"/new/* "$1"/cur/* "$1"/done/* "$1"/failed/*; }
# jobs_of TYPE SPOOL: how many of those are for events of TYPE.
jobs_of() {
	idle "$2"
	# shellcheck disable=SC2046
	jobs $(grep -lx "type $1" "$2"/new/* "$2"/cur/* "$2"/done/* "$2"/failed/* 2>/dev/null)
}
# one_job NAME SPOOL: exactly one job was queued, a compensation event's.
one_job() {
	check "$1" "1 1" "$(queued "$2") $(jobs_of compensation.archive.changed_v1 "$2")"
}

# A free TCP port on 127.0.0.1.
free_port() {
	local p
	while :; do
		p=$(( (RANDOM % 12000) + 20000 ))	# below the ephemeral range (32768-)
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
# wait_for TIMEOUT_S COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local limit=$1; shift
	for _ in $(seq $((limit * 20))); do "$@" && return 0; sleep 0.05; done
	return 1
}

# config_ok NAME DIR COMMAND...: the server's own config check passes, or
# FAIL with what it said (kept in DIR/check.log).
config_ok() {
	local name=$1 dir=$2; shift 2
	"$@" >"$dir/check.log" 2>&1 && return 0
	fail "$name accepts the config" "$(cat "$dir/check.log")"
	return 1
}

# launch NAME DIR PORT COMMAND...: start a server in the foreground of a
# background job (its PID joins PIDS, output in DIR/stdout.log) and wait
# until it answers HTTP on 127.0.0.1:PORT; says FAIL with its logs if not.
launch() {
	local name=$1 dir=$2 port=$3; shift 3
	"$@" </dev/null >"$dir/stdout.log" 2>&1 &
	PIDS+=($!)
	# any HTTP answer (404 for /) means it listens
	wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/" && return 0
	fail "$name starts" "$(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null)"
	return 1
}

# lighttpd_start NAME MODE SITE: start lighttpd on 127.0.0.1 with the shipped
# lighttpd/larkhook-MODE.conf (cgi or fastcgi), templated only for paths,
# serving SITE's config; its files in $T/NAME-run. Sets PORT and SERVER
# (lighttpd's pid); says FAIL and returns 1 when it cannot start.
lighttpd_start() {
	local name=$1 mode=$2 site=$3 run=$T/$1-run snippet
	PORT=$(free_port)
	mkdir -p "$T/$name-www" "$run"
	# lighttpd opens its error log and sockets after dropping to www-data
	chown "$OWNER" "$run"
	snippet=$run/larkhook-$mode.conf
	sed -e "s|/usr/local/sbin/larkhook|$T/bin/larkhook|g" \
		-e "s|/etc/larkhook\.conf|$site/larkhook.conf|g" \
		-e "s|/run/lighttpd/larkhook\.sock|$run/larkhook.sock|g" \
		"$ROOT/lighttpd/larkhook-$mode.conf" >"$snippet"
	# the paths the test relies on must still be the ones shipped
	if ! grep -q "\"$T/bin/larkhook" "$snippet" || ! grep -q "$site/larkhook.conf" "$snippet" ||
		{ [ "$mode" = fastcgi ] && ! grep -q "$run/larkhook.sock" "$snippet"; }; then
		fail "$name: shipped snippet has the installed paths" "see $ROOT/lighttpd/larkhook-$mode.conf"
		return 1
	fi
	{
		echo "server.document-root = \"$T/$name-www\""
		echo "server.bind = \"127.0.0.1\""
		echo "server.port = $PORT"
		echo "server.errorlog = \"$run/error.log\""
		if [ "$(id -u)" -eq 0 ]; then
			echo 'server.username = "www-data"'
			echo 'server.groupname = "www-data"'
		fi
		echo "include \"$snippet\""
	} >"$run/lighttpd.conf"
	config_ok "$name: lighttpd" "$run" lighttpd -tt -f "$run/lighttpd.conf" || return 1
	launch "$name: lighttpd" "$run" "$PORT" lighttpd -D -f "$run/lighttpd.conf" || return 1
	# shellcheck disable=SC2034 # for the suites that source this
	SERVER=${PIDS[-1]}
}

# Where Debian keeps apache2's modules.
MODS=/usr/lib/apache2/modules

# newrun NAME: a fresh RUN directory the server's user owns.
newrun() {
	RUN=$T/$1-run
	mkdir -p "$RUN/fcgid"
	chown -R "$OWNER" "$RUN"
}

# up_or_gone PID PORT: something answers HTTP on PORT, or PID has exited.
up_or_gone() {
	curl -s -m 1 -o /dev/null "http://127.0.0.1:$2/" || ! kill -0 "$1" 2>/dev/null
}

# apache_run NAME MODULES EXTRA: start apache2 (mpm_event, authz_core, mime,
# alias, plus the space-separated MODULES) on 127.0.0.1 with the lines of
# file EXTRA appended; its files in RUN=$T/NAME-run (made before, owned by
# the server's user). Sets PORT. A port taken between free_port and the
# bind (other suites run at the same time) is retried with another.
apache_run() {
	local name=$1 mods=$2 extra=$3 m pid
	for _ in 1 2 3; do
		PORT=$(free_port)
		{
			echo "ServerRoot \"$RUN\""
			echo "DefaultRuntimeDir \"$RUN\""
			echo "PidFile \"$RUN/httpd.pid\""
			echo "Mutex file:$RUN default"
			echo "Listen 127.0.0.1:$PORT"
			echo "ServerName 127.0.0.1"
			echo "ErrorLog \"$RUN/error.log\""
			for m in mpm_event authz_core mime alias $mods; do
				echo "LoadModule ${m}_module $MODS/mod_$m.so"
			done
			echo "TypesConfig /etc/mime.types"
			case " $mods " in *" cgid "*) echo "ScriptSock \"$RUN/cgid.sock\"" ;; esac
			case " $mods " in *" fcgid "*)
				# mod_fcgid says at info level when it starts a responder
				echo "LogLevel warn fcgid:info"
				echo "FcgidIPCDir \"$RUN/fcgid\""
				echo "FcgidProcessTableFile \"$RUN/fcgid-shm\""
				;;
			esac
			if [ "$(id -u)" -eq 0 ]; then
				echo "User www-data"
				echo "Group www-data"
			fi
			echo "<Directory />"
			echo "	Require all denied"
			echo "</Directory>"
			cat "$extra"
		} >"$RUN/httpd.conf"
		config_ok "$name: apache2" "$RUN" apache2 -t -f "$RUN/httpd.conf" || return 1
		rm -f "$RUN/error.log"
		apache2 -f "$RUN/httpd.conf" -DFOREGROUND </dev/null >"$RUN/stdout.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		wait_for 10 up_or_gone "$pid" "$PORT"
		if kill -0 "$pid" 2>/dev/null; then
			curl -s -m 1 -o /dev/null "http://127.0.0.1:$PORT/" && return 0
			break
		fi
		# gone: reap it, so cleanup never signals a reused PID
		wait "$pid"
		unset 'PIDS[-1]'
		grep -q AH00072 "$RUN/stdout.log" "$RUN/error.log" 2>/dev/null || break
	done
	fail "$name: apache2 starts" "$(cat "$RUN/stdout.log" "$RUN/error.log" 2>/dev/null)"
	return 1
}

# apache_start NAME SITE: start apache2 with mod_cgid on 127.0.0.1 through
# the shipped apache/larkhook-cgi.conf, templated only for paths, serving
# SITE's config; its files in $T/NAME-run. Sets PORT, RUN and SERVER
# (apache's parent); says FAIL and returns 1 when it cannot start.
apache_start() {
	local name=$1 S=$2 snippet
	newrun "$name"
	mkdir -p "$T/$name-www"
	snippet=$RUN/larkhook-cgi.conf
	sed -e "s|/usr/local/sbin/larkhook|$BIN|g" \
		-e "s|/etc/larkhook\.conf|$S/larkhook.conf|g" \
		"$ROOT/apache/larkhook-cgi.conf" >"$snippet"
	# the paths the test relies on must still be the ones shipped
	if ! grep -q "^ScriptAlias /larkhook $BIN\$" "$snippet" ||
		! grep -q "SetEnv LARKHOOK_CONFIG $S/larkhook.conf\$" "$snippet"; then
		fail "$name: shipped snippet has the installed paths" "see $ROOT/apache/larkhook-cgi.conf"
		return 1
	fi
	{
		echo "DocumentRoot \"$T/$name-www\""
		echo "<Directory \"$T/$name-www\">"
		echo "	Require all granted"
		echo "</Directory>"
		echo "Include \"$snippet\""
	} >"$RUN/extra.conf"
	apache_run "$name" "env cgid" "$RUN/extra.conf" || return 1
	# shellcheck disable=SC2034 # for the suites that source this
	SERVER=${PIDS[-1]}
}
