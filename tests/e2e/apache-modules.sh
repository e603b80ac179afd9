#!/bin/bash
# apache-modules.sh: larkhook behind a real apache2 (mpm_event) on 127.0.0.1
# in the other Apache setups it ships, each from its shipped file templated
# only for paths (the port and modules are in the small server config):
#   fcgid  apache/larkhook-fcgid.conf (mod_fcgid runs the responder)
#   proxy  apache/larkhook-proxy-fcgi.conf, the responder started with the
#          ExecStart line of examples/larkhook-fcgi.service (spawn-fcgi -n)
#   htcgi  apache/htaccess as .htaccess beside larkhook.cgi, mod_cgid
#   htfcgi the same where mod_fcgid is loaded too (its FastCGI route), with
#          only the AllowOverride classes the file says it needs
# In each: the challenge, a signed event whose hook runs with its type and
# id, and a redelivery that runs nothing; for .htaccess, the private files
# beside the program are refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for need in apache2 spawn-fcgi; do
	command -v "$need" >/dev/null || { fail "$need is installed" "run: make deps"; exit 1; }
done
for need in fcgid proxy proxy_fcgi cgid; do
	[ -r "$MODS/mod_$need.so" ] || { fail "mod_$need is installed" "run: make deps"; exit 1; }
done

vector challenge raw_body >"$T/challenge.body"
vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)
COMPID=$(vector comp plaintext | jq -r .header.event_id)
HDR=(-H "X-Lark-Request-Timestamp: $TS" -H "X-Lark-Request-Nonce: $NONCE" -H "X-Lark-Signature: $SIG")
# 256 KiB, and 1 MiB + 1 byte, that are not JSON, unsigned
head -c 262144 /dev/zero | tr '\0' x >"$T/256k.body"
head -c 1048577 /dev/zero | tr '\0' x >"$T/over.body"

# post NAME URL [curl args...]: the response body goes to $T/NAME; prints
# the status code (000 when nothing answered).
post() {
	local out=$T/$1 url=$2; shift 2
	curl -s -m 20 -o "$out" -w '%{http_code}' "$@" "$url"
}

# template NAME SRC DEST SED-ARGS... -- FIXED-STRINGS...: DEST is SRC with
# the sed expressions applied; FAIL unless each string is in it afterwards
# (the paths the test relies on are still the shipped ones).
template() {
	local name=$1 src=$2 dest=$3 s; shift 3
	local ex=()
	while [ "$1" != -- ]; do ex+=(-e "$1"); shift; done
	shift
	sed "${ex[@]}" "$src" >"$dest"
	for s in "$@"; do
		grep -qF -- "$s" "$dest" && continue
		fail "$name: shipped file has the installed paths" "no [$s] after templating $src"
		return 1
	done
}


# exchange NAME URL DIR: the challenge, a signed event whose hook runs
# once with its type and id, and its redelivery; DIR holds the config.
exchange() {
	local m=$1 url=$2 d=$3 r
	r=$(post "$m.challenge" "$url" --data-binary @"$T/challenge.body")
	check "$m: unsigned encrypted challenge answers 200 with the challenge" \
		'200 {"challenge":"ajls384kdjx98XX"}' "$r $(cat "$T/$m.challenge")"

	r=$(post "$m.comp" "$url" "${HDR[@]}" --data-binary @"$T/comp.body")
	check "$m: signed compensation event answers 200 success" \
		'200 {"msg":"success"}' "$r $(cat "$T/$m.comp")"
	hook_ran "$m: its hook ran with LARK_TYPE and LARK_ID of the event" "$d"

	r=$(post "$m.comp2" "$url" "${HDR[@]}" --data-binary @"$T/comp.body")
	idle "$d/larkhook-spool"
	check "$m: the same event again answers 200, queues nothing and runs no hook" \
		'200 {"msg":"success"} 1 1' \
		"$r $(cat "$T/$m.comp2") $(queued "$d/larkhook-spool") $(grep -c . "$d/hook.ran")"
}

# started NAME PROGRAM: mod_fcgid logged starting PROGRAM as a responder.
started() {
	check_true "$1: mod_fcgid started $2 as a FastCGI responder" \
		grep -qE "mod_fcgid: server .*:$2(\(| ).*started" "$RUN/error.log"
}

# (a) mod_fcgid
S=$T/fcgid-site
hooked "$S"
newrun fcgid
if template fcgid "$ROOT/apache/larkhook-fcgid.conf" "$RUN/larkhook.conf" \
	"s|/usr/local/sbin/larkhook|$BIN|g" "s|/etc/larkhook\.conf|$S/larkhook.conf|g" -- \
	"Alias /larkhook $BIN" "FcgidWrapper \"$BIN -c $S/larkhook.conf\""; then
	mkdir -p "$T/fcgid-www"
	{
		echo "DocumentRoot \"$T/fcgid-www\""
		echo "<Directory \"$T/fcgid-www\">"
		echo "	Require all granted"
		echo "</Directory>"
		echo "Include \"$RUN/larkhook.conf\""
	} >"$RUN/extra.conf"
	if apache_run fcgid fcgid "$RUN/extra.conf"; then
		URL=http://127.0.0.1:$PORT/larkhook
		exchange fcgid "$URL" "$S"
		started fcgid "$BIN"
		r=$(post fcgid.256k "$URL" --data-binary @"$T/256k.body")
		check "fcgid: a 256 KiB body reaches larkhook (401, not mod_fcgid's 500 at its 128 KiB default)" \
			'401 {"msg":"rejected"}' "$r $(cat "$T/fcgid.256k")"
		r=$(post fcgid.over "$URL" --data-binary @"$T/over.body")
		check "fcgid: a body over 1 MiB is refused by mod_fcgid (FcgidMaxRequestLen): 500" 500 "$r"
	fi
fi

# (b) mod_proxy_fcgi to a responder spawn-fcgi started
S=$T/proxy-site
hooked "$S"
newrun proxy
SOCK=$RUN/larkhook.sock
if template proxy "$ROOT/apache/larkhook-proxy-fcgi.conf" "$RUN/larkhook.conf" \
	"s|/run/larkhook/larkhook\.sock|$SOCK|g" -- "\"unix:$SOCK|fcgi://localhost/\"" &&
	template proxy "$ROOT/examples/larkhook-fcgi.service" "$RUN/unit" \
		"s|/run/larkhook/larkhook\.sock|$SOCK|g" "s|/usr/local/sbin/larkhook|$BIN|g" \
		"s|/etc/larkhook\.conf|$S/larkhook.conf|g" -- \
		"ExecStart=/usr/bin/spawn-fcgi -n -s $SOCK " "-- $BIN -c $S/larkhook.conf"; then
	read -r -a SPAWN <<<"$(sed -n 's/^ExecStart=//p' "$RUN/unit")"
	"${SPAWN[@]}" </dev/null >"$RUN/spawn.log" 2>&1 &
	PIDS+=($!)
	if ! wait_for 10 test -S "$SOCK"; then
		fail "proxy: spawn-fcgi makes the socket" "$(cat "$RUN/spawn.log")"
	else
		check "proxy: the socket is the server user's, mode 0660" \
			"$OWNER 660" "$(stat -c '%U %a' "$SOCK")"
		mkdir -p "$T/proxy-www"
		{
			echo "DocumentRoot \"$T/proxy-www\""
			echo "<Directory \"$T/proxy-www\">"
			echo "	Require all granted"
			echo "</Directory>"
			echo "Include \"$RUN/larkhook.conf\""
		} >"$RUN/extra.conf"
		if apache_run proxy "proxy proxy_fcgi" "$RUN/extra.conf"; then
			URL=http://127.0.0.1:$PORT/larkhook
			exchange proxy "$URL" "$S"
			r=$(post proxy.over "$URL" --data-binary @"$T/over.body")
			check "proxy: a body over 1 MiB gets larkhook's own 413" \
				'413 {"msg":"body too large"}' "$r $(cat "$T/proxy.over")"
			r=$(post proxy.other "http://127.0.0.1:$PORT/larkhookx" --data-binary @"$T/challenge.body")
			check "proxy: only /larkhook itself is forwarded (/larkhookx: 404)" 404 "$r"
		fi
	fi
fi

# refused NAME WHAT URL FILE: GET and POST of FILE (it exists), WHAT in
# words, at URL are answered 403, and neither answer carries a secret.
refused() {
	local m=$1 what=$2 url=$3 f=$4 g p
	if [ ! -e "$f" ]; then
		fail "$m: $what is refused" "$f does not exist, nothing to test"
		return
	fi
	g=$(post "$m.get" "$url")
	p=$(post "$m.post" "$url" --data-binary @"$T/challenge.body")
	check "$m: GET and POST of $what answer 403 without a secret" \
		"403 403 no-secret" \
		"$g $p $(grep -qF -e "$TOKEN" -e "$KEY" "$T/$m.get" "$T/$m.post" && echo secret || echo no-secret)"
}

# htaccess NAME MODULES OVERRIDES: the shipped htaccess as .htaccess in
# DOCROOT/larkhook/ beside larkhook.cgi and larkhook.conf, all the server
# user's, with AllowOverride OVERRIDES on the docroot.
htaccess() {
	local m=$1 mods=$2 over=$3 www=$T/$1-www d url f spool r g p
	d=$www/larkhook
	hooked "$d"
	cp "$BIN" "$d/larkhook.cgi"
	cp "$ROOT/apache/htaccess" "$d/.htaccess"
	# for htcgi: a directory where the host allows no Options
	mkdir -p "$www/noopts"
	cp "$d/larkhook.cgi" "$d/larkhook.conf" "$d/.htaccess" "$www/noopts/"
	chmod 755 "$www" "$d" "$d/larkhook.cgi" "$www/noopts"
	chown -R "$OWNER" "$www"
	newrun "$m"
	{
		echo "DocumentRoot \"$www\""
		echo "<Directory \"$www\">"
		echo "	AllowOverride $over"
		echo "	Require all granted"
		echo "</Directory>"
		echo "<Directory \"$www/noopts\">"
		echo "	AllowOverride AuthConfig FileInfo"
		echo "</Directory>"
	} >"$RUN/extra.conf"
	apache_run "$m" "$mods" "$RUN/extra.conf" || return
	url=http://127.0.0.1:$PORT/larkhook
	exchange "$m" "$url/larkhook.cgi" "$d"

	spool=$d/larkhook-spool
	refused "$m" larkhook.conf "$url/larkhook.conf" "$d/larkhook.conf"
	refused "$m" larkhook.log "$url/larkhook.log" "$d/larkhook.log"
	refused "$m" "the hook's output" "$url/hook.ran" "$d/hook.ran"
	refused "$m" .htaccess "$url/.htaccess" "$d/.htaccess"
	f=$(idhash "$COMPID")
	refused "$m" "the spool's seen/ entry" "$url/larkhook-spool/seen/$f" "$spool/seen/$f"
	f=$(find "$spool/done" -type f -name '[0-9]*' | head -1)
	refused "$m" "the spool's done/ job (the event)" "$url/larkhook-spool/done/${f##*/}" "$f"
	refused "$m" "the spool directory" "$url/larkhook-spool/" "$spool"
	refused "$m" "the directory itself" "$url/" "$d"

	r=$(post "$m.pathinfo" "$url/larkhook.cgi/x" --data-binary @"$T/challenge.body")
	check "$m: larkhook.cgi/x is not the program (404)" 404 "$r"

	case " $mods " in
	*" fcgid "*)
		started "$m" "$d/larkhook.cgi"
		# what the file says to do after editing larkhook.conf
		cp "$d/larkhook.cgi" "$d/new.cgi"
		chown "$OWNER" "$d/new.cgi"
		mv "$d/new.cgi" "$d/larkhook.cgi"
		r=$(post "$m.fresh" "$url/larkhook.cgi" --data-binary @"$T/challenge.body")
		check "$m: a fresh copy of larkhook.cgi gets a new responder (a config change takes effect)" \
			"200 2" "$r $(grep -cF "mod_fcgid: server 127.0.0.1:$d/larkhook.cgi(" "$RUN/error.log")"
		;;
	*)
		r=$(post "$m.over" "$url/larkhook.cgi" --data-binary @"$T/over.body")
		check "$m: a body over 1 MiB gets Apache's own 413 page (LimitRequestBody), not larkhook's" \
			"413 html" "$r $(grep -q '^<!DOCTYPE HTML' "$T/$m.over" && echo html || echo other)"
		# no Options in AllowOverride: Apache rejects the whole .htaccess
		g=$(post "$m.noopts-get" "http://127.0.0.1:$PORT/noopts/larkhook.conf")
		p=$(post "$m.noopts-post" "http://127.0.0.1:$PORT/noopts/larkhook.cgi" \
			--data-binary @"$T/challenge.body")
		check "$m: without AllowOverride Options every request there answers 500, config not served" \
			"500 500 no-secret" \
			"$g $p $(grep -qF -e "$TOKEN" -e "$KEY" "$T/$m.noopts-get" && echo secret || echo no-secret)"
		check_true "$m: the error log says why (Options not allowed here)" \
			grep -q 'Options not allowed here' "$RUN/error.log"
		;;
	esac
}

# (c) .htaccess as a CGI under mod_cgid
htaccess htcgi cgid All
# (d) .htaccess where mod_fcgid is loaded (besides mod_cgid): FastCGI
htaccess htfcgi "cgid fcgid" "AuthConfig FileInfo Options=ExecCGI"
