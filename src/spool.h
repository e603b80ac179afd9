/* spool.h: the durable queue on disk (maildir's scheme with fsyncs):
 *   tmp/   records being written: <idhash>.<pid>.<random>
 *   seen/  <idhash>: one link per event id ever accepted (the dedupe claim)
 *   new/   jobs waiting: <arrival>.<idhash>.<index>[:<runner state>]
 *   cur/   jobs a runner holds; done/ and failed/ their ends
 *   intake.lock  serialises taking over the claim of a writer that died
 * A job file is a hard link of the record: a header of "key value" lines,
 * an empty line, then the decrypted event JSON exactly as received. */
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

/* Serialise r into a malloc'd, NUL-terminated buffer (caller frees); *len
 * is its length without the NUL. Pure. */
char *spool_format(const struct spool_record *r, size_t *len);

/* Store r durably under spool: write, fsync, claim seen/, make r->jobs jobs
 * in new/, fsync the directories. ST_OK when stored or already seen
 * (*duplicate says which); ST_UNAVAILABLE when storage failed, in which case
 * nothing is left claimed. *reason is static text for the log. */
enum status spool_store(const char *spool, const struct spool_record *r,
                        int *duplicate, const char **reason);

#endif
