# larkhook: a Feishu / Lark event receiver for CGI and FastCGI
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
VERSION = 0.1.0

PKGS = fcgi libcjson libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes
HARDEN = -D_FORTIFY_SOURCE=2 -fstack-protector-strong
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(PKG_CFLAGS) \
	-DSYSCONFDIR='"$(SYSCONFDIR)"' -DVERSION='"$(VERSION)"' $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)

CORE = src/config.o src/crypto.o src/env.o src/flatten.o src/hook.o src/io.o src/json.o \
	src/lark.o src/log.o src/queue.o src/runner.o src/spool.o
OBJS = $(CORE) src/transport.o src/cmd.o src/main.o
UNITS = tests/unit/test_crypto tests/unit/test_json tests/unit/test_config \
	tests/unit/test_lark tests/unit/test_log tests/unit/test_spool tests/unit/test_flatten \
	tests/unit/test_queue

all: larkhook

larkhook: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

src/%.o: src/%.c src/*.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

tests/unit/%: tests/unit/%.c tests/unit/t.h $(CORE)
	$(CC) $(ALL_CFLAGS) -Isrc $(ALL_LDFLAGS) -o $@ $< $(CORE) $(PKG_LIBS)

deps:
	@sh tests/deps.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNITS)
	@sh tests/run.sh

clean:
	rm -f larkhook src/*.o $(UNITS)

.PHONY: all deps test clean demo

demo:
	@bash tools/demo.sh
