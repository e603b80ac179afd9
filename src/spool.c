/* spool.c: durable intake of events into the spool directory */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "io.h"
#include "crypto.h"
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

	snprintf(received, sizeof received, "%lld", (long long)r->received);
	snprintf(jobs, sizeof jobs, "%d", r->jobs);
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
	int made = 0, fd;

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
	/* the lock that serialises take-overs of dead writers' claims */
	snprintf(path, sizeof path, "%s/intake.lock", spool);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0)
		close(fd);
	return io_fsync_dir(spool);
}

void
spool_close(struct spool *sp)
{
	int *fds[] = { &sp->tmp, &sp->new, &sp->seen };

	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Open tmp/, new/ and seen/ for the *at() calls of store(). */
static int
open_dirs(struct spool *sp)
{
	static const char *const names[] = { "tmp", "new", "seen" };
	int *fds[] = { &sp->tmp, &sp->new, &sp->seen };
	char path[PATH_MAX];
	int e;

	spool_close(sp);
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
		if (snprintf(path, sizeof path, "%s/%s", sp->path, names[i]) >= (int)sizeof path) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if ((*fds[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			goto fail;
	}
	return 0;
fail:
	e = errno;
	spool_close(sp);
	errno = e;
	return -1;
}

/* Write the record to tmp/ and make it durable. Any error removes it: after
 * a failed fsync the page cache may hold nothing, so it is never retried. */
static int
write_tmp(int dir, const char *tmp, const char *buf, size_t n)
{
	int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -1;
	if (io_write_all(fd, buf, n) || fsync(fd)) {
		int e = errno;

		close(fd);
		unlinkat(dir, tmp, 0);
		errno = e;
		return -1;
	}
	if (close(fd)) {
		int e = errno;

		unlinkat(dir, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* Entry names, relative to tmp/, seen/ and new/. */
struct names {
	char tmp[128], job[128];
	char hash[65], arrival[32];
};

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
	snprintf(nm->arrival, sizeof nm->arrival, "%010lld%06ld", (long long)tv.tv_sec, (long)tv.tv_usec);
	/* unique: a process stores one event at a time, and a record left by
	 * a dead one of the same pid would need the same microsecond (then
	 * O_EXCL refuses and the answer is 503) */
	snprintf(nm->tmp, sizeof nm->tmp, "%s.%ld.%s", nm->hash, (long)getpid(), nm->arrival);
	return 0;
}

static int
job_name(const struct names *nm, int index, char *out, size_t n)
{
	int len = snprintf(out, n, "%s.%s.%d", nm->arrival, nm->hash, index);

	return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Undo a claim whose jobs could not all be made durable. */
static void
rollback(const struct spool *sp, struct names *nm, int made)
{
	for (int i = 0; i < made; i++) {
		if (job_name(nm, i, nm->job, sizeof nm->job) == 0)
			unlinkat(sp->new, nm->job, 0);
	}
	unlinkat(sp->seen, nm->hash, 0);
	unlinkat(sp->tmp, nm->tmp, 0);
	fsync(sp->new);
	fsync(sp->seen);
}

/* A writer that died or hung after writing its record: its process is gone,
 * or the record is far older than an intake takes (milliseconds). name is
 * the tmp/ entry: HASH.PID.ARRIVAL. */
static int
stale(const char *name, const struct stat *st, time_t now)
{
	long pid = strtol(name + 65, NULL, 10);

	if (now - st->st_mtime > 60)
		return 1;
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
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

/* Finish the intake of a writer that died after its claim: make the jobs it
 * did not make, from its record in tmp/, then remove the record. It never
 * answered, so Feishu redelivers, and the redelivery is then a duplicate:
 * the event runs once. 0 on success. */
static int
complete(const char *spool, const char *tmp, const char *hash)
{
	struct spool_job rec;
	char new_dir[PATH_MAX], job[PATH_MAX];
	char *have = NULL;
	int rc = -1, n;

	if (spool_read(tmp, &rec))
		return -1;
	if (rec.jobs > 0 && !(have = calloc((size_t)rec.jobs, 1)))
		goto out;
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		mark_jobs(spool, dirs[i], hash, have, rec.jobs);
	snprintf(new_dir, sizeof new_dir, "%s/new", spool);
	for (int i = 0; i < rec.jobs; i++) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		if (have[i])
			continue;
		n = snprintf(job, sizeof job, "%s/%010lld%06ld.%.64s.%d", new_dir,
		             (long long)tv.tv_sec, (long)tv.tv_usec, hash, i);
		if (n < 0 || (size_t)n >= sizeof job || (link(tmp, job) && errno != EEXIST))
			goto out;
	}
	if (io_fsync_dir(new_dir) == 0 && unlink(tmp) == 0)
		rc = 0;
out:
	free(have);
	spool_job_free(&rec);
	return rc;
}

/* seen/HASH exists. If it is the claim of a writer that died before its
 * answer (its tmp/ record, the same inode, is still there), complete that
 * intake. */
static void
complete_claim(const char *spool, int seen_dir, struct names *nm)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat seen, st;
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/tmp", spool);
	if (fstatat(seen_dir, nm->hash, &seen, AT_SYMLINK_NOFOLLOW) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, nm->hash, 64) != 0 || e->d_name[64] != '.' ||
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
		    lstat(path, &st) || st.st_ino != seen.st_ino || !stale(e->d_name, &st, time(NULL)))
			continue;
		complete(spool, path, nm->hash);
	}
	closedir(d);
}

static int
lock_intake(const char *spool)
{
	char lock[PATH_MAX];
	int fd;

	snprintf(lock, sizeof lock, "%s/intake.lock", spool);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return -1;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* link() the record into seen/. On EEXIST, a dead writer's unfinished
 * claim is completed first, under the intake lock so two redeliveries do not
 * both complete it. 0 on success; -1 with errno (EEXIST: accepted before). */
static int
claim(const struct spool *sp, struct names *nm)
{
	int fd;

	if (linkat(sp->tmp, nm->tmp, sp->seen, nm->hash, 0) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if ((fd = lock_intake(sp->path)) >= 0) {
		complete_claim(sp->path, sp->seen, nm);
		close(fd);
	}
	errno = EEXIST;
	return -1;
}

/* One attempt at spool_store. On ST_UNAVAILABLE errno is that of the step
 * that failed. */
static enum status
store(struct spool *sp, const struct spool_record *r, int *duplicate, const char **reason)
{
	struct names nm;
	size_t len = 0;
	char *buf = NULL;
	int made = 0, e;

	*reason = "spool: cannot open its tmp/, new/ or seen/";
	if (sp->tmp < 0 && open_dirs(sp))
		return ST_UNAVAILABLE;
	*reason = "spool: out of memory";
	if (make_names(r->id, &nm) || !(buf = spool_format(r, &len))) {
		free(buf);
		errno = ENOMEM;
		return ST_UNAVAILABLE;
	}
	*reason = "spool: cannot write the record";
	e = write_tmp(sp->tmp, nm.tmp, buf, len) ? errno : 0;
	free(buf);
	if (e) {
		errno = e;
		return ST_UNAVAILABLE;
	}

	/* the claim: link() fails with EEXIST for an id already accepted */
	if (claim(sp, &nm) != 0) {
		e = errno;
		unlinkat(sp->tmp, nm.tmp, 0);
		if (e != EEXIST) {
			*reason = "spool: cannot claim the event id in seen/";
			errno = e;
			return ST_UNAVAILABLE;
		}
		*duplicate = 1;
		*reason = "duplicate event id";
		return ST_OK;
	}
	/* one link per job, and the last job is a rename: the record leaves
	 * tmp/ the moment the last job exists, so a tmp/ record whose inode is
	 * claimed in seen/ always means an intake that did not finish
	 * (complete_claim). The job name is new: arrival time and event id. */
	*reason = "spool: cannot queue the job in new/";
	for (; made < r->jobs; made++) {
		if (job_name(&nm, made, nm.job, sizeof nm.job) ||
		    (made + 1 < r->jobs ? linkat(sp->tmp, nm.tmp, sp->new, nm.job, 0)
		                        : renameat(sp->tmp, nm.tmp, sp->new, nm.job)))
			goto fail;
	}
	if (fsync(sp->new) || fsync(sp->seen))
		goto fail;
	if (r->jobs == 0)
		unlinkat(sp->tmp, nm.tmp, 0);
	*reason = r->jobs ? "event stored" : "event stored, no job (each path empty or missing)";
	return ST_OK;
fail:
	e = errno;
	rollback(sp, &nm, made);
	errno = e;
	return ST_UNAVAILABLE;
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
spool_read(const char *path, struct spool_job *j)
{
	struct stat st;
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *buf;

	memset(j, 0, sizeof *j);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size > SPOOL_RECORD_MAX || !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while (n < st.st_size && (r = read(fd, buf + n, (size_t)(st.st_size - n))) > 0)
		n += r;
	close(fd);
	buf[n] = '\0';
	if (n != st.st_size || spool_parse(buf, (size_t)n, j)) {
		free(buf);
		memset(j, 0, sizeof *j);
		return -1;
	}
	j->buf = buf;
	return 0;
}

void
spool_job_free(struct spool_job *j)
{
	free(j->buf);
	memset(j, 0, sizeof *j);
}

void
spool_sweep_tmp(const char *spool, time_t now)
{
	char dir[PATH_MAX], path[PATH_MAX], seen[PATH_MAX];
	struct stat st, ss;
	struct dirent *e;
	int fd;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/tmp", spool);
	if ((fd = lock_intake(spool)) < 0)
		return;
	if ((d = opendir(dir))) {
		while ((e = readdir(d))) {
			if (strlen(e->d_name) < 66 || e->d_name[64] != '.' ||
			    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
			    lstat(path, &st) || !S_ISREG(st.st_mode) || !stale(e->d_name, &st, now))
				continue;
			snprintf(seen, sizeof seen, "%s/seen/%.64s", spool, e->d_name);
			/* claimed (seen/ is this record): finish it; else an orphan */
			if (lstat(seen, &ss) == 0 && ss.st_ino == st.st_ino)
				complete(spool, path, e->d_name);
			else
				unlink(path);
		}
		closedir(d);
	}
	close(fd);
}
