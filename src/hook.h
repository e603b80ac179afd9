/* hook.h: what a hook receives (doc/3-hooks.md) and how it runs: /bin/sh -c
 * in its own session, output captured and always drained, a deadline on
 * the whole process group */
#ifndef HOOK_H
#define HOOK_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "env.h"
#include "flatten.h"
#include "status.h"

#define HOOK_OUTPUT_MAX 65536	/* output kept per run */

/* The event a hook runs for; every pointer is borrowed. */
struct hook_meta {
	const char *type, *id, *schema;
	const char *time, *app_id, *tenant_key;	/* or NULL */
	const char *json;
	size_t json_len;
	const char *each;	/* the each = path, or NULL */
	int index, count;	/* with each: this job's element, and how many */
	long attempt;
	const char *json_file;
};

/* HOME for hooks: the effective user's home from the password database,
 * or NULL when unknown. Static storage of getpwuid. */
const char *hook_home(void);

/* Build the hook environment for m into e (empty on entry): PATH, HOME
 * (when home is not NULL), LARKHOOK and LARKHOOK_CONFIG (the binary's and
 * the config's absolute paths, when known), the env = entries, the LARK_
 * variables. warn
 * hears of two fields mapping to one name. 0 on success; 1 when the JSON
 * is invalid or the each element is missing; -1 when out of memory. */
int hook_env(const struct config *c, const struct hook_meta *m, const char *home,
             struct env *e, flatten_warn *warn, void *ctx);

enum hook_out {
	HOOK_LOG,	/* standard output and error to the log */
	HOOK_REPLY,	/* standard output kept as the reply, error to the log */
	HOOK_INHERIT,	/* larkhook's own standard output and error */
};

struct hook_proc {
	pid_t pid;		/* also the process group */
	int out, err;		/* read ends, -1 once closed */
	enum hook_out mode;
	long long deadline, kill_at;	/* monotonic milliseconds */
	unsigned grace_ms;	/* between SIGTERM and SIGKILL */
	int timed_out, done, status;	/* status: the wait status, once done */
	char label[2300];	/* log prefix, already escaped */
	char line[512];		/* a partial output line */
	size_t linelen, seen;
	char *reply;		/* HOOK_REPLY: standard output, malloc'd */
	size_t reply_len;
	int reply_over;		/* it exceeded HOOK_OUTPUT_MAX */
};

/* Start /bin/sh -c run in dir with envp, standard input in_fd, in a new
 * session, killed timeout seconds later (SIGTERM, then SIGKILL after
 * grace_ms). label prefixes its log lines. 0 on success, -1 when it could
 * not be started. */
int hook_start(struct hook_proc *p, const char *run, const char *dir, char *const envp[],
               int in_fd, enum hook_out mode, unsigned timeout, unsigned grace_ms,
               const char *label);

/* Wait at most timeout_ms (less when a deadline comes first) for output,
 * exits and deadlines of procs[0..n), returning early when wake_fd (if not
 * -1) is readable. A proc that has exited, been reaped and drained is marked
 * done. */
void hook_wait(struct hook_proc *const *procs, int n, int wake_fd, int timeout_ms);

/* How p ended: "exit 0", "signal 9", "timeout", into buf. */
const char *hook_result(const struct hook_proc *p, char *buf, size_t n);

/* Release what p holds (descriptors, the reply). */
void hook_release(struct hook_proc *p);

/* Run a reply hook (mode = reply) inside the request: its standard output,
 * a JSON object of at most 64 KiB, becomes *body (caller frees) with ST_OK;
 * a non-zero exit, a timeout (h->timeout) or other output gives
 * ST_SERVER_ERROR. *reason is static text for the log. */
enum status hook_reply(const struct config *c, const struct hook *h, struct hook_meta *m,
                       const char *home, char **body, const char **reason);

/* Monotonic milliseconds: io_now_ms, under the name its callers know. */
long long hook_now_ms(void);

#endif
