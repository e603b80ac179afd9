/* test_token.c: the token cache (doc/9-openapi.md): lifetime rules, the file
 * format, what a mint's reply means, and token_get on a private spool whose
 * api_base answers nothing: a fresh cache is used without the network, a
 * stale one is kept when the mint fails, symbolic links and foreign files
 * are refused; the app_ticket kept by intake */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "token.h"

#define K "0123456789abcdef"	/* a key of a cache file */

static void
life(void)
{
	struct token t = { .value = "x" };

	token_life(&t, 1000, 7200);
	CHECK(t.minted == 1000 && t.expires == 8200 && t.refresh == 8200 - TOKEN_MARGIN,
	      "expire 7200: used until %d s before it expires (%lld)", TOKEN_MARGIN, t.refresh);
	CHECK(token_fresh(&t, 1000) && token_fresh(&t, t.refresh - 1), "fresh from the mint to the margin");
	CHECK(!token_fresh(&t, t.refresh) && !token_fresh(&t, 8300), "not fresh at the margin or after");
	CHECK(!token_fresh(&t, 1000 - TOKEN_MARGIN - 1), "not fresh when the clock went back past the margin");
	CHECK(token_fresh(&t, 1000 - 60), "fresh when the clock went back a little");
	token_life(&t, 1000, 600);
	CHECK(t.refresh == 1300, "expire 600: 300 s (%lld)", t.refresh - 1000);
	token_life(&t, 1000, 599);
	CHECK(t.refresh == 1000 + 299 && t.expires == 1599, "expire 599: half of it (%lld)", t.refresh - 1000);
	token_life(&t, 1000, 60);
	CHECK(t.refresh == 1030, "expire 60: 30 s (%lld)", t.refresh - 1000);
	token_life(&t, 1000, 1);
	CHECK(!token_fresh(&t, 1000), "expire 1: never cached (%lld)", t.refresh - 1000);
	token_life(&t, 1000, -5);
	CHECK(t.expires == 1000 && !token_fresh(&t, 1000), "a negative expire counts as 0");
	t.value = NULL;
	token_life(&t, 1000, 7200);
	CHECK(!token_fresh(&t, 1000), "no value: not fresh");
}

static void
format(void)
{
	struct token t = { 0 }, u;
	char *big = malloc(TOKEN_MAX + 2), *buf;
	size_t len;

	CHECK(token_valid("t-abc", 5) && !token_valid("", 0) && !token_valid("a b", 3) &&
	      !token_valid("a\nb", 3) && !token_valid("a\x80", 2), "token_valid: printable, no space");
	memset(big, 'J', TOKEN_MAX + 1);
	big[TOKEN_MAX + 1] = '\0';
	CHECK(token_valid(big, TOKEN_MAX) && !token_valid(big, TOKEN_MAX + 1), "token_valid: up to %d bytes",
	      TOKEN_MAX);
	for (int n = 42; n <= 8192; n = n == 42 ? 4096 : n * 2) {
		big[n] = '\0';
		t.value = big;
		memcpy(t.key, K, 17);
		token_life(&t, 1796000000, 7140);
		buf = token_format(&t, &len);
		CHECK(buf && len == strlen(buf) && token_parse(buf, len, &u) == 0 && strcmp(u.value, big) == 0 &&
		      u.minted == t.minted && u.expires == t.expires && u.refresh == t.refresh &&
		      strcmp(u.key, K) == 0,
		      "a %d-byte token goes through the file format unchanged", n);
		token_free(&u);
		free(buf);
		big[n] = 'J';
	}
	static const char *const bad[] = {
		"", "larkhook-token 2 " K " 1 2 3\n", "larkhook-token 1 " K " 1 2 3\nt\n",
		"larkhook-token 2 " K " 1 2 3\nt", "larkhook-token 2 " K " 1 2 3\nt\nx",
		"larkhook-token 2 " K " 1 2\nt\n", "larkhook-token 2 " K " a 2 3\nt\n",
		"larkhook-token 2 " K " 1 2 3\nt u\n", "larkhook-token 2 " K " 1 2 3 \nt\n",
		"larkhook-token 2 " K " 1 2 3\n\n", "larkhook-token 2 " K " 999999999999999999999 2 3\nt\n",
		"larkhook-token 2 " K " 01 2 3\nt\n", "larkhook-token 2 " K " -0 2 3\nt\n",
		"larkhook-token 2 1 2 3\nt\n", "larkhook-token 2 0123456789ABCDEF 1 2 3\nt\n",
		"larkhook-token 2 0123456789abcde 1 2 3\nt\n", "larkhook-token 2 0123456789abcdef0 1 2 3\nt\n",
		"larkhook-token 2 0123",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(token_parse(bad[i], strlen(bad[i]), &u) == -1 && !u.value, "not a cache file: case %zu", i);
	}
	CHECK(token_parse("larkhook-token 2 " K " -5 2 3\nt-x\n", 45, &u) == 0 && u.minted == -5 &&
	      strcmp(u.value, "t-x") == 0 && strcmp(u.key, K) == 0, "a minimal cache file");
	token_free(&u);
	free(big);
}

static enum token_rc
reply(long status, const char *body, const char *field, struct token *t, long *code, char *err)
{
	return token_reply(status, body, strlen(body), field, 1000, t, code, err, 512);
}

static void
replies(void)
{
	struct token t;
	char err[512], *jwt, *body;
	long code;
	enum token_rc rc;

	rc = reply(200, "{\"code\":0,\"msg\":\"ok\",\"tenant_access_token\":\"t-abc\",\"expire\":7140}",
	           "tenant_access_token", &t, &code, err);
	CHECK(rc == TOKEN_OK && code == 0 && strcmp(t.value, "t-abc") == 0 && t.expires == 8140 &&
	      t.refresh == 8140 - TOKEN_MARGIN, "a mint: the token, expire counted from receipt");
	token_free(&t);
	jwt = malloc(6000);
	body = malloc(6200);
	memset(jwt, 'e', 5999);
	memcpy(jwt, "eyJhbGciOiJSUzI1NiJ9.", 21);
	jwt[5999] = '\0';
	snprintf(body, 6200, "{\"code\":0,\"tenant_access_token\":\"%s\",\"expire\":7200}", jwt);
	rc = reply(200, body, "tenant_access_token", &t, &code, err);
	CHECK(rc == TOKEN_OK && strcmp(t.value, jwt) == 0, "a 6000-byte JWT token is kept whole");
	token_free(&t);
	free(jwt);
	free(body);
	rc = reply(200, "{\"code\":10014,\"msg\":\"app secret invalid\"}", "tenant_access_token", &t, &code, err);
	CHECK(rc == TOKEN_CONFIG && code == 10014 && strstr(err, "10014") && strstr(err, "app secret invalid") &&
	      !t.value, "code 10014: bad credentials, 78: %s", err);
	rc = reply(400, "{\"code\":10003,\"msg\":\"invalid param\"}", "tenant_access_token", &t, &code, err);
	CHECK(rc == TOKEN_CONFIG && code == 10003, "code 10003: 78");
	rc = reply(429, "{\"code\":99991400,\"msg\":\"request trigger frequency limit\"}", "x", &t, &code, err);
	CHECK(rc == TOKEN_TEMP && code == 99991400, "429 / 99991400: temporary, 75: %s", err);
	rc = reply(200, "{\"code\":99991400,\"msg\":\"limit\"}", "x", &t, &code, err);
	CHECK(rc == TOKEN_TEMP, "code 99991400 in a 200: temporary");
	rc = reply(503, "{\"code\":503,\"msg\":\"internal error\"}", "x", &t, &code, err);
	CHECK(rc == TOKEN_TEMP, "HTTP 503 with JSON: temporary: %s", err);
	rc = reply(502, "<html>bad gateway</html>", "x", &t, &code, err);
	CHECK(rc == TOKEN_TEMP && code == -1, "HTTP 502 with HTML: temporary: %s", err);
	rc = reply(404, "404 page not found", "x", &t, &code, err);
	CHECK(rc == TOKEN_CONFIG && strstr(err, "api_base"), "HTTP 404 without JSON: api_base is wrong, 78: %s", err);
	rc = reply(200, "{\"code\":0,\"expire\":7200}", "tenant_access_token", &t, &code, err);
	CHECK(rc == TOKEN_TEMP && !t.value, "code 0 without the token: temporary: %s", err);
	rc = reply(200, "{\"code\":0,\"tenant_access_token\":\"t x\",\"expire\":7200}", "tenant_access_token", &t,
	           &code, err);
	CHECK(rc == TOKEN_TEMP && !t.value, "a token with a space is not taken");
	rc = reply(200, "{\"code\":0,\"tenant_access_token\":\"t-x\"}", "tenant_access_token", &t, &code, err);
	CHECK(rc == TOKEN_TEMP && !t.value, "no expire: not taken");
	rc = reply(200, "{\"code\":0,\"msg\":\"ok\"}", NULL, &t, &code, err);
	CHECK(rc == TOKEN_OK && !t.value, "a reply without a token (app_ticket/resend): ok");
	rc = reply(200, "{\"code\":1,\"msg\":\"a\\u001bb\\nc\"}", NULL, &t, &code, err);
	CHECK(rc == TOKEN_CONFIG && !strchr(err, '\033') && !strchr(err, '\n'), "msg escaped: %s", err);
	rc = reply(200, "{\"code\":\"0\",\"tenant_access_token\":\"t\",\"expire\":1}", "tenant_access_token", &t,
	           &code, err);
	CHECK(rc != TOKEN_OK, "code as a string: not a success");
	rc = reply(200, "{\"code\":0.25,\"tenant_access_token\":\"t\",\"expire\":7200}", "tenant_access_token", &t,
	           &code, err);
	CHECK(rc == TOKEN_CONFIG && code == -2 && !t.value, "code 0.25: not a success");
	rc = reply(200, "{\"code\":1e300}", "x", &t, &code, err);
	CHECK(rc == TOKEN_CONFIG && code == -2, "code 1e300: refused, no overflow");
}

/* --- token_get on a private spool ------------------------------------------ */

static char dir[64], spool[128], state[160], cache[200];

static void
put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		printf("FAIL - cannot write %s\n", path);
		exit(1);
	}
	close(fd);
	chmod(path, mode);
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n < 0 ? NULL : buf;
}

static int
loaded_libcurl(void)
{
	char *maps = NULL;
	size_t n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f && getline(&maps, &n, f) > 0)
		found |= strstr(maps, "libcurl") != NULL;
	free(maps);
	if (f)
		fclose(f);
	return found;
}

static void
cache_io(void)
{
	struct config c;
	char err[1024] = "", text[512], *tok, key[17], other[17];
	struct stat st;
	long long now = time(NULL);
	enum token_rc rc;

	memset(&c, 0, sizeof c);
	snprintf(dir, sizeof dir, "/tmp/larkhook-token.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("FAIL - mkdtemp\n");
		exit(1);
	}
	snprintf(spool, sizeof spool, "%s/spool", dir);
	snprintf(state, sizeof state, "%s/state", spool);
	snprintf(cache, sizeof cache, "%s/tenant_token", state);
	c.file = "/x/larkhook.conf";
	c.spool = spool;
	c.app_id = "cli_test";
	c.app_secret = NULL;
	c.app_secret_file = NULL;
	c.api_base = "http://127.0.0.1:1";	/* answers nothing */
	token_key(c.app_id, c.api_base, NULL, key);

	snprintf(text, sizeof text, "larkhook-token 2 %s %lld %lld %lld\nt-first\n", key, now - 10, now + 7000,
	         now + 6000);
	mkdir(spool, 0700);
	mkdir(state, 0700);
	put(cache, text, 0600);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_OK && tok && strcmp(tok, "t-first") == 0, "a fresh cached token is handed out, no secret needed");
	CHECK(!loaded_libcurl(), "... without loading libcurl");
	free(tok);
	unlink(cache);
	rmdir(state);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG, "no secret to mint with: 78: %s", err);
	CHECK(stat(state, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	      "state/ is made 0700 in the spool");
	c.app_secret = strdup("hush-hush-secret");
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_TEMP && !tok, "an empty cache and no network: 75: %s", err);
	CHECK(!strstr(err, "hush-hush"), "the secret is not in the message");
	CHECK(access(cache, F_OK) != 0, "... and no cache file is made");
	CHECK(loaded_libcurl(), "a mint loads libcurl (the check below can fail)");

	snprintf(text, sizeof text, "larkhook-token 2 %s %lld %lld %lld\nt-cached\n", key, now - 10, now + 7000,
	         now + 6000);
	put(cache, text, 0600);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_OK && tok && strcmp(tok, "t-cached") == 0, "a fresh cached token is handed out");
	free(tok);

	rc = token_get(&c, NULL, 0, "t-cached", &tok, err, sizeof err);
	CHECK(rc == TOKEN_TEMP, "the cached token is the one Feishu refused: a mint (no network: 75)");
	rc = token_get(&c, NULL, 1, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_TEMP, "--refresh mints even with a fresh cache (no network: 75)");
	CHECK(strcmp(slurp(cache), text) == 0, "... and a failed mint leaves the cache as it was");

	token_key("cli_other", c.api_base, NULL, other);
	CHECK(strcmp(other, key) != 0, "token_key: another app, another key");
	token_key(c.app_id, "https://open.larksuite.com", NULL, other);
	CHECK(strcmp(other, key) != 0, "token_key: another api_base, another key");
	token_key(c.app_id, c.api_base, "tenant-1", other);
	CHECK(strcmp(other, key) != 0 && strlen(other) == 16, "token_key: a tenant, another key");
	snprintf(text, sizeof text, "larkhook-token 2 %s %lld %lld %lld\nt-cached\n", other, now - 10, now + 7000,
	         now + 6000);
	put(cache, text, 0600);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_TEMP && !tok, "a fresh token minted for another app or host is not used: a mint (75)");
	CHECK(strcmp(slurp(cache), text) == 0, "... the cache untouched");
	snprintf(text, sizeof text, "larkhook-token 2 %s %lld %lld %lld\nt-old\n", key, now - 7000, now + 200, now - 100);
	put(cache, text, 0600);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_TEMP && !tok, "a token under the margin is not handed out: a mint (75)");
	CHECK(strcmp(slurp(cache), text) == 0, "... the cache untouched");
	put(cache, "garbage\n", 0600);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_TEMP, "an unreadable cache file means a mint");

	snprintf(text, sizeof text, "larkhook-token 2 %s %lld %lld %lld\nt-cached\n", key, now, now + 7000, now + 6000);
	put(cache, text, 0644);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG && strstr(err, "0600"), "a cache file others can read is refused: %s", err);
	unlink(cache);
	snprintf(text, sizeof text, "%s/elsewhere", dir);
	put(text, "larkhook-token 2 " K " 1 99999999999 99999999999\nt-planted\n", 0600);
	if (symlink(text, cache)) {
		printf("FAIL - symlink\n");
		exit(1);
	}
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG && strstr(err, "symbolic link"), "a symbolic link at the cache path is refused: %s",
	      err);
	CHECK(strcmp(slurp(text), "larkhook-token 2 " K " 1 99999999999 99999999999\nt-planted\n") == 0,
	      "... and nothing is written through it");
	unlink(cache);
	snprintf(text, sizeof text, "%s/lock-target", dir);
	put(text, "", 0600);
	snprintf(err, sizeof err, "%s/token.lock", state);
	unlink(err);
	if (symlink(text, err)) {
		printf("FAIL - symlink\n");
		exit(1);
	}
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG, "a symbolic link at the lock path is refused: %s", err);
	snprintf(err, sizeof err, "%s/token.lock", state);
	unlink(err);

	chmod(state, 0777);
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG && strstr(err, "state"), "a state/ others can write is refused: %s", err);
	chmod(state, 0700);

	c.app_store = 1;
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG && strstr(err, "--tenant"), "a store app needs a tenant: %s", err);
	c.app_store = 0;
	rc = token_get(&c, "t1", 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG, "a self-built app takes no tenant: %s", err);
	c.app_id = NULL;
	rc = token_get(&c, NULL, 0, NULL, &tok, err, sizeof err);
	CHECK(rc == TOKEN_CONFIG && strstr(err, "app_id"), "no app_id: 78: %s", err);
	c.app_id = "cli_test";
	free(c.app_secret);
}

static void
ticket(void)
{
	struct config c;
	cJSON *ev;
	struct stat st;
	char path[200], *got;

	memset(&c, 0, sizeof c);
	c.spool = spool;
	c.app_id = "cli_test";
	c.app_store = 1;
	snprintf(path, sizeof path, "%s/app_ticket", state);
	ev = cJSON_Parse("{\"uuid\":\"u1\",\"type\":\"event_callback\",\"event\":{\"app_id\":\"cli_other\","
	                 "\"app_ticket\":\"tk-other\",\"type\":\"app_ticket\"}}");
	CHECK(token_keep_ticket(&c, ev) == 0 && access(path, F_OK) != 0, "another app's ticket is not kept");
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"uuid\":\"u2\",\"type\":\"event_callback\",\"event\":{\"app_id\":\"cli_test\","
	                 "\"app_ticket\":\"tk-1\",\"type\":\"app_ticket\"}}");
	CHECK(token_keep_ticket(&c, ev) == 0 && (got = slurp(path)) && strcmp(got, "larkhook-ticket 1\ntk-1\n") == 0,
	      "the app's ticket is kept in state/app_ticket");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "... 0600");
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"uuid\":\"u3\",\"event\":{\"app_id\":\"cli_test\",\"app_ticket\":\"tk-2\"}}");
	CHECK(token_keep_ticket(&c, ev) == 0 && strcmp(slurp(path), "larkhook-ticket 1\ntk-2\n") == 0,
	      "a newer ticket replaces it");
	cJSON_Delete(ev);
}

int
main(void)
{
	char cmd[128];

	life();
	format();
	replies();
	cache_io();
	ticket();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("FAIL - cannot remove %s\n", dir);
	return t_done();
}
