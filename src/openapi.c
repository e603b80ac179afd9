/* openapi.c: the token and api commands: arguments, the config, the token
 * cache (token.c), requests (http.c) and what api.c decides about them */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "openapi.h"
#include "token.h"

#define BODY_MAX (8 << 20)	/* bytes of a request body */

static int
usage(const char *why)
{
	fprintf(stderr, "larkhook: %s\n"
	        "usage: larkhook [-c FILE] token [--refresh] [--tenant KEY]\n"
	        "       larkhook [-c FILE] api METHOD PATH [BODY | @FILE | -] [--query K=V]... "
	        "[--all] [--tenant KEY]\n", why);
	return 2;
}

/* The config; 78 (printed) when it cannot be used. */
static int
load(const char *file, struct config *c)
{
	char err[1024];

	if (cfg_load(file, c, err, sizeof err)) {
		fprintf(stderr, "larkhook: %s\n", err);
		return TOKEN_CONFIG;
	}
	/* root would make state/ (or the whole spool) root's, and the web
	 * server's user could neither read the cache nor store events */
	if (geteuid() == 0 && !c->allow_root) {
		fprintf(stderr, "larkhook: refusing to keep tokens as root; run this as the web server's "
		        "user (e.g. sudo -u www-data), or set allow_root = yes in %s\n", c->file);
		cfg_free(c);
		return TOKEN_CONFIG;
	}
	umask(077);
	return 0;
}

/* A store app's tenant: --tenant, else the hook's own LARK_TENANT_KEY. */
static const char *
tenant_of(const struct config *c, const char *opt)
{
	const char *env = getenv("LARK_TENANT_KEY");

	if (opt || !c->app_store)
		return opt;
	return env && *env ? env : NULL;
}

int
openapi_token(const char *file, int argc, char **argv)
{
	const char *tenant = NULL;
	struct config c;
	char err[2048], *tok;
	int refresh = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--refresh") == 0)
			refresh = 1;
		else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc && argv[i + 1][0])
			tenant = argv[++i];
		else
			return usage("token: unknown argument");
	}
	if ((rc = load(file, &c)))
		return rc;
	rc = token_get(&c, tenant_of(&c, tenant), refresh, NULL, &tok, err, sizeof err);
	if (rc == TOKEN_OK) {
		printf("%s\n", tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
		if (fflush(stdout) == EOF)
			rc = 1;
	} else
		fprintf(stderr, "larkhook: token: %s\n", err);
	cfg_free(&c);
	return rc;
}

struct call {
	const char *method, *path, *body_arg, *tenant;
	char **query;
	int nquery, all;
	char *body;		/* the request body, or NULL */
	size_t len;
};

/* The whole of fd, at most BODY_MAX bytes (caller frees), or NULL. */
static char *
read_all(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1), *grown;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			if (cap >= BODY_MAX || !(grown = realloc(buf, 2 * cap + 1))) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			buf = grown;
			cap *= 2;
		}
		if ((r = read(fd, buf + n, cap - n)) > 0)
			n += (size_t)r;
		else if (r == 0)
			break;
		else if (errno != EINTR) {
			free(buf);
			return NULL;
		}
	}
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* BODY, @FILE or - into k->body; 0, or 2 (printed). */
static int
body_of(struct call *k)
{
	const char *b = k->body_arg, *why;
	int fd;

	if (!b)
		return 0;
	if (strcmp(k->method, "GET") == 0)
		return usage("api: a GET request has no body");
	if (strcmp(b, "-") == 0 || b[0] == '@') {
		fd = b[0] == '-' ? 0 : open(b + 1, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || !(k->body = read_all(fd, &k->len))) {
			fprintf(stderr, "larkhook: api: cannot read the body from %s: %s\n",
			        b[0] == '-' ? "standard input" : b + 1, strerror(errno));
			if (fd > 0)
				close(fd);
			return 2;
		}
		if (fd > 0)
			close(fd);
	} else if ((k->body = strdup(b)))
		k->len = strlen(b);
	if (!k->body)
		return usage("api: out of memory");
	if ((why = json_check(k->body, k->len))) {
		fprintf(stderr, "larkhook: api: the body is not JSON: %s\n", why);
		return 2;
	}
	return 0;
}

static int
parse_call(int argc, char **argv, struct call *k)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
	const char *why;
	int pos = 0, m;

	memset(k, 0, sizeof *k);
	if (!(k->query = calloc((size_t)argc, sizeof *k->query)))
		return usage("api: out of memory");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--query") == 0 && i + 1 < argc)
			k->query[k->nquery++] = argv[++i];
		else if (strcmp(argv[i], "--all") == 0)
			k->all = 1;
		else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc && argv[i + 1][0])
			k->tenant = argv[++i];
		else if (pos == 0)
			k->method = argv[i], pos++;
		else if (pos == 1)
			k->path = argv[i], pos++;
		else if (pos == 2)
			k->body_arg = argv[i], pos++;
		else
			return usage("api: too many arguments");
	}
	if (pos < 2)
		return usage("api: METHOD and PATH are required");
	for (m = 0; methods[m] && strcmp(methods[m], k->method); m++)
		;
	if (!methods[m])
		return usage("api: METHOD is one of GET, POST, PUT, PATCH, DELETE");
	if ((why = api_check_path(k->path))) {
		fprintf(stderr, "larkhook: api: %s\n", why);
		return 2;
	}
	for (int i = 0; i < k->nquery; i++)
		if (!strchr(k->query[i], '=') || k->query[i][0] == '=')
			return usage("api: --query takes K=V");
	return body_of(k);
}

/* Print a reply's body with a final newline; 0, or 1 when stdout failed. */
static int
print(const char *s, size_t n)
{
	fwrite(s, 1, n, stdout);
	if (!n || s[n - 1] != '\n')
		putchar('\n');
	return fflush(stdout) == EOF;
}

/* What a run of requests holds. */
struct run {
	struct config *c;
	struct call *k;
	char *tok;
	char *page_token;
	cJSON *acc;		/* --all: the pages so far */
};

/* One request with the current token and page; 0, or an exit status. */
static int
request(struct run *u, struct http_reply *r)
{
	char err[1024], *auth, *url;
	const char *headers[3] = { NULL, NULL, NULL };
	size_t n = strlen(u->tok) + sizeof "Authorization: Bearer ";
	int rc = 0;

	url = api_url(u->c->api_base, u->k->path, u->k->query, u->k->nquery, u->page_token);
	if (!url || !(auth = malloc(n))) {
		free(url);
		fprintf(stderr, "larkhook: api: out of memory\n");
		return 1;
	}
	snprintf(auth, n, "Authorization: Bearer %s", u->tok);
	headers[0] = auth;
	if (u->k->body)
		headers[1] = "Content-Type: application/json; charset=utf-8";
	if (http_request(u->k->method, url, headers, u->k->body, u->k->len, API_TIMEOUT_MS, r, err,
	                 sizeof err)) {
		fprintf(stderr, "larkhook: api: %s %s: %s\n", u->k->method, u->k->path, err);
		rc = TOKEN_TEMP;
	}
	explicit_bzero(auth, n);
	free(auth);
	free(url);
	return rc;
}

/* The reply that ends the run: printed (--all: the pages joined); the
 * exit status. */
static int
finish(struct run *u, const struct http_reply *r, cJSON *root, const struct api_info *i)
{
	char *joined;
	int rc;

	if (!root)
		fprintf(stderr, "larkhook: api: HTTP %ld without a JSON reply\n", r->status);
	if (u->acc && root && i->code == 0) {
		if (api_join(u->acc, root))
			fprintf(stderr, "larkhook: api: --all: a page has no data.items array\n");
		if (i->has_more)
			fprintf(stderr, "larkhook: api: --all: stopped after %d pages\n", API_MAX_PAGES);
		else
			api_join_end(u->acc);
		if (!(joined = cJSON_PrintUnformatted(u->acc)))
			return 1;
		rc = print(joined, strlen(joined));
		cJSON_free(joined);
	} else
		rc = print(r->body, r->len);
	return rc || !root || i->code != 0 ? 1 : 0;
}

/* Requests until api_decide says done; the exit status. */
static int
run(struct run *u, const char *tenant)
{
	struct api_state st = { 0, 0, 0 };
	struct http_reply r;
	struct api_info i;
	enum api_act act;
	unsigned wait;
	char err[2048], *fresh;
	cJSON *root;
	int rc;

	for (;;) {
		if ((rc = request(u, &r)))
			return rc;
		root = NULL;
		if (json_parse(r.body, r.len, &root) || !cJSON_IsObject(root)) {
			cJSON_Delete(root);
			root = NULL;
		}
		api_info(root, r.status, r.ratelimit_reset, &i);
		act = api_decide(&st, &i, u->k->all, &wait);
		if (act == API_DONE) {
			rc = finish(u, &r, root, &i);
			cJSON_Delete(root);
			http_reply_free(&r);
			return rc;
		}
		if (act == API_REMINT) {
			rc = token_get(u->c, tenant, 0, u->tok, &fresh, err, sizeof err);
			if (rc) {
				fprintf(stderr, "larkhook: api: the token was refused (code %ld) and a new "
				        "one could not be had: %s\n", i.code, err);
				cJSON_Delete(root);
				http_reply_free(&r);
				return rc;
			}
			explicit_bzero(u->tok, strlen(u->tok));
			free(u->tok);
			u->tok = fresh;
		} else if (act == API_WAIT) {
			fprintf(stderr, "larkhook: api: rate limited (HTTP %ld, code %ld): waiting %u s\n",
			        i.status, i.code, wait);
			sleep(wait);
		} else {
			free(u->page_token);
			u->page_token = strdup(i.page_token);
			if (!u->acc) {
				u->acc = root;
				root = NULL;
			} else if (api_join(u->acc, root))
				fprintf(stderr, "larkhook: api: --all: a page has no data.items array\n");
			if (!u->page_token) {
				cJSON_Delete(root);
				http_reply_free(&r);
				return 1;
			}
		}
		cJSON_Delete(root);
		http_reply_free(&r);
	}
}

int
openapi_api(const char *file, int argc, char **argv)
{
	struct config c;
	struct call k;
	struct run u = { &c, &k, NULL, NULL, NULL };
	const char *tenant;
	char err[2048];
	int rc;

	if ((rc = parse_call(argc, argv, &k)))
		goto out;
	if ((rc = load(file, &c)))
		goto out;
	if (http_init(err, sizeof err)) {
		fprintf(stderr, "larkhook: api: %s\n", err);
		rc = TOKEN_CONFIG;
		cfg_free(&c);
		goto out;
	}
	tenant = tenant_of(&c, k.tenant);
	rc = token_get(&c, tenant, 0, NULL, &u.tok, err, sizeof err);
	if (rc)
		fprintf(stderr, "larkhook: api: no token: %s\n", err);
	else
		rc = run(&u, tenant);
	if (u.tok) {
		explicit_bzero(u.tok, strlen(u.tok));
		free(u.tok);
	}
	free(u.page_token);
	cJSON_Delete(u.acc);
	cfg_free(&c);
out:
	free(k.query);
	free(k.body);
	return rc;
}
