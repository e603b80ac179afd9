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

static const char *const dirs[] = { "tmp", "new", "cur", "done", "failed", "seen" };

/* "key value\n" for a field that is present. */
static size_t
field(char *out, size_t cap, const char *key, const char *value)
{
	int n = value ? snprintf(out, cap, "%s %s\n", key, value) : 0;

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
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
	n = (size_t)snprintf(buf, cap, "%s\n", SPOOL_MAGIC);
	n += field(buf + n, cap - n, "id", r->id);
	n += field(buf + n, cap - n, "type", r->type);
	n += field(buf + n, cap - n, "schema", r->schema);
	n += field(buf + n, cap - n, "received", received);
	n += field(buf + n, cap - n, "jobs", jobs);
	n += field(buf + n, cap - n, "time", r->time);
	n += field(buf + n, cap - n, "app_id", r->app_id);
	n += field(buf + n, cap - n, "tenant_key", r->tenant_key);
	n += field(buf + n, cap - n, "each", r->each);
	buf[n++] = '\n';
	memcpy(buf + n, r->json, r->json_len);
	n += r->json_len;
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Create the tree on first use, 0700; an existing tree is left as it is. */
static int
prepare(const char *spool)
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
	return fsync_dir(spool);
}

/* Write the record to tmp/ and make it durable. Any error removes it: after
 * a failed fsync the page cache may hold nothing, so it is never retried. */
static int
write_tmp(const char *tmp, const char *buf, size_t n)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -1;
	if (io_write_all(fd, buf, n) || fsync(fd)) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

struct names {
	char tmp[PATH_MAX], seen[PATH_MAX], job[PATH_MAX];
	char new_dir[PATH_MAX], seen_dir[PATH_MAX];
	char hash[65], arrival[32];
};

static int
make_names(const char *spool, const char *id, struct names *nm)
{
	struct bytes part = { id, strlen(id) };
	unsigned char md[32], rnd[8];
	char rhex[17];
	struct timeval tv;

	if (crypto_sha256(&part, 1, md) || crypto_random(rnd, sizeof rnd))
		return -1;
	crypto_hex(md, 32, nm->hash);
	crypto_hex(rnd, sizeof rnd, rhex);
	gettimeofday(&tv, NULL);
	snprintf(nm->arrival, sizeof nm->arrival, "%010lld%06ld", (long long)tv.tv_sec, (long)tv.tv_usec);
	if (strlen(spool) > PATH_MAX - 200)
		return -1;	/* every name below then fits */
	snprintf(nm->tmp, sizeof nm->tmp, "%s/tmp/%s.%ld.%s", spool, nm->hash, (long)getpid(), rhex);
	snprintf(nm->seen, sizeof nm->seen, "%s/seen/%s", spool, nm->hash);
	snprintf(nm->new_dir, sizeof nm->new_dir, "%s/new", spool);
	snprintf(nm->seen_dir, sizeof nm->seen_dir, "%s/seen", spool);
	return 0;
}

static int
job_name(const struct names *nm, int index, char *out, size_t n)
{
	int len = snprintf(out, n, "%s/%s.%s.%d", nm->new_dir, nm->arrival, nm->hash, index);

	return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Undo a claim whose jobs could not all be made durable. */
static void
rollback(struct names *nm, int made)
{
	for (int i = 0; i < made; i++) {
		if (job_name(nm, i, nm->job, sizeof nm->job) == 0)
			unlink(nm->job);
	}
	unlink(nm->seen);
	unlink(nm->tmp);
	fsync_dir(nm->new_dir);
	fsync_dir(nm->seen_dir);
}

/* Remove new/ jobs of one event (names ARRIVAL.HASH.INDEX). */
static void
remove_jobs(const struct names *nm)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(nm->new_dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *dot = strchr(e->d_name, '.');

		if (dot && strncmp(dot + 1, nm->hash, 64) == 0 && dot[65] == '.' &&
		    snprintf(path, sizeof path, "%s/%s", nm->new_dir, e->d_name) < (int)sizeof path)
			unlink(path);
	}
	closedir(d);
}

/* A writer that died or hung after claiming: its process is gone, or its
 * record is far older than an intake takes (milliseconds). */
static int
stale(const char *name, const struct stat *st)
{
	long pid = strtol(name + 65, NULL, 10);

	if (time(NULL) - st->st_mtime > 60)
		return 1;
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* seen/HASH exists. If it is the claim of a writer that died before its
 * answer (its tmp/ record, the same inode, is still there), no 200 was sent
 * and Feishu redelivers: undo that claim so this delivery can take it.
 * 1 when a claim was undone. */
static int
recover_claim(const char *spool, struct names *nm)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat seen, st;
	struct dirent *e;
	int undone = 0;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/tmp", spool);
	if (lstat(nm->seen, &seen) || !(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, nm->hash, 64) != 0 || e->d_name[64] != '.' ||
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
		    lstat(path, &st) || st.st_ino != seen.st_ino || !stale(e->d_name, &st))
			continue;
		remove_jobs(nm);
		unlink(nm->seen);
		unlink(path);
		undone = 1;
	}
	closedir(d);
	if (undone && (fsync_dir(nm->new_dir) || fsync_dir(nm->seen_dir)))
		return 0;
	return undone;
}

/* link() the record into seen/, taking over the claim of a dead writer.
 * Take-overs are serialised by a lock, so two redeliveries cannot both
 * undo and claim. 0 on success; -1 with errno (EEXIST: accepted before). */
static int
claim(const char *spool, struct names *nm)
{
	char lock[PATH_MAX];
	int fd, rc = -1;

	if (link(nm->tmp, nm->seen) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	snprintf(lock, sizeof lock, "%s/intake.lock", spool);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return -1;
	if (flock(fd, LOCK_EX) == 0 && recover_claim(spool, nm))
		rc = link(nm->tmp, nm->seen);
	else
		errno = EEXIST;
	close(fd);
	return rc;
}

enum status
spool_store(const char *spool, const struct spool_record *r, int *duplicate,
            const char **reason)
{
	struct names nm;
	size_t len = 0;
	char *buf = NULL;
	int made = 0;

	*duplicate = 0;
	*reason = "spool: cannot create the spool directories";
	if (prepare(spool))
		return ST_UNAVAILABLE;
	*reason = "spool: out of memory";
	if (make_names(spool, r->id, &nm) || !(buf = spool_format(r, &len)))
		return ST_UNAVAILABLE;
	*reason = "spool: cannot write the record";
	if (write_tmp(nm.tmp, buf, len)) {
		free(buf);
		return ST_UNAVAILABLE;
	}
	free(buf);

	/* the claim: link() fails with EEXIST for an id already accepted */
	if (claim(spool, &nm) != 0) {
		int e = errno;

		unlink(nm.tmp);
		if (e != EEXIST) {
			*reason = "spool: cannot claim the event id in seen/";
			return ST_UNAVAILABLE;
		}
		*duplicate = 1;
		*reason = "duplicate event id";
		return ST_OK;
	}
	*reason = "spool: cannot queue the job in new/";
	for (; made < r->jobs; made++) {
		if (job_name(&nm, made, nm.job, sizeof nm.job) || link(nm.tmp, nm.job))
			goto fail;
	}
	if (fsync_dir(nm.new_dir) || fsync_dir(nm.seen_dir))
		goto fail;
	unlink(nm.tmp);
	*reason = r->jobs ? "event stored" : "event stored, no job (each path empty or missing)";
	return ST_OK;
fail:
	rollback(&nm, made);
	return ST_UNAVAILABLE;
}
