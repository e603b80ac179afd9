/* runner.h: claim due jobs, run their hooks (at most concurrency at once),
 * settle each as done, retried later or failed (doc/4-spool.md §4.5) */
#ifndef RUNNER_H
#define RUNNER_H

#include "config.h"

struct runner_totals {
	int done, retried, failed;
};

/* Start a runner detached from the caller (double fork, new session,
 * standard streams on /dev/null, no descriptor of the caller's but the
 * log), unless a runner is alive already: that one will see the new job.
 * Returns at once and never fails the caller. kept, when not NULL, is the
 * caller's slot (-1 at first) for the lock descriptor that found a runner
 * alive: a long-lived caller then pays one flock per kick, not an open. */
void runner_kick(const struct config *c, int *kept);

/* Run every due job in the foreground until none is left, adding to *t.
 * 0 when done; 1 when another runner holds the spool (it runs them); -1
 * when the spool cannot be used. */
int runner_drain(const struct config *c, struct runner_totals *t);

#endif
