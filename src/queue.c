/* queue.c: job names, due jobs, moves between the spool's directories */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "queue.h"
#include "spool.h"

static int
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

int
queue_parse(const char *name, struct job *j)
{
	const char *colon = strchr(name, ':');
	size_t blen = colon ? (size_t)(colon - name) : strlen(name);
	char state[QUEUE_NAME_MAX];

	memset(j, 0, sizeof *j);
	/* 16 digits, '.', 64 hex digits, '.', 1-9 digits */
	if (blen < 83 || blen > 91 || !digits(name, 16) || name[16] != '.' || name[81] != '.' ||
	    !digits(name + 82, blen - 82) || strspn(name + 17, "0123456789abcdef") < 64)
		return -1;
	memcpy(j->base, name, blen);
	memcpy(j->hash, name + 17, 64);
	j->arrival = atoll(name);
	j->index = atoi(name + 82);
	if (!colon)
		return 0;
	if (strlen(colon + 1) >= sizeof state ||
	    sscanf(colon + 1, "%ld,%ld,%lld,%15[a-z0-9]", &j->runs, &j->budget, &j->when, j->last) < 3 ||
	    j->runs < 0 || j->budget < 0 || j->budget > j->runs)
		return -1;
	/* only the names queue_name makes: the runner claims a job by the name
	 * it rebuilds, so a stray variant would never be claimed */
	queue_name(j, state);
	return strcmp(state, name) == 0 ? 0 : -1;
}

/* Arrival order; the items of one event by index. */
static int
before(const struct job *a, const struct job *b)
{
	int c;

	if (a->arrival != b->arrival)
		return a->arrival < b->arrival;
	if ((c = strcmp(a->hash, b->hash)) != 0)
		return c < 0;
	return a->index < b->index;
}

int
queue_fresh(const struct job *j)
{
	return !j->runs && !j->budget && !j->when && !j->last[0];
}

void
queue_name(const struct job *j, char out[QUEUE_NAME_MAX])
{
	if (queue_fresh(j))
		snprintf(out, QUEUE_NAME_MAX, "%s", j->base);
	else
		snprintf(out, QUEUE_NAME_MAX, "%s:%ld,%ld,%lld,%s", j->base, j->runs, j->budget,
		         j->when, j->last);
}

struct pick {
	time_t now;
	const struct job *after;
	struct job best;
	int found;
};

static void
consider(void *ctx, const char *name, const struct job *j)
{
	struct pick *p = ctx;

	(void)name;
	if (j->when <= (long long)p->now && (!p->after || before(p->after, j)) &&
	    (!p->found || before(j, &p->best))) {
		p->best = *j;
		p->found = 1;
	}
}

int
queue_next_due(const char *spool, time_t now, const struct job *after, struct job *j)
{
	struct pick p = { .now = now, .after = after };

	queue_each(spool, "new", consider, &p);
	if (p.found)
		*j = p.best;
	return p.found;
}

int
queue_each(const char *spool, const char *dir,
           void (*fn)(void *ctx, const char *name, const struct job *j), void *ctx)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct job j;
	int rc;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", spool, dir);
	if (!(d = opendir(path)))
		return -1;
	errno = 0;
	while ((e = readdir(d))) {
		if (queue_parse(e->d_name, &j) == 0)
			fn(ctx, e->d_name, &j);
		errno = 0;
	}
	rc = errno ? -1 : 0;
	closedir(d);
	return rc;
}

int
queue_move(const char *spool, const char *from, const char *old, const char *to,
           const struct job *j, int sync)
{
	char src[PATH_MAX], dst[PATH_MAX], name[QUEUE_NAME_MAX];

	queue_name(j, name);
	if (snprintf(src, sizeof src, "%s/%s/%s", spool, from, old) >= (int)sizeof src ||
	    snprintf(dst, sizeof dst, "%s/%s/%s", spool, to, name) >= (int)sizeof dst ||
	    rename(src, dst))
		return -1;
	if (!sync)
		return 0;
	snprintf(dst, sizeof dst, "%s/%s", spool, to);
	return io_fsync_dir(dst);
}

struct sweep {
	const char *spool;
	time_t now;
	unsigned retain;
	char *pending;		/* hashes of jobs still to run, "h1 h2 …" */
	size_t plen, pcap;
	int partial;		/* pending may lack some: expire no claim */
};

/* A job in cur/ when the lock is ours: its runner died, maybe mid-hook. It
 * is due again. The run counts for LARK_ATTEMPT (the hook may have run)
 * but not against the budget: the runner died, not the hook. A job whose
 * runs keep ending so (LAST lost, lost2, …) is what kills its runners: at
 * QUEUE_MAX_LOST in a row it goes to failed/. */
static void
lost(void *ctx, const char *name, const struct job *j)
{
	struct sweep *s = ctx;
	struct job n = *j;
	int times = 1;

	if (strncmp(j->last, "lost", 4) == 0)
		times = j->last[4] ? atoi(j->last + 4) + 1 : 2;
	n.runs++;
	n.budget++;
	n.when = s->now;
	if (times == 1)
		snprintf(n.last, sizeof n.last, "lost");
	else
		snprintf(n.last, sizeof n.last, "lost%d", times);
	queue_move(s->spool, "cur", name, times >= QUEUE_MAX_LOST ? "failed" : "new", &n, 1);
}

static void
expire_done(void *ctx, const char *name, const struct job *j)
{
	struct sweep *s = ctx;
	char path[PATH_MAX];

	if (j->when + (long long)s->retain < (long long)s->now &&
	    snprintf(path, sizeof path, "%s/done/%s", s->spool, name) < (int)sizeof path)
		unlink(path);
}

static void
note_pending(void *ctx, const char *name, const struct job *j)
{
	struct sweep *s = ctx;
	char *grown;

	(void)name;
	if (s->plen + 66 > s->pcap) {
		size_t cap = s->pcap ? s->pcap * 2 : 4096;

		if (!(grown = realloc(s->pending, cap))) {
			s->partial = 1;
			return;
		}
		s->pending = grown;
		s->pcap = cap;
	}
	memcpy(s->pending + s->plen, j->hash, 64);
	s->pending[s->plen + 64] = ' ';
	s->plen += 65;
	s->pending[s->plen] = '\0';
}

/* Remove entries of spool/dir older than age seconds; in seen/, keep the
 * ids whose jobs are still waiting. */
static void
expire(struct sweep *s, const char *dir, time_t age)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", s->spool, dir);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof path, "%s/%s/%s", s->spool, dir, e->d_name) >= (int)sizeof path ||
		    lstat(path, &st) || st.st_mtime + age >= s->now)
			continue;
		if (strcmp(dir, "seen") == 0 && s->pending && strstr(s->pending, e->d_name))
			continue;
		unlink(path);
	}
	closedir(d);
}

/* The time expiry goes by: the wall clock as long as it moves with the
 * time that really passes (CLOCK_BOOTTIME); a step forward of more than a
 * minute is not followed within one boot, so a wall clock stepped forward
 * does not empty seen/ and done/ at once: expiry lags by the step instead
 * (until a reboot). A step back is followed. Kept, best effort, in
 * spool/clock as "BOOT_ID OFFSET", the wall clock minus CLOCK_BOOTTIME in
 * milliseconds. */
static time_t
sweep_clock(const char *spool, time_t now)
{
	char path[PATH_MAX], tmp[PATH_MAX], boot[40] = "", last_boot[40];
	long long up, offset, last;
	struct timespec ts;
	FILE *f;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) || !(f = fopen("/proc/sys/kernel/random/boot_id", "re")))
		return now;
	if (!fgets(boot, sizeof boot, f))
		boot[0] = '\0';
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	up = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	offset = (long long)now * 1000 - up;
	snprintf(path, sizeof path, "%s/clock", spool);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%39s %lld", last_boot, &last) == 2 && strcmp(last_boot, boot) == 0 &&
		    offset > last + 60000)
			offset = last;
		fclose(f);
	}
	snprintf(tmp, sizeof tmp, "%s/clock.tmp", spool);
	if ((f = fopen(tmp, "we"))) {
		fprintf(f, "%s %lld\n", boot, offset);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	return (time_t)((up + offset) / 1000);
}

void
queue_sweep(const char *spool, time_t now, unsigned retain)
{
	struct sweep s = { spool, sweep_clock(spool, now), retain, NULL, 0, 0, 0 };

	/* claims of dead writers are completed before seen/ expires, so
	 * an unfinished claim's jobs are made (and keep it) first */
	spool_sweep_tmp(spool, now);
	queue_each(spool, "cur", lost, &s);
	queue_each(spool, "done", expire_done, &s);
	/* a claim whose job still waits must stay: without it the runner
	 * would take that job for a dead writer's (doc/4-spool.md §4.5), so
	 * no claim expires unless every waiting job was seen */
	if (queue_each(spool, "new", note_pending, &s) == 0 && !s.partial)
		expire(&s, "seen", (time_t)retain);
	/* run/ holds files only while a hook runs: reply hooks' are recent */
	expire(&s, "run", 86400);
	free(s.pending);
}
