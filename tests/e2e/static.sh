#!/bin/bash
# static.sh: ./larkhook-static (make static) stands alone: no ELF
# interpreter, no shared library, and inside an empty chroot holding only
# the binary, its config and its spool it answers a challenge, stores a
# signed event and rejects an unsigned one, as a CGI run as the
# unprivileged user. strace (outside the chroot) shows it never tries to
# open openssl.cnf, and that the request opens nothing but those files.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

STATIC=$ROOT/larkhook-static
if [ ! -f "$STATIC" ]; then
	fail "larkhook-static exists" "build it first: make static"
	exit 1
fi
for tool in readelf strace chroot unshare; do
	command -v "$tool" >/dev/null || { fail "$tool is installed" "run: make deps"; exit 1; }
done

check "larkhook-static has no ELF interpreter (PT_INTERP)" "" \
	"$(readelf -lW "$STATIC" | grep -E 'INTERP|program interpreter')"
check "larkhook-static needs no shared library" "" \
	"$(readelf -dW "$STATIC" 2>/dev/null | grep NEEDED)"

# The chroot: nothing but the binary, the config and the spool directory.
J=$T/jail
SP=$J/larkhook-spool
mkdir -p "$J" "$SP"
chmod 755 "$J"
cp "$STATIC" "$J/larkhook"
chmod 755 "$J/larkhook"
{
	echo "verification_token = $TOKEN"
	echo "encrypt_key = $KEY"
	window_off
	echo "[on compensation.archive.changed_v1]"
	echo "run = true"
} >"$J/larkhook.conf"
chmod 600 "$J/larkhook.conf"
chown "$OWNER" "$J/larkhook.conf" "$SP"
UID_=$(id -u "$OWNER")
GID_=$(id -g "$OWNER")

vector challenge raw_body >"$T/challenge.body"
vector comp raw_body >"$T/comp.body"
SIG=$(vector comp x_lark_signature)

# jail NAME BODYFILE [NAME=VALUE...]: run /larkhook in the chroot as a CGI
# on BODYFILE, as the unprivileged user, under strace -f; the response goes
# to $T/resp, its standard error to $T/stderr, the trace to $T/NAME.trace.
# No /proc in the chroot, so the config is named by LARKHOOK_CONFIG (the
# file beside the binary is found through /proc/self/exe). As root,
# chroot(8) switches user by number: names cannot be looked up in there.
# Otherwise a user namespace maps us onto ourselves to allow the chroot.
jail() {
	local name=$1 body=$2 len enter; shift 2
	len=$(stat -c %s "$body")
	if [ "$(id -u)" -eq 0 ]; then
		enter=("$(command -v chroot)" --userspec="$UID_:$GID_" "$J")
	else
		enter=("$(command -v unshare)" --map-user="$UID_" --map-group="$GID_" --root="$J" --wd=/)
	fi
	# strace stays until every traced process is gone, the runner too
	strace -f -qq -y -s 4096 -e trace=%file -o "$T/$name.trace" \
		env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		CONTENT_LENGTH="$len" LARKHOOK_CONFIG=/larkhook.conf "$@" \
		"${enter[@]}" /larkhook <"$body" >"$T/resp" 2>"$T/stderr"
}

# traced NAME: the trace from larkhook's own execve on (the lines before
# are env and chroot on the host).
traced() { sed -n '/execve("\/larkhook", .*= 0$/,$p' "$T/$1.trace"; }
# opened NAME: the paths the request process (not the runner it forks)
# tried to open, with runs of / squeezed; a name opened relative to a
# directory descriptor is joined to that directory's path, which strace -y
# shows as seen from outside the jail where it can.
opened() {
	local pid
	pid=$(traced "$1" | sed -n '1s/^\([0-9]*\) .*/\1/p')
	traced "$1" | grep -E "^$pid +(open|openat|openat2|creat)\(" |
		sed -E 's/^[^(]*\([0-9]+<([^>]*)>, "/"\1\//; s/^[^"]*"([^"]*)".*/\1/; s|/+|/|g' |
		sed "s|^$J/|/|" | sort -u
}
# outside NAME: what the request process tried to open that is not the
# chroot's own files.
outside() {
	opened "$1" | grep -vxE '/|/larkhook|/larkhook\.conf|/larkhook-spool(/.*)?' | tr '\n' ' '
}
# pristine LABEL NAME: the run really ran the binary in the jail, never
# reached for openssl.cnf (any process, any call) and opened nothing else.
pristine() {
	if ! traced "$2" | grep -q .; then
		fail "$1: strace saw /larkhook run" "see the trace: $(head -3 "$T/$2.trace")"
		return
	fi
	check "$1: no process tries openssl.cnf" "" "$(traced "$2" | grep -o '"[^"]*openssl\.cnf"' | sort -u)"
	check "$1: the request opens only the chroot's files" "" "$(outside "$2")"
}

jail challenge "$T/challenge.body"
check "chroot: unsigned encrypted challenge answers 200 with the challenge" \
	'200 {"challenge":"ajls384kdjx98XX"}' "$(status) $(resp_body)"
pristine "chroot challenge" challenge

jail comp "$T/comp.body" HTTP_X_LARK_SIGNATURE="$SIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" \
	HTTP_X_LARK_REQUEST_NONCE="$NONCE"
check "chroot: signed compensation event answers 200 success" \
	'200 {"msg":"success"}' "$(status) $(resp_body)"
pristine "chroot event" comp
# the runner it kicked finds no /bin/sh in here: only storage is asserted
idle "$SP"
one_job "chroot: the event is stored as one compensation job" "$SP"
check "chroot: the job waits in new/ and the event id is in seen/" "1 1" \
	"$(count "$SP" new) $(count "$SP" seen)"
check "chroot: the stored job is 0600 and the user's" "600 $OWNER" \
	"$(find "$SP/new" -type f -exec stat -c '%a %U' {} + | sort -u)"

jail unsigned "$T/comp.body"
check "chroot: unsigned event answers 401 rejected" \
	'401 {"msg":"rejected"}' "$(status) $(resp_body)"
pristine "chroot 401" unsigned
check "chroot: the rejected event stored nothing more" "1 1" "$(count "$SP" new) $(count "$SP" seen)"
