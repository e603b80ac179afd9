/* intake.c: one genuine event from route to durable store and runner kick */
#include <string.h>
#include <time.h>

#include "hook.h"
#include "intake.h"
#include "runner.h"
#include "token.h"

/* Step 13: a reply hook answers inside the request; *body is its answer. */
static enum status
reply(const struct config *c, const struct hook *h, const struct lark_event *ev, char **body,
      const char **reason)
{
	struct hook_meta m = {
		.type = ev->type, .id = ev->id, .schema = ev->schema, .time = ev->time,
		.app_id = ev->app_id, .tenant_key = ev->tenant_key,
		.json = ev->plain, .json_len = ev->plain_len,
	};

	return hook_reply(c, h, &m, hook_home(), body, reason);
}

enum status
intake_event(struct intake *in, struct lark_event *ev, char **body, const char **reason)
{
	const struct config *c = in->c;
	const struct hook *h = cfg_route(c, ev->type);
	struct spool_record r = {
		.id = ev->id, .type = ev->type, .schema = ev->schema, .time = ev->time,
		.app_id = ev->app_id, .tenant_key = ev->tenant_key,
		.json = ev->plain, .json_len = ev->plain_len, .received = time(NULL), .jobs = 1,
	};
	enum status st;
	int dup;

	/* a store app's app_ticket is kept whether or not a hook wants it */
	if (c->app_store && strcmp(ev->schema, "1.0") == 0 && strcmp(ev->type, "app_ticket") == 0) {
		if (token_keep_ticket(c, ev->root)) {
			*reason = "cannot keep the app_ticket in the spool's state/";
			return ST_UNAVAILABLE;
		}
		if (!h) {
			*reason = "app_ticket kept";
			return ST_OK;
		}
	}
	if (!h) {
		*reason = "no hook for this event type";
		return ST_OK;
	}
	if (h->reply) {
		/* not deduplicated: only a fresh request may run it */
		if (c->reply_max_age && ev->signed_request &&
		    (!ev->age_known || ev->age > (long long)c->reply_max_age ||
		     -ev->age > (long long)c->reply_max_age)) {
			*reason = "timestamp outside reply_max_age (a reply hook)";
			return ST_UNAUTHORIZED;
		}
		return reply(c, h, ev, body, reason);
	}
	if (h->each) {
		r.each = h->each;
		r.jobs = lark_each_count(ev->root, h->each);
		if (r.jobs < 0)
			r.jobs = 0;
		if (r.jobs > SPOOL_MAX_JOBS) {
			*reason = "each array has more elements than one event may make jobs";
			return ST_BAD_REQUEST;
		}
	}
	st = spool_store(&in->spool, &r, &dup, reason);
	/* a duplicate kicks too: retries that came due wait for a request */
	if (st == ST_OK) {
		if (in->kick_later)
			in->kick_due = 1;
		else
			runner_kick(c, &in->runner_lock);
	}
	return st;
}

void
intake_kick(struct intake *in)
{
	if (!in->kick_due)
		return;
	in->kick_due = 0;
	runner_kick(in->c, &in->runner_lock);
}
