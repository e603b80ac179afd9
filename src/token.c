/* token.c: the token cache: its file format and lifetime rules (pure), then
 * the files under the spool's state/ directory, the lock that makes many
 * simultaneous callers one mint, and the mints themselves */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "http.h"
#include "io.h"
#include "log.h"
#include "token.h"

#define MAGIC "larkhook-token 2"
#define TICKET_MAGIC "larkhook-ticket 1"

/* --- pure: lifetime, format, replies ------------------------------------- */

void
token_key(const char *app_id, const char *api_base, const char *tenant, char out[17])
{
	struct bytes parts[5] = {
		{ app_id, strlen(app_id) }, { "\n", 1 }, { api_base, strlen(api_base) }, { "\n", 1 },
		{ tenant ? tenant : "", tenant ? strlen(tenant) : 0 },
	};
	unsigned char md[32];

	if (crypto_sha256(parts, 5, md))
		memset(md, 0, sizeof md);
	crypto_hex(md, 8, out);
	out[16] = '\0';
}

void
token_life(struct token *t, long long now, long long expire)
{
	if (expire < 0)
		expire = 0;
	t->minted = now;
	t->expires = now + expire;
	/* Feishu hands back the same token while 30 min or more remain, so the
	 * margin must stay below that; a short-lived token is used for half
	 * its life instead */
	t->refresh = expire >= 2 * TOKEN_MARGIN ? t->expires - TOKEN_MARGIN : now + expire / 2;
}

int
token_fresh(const struct token *t, long long now)
{
	return t->value && now < t->refresh && now >= t->minted - TOKEN_MARGIN;
}

int
token_valid(const char *s, size_t n)
{
	if (n == 0 || n > TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

char *
token_format(const struct token *t, size_t *len)
{
	size_t vn = strlen(t->value), cap = vn + 128;
	char *buf = malloc(cap);
	int n;

	if (!buf)
		return NULL;
	n = snprintf(buf, cap, MAGIC " %.16s %lld %lld %lld\n", t->key, t->minted, t->expires, t->refresh);
	if (n < 0 || (size_t)n + vn + 2 > cap) {
		free(buf);
		return NULL;
	}
	memcpy(buf + n, t->value, vn);
	buf[n + vn] = '\n';
	buf[n + vn + 1] = '\0';
	*len = (size_t)n + vn + 1;
	return buf;
}

/* A decimal (optionally negative, no leading zero, no "-0") ending at a
 * space or a newline. */
static const char *
number(const char *s, const char *end, long long *out)
{
	long long v = 0;
	int neg = s < end && *s == '-';

	if (neg)
		s++;
	if (s == end || *s < '0' || *s > '9')
		return NULL;
	/* one spelling per number, as token_format writes it */
	if (*s == '0' && (neg || (s + 1 < end && s[1] >= '0' && s[1] <= '9')))
		return NULL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > 99999999999999LL)
			return NULL;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return s;
}

int
token_parse(const char *buf, size_t len, struct token *t)
{
	const char *s = buf, *end = buf + len, *nl;
	long long v[3];

	memset(t, 0, sizeof *t);
	if (len < sizeof MAGIC + 17 || memcmp(buf, MAGIC " ", sizeof MAGIC) != 0)
		return -1;
	s += sizeof MAGIC;
	for (int i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	if (s[16] != ' ')
		return -1;
	memcpy(t->key, s, 16);
	t->key[16] = '\0';
	s += 17;
	for (int i = 0; i < 3; i++) {
		if (!(s = number(s, end, &v[i])) || s == end || *s != (i < 2 ? ' ' : '\n'))
			return -1;
		s++;
	}
	if (!(nl = memchr(s, '\n', (size_t)(end - s))) || nl + 1 != end || !token_valid(s, (size_t)(nl - s)))
		return -1;
	if (!(t->value = strndup(s, (size_t)(nl - s))))
		return -1;
	t->minted = v[0];
	t->expires = v[1];
	t->refresh = v[2];
	return 0;
}

void
token_free(struct token *t)
{
	if (t->value) {
		explicit_bzero(t->value, strlen(t->value));
		free(t->value);
	}
	memset(t, 0, sizeof *t);
}

/* Feishu's msg, escaped and cut, for a message. */
static const char *
msg_of(const cJSON *root, char *buf, size_t n)
{
	const char *m = json_string(root, "msg", 4096);

	if (!m)
		return "no msg";
	log_escape(buf, n, m, strlen(m), (n - 4) / 4 < 200 ? (n - 4) / 4 : 200);
	return buf;
}

enum token_rc
token_reply(long status, const char *body, size_t len, const char *field, long long now,
            struct token *t, long *code, char *err, size_t n)
{
	const cJSON *c, *v, *e;
	enum token_rc rc = TOKEN_TEMP;
	cJSON *root = NULL;
	char msg[1024];

	memset(t, 0, sizeof *t);
	*code = -1;
	if (json_parse(body, len, &root) || !cJSON_IsObject(root)) {
		if (status == 404 || status == 405)
			rc = TOKEN_CONFIG;
		snprintf(err, n, "HTTP %ld without a JSON reply%s", status,
		         rc == TOKEN_CONFIG ? ": is api_base a Feishu / Lark OpenAPI server?" : "");
		goto out;
	}
	c = cJSON_GetObjectItemCaseSensitive(root, "code");
	*code = json_code(root);
	if (*code == 99991400 || status == 429) {
		snprintf(err, n, "rate limited (HTTP %ld, code %ld): try again later", status, *code);
		goto out;
	}
	if (status >= 500) {
		snprintf(err, n, "Feishu answered HTTP %ld (code %ld: %s)", status, *code,
		         msg_of(root, msg, sizeof msg));
		goto out;
	}
	if (*code != 0) {
		snprintf(err, n, "Feishu refused (HTTP %ld, code %ld: %s)", status, *code,
		         msg_of(root, msg, sizeof msg));
		rc = cJSON_IsNumber(c) ? TOKEN_CONFIG : TOKEN_TEMP;
		goto out;
	}
	if (!field) {
		rc = TOKEN_OK;
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, field);
	e = cJSON_GetObjectItemCaseSensitive(root, "expire");
	if (!cJSON_IsString(v) || !token_valid(v->valuestring, strlen(v->valuestring)) ||
	    !cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e9) {
		snprintf(err, n, "code 0 but no usable %s and expire in the reply", field);
		goto out;
	}
	if (!(t->value = strdup(v->valuestring))) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	token_life(t, now, (long long)e->valuedouble);
	rc = TOKEN_OK;
out:
	if (root && cJSON_IsObject(root) && (v = cJSON_GetObjectItemCaseSensitive(root, field ? field : "")) &&
	    cJSON_IsString(v))
		explicit_bzero(v->valuestring, strlen(v->valuestring));
	cJSON_Delete(root);
	return rc;
}

/* --- the state directory and its files ------------------------------------ */

/* fd is a directory or (want_file) a 0600 regular file of ours that nobody
 * else can write. */
static int
ours(int fd, int want_file)
{
	struct stat st;

	if (fstat(fd, &st) || st.st_uid != geteuid())
		return 0;
	if (want_file)
		return S_ISREG(st.st_mode) && !(st.st_mode & 077);
	return S_ISDIR(st.st_mode) && !(st.st_mode & 022);
}

/* Open dir/name as a directory of ours, creating it 0700 when missing. */
static int
open_dir(int at, const char *path, const char *shown, char *err, size_t n)
{
	int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && (mkdirat(at, path, 0700) == 0 || errno == EEXIST))
		fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, n, "cannot open the directory %s: %s", shown, strerror(errno));
		return -1;
	}
	if (!ours(fd, 0)) {
		snprintf(err, n, "%s is not a directory of this user's (uid %ld) that only it can write: "
		         "refusing to keep tokens there", shown, (long)geteuid());
		close(fd);
		return -1;
	}
	return fd;
}

/* spool/state: where tokens and the app_ticket are kept. The spool itself
 * may be reached through a symbolic link the admin made; state/ may not. */
static int
state_dir(const struct config *c, char *err, size_t n)
{
	char shown[4200];
	int sfd, fd;

	if (mkdir(c->spool, 0700) && errno != EEXIST) {
		snprintf(err, n, "cannot create the spool %s: %s", c->spool, strerror(errno));
		return -1;
	}
	if ((sfd = open(c->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, n, "cannot open the spool %s: %s", c->spool, strerror(errno));
		return -1;
	}
	if (!ours(sfd, 0)) {
		snprintf(err, n, "the spool %s is not a directory of this user's (uid %ld) that only it "
		         "can write: run this as the user the web server runs larkhook as", c->spool,
		         (long)geteuid());
		close(sfd);
		return -1;
	}
	snprintf(shown, sizeof shown, "%s/state", c->spool);
	fd = open_dir(sfd, "state", shown, err, n);
	close(sfd);
	return fd;
}

/* Read the file name of dir into *buf (caller frees). 0 when read; 1 when
 * there is none; -1 when it must not be used (a symbolic link, not a 0600
 * file of ours) or cannot be read, with err set. */
static int
read_state(int dir, const char *name, char **buf, size_t *len, char *err, size_t n)
{
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	size_t cap = TOKEN_MAX + 256, got = 0;
	ssize_t r;

	*buf = NULL;
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || !ours(fd, 1)) {
		snprintf(err, n, "state/%s in the spool is %s: refusing to use it (remove it)", name,
		         fd < 0 && errno == ELOOP ? "a symbolic link" :
		         fd < 0 ? strerror(errno) : "not a 0600 file of this user's");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!(*buf = malloc(cap + 1))) {
		close(fd);
		snprintf(err, n, "out of memory");
		return -1;
	}
	while (got < cap && ((r = read(fd, *buf + got, cap - got)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			got += (size_t)r;
	close(fd);
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

/* A cached token from dir/name into t: 0 (t filled, fresh or not), 1 (none,
 * unreadable text, or minted for another key: a mint replaces it), -1
 * (refused, err set). */
static int
load(int dir, const char *name, const char *key, struct token *t, char *err, size_t n)
{
	char *buf;
	size_t len;
	int rc = read_state(dir, name, &buf, &len, err, n);

	memset(t, 0, sizeof *t);
	if (rc == 0) {
		rc = token_parse(buf, len, t) ? 1 : 0;
		explicit_bzero(buf, len);
		if (rc == 0 && strcmp(t->key, key) != 0) {
			token_free(t);
			rc = 1;
		}
	}
	free(buf);
	return rc;
}

/* Replace dir/name by data, 0600, through a temporary file and rename:
 * readers see the old or the new file, never half of one, and a symbolic
 * link planted at the name is replaced, not written through. durable:
 * fsync the file and the directory before returning. */
static int
write_state(int dir, const char *name, const char *data, size_t len, int durable)
{
	char tmp[128];
	int fd, rc = -1;

	snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", name, (long)getpid());
	unlinkat(dir, tmp, 0);
	if ((fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (io_write_all(fd, data, len) == 0 && (!durable || fsync(fd) == 0))
		rc = 0;
	if (close(fd))
		rc = -1;
	if (rc == 0 && renameat(dir, tmp, dir, name))
		rc = -1;
	if (rc)
		unlinkat(dir, tmp, 0);
	else if (durable)
		rc = fsync(dir);
	return rc;
}

static int
save(int dir, const char *name, const struct token *t)
{
	size_t len;
	char *buf = token_format(t, &len);
	int rc = buf ? write_state(dir, name, buf, len, 0) : -1;

	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return rc;
}

/* --- mints ----------------------------------------------------------------- */

/* A JSON object of up to three string members (NULL names end it); caller
 * wipes and frees with cJSON_free. */
static char *
body3(const char *k1, const char *v1, const char *k2, const char *v2, const char *k3,
      const char *v3)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;

	if (o && cJSON_AddStringToObject(o, k1, v1) && cJSON_AddStringToObject(o, k2, v2) &&
	    (!k3 || cJSON_AddStringToObject(o, k3, v3)))
		out = cJSON_PrintUnformatted(o);
	if (o) {
		/* the tree holds copies of the secret too */
		for (cJSON *m = o->child; m; m = m->next)
			explicit_bzero(m->valuestring, strlen(m->valuestring));
		cJSON_Delete(o);
	}
	return out;
}

/* POST body to api_base + path; the reply read by token_reply for field. */
static enum token_rc
post(const struct config *c, const char *path, char *body, const char *field, struct token *t,
     long *code, char *err, size_t n)
{
	static const char *const headers[] = { "Content-Type: application/json; charset=utf-8", NULL };
	struct http_reply r;
	enum token_rc rc;
	char url[1024];

	*code = -1;
	memset(t, 0, sizeof *t);
	if (!body) {
		snprintf(err, n, "out of memory");
		return TOKEN_TEMP;
	}
	snprintf(url, sizeof url, "%s%s", c->api_base, path);
	if (http_init(err, n))
		rc = TOKEN_CONFIG;
	else if (http_request("POST", url, headers, body, strlen(body), TOKEN_TIMEOUT_MS, &r, err, n))
		rc = TOKEN_TEMP;
	else {
		rc = token_reply(r.status, r.body, r.len, field, (long long)time(NULL), t, code, err, n);
		explicit_bzero(r.body, r.len);
		http_reply_free(&r);
	}
	explicit_bzero(body, strlen(body));
	cJSON_free(body);
	return rc;
}

static enum token_rc
mint_self_built(const struct config *c, struct token *t, char *err, size_t n)
{
	long code;

	return post(c, "/open-apis/auth/v3/tenant_access_token/internal",
	            body3("app_id", c->app_id, "app_secret", c->app_secret, NULL, NULL),
	            "tenant_access_token", t, &code, err, n);
}

/* Ask Feishu to push an app_ticket now; always a temporary failure for the
 * caller, who has no ticket to mint with yet. */
static enum token_rc
resend(const struct config *c, const char *why, char *err, size_t n)
{
	struct token none;
	char e[512];
	long code;
	enum token_rc rc = post(c, "/open-apis/auth/v3/app_ticket/resend",
	                        body3("app_id", c->app_id, "app_secret", c->app_secret, NULL, NULL),
	                        NULL, &none, &code, e, sizeof e);

	if (rc == TOKEN_CONFIG) {
		snprintf(err, n, "%s; asking Feishu to resend one failed: %s", why, e);
		return TOKEN_CONFIG;
	}
	snprintf(err, n, "%s; %s: try again in a minute (Feishu pushes it to the event URL)", why,
	         rc == TOKEN_OK ? "asked Feishu to resend it" : "asking Feishu to resend it failed");
	return TOKEN_TEMP;
}

static int
read_ticket(int dir, char **ticket, char *err, size_t n)
{
	size_t len, m = sizeof TICKET_MAGIC;
	char *buf;
	int rc = read_state(dir, "app_ticket", &buf, &len, err, n);

	*ticket = NULL;
	if (rc)
		return rc;
	if (len > m && memcmp(buf, TICKET_MAGIC "\n", m) == 0 && buf[len - 1] == '\n' &&
	    token_valid(buf + m, len - m - 1))
		*ticket = strndup(buf + m, len - m - 1);
	explicit_bzero(buf, len);
	free(buf);
	return *ticket ? 0 : 1;
}

/* The store app's app_access_token: cached, or minted from the kept
 * app_ticket (none, or a stale one: Feishu is asked to resend, TEMP). */
static enum token_rc
app_token(const struct config *c, int dir, int force, struct token *t, char *err, size_t n)
{
	enum token_rc rc;
	char *ticket, key[17];
	long code;
	int got;

	token_key(c->app_id, c->api_base, NULL, key);
	got = load(dir, "app_token", key, t, err, n);

	if (got < 0)
		return TOKEN_CONFIG;
	if (got == 0 && !force && token_fresh(t, (long long)time(NULL)))
		return TOKEN_OK;
	token_free(t);
	if ((got = read_ticket(dir, &ticket, err, n)) < 0)
		return TOKEN_CONFIG;
	if (got)
		return resend(c, "no app_ticket has arrived yet", err, n);
	rc = post(c, "/open-apis/auth/v3/app_access_token",
	          body3("app_id", c->app_id, "app_secret", c->app_secret, "app_ticket", ticket),
	          "app_access_token", t, &code, err, n);
	explicit_bzero(ticket, strlen(ticket));
	free(ticket);
	if (rc == TOKEN_CONFIG && code == 10012)
		return resend(c, "the kept app_ticket is no longer valid (code 10012)", err, n);
	if (rc == TOKEN_OK)
		memcpy(t->key, key, sizeof key);
	if (rc == TOKEN_OK && save(dir, "app_token", t)) {
		snprintf(err, n, "cannot write state/app_token in the spool: %s", strerror(errno));
		token_free(t);
		return TOKEN_CONFIG;
	}
	return rc;
}

/* A store app's tenant token: from the app token; one more try with a
 * fresh app token when Feishu refuses a cached one. */
static enum token_rc
mint_store(const struct config *c, int dir, const char *tenant, struct token *t, char *err,
           size_t n)
{
	struct token app;
	enum token_rc rc = TOKEN_TEMP;
	long code = -1;

	for (int force = 0; force < 2; force++) {
		if ((rc = app_token(c, dir, force, &app, err, n)) != TOKEN_OK)
			return rc;
		rc = post(c, "/open-apis/auth/v3/tenant_access_token",
		          body3("app_access_token", app.value, "tenant_key", tenant, NULL, NULL),
		          "tenant_access_token", t, &code, err, n);
		token_free(&app);
		if (!(rc == TOKEN_CONFIG && (code == 99991663 || code == 99991664 || code == 99991671)))
			break;
	}
	return rc;
}

/* --- token_get ------------------------------------------------------------- */

/* The cache file's name: one per tenant for a store app. */
static void
cache_name(const char *tenant, char *name, size_t n)
{
	struct bytes b = { tenant, tenant ? strlen(tenant) : 0 };
	unsigned char md[32];
	char hex[65];

	if (!tenant || crypto_sha256(&b, 1, md)) {
		snprintf(name, n, "tenant_token");
		return;
	}
	crypto_hex(md, 16, hex);
	snprintf(name, n, "tenant_token.%s", hex);
}

/* Take the lock, look again (another process may have minted while this
 * one waited), mint when still needed, keep the result. */
static enum token_rc
locked_mint(struct config *c, int dir, const char *name, const char *key, const char *tenant,
            const char *stale, char **out, char *err, size_t n)
{
	struct token t;
	enum token_rc rc = TOKEN_CONFIG;
	int lock, got;

	lock = openat(dir, "token.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0 || !ours(lock, 1)) {
		snprintf(err, n, "state/token.lock in the spool is %s: refusing to use it (remove it)",
		         lock < 0 ? strerror(errno) : "not a 0600 file of this user's");
		goto out;
	}
	while (flock(lock, LOCK_EX) && errno == EINTR)
		;
	if ((got = load(dir, name, key, &t, err, n)) < 0)
		goto out;
	if (got == 0 && token_fresh(&t, (long long)time(NULL)) && (!stale || strcmp(t.value, stale) != 0)) {
		*out = t.value;
		rc = TOKEN_OK;
		goto out;
	}
	token_free(&t);
	if (cfg_app_secret(c, err, n))
		goto out;
	rc = tenant ? mint_store(c, dir, tenant, &t, err, n) : mint_self_built(c, &t, err, n);
	if (rc != TOKEN_OK)
		goto out;
	memcpy(t.key, key, sizeof t.key);
	/* a token that may not be cached (expire 0) is still handed out once */
	if (t.refresh > t.minted && save(dir, name, &t)) {
		snprintf(err, n, "cannot write state/%s in the spool: %s", name, strerror(errno));
		token_free(&t);
		rc = TOKEN_CONFIG;
		goto out;
	}
	*out = t.value;
out:
	if (lock >= 0)
		close(lock);	/* releases the lock */
	return rc;
}

enum token_rc
token_get(struct config *c, const char *tenant, int force, const char *stale, char **out,
          char *err, size_t n)
{
	struct token t;
	enum token_rc rc;
	char name[80], key[17];
	int dir, got;

	*out = NULL;
	if (!c->app_id) {
		snprintf(err, n, "%s has no app_id: set app_id and app_secret_file (doc/9-openapi.md)", c->file);
		return TOKEN_CONFIG;
	}
	if (c->app_store && (!tenant || !*tenant)) {
		snprintf(err, n, "app_type = store: say which tenant (--tenant KEY; hooks have LARK_TENANT_KEY)");
		return TOKEN_CONFIG;
	}
	if (!c->app_store && tenant) {
		snprintf(err, n, "--tenant is for app_type = store; a self-built app has one tenant");
		return TOKEN_CONFIG;
	}
	if ((dir = state_dir(c, err, n)) < 0)
		return TOKEN_CONFIG;
	cache_name(tenant, name, sizeof name);
	token_key(c->app_id, c->api_base, tenant, key);
	/* the common case: a fresh token in the cache, no lock, no libcurl */
	if ((got = load(dir, name, key, &t, err, n)) < 0) {
		close(dir);
		return TOKEN_CONFIG;
	}
	if (got == 0 && !force && token_fresh(&t, (long long)time(NULL)) &&
	    (!stale || strcmp(t.value, stale) != 0)) {
		*out = t.value;
		close(dir);
		return TOKEN_OK;
	}
	/* --refresh: the token seen now is the one to replace */
	rc = locked_mint(c, dir, name, key, tenant, force && got == 0 ? t.value : stale, out, err, n);
	token_free(&t);
	close(dir);
	return rc;
}

int
token_keep_ticket(const struct config *c, const cJSON *root)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
	const char *ticket = json_string(ev, "app_ticket", TOKEN_MAX);
	const char *app = json_string(ev, "app_id", 256);
	char err[512], *buf;
	size_t len;
	int dir, rc;

	if (!ticket || !token_valid(ticket, strlen(ticket)) || (app && c->app_id && strcmp(app, c->app_id)))
		return 0;	/* not ours to keep: acknowledged, routed as any event */
	if ((dir = state_dir(c, err, sizeof err)) < 0) {
		log_msg("app_ticket: %s", err);
		return -1;
	}
	len = sizeof TICKET_MAGIC + strlen(ticket) + 1;
	if (!(buf = malloc(len + 1))) {
		close(dir);
		return -1;
	}
	snprintf(buf, len + 1, TICKET_MAGIC "\n%s\n", ticket);
	rc = write_state(dir, "app_ticket", buf, len, 1);
	if (rc)
		log_msg("app_ticket: cannot write state/app_ticket in the spool: %s", strerror(errno));
	explicit_bzero(buf, len);
	free(buf);
	close(dir);
	return rc;
}
