/* test_queue.c: job names (queue_parse / queue_name), the record format
 * (spool_format / spool_parse / spool_read), and due jobs and moves in a
 * temporary spool (queue_next_due / queue_move / queue_each) */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "queue.h"
#include "spool.h"

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define H3 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char root[] = "/tmp/larkhook-queue.XXXXXX";

/* name parses and queue_name gives it back exactly. */
static int
round_trip(const char *name, struct job *j)
{
	char out[QUEUE_NAME_MAX];

	if (queue_parse(name, j))
		return 0;
	queue_name(j, out);
	return strcmp(out, name) == 0;
}

static void
names(void)
{
	struct job j;
	char out[QUEUE_NAME_MAX];

	CHECK(round_trip("1700000000000001." H1 ".0", &j), "a new job's name round-trips");
	CHECK(j.arrival == 1700000000000001LL && strcmp(j.hash, H1) == 0 && j.index == 0 && j.runs == 0 &&
	      j.budget == 0 && j.when == 0 && j.last[0] == '\0', "its fields");
	CHECK(strcmp(j.base, "1700000000000001." H1 ".0") == 0, "its base is the whole name");

	CHECK(round_trip("1700000000000002." H2 ".17:3,1,1700000100,exit1", &j), "a retried job's name round-trips");
	CHECK(j.arrival == 1700000000000002LL && strcmp(j.hash, H2) == 0 && j.index == 17 && j.runs == 3 &&
	      j.budget == 1 && j.when == 1700000100 && strcmp(j.last, "exit1") == 0, "its fields");
	CHECK(strcmp(j.base, "1700000000000002." H2 ".17") == 0, "its base stops at ':'");

	CHECK(round_trip("0000000000000000." H3 ".123456789:5,5,0,timeout", &j) && j.index == 123456789 &&
	      j.arrival == 0 && j.runs == 5 && j.budget == 5 && strcmp(j.last, "timeout") == 0,
	      "nine-digit index, zero arrival, budget equal to runs");
	CHECK(round_trip("1700000000000003." H1 ".2:0,0,1700000500,", &j) && j.when == 1700000500 && !j.last[0],
	      "a not-before time without a last result");
	CHECK(round_trip("1700000000000003." H1 ".2:1,0,1700000500,sig9", &j) && strcmp(j.last, "sig9") == 0,
	      "LAST sig9");
	CHECK(round_trip("1700000000000003." H1 ".2:1,0,1700000500,exit100", &j), "LAST exit100");
	CHECK(round_trip("1700000000000003." H1 ".2:9,0,1700000500,badrecord", &j), "LAST badrecord");

	/* formatting from a struct */
	memset(&j, 0, sizeof j);
	snprintf(j.base, sizeof j.base, "1700000000000009." H2 ".4");
	queue_name(&j, out);
	CHECK(strcmp(out, "1700000000000009." H2 ".4") == 0, "no state: the base alone (%s)", out);
	j.runs = 2;
	j.budget = 0;
	j.when = 1700001234;
	snprintf(j.last, sizeof j.last, "lost");
	queue_name(&j, out);
	CHECK(strcmp(out, "1700000000000009." H2 ".4:2,0,1700001234,lost") == 0, "with state (%s)", out);

	/* what is refused */
	static const char *const bad[] = {
		"",
		"1700000000000001",
		"1700000000000001.abc.0",
		"1700000000000001." H1,
		"1700000000000001." H1 ".",
		"170000000000001." H1 ".0",
		"17000000000000011." H1 ".0",
		"1700000000000001." H1 "0.0",
		"1700000000000001." "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde" ".0",
		"1700000000000001." "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg" ".0",
		"1700000000000001." "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef" ".0",
		"1700000000000001_" H1 ".0",
		"1700000000000001." H1 "_0",
		"1700000000000001" H1 ".0",
		"1700000000000001." H1 "0",
		"170000000000000x." H1 ".0",
		"1700000000000001." H1 ".x",
		"1700000000000001." H1 ".-1",
		"1700000000000001." H1 ".1234567890",
		"1700000000000001." H1 ".0.tmp",
		"-700000000000001." H1 ".0",
		"1700000000000001." H1 ".0:",
		"1700000000000001." H1 ".0:x",
		"1700000000000001." H1 ".0:1",
		"1700000000000001." H1 ".0:1,0",
		"1700000000000001." H1 ".0:1,0,",
		"1700000000000001." H1 ".0:1;0;5;exit1",
		"1700000000000001." H1 ".0:1,2,5,exit1",
		"1700000000000001." H1 ".0:0,1,0,",
		"1700000000000001." H1 ".0:-1,0,5,exit1",
		"1700000000000001." H1 ".0:1,-1,5,exit1",
		"1700000000000001." H1 ".0:-2,-3,5,exit1",
		"1700000000000001." H1 ".0:1,0,5,exit1,and,a,state,far,too,long,to,be,one,of,ours,xxxxxxxxxxxxx",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(queue_parse(bad[i], &j) == -1, "refused: \"%s\"", bad[i]);

	/* a state queue_parse accepts must be the one queue_name writes back:
	 * the runner claims a job by the name queue_name gives it */
	static const char *const odd[] = {
		"1700000000000001." H1 ".0:1,0,5,exit1!",
		"1700000000000001." H1 ".0:1,0,5x",
		"1700000000000001." H1 ".0:+1,0,5,exit1",
		"1700000000000001." H1 ".0: 1,0,5,exit1",
		"1700000000000001." H1 ".0:01,0,5,exit1",
		"1700000000000001." H1 ".0:1,0,5,exit1aaaaaaaaaaaaaaaaa",
		"1700000000000001." H1 ".0:0,0,0,",
	};
	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
		int parsed = queue_parse(odd[i], &j) == 0;

		queue_name(&j, out);
		CHECK(!parsed || strcmp(out, odd[i]) == 0, "non-canonical \"%s\" is refused, or written back as is (%s)",
		      odd[i], parsed ? out : "refused");
	}
}

static int
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void
records(void)
{
	static const char json[] = "\n{\n  \"schema\": \"2.0\",\n  \"event\": {\"a\": \"x\\ny\"}\r\n}\n\n";
	struct spool_record r = {
		.id = "f7984f25108f8137722bb63cee927e66", .type = "compensation.archive.changed_v1",
		.schema = "2.0", .time = "1700000001000", .app_id = "cli_a1b2c3d4e5f60001",
		.tenant_key = "2ca1d211f64f6438", .each = "items.list", .jobs = 7,
		.json = json, .json_len = sizeof json - 1, .received = 1700000002,
	};
	struct spool_job j;
	size_t len;
	char *text;

	text = spool_format(&r, &len);
	CHECK(text && len == strlen(text), "format: every field");
	CHECK(text && spool_parse(text, len, &j) == 0, "parse: every field");
	CHECK(same(j.id, r.id) && same(j.type, r.type) && same(j.schema, r.schema), "id, type, schema back");
	CHECK(same(j.time, r.time) && same(j.app_id, r.app_id) && same(j.tenant_key, r.tenant_key) &&
	      same(j.each, r.each), "time, app_id, tenant_key, each back");
	CHECK(j.jobs == 7 && j.received == 1700000002, "jobs and received back");
	CHECK(j.json_len == r.json_len && memcmp(j.json, json, r.json_len) == 0,
	      "JSON with newlines, CR and a leading and trailing blank line back byte for byte");
	CHECK(j.buf == NULL, "parse leaves buf NULL");
	free(text);

	r.time = r.app_id = r.tenant_key = r.each = NULL;
	r.jobs = 1;
	text = spool_format(&r, &len);
	CHECK(text && !strstr(text, "\ntime ") && !strstr(text, "\napp_id ") && !strstr(text, "\ntenant_key ") &&
	      !strstr(text, "\neach "), "format: absent fields are not written");
	CHECK(text && spool_parse(text, len, &j) == 0 && !j.time && !j.app_id && !j.tenant_key && !j.each &&
	      same(j.id, r.id) && j.jobs == 1 && j.json_len == r.json_len && memcmp(j.json, json, r.json_len) == 0,
	      "parse: absent fields are NULL, the rest back");
	free(text);

	r.json = "";
	r.json_len = 0;
	r.jobs = 0;
	text = spool_format(&r, &len);
	CHECK(text && spool_parse(text, len, &j) == 0 && j.json_len == 0 && j.jobs == 0,
	      "an empty JSON and zero jobs round-trip");
	free(text);

	/* spool_read from a file */
	{
		char path[256];
		int fd;

		r.json = json;
		r.json_len = sizeof json - 1;
		r.each = "items";
		text = spool_format(&r, &len);
		snprintf(path, sizeof path, "%s/record", root);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0 && text && write(fd, text, len) == (ssize_t)len && close(fd) == 0, "record written");
		free(text);
		CHECK(spool_read(path, &j) == 0 && j.buf && same(j.id, r.id) && same(j.each, "items") &&
		      j.json_len == r.json_len && memcmp(j.json, json, r.json_len) == 0, "spool_read gives it back");
		spool_job_free(&j);
		CHECK(j.buf == NULL && j.id == NULL, "spool_job_free empties it");
		snprintf(path, sizeof path, "%s/absent", root);
		CHECK(spool_read(path, &j) == -1, "spool_read of a missing file: -1");
	}

	/* what is refused */
	static const char *const bad[] = {
		"",
		"larkhook-record 1",
		"larkhook-record 1\n",
		"larkhook-record 2\nid a\ntype t\nschema 2.0\n\n{}",
		"larkhook-record 10\nid a\ntype t\nschema 2.0\n\n{}",
		"Larkhook-record 1\nid a\ntype t\nschema 2.0\n\n{}",
		"xlarkhook-record 1\nid a\ntype t\nschema 2.0\n\n{}",
		"\nlarkhook-record 1\nid a\ntype t\nschema 2.0\n\n{}",
		"larkhook-record 1\ntype t\nschema 2.0\n\n{}",
		"larkhook-record 1\nid a\nschema 2.0\n\n{}",
		"larkhook-record 1\nid a\ntype t\n\n{}",
		"larkhook-record 1\nid a\ntype t\nschema 2.0\n",
		"larkhook-record 1\nid a\ntype t\nschema 2.0\n{}",
		"larkhook-record 1\nid a\ntype t\nschema 2.0",
		"larkhook-record 1\nid a\ntype t\nschema 2.0\nnospace\n\n{}",
		"larkhook-record 1\nid a\ntype t\nschema 2.0\njobs -1\n\n{}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *copy = strdup(bad[i]);

		CHECK(copy && spool_parse(copy, strlen(copy), &j) == -1, "record %zu refused", i);
		free(copy);
	}
	{
		char good[] = "larkhook-record 1\nid a b\ntype t\nschema 2.0\n\n{\"x\":1}";

		CHECK(spool_parse(good, strlen(good), &j) == 0 && same(j.id, "a b") && j.json_len == 7 &&
		      memcmp(j.json, "{\"x\":1}", 7) == 0 && j.jobs == 0 && j.received == 0,
		      "a minimal record parses (a value may hold spaces)");
	}
}

/* queue_each collector */
struct seen {
	int n;
	char names[8][QUEUE_NAME_MAX];
};

static void
collect(void *ctx, const char *name, const struct job *j)
{
	struct seen *s = ctx;
	char out[QUEUE_NAME_MAX];

	queue_name(j, out);
	if (s->n < 8)
		snprintf(s->names[s->n], QUEUE_NAME_MAX, "%s", strcmp(out, name) == 0 ? name : "MISMATCH");
	s->n++;
}

static int
has(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->n && i < 8; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

static int
touch(const char *spool, const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s/%s", spool, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	return close(fd);
}

static int
exists(const char *spool, const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s/%s", spool, dir, name);
	return access(path, F_OK) == 0;
}

static void
directory(void)
{
	const time_t now = 1700000050;
	const char *a = "1700000000000003." H1 ".0";
	const char *b = "1700000000000001." H2 ".0:1,0,1700000150,exit1";
	const char *c = "1700000000000002." H3 ".0:1,0,1700000045,exit1";
	char spool[128], out[QUEUE_NAME_MAX];
	struct seen s = { 0 };
	struct job j, moved;

	snprintf(spool, sizeof spool, "%s/spool", root);
	CHECK(spool_prepare(spool) == 0, "spool prepared");
	CHECK(queue_next_due(spool, now, NULL, &j) == 0, "empty new/: nothing due");
	CHECK(touch(spool, "new", a) == 0 && touch(spool, "new", b) == 0 && touch(spool, "new", c) == 0 &&
	      touch(spool, "new", "notajob") == 0 && touch(spool, "new", ".hidden") == 0 &&
	      touch(spool, "new", "1700000000000000." H1 ".0:x") == 0, "jobs and junk in new/");

	queue_each(spool, "new", collect, &s);
	CHECK(s.n == 3 && has(&s, a) && has(&s, b) && has(&s, c), "queue_each sees the three jobs, not the junk (%d)",
	      s.n);
	memset(&s, 0, sizeof s);
	queue_each(spool, "nosuchdir", collect, &s);
	CHECK(s.n == 0, "queue_each of a missing directory calls nothing");

	CHECK(queue_next_due(spool, now, NULL, &j) == 1 && j.arrival == 1700000000000002LL && strcmp(j.hash, H3) == 0,
	      "the earliest due by arrival; an earlier one not yet due is skipped (%lld)", j.arrival);
	queue_name(&j, out);
	CHECK(strcmp(out, c) == 0, "its name as on disk");
	CHECK(queue_next_due(spool, 1700000150, NULL, &j) == 1 && j.arrival == 1700000000000001LL,
	      "at its time, the earliest arrival is due");
	CHECK(queue_next_due(spool, 1700000149, NULL, &j) == 1 && j.arrival == 1700000000000002LL,
	      "one second before, it is not");

	/* claim c: new/ → cur/, then settle it with a new state */
	CHECK(queue_next_due(spool, now, NULL, &j) == 1, "pick c again");
	queue_name(&j, out);
	CHECK(queue_move(spool, "new", out, "cur", &j, 0) == 0 && exists(spool, "cur", c) && !exists(spool, "new", c),
	      "queue_move new/ → cur/ keeps the name");
	moved = j;
	moved.runs = 2;
	moved.when = now + 60;
	snprintf(moved.last, sizeof moved.last, "sig9");
	queue_name(&moved, out);
	CHECK(strcmp(out, "1700000000000002." H3 ".0:2,0,1700000110,sig9") == 0, "the new state's name (%s)", out);
	CHECK(queue_move(spool, "cur", c, "new", &moved, 1) == 0 && exists(spool, "new", out) &&
	      !exists(spool, "cur", c), "queue_move cur/ → new/ renames with the new state (synced)");
	CHECK(queue_next_due(spool, now, NULL, &j) == 1 && j.arrival == 1700000000000003LL && strcmp(j.base, a) == 0,
	      "now a (no state) is the one due");
	CHECK(queue_next_due(spool, now + 60, NULL, &j) == 1 && j.arrival == 1700000000000002LL && j.runs == 2 &&
	      strcmp(j.last, "sig9") == 0, "c is due again at its new time, with its state");

	moved.runs = 3;
	moved.budget = 0;
	moved.when = now;
	snprintf(moved.last, sizeof moved.last, "exit0");
	CHECK(queue_move(spool, "new", out, "done", &moved, 1) == 0, "queue_move new/ → done/");
	queue_name(&moved, out);
	CHECK(exists(spool, "done", out) && !exists(spool, "new", "1700000000000002." H3 ".0:2,0,1700000110,sig9"),
	      "it is in done/ under its final name");
	CHECK(queue_move(spool, "new", "1700000000000002." H3 ".0:2,0,1700000110,sig9", "done", &moved, 0) == -1,
	      "moving a job that is gone fails");
	CHECK(queue_move(spool, "new", a, "nosuchdir", &j, 0) == -1 && exists(spool, "new", a),
	      "moving into a missing directory fails and leaves the job");

	memset(&s, 0, sizeof s);
	queue_each(spool, "new", collect, &s);
	CHECK(s.n == 2 && has(&s, a) && has(&s, b), "new/ holds a and b (%d)", s.n);

	/* every job queue_next_due returns can be claimed under queue_name's
	 * name: one it cannot would be picked again and again */
	CHECK(touch(spool, "new", "1600000000000000." H1 ".0:1,0,5,exit1!") == 0, "an odd name in new/");
	if (queue_next_due(spool, now, NULL, &j) == 1) {
		queue_name(&j, out);
		CHECK(exists(spool, "new", out), "the job picked first is claimable under queue_name's name (%s)", out);
	} else
		CHECK(0, "queue_next_due finds the due jobs");
}

int
main(void)
{
	if (!mkdtemp(root))
		return 1;
	names();
	records();
	directory();
	{
		char cmd[160];

		snprintf(cmd, sizeof cmd, "rm -rf %s", root);
		CHECK(system(cmd) == 0, "clean up");
	}
	return t_done();
}
