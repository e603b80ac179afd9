/* fuzz_openapi.c: libFuzzer target for the pure parts of token and api
 * (token.h, api.h; doc/9-openapi.md). The first byte picks:
 *   0: a token cache file (token_parse);
 *   1: a mint's reply (token_reply; the next two bytes are the HTTP status);
 *   2: an api PATH (api_check_path, api_url), the rest of the input after a
 *      NUL being --query items, one per line;
 *   3: two replies separated by a NUL byte (api_info, api_decide, api_join).
 *
 * Invariants: a parsed cache file formats back to the same bytes; a token
 * taken from a reply is a valid token, used no longer than it lives; an
 * accepted PATH starts with /open-apis/, holds no control byte, space, dot
 * segment, encoded slash or backslash, and its URL starts with api_base
 * followed by /open-apis/ (the request cannot leave api_base); api_decide
 * stops: no more than 1 re-mint, 3 waits of at most 60 s, and pages only
 * on code 0 with a page_token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "token.h"

#define BUG(...) do { fprintf(stderr, "fuzz_openapi: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define BASE "https://open.feishu.cn"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
cache(const char *s, size_t n)
{
	struct token t;
	size_t len;
	char *out;

	if (token_parse(s, n, &t))
		return;
	if (!t.value || !token_valid(t.value, strlen(t.value)))
		BUG("token_parse took an invalid token");
	if (!(out = token_format(&t, &len)))
		BUG("token_format failed on a parsed file");
	if (len != n || memcmp(out, s, n) != 0)
		BUG("a parsed cache file does not format back to itself");
	(void)token_fresh(&t, 1700000000);
	free(out);
	token_free(&t);
}

static void
reply(const char *s, size_t n)
{
	struct token t;
	char err[512];
	long code, status;
	enum token_rc rc;

	if (n < 2)
		return;
	status = (unsigned char)s[0] * 256L + (unsigned char)s[1];
	rc = token_reply(status % 1000, s + 2, n - 2, "tenant_access_token", 1700000000, &t, &code, err,
	                 sizeof err);
	if (rc == TOKEN_OK) {
		if (!t.value || !token_valid(t.value, strlen(t.value)))
			BUG("token_reply took an invalid token");
		if (t.refresh > t.expires || t.refresh < t.minted)
			BUG("a token used beyond its life");
	} else if (t.value)
		BUG("token_reply failed but kept a token");
	if (!memchr(err, '\0', sizeof err))
		BUG("err not terminated");
	token_free(&t);
}

/* A "." or ".." segment, raw or encoded, between slashes of p[0..n). */
static int
dots(const char *p, size_t n)
{
	char seg[4096];
	size_t k = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			seg[k] = '\0';
			if (!strcmp(seg, ".") || !strcmp(seg, "..") || !strcasecmp(seg, "%2e") ||
			    !strcasecmp(seg, "%2e%2e") || !strcasecmp(seg, ".%2e") || !strcasecmp(seg, "%2e."))
				return 1;
			k = 0;
		} else if (k < sizeof seg - 1)
			seg[k++] = p[i];
	}
	return 0;
}

static void
path(const char *s, size_t n)
{
	const char *nul = memchr(s, '\0', n);
	char *p = strndup(s, nul ? (size_t)(nul - s) : n), *q = NULL, *query[16], *url;
	const char *dd;
	int nq = 0;
	size_t plen;

	if (!p)
		return;
	if (nul && (q = strndup(nul + 1, n - (size_t)(nul - s) - 1)))
		for (char *save = NULL, *l = strtok_r(q, "\n", &save); l && nq < 16; l = strtok_r(NULL, "\n", &save))
			query[nq++] = l;
	if (api_check_path(p) == NULL) {
		plen = strcspn(p, "?");
		if (strncmp(p, "/open-apis/", 11) != 0)
			BUG("accepted a path outside /open-apis/: %s", p);
		for (const char *c = p; *c; c++)
			if (*c <= ' ' || *c > '~' || *c == '\\' || *c == '#')
				BUG("accepted a path with byte 0x%02x", (unsigned char)*c);
		dd = strstr(p, "//");
		if (dots(p, plen) || (dd && dd < p + plen))
			BUG("accepted a dot segment or an empty one: %s", p);
		for (size_t i = 0; i + 2 < plen; i++)
			if (p[i] == '%' && p[i + 1] == '2' && (p[i + 2] == 'f' || p[i + 2] == 'F'))
				BUG("accepted an encoded slash: %s", p);
		if ((url = api_url(BASE, p, query, nq, nq ? query[0] : NULL))) {
			if (strncmp(url, BASE "/open-apis/", sizeof BASE "/open-apis/" - 1) != 0)
				BUG("the URL left api_base: %s", url);
			for (const char *c = url; *c; c++)
				if (*c <= ' ' || *c > '~')
					BUG("a URL with byte 0x%02x", (unsigned char)*c);
			free(url);
		}
	}
	free(p);
	free(q);
}

static cJSON *
parse(const char *s, size_t n)
{
	cJSON *root = NULL;

	if (json_parse(s, n, &root)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static void
replies(const char *s, size_t n)
{
	const char *nul = memchr(s, '\0', n);
	cJSON *a = parse(s, nul ? (size_t)(nul - s) : n);
	cJSON *b = nul ? parse(nul + 1, n - (size_t)(nul - s) - 1) : NULL;
	struct api_state st = { 0, 0, 0 };
	struct api_info i;
	unsigned wait;
	enum api_act act;
	int steps = 0;

	api_info(a, 200 + (long)(n % 400), (long)n - 50, &i);
	while ((act = api_decide(&st, &i, 1, &wait)) != API_DONE) {
		if (++steps > API_MAX_PAGES + API_MAX_WAITS + 2)
			BUG("api_decide does not stop");
		if (act == API_WAIT && (wait < 1 || wait > API_WAIT_MAX))
			BUG("a wait of %u s", wait);
		if (act == API_NEXT_PAGE && (i.code != 0 || !i.page_token || !*i.page_token))
			BUG("a next page without code 0 and a page_token");
	}
	if (st.reminted > 1 || st.waits > API_MAX_WAITS)
		BUG("more than one re-mint or %d waits", API_MAX_WAITS);
	if (a && b && api_join(a, b) == 0) {
		api_join_end(a);
		cJSON_free(cJSON_PrintUnformatted(a));
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0: cache(s, size - 1); break;
	case 1: reply(s, size - 1); break;
	case 2: path(s, size - 1); break;
	default: replies(s, size - 1); break;
	}
	return 0;
}
