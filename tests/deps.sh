#!/bin/sh
# deps.sh: install the Debian packages the build and the tests need, when
# missing (as root), or print the exact command to run; then the Node
# packages of tests/node/package.json (npm install in tests/node) unless the
# pinned versions are already there.
set -u
PKGS="gcc make pkg-config libfcgi-dev libcjson-dev libssl-dev openssl
lighttpd apache2 libapache2-mod-fcgid nginx fcgiwrap spawn-fcgi libfcgi-bin curl strace
jq xxd util-linux man-db groff-base shellcheck dpkg-dev clang libclang-rt-14-dev valgrind
libcurl4-openssl-dev tinyproxy systemd faketime"

# Node and npm from the machine; Debian's packages when neither is there.
command -v node >/dev/null && command -v npm >/dev/null || PKGS="$PKGS nodejs npm"

# node_deps: npm install in tests/node when a pinned package is missing or
# another version (fast when all are there).
node_deps() {
	nd=$(cd "$(dirname "$0")/node" && pwd) || return 1
	node -e '
		const d = process.argv[1], p = require(d + "/package.json");
		for (const [n, v] of Object.entries(p.dependencies || {})) {
			let have;
			try { have = require(d + "/node_modules/" + n + "/package.json").version; } catch (e) {}
			if (have !== v) process.exit(1);
		}' "$nd" 2>/dev/null && return 0
	echo "deps: npm install in $nd" >&2
	(cd "$nd" && env -u NODE_ENV npm install --no-audit --no-fund --loglevel=error >/dev/null) || {
		echo "deps: npm install failed; try: cd $nd && npm install --no-audit --no-fund" >&2
		return 1
	}
}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && { node_deps; exit; }
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
node_deps
