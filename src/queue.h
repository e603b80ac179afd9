/* queue.h: the runner's side of the spool. A job is named
 *   ARRIVAL.IDHASH.INDEX[:RUNS,BASE,WHEN,LAST]
 * ARRIVAL (16 digits, microseconds) orders jobs; INDEX is the each index.
 * The state after ':' is the runner's: RUNS hook runs so far, BASE the runs
 * when the current budget of attempts began (retry resets it), WHEN the
 * not-before time in new/ or the finishing time in done/ and failed/ (epoch
 * seconds), LAST how the last run ended ("exit1", "sig9", "timeout", …).
 * See doc/4-spool.md §4.2 and, for the runner, §4.5. */
#ifndef QUEUE_H
#define QUEUE_H

#include <time.h>

#define QUEUE_NAME_MAX 128
#define QUEUE_MAX_LOST 3	/* runs in a row that killed their runner, then failed/ */

struct job {
	char base[96];		/* ARRIVAL.IDHASH.INDEX */
	char hash[65];
	int index;
	long long arrival;	/* microseconds */
	long runs, budget;	/* budget: BASE above */
	long long when;
	char last[16];
};

/* Parse a job file name into j. 0 on success, -1 for anything else. Pure. */
int queue_parse(const char *name, struct job *j);

/* The file name for j, with its state, into out. Pure. */
void queue_name(const struct job *j, char out[QUEUE_NAME_MAX]);

/* 1 when j is straight from intake: no runner has touched it, so its name
 * has no state. Pure. */
int queue_fresh(const struct job *j);

/* The first job in arrival order in new/ that is due at now (and comes
 * after *after, when not NULL). 1 found, 0 none. */
int queue_next_due(const char *spool, time_t now, const struct job *after, struct job *j);

/* rename spool/from/<j's name as it was> to spool/to/<j's name now>, where
 * old is the name in from. fsync the target directory when sync. 0 on
 * success. */
int queue_move(const char *spool, const char *from, const char *old, const char *to,
               const struct job *j, int sync);

/* Call fn for every job in spool/dir (in no particular order). 0 when the
 * whole directory was read; -1 when it could not be (fn may have been
 * called for some). */
int queue_each(const char *spool, const char *dir,
                void (*fn)(void *ctx, const char *name, const struct job *j), void *ctx);

/* The runner's repairs at start, under its lock: jobs left in cur/ by a
 * runner that died are due again (LAST "lost"; the run counts for
 * LARK_ATTEMPT, not against the budget; QUEUE_MAX_LOST in a row: failed/);
 * dead writers' claims are completed; then done/ and seen/ entries older
 * than retain go, as do leftovers in run/. */
void queue_sweep(const char *spool, time_t now, unsigned retain);

#endif
