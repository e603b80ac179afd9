#!/bin/sh
# static.sh: link ./larkhook-static, one executable with no shared-library
# needs and no ELF interpreter, for shared hosts and chroots.
#   CC=... CFLAGS=... LDFLAGS=... sh tools/static.sh OBJECTS...
# (run by `make larkhook-static` from the top of the tree, with the objects
# of the normal build). Debian ships libfcgi.a and libcrypto.a but no
# libcjson.a, so cJSON is compiled in from Debian's own source package,
# fetched once with apt-get source into build/cjson (scratch, git-ignored).
# To build offline, put cJSON.c and cJSON.h in build/cjson yourself.
set -eu

CC=${CC:-cc}
CFLAGS=${CFLAGS:-}
LDFLAGS=${LDFLAGS:-}
OUT=larkhook-static
CJ=build/cjson
APTDIR=build/apt

die() {
	echo "static.sh: $*" >&2
	exit 1
}

[ "$#" -gt 0 ] || die "usage: sh tools/static.sh OBJECTS..."
for o in "$@"; do
	[ -f "$o" ] || die "missing object $o (run make first)"
done

# fetch_cjson: Debian's cjson source (the version of the installed
# libcjson-dev when the mirror still has it) into $CJ, through private apt
# lists so the system's sources and state are left alone; root not needed.
fetch_cjson() {
	command -v dpkg-source >/dev/null 2>&1 ||
		die "cannot unpack cJSON's source: dpkg-source missing (install dpkg-dev: make deps)"
	rm -rf "$APTDIR"
	mkdir -p "$APTDIR/parts" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" \
		"$APTDIR/src"
	# deb-src twins of the system's Debian sources: the same mirror and
	# suites, security updates included.
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
			>"$APTDIR/parts/src.sources"
	else
		codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null)
		[ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
		{
			echo "deb-src http://deb.debian.org/debian $codename main"
			echo "deb-src http://deb.debian.org/debian $codename-updates main"
			echo "deb-src http://deb.debian.org/debian-security $codename-security main"
		} >"$APTDIR/parts/src.list"
	fi
	top=$(pwd)
	set -- -q -o Dir::Etc::SourceList=/dev/null \
		-o Dir::Etc::SourceParts="$top/$APTDIR/parts" \
		-o Dir::State::Lists="$top/$APTDIR/lists" \
		-o Dir::Cache="$top/$APTDIR/cache"
	# as root apt downloads as _apt, which may not be able to enter the
	# checkout; these files are thrown away, so download as ourselves
	[ "$(id -u)" -ne 0 ] || set -- "$@" -o APT::Sandbox::User=root
	echo "static.sh: fetching cJSON's source from Debian (apt-get source cjson)" >&2
	# apt-get update says only "W:" and exits 0 when the mirror is unreachable
	if ! apt-get "$@" update >"$APTDIR/update.log" 2>&1 ||
		! ls "$APTDIR/lists/"*_Sources* >/dev/null 2>&1; then
		die "cannot fetch cJSON's source: no source index from the Debian mirror (network?); see $APTDIR/update.log"
	fi
	ver=$(dpkg-query -W -f '${source:Version}' libcjson-dev 2>/dev/null || true)
	(cd "$APTDIR/src" && { { [ -n "$ver" ] && apt-get "$@" source "cjson=$ver"; } ||
		apt-get "$@" source cjson; }) >"$APTDIR/source.log" 2>&1 ||
		die "cannot fetch cJSON's source: apt-get source cjson failed; see $APTDIR/source.log"
	c=$(find "$APTDIR/src" -maxdepth 2 -name cJSON.c | head -n 1)
	if [ -z "$c" ] || [ ! -f "${c%.c}.h" ]; then
		die "cannot fetch cJSON's source: no cJSON.c in what apt-get source unpacked"
	fi
	mkdir -p "$CJ"
	cp "$c" "${c%.c}.h" "$CJ/"
	# which upload it came from, e.g. cjson_1.7.15-1+deb12u4.dsc
	(cd "$APTDIR/src" && ls -- *.dsc) >"$CJ/SOURCE" 2>/dev/null || true
	rm -rf "$APTDIR"
}

if [ ! -f "$CJ/cJSON.c" ] || [ ! -f "$CJ/cJSON.h" ]; then
	fetch_cjson
fi

# Same flags as the rest of the program; -w: its warnings are not ours.
# The quoted include of cJSON.c finds the cJSON.h beside it first.
# shellcheck disable=SC2086 # CFLAGS and LDFLAGS are word lists
$CC $CFLAGS -w -c -o "$CJ/cJSON.o" "$CJ/cJSON.c"

# src/http.c again, built to refuse: a static program cannot dlopen
# libcurl (glibc's static dlopen needs the shared glibc it was built
# against), so token, api and connect answer with a clear error instead.
objs=
for o in "$@"; do
	if [ "$o" = src/http.o ]; then
		# shellcheck disable=SC2086
		$CC $CFLAGS $(pkg-config --cflags libcurl 2>/dev/null) -DHTTP_STATIC -c \
			-o build/http-static.o src/http.c || die "cannot compile src/http.c"
		o=build/http-static.o
	fi
	objs="$objs $o"
done
# shellcheck disable=SC2086 # object names have no spaces
set -- $objs

# libfcgi and libcrypto from their .a; libcrypto wants -ldl and -pthread
# (in libc since glibc 2.34; the flags stay harmless). glibc warns that a
# static program calling gethostbyname or getpwuid still needs its shared
# libraries at run time for them. The first comes from library code
# larkhook never reaches (libfcgi's host:port listener; larkhook takes
# only OpenSSL's primitives, so its DSO loader and name lookup are not
# linked in at all); getpwuid is larkhook's own
# lookup of HOME for hooks, which simply finds nothing where the passwd
# database cannot be loaded (an empty chroot), and hooks then get no HOME.
# On x86_64, -u pulls libcrypto.a's AES-NI functions in, as the Makefile
# does for the normal build (src/crypto.c names them weakly).
AESNI=
[ "$(uname -m)" = x86_64 ] && AESNI="-Wl,-u,aesni_set_decrypt_key -Wl,-u,aesni_cbc_encrypt"
# shellcheck disable=SC2086
$CC $CFLAGS $LDFLAGS -static -o "$OUT.tmp" "$@" "$CJ/cJSON.o" \
	-lfcgi -lcrypto $AESNI -lm -ldl -pthread 2>"$OUT.log" || {
	cat "$OUT.log" >&2
	rm -f "$OUT.tmp" "$OUT.log"
	die "static link failed (needs libfcgi-dev and libssl-dev, which ship the .a files)"
}
# glibc's static-link warnings, one short line each
sed -n 's/.*warning: Using .\([a-z_]*\). in statically linked.*/\1/p' "$OUT.log" | sort -u |
	sed 's/^/static.sh: note (see the comment in tools\/static.sh): glibc warns about /' >&2
# anything else the linker said is shown as it is
grep -v -e 'in statically linked applications requires at runtime' -e ': in function .*:$' \
	"$OUT.log" >&2 || true
rm -f "$OUT.log"

# the result must really stand alone
if command -v readelf >/dev/null 2>&1; then
	if readelf -lW "$OUT.tmp" | grep -q INTERP || readelf -dW "$OUT.tmp" | grep -q NEEDED; then
		rm -f "$OUT.tmp"
		die "the link produced a dynamic executable"
	fi
fi
mv -f "$OUT.tmp" "$OUT"
echo "static.sh: built $OUT ($(wc -c <"$OUT") bytes, cJSON from $(cat "$CJ/SOURCE" 2>/dev/null || echo "$CJ"))" >&2
