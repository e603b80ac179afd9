/* runner.c: the runner. One at a time per spool (flock on runner.lock,
 * held from the kick through the last job); it runs due jobs in arrival
 * order and leaves when none is due and none is running. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "io.h"
#include "log.h"
#include "queue.h"
#include "runner.h"
#include "spool.h"

#define GRACE_MS 5000		/* from SIGTERM to SIGKILL at a timeout */
#define MAX_SLOTS 64

struct slot {
	struct hook_proc proc;
	struct job job;
	char name[QUEUE_NAME_MAX];	/* its name in cur/ */
	char json_file[PATH_MAX];
	char label[2300];		/* "hook [on P] TYPE ID", escaped */
	unsigned attempts;
};

struct runner {
	const struct config *c;
	const char *home;
	struct runner_totals *totals;
	struct slot slots[MAX_SLOTS];
	int n;
};

/* The spool is made only when the lock's directory is missing: every
 * request that stores an event comes here. */
static int
open_lock(const struct config *c)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof path, "%s/runner.lock", c->spool) >= (int)sizeof path)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT && spool_prepare(c->spool) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd;
}

/* Settle a job after a run (or a failure to start one): done/, back to
 * new/ with a not-before time, or failed/. */
static void
settle(struct runner *r, struct slot *s, const char *last, int ok, int permanent,
       const char *what)
{
	const struct config *c = r->c;
	struct job *j = &s->job;
	const char *to;
	char outcome[64];
	long used;

	j->runs++;
	j->when = (long long)time(NULL);
	snprintf(j->last, sizeof j->last, "%s", last);
	used = j->runs - j->budget;
	if (ok) {
		to = "done";
		snprintf(outcome, sizeof outcome, "done");
		r->totals->done++;
	} else if (permanent || used >= (long)s->attempts) {
		to = "failed";
		snprintf(outcome, sizeof outcome, "moved to failed/ after %ld run%s", j->runs,
		         j->runs == 1 ? "" : "s");
		r->totals->failed++;
	} else {
		unsigned delay = c->backoff[used - 1 < c->nbackoff ? used - 1 : c->nbackoff - 1];

		to = "new";
		j->when += delay;
		snprintf(outcome, sizeof outcome, "retry in %us", delay);
		r->totals->retried++;
	}
	if (queue_move(c->spool, "cur", s->name, to, j, 1))
		log_msg("%s: cannot move the job to %s/: %s", s->label, to, strerror(errno));
	log_msg("%s attempt %ld: %s; %s", s->label, j->runs, what, outcome);
	if (s->json_file[0])
		unlink(s->json_file);
}

static void
on_collision(void *ctx, const char *name)
{
	const struct slot *s = ctx;

	log_msg("%s: two fields map to %s; the first in the document is kept", s->label, name);
}

static void
make_label(struct slot *s, const struct hook *h, const struct spool_job *rec)
{
	char type[4 * LOG_FIELD_MAX + 8], id[4 * LOG_FIELD_MAX + 8];

	log_escape(type, sizeof type, rec->type, strlen(rec->type), LOG_FIELD_MAX);
	log_escape(id, sizeof id, rec->id, strlen(rec->id), LOG_FIELD_MAX);
	if (rec->each)
		snprintf(s->label, sizeof s->label, "hook [on %s] %s %s item %d",
		         h ? h->pattern : "-", type, id, s->job.index);
	else
		snprintf(s->label, sizeof s->label, "hook [on %s] %s %s",
		         h ? h->pattern : "-", type, id);
}

/* The event JSON for LARK_JSON_FILE and standard input. The descriptor
 * to read it from, or -1. */
static int
write_json(struct slot *s, const struct config *c, const struct spool_job *rec)
{
	char base[sizeof s->job.base];
	int fd, bad;

	memcpy(base, s->job.base, sizeof base);
	snprintf(s->json_file, sizeof s->json_file, "%s/run/job.%s.json", c->spool, base);
	unlink(s->json_file);
	fd = open(s->json_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	bad = io_write_all(fd, rec->json, rec->json_len);
	/* close once, whatever it says */
	if (close(fd) || bad)
		return -1;
	return open(s->json_file, O_RDONLY | O_CLOEXEC);
}

/* A job straight from intake without its claim (fd, its record, under
 * our shared lock): its writer died before claiming, so its event got no
 * 200 and Feishu delivers it again; that delivery is the one that runs.
 * An empty one holds nothing and is removed; any other goes to failed/
 * unrun, LAST noclaim, rather than be destroyed on this judgement: a spool
 * copied without its hard links looks just so, and `retry` then runs it.
 * Done while the lock is held and only if new/NAME is still this record: a
 * writer claims only under its exclusive lock, so no claim can come between
 * the check and the move (a live writer caught before its flock finds its
 * name gone, fails its claim and stores the event afresh). 0 when moved. */
static int
set_aside(const struct config *c, const struct job *j, const char *path, int fd)
{
	struct stat st, cur;
	struct job n = *j;

	if (fstat(fd, &st) || lstat(path, &cur) || st.st_ino != cur.st_ino || st.st_dev != cur.st_dev)
		return -1;
	if (st.st_size == 0) {
		if (unlink(path))
			return -1;
		log_msg("job %s: empty and unclaimed for over a minute (its writer died before writing): "
		        "removed", j->base);
		return 0;
	}
	n.when = (long long)time(NULL);
	snprintf(n.last, sizeof n.last, "noclaim");
	if (queue_move(c->spool, "new", j->base, "failed", &n, 1)) {
		log_msg("job %s: no claim in seen/ (its intake never finished); cannot move it to failed/: "
		        "%s", j->base, strerror(errno));
		return -1;
	}
	log_msg("job %s: no claim in seen/: its intake never finished and no 200 was given, so Feishu "
	        "delivers the event again: moved to failed/ unrun (retry it only if this spool was "
	        "copied without its hard links)", j->base);
	return 0;
}

/* Open new/NAME (job j) to claim it: it must be a regular file of the
 * effective user's, no writer may hold its record's lock (an intake still
 * at work may yet undo it), and a job straight from intake needs its
 * event's claim (spool_claimed; without it, and with tidy set, a dead
 * writer's is set aside: set_aside). The descriptor, holding a shared lock, or -1 with
 * errno: EWOULDBLOCK while a writer holds it or may still claim it, ENOENT
 * when it is gone (or was just set aside), EPERM when it is not ours, anything else when it cannot
 * be looked at now. */
static int
open_job(const struct config *c, const struct job *j, const char *name, int tidy)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, e;

	snprintf(path, sizeof path, "%s/new/%s", c->spool, name);
	/* O_NONBLOCK: a FIFO planted here must not hang the runner */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ELOOP || errno == ENXIO || errno == EACCES || errno == EPERM)
			errno = EPERM;
		return -1;
	}
	if (fstat(fd, &st))
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		errno = EPERM;
	else if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		if (!queue_fresh(j))
			return fd;
		switch (spool_claimed(c->spool, j->hash, fd, time(NULL))) {
		case SPOOL_CLAIMED:
			return fd;
		case SPOOL_UNCLAIMED:
			errno = tidy && set_aside(c, j, path, fd) == 0 ? ENOENT : EWOULDBLOCK;
			break;
		default:
			errno = EWOULDBLOCK;
		}
	}
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* A job file that is not a regular file of ours is never run: it goes to
 * failed/ as it is, and the log says why. 1 when moved; 2 when it could not
 * be (then it is passed over). */
static int
refuse(struct runner *r, struct slot *s)
{
	s->job.when = (long long)time(NULL);
	snprintf(s->job.last, sizeof s->job.last, "notours");
	if (queue_move(r->c->spool, "new", s->name, "failed", &s->job, 1)) {
		log_msg("job %s: not a regular file owned by larkhook's user, never run; cannot move "
		        "it to failed/: %s", s->job.base, strerror(errno));
		return 2;
	}
	log_msg("job %s: not a regular file owned by larkhook's user: moved to failed/, never run",
	        s->job.base);
	r->totals->failed++;
	return 1;
}

/* A record that cannot be read for a system reason (EMFILE, ENOMEM, EIO)
 * is not the record's fault: it stays in new/, due again a backoff step
 * later, without using an attempt. */
static void
defer(struct runner *r, struct slot *s, int err)
{
	unsigned delay = r->c->backoff[0];
	struct job j = s->job;

	j.when = (long long)time(NULL) + delay;
	snprintf(j.last, sizeof j.last, "readerror");
	if (queue_move(r->c->spool, "new", s->name, "new", &j, 1) == 0)
		log_msg("job %s: cannot read its record (%s): tried again in %us", j.base,
		        strerror(err), delay);
}

/* Claim j and start its hook. 0 started; 1 settled without a run; 2 left
 * in new/ for now (a writer holds it, or it cannot be read just now); -1
 * the claim failed (try again later). */
static int
start(struct runner *r, struct slot *s, const struct job *j)
{
	const struct config *c = r->c;
	const struct hook *h;
	struct spool_job rec;
	struct env env = { 0 };
	struct hook_meta m;
	int in = -1, rc = 1, fd, got;

	memset(s, 0, sizeof *s);
	s->job = *j;
	s->attempts = 5;
	queue_name(j, s->name);
	/* only the runner holding runner.lock sets jobs aside (tidy): one at a time */
	if ((fd = open_job(c, j, s->name, 1)) < 0) {
		if (errno == EPERM)
			return refuse(r, s);
		return errno == EWOULDBLOCK || errno == ENOENT ? 2 : -1;
	}
	if ((got = spool_read_fd(fd, &rec)) < 0) {
		defer(r, s, errno);
		close(fd);
		return 2;
	}
	rc = queue_move(c->spool, "new", s->name, "cur", j, 0);
	close(fd);
	if (rc) {
		spool_job_free(&rec);
		return -1;
	}
	rc = 1;
	if (got) {
		snprintf(s->label, sizeof s->label, "job %s", j->base);
		settle(r, s, "badrecord", 0, 1, "the record is not one larkhook wrote");
		return 1;
	}
	h = cfg_route(c, rec.type);
	make_label(s, h, &rec);
	if (!h) {
		settle(r, s, "nohook", 0, 1, "no hook for this type in the config any more");
		goto out;
	}
	s->attempts = h->attempts;
	m = (struct hook_meta){ rec.type, rec.id, rec.schema, rec.time, rec.app_id, rec.tenant_key,
	                        rec.json, rec.json_len, rec.each, j->index, rec.jobs, j->runs + 1,
	                        s->json_file };
	if ((in = write_json(s, c, &rec)) < 0) {
		settle(r, s, "nospace", 0, 0, "cannot write the event file in run/");
		goto out;
	}
	switch (hook_env(c, &m, r->home, &env, on_collision, s)) {
	case 0:
		break;
	case 1:
		settle(r, s, "badjson", 0, 1, "the stored event is not valid JSON or lacks its item");
		goto out;
	default:
		settle(r, s, "nomem", 0, 0, "out of memory");
		goto out;
	}
	if (hook_start(&s->proc, h->run, c->dir, env.v, in, HOOK_LOG, h->timeout, GRACE_MS,
	               s->label)) {
		settle(r, s, "nostart", 0, 0, "cannot start /bin/sh");
		goto out;
	}
	if (env.truncated)
		log_msg("%s: some fields did not fit the environment (LARK_TRUNCATED=1)", s->label);
	rc = 0;
out:
	if (in >= 0)
		close(in);
	env_free(&env);
	spool_job_free(&rec);
	return rc;
}

static void
end(struct runner *r, struct slot *s)
{
	char what[32];
	int st = s->proc.status;

	hook_result(&s->proc, what, sizeof what);
	if (s->proc.timed_out)
		settle(r, s, "timeout", 0, 0, what);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		settle(r, s, "exit0", 1, 0, what);
	else if (WIFEXITED(st)) {
		char last[16];

		snprintf(last, sizeof last, "exit%d", WEXITSTATUS(st));
		settle(r, s, last, 0, WEXITSTATUS(st) == 100, what);
	} else {
		char last[16];

		snprintf(last, sizeof last, "sig%d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		settle(r, s, last, 0, 0, what);
	}
	hook_release(&s->proc);
}

/* new/ gains entries while we run: inotify wakes us to fill free slots.
 * Without it, the wait's own timeout is the fallback. */
static int
watch_new(const struct config *c)
{
	char path[PATH_MAX];
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	snprintf(path, sizeof path, "%s/new", c->spool);
	if (fd >= 0 && inotify_add_watch(fd, path, IN_CREATE | IN_MOVED_TO) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Run due jobs until none is due and none is running. Returns how many
 * jobs it claimed. */
static int
work(struct runner *r)
{
	struct hook_proc *procs[MAX_SLOTS];
	unsigned limit = r->c->concurrency < MAX_SLOTS ? r->c->concurrency : MAX_SLOTS;
	int ino = watch_new(r->c);
	char junk[4096];
	struct job j, skip;
	int claimed = 0;

	for (;;) {
		const struct job *after = NULL;

		/* in arrival order, passing over jobs a writer still holds */
		while ((unsigned)r->n < limit && queue_next_due(r->c->spool, time(NULL), after, &j)) {
			int rc = start(r, &r->slots[r->n], &j);

			if (rc == 2) {
				skip = j;
				after = &skip;
				continue;
			}
			if (rc < 0) {
				log_msg("cannot claim job %s: %s", j.base, strerror(errno));
				break;
			}
			claimed++;
			if (rc == 0)
				r->n++;
		}
		if (!r->n)
			break;
		for (int i = 0; i < r->n; i++)
			procs[i] = &r->slots[i].proc;
		hook_wait(procs, r->n, ino, 1000);
		while (ino >= 0 && read(ino, junk, sizeof junk) > 0)
			;
		for (int i = 0; i < r->n; i++) {
			if (!r->slots[i].proc.done)
				continue;
			end(r, &r->slots[i]);
			r->slots[i] = r->slots[--r->n];
			i--;
		}
	}
	if (ino >= 0)
		close(ino);
	return claimed;
}

/* A job in new/ that is due and that a runner could take now (no writer
 * holds it). */
static int
claimable(const struct config *c)
{
	struct job j, skip;
	const struct job *after = NULL;
	char name[QUEUE_NAME_MAX];
	int fd;

	while (queue_next_due(c->spool, time(NULL), after, &j)) {
		queue_name(&j, name);
		if ((fd = open_job(c, &j, name, 0)) >= 0) {
			close(fd);
			return 1;
		}
		if (errno != EWOULDBLOCK && errno != ENOENT)
			return 1;	/* work() deals with it */
		skip = j;
		after = &skip;
	}
	return 0;
}

/* Holding the lock: repair, then run until nothing is due. */
static void
run(const struct config *c, int lock, struct runner_totals *t)
{
	struct runner *r = calloc(1, sizeof *r);
	char why[PATH_MAX + 64];
	int idle = 0;

	/* the lock may have outlived a part of the spool someone removed */
	if (!r || spool_prepare(c->spool)) {
		free(r);
		log_msg("runner: cannot create the spool directories under %s: %s", c->spool,
		        strerror(errno));
		return;
	}
	if (spool_check(c->spool, why, sizeof why) > 0) {
		free(r);
		log_msg("runner: %s: refusing to run jobs from it (chown it to larkhook's user, "
		        "chmod 700)", why);
		return;
	}
	r->c = c;
	r->home = hook_home();
	r->totals = t;
	for (;;) {
		queue_sweep(c->spool, time(NULL), c->retain);
		idle = work(r) ? 0 : idle + 1;
		flock(lock, LOCK_UN);
		/* A job stored while we held the lock found no one to start a
		 * runner: its kick saw the lock taken. That kick came before
		 * this unlock, and its job was in new/ before the kick, so
		 * looking now, after the unlock, cannot miss it; a job stored
		 * later finds the lock free. Two rounds in a row that claim
		 * nothing while a job looks claimable end it (a claim that
		 * keeps failing; drain and the next kick try again). */
		if (idle >= 2 || !claimable(c) || flock(lock, LOCK_EX | LOCK_NB))
			break;
	}
	free(r);
}

/* In the runner: nothing of the request or the server stays open. */
static void
detach(int lock)
{
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	int sink = log_fd();
	struct stat st;
	sigset_t none;

	/* without /dev/null, something that is no pipe or socket of the
	 * server's: the request's standard streams must not stay open (the
	 * response would wait for every hook), and 0-2 must not be left free
	 * for a file opened later to take */
	if (nul < 0)
		nul = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
	} else {
		close(0);
		close(1);
	}
	/* standard error stays only where it is the log or a plain file;
	 * a pipe or socket would hold the server's request open */
	if (sink > 2)
		dup2(sink, 2);
	else if (nul >= 0 && (fstat(2, &st) || !S_ISREG(st.st_mode)))
		dup2(nul, 2);
	io_close_except(3, lock, sink > 2 ? sink : -1);
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void
runner_kick(const struct config *c, int *kept)
{
	struct runner_totals t = { 0 };
	int lock;
	pid_t pid;

	if (kept && *kept >= 0) {
		if (flock(*kept, LOCK_EX | LOCK_NB))
			return;	/* a runner is alive still */
		/* free: start one through a fresh open, in case runner.lock
		 * was removed and made again since this one was opened */
		close(*kept);
		*kept = -1;
	}
	if ((lock = open_lock(c)) < 0)
		return;
	if (flock(lock, LOCK_EX | LOCK_NB)) {
		/* a runner is alive */
		if (kept)
			*kept = lock;
		else
			close(lock);
		return;
	}
	/* the lock (one open file description) passes to the runner */
	pid = fork();
	if (pid == 0) {
		pid_t runner;

		setsid();
		if ((runner = fork()) < 0) {
			log_msg("cannot start the runner (second fork): %s; the job waits for the "
			        "next event or drain", strerror(errno));
			_exit(1);
		}
		if (runner > 0)
			_exit(0);
		detach(lock);
		run(c, lock, &t);
		_exit(0);	/* never exit(): no atexit or stdio of the server's */
	}
	close(lock);
	if (pid < 0)
		log_msg("cannot start the runner: %s; the job waits for the next event or drain",
		        strerror(errno));
	else
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

int
runner_drain(const struct config *c, struct runner_totals *t)
{
	int lock = open_lock(c);

	if (lock < 0)
		return -1;
	if (flock(lock, LOCK_EX | LOCK_NB)) {
		close(lock);
		return 1;
	}
	run(c, lock, t);
	close(lock);
	return 0;
}
