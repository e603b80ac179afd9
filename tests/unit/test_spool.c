/* test_spool.c: record format and durable intake in a temporary spool */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "crypto.h"
#include "spool.h"

static char root[] = "/tmp/larkhook-spool.XXXXXX";

static int
entries(const char *sub, char *first, size_t n)
{
	char path[256];
	struct dirent *e;
	int count = 0;
	DIR *d;

	snprintf(path, sizeof path, "%s/spool/%s", root, sub);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			if (!count && first)
				snprintf(first, n, "%s/%s", path, e->d_name);
			count++;
		}
	closedir(d);
	return count;
}

int
main(void)
{
	const char *json = "{\"schema\":\"2.0\",\"event\":{}}";
	struct spool_record r = {
		.id = "evt-1", .type = "a.b", .schema = "2.0", .time = "1700000001000",
		.app_id = "cli_1", .json = json, .json_len = strlen(json), .received = 1700000002, .jobs = 1,
	};
	char spool[128], job[512], seen[512];
	struct spool sp = SPOOL_INIT(NULL);
	const char *reason;
	struct stat js, ss;
	size_t len;
	char *text;
	int dup;

	text = spool_format(&r, &len);
	CHECK(text && len == strlen(text) && strncmp(text, SPOOL_MAGIC "\n", strlen(SPOOL_MAGIC) + 1) == 0,
	      "record starts with its magic line");
	CHECK(strstr(text, "\nid evt-1\ntype a.b\nschema 2.0\nreceived 1700000002\njobs 1\ntime 1700000001000\napp_id cli_1\n\n") != NULL,
	      "record header lines");
	CHECK(strcmp(strstr(text, "\n\n") + 2, json) == 0, "record ends with the JSON exactly");
	CHECK(!strstr(text, "tenant_key"), "absent fields are left out");
	free(text);

	if (!mkdtemp(root))
		return 1;
	snprintf(spool, sizeof spool, "%s/spool", root);
	sp.path = spool;
	CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "first delivery stored (%s)", reason);
	CHECK(entries("new", job, sizeof job) == 1, "one job in new/");
	CHECK(entries("seen", seen, sizeof seen) == 1, "one claim in seen/");
	CHECK(entries("tmp", NULL, 0) == 0, "tmp/ empty afterwards");
	CHECK(stat(job, &js) == 0 && stat(seen, &ss) == 0 && js.st_ino == ss.st_ino && js.st_nlink == 2,
	      "job and claim are links of one record");
	CHECK((js.st_mode & 0777) == 0600, "record is 0600");
	CHECK(strstr(seen, "/seen/") && strlen(strrchr(seen, '/') + 1) == 64, "claim named by a SHA-256 of the id");
	CHECK(strstr(job, "/new/") && strchr(strrchr(job, '/'), '.'), "job named arrival.hash.index");
	CHECK(stat(spool, &ss) == 0 && (ss.st_mode & 0777) == 0700, "spool created 0700");
	CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && dup, "second delivery is a duplicate");
	CHECK(entries("new", NULL, 0) == 1 && entries("tmp", NULL, 0) == 0, "duplicate adds nothing");

	/* a writer at work holds its record's lock (seen/ is that record): a
	 * duplicate waits SPOOL_WAIT_MS, then 503, leaving nothing; free, 200 */
	{
		int held = open(seen, O_RDONLY);

		CHECK(held >= 0 && flock(held, LOCK_EX) == 0, "the claim's record locked, as by its writer");
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_UNAVAILABLE && !dup &&
		      strstr(reason, "still at work"), "a duplicate meeting the writer at work: 503 (%s)", reason);
		CHECK(entries("new", NULL, 0) == 1 && entries("tmp", NULL, 0) == 0 && entries("seen", NULL, 0) == 1,
		      "... and it left nothing");
		close(held);
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && dup, "the lock free: a duplicate, 200");
	}

	r.id = "evt-2";
	r.each = "items";
	r.jobs = 3;
	CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "each event stored");
	CHECK(entries("new", NULL, 0) == 4, "three jobs for three items");
	r.id = "evt-3";
	r.jobs = 0;
	CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "each event without items acknowledged");
	CHECK(entries("new", NULL, 0) == 4 && entries("seen", NULL, 0) == 3, "no job, but the id is claimed");
	CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && dup, "its redelivery is a duplicate");

	/* its directories stay open between stores: removing them under it
	 * (a part, then the whole tree) must not lose the next event */
	{
		static const char *const parts[] = { "tmp", "seen", "new", "" };
		char cmd[256];

		for (int i = 0; i < 4; i++) {
			snprintf(cmd, sizeof cmd, "rm -rf %s/%s", spool, parts[i]);
			CHECK(system(cmd) == 0, "removed spool/%s while open", parts[i]);
			r.id = parts[i][0] ? parts[i] : "all";
			r.jobs = 1;
			CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup,
			      "spool/%s removed: next event stored (%s)", parts[i], reason);
			/* one job: born in new/, so a removed tmp/ is made
			 * again only by the next store that needs it */
			CHECK(entries("new", NULL, 0) >= 1 && entries("tmp", NULL, 0) <= 0,
			      "spool/%s removed: job queued, tmp/ empty or gone", parts[i]);
		}
		CHECK(entries("seen", NULL, 0) == 1 && entries("new", NULL, 0) == 1,
		      "after the whole tree went: one claim, one job");
	}

	/* group commit (doc/4-spool.md §4.4): held stores are claimed and
	 * queued but locked until spool_commit fsyncs new/ and seen/ once */
	{
		int nnew = entries("new", NULL, 0), nseen = entries("seen", NULL, 0), probe, bad;
		char path[512];

		sp.hold = 1;
		r.each = NULL;
		r.jobs = 1;
		r.id = "held-1";
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "held: first store (%s)", reason);
		r.id = "held-2";
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "held: second store");
		CHECK(sp.nheld == 2 && entries("new", NULL, 0) == nnew + 2 && entries("seen", NULL, 0) == nseen + 2,
		      "held: both claimed and queued, both held");
		/* not durable yet: its writer's lock (on the record, seen/IDHASH) is held */
		{
			struct bytes part = { "held-2", 6 };
			unsigned char md[32];
			char hex[65];

			crypto_sha256(&part, 1, md);
			crypto_hex(md, 32, hex);
			snprintf(path, sizeof path, "%s/seen/%s", spool, hex);
		}
		probe = open(path, O_RDONLY);
		CHECK(probe >= 0 && flock(probe, LOCK_EX | LOCK_NB) != 0, "held: its record is still locked");
		CHECK(spool_commit(&sp) == 0 && sp.nheld == 0 && sp.undone == 0, "held: committed");
		CHECK(flock(probe, LOCK_EX | LOCK_NB) == 0, "held: committed, its lock is free");
		close(probe);

		/* a store meeting its own held claim commits first: a duplicate at
		 * once (its wait for the writer's lock would be for its own) */
		r.id = "held-3";
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup && sp.nheld == 1, "held: third store");
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && dup && sp.nheld == 0,
		      "held: its duplicate in the same batch commits it and is a duplicate, 200 (%s)", reason);
		nnew = entries("new", NULL, 0);
		nseen = entries("seen", NULL, 0);

		/* a commit whose fsync fails undoes every held store: an O_PATH
		 * descriptor of seen/ serves unlinkat but refuses fsync */
		r.id = "held-4";
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "held: fourth store");
		r.id = "held-5";
		r.each = "items";
		r.jobs = 2;
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "held: fifth store, two jobs");
		CHECK(entries("new", NULL, 0) == nnew + 3, "held: three jobs queued");
		snprintf(path, sizeof path, "%s/seen", spool);
		bad = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		CHECK(bad >= 0, "an O_PATH descriptor of seen/");
		close(sp.seen);
		sp.seen = bad;
		CHECK(spool_commit(&sp) == -1 && sp.undone == 2 && sp.nheld == 0,
		      "held: a failed commit undoes both (undone %d)", sp.undone);
		CHECK(entries("new", NULL, 0) == nnew && entries("seen", NULL, 0) == nseen &&
		      entries("tmp", NULL, 0) == 0, "held: ... leaving no job, no claim, no record");
		sp.undone = 0;
		spool_close(&sp);	/* the next store opens the directories again */
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup && spool_commit(&sp) == 0,
		      "held: the redelivery of an undone event is stored anew, not a duplicate");
		CHECK(entries("new", NULL, 0) == nnew + 2 && entries("seen", NULL, 0) == nseen + 1,
		      "held: ... with its two jobs");
	}

	/* where a record is born (doc/4-spool.md §4.4), and when the runner
	 * may take a job straight from intake (§4.5) */
	{
		struct stat st;
		char path[600], sh[512];
		int fd, w;

		spool_close(&sp);
		snprintf(sh, sizeof sh, "rm -rf %s/new/* %s/seen/* %s/tmp/*", spool, spool, spool);
		CHECK(system(sh) == 0, "spool emptied");
		sp.hold = 0;
		r.id = "born-1";
		r.each = NULL;
		r.jobs = 1;
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup, "one job: stored");
		CHECK(entries("new", job, sizeof job) == 1 && entries("seen", seen, sizeof seen) == 1 &&
		      entries("tmp", NULL, 0) == 0, "one job: a job, a claim, nothing in tmp/");
		fd = open(job, O_RDONLY);
		CHECK(fd >= 0 && spool_claimed(spool, strrchr(seen, '/') + 1, fd, time(NULL)) == SPOOL_CLAIMED,
		      "its job, its claim standing: the runner may take it");
		close(fd);

		/* a writer that died after its create and write, before its claim */
		CHECK(unlink(seen) == 0, "the claim removed, as if never made");
		fd = open(job, O_RDONLY);
		CHECK(fd >= 0 && spool_claimed(spool, strrchr(seen, '/') + 1, fd, time(NULL)) == SPOOL_UNCLAIMED,
		      "written, unclaimed, unlocked: its writer died; set aside unrun");
		close(fd);
		/* the claim another delivery of the same id made meanwhile */
		snprintf(path, sizeof path, "%s/seen/%s", spool, strrchr(seen, '/') + 1);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0 && write(fd, "x", 1) == 1, "another record claims the id");
		close(fd);
		fd = open(job, O_RDONLY);
		CHECK(fd >= 0 && spool_claimed(spool, strrchr(seen, '/') + 1, fd, time(NULL)) == SPOOL_UNCLAIMED,
		      "the claim is another record's: this one is still unclaimed");
		/* empty: a live writer between its create and its flock, or dead */
		w = open(job, O_WRONLY);
		CHECK(w >= 0 && ftruncate(w, 0) == 0 && fstat(fd, &st) == 0 && st.st_size == 0, "the job emptied");
		close(w);
		CHECK(spool_claimed(spool, strrchr(seen, '/') + 1, fd, st.st_mtime + 60) == SPOOL_PENDING,
		      "empty and a minute old at most: passed over, may be a writer's at work");
		CHECK(spool_claimed(spool, strrchr(seen, '/') + 1, fd, st.st_mtime + 61) == SPOOL_UNCLAIMED,
		      "empty and older: a dead writer's");
		CHECK(unlink(job) == 0 && spool_claimed(spool, strrchr(seen, '/') + 1, fd, time(NULL)) == SPOOL_PENDING,
		      "removed meanwhile (its writer undid it): passed over");
		close(fd);

		/* two jobs: born in tmp/, its last job a rename out of it */
		r.id = "born-2";
		r.each = "items";
		r.jobs = 2;
		CHECK(spool_store(&sp, &r, &dup, &reason) == ST_OK && !dup && entries("new", NULL, 0) == 2 &&
		      entries("tmp", NULL, 0) == 0, "two jobs: stored, tmp/ empty again");
	}

	spool_close(&sp);
	{
		char cmd[160];

		snprintf(cmd, sizeof cmd, "rm -rf %s", root);
		CHECK(system(cmd) == 0, "clean up");
	}
	return t_done();
}
