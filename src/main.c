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

#include "cmd.h"
#include "config.h"
#include "crypto.h"
#include "intake.h"
#include "lark.h"
#include "log.h"
#include "transport.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define DEFAULT_MAX_BODY 1048576
#define DEFAULT_READ_TIMEOUT 10

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

/* What a serving process keeps from one request to the next. */
struct server {
	const char *refusal;		/* why every request gets 500, or NULL */
	struct intake in;		/* in.c is NULL when the config was refused */
};

/* body: the 200 body when it is not {"msg":"success"} (a challenge or a
 * reply hook's answer). */
static void
answer(struct transport *t, enum status st, const char *body)
{
	struct response r = { st, NULL, NULL };

	switch (st) {
	case ST_OK:
		r.body = body ? body : "{\"msg\":\"success\"}";
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

static void
handle(struct server *sv, struct transport *t, struct request *rq)
{
	const struct config *c = sv->in.c;
	struct lark_request lr;
	struct lark_event ev = { 0 };
	const char *reason = NULL;
	char *body = NULL;
	enum status st;

	st = tr_read_body(t, rq, c ? c->max_body : DEFAULT_MAX_BODY,
	                  c ? c->read_timeout : DEFAULT_READ_TIMEOUT, &reason);
	if (!rq->method || strcmp(rq->method, "POST") != 0) {
		st = ST_BAD_METHOD;
		reason = "method is not POST";
	}
	if (st != ST_OK)
		goto out;
	if (sv->refusal) {
		st = ST_SERVER_ERROR;
		reason = sv->refusal;
		goto out;
	}
	lr = (struct lark_request){ rq->signature, rq->timestamp, rq->nonce, rq->body, rq->body_len };
	st = lark_decide(c, &lr, time(NULL), &ev);
	reason = ev.reason;
	if (st == ST_OK && !ev.challenge)
		st = intake_event(&sv->in, &ev, &body, &reason);
out:
	/* log first: lighttpd sends SIGTERM to a CGI once its response is
	 * complete, so nothing may come after the answer */
	log_request((int)st, reason, ev.said_type, ev.said_id);
	answer(t, st, ev.challenge ? ev.challenge_json : body);
	free(body);
	lark_event_free(&ev);
}

static int
serve(int fastcgi, const char *file)
{
	struct server sv = { NULL, { NULL, SPOOL_INIT(NULL), -1, 0, 0 } };
	struct config cfg;
	struct transport *t;
	struct request rq;
	char err[1024];

	umask(077);
	if (cfg_load(file, &cfg, err, sizeof err) != 0) {
		log_msg("%s", err);
		sv.refusal = "larkhook is misconfigured: see the config error above";
	} else {
		sv.in.c = &cfg;
		sv.in.spool.path = cfg.spool;
		/* before the log is opened: as root it would be made root's */
		if (geteuid() == 0 && !cfg.allow_root) {
			sv.refusal = "refusing to run as root (hooks would run as root); set allow_root = yes to override";
			log_msg("%s", sv.refusal);
		} else {
			log_open(cfg.log);
			if (!cfg.token) {
				sv.refusal = "no verification_token: this config is for larkhook connect "
				             "only; set verification_token to receive webhooks";
				log_msg("%s", sv.refusal);
			}
		}
	}
	if (!(t = tr_open(fastcgi))) {
		log_msg("cannot initialise the FastCGI library");
		return 1;
	}
	while (tr_accept(t, &rq)) {
		handle(&sv, t, &rq);
		tr_finish(t, &rq);
	}
	tr_close(t);
	spool_close(&sv.in.spool);
	if (sv.in.runner_lock >= 0)
		close(sv.in.runner_lock);
	if (sv.in.c)
		cfg_free(&cfg);
	return 0;
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
		opt = cmd_option_c(argc, argv, &next);
		return serve(1, find_config(opt, buf, sizeof buf));
	}
	opt = cmd_option_c(argc, argv, &next);
	return cmd_main(find_config(opt, buf, sizeof buf), argc - next, argv + next);
}
