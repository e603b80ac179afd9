/* intake.h: accept one genuine event (steps 10-13 of doc/1-flow.md §1.2:
 * route, each count, dedupe + durable store, runner kick,
 * reply hooks). Called by the webhook path and by the long connection. */
#ifndef INTAKE_H
#define INTAKE_H

#include "config.h"
#include "lark.h"
#include "spool.h"
#include "status.h"

/* What a long-lived caller keeps from one event to the next. */
struct intake {
	const struct config *c;
	struct spool spool;	/* its directories stay open */
	int runner_lock;	/* -1 at first; see runner_kick */
	/* 1: a stored event only marks the runner kick due (kick_due), and
	 * the caller calls intake_kick before it answers: one kick for the
	 * events it answers at once (the long connection's acks of a read) */
	int kick_later, kick_due;
};

/* Route ev and store it durably (or run its reply hook), then start the
 * runner, all before the caller answers: a web server may kill a CGI the
 * moment its response is complete. ST_OK when the event is safely stored,
 * a duplicate of one that is, or has no hook; *body is then set (malloc'd,
 * caller frees) only for a reply hook's answer. *reason is static text for
 * the log line. */
enum status intake_event(struct intake *in, struct lark_event *ev, char **body,
                         const char **reason);

/* The runner kick marked due by intake_event under kick_later, if any. */
void intake_kick(struct intake *in);

#endif
