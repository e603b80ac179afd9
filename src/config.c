/* config.c: larkhook.conf → struct config (pure parser, plus a loader that
 * reads the file and the secret files) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"

#define MAX_FILE (1024 * 1024)

struct parser {
	struct config *c;
	const char *file;
	int line;
	struct hook *hook;	/* current [on] section, or NULL for globals */
	int seen[32];		/* line of first use per global key */
	int hook_seen[8];	/* the same per key of the current [on] section */
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

static char *
resolve(const char *dir, const char *path)
{
	char *out;
	size_t n;

	if (path[0] == '/')
		return strdup(path);
	n = strlen(dir) + strlen(path) + 2;
	if ((out = malloc(n)))
		snprintf(out, n, "%s/%s", dir, path);
	return out;
}

/* A decimal with an optional unit suffix; units[i] multiplies by mult[i]. */
static int
number(const char *v, const char *units, const unsigned long *mult, unsigned long *out)
{
	unsigned long n = 0;
	const char *s = v;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (ULONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (*s) {
		const char *u = strchr(units, *s);

		if (!u || s[1])
			return -1;
		if (n > ULONG_MAX / mult[u - units])
			return -1;
		n *= mult[u - units];
	}
	*out = n;
	return 0;
}

static int
duration(struct parser *p, const char *key, const char *v, unsigned long lo,
         unsigned long hi, unsigned *out)
{
	static const unsigned long mult[] = { 1, 60, 3600, 86400 };
	unsigned long n;

	if (number(v, "smhd", mult, &n))
		return fail(p, "%s: \"%s\" is not a duration (a number with s, m, h or d)", key, v);
	if (n < lo || n > hi)
		return fail(p, "%s: %s is out of range (%lus to %lus)", key, v, lo, hi);
	*out = (unsigned)n;
	return 0;
}

static int
count(struct parser *p, const char *key, const char *v, unsigned long lo,
      unsigned long hi, unsigned long *out)
{
	static const unsigned long mult[] = { 1024, 1024 * 1024 };

	if (number(v, "KM", mult, out))
		return fail(p, "%s: \"%s\" is not a number", key, v);
	if (*out < lo || *out > hi)
		return fail(p, "%s: %s is out of range (%lu to %lu)", key, v, lo, hi);
	return 0;
}

static int
set_string(struct parser *p, char **dst, const char *v, int is_path)
{
	free(*dst);
	*dst = is_path ? resolve(p->c->dir, v) : strdup(v);
	return *dst ? 0 : fail(p, "out of memory");
}

static int
backoff(struct parser *p, char *v)
{
	struct config *c = p->c;
	char *save = NULL;

	c->nbackoff = 0;
	for (char *w = strtok_r(v, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (c->nbackoff == CFG_MAX_BACKOFF)
			return fail(p, "backoff: at most %d delays", CFG_MAX_BACKOFF);
		if (duration(p, "backoff", w, 0, 30 * 86400, &c->backoff[c->nbackoff++]))
			return -1;
	}
	return 0;
}

static int
env_entry(struct parser *p, const char *v)
{
	struct config *c = p->c;
	const char *eq = strchr(v, '=');
	char **grown;

	if (!eq || eq == v)
		return fail(p, "env: expected NAME=VALUE");
	for (const char *s = v; s < eq; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		      (s > v && *s >= '0' && *s <= '9')))
			return fail(p, "env: \"%.*s\" is not a variable name", (int)(eq - v), v);
	if (strncmp(v, "LARK_", 5) == 0 || strncmp(v, "PATH=", 5) == 0 || strncmp(v, "HOME=", 5) == 0 ||
	    strncmp(v, "LARKHOOK=", 9) == 0 || strncmp(v, "LARKHOOK_CONFIG=", 16) == 0)
		return fail(p, "env: %.*s is set by larkhook itself", (int)(eq - v), v);
	for (int i = 0; i < c->nenv; i++)
		if (strncmp(c->env[i], v, (size_t)(eq - v) + 1) == 0)
			return fail(p, "env: %.*s is set twice", (int)(eq - v), v);
	if (!(grown = realloc(c->env, (c->nenv + 1) * sizeof *grown)))
		return fail(p, "out of memory");
	c->env = grown;
	if (!(c->env[c->nenv] = strdup(v)))
		return fail(p, "out of memory");
	c->nenv++;
	return 0;
}

static int
yesno(struct parser *p, const char *key, const char *v, int *out)
{
	if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return fail(p, "%s: expected yes or no, not \"%s\"", key, v);
	return 0;
}

/* 127.0.0.0/8 in dotted decimal, "localhost" or "[::1]": the hosts an
 * http:// api_base may name (an emulator in tests); anything else must be
 * https, so the token and the App Secret never cross a network in clear. */
static int
loopback(const char *host, size_t n)
{
	unsigned long part;
	int parts = 0;
	const char *s = host, *end = host + n;

	if ((n == 9 && strncmp(host, "localhost", 9) == 0) || (n == 5 && strncmp(host, "[::1]", 5) == 0))
		return 1;
	while (s < end) {
		if (*s < '0' || *s > '9')
			return 0;
		for (part = 0; s < end && *s >= '0' && *s <= '9' && part < 256; s++)
			part = part * 10 + (unsigned long)(*s - '0');
		if (part > 255 || (parts == 0 && part != 127) || ++parts > 4)
			return 0;
		if (s < end && (*s++ != '.' || s == end))
			return 0;
	}
	return parts == 4;
}

/* scheme://host[:port], nothing else: the api command appends a path to
 * it, and nothing in it may move the request to another host. */
static int
api_base(struct parser *p, const char *v)
{
	const char *host, *end;
	size_t n = strlen(v), hn;
	int https = strncmp(v, "https://", 8) == 0;

	if (!https && strncmp(v, "http://", 7) != 0)
		return fail(p, "api_base: \"%s\" is not an https:// URL such as https://open.feishu.cn", v);
	host = v + (https ? 8 : 7);
	/* one trailing slash, never the scheme's own ("https://" alone) */
	if (v + n > host && v[n - 1] == '/')
		n--;
	end = v + n;
	hn = (size_t)(end - host);
	if (memchr(host, ':', hn) && host[0] != '[')
		hn = (size_t)((const char *)memchr(host, ':', hn) - host);
	else if (host[0] == '[' && memchr(host, ']', (size_t)(end - host)))
		hn = (size_t)((const char *)memchr(host, ']', (size_t)(end - host)) - host) + 1;
	if (!hn || hn > 253 || (host[0] == '[' && host[hn - 1] != ']'))
		return fail(p, "api_base: \"%s\" names no host", v);
	for (const char *s = host; s < host + hn; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '-' || (host[0] == '[' && (*s == ':' || *s == '[' || *s == ']'))))
			return fail(p, "api_base: \"%s\" is scheme://host[:port] with no path, user or query", v);
	if (host + hn < end) {
		unsigned long port = 0;
		const char *s = host + hn + 1;

		if (host[hn] != ':' || s == end)
			return fail(p, "api_base: \"%s\" is scheme://host[:port] with no path, user or query", v);
		for (; s < end && *s >= '0' && *s <= '9' && port <= 65535; s++)
			port = port * 10 + (unsigned long)(*s - '0');
		if (s != end || port == 0 || port > 65535)
			return fail(p, "api_base: \"%s\" has a bad port", v);
	}
	if (!https && !loopback(host, hn))
		return fail(p, "api_base: http:// only for a loopback address (tests); "
		               "use https://, e.g. https://open.feishu.cn or https://open.larksuite.com");
	free(p->c->api_base);
	if (!(p->c->api_base = strndup(v, n)))
		return fail(p, "out of memory");
	return 0;
}

static int
app_id(struct parser *p, const char *v)
{
	for (const char *s = v; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\')
			return fail(p, "app_id: \"%s\" is not an App ID such as cli_a1b2c3d4e5f6", v);
	p->c->api_line = p->line;
	return set_string(p, &p->c->app_id, v, 0);
}

static int
app_type(struct parser *p, const char *v)
{
	if (strcmp(v, "self_built") == 0)
		p->c->app_store = 0;
	else if (strcmp(v, "store") == 0)
		p->c->app_store = 1;
	else
		return fail(p, "app_type: expected self_built or store, not \"%s\"", v);
	return 0;
}

static const char *const globals[] = {
	"verification_token", "verification_token_file", "encrypt_key", "encrypt_key_file",
	"spool", "max_body", "max_age", "read_timeout", "retain", "concurrency",
	"backoff", "path", "env", "log", "allow_root", "app_id", "app_secret",
	"app_secret_file", "api_base", "app_type", "reply_max_age", NULL,
};

static int
global(struct parser *p, const char *key, char *v)
{
	struct config *c = p->c;
	unsigned long n;
	int k;

	for (k = 0; globals[k] && strcmp(globals[k], key); k++)
		;
	if (!globals[k])
		return fail(p, "unknown key \"%s\"", key);
	if (p->seen[k] && strcmp(key, "env") != 0)
		return fail(p, "duplicate key \"%s\" (first set on line %d)", key, p->seen[k]);
	p->seen[k] = p->line;
	switch (k) {
	case 0: return set_string(p, &c->token, v, 0);
	case 1: return set_string(p, &c->token_file, v, 1);
	case 2: return set_string(p, &c->encrypt_key, v, 0);
	case 3: return set_string(p, &c->encrypt_key_file, v, 1);
	case 4: return set_string(p, &c->spool, v, 1);
	case 5:
		if (count(p, key, v, 1024, 64UL * 1024 * 1024, &n))
			return -1;
		c->max_body = n;
		return 0;
	case 6: return duration(p, key, v, 0, 30 * 86400, &c->max_age);
	case 7: return duration(p, key, v, 1, 300, &c->read_timeout);
	case 8: return duration(p, key, v, 8 * 3600, 366 * 86400, &c->retain);
	case 9:
		if (count(p, key, v, 1, 64, &n))
			return -1;
		c->concurrency = (unsigned)n;
		return 0;
	case 10: return backoff(p, v);
	case 11: return set_string(p, &c->path, v, 0);
	case 12: return env_entry(p, v);
	case 13: return set_string(p, &c->log, v, 1);
	case 14: return yesno(p, key, v, &c->allow_root);
	case 15: return app_id(p, v);
	case 16: return set_string(p, &c->app_secret, v, 0);
	case 17: return set_string(p, &c->app_secret_file, v, 1);
	case 18: return api_base(p, v);
	case 19: return app_type(p, v);
	default: return duration(p, key, v, 0, 3600, &c->reply_max_age);
	}
}

static const char *const hook_keys[] = { "run", "timeout", "attempts", "each", "mode", NULL };

static int
hook_key(struct parser *p, const char *key, const char *v)
{
	struct hook *h = p->hook;
	unsigned long n;
	int k;

	for (k = 0; hook_keys[k] && strcmp(hook_keys[k], key); k++)
		;
	if (hook_keys[k] && p->hook_seen[k])
		return fail(p, "duplicate key \"%s\" in [on %s] (first set on line %d)", key,
		            h->pattern, p->hook_seen[k]);
	if (hook_keys[k])
		p->hook_seen[k] = p->line;
	if (strcmp(key, "run") == 0)
		return set_string(p, &h->run, v, 0);
	if (strcmp(key, "timeout") == 0)
		return duration(p, key, v, 1, 86400, &h->timeout);
	if (strcmp(key, "attempts") == 0) {
		if (count(p, key, v, 1, 100, &n))
			return -1;
		h->attempts = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "each") == 0) {
		if (v[0] == '.' || v[strlen(v) - 1] == '.' || strstr(v, ".."))
			return fail(p, "each: \"%s\" is not a dotted path such as items", v);
		return set_string(p, &h->each, v, 0);
	}
	if (strcmp(key, "mode") == 0) {
		if (strcmp(v, "reply") == 0)
			h->reply = 1;
		else if (strcmp(v, "queue") == 0)
			h->reply = 0;
		else
			return fail(p, "mode: expected queue or reply, not \"%s\"", v);
		return 0;
	}
	return fail(p, "unknown key \"%s\" in [on %s] (run, timeout, attempts, each, mode)", key, h->pattern);
}

static int
section(struct parser *p, char *s, size_t n)
{
	struct config *c = p->c;
	struct hook *grown, *h;
	char *pat;

	if (n < 5 || strncmp(s, "[on ", 4) != 0 || s[n - 1] != ']')
		return fail(p, "expected a section such as [on compensation.archive.changed_v1]");
	s[n - 1] = '\0';
	pat = s + 4;
	while (*pat == ' ' || *pat == '\t')
		pat++;
	for (char *e = pat + strlen(pat); e > pat && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = '\0';
	if (!*pat || strlen(pat) > 256)
		return fail(p, "[on]: the event type pattern is empty or too long");
	for (char *q = pat; *q; q++)
		if (*q <= ' ' || *q > '~' || (*q == '*' && !(q[1] == '\0' && (q == pat || q[-1] == '.'))) ||
		    (*q == '.' && (q == pat || q[1] == '.' || q[1] == '\0')))
			return fail(p, "[on %s]: a pattern is a type, \"prefix.*\" or \"*\"", pat);
	for (int i = 0; i < c->nhooks; i++)
		if (strcmp(c->hooks[i].pattern, pat) == 0)
			return fail(p, "[on %s] is already defined on line %d", pat, c->hooks[i].line);
	if (!(grown = realloc(c->hooks, (c->nhooks + 1) * sizeof *grown)))
		return fail(p, "out of memory");
	c->hooks = grown;
	h = p->hook = &c->hooks[c->nhooks++];
	memset(h, 0, sizeof *h);
	memset(p->hook_seen, 0, sizeof p->hook_seen);
	h->line = p->line;
	h->attempts = 5;
	h->match = strcmp(pat, "*") == 0 ? MATCH_ANY :
	           pat[strlen(pat) - 1] == '*' ? MATCH_PREFIX : MATCH_EXACT;
	if (!(h->pattern = strdup(pat)))
		return fail(p, "out of memory");
	return 0;
}

static char *
trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	*end = '\0';
	return s;
}

static int
line(struct parser *p, char *s)
{
	char *eq, *key, *v;

	for (char *h = s; (h = strchr(h, '#')); h++)
		if (h == s || h[-1] == ' ' || h[-1] == '\t') {
			*h = '\0';
			break;
		}
	s = trim(s, s + strlen(s));
	if (!*s)
		return 0;
	if (*s == '[')
		return section(p, s, strlen(s));
	if (!(eq = strchr(s, '=')))
		return fail(p, "expected key = value");
	key = trim(s, eq);
	v = trim(eq + 1, eq + 1 + strlen(eq + 1));
	if (!*key)
		return fail(p, "missing key before '='");
	if (!*v)
		return fail(p, "%s: empty value", key);
	return p->hook ? hook_key(p, key, v) : global(p, key, v);
}

static void
defaults(struct config *c)
{
	static const unsigned backoff[] = { 10, 60, 300, 1800, 7200 };

	c->max_body = 1048576;
	c->max_age = 86400;
	c->reply_max_age = 300;
	c->read_timeout = 10;
	c->retain = 72 * 3600;
	c->concurrency = 1;
	memcpy(c->backoff, backoff, sizeof backoff);
	c->nbackoff = 5;
}

/* The OpenAPI keys go together: app_id with one of app_secret and
 * app_secret_file; the rest only with them. */
static int
api_keys(struct parser *p)
{
	struct config *c = p->c;

	p->line = p->seen[16] ? p->seen[16] : p->seen[17];
	if (c->app_secret && c->app_secret_file)
		return fail(p, "set app_secret or app_secret_file, not both");
	if (!c->app_id) {
		for (int k = 16; k <= 19; k++)
			if (p->seen[k]) {
				p->line = p->seen[k];
				return fail(p, "%s needs app_id (the App ID from the developer console)",
				            globals[k]);
			}
	} else if (!c->app_secret && !c->app_secret_file) {
		p->line = p->seen[15];
		return fail(p, "app_id needs app_secret or app_secret_file (the App Secret)");
	}
	if (!c->api_base && !(c->api_base = strdup("https://open.feishu.cn")))
		return fail(p, "out of memory");
	return 0;
}

static int
finish(struct parser *p)
{
	struct config *c = p->c;

	p->line = 0;
	for (int i = 0; i < c->nhooks; i++) {
		struct hook *h = &c->hooks[i];

		p->line = h->line;
		if (!h->run)
			return fail(p, "[on %s] has no run = command", h->pattern);
		if (!h->timeout)
			h->timeout = h->reply ? 2 : 60;
		if (h->reply && h->each)
			return fail(p, "[on %s]: each does not go with mode = reply", h->pattern);
	}
	p->line = p->seen[0] ? p->seen[0] : p->seen[1];
	if (c->token && c->token_file)
		return fail(p, "set verification_token or verification_token_file, not both");
	p->line = p->seen[2] ? p->seen[2] : p->seen[3];
	if (c->encrypt_key && c->encrypt_key_file)
		return fail(p, "set encrypt_key or encrypt_key_file, not both");
	if (api_keys(p))
		return -1;
	p->line = 1;
	/* the long connection checks no token: a config with app_id may serve
	 * connect alone, and then the webhook modes refuse (main.c) */
	if (!c->token && !c->token_file && !c->app_id)
		return fail(p, "verification_token is required (from the developer console); "
		            "only a config for larkhook connect, with app_id, may leave it out");
	/* a captured request is stopped either way: younger than retain by
	 * seen/, older by its timestamp; Feishu's retries span about 7.1 h */
	p->line = p->seen[6] ? p->seen[6] : p->seen[8];
	if (!p->seen[6] && c->max_age > c->retain)
		c->max_age = c->retain;	/* the default, 1d, follows a shorter retain */
	if (c->max_age && c->max_age > c->retain)
		return fail(p, "max_age (%us) exceeds retain (%us): a request captured once could run "
		            "again once its id is forgotten; lower max_age or raise retain",
		            c->max_age, c->retain);
	if (c->max_age && c->max_age < 8 * 3600)
		return fail(p, "max_age under 8h would refuse Feishu's own retries (they span about "
		            "7.1 h); use 8h or more, or 0 to turn the check off");
	p->line = 1;
	if (!c->path && !(c->path = strdup("/usr/local/bin:/usr/bin:/bin")))
		return fail(p, "out of memory");
	if (!c->spool && !(c->spool = resolve(c->dir, "larkhook-spool")))
		return fail(p, "out of memory");
	return 0;
}

/* The AES key is SHA-256 of the Encrypt Key: derive it once, not per request. */
static int
derive_key(struct config *c)
{
	struct bytes key = { c->encrypt_key, c->encrypt_key ? strlen(c->encrypt_key) : 0 };

	return c->encrypt_key ? crypto_sha256(&key, 1, c->aes_key) : 0;
}

int
cfg_parse(const char *text, size_t len, const char *file, struct config *c,
          char *err, size_t errlen)
{
	struct parser p = { .c = c, .file = file, .err = err, .errlen = errlen };
	const char *slash = strrchr(file, '/');
	char *buf, *s, *nl;
	int rc = -1;

	memset(c, 0, sizeof *c);
	defaults(c);
	c->file = strdup(file);
	c->dir = slash ? strndup(file, slash == file ? 1 : (size_t)(slash - file)) : strdup(".");
	if (!c->file || !c->dir || !(buf = malloc(len + 1))) {
		cfg_free(c);
		return fail(&p, "out of memory");
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (memchr(text, '\0', len)) {
		fail(&p, "NUL byte in the config file");
		goto out;
	}
	for (s = buf; s; s = nl) {
		if ((nl = strchr(s, '\n')))
			*nl++ = '\0';
		p.line++;
		if (line(&p, s))
			goto out;
	}
	rc = finish(&p);
	if (rc == 0 && derive_key(c))
		rc = fail(&p, "cannot derive the AES key");
out:
	free(buf);
	if (rc)
		cfg_free(c);	/* a rejected config holds nothing */
	return rc;
}

/* Read a whole small file. Returns malloc'd text (caller frees) or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t r;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st))
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1)))
		goto out;
	while (n < (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	*len = n;
out:
	close(fd);
	return buf;
}

static int
secret(char **dst, const char *file, const char *key, char *err, size_t errlen)
{
	size_t n = 0;
	char *s;

	if (!(s = slurp(file, &n))) {
		snprintf(err, errlen, "%s: cannot read %s: %s", file, key, strerror(errno));
		return -1;
	}
	if (n && s[n - 1] == '\n')
		s[--n] = '\0';
	if (!n || memchr(s, '\0', n)) {
		snprintf(err, errlen, "%s: %s is empty or holds a NUL byte", file, key);
		free(s);
		return -1;
	}
	free(*dst);
	*dst = s;
	return 0;
}

/* The running binary, for hooks that call it back (LARKHOOK); NULL where
 * /proc is missing (a bare chroot). Caller frees. */
static char *
self_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

	if (n <= 0 || buf[0] != '/')
		return NULL;
	buf[n] = '\0';
	/* replaced on disk since it started (an upgrade): the new binary is
	 * the one for hooks to call */
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0)
		buf[n - 10] = '\0';
	return strdup(buf);
}

int
cfg_load(const char *file, struct config *c, char *err, size_t errlen)
{
	char abs[PATH_MAX];
	size_t n = 0;
	char *text;
	int rc;

	if (!realpath(file, abs) || !(text = slurp(abs, &n))) {
		memset(c, 0, sizeof *c);
		snprintf(err, errlen, "%s: cannot read the config: %s", file, strerror(errno));
		return -1;
	}
	rc = cfg_parse(text, n, abs, c, err, errlen);
	free(text);
	if (rc == 0 && c->token_file)
		rc = secret(&c->token, c->token_file, "verification_token_file", err, errlen);
	if (rc == 0 && c->encrypt_key_file)
		rc = secret(&c->encrypt_key, c->encrypt_key_file, "encrypt_key_file", err, errlen);
	if (rc == 0 && derive_key(c)) {
		snprintf(err, errlen, "%s: cannot derive the AES key", file);
		rc = -1;
	}
	if (rc == 0)
		c->self = self_path();
	if (rc)
		cfg_free(c);
	return rc;
}

int
cfg_app_secret(struct config *c, char *err, size_t errlen)
{
	if (!c->app_id) {
		snprintf(err, errlen, "%s: no app_id: set app_id and app_secret_file (from the "
		         "developer console) to use the OpenAPI", c->file);
		return -1;
	}
	if (c->app_secret_file)
		return secret(&c->app_secret, c->app_secret_file, "app_secret_file", err, errlen);
	return c->app_secret ? 0 : -1;
}

const struct hook *
cfg_route(const struct config *c, const char *type)
{
	const struct hook *best = NULL, *any = NULL;
	size_t best_len = 0;

	for (int i = 0; i < c->nhooks; i++) {
		const struct hook *h = &c->hooks[i];
		size_t n = strlen(h->pattern) - 1;	/* without the '*' */

		if (h->match == MATCH_EXACT && strcmp(h->pattern, type) == 0)
			return h;
		if (h->match == MATCH_ANY)
			any = h;
		else if (h->match == MATCH_PREFIX && n > best_len && strncmp(h->pattern, type, n) == 0) {
			best = h;
			best_len = n;
		}
	}
	return best ? best : any;
}

void
cfg_free(struct config *c)
{
	char **strings[] = { &c->file, &c->dir, &c->token, &c->token_file, &c->encrypt_key,
	                     &c->encrypt_key_file, &c->spool, &c->path, &c->log, &c->app_id,
	                     &c->app_secret, &c->app_secret_file, &c->api_base, &c->self };

	if (c->app_secret)
		explicit_bzero(c->app_secret, strlen(c->app_secret));

	for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
	for (int i = 0; i < c->nenv; i++)
		free(c->env[i]);
	free(c->env);
	for (int i = 0; i < c->nhooks; i++) {
		free(c->hooks[i].pattern);
		free(c->hooks[i].run);
		free(c->hooks[i].each);
	}
	free(c->hooks);
	memset(c, 0, sizeof *c);
}
