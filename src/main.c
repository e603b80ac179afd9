/* main.c: modes, config discovery, and the only place a status becomes a
 * response */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "lark.h"
#include "log.h"
#include "spool.h"
#include "transport.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef VERSION
#define VERSION "0.1.0"
#endif

#define DEFAULT_MAX_BODY 1048576
#define DEFAULT_READ_TIMEOUT 10

static const char usage[] =
	"usage: larkhook [-c FILE] check\n"
	"       larkhook --version | --help\n";

static const char help[] =
	"larkhook receives Feishu / Lark event callbacks as a CGI or FastCGI program\n"
	"and stores each genuine event durably for its hook.\n"
	"\n"
	"As a web server's CGI or FastCGI program it serves requests; the config is\n"
	"found at -c FILE (FastCGI and command line only), $LARKHOOK_CONFIG,\n"
	"larkhook.conf beside the executable, or " SYSCONFDIR "/larkhook.conf.\n"
	"\n"
	"Commands:\n"
	"  check        validate the config, list the hooks, warn about risks;\n"
	"               exit 0 when the config is usable, 1 otherwise\n"
	"\n"
	"Options:\n"
	"  -c FILE      the config file\n"
	"  --version    print the version\n"
	"  --help       this text\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error.\n";

/* The config to use, first hit wins: -c, $LARKHOOK_CONFIG, larkhook.conf
 * beside the executable, the compiled-in default. */
static const char *
find_config(const char *opt, char *buf, size_t n)
{
	const char *env = getenv("LARKHOOK_CONFIG");
	char exe[PATH_MAX];
	ssize_t len;
	char *slash;

	if (opt)
		return opt;
	if (env && *env)
		return env;
	len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = '\0';
		if ((slash = strrchr(exe, '/'))) {
			*slash = '\0';
			len = snprintf(buf, n, "%s/larkhook.conf", exe);
			if (len > 0 && (size_t)len < n && access(buf, F_OK) == 0)
				return buf;
		}
	}
	return SYSCONFDIR "/larkhook.conf";
}

static void
answer(struct transport *t, enum status st, const char *challenge_json)
{
	struct response r = { st, NULL, NULL };

	switch (st) {
	case ST_OK:
		r.body = challenge_json ? challenge_json : "{\"msg\":\"success\"}";
		break;
	case ST_BAD_REQUEST:
		r.body = "{\"msg\":\"bad request\"}";
		break;
	case ST_UNAUTHORIZED:
		/* one constant for every 401: nothing tells which check failed */
		r.body = "{\"msg\":\"rejected\"}";
		break;
	case ST_BAD_METHOD:
		r.body = "{\"msg\":\"method not allowed\"}";
		r.extra_headers = "Allow: POST\r\n";
		break;
	case ST_TIMEOUT:
		r.body = "{\"msg\":\"request timeout\"}";
		break;
	case ST_TOO_LARGE:
		r.body = "{\"msg\":\"body too large\"}";
		break;
	case ST_SERVER_ERROR:
		r.body = "{\"msg\":\"server error\"}";
		break;
	case ST_UNAVAILABLE:
		r.body = "{\"msg\":\"try again later\"}";
		r.extra_headers = "Retry-After: 30\r\n";
		break;
	}
	tr_respond(t, &r);
}

/* Steps 10-12 for a genuine event: route, deduplicate and spool. */
static enum status
accept_event(const struct config *c, struct lark_event *ev, const char **reason)
{
	const struct hook *h = cfg_route(c, ev->type);
	struct spool_record r = {
		.id = ev->id, .type = ev->type, .schema = ev->schema, .time = ev->time,
		.app_id = ev->app_id, .tenant_key = ev->tenant_key,
		.json = ev->plain, .json_len = ev->plain_len, .received = time(NULL), .jobs = 1,
	};
	int dup;

	if (!h) {
		*reason = "no hook for this event type";
		return ST_OK;
	}
	if (h->reply) {
		*reason = "reply hooks are not supported yet";
		return ST_SERVER_ERROR;
	}
	if (h->each) {
		r.each = h->each;
		r.jobs = lark_each_count(ev->root, h->each);
		if (r.jobs < 0)
			r.jobs = 0;
	}
	/* step 12's runner start goes after this, before the answer, once
	 * hooks run (the next issue) */
	return spool_store(c->spool, &r, &dup, reason);
}

static void
handle(const struct config *c, const char *refusal, struct transport *t, struct request *rq)
{
	struct lark_request lr;
	struct lark_event ev = { 0 };
	const char *reason = NULL;
	enum status st;

	st = tr_read_body(t, rq, c ? c->max_body : DEFAULT_MAX_BODY,
	                  c ? c->read_timeout : DEFAULT_READ_TIMEOUT, &reason);
	if (!rq->method || strcmp(rq->method, "POST") != 0) {
		st = ST_BAD_METHOD;
		reason = "method is not POST";
	}
	if (st != ST_OK)
		goto out;
	if (refusal) {
		st = ST_SERVER_ERROR;
		reason = refusal;
		goto out;
	}
	lr = (struct lark_request){ rq->signature, rq->timestamp, rq->nonce, rq->body, rq->body_len };
	st = lark_decide(c, &lr, time(NULL), &ev);
	reason = ev.reason;
	if (st == ST_OK && !ev.challenge)
		st = accept_event(c, &ev, &reason);
out:
	/* log first: lighttpd sends SIGTERM to a CGI once its response is
	 * complete, so nothing may come after the answer */
	log_request((int)st, reason, ev.type, ev.id);
	answer(t, st, ev.challenge ? ev.challenge_json : NULL);
	lark_event_free(&ev);
}

static int
serve(int fastcgi, const char *file)
{
	struct config cfg;
	struct transport *t;
	struct request rq;
	const char *refusal = NULL;
	char err[1024];
	int loaded;

	umask(077);
	crypto_init();
	loaded = cfg_load(file, &cfg, err, sizeof err) == 0;
	if (!loaded) {
		log_msg("%s", err);
		refusal = "larkhook is misconfigured: see the config error above";
	} else {
		log_open(cfg.log);
		if (geteuid() == 0 && !cfg.allow_root) {
			refusal = "refusing to run as root (hooks would run as root); set allow_root = yes to override";
			log_msg("%s", refusal);
		}
	}
	if (!(t = tr_open(fastcgi))) {
		log_msg("cannot initialise the FastCGI library");
		return 1;
	}
	while (tr_accept(t, &rq)) {
		handle(loaded ? &cfg : NULL, refusal, t, &rq);
		tr_finish(t, &rq);
	}
	tr_close(t);
	if (loaded)
		cfg_free(&cfg);
	return 0;
}

/* -c FILE is the only option a FastCGI responder takes. */
static const char *
option_c(int argc, char **argv, int *next)
{
	const char *file = NULL;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		file = argv[i + 1];
		i += 2;
	}
	*next = i;
	return file;
}

static int
world_readable(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && (st.st_mode & S_IROTH);
}

static int
check(const char *file)
{
	struct config c;
	char err[1024];

	if (cfg_load(file, &c, err, sizeof err)) {
		fprintf(stderr, "larkhook: %s\n", err);
		return 1;
	}
	printf("config %s: ok\n", c.file);
	printf("mode: %s\n", c.encrypt_key ? "encrypted and signed" : "token only");
	printf("spool: %s\n", c.spool);
	for (int i = 0; i < c.nhooks; i++)
		printf("hook [on %s]: %s%s%s\n", c.hooks[i].pattern, c.hooks[i].run,
		       c.hooks[i].each ? " (each " : "", c.hooks[i].each ? c.hooks[i].each : "");
	for (int i = 0; i < c.nhooks; i++) {
		const char *run = c.hooks[i].run;
		size_t n = strcspn(run, " \t");
		char prog[PATH_MAX];

		/* only an absolute program can be checked without the shell */
		if (run[0] == '/' && n < sizeof prog) {
			memcpy(prog, run, n);
			prog[n] = '\0';
			if (access(prog, X_OK) != 0)
				printf("warning: [on %s]: %s is not an executable file (%s)\n",
				       c.hooks[i].pattern, prog, strerror(errno));
		}
	}
	if (!c.nhooks)
		printf("warning: no [on TYPE] sections: events are acknowledged and dropped\n");
	if (!c.encrypt_key)
		printf("warning: no encrypt_key: requests are neither encrypted nor signed; "
		       "set an Encrypt Key in the developer console and here\n");
	if ((!c.token_file || !c.encrypt_key_file) && world_readable(c.file))
		printf("warning: %s holds secrets and is readable by everyone: chmod 600 it\n", c.file);
	if (world_readable(c.token_file) || world_readable(c.encrypt_key_file))
		printf("warning: a secret file is readable by everyone: chmod 600 it\n");
	if (strstr(c.spool, "/public_html") || strstr(c.spool, "/htdocs") || strstr(c.spool, "/www/"))
		printf("warning: the spool %s looks like it is inside a document root: "
		       "move it where the web server does not serve it\n", c.spool);
	cfg_free(&c);
	return 0;
}

static int
cli(int argc, char **argv)
{
	char buf[PATH_MAX];
	int i;
	const char *opt = option_c(argc, argv, &i);
	const char *file = find_config(opt, buf, sizeof buf);

	if (i < argc && strcmp(argv[i], "--version") == 0) {
		printf("larkhook %s\n", VERSION);
		return 0;
	}
	if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
		fputs(help, stdout);
		return 0;
	}
	if (i + 1 == argc && strcmp(argv[i], "check") == 0)
		return check(file);
	fputs(usage, stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	char buf[PATH_MAX];
	int next;
	const char *opt;

	/* Apache passes query words as argv to a CGI: never read them */
	if (getenv("GATEWAY_INTERFACE"))
		return serve(0, find_config(NULL, buf, sizeof buf));
	if (tr_is_fastcgi()) {
		opt = option_c(argc, argv, &next);
		return serve(1, find_config(opt, buf, sizeof buf));
	}
	return cli(argc, argv);
}
