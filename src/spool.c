/* spool.c: durable intake of events into the spool directory */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "io.h"
#include "log.h"
#include "spool.h"

static const char *const dirs[] = { "tmp", "new", "cur", "done", "failed", "seen", "run" };

/* "key value\n" at out for a field that is present; the bytes written.
 * Plain copies: snprintf was a tenth of a FastCGI intake's instructions. */
static size_t
field(char *out, const char *key, const char *value)
{
	size_t k, v;

	if (!value)
		return 0;
	k = strlen(key);
	v = strlen(value);
	memcpy(out, key, k);
	out[k] = ' ';
	memcpy(out + k + 1, value, v);
	out[k + 1 + v] = '\n';
	return k + v + 2;
}


static size_t
flen(const char *key, const char *value)
{
	return value ? strlen(key) + strlen(value) + 2 : 0;
}

char *
spool_format(const struct spool_record *r, size_t *len)
{
	char received[32], jobs[16];
	size_t cap, n;
	char *buf;

	received[io_decimal(received, (long long)r->received, 1)] = '\0';
	jobs[io_decimal(jobs, r->jobs, 1)] = '\0';
	cap = strlen(SPOOL_MAGIC) + 2 + flen("id", r->id) + flen("type", r->type) +
	      flen("schema", r->schema) + flen("received", received) + flen("jobs", jobs) +
	      flen("time", r->time) +
	      flen("app_id", r->app_id) + flen("tenant_key", r->tenant_key) +
	      flen("each", r->each) + 1 + r->json_len + 1;
	if (!(buf = malloc(cap)))
		return NULL;
	/* cap counts every byte below (flen), so none of it can overrun */
	memcpy(buf, SPOOL_MAGIC "\n", sizeof SPOOL_MAGIC);
	n = sizeof SPOOL_MAGIC;
	n += field(buf + n, "id", r->id);
	n += field(buf + n, "type", r->type);
	n += field(buf + n, "schema", r->schema);
	n += field(buf + n, "received", received);
	n += field(buf + n, "jobs", jobs);
	n += field(buf + n, "time", r->time);
	n += field(buf + n, "app_id", r->app_id);
	n += field(buf + n, "tenant_key", r->tenant_key);
	n += field(buf + n, "each", r->each);
	buf[n++] = '\n';
	memcpy(buf + n, r->json, r->json_len);
	n += r->json_len;
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
spool_prepare(const char *spool)
{
	char path[PATH_MAX];
	int made = 0;

	if (mkdir(spool, 0700) == 0)
		made = 1;
	else if (errno != EEXIST)
		return -1;
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s/%s", spool, dirs[i]);
		if (mkdir(path, 0700) == 0)
			made = 1;
		else if (errno != EEXIST)
			return -1;
	}
	if (!made)
		return 0;
	return io_fsync_dir(spool);
}

void
spool_close(struct spool *sp)
{
	int *fds[] = { &sp->tmp, &sp->new, &sp->seen };

	if (sp->nheld)
		spool_commit(sp);
	free(sp->held);
	sp->held = NULL;
	sp->capheld = 0;

	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Why the directory st may not be used as a part of the spool, or NULL:
 * someone else could plant or take files in it. */
static const char *
stranger(const struct stat *st, uid_t me)
{
	if (!S_ISDIR(st->st_mode))
		return "is not a directory";
	if (st->st_uid != me)
		return "is not owned by larkhook's user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "is writable by group or others";
	return NULL;
}

int
spool_check(const char *spool, char *why, size_t n)
{
	char path[PATH_MAX];
	const char *bad;
	struct stat st;
	uid_t me = geteuid();

	if (lstat(spool, &st))
		return errno == ENOENT ? 0 : -1;
	if ((bad = stranger(&st, me))) {
		snprintf(why, n, "%s %s", spool, bad);
		return 1;
	}
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s/%s", spool, dirs[i]);
		if (lstat(path, &st) == 0 && (bad = stranger(&st, me))) {
			snprintf(why, n, "%s %s", path, bad);
			return 1;
		}
	}
	return 0;
}

/* Open tmp/, new/ and seen/ for the *at() calls of store(), each checked
 * with the spool itself (a FastCGI responder checks once per open). -1
 * with errno; -2 when a part of the spool is a stranger's (logged). */
static int
open_dirs(struct spool *sp)
{
	static const char *const names[] = { "tmp", "new", "seen" };
	int *fds[] = { &sp->tmp, &sp->new, &sp->seen };
	char path[PATH_MAX];
	const char *bad = NULL;
	struct stat st;
	uid_t me = geteuid();
	int e;

	spool_close(sp);
	if (stat(sp->path, &st))
		goto fail;
	if ((bad = stranger(&st, me))) {
		snprintf(path, sizeof path, "%s", sp->path);
		goto refuse;
	}
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
		if (snprintf(path, sizeof path, "%s/%s", sp->path, names[i]) >= (int)sizeof path) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if ((*fds[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			goto fail;
		if (fstat(*fds[i], &st))
			goto fail;
		if ((bad = stranger(&st, me)))
			goto refuse;
	}
	return 0;
refuse:
	log_msg("spool: %s %s: refusing to use it (chown it to larkhook's user, chmod 700)",
	        path, bad);
	spool_close(sp);
	return -2;
fail:
	e = errno;
	spool_close(sp);
	errno = e;
	return -1;
}

/* Create the record as dir/name under its lock and make it durable. The
 * descriptor, holding LOCK_EX from before the claim until the intake is
 * durable or undone (so whoever finds the claim can tell a writer at work
 * from one that finished or died), or -1 with nothing left behind: after a
 * failed fsync the page cache may hold nothing worth retrying. */
static int
write_record(int dir, const char *name, const char *buf, size_t n)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int e;

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) == 0 && io_write_all(fd, buf, n) == 0 && fsync(fd) == 0)
		return fd;
	e = errno;
	unlinkat(dir, name, 0);
	close(fd);
	errno = e;
	return -1;
}

/* Entry names, relative to tmp/, seen/ and new/. The record is born as
 * tmp in tmp/ or, for an event of one job, as that job in new/, named
 * born (direct): a job straight from intake runs only once its claim
 * stands (spool_claimed), so it needs no rename out of tmp/. */
struct names {
	char tmp[128], job[128], born[128];
	char hash[65], arrival[32];
	long long us;	/* the arrival, in microseconds */
	int direct;
};

/* The directory the record was born in, and its name there. */
static int
rec_dir(const struct spool *sp, const struct names *nm)
{
	return nm->direct ? sp->new : sp->tmp;
}

static const char *
rec_name(const struct names *nm)
{
	return nm->direct ? nm->born : nm->tmp;
}

/* ARRIVAL: 10 digits of seconds, 6 of microseconds, from us. */
static void
set_arrival(struct names *nm, long long us)
{
	size_t n = io_decimal(nm->arrival, us / 1000000, 10);

	n += io_decimal(nm->arrival + n, us % 1000000, 6);
	nm->arrival[n] = '\0';
	nm->us = us;
}

static int
make_names(const char *id, struct names *nm)
{
	struct bytes part = { id, strlen(id) };
	unsigned char md[32];
	struct timeval tv;

	if (crypto_sha256(&part, 1, md))
		return -1;
	crypto_hex(md, 32, nm->hash);
	gettimeofday(&tv, NULL);
	set_arrival(nm, (long long)tv.tv_sec * 1000000 + tv.tv_usec);
	nm->tmp[0] = nm->born[0] = '\0';
	nm->direct = 0;
	return 0;
}

/* The record's name in tmp/: HASH.PID.ARRIVAL. Unique: a process stores
 * one event at a time, and a record left by a dead one of the same pid
 * would need the same microsecond (then O_EXCL refuses and the answer is
 * 503). */
static void
tmp_name(struct names *nm)
{
	size_t o = 64;

	memcpy(nm->tmp, nm->hash, 64);
	nm->tmp[o++] = '.';
	o += io_decimal(nm->tmp + o, (long long)getpid(), 1);
	nm->tmp[o++] = '.';
	memcpy(nm->tmp + o, nm->arrival, strlen(nm->arrival) + 1);
}

/* A store left for spool_commit: its record's descriptor (locked). */
struct spool_held {
	int fd, jobs;
	struct names nm;
};

/* ARRIVAL.IDHASH.INDEX into out[0..n). */
static int
job_name(const struct names *nm, int index, char *out, size_t n)
{
	size_t a = strlen(nm->arrival), h = strlen(nm->hash), o;

	if (index < 0 || a + h + 2 + 11 >= n)
		return -1;
	memcpy(out, nm->arrival, a);
	out[a] = '.';
	memcpy(out + a + 1, nm->hash, h);
	o = a + 1 + h;
	out[o++] = '.';
	out[o + io_decimal(out + o, index, 1)] = '\0';
	return 0;
}

/* Where the record is born (doc/4-spool.md §4.4): as its one job in new/
 * when the event has one job, else in tmp/. A job name already taken in
 * new/ (the same id in the same microsecond, from another writer) is tried
 * again a microsecond later, a few times: a job name in new/ is only ever
 * made by O_EXCL here or by its own claimer, so none is replaced. The
 * locked descriptor, or -1. */
#define BORN_TRIES 8
static int
born(const struct spool *sp, struct names *nm, int jobs, const char *buf, size_t len)
{
	int fd = -1;

	if (jobs == 1) {
		nm->direct = 1;
		for (int i = 0; i < BORN_TRIES; i++) {
			if (i)
				set_arrival(nm, nm->us + 1);
			if (job_name(nm, 0, nm->born, sizeof nm->born))
				return -1;
			if ((fd = write_record(sp->new, nm->born, buf, len)) >= 0 || errno != EEXIST)
				break;
		}
		return fd;
	}
	tmp_name(nm);
	return write_record(sp->tmp, nm->tmp, buf, len);
}

/* Remove the claim, the jobs made and the record of an intake (the
 * caller still holds the record's lock, so nobody has taken them). The
 * claim first: killed half-way, this leaves jobs without a claim, which
 * the runner sets aside unrun (doc/4-spool.md §4.5), not a claim without its
 * jobs, which would take every redelivery for a duplicate. */
static void
unmake(const struct spool *sp, struct names *nm, int made)
{
	unlinkat(sp->seen, nm->hash, 0);
	for (int i = 0; i < made; i++) {
		if (job_name(nm, i, nm->job, sizeof nm->job) == 0)
			unlinkat(sp->new, nm->job, 0);
	}
	if (!nm->direct)
		unlinkat(sp->tmp, nm->tmp, 0);
}

/* Undo a claim whose jobs could not all be made durable. */
static void
rollback(const struct spool *sp, struct names *nm, int made)
{
	unmake(sp, nm, made);
	fsync(sp->new);
	fsync(sp->seen);
}

int
spool_commit(struct spool *sp)
{
	int rc = 0, e = 0;

	if (sp->nheld == 0)
		return 0;
	if (fsync(sp->new) || fsync(sp->seen)) {
		e = errno;
		for (int i = 0; i < sp->nheld; i++)
			unmake(sp, &sp->held[i].nm, sp->held[i].jobs);
		fsync(sp->new);
		fsync(sp->seen);
		sp->undone += sp->nheld;
		rc = -1;
	} else {
		for (int i = 0; i < sp->nheld; i++)
			if (sp->held[i].jobs == 0)
				unlinkat(sp->tmp, sp->held[i].nm.tmp, 0);
	}
	/* durable or undone: only now may a duplicate or the runner take them */
	for (int i = 0; i < sp->nheld; i++)
		close(sp->held[i].fd);
	sp->nheld = 0;
	errno = e;
	return rc;
}

/* 1 when a held store claimed hash. */
static int
held_claim(const struct spool *sp, const char *hash)
{
	for (int i = 0; i < sp->nheld; i++)
		if (memcmp(sp->held[i].nm.hash, hash, 64) == 0)
			return 1;
	return 0;
}

/* Room for one more held store. 0 when there is. */
static int
held_room(struct spool *sp)
{
	struct spool_held *grown;
	int cap;

	if (sp->nheld < sp->capheld)
		return 0;
	cap = sp->capheld ? 2 * sp->capheld : 64;
	if (!(grown = realloc(sp->held, (size_t)cap * sizeof *grown)))
		return -1;
	sp->held = grown;
	sp->capheld = cap;
	return 0;
}

/* Mark in have[0..jobs) the indexes of the jobs of hash found in dir. */
static void
mark_jobs(const char *spool, const char *dir, const char *hash, char *have, int jobs)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", spool, dir);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		const char *dot = strchr(e->d_name, '.');
		long i;

		if (!dot || strncmp(dot + 1, hash, 64) != 0 || dot[65] != '.')
			continue;
		i = strtol(dot + 66, NULL, 10);
		if (i >= 0 && i < jobs)
			have[i] = 1;
	}
	closedir(d);
}

/* The names the writer of tmp/HASH.PID.ARRIVAL gave or would have given
 * its jobs, so a completed intake keeps its place in arrival order. */
static int
names_of(const char *tmp, struct names *nm)
{
	const char *arrival = strrchr(tmp, '.');

	if (strlen(tmp) >= sizeof nm->tmp || !arrival || strlen(arrival + 1) != 16 ||
	    strspn(arrival + 1, "0123456789") != 16)
		return -1;
	memcpy(nm->hash, tmp, 64);
	nm->hash[64] = '\0';
	memcpy(nm->arrival, arrival + 1, 17);
	memcpy(nm->tmp, tmp, strlen(tmp) + 1);
	nm->direct = 0;
	return 0;
}

/* Finish the intake of a writer that died after its claim (the caller holds
 * the record's lock, fd): make the jobs it did not make from its record in
 * tmp/, make them durable, then remove the record from tmp/. 0 on success. */
static int
complete(const struct spool *sp, const char *tmp, int fd)
{
	struct spool_job rec;
	struct names nm;
	char *have = NULL;
	int rc = -1;

	if (names_of(tmp, &nm) || spool_read_fd(fd, &rec))
		return -1;
	if (rec.jobs > 0 && !(have = calloc((size_t)rec.jobs, 1)))
		goto out;
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		mark_jobs(sp->path, dirs[i], nm.hash, have, rec.jobs);
	for (int i = 0; i < rec.jobs; i++) {
		if (!have[i] && (job_name(&nm, i, nm.job, sizeof nm.job) ||
		                 (linkat(sp->tmp, tmp, sp->new, nm.job, 0) && errno != EEXIST)))
			goto out;
	}
	if (fsync(sp->new) == 0 && unlinkat(sp->tmp, tmp, 0) == 0)
		rc = 0;
out:
	free(have);
	spool_job_free(&rec);
	return rc;
}

/* Complete the claim whose record is fd (locked by the caller) if its
 * writer left it unfinished: its record is still in tmp/. 0 when nothing
 * is left to do. */
static int
finish_claim(const struct spool *sp, const char *hash, int fd, const struct stat *rec)
{
	char dir[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int rc = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/tmp", sp->path);
	if (!(d = opendir(dir)))
		return -1;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, hash, 64) != 0 || e->d_name[64] != '.' ||
		    fstatat(sp->tmp, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    st.st_ino != rec->st_ino || st.st_dev != rec->st_dev)
			continue;
		if (complete(sp, e->d_name, fd))
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* flock(fd, LOCK_EX), waiting at most ms. 0 when taken; -1 with errno
 * (EWOULDBLOCK: still held at the end). Polled with growing naps: only a
 * duplicate that meets a writer at work waits here. */
static int
lock_within(int fd, int ms)
{
	long long end = io_now_ms() + ms;
	long nap = 1;

	while (flock(fd, LOCK_EX | LOCK_NB)) {
		struct timespec ts = { 0, nap * 1000000L };

		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (io_now_ms() >= end) {
			errno = EWOULDBLOCK;
			return -1;
		}
		nanosleep(&ts, NULL);
		nap = nap < 32 ? nap * 2 : 32;
	}
	return 0;
}

enum dup { DUP_DURABLE, DUP_GONE, DUP_BUSY, DUP_FAILED };

/* seen/HASH exists: the id was claimed by a writer that is at work,
 * finished or dead. Its record (the inode seen/HASH names) carries the
 * writer's lock from creation until durable or undone: wait for it. Then
 * the claim is gone (undone: claim anew) or its writer finished or died:
 * complete what a dead writer left, and make it all durable, before the
 * duplicate may be answered 200. */
static enum dup
duplicate(const struct spool *sp, const struct names *nm)
{
	struct stat held, st;
	enum dup d = DUP_FAILED;
	int fd = openat(sp->seen, nm->hash, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? DUP_GONE : DUP_FAILED;
	if (lock_within(fd, SPOOL_WAIT_MS)) {
		d = errno == EWOULDBLOCK ? DUP_BUSY : DUP_FAILED;
		goto out;
	}
	if (fstat(fd, &held) || !S_ISREG(held.st_mode) || held.st_uid != geteuid())
		goto out;
	if (held.st_nlink == 0 || fstatat(sp->seen, nm->hash, &st, AT_SYMLINK_NOFOLLOW) ||
	    st.st_ino != held.st_ino || st.st_dev != held.st_dev) {
		d = DUP_GONE;
		goto out;
	}
	if (finish_claim(sp, nm->hash, fd, &held) == 0 && fsync(sp->new) == 0 && fsync(sp->seen) == 0)
		d = DUP_DURABLE;
out:
	close(fd);
	return d;
}

/* link() the record into seen/. 0 claimed; 1 claimed before and durable
 * (a duplicate); -1 with errno and *reason when neither can be said. */
static int
claim(const struct spool *sp, struct names *nm, const char **reason)
{
	/* a claim undone while we waited is tried again, a few times */
	for (int tries = 0; tries < 3; tries++) {
		if (linkat(rec_dir(sp, nm), rec_name(nm), sp->seen, nm->hash, 0) == 0)
			return 0;
		if (errno != EEXIST) {
			*reason = "spool: cannot claim the event id in seen/";
			return -1;
		}
		switch (duplicate(sp, nm)) {
		case DUP_DURABLE:
			return 1;
		case DUP_GONE:
			continue;
		case DUP_BUSY:
			*reason = "duplicate of an intake still at work: not yet durable, try again";
			errno = EWOULDBLOCK;
			return -1;
		default:
			*reason = "duplicate: the first intake cannot be completed or made durable";
			errno = EIO;
			return -1;
		}
	}
	*reason = "spool: the event id's claim kept being undone";
	errno = EAGAIN;
	return -1;
}

/* Make the jobs: one link per job, and the last job is a rename: the
 * record leaves tmp/ the moment the last job exists, so a tmp/ record
 * whose inode is claimed in seen/ always means an intake that did not
 * finish (finish_claim). A record born as its one job in new/ is that job
 * already. The job name is new: arrival time and event id. Then make them
 * durable, unless held (spool_commit does). The number made, or -1 - made
 * on failure. */
static int
make_jobs(const struct spool *sp, struct names *nm, int jobs, int held)
{
	int made = nm->direct ? 1 : 0;

	for (; made < jobs; made++) {
		if (job_name(nm, made, nm->job, sizeof nm->job) ||
		    (made + 1 < jobs ? linkat(sp->tmp, nm->tmp, sp->new, nm->job, 0)
		                     : renameat(sp->tmp, nm->tmp, sp->new, nm->job)))
			return -1 - made;
	}
	if (held)
		return made;
	if (fsync(sp->new) || fsync(sp->seen))
		return -1 - made;
	if (jobs == 0)
		unlinkat(sp->tmp, nm->tmp, 0);
	return made;
}

/* One attempt at spool_store. On ST_UNAVAILABLE errno is that of the step
 * that failed. */
static enum status
store(struct spool *sp, const struct spool_record *r, int *duplicate, const char **reason)
{
	struct names nm;
	size_t len = 0;
	char *buf = NULL;
	int fd, made, e, held;

	*reason = "spool: cannot open its tmp/, new/ or seen/";
	if (sp->tmp < 0 && (e = open_dirs(sp)) != 0) {
		if (e == -2) {
			*reason = "spool: a part of it is not larkhook's own (see the log line before)";
			errno = EPERM;
		}
		return ST_UNAVAILABLE;
	}
	*reason = "spool: out of memory";
	if (make_names(r->id, &nm) || !(buf = spool_format(r, &len))) {
		free(buf);
		errno = ENOMEM;
		return ST_UNAVAILABLE;
	}
	/* a held claim of this id: its lock is ours, so commit it first */
	if (sp->nheld && held_claim(sp, nm.hash))
		spool_commit(sp);
	/* without room to keep it, this store is made durable at once */
	held = sp->hold && held_room(sp) == 0;
	*reason = "spool: cannot write the record";
	fd = born(sp, &nm, r->jobs, buf, len);
	free(buf);
	if (fd < 0)
		return ST_UNAVAILABLE;
	switch (claim(sp, &nm, reason)) {
	case 0:
		break;
	case 1:
		*duplicate = 1;
		*reason = "duplicate event id";
		unlinkat(rec_dir(sp, &nm), rec_name(&nm), 0);
		close(fd);
		return ST_OK;
	default:
		e = errno;
		unlinkat(rec_dir(sp, &nm), rec_name(&nm), 0);
		close(fd);
		errno = e;
		return ST_UNAVAILABLE;
	}
	*reason = "spool: cannot queue the job in new/";
	if ((made = make_jobs(sp, &nm, r->jobs, held)) < 0) {
		e = errno;
		rollback(sp, &nm, -1 - made);
		close(fd);
		errno = e;
		return ST_UNAVAILABLE;
	}
	if (held)
		sp->held[sp->nheld++] = (struct spool_held){ fd, r->jobs, nm };
	else
		close(fd);	/* durable: only now may a duplicate or the runner take the record */
	*reason = r->jobs ? "event stored" : "event stored, no job (each path empty or missing)";
	return ST_OK;
}

/* The spool's directories are made when a step finds one missing (the
 * first event, or after someone removed part of the spool), not before
 * every event: that was eight mkdir calls per request, the largest single
 * cost of a FastCGI intake. A directory removed while its descriptor is
 * held gives ENOENT too (nothing can be made in it), so the descriptors
 * are then opened again on the new tree. */
enum status
spool_store(struct spool *sp, const struct spool_record *r, int *duplicate,
            const char **reason)
{
	enum status st;

	*duplicate = 0;
	st = store(sp, r, duplicate, reason);
	if (st != ST_UNAVAILABLE || errno != ENOENT)
		return st;
	spool_close(sp);
	*reason = "spool: cannot create the spool directories";
	if (spool_prepare(sp->path))
		return ST_UNAVAILABLE;
	return store(sp, r, duplicate, reason);
}

int
spool_parse(char *buf, size_t len, struct spool_job *j)
{
	char *p = buf, *end = buf + len, *nl;

	memset(j, 0, sizeof *j);
	if (len < sizeof SPOOL_MAGIC || memcmp(buf, SPOOL_MAGIC "\n", sizeof SPOOL_MAGIC) != 0)
		return -1;
	p += sizeof SPOOL_MAGIC;
	while (p < end && *p != '\n') {
		char *sp;

		if (!(nl = memchr(p, '\n', (size_t)(end - p))) || !(sp = memchr(p, ' ', (size_t)(nl - p))))
			return -1;
		*sp = *nl = '\0';
		if (strcmp(p, "id") == 0) j->id = sp + 1;
		else if (strcmp(p, "type") == 0) j->type = sp + 1;
		else if (strcmp(p, "schema") == 0) j->schema = sp + 1;
		else if (strcmp(p, "time") == 0) j->time = sp + 1;
		else if (strcmp(p, "app_id") == 0) j->app_id = sp + 1;
		else if (strcmp(p, "tenant_key") == 0) j->tenant_key = sp + 1;
		else if (strcmp(p, "each") == 0) j->each = sp + 1;
		else if (strcmp(p, "jobs") == 0) j->jobs = atoi(sp + 1);
		else if (strcmp(p, "received") == 0) j->received = (time_t)atoll(sp + 1);
		p = nl + 1;
	}
	if (p >= end || !j->id || !j->type || !j->schema || j->jobs < 0)
		return -1;
	j->json = p + 1;
	j->json_len = (size_t)(end - p - 1);
	return 0;
}

int
spool_read_fd(int fd, struct spool_job *j)
{
	struct stat st;
	ssize_t n = 0, r;
	char *buf;

	memset(j, 0, sizeof *j);
	if (fstat(fd, &st))
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_size > SPOOL_RECORD_MAX)
		return 1;
	if (!(buf = malloc((size_t)st.st_size + 1)))
		return -1;
	while (n < st.st_size && (r = pread(fd, buf + n, (size_t)(st.st_size - n), n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		n += r;
	}
	buf[n] = '\0';
	if (n != st.st_size || spool_parse(buf, (size_t)n, j)) {
		free(buf);
		memset(j, 0, sizeof *j);
		return 1;
	}
	j->buf = buf;
	return 0;
}

int
spool_read(const char *path, struct spool_job *j)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int rc;

	memset(j, 0, sizeof *j);
	if (fd < 0)
		return -1;
	rc = spool_read_fd(fd, j);
	close(fd);
	return rc;
}

void
spool_job_free(struct spool_job *j)
{
	free(j->buf);
	memset(j, 0, sizeof *j);
}

/* One tmp/ entry met by the sweep. Its writer is alive while the record's
 * lock is held: then it is left alone. Free, it is a dead writer's: a
 * claimed record (seen/ is the same inode) gets its jobs; an unclaimed one
 * is removed. But an empty one may be a live writer's, caught between its
 * create and its flock (it writes only once locked): it goes once a
 * minute old. */
static void
sweep_one(const struct spool *sp, const char *name, time_t now)
{
	char hash[65];
	struct stat st, cur, seen;
	int fd;

	if (strlen(name) < 66 || name[64] != '.')
		return;
	fd = openat(sp->tmp, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    flock(fd, LOCK_EX | LOCK_NB) ||
	    fstatat(sp->tmp, name, &cur, AT_SYMLINK_NOFOLLOW) || cur.st_ino != st.st_ino)
		goto out;
	memcpy(hash, name, 64);
	hash[64] = '\0';
	if (fstatat(sp->seen, hash, &seen, AT_SYMLINK_NOFOLLOW) == 0 && seen.st_ino == st.st_ino &&
	    seen.st_dev == st.st_dev)
		complete(sp, name, fd);
	else if (st.st_size > 0 || now - st.st_mtime > 60)
		unlinkat(sp->tmp, name, 0);
out:
	close(fd);
}

enum spool_claim
spool_claimed(const char *spool, const char *hash, int fd, time_t now)
{
	char path[PATH_MAX];
	struct stat st, seen;

	if (fstat(fd, &st) || st.st_nlink == 0)
		return SPOOL_PENDING;	/* gone: its writer undid it */
	snprintf(path, sizeof path, "%s/seen/%s", spool, hash);
	if (lstat(path, &seen) == 0) {
		if (seen.st_ino == st.st_ino && seen.st_dev == st.st_dev)
			return SPOOL_CLAIMED;
	} else if (errno != ENOENT)
		return SPOOL_PENDING;
	if (st.st_size == 0 && now - st.st_mtime <= 60)
		return SPOOL_PENDING;
	return SPOOL_UNCLAIMED;
}

void
spool_sweep_tmp(const char *spool, time_t now)
{
	struct spool sp = SPOOL_INIT(spool);
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (open_dirs(&sp))
		return;
	snprintf(dir, sizeof dir, "%s/tmp", spool);
	if ((d = opendir(dir))) {
		while ((e = readdir(d)))
			sweep_one(&sp, e->d_name, now);
		closedir(d);
	}
	spool_close(&sp);
}
