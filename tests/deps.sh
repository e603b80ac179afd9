#!/bin/sh
# deps.sh: install the Debian packages the build and the tests need, when
# missing (as root), or print the exact command to run.
set -u
PKGS="gcc make pkg-config libfcgi-dev libcjson-dev libssl-dev openssl
lighttpd apache2 libapache2-mod-fcgid nginx fcgiwrap spawn-fcgi libfcgi-bin curl strace
jq util-linux man-db groff-base shellcheck dpkg-dev clang libclang-rt-14-dev valgrind"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && $cmd >/dev/null || {
	echo "deps: apt-get failed; try: apt-get update && $cmd" >&2
	exit 1
}
