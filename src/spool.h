/* spool.h: the durable queue on disk (maildir's scheme with fsyncs):
 *   tmp/   records being written: <idhash>.<pid>.<arrival>
 *   seen/  <idhash>: one link per event id ever accepted (the dedupe claim)
 *   new/   jobs waiting: <arrival>.<idhash>.<index>[:<runner state>]
 *   cur/   jobs a runner holds; done/ and failed/ their ends
 *   run/   the event JSON handed to a running hook (LARK_JSON_FILE)
 * A record is locked (flock) by its writer from its creation in tmp/ until
 * it is durable or undone: whoever meets it (a duplicate, the sweep, the
 * runner) tells a writer at work from a finished or dead one by the lock.
 * A job file is a hard link of the record: a header of "key value" lines,
 * an empty line, then the decrypted event JSON exactly as received.
 * Layout, record format and intake steps: doc/4-spool.md §4.1, §4.3, §4.4. */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <time.h>

#include "status.h"

#define SPOOL_MAGIC "larkhook-record 1"

struct spool_record {
	const char *id, *type, *schema;		/* required, printable ASCII */
	const char *time, *app_id, *tenant_key;	/* printable ASCII or NULL */
	const char *each;			/* the each = path, or NULL */
	int jobs;				/* jobs to make: 1, or the each count */
	const char *json;
	size_t json_len;
	time_t received;
};

/* A record read back. */
struct spool_job {
	char *buf;				/* the whole file, owned */
	const char *id, *type, *schema;		/* into buf */
	const char *time, *app_id, *tenant_key, *each;	/* into buf, or NULL */
	int jobs;
	time_t received;
	const char *json;			/* into buf */
	size_t json_len;
};

#define SPOOL_RECORD_MAX (64 << 20)
#define SPOOL_WAIT_MS 2000	/* a duplicate waits this long for a writer at work, then 503 (Feishu waits 3 s) */
#define SPOOL_MAX_JOBS 10000	/* jobs one event may make with each = (links per inode stay far below the filesystem limit) */

struct spool_held;

/* A spool in use. store keeps tmp/, new/ and seen/ open from the first
 * event to spool_close, so a FastCGI responder walks no directory path per
 * event. */
struct spool {
	const char *path;
	int tmp, new, seen;	/* -1 when not open */
	/* group commit (set hold to 1): see spool_commit */
	int hold;
	int undone;		/* held stores a failed commit undid, since the caller cleared it */
	struct spool_held *held;
	int nheld, capheld;
};

#define SPOOL_INIT(p) { (p), -1, -1, -1, 0, 0, NULL, 0, 0 }

/* Commits what is held (spool_commit), then closes the directories. */
void spool_close(struct spool *sp);

/* Create the spool tree (0700) where parts are missing. 0 on success. */
int spool_prepare(const char *spool);

/* 1 when the spool or a directory in it is not a directory owned by the
 * effective user and writable by no one else, with why (which and what) in
 * why[0..n); 0 when it is sound or missing; -1 when it cannot be looked at. */
int spool_check(const char *spool, char *why, size_t n);

/* Serialise r into a malloc'd, NUL-terminated buffer (caller frees); *len
 * is its length without the NUL. Pure. */
char *spool_format(const struct spool_record *r, size_t *len);

/* Store r durably in sp: write, fsync, claim seen/, make r->jobs jobs in
 * new/, fsync the directories. ST_OK when stored, or already seen and
 * durable (*duplicate says which; a duplicate waits up to SPOOL_WAIT_MS
 * for a writer at work and completes a dead one's claim); ST_UNAVAILABLE
 * when storage failed or the first writer is still at work, in which case
 * this call left nothing claimed. *reason is static text for the log. */
enum status spool_store(struct spool *sp, const struct spool_record *r,
                        int *duplicate, const char **reason);

/* Group commit, for a caller that answers many events at once (the long
 * connection). With sp->hold set, a store that claims its id returns ST_OK
 * with its record still written, fsynced, claimed in seen/ and its jobs in
 * new/, but new/ and seen/ not yet fsynced and the record's lock still
 * held: it is not durable yet, and nothing may be answered for it. This
 * makes every such store durable: one fsync of new/ and one of seen/ for
 * all of them, then their locks released. 0 on success; on failure every
 * held store is undone as a failed store is (jobs, claim and record
 * removed), sp->undone counts them, and -1. A store meeting a held claim
 * of its own id commits first (a duplicate waits for the writer's lock,
 * which would be its own). A caller answers a held store 200 only after a
 * commit that returned 0 with sp->undone still 0. */
int spool_commit(struct spool *sp);

/* Parse a record in buf[0..len) (NUL-terminated) in place into j, whose
 * pointers then point into buf; j->buf is left NULL. 0 on success. Pure. */
int spool_parse(char *buf, size_t len, struct spool_job *j);

/* Read and parse the record at path, or open as fd; free with
 * spool_job_free. 0 on success; -1 for a system error (errno: worth trying
 * again later); 1 when it is not a record. */
int spool_read(const char *path, struct spool_job *j);
int spool_read_fd(int fd, struct spool_job *j);
void spool_job_free(struct spool_job *j);

/* Clean tmp/ of writers that died (their record's lock is free): a record
 * never claimed is removed; a claimed one gets its missing jobs and is then
 * removed from tmp/. */
void spool_sweep_tmp(const char *spool, time_t now);

/* Whether a job straight from intake (no state in its name yet), open as
 * fd under the runner's shared lock, may run: its event's claim stands
 * (seen/hash is its record). SPOOL_CLAIMED it may; SPOOL_UNCLAIMED its
 * writer died before its claim: Feishu got no 200 and redelivers, so the
 * job is set aside unrun; SPOOL_PENDING pass over it for now (a writer
 * caught between its create and its flock: empty, and given a minute, as
 * in tmp/; or it cannot be told just now). doc/4-spool.md §4.5. */
enum spool_claim { SPOOL_CLAIMED, SPOOL_UNCLAIMED, SPOOL_PENDING };
enum spool_claim spool_claimed(const char *spool, const char *hash, int fd, time_t now);

#endif
