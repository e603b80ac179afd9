# larkhook: a Feishu / Lark event receiver for CGI and FastCGI
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/larkhook
SYSCONFDIR ?= /etc
VERSION = 0.1.0

PKGS = fcgi libcjson libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcrypto is linked in statically by default (Debian's libssl-dev ships
# libcrypto.a): as a CGI, every request is a new process, and the dynamic
# loader's symbol binding of libcrypto.so alone costs 20 times what the
# request does. CRYPTO_LINK=shared links it dynamically instead, e.g. for a
# distribution package that wants security updates of libssl3 to reach
# larkhook without a rebuild.
CRYPTO_LINK ?= static
ifeq ($(CRYPTO_LINK),static)
CRYPTO_LIBS := -Wl,-Bstatic $(shell pkg-config --libs libcrypto 2>/dev/null) -Wl,-Bdynamic \
	$(filter-out -lcrypto,$(shell pkg-config --libs --static libcrypto 2>/dev/null))
# libcrypto.a's AES-NI functions, named weakly in src/crypto.c (it says why)
ifeq ($(shell uname -m),x86_64)
CRYPTO_LIBS += -Wl,-u,aesni_set_decrypt_key -Wl,-u,aesni_cbc_encrypt
AESNI_LINKED := -DAESNI_LINKED
endif
else
CRYPTO_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null)
endif
PKG_LIBS := $(shell pkg-config --libs fcgi libcjson 2>/dev/null) $(CRYPTO_LIBS)
# libcurl's header only: src/http.c loads libcurl.so.4 with dlopen when a
# command talks to Feishu; linking it would cost every CGI request its
# dependencies' start-up (doc/8-performance.md).
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)

CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes
HARDEN = -D_FORTIFY_SOURCE=2 -fstack-protector-strong
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(PKG_CFLAGS) \
	-DSYSCONFDIR='"$(SYSCONFDIR)"' -DVERSION='"$(VERSION)"' $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)

CORE = src/config.o src/crypto.o src/env.o src/flatten.o src/frame.o src/hook.o src/http.o \
	src/intake.o src/io.o src/json.o src/lark.o src/log.o src/queue.o src/runner.o src/spool.o \
	src/token.o src/api.o src/ws.o
OBJS = $(CORE) src/transport.o src/connect.o src/openapi.o src/cmd.o src/main.o
UNITS = tests/unit/test_crypto tests/unit/test_json tests/unit/test_config \
	tests/unit/test_lark tests/unit/test_log tests/unit/test_spool tests/unit/test_flatten \
	tests/unit/test_queue tests/unit/test_frame tests/unit/test_ws tests/unit/test_http \
	tests/unit/test_token tests/unit/test_api

all: larkhook

larkhook: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

src/%.o: src/%.c src/*.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

src/http.o: ALL_CFLAGS += $(CURL_CFLAGS)

tests/unit/%: tests/unit/%.c tests/unit/t.h $(CORE)
	$(CC) $(ALL_CFLAGS) $(AESNI_LINKED) -Isrc $(ALL_LDFLAGS) -o $@ $< $(CORE) $(PKG_LIBS)

deps:
	@sh tests/deps.sh

test: deps
	@$(MAKE) --no-print-directory all larkhook-static $(UNITS)
	@sh tests/run.sh

# One executable with no shared-library needs, for shared hosting: the same
# objects linked with -static against Debian's libfcgi.a and libcrypto.a,
# plus cJSON built from Debian's source package (Debian ships no libcjson.a).
static: larkhook-static

larkhook-static: $(OBJS) tools/static.sh
	@CC="$(CC)" CFLAGS="$(ALL_CFLAGS)" LDFLAGS="$(ALL_LDFLAGS)" sh tools/static.sh $(OBJS)

# libFuzzer targets with ASan and UBSan; FUZZ_TIME seconds each.
FUZZ_TIME ?= 60
fuzz:
	@FUZZ_TIME=$(FUZZ_TIME) sh tools/fuzz.sh

# Speed side by side with floors and the Node SDK (doc/8-performance.md); not a test.
bench: all
	@sh tools/bench.sh

# The whole suite rebuilt with ASan and UBSan, then the CGI cases under valgrind.
check: deps
	@sh tools/check.sh

DOCS = examples/larkhook.conf examples/salary.sh examples/review.sh examples/card.sh \
	examples/compensation.json examples/review.json $(wildcard doc/*.md) \
	examples/nginx.conf apache/larkhook-cgi.conf apache/larkhook-fcgid.conf \
	apache/larkhook-proxy-fcgi.conf apache/htaccess lighttpd/larkhook-cgi.conf \
	lighttpd/larkhook-fastcgi.conf examples/larkhook-connect.service

install: larkhook
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)
	install -m 755 larkhook $(DESTDIR)$(SBINDIR)/larkhook
	sed -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		-e 's|@DOCDIR@|$(DOCDIR)|g' larkhook.8 >$(DESTDIR)$(MANDIR)/man8/larkhook.8
	chmod 644 $(DESTDIR)$(MANDIR)/man8/larkhook.8
	for f in $(DOCS); do \
		install -d $(DESTDIR)$(DOCDIR)/$${f%/*} && \
		install -m 644 $$f $(DESTDIR)$(DOCDIR)/$$f || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/larkhook $(DESTDIR)$(MANDIR)/man8/larkhook.8
	for f in $(DOCS); do rm -f $(DESTDIR)$(DOCDIR)/$$f; done
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/apache $(DESTDIR)$(DOCDIR)/doc \
		$(DESTDIR)$(DOCDIR)/lighttpd $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -f larkhook larkhook-static src/*.o $(UNITS)
	rm -rf build fuzz/bin

.PHONY: all deps test clean demo static fuzz check bench install uninstall

demo:
	@bash tools/demo.sh
