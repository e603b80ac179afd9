/* test_spool.c: record format and durable intake in a temporary spool */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
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
			CHECK(entries("new", NULL, 0) >= 1 && entries("tmp", NULL, 0) == 0,
			      "spool/%s removed: job queued, tmp/ empty", parts[i]);
		}
		CHECK(entries("seen", NULL, 0) == 1 && entries("new", NULL, 0) == 1,
		      "after the whole tree went: one claim, one job");
	}

	spool_close(&sp);
	{
		char cmd[160];

		snprintf(cmd, sizeof cmd, "rm -rf %s", root);
		CHECK(system(cmd) == 0, "clean up");
	}
	return t_done();
}
