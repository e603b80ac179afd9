/* test_config.c: larkhook.conf (doc/2-config.md): cfg_parse on text in
 * memory, cfg_load on files in a private temporary directory, cfg_route */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "config.h"

#define FILE_NAME "/etc/x/larkhook.conf"
#define TOKEN "verification_token = t\n"

static char err[1024];

/* cfg_parse of a C string under FILE_NAME; 0 on success. */
static int
parse(const char *text, struct config *c)
{
	err[0] = '\0';
	return cfg_parse(text, strlen(text), FILE_NAME, c, err, sizeof err);
}

/* text is rejected with "FILE_NAME:line: " and, when given, needle in the
 * message. */
static int
rejects(const char *text, int line, const char *needle)
{
	struct config c;
	char prefix[64];
	int rc;

	rc = parse(text, &c);
	cfg_free(&c);
	snprintf(prefix, sizeof prefix, "%s:%d: ", FILE_NAME, line);
	return rc == -1 && strncmp(err, prefix, strlen(prefix)) == 0 &&
	       (!needle || strstr(err + strlen(prefix), needle));
}

/* text parses; the config is freed. */
static int
accepts(const char *text)
{
	struct config c;
	int rc = parse(text, &c);

	cfg_free(&c);
	return rc == 0;
}

#define REJECTS(desc, text, line, needle) \
	CHECK(rejects(text, line, needle), "rejects %s at line %d: %s", desc, line, err)
#define ACCEPTS(desc, text) CHECK(accepts(text), "accepts %s%s%s", desc, *err ? ": " : "", err)

static int
streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static const char sample[] =
	"# larkhook.conf\n"
	"verification_token = <from the console>        # required\n"
	"encrypt_key        = <from the console>        # recommended; enables AES and signatures\n"
	"# encrypt_key_file / verification_token_file = path: read the secret from a file instead\n"
	"spool        = /home/me/larkhook-spool         # default: larkhook-spool beside this file\n"
	"max_body     = 1048576                         # bytes\n"
	"max_age      = 1d                              # replay window for signed requests, 8h..retain; 0 = off\n"
	"read_timeout = 10                              # seconds\n"
	"retain       = 72h                             # how long done jobs and seen ids are kept (>= 8h)\n"
	"concurrency  = 1                               # hooks running at once\n"
	"backoff      = 10s 1m 5m 30m 2h                # delays before retries 1, 2, 3, … (last repeats)\n"
	"path         = /usr/local/bin:/usr/bin:/bin    # PATH given to hooks\n"
	"env          = HR_API_BASE=https://example.internal   # repeatable: extra hook variables\n"
	"env          = HR_REGION=cn-north#1                   # a second env line\n"
	"log          = /home/me/larkhook.log           # default: standard error (the server's error log)\n"
	"allow_root   = no\n"
	"\n"
	"[on compensation.archive.changed_v1]\n"		/* line 18 */
	"run      = /home/me/hooks/salary.sh            # a /bin/sh command line, from this trusted file\n"
	"timeout  = 60                                  # seconds, then the process group is killed\n"
	"attempts = 5                                   # then the job is moved to failed/\n"
	"\n"
	"[on performance.review_data.changed_v2]\n"		/* line 23 */
	"run  = /home/me/hooks/review.sh\n"
	"each = items                                   # one job per element of event.items\n"
	"\n"
	"[on corehr.*]                                  # prefix match\n"	/* line 27 */
	"run = /home/me/hooks/corehr.sh\n"
	"\n"
	"[on card.action.trigger]\n"				/* line 30 */
	"run  = /home/me/hooks/card.sh\n"
	"mode = reply                                   # stdout is the HTTP response\n"
	"\n"
	"[on *]                                         # anything else\n"	/* line 34 */
	"run = /usr/bin/logger -t larkhook \"$LARK_TYPE $LARK_ID\"\n";

static void
check_sample(const struct config *c, const char *how)
{
	static const unsigned backoff[] = { 10, 60, 300, 1800, 7200 };
	const struct hook *h = c->hooks;

	CHECK(streq(c->file, FILE_NAME) && streq(c->dir, "/etc/x"), "%s: file and dir", how);
	CHECK(streq(c->token, "<from the console>") && !c->token_file, "%s: verification_token", how);
	CHECK(streq(c->encrypt_key, "<from the console>") && !c->encrypt_key_file, "%s: encrypt_key", how);
	CHECK(streq(c->spool, "/home/me/larkhook-spool"), "%s: spool", how);
	CHECK(c->max_body == 1048576, "%s: max_body", how);
	CHECK(c->max_age == 86400, "%s: max_age", how);
	CHECK(c->read_timeout == 10, "%s: read_timeout", how);
	CHECK(c->retain == 259200, "%s: retain 72h is 259200 s", how);
	CHECK(c->concurrency == 1, "%s: concurrency", how);
	CHECK(c->nbackoff == 5 && memcmp(c->backoff, backoff, sizeof backoff) == 0,
	      "%s: backoff 10s 1m 5m 30m 2h is 10 60 300 1800 7200", how);
	CHECK(streq(c->path, "/usr/local/bin:/usr/bin:/bin"), "%s: path", how);
	CHECK(c->nenv == 2 && streq(c->env[0], "HR_API_BASE=https://example.internal") &&
	      streq(c->env[1], "HR_REGION=cn-north#1"), "%s: env repeated, in order, a#b kept", how);
	CHECK(streq(c->log, "/home/me/larkhook.log"), "%s: log", how);
	CHECK(c->allow_root == 0, "%s: allow_root = no", how);
	CHECK(c->nhooks == 5, "%s: five [on] sections (%d)", how, c->nhooks);
	if (c->nhooks != 5)
		return;
	CHECK(streq(h[0].pattern, "compensation.archive.changed_v1") && h[0].match == MATCH_EXACT &&
	      streq(h[0].run, "/home/me/hooks/salary.sh") && h[0].timeout == 60 && h[0].attempts == 5 &&
	      !h[0].each && !h[0].reply && h[0].line == 18, "%s: [on compensation.archive.changed_v1]", how);
	CHECK(streq(h[1].pattern, "performance.review_data.changed_v2") && h[1].match == MATCH_EXACT &&
	      streq(h[1].run, "/home/me/hooks/review.sh") && streq(h[1].each, "items") &&
	      h[1].timeout == 60 && h[1].attempts == 5 && !h[1].reply && h[1].line == 23,
	      "%s: [on performance.review_data.changed_v2] with each = items", how);
	CHECK(streq(h[2].pattern, "corehr.*") && h[2].match == MATCH_PREFIX &&
	      streq(h[2].run, "/home/me/hooks/corehr.sh") && h[2].line == 27, "%s: [on corehr.*]", how);
	CHECK(streq(h[3].pattern, "card.action.trigger") && h[3].match == MATCH_EXACT && h[3].reply == 1 &&
	      h[3].timeout == 2 && h[3].attempts == 5 && !h[3].each && h[3].line == 30,
	      "%s: [on card.action.trigger] mode = reply, timeout 2", how);
	CHECK(streq(h[4].pattern, "*") && h[4].match == MATCH_ANY &&
	      streq(h[4].run, "/usr/bin/logger -t larkhook \"$LARK_TYPE $LARK_ID\"") && h[4].line == 34,
	      "%s: [on *] with its command line verbatim", how);
}

static void
test_sample(void)
{
	struct config c;
	char *crlf = malloc(2 * sizeof sample);
	size_t n = 0;

	CHECK(parse(sample, &c) == 0, "the sample config of doc/2-config.md parses%s%s", *err ? ": " : "", err);
	check_sample(&c, "sample");
	cfg_free(&c);

	for (const char *s = sample; *s; s++) {
		if (*s == '\n')
			crlf[n++] = '\r';
		crlf[n++] = *s;
	}
	crlf[n] = '\0';
	CHECK(parse(crlf, &c) == 0, "the sample config with CRLF lines parses%s%s", *err ? ": " : "", err);
	check_sample(&c, "sample with CRLF");
	cfg_free(&c);
	free(crlf);
}

static void
test_defaults(void)
{
	static const unsigned backoff[] = { 10, 60, 300, 1800, 7200 };
	struct config c;

	CHECK(parse("verification_token = t", &c) == 0, "a config of only verification_token parses %s", err);
	CHECK(streq(c.token, "t"), "a last line without a newline is read");
	CHECK(c.max_body == 1048576, "default max_body 1048576");
	CHECK(c.max_age == 86400, "default max_age 1d");
	CHECK(c.reply_max_age == 300, "default reply_max_age 5m");
	CHECK(c.read_timeout == 10, "default read_timeout 10");
	CHECK(c.retain == 72 * 3600, "default retain 72h");
	CHECK(c.concurrency == 1, "default concurrency 1");
	CHECK(c.nbackoff == 5 && memcmp(c.backoff, backoff, sizeof backoff) == 0,
	      "default backoff 10 60 300 1800 7200");
	CHECK(streq(c.path, "/usr/local/bin:/usr/bin:/bin"), "default path");
	CHECK(streq(c.spool, "/etc/x/larkhook-spool"), "default spool beside the config: %s", c.spool);
	CHECK(c.log == NULL, "default log: standard error (NULL)");
	CHECK(c.encrypt_key == NULL && c.encrypt_key_file == NULL, "default: no encrypt_key");
	CHECK(c.allow_root == 0, "default allow_root no");
	CHECK(c.nenv == 0 && c.nhooks == 0, "default: no env, no hooks");
	cfg_free(&c);

	CHECK(parse(TOKEN "[on a]\nrun = r\n[on b]\nrun = r\nmode = reply\n"
	            "[on c]\nrun = r\nmode = reply\ntimeout = 5\n[on d]\nrun = r\nmode = queue\n", &c) == 0 &&
	      c.nhooks == 4, "hooks for the defaults parse %s", err);
	if (c.nhooks == 4) {
		CHECK(c.hooks[0].timeout == 60 && c.hooks[0].attempts == 5 && !c.hooks[0].reply &&
		      !c.hooks[0].each, "default hook timeout 60, attempts 5, queue mode");
		CHECK(c.hooks[1].timeout == 2 && c.hooks[1].attempts == 5 && c.hooks[1].reply,
		      "default reply timeout 2");
		CHECK(c.hooks[2].timeout == 5, "a reply hook keeps an explicit timeout");
		CHECK(!c.hooks[3].reply && c.hooks[3].timeout == 60, "mode = queue");
	}
	cfg_free(&c);

	CHECK(parse("verification_token = t\nmax_body = 2M\nmax_age = 8h\nread_timeout = 1m\n"
	            "retain = 8h\nconcurrency = 64\nbackoff = 30\npath = /bin\nallow_root = yes\n"
	            "[on a]\nrun = r\ntimeout = 1d\nattempts = 100\neach = data.items\n", &c) == 0,
	      "a config of non-default values parses %s", err);
	CHECK(c.max_body == 2 * 1024 * 1024, "max_body = 2M is 2097152");
	CHECK(c.max_age == 8 * 3600, "max_age = 8h (the minimum, and retain) is 28800");
	CHECK(c.read_timeout == 60, "read_timeout = 1m is 60");
	CHECK(c.retain == 8 * 3600, "retain = 8h (the minimum) is accepted");
	CHECK(c.concurrency == 64, "concurrency = 64");
	CHECK(c.nbackoff == 1 && c.backoff[0] == 30, "backoff = 30 is one delay of 30 s");
	CHECK(streq(c.path, "/bin"), "path = /bin");
	CHECK(c.allow_root == 1, "allow_root = yes");
	CHECK(c.nhooks == 1 && c.hooks[0].timeout == 86400 && c.hooks[0].attempts == 100 &&
	      streq(c.hooks[0].each, "data.items"), "hook timeout = 1d, attempts = 100, each = data.items");
	cfg_free(&c);

	ACCEPTS("max_body = 64K", TOKEN "max_body = 64K\n");
	ACCEPTS("read_timeout = 300", TOKEN "read_timeout = 300\n");
	ACCEPTS("read_timeout = 5m (300)", TOKEN "read_timeout = 5m\n");
	ACCEPTS("retain = 28800", TOKEN "retain = 28800\n");
	CHECK(parse(TOKEN "retain = 12h\n", &c) == 0 && c.max_age == 12 * 3600,
	      "max_age unset follows a retain under 1d (%u)", c.max_age);
	cfg_free(&c);
	ACCEPTS("max_age = 0 (off)", TOKEN "max_age = 0\n");
	ACCEPTS("max_age = retain", TOKEN "max_age = 3d\nretain = 3d\n");
	ACCEPTS("reply_max_age = 0 (off)", TOKEN "reply_max_age = 0\n");
	ACCEPTS("reply_max_age = 1h", TOKEN "reply_max_age = 1h\n");
	ACCEPTS("backoff of 16 delays", TOKEN "backoff = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
	ACCEPTS("backoff separated by tabs", TOKEN "backoff = 1s\t2s \t 3s\n");
	ACCEPTS("env = PATHEXT=1 (not PATH)", TOKEN "env = PATHEXT=1\n");
	ACCEPTS("env = A_1=x=y", TOKEN "env = A_1=x=y\n");
	ACCEPTS("a value with spaces inside", TOKEN "[on a]\nrun = a   b\tc\n");
	ACCEPTS("blank lines and lines of whitespace", "\n \n\t\n" TOKEN "\n  \t \n");
}

static void
test_paths(void)
{
	struct config c;

	CHECK(parse(TOKEN "spool = q\nlog = logs/l.log\nencrypt_key_file = k\n", &c) == 0,
	      "relative paths parse %s", err);
	CHECK(streq(c.spool, "/etc/x/q"), "a relative spool is resolved against the config dir: %s", c.spool);
	CHECK(streq(c.log, "/etc/x/logs/l.log"), "a relative log is resolved against the config dir: %s", c.log);
	CHECK(streq(c.encrypt_key_file, "/etc/x/k"), "a relative encrypt_key_file is resolved: %s",
	      c.encrypt_key_file);
	cfg_free(&c);

	CHECK(parse("verification_token_file = s/tok\nspool = /var/q\nlog = /var/log/l\n", &c) == 0 &&
	      streq(c.token_file, "/etc/x/s/tok") && c.token == NULL,
	      "verification_token_file is resolved, and not read by cfg_parse");
	CHECK(streq(c.spool, "/var/q") && streq(c.log, "/var/log/l"), "absolute spool and log are kept");
	cfg_free(&c);

	CHECK(cfg_parse(TOKEN, strlen(TOKEN), "larkhook.conf", &c, err, sizeof err) == 0 &&
	      streq(c.dir, ".") && streq(c.spool, "./larkhook-spool"),
	      "a config named without a directory: dir \".\", spool ./larkhook-spool (%s)", c.spool);
	cfg_free(&c);
}

static void
test_comments(void)
{
	struct config c;

	CHECK(parse("# a comment\n   # indented\n\t#tab\n#\nverification_token = a#b\n", &c) == 0 &&
	      streq(c.token, "a#b"), "comments at line start and after whitespace; a#b kept (%s)", c.token);
	cfg_free(&c);
	CHECK(parse("verification_token = a #b\n", &c) == 0 && streq(c.token, "a"),
	      "a # after a space ends the value (%s)", c.token);
	cfg_free(&c);
	CHECK(parse("verification_token = a\t# b\n", &c) == 0 && streq(c.token, "a"),
	      "a # after a tab ends the value (%s)", c.token);
	cfg_free(&c);
	CHECK(parse("verification_token = a##b c#d #e\n", &c) == 0 && streq(c.token, "a##b c#d"),
	      "only a # after whitespace starts a comment (%s)", c.token);
	cfg_free(&c);
	CHECK(parse("verification_token = t\n[on a.b]# not a comment?\nrun = x\n", &c) == -1,
	      "a # right after ] is not a comment, so the section line is bad: %s", err);
	cfg_free(&c);
	CHECK(parse("verification_token = t\n[on a.b] # c\nrun = x # y\n", &c) == 0 &&
	      c.nhooks == 1 && streq(c.hooks[0].pattern, "a.b") && streq(c.hooks[0].run, "x"),
	      "comments after a section and after run");
	cfg_free(&c);
	REJECTS("max_age over retain", TOKEN "retain = 8h\nmax_age = 2d\n", 3, "exceeds retain");
	REJECTS("max_age under 8h", TOKEN "max_age = 5m\n", 2, "under 8h");
	REJECTS("max_age of 7h59m", TOKEN "max_age = 28740\n", 2, "under 8h");
	REJECTS("reply_max_age over 1h", TOKEN "reply_max_age = 2h\n", 2, "reply_max_age");
	REJECTS("a value that is only a comment", TOKEN "spool = #x\n", 2, "empty value");
	REJECTS("an error after comment lines has the right line", "# 1\n  # 2\n" TOKEN "bogus = 1\n", 4,
	        "unknown key");

	CHECK(parse("verification_token = t\r\nspool = /s\r\n[on a]\r\nrun = r\r\n", &c) == 0 &&
	      streq(c.token, "t") && streq(c.spool, "/s") && c.nhooks == 1 &&
	      streq(c.hooks[0].pattern, "a") && streq(c.hooks[0].run, "r"),
	      "CRLF lines: no \\r in any value");
	cfg_free(&c);
	CHECK(parse("verification_token = t #c\r\n\r\n  \r\n# x\r\n", &c) == 0 && streq(c.token, "t"),
	      "CRLF with comments and blank lines");
	cfg_free(&c);
	REJECTS("an unknown key on a CRLF line 3", "verification_token = t\r\n\r\nbogus = 1\r\n", 3,
	        "unknown key \"bogus\"");
}

static void
test_errors(void)
{
	static const char nul[] = "verification_token = t\nspool = a\0b\n";
	struct config c;
	char prefix[64];
	int rc;

	REJECTS("an unknown key", TOKEN "retian = 72h\n", 2, "unknown key \"retian\"");
	REJECTS("an unknown hook key", TOKEN "[on a]\nrun = x\nbogus = 1\n", 4, "unknown key \"bogus\"");
	REJECTS("a global key inside a section", TOKEN "[on a]\nrun = x\nspool = /s\n", 4, "spool");
	REJECTS("a duplicate key", TOKEN "spool = /a\n\nspool = /b\n", 4, "first set on line 2");
	REJECTS("a duplicate verification_token", TOKEN "verification_token = u\n", 2,
	        "first set on line 1");
	REJECTS("a duplicate backoff", TOKEN "backoff = 1\nbackoff = 2\n", 3, "duplicate");
	REJECTS("a duplicate run in a section", TOKEN "[on a]\nrun = x\nrun = y\n", 4, "duplicate");
	REJECTS("a duplicate timeout in a section", TOKEN "[on a]\nrun = x\ntimeout = 5\ntimeout = 9\n", 5,
	        "duplicate");
	REJECTS("a duplicate mode in a section", TOKEN "[on a]\nrun = x\nmode = reply\nmode = queue\n", 5,
	        "duplicate");
	REJECTS("a missing =", TOKEN "spool /s\n", 2, NULL);
	REJECTS("a missing = on line 1", "verification_token t\n", 1, NULL);
	REJECTS("a missing key", TOKEN "= x\n", 2, NULL);
	REJECTS("an empty value", TOKEN "spool =\n", 2, "empty value");
	REJECTS("a value of blanks", TOKEN "spool =  \t \n", 2, "empty value");
	REJECTS("an empty value in a section", TOKEN "[on a]\nrun =\n", 3, "empty value");
	REJECTS("max_body = 12x", TOKEN "max_body = 12x\n", 2, NULL);
	REJECTS("max_body = 1k (lower case)", TOKEN "max_body = 1k\n", 2, NULL);
	REJECTS("max_body = -1", TOKEN "max_body = -1\n", 2, NULL);
	REJECTS("max_body = 1 024", TOKEN "max_body = 1 024\n", 2, NULL);
	REJECTS("max_body = 1023 (too small)", TOKEN "max_body = 1023\n", 2, "out of range");
	REJECTS("max_body = 65M (too large)", TOKEN "max_body = 65M\n", 2, "out of range");
	REJECTS("a 30-digit max_body", TOKEN "max_body = 999999999999999999999999999999\n", 2, NULL);
	REJECTS("retain = 7h (under 8h)", TOKEN "retain = 7h\n", 2, "out of range");
	REJECTS("retain = 28799", TOKEN "retain = 28799\n", 2, "out of range");
	REJECTS("concurrency = 0", TOKEN "concurrency = 0\n", 2, "out of range");
	REJECTS("concurrency = 65", TOKEN "concurrency = 65\n", 2, "out of range");
	REJECTS("read_timeout = 301", TOKEN "read_timeout = 301\n", 2, "out of range");
	REJECTS("read_timeout = 0", TOKEN "read_timeout = 0\n", 2, "out of range");
	REJECTS("attempts = 0", TOKEN "[on a]\nrun = x\nattempts = 0\n", 4, "out of range");
	REJECTS("timeout = 0", TOKEN "[on a]\nrun = x\ntimeout = 0\n", 4, "out of range");
	REJECTS("read_timeout = 10x (bad duration)", TOKEN "read_timeout = 10x\n", 2, "not a duration");
	REJECTS("read_timeout = 1.5", TOKEN "read_timeout = 1.5\n", 2, "not a duration");
	REJECTS("retain = 72 h", TOKEN "retain = 72 h\n", 2, "not a duration");
	REJECTS("retain = h", TOKEN "retain = h\n", 2, "not a duration");
	REJECTS("retain = 3hh", TOKEN "retain = 3hh\n", 2, "not a duration");
	REJECTS("retain = 72H (upper case)", TOKEN "retain = 72H\n", 2, "not a duration");
	REJECTS("an overflowing duration", TOKEN "retain = 99999999999999999999d\n", 2, NULL);
	REJECTS("a duration that overflows with its unit", TOKEN "retain = 999999999999999999d\n", 2, NULL);
	REJECTS("a bad word in backoff", TOKEN "backoff = 10s fast\n", 2, "not a duration");
	REJECTS("backoff over 30 days", TOKEN "backoff = 10s 31d\n", 2, "out of range");
	ACCEPTS("backoff = 0 (retry at once)", TOKEN "backoff = 0\n");
	REJECTS("backoff of 17 delays", TOKEN "backoff = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", 2, NULL);
	REJECTS("a bad timeout in a section", TOKEN "[on a]\nrun = x\ntimeout = soon\n", 4, "not a duration");

	REJECTS("both verification_token and verification_token_file",
	        "spool = /s\nverification_token = t\nverification_token_file = /f\n", 2, "not both");
	REJECTS("both encrypt_key and encrypt_key_file",
	        TOKEN "encrypt_key_file = /f\nencrypt_key = k\n", 3, "not both");
	REJECTS("a missing verification_token", "spool = /s\n", 1, "verification_token");
	REJECTS("an empty file", "", 1, "verification_token");
	REJECTS("a section without run", TOKEN "spool = /s\n[on a]\ntimeout = 5\n[on b]\nrun = x\n", 3,
	        "no run");
	REJECTS("a duplicate section", TOKEN "[on a]\nrun = x\n\n[on a]\nrun = y\n", 5,
	        "already defined on line 2");
	REJECTS("[on a*b]", TOKEN "[on a*b]\nrun = x\n", 2, NULL);
	REJECTS("[on .*] (empty segment)", TOKEN "[on .*]\nrun = x\n", 2, "a pattern is");
	REJECTS("[on a..b] (empty segment)", TOKEN "[on a..b]\nrun = x\n", 2, "a pattern is");
	REJECTS("[on a.] (trailing dot)", TOKEN "[on a.]\nrun = x\n", 2, "a pattern is");
	REJECTS("[on *.x]", TOKEN "[on *.x]\nrun = x\n", 2, NULL);
	REJECTS("[on a*] (no dot before *)", TOKEN "[on a*]\nrun = x\n", 2, NULL);
	REJECTS("[on a.**]", TOKEN "[on a.**]\nrun = x\n", 2, NULL);
	REJECTS("[on **]", TOKEN "[on **]\nrun = x\n", 2, NULL);
	REJECTS("[on a b] (a space in the type)", TOKEN "[on a b]\nrun = x\n", 2, NULL);
	REJECTS("[on ] (empty pattern)", TOKEN "[on ]\nrun = x\n", 2, NULL);
	REJECTS("[onx]", TOKEN "[onx]\nrun = x\n", 2, NULL);
	REJECTS("[hook a]", TOKEN "[hook a]\nrun = x\n", 2, NULL);
	REJECTS("an unclosed section", TOKEN "[on a\nrun = x\n", 2, NULL);
	REJECTS("text after a section", TOKEN "[on a] b\nrun = x\n", 2, NULL);
	REJECTS("a non-ASCII byte in a pattern", TOKEN "[on a\xc3\xa9]\nrun = x\n", 2, NULL);
	ACCEPTS("[on a.*] and [on *] and spaces inside the brackets", TOKEN "[on a.*]\nrun = x\n[on  * ]\nrun = y\n");
	REJECTS("a section that repeats with other spacing", TOKEN "[on a]\nrun = x\n[on  a ]\nrun = y\n", 4,
	        "already defined");

	REJECTS("env = 1X=y", TOKEN "env = 1X=y\n", 2, "not a variable name");
	REJECTS("env = LARK_X=1", TOKEN "env = LARK_X=1\n", 2, "set by larkhook");
	REJECTS("the same env name twice", TOKEN "env = A=1\nenv = A=2\n", 3, "set twice");
	REJECTS("env = PATH=/x", TOKEN "env = PATH=/x\n", 2, "set by larkhook");
	REJECTS("env = HOME=/x", TOKEN "env = HOME=/x\n", 2, "set by larkhook");
	REJECTS("env = novalue", TOKEN "env = novalue\n", 2, "NAME=VALUE");
	REJECTS("env = =x", TOKEN "env = =x\n", 2, NULL);
	REJECTS("env = A-B=1", TOKEN "env = A-B=1\n", 2, "not a variable name");
	REJECTS("a bad env after good ones", TOKEN "env = A=1\nenv = B=2\nenv = LARK_ID=x\n", 4, NULL);

	REJECTS("each with mode reply", TOKEN "[on a]\nrun = x\neach = items\nmode = reply\n", 2, "each");
	REJECTS("each = .items", TOKEN "[on a]\nrun = x\neach = .items\n", 4, NULL);
	REJECTS("each = a..b", TOKEN "[on a]\nrun = x\neach = a..b\n", 4, NULL);
	REJECTS("each = items.", TOKEN "[on a]\nrun = x\neach = items.\n", 4, NULL);
	REJECTS("mode = fast", TOKEN "[on a]\nrun = x\nmode = fast\n", 4, "queue or reply");
	REJECTS("mode = Reply", TOKEN "[on a]\nrun = x\nmode = Reply\n", 4, NULL);
	REJECTS("allow_root = true", TOKEN "allow_root = true\n", 2, "yes or no");
	REJECTS("allow_root = 1", TOKEN "allow_root = 1\n", 2, "yes or no");
	REJECTS("allow_root = YES", TOKEN "allow_root = YES\n", 2, "yes or no");

	rc = cfg_parse(nul, sizeof nul - 1, FILE_NAME, &c, err, sizeof err);
	cfg_free(&c);
	snprintf(prefix, sizeof prefix, "%s:", FILE_NAME);
	CHECK(rc == -1 && strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, "NUL"),
	      "rejects a NUL byte in the config: %s", err);

	rc = cfg_parse(TOKEN "bogus = 1\n", strlen(TOKEN "bogus = 1\n"), FILE_NAME, &c, err, 16);
	cfg_free(&c);
	CHECK(rc == -1 && strlen(err) == 15 && strncmp(err, FILE_NAME, 15) == 0,
	      "an error is truncated to errlen and NUL-terminated: %s", err);
}

/* Temporary files for cfg_load. */
static char tmp[PATH_MAX];

static const char *
put(const char *name, const char *text, size_t len)
{
	static char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmp, name);
	if (!(f = fopen(path, "wb")) || fwrite(text, 1, len, f) != len || fclose(f)) {
		printf("FAIL - cannot write %s\n", path);
		exit(1);
	}
	return path;
}

#define PUT(name, lit) put(name, lit, sizeof lit - 1)

static int
load(const char *conf, struct config *c)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", tmp, conf);
	err[0] = '\0';
	return cfg_load(path, c, err, sizeof err);
}

static void
test_load(void)
{
	static const char *files[] = { "a.conf", "b.conf", "c.conf", "d.conf", "e.conf", "f.conf",
	                               "g.conf", "h.conf", "tok", "tok1", "tok2", "key", "empty", "nl" };
	char dir[PATH_MAX], want[PATH_MAX + 64], missing[PATH_MAX + 64];
	struct config c;
	int rc;

	snprintf(tmp, sizeof tmp, "%s/larkhook-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp) || !realpath(tmp, dir)) {
		printf("FAIL - mkdtemp %s: %s\n", tmp, strerror(errno));
		exit(1);
	}

	PUT("tok", "s3cret\n\n");
	PUT("tok1", "s3cret\n");
	PUT("tok2", "s3cret");
	PUT("key", "k3y\r\n");
	PUT("empty", "");
	PUT("nl", "\n");
	PUT("a.conf", "verification_token_file = tok\nencrypt_key_file = key\nspool = q\n");
	PUT("b.conf", "verification_token_file = tok1\n");
	PUT("c.conf", "verification_token_file = tok2\n");
	PUT("d.conf", "verification_token_file = empty\n");
	PUT("e.conf", "verification_token_file = nl\n");
	PUT("f.conf", "verification_token_file = nonexistent\n");
	PUT("g.conf", "verification_token = t\nretain = 1h\n");
	PUT("h.conf", "verification_token = t\n");

	rc = load("a.conf", &c);
	CHECK(rc == 0 && streq(c.token, "s3cret\n"),
	      "cfg_load: a secret of \"s3cret\\n\\n\" loses exactly one newline %s", err);
	CHECK(rc == 0 && streq(c.encrypt_key, "k3y\r"), "cfg_load: encrypt_key_file read, only \\n dropped");
	snprintf(want, sizeof want, "%s/q", dir);
	CHECK(rc == 0 && streq(c.spool, want), "cfg_load: relative spool resolved against the real dir: %s",
	      c.spool);
	snprintf(want, sizeof want, "%s/tok", dir);
	CHECK(rc == 0 && streq(c.token_file, want), "cfg_load: token_file is absolute: %s", c.token_file);
	snprintf(want, sizeof want, "%s/a.conf", dir);
	CHECK(rc == 0 && streq(c.file, want) && streq(c.dir, dir), "cfg_load: file and dir are absolute");
	cfg_free(&c);

	rc = load("b.conf", &c);
	CHECK(rc == 0 && streq(c.token, "s3cret"), "cfg_load: \"s3cret\\n\" gives s3cret %s", err);
	cfg_free(&c);
	rc = load("c.conf", &c);
	CHECK(rc == 0 && streq(c.token, "s3cret"), "cfg_load: \"s3cret\" without newline is kept %s", err);
	cfg_free(&c);
	rc = load("d.conf", &c);
	CHECK(rc == -1 && strstr(err, "empty"), "cfg_load: an empty secret file is rejected: %s", err);
	cfg_free(&c);
	rc = load("e.conf", &c);
	CHECK(rc == -1, "cfg_load: a secret file of one newline is rejected: %s", err);
	cfg_free(&c);
	rc = load("f.conf", &c);
	CHECK(rc == -1 && strstr(err, "nonexistent"), "cfg_load: a missing secret file is named: %s", err);
	cfg_free(&c);

	rc = load("g.conf", &c);
	snprintf(want, sizeof want, "%s/g.conf:2: ", dir);
	CHECK(rc == -1 && strncmp(err, want, strlen(want)) == 0, "cfg_load: a parse error names FILE:LINE: %s",
	      err);
	cfg_free(&c);

	rc = load("h.conf", &c);
	CHECK(rc == 0 && streq(c.token, "t") && !c.token_file, "cfg_load: a plain config loads %s", err);
	cfg_free(&c);

	snprintf(missing, sizeof missing, "%s/no-such.conf", tmp);
	rc = cfg_load(missing, &c, err, sizeof err);
	CHECK(rc == -1 && strstr(err, missing), "cfg_load: a missing config file is named: %s", err);
	cfg_free(&c);

	rc = cfg_load(tmp, &c, err, sizeof err);
	CHECK(rc == -1 && strstr(err, tmp), "cfg_load: a directory as config is rejected: %s", err);
	cfg_free(&c);

	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(want, sizeof want, "%s/%s", tmp, files[i]);
		unlink(want);
	}
	CHECK(rmdir(tmp) == 0, "the temporary directory is left empty");
}

static const char routes[] =
	"verification_token = t\n"
	"[on *]\nrun = any\n"
	"[on a.*]\nrun = a\n"
	"[on corehr.*]\nrun = corehr\n"
	"[on a.b.*]\nrun = ab\n"
	"[on corehr.job.changed]\nrun = exact\n"
	"[on corehr.job.*]\nrun = corehr.job\n";

/* Same hooks, most specific first. */
static const char routes_rev[] =
	"verification_token = t\n"
	"[on corehr.job.*]\nrun = corehr.job\n"
	"[on corehr.job.changed]\nrun = exact\n"
	"[on a.b.*]\nrun = ab\n"
	"[on corehr.*]\nrun = corehr\n"
	"[on a.*]\nrun = a\n"
	"[on *]\nrun = any\n";

static const char *
route(const struct config *c, const char *type)
{
	const struct hook *h = cfg_route(c, type);

	return h ? h->run : "(none)";
}

static void
test_route_order(const char *text, const char *how)
{
	struct config c;

	CHECK(parse(text, &c) == 0, "%s: routing config parses %s", how, err);
	CHECK(streq(route(&c, "corehr.job.changed"), "exact"), "%s: an exact type beats prefixes and *", how);
	CHECK(streq(route(&c, "corehr.job.created"), "corehr.job"), "%s: the longest prefix wins", how);
	CHECK(streq(route(&c, "corehr.employee.changed"), "corehr"), "%s: corehr.* for corehr.employee.changed",
	      how);
	CHECK(streq(route(&c, "corehrx"), "any"), "%s: corehrx is not under corehr.*", how);
	CHECK(streq(route(&c, "corehrx.job"), "any"), "%s: corehrx.job is not under corehr.*", how);
	CHECK(streq(route(&c, "corehr"), "any"), "%s: corehr alone is not under corehr.*", how);
	CHECK(streq(route(&c, "a.b.c"), "ab"), "%s: a.b.c goes to a.b.* rather than a.*", how);
	CHECK(streq(route(&c, "a.c"), "a"), "%s: a.c goes to a.*", how);
	CHECK(streq(route(&c, "a.b"), "a"), "%s: a.b goes to a.* (a.b.* needs a.b.)", how);
	CHECK(streq(route(&c, "a.bx.c"), "a"), "%s: a.bx.c goes to a.*", how);
	CHECK(streq(route(&c, "im.message.receive_v1"), "any"), "%s: anything else goes to *", how);
	CHECK(streq(route(&c, ""), "any"), "%s: an empty type goes to *", how);
	cfg_free(&c);
}

static void
test_route(void)
{
	struct config c;

	test_route_order(routes, "catch-all first");
	test_route_order(routes_rev, "catch-all last");

	CHECK(parse(TOKEN "[on corehr.*]\nrun = corehr\n[on x.y]\nrun = xy\n", &c) == 0, "a config without * parses");
	CHECK(streq(route(&c, "corehr.job.changed"), "corehr"), "corehr.* matches corehr.job.changed");
	CHECK(cfg_route(&c, "corehrx") == NULL, "corehrx matches nothing: NULL without *");
	CHECK(cfg_route(&c, "x.y.z") == NULL, "x.y does not match x.y.z: NULL without *");
	CHECK(cfg_route(&c, "x") == NULL, "x.y does not match x");
	CHECK(streq(route(&c, "x.y"), "xy"), "x.y matches itself");
	CHECK(cfg_route(&c, "other") == NULL, "no hook: NULL when there is no *");
	cfg_free(&c);

	CHECK(parse(TOKEN, &c) == 0 && cfg_route(&c, "a.b") == NULL, "no hooks at all: NULL");
	cfg_free(&c);
}

/* The OpenAPI keys (doc/9-openapi.md): api_base's form, http:// only on
 * loopback, the keys needing each other, the secret never in a message. */
static void
test_api_keys(void)
{
	struct config c;
	char path[] = "/tmp/larkhook-cfg-api.XXXXXX", conf[64], sec[64];
	FILE *f;
	int rc;

	rc = parse(TOKEN, &c);
	CHECK(rc == 0 && !c.app_id && !c.app_secret && c.api_base && streq(c.api_base, "https://open.feishu.cn") &&
	      !c.app_store, "no app_id: OpenAPI off, api_base defaults to https://open.feishu.cn");
	cfg_free(&c);
	rc = parse(TOKEN "app_id = cli_a1\napp_secret = s3cr3t-value\n", &c);
	CHECK(rc == 0 && streq(c.app_id, "cli_a1") && streq(c.app_secret, "s3cr3t-value") && c.api_line == 2 &&
	      streq(c.api_base, "https://open.feishu.cn") && !c.app_store, "app_id and app_secret %s", err);
	cfg_free(&c);
	rc = parse(TOKEN "app_id = cli_a1\napp_secret_file = sec\napp_type = store\n"
	           "api_base = https://open.larksuite.com/\n", &c);
	CHECK(rc == 0 && streq(c.app_secret_file, "/etc/x/sec") && !c.app_secret && c.app_store &&
	      streq(c.api_base, "https://open.larksuite.com"),
	      "app_secret_file resolved and not read; store; Lark base, trailing slash dropped %s", err);
	cfg_free(&c);
	ACCEPTS("http://127.0.0.1:8080", TOKEN "app_id = a\napp_secret = s\napi_base = http://127.0.0.1:8080\n");
	ACCEPTS("http://localhost:1", TOKEN "app_id = a\napp_secret = s\napi_base = http://localhost:1\n");
	ACCEPTS("http://[::1]:9", TOKEN "app_id = a\napp_secret = s\napi_base = http://[::1]:9\n");
	ACCEPTS("http://127.9.8.7", TOKEN "app_id = a\napp_secret = s\napi_base = http://127.9.8.7\n");
	ACCEPTS("https://host:443", TOKEN "app_id = a\napp_secret = s\napi_base = https://open.feishu.cn:443\n");
	REJECTS("http:// to another host", TOKEN "app_id = a\napp_secret = s\napi_base = http://open.feishu.cn\n",
	        4, "loopback");
	REJECTS("http://128.0.0.1", TOKEN "app_id = a\napp_secret = s\napi_base = http://128.0.0.1\n", 4, "loopback");
	REJECTS("http://127.0.0.1.evil.com", TOKEN "app_id = a\napp_secret = s\napi_base = http://127.0.0.1.evil.com\n",
	        4, "loopback");
	REJECTS("http://localhost.evil.com", TOKEN "app_id = a\napp_secret = s\napi_base = http://localhost.evil.com\n",
	        4, "loopback");
	REJECTS("http://127.0.0.1@evil.com", TOKEN "app_id = a\napp_secret = s\napi_base = http://127.0.0.1@evil.com\n",
	        4, NULL);
	REJECTS("a user part", TOKEN "app_id = a\napp_secret = s\napi_base = https://u@open.feishu.cn\n", 4, NULL);
	REJECTS("a path", TOKEN "app_id = a\napp_secret = s\napi_base = https://open.feishu.cn/x\n", 4, NULL);
	REJECTS("a query", TOKEN "app_id = a\napp_secret = s\napi_base = https://open.feishu.cn?x\n", 4, NULL);
	REJECTS("https:// and no host", TOKEN "app_id = a\napp_secret = s\napi_base = https://\n", 4, "no host");
	REJECTS("http:// and no host", TOKEN "app_id = a\napp_secret = s\napi_base = http://\n", 4, "no host");
	REJECTS("ftp://", TOKEN "app_id = a\napp_secret = s\napi_base = ftp://open.feishu.cn\n", 4, "https");
	REJECTS("a bad port", TOKEN "app_id = a\napp_secret = s\napi_base = https://open.feishu.cn:99999\n", 4, "port");
	REJECTS("an empty host", TOKEN "app_id = a\napp_secret = s\napi_base = https://:80\n", 4, NULL);
	REJECTS("an unclosed [", TOKEN "app_id = a\napp_secret = s\napi_base = https://[::1\n", 4, "no host");
	REJECTS("an unclosed [ with a port", TOKEN "app_id = a\napp_secret = s\napi_base = https://[::1:80\n", 4, NULL);
	REJECTS("app_type bogus", TOKEN "app_id = a\napp_secret = s\napp_type = isv\n", 4, "self_built or store");
	REJECTS("both secrets", TOKEN "app_id = a\napp_secret = s\napp_secret_file = f\n", 3, "not both");
	REJECTS("app_id alone", TOKEN "app_id = a\n", 2, "app_secret");
	/* connect checks no token: a config for it alone may leave it out */
	rc = parse("app_id = cli_a1\napp_secret = s3cr3t-value\n", &c);
	CHECK(rc == 0 && !c.token && !c.token_file && streq(c.app_id, "cli_a1"),
	      "app_id and app_secret without a verification_token: a config for connect %s", err);
	if (rc == 0)
		cfg_free(&c);
	REJECTS("no verification_token and no app_id", "spool = /tmp/x\n", 1, "only a config for larkhook connect");
	REJECTS("app_secret without app_id", TOKEN "app_secret = hush-hush\n", 2, "needs app_id");
	CHECK(!strstr(err, "hush-hush"), "the secret is not in the message: %s", err);
	REJECTS("api_base without app_id", TOKEN "api_base = https://open.feishu.cn\n", 2, "needs app_id");
	REJECTS("a duplicate app_secret", TOKEN "app_id = a\napp_secret = hush-hush\napp_secret = hush-hush\n", 4,
	        "duplicate");
	CHECK(!strstr(err, "hush-hush"), "the secret is not in the duplicate's message: %s", err);
	REJECTS("env = LARKHOOK=", TOKEN "env = LARKHOOK=/bin/false\n", 2, "set by larkhook");
	REJECTS("env = LARKHOOK_CONFIG=", TOKEN "env = LARKHOOK_CONFIG=/x\n", 2, "set by larkhook");

	/* cfg_load leaves app_secret_file unread; cfg_app_secret reads it */
	if (!mkdtemp(path)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(conf, sizeof conf, "%s/c.conf", path);
	snprintf(sec, sizeof sec, "%s/sec", path);
	f = fopen(conf, "w");
	fprintf(f, TOKEN "app_id = cli_x\napp_secret_file = sec\n");
	fclose(f);
	f = fopen(sec, "w");
	fprintf(f, "the-secret\n");
	fclose(f);
	rc = cfg_load(conf, &c, err, sizeof err);
	CHECK(rc == 0 && !c.app_secret && c.self && c.self[0] == '/', "cfg_load: app_secret_file not read; self %s",
	      rc == 0 && c.self ? c.self : err);
	CHECK(rc == 0 && cfg_app_secret(&c, err, sizeof err) == 0 && streq(c.app_secret, "the-secret"),
	      "cfg_app_secret reads it, one newline dropped %s", err);
	cfg_free(&c);
	unlink(sec);
	rc = cfg_load(conf, &c, err, sizeof err);
	CHECK(rc == 0 && cfg_app_secret(&c, err, sizeof err) == -1 && strstr(err, "app_secret_file"),
	      "cfg_app_secret: a missing file is named: %s", err);
	cfg_free(&c);
	unlink(conf);
	rmdir(path);
}

int
main(void)
{
	test_api_keys();
	test_sample();
	test_defaults();
	test_paths();
	test_comments();
	test_errors();
	test_load();
	test_route();
	return t_done();
}
