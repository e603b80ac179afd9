/* test_api.c: what the api command decides (doc/9-openapi.md): the path
 * rule that keeps the token on api_base, the URL, retry / wait / next page,
 * and joining the pages of --all */
#include "t.h"
#include "api.h"

/* s with control bytes as \xNN, for a test's name (static buffer). */
static const char *
shown(const char *s)
{
	static char buf[256];
	size_t n = 0;

	for (; *s && n < sizeof buf - 5; s++)
		n += (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ?
		     (size_t)snprintf(buf + n, 5, "\\x%02x", (unsigned char)*s) : (buf[n] = *s, 1);
	buf[n] = '\0';
	return buf;
}

static void
paths(void)
{
	static const char *const good[] = {
		"/open-apis/compensation/v1/archives/query",
		"/open-apis/compensation/v1/archives/query?user_id_type=people_corehr_id&page_size=100",
		"/open-apis/contact/v3/users/ou_7dab8a3d3cdcc9da365777c7ad535d62",
		"/open-apis/x/y.json", "/open-apis/x/..y", "/open-apis/x/y..",
		"/open-apis/a?next=/../b",	/* dots in the query are data */
	};
	static const char *const bad[] = {
		"", "open-apis/x", "/open-apis", "/open-apisx/y", "/other/x",
		"https://evil.example/open-apis/x", "//evil.example/open-apis/x",
		"/open-apis/../x", "/open-apis/x/../../y", "/open-apis/./x", "/open-apis/x/..",
		"/open-apis/x/.", "/open-apis/%2e%2e/x", "/open-apis/%2E%2e/x", "/open-apis/.%2e/x",
		"/open-apis/x/%2e", "/open-apis/a%2fb", "/open-apis/a%2F..%2Fb", "/open-apis/a%5cb",
		"/open-apis/a\\b", "/open-apis/a b", "/open-apis/a\r\nHost: evil.example",
		"/open-apis/a\nx", "/open-apis/x#frag", "/open-apis//x", "/open-apis/x\x7f",
		"/open-apis/\xc3\xa9", "/open-apis/x?a=b c",
	};

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		CHECK(api_check_path(good[i]) == NULL, "path accepted: %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(api_check_path(bad[i]) != NULL, "path refused: [%s]", shown(bad[i]));
}

static void
urls(void)
{
	char *q[] = { "user_id_type=people_corehr_id", "k=a b&c=d/é", "page_size=100" };
	char *bad[] = { "novalue" }, *empty[] = { "=v" }, *u;

	u = api_url("https://open.feishu.cn", "/open-apis/x", NULL, 0, NULL);
	CHECK(u && strcmp(u, "https://open.feishu.cn/open-apis/x") == 0, "base + path: %s", u);
	free(u);
	u = api_url("http://127.0.0.1:8080", "/open-apis/x", q, 3, NULL);
	CHECK(u && strcmp(u, "http://127.0.0.1:8080/open-apis/x?user_id_type=people_corehr_id"
	                     "&k=a%20b%26c%3Dd%2F%C3%A9&page_size=100") == 0,
	      "the query encoded, K and V alike: %s", u);
	free(u);
	u = api_url("https://b", "/open-apis/x?a=1", q, 1, "tok/en+=");
	CHECK(u && strcmp(u, "https://b/open-apis/x?a=1&user_id_type=people_corehr_id&page_token=tok%2Fen%2B%3D") == 0,
	      "after a ? in PATH: &; page_token last, encoded: %s", u);
	free(u);
	u = api_url("https://b", "/open-apis/x", NULL, 0, "p1");
	CHECK(u && strcmp(u, "https://b/open-apis/x?page_token=p1") == 0, "page_token alone: %s", u);
	free(u);
	CHECK(!api_url("https://b", "/open-apis/x", bad, 1, NULL), "a query item without = is refused");
	CHECK(!api_url("https://b", "/open-apis/x", empty, 1, NULL), "a query item with an empty K is refused");
}

static struct api_info
info(long status, long code, int more, const char *pt, long reset)
{
	return (struct api_info){ status, code, more, pt, reset };
}

static void
decisions(void)
{
	struct api_state s = { 0, 0, 0 };
	struct api_info i;
	unsigned w;

	i = info(200, 0, 0, NULL, -1);
	CHECK(api_decide(&s, &i, 0, &w) == API_DONE, "code 0: done");
	i = info(200, 1254002, 0, NULL, -1);
	CHECK(api_decide(&s, &i, 1, &w) == API_DONE, "another code: done (exit 1 by the caller)");
	i = info(200, 99991672, 0, NULL, -1);
	CHECK(api_decide(&s, &i, 0, &w) == API_DONE, "99991672 (missing scope): done, no retry");

	i = info(400, 99991663, 0, NULL, -1);
	CHECK(api_decide(&s, &i, 0, &w) == API_REMINT && s.reminted, "99991663: mint anew and retry");
	CHECK(api_decide(&s, &i, 0, &w) == API_DONE, "99991663 again: done (one retry only)");
	for (int k = 0; k < 3; k++) {
		static const long codes[] = { 99991663, 99991664, 99991671 };

		s = (struct api_state){ 0, 0, 0 };
		i = info(200, codes[k], 0, NULL, -1);
		CHECK(api_decide(&s, &i, 0, &w) == API_REMINT, "code %ld: re-mint", codes[k]);
	}
	s = (struct api_state){ 0, 0, 0 };
	i = info(400, 99991661, 0, NULL, -1);
	CHECK(api_decide(&s, &i, 0, &w) == API_DONE, "99991661 (no token sent): done, a mint does not help");

	s = (struct api_state){ 0, 0, 0 };
	i = info(429, 99991400, 0, NULL, 3);
	CHECK(api_decide(&s, &i, 0, &w) == API_WAIT && w == 3, "429 with reset 3: wait 3 s (%u)", w);
	i = info(429, 99991400, 0, NULL, 100000);
	CHECK(api_decide(&s, &i, 0, &w) == API_WAIT && w == API_WAIT_MAX, "reset 100000: wait bounded (%u)", w);
	i = info(429, 99991400, 0, NULL, 0);
	CHECK(api_decide(&s, &i, 0, &w) == API_WAIT && w == 1, "reset 0: wait 1 s (%u)", w);
	CHECK(api_decide(&s, &i, 0, &w) == API_DONE && s.waits == API_MAX_WAITS,
	      "after %d waits: done", API_MAX_WAITS);
	s = (struct api_state){ 0, 0, 0 };
	i = info(400, 99991400, 0, NULL, 2);
	CHECK(api_decide(&s, &i, 0, &w) == API_WAIT && w == 2, "code 99991400 in an HTTP 400: wait too");
	s = (struct api_state){ 0, 0, 0 };
	i = info(429, -1, 0, NULL, -1);
	CHECK(api_decide(&s, &i, 0, &w) == API_WAIT && w == 2, "429, no JSON, no header: 2 s");
	CHECK(api_decide(&s, &i, 0, &w) == API_WAIT && w == 4, "... then 4 s");

	s = (struct api_state){ 0, 0, 0 };
	i = info(200, 0, 1, "p2", -1);
	CHECK(api_decide(&s, &i, 1, &w) == API_NEXT_PAGE && s.pages == 1, "--all, has_more: next page");
	CHECK(api_decide(&s, &i, 0, &w) == API_DONE, "without --all: done");
	i = info(200, 0, 1, "", -1);
	CHECK(api_decide(&s, &i, 1, &w) == API_DONE, "has_more with an empty page_token: done");
	i = info(200, 0, 1, NULL, -1);
	CHECK(api_decide(&s, &i, 1, &w) == API_DONE, "has_more without page_token: done");
	i = info(200, 0, 0, "p9", -1);
	CHECK(api_decide(&s, &i, 1, &w) == API_DONE, "has_more false: done");
	s.pages = API_MAX_PAGES - 1;
	i = info(200, 0, 1, "p2", -1);
	CHECK(api_decide(&s, &i, 1, &w) == API_DONE, "--all stops at %d pages", API_MAX_PAGES);
}

static cJSON *
parse(const char *s)
{
	cJSON *root = NULL;

	if (json_parse(s, strlen(s), &root)) {
		printf("FAIL - test JSON does not parse: %s\n", s);
		exit(1);
	}
	return root;
}

static void
pages(void)
{
	cJSON *acc = parse("{\"code\":0,\"msg\":\"ok\",\"data\":{\"items\":[1,2],\"has_more\":true,\"page_token\":\"p2\"}}");
	cJSON *p2 = parse("{\"code\":0,\"data\":{\"items\":[3],\"has_more\":true,\"page_token\":\"p3\"}}");
	cJSON *p3 = parse("{\"code\":0,\"data\":{\"has_more\":false}}");
	cJSON *empty = parse("{\"code\":0,\"data\":{\"has_more\":true,\"page_token\":\"x\"}}");
	cJSON *p4 = parse("{\"code\":0,\"data\":{\"items\":[{\"a\":1}]}}");
	cJSON *nodata = parse("{\"code\":0}");
	struct api_info i;
	char *out;

	api_info(acc, 200, -1, &i);
	CHECK(i.code == 0 && i.has_more && i.page_token && strcmp(i.page_token, "p2") == 0 && i.status == 200,
	      "api_info: code, has_more, page_token");
	{
		cJSON *odd = parse("{\"code\":0.5,\"data\":{}}"), *big = parse("{\"code\":1e300}");

		api_info(odd, 200, -1, &i);
		CHECK(i.code == -2, "code 0.5 is no code 0 (%ld)", i.code);
		api_info(big, 200, -1, &i);
		CHECK(i.code == -2, "code 1e300 is no code 0 and no overflow (%ld)", i.code);
		cJSON_Delete(odd);
		cJSON_Delete(big);
	}
	api_info(NULL, 502, 5, &i);
	CHECK(i.code == -1 && !i.has_more && !i.page_token && i.reset == 5, "api_info: no JSON");
	CHECK(api_join(acc, p2) == 0 && api_join(acc, p3) == 0 && api_join(acc, p4) == 0,
	      "pages joined (one without items)");
	api_join_end(acc);
	out = cJSON_PrintUnformatted(acc);
	CHECK(out && strcmp(out, "{\"code\":0,\"msg\":\"ok\",\"data\":{\"items\":[1,2,3,{\"a\":1}],\"has_more\":false}}") == 0,
	      "one object, data.items of every page in order, no page_token: %s", out);
	cJSON_free(out);
	cJSON_Delete(p4);
	p4 = parse("{\"code\":0,\"data\":{\"items\":[7]}}");
	CHECK(api_join(empty, p4) == 0, "a first page without items gets an items array");
	out = cJSON_PrintUnformatted(empty);
	CHECK(out && strstr(out, "\"items\":[7]"), "... holding the next page's items: %s", out);
	cJSON_free(out);
	CHECK(api_join(nodata, p2) == -1, "a reply without data cannot take pages");
	cJSON_Delete(acc);
	cJSON_Delete(p2);
	cJSON_Delete(p3);
	cJSON_Delete(p4);
	cJSON_Delete(empty);
	cJSON_Delete(nodata);
}

int
main(void)
{
	paths();
	urls();
	decisions();
	pages();
	return t_done();
}
