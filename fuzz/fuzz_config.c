/* fuzz_config.c: libFuzzer target for larkhook.conf parsing (cfg_parse in
 * config.h). Input: the whole config text, named /etc/larkhook/larkhook.conf.
 *
 * Invariants: a rejection says "FILE:LINE: message" within the buffer and
 * leaves the config empty (LSan sees a leak otherwise); an accepted config
 * has a token (or token file), PATH, an absolute spool, absolute file
 * paths, 1..16 backoff delays, env = entries as NAME=VALUE, and hooks with a
 * pattern, a command and a timeout, never reply together with each;
 * cfg_route gives a hook whose pattern fits the type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define FILE_NAME "/etc/larkhook/larkhook.conf"
#define BUG(...) do { fprintf(stderr, "fuzz_config: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int
absolute(const char *s)
{
	return !s || s[0] == '/';
}

static void
route(const struct config *c, const char *type)
{
	const struct hook *h = cfg_route(c, type);
	size_t n;

	if (!h)
		return;
	if (h < c->hooks || h >= c->hooks + c->nhooks)
		BUG("cfg_route returned a hook not in the config");
	n = strlen(h->pattern);
	if (h->match == MATCH_EXACT && strcmp(h->pattern, type) != 0)
		BUG("[on %s] routed %s", h->pattern, type);
	if (h->match == MATCH_PREFIX && (n < 2 || strncmp(h->pattern, type, n - 1) != 0))
		BUG("[on %s] routed %s", h->pattern, type);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct config c;
	char err[256];
	int rc;

	memset(err, 'x', sizeof err);
	rc = cfg_parse((const char *)data, size, FILE_NAME, &c, err, sizeof err);
	if (rc != 0) {
		if (rc != -1)
			BUG("cfg_parse returned %d", rc);
		if (!memchr(err, '\0', sizeof err))
			BUG("error message not NUL-terminated");
		if (strncmp(err, FILE_NAME ":", sizeof FILE_NAME) != 0)
			BUG("error message without FILE:LINE: %s", err);
		if (c.file || c.dir || c.token || c.hooks || c.env || c.spool || c.path)
			BUG("rejected config still holds memory");
		return 0;
	}
	/* only a config for connect alone (with app_id) may go without one */
	if (!c.token && !c.token_file && !c.app_id)
		BUG("accepted without a verification token or app_id");
	if (!c.path || !c.spool || !absolute(c.spool) || !absolute(c.log) ||
	    !absolute(c.token_file) || !absolute(c.encrypt_key_file))
		BUG("accepted with a missing or relative path");
	if (c.nbackoff < 1 || c.nbackoff > CFG_MAX_BACKOFF)
		BUG("%d backoff delays", c.nbackoff);
	for (int i = 0; i < c.nenv; i++)
		if (!c.env[i] || !strchr(c.env[i], '=') || c.env[i][0] == '=')
			BUG("env entry %d is not NAME=VALUE", i);
	for (int i = 0; i < c.nhooks; i++) {
		const struct hook *h = &c.hooks[i];

		if (!h->pattern || !*h->pattern || !h->run || !*h->run || !h->timeout)
			BUG("hook %d without pattern, run or timeout", i);
		if (h->reply && h->each)
			BUG("[on %s] reply with each", h->pattern);
		route(&c, h->pattern);
	}
	route(&c, "compensation.archive.changed_v1");
	route(&c, "a.b");
	route(&c, "im.message.receive_v1");
	cfg_free(&c);
	return 0;
}
