/* test_log.c: escaping of request-derived text and the request line */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "log.h"

static void
escape(const char *name, const char *in, size_t n, size_t cap, const char *want)
{
	char out[4 * 300 + 8];

	log_escape(out, sizeof out, in, n, cap);
	CHECK(strcmp(out, want) == 0, "escape %s: [%s]", name, out);
}

int
main(void)
{
	char dir[] = "/tmp/larkhook-log.XXXXXX", path[64], buf[4096], big[400];
	ssize_t n;
	int fd;

	escape("plain", "a.b_c-1", 7, 256, "a.b_c-1");
	escape("CR LF", "a\r\nb", 4, 256, "a\\x0d\\x0ab");
	escape("ESC", "\x1b[31m", 5, 256, "\\x1b[31m");
	escape("quote and backslash", "\"\\", 2, 256, "\\x22\\x5c");
	escape("DEL", "\x7f", 1, 256, "\\x7f");
	escape("NUL inside", "a\0b", 3, 256, "a\\x00b");
	escape("UTF-8 kept", "\xc3\xa9", 2, 256, "\xc3\xa9");
	memset(big, 'x', sizeof big);
	{
		char want[300];

		memset(want, 'x', 256);
		strcpy(want + 256, "...");
		escape("cut at 256", big, sizeof big, 256, want);
	}

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/log", dir);
	CHECK(log_open(path) == 0, "log file opened");
	log_request(401, "signature mismatch", "a\nforged=1", "id\"x");
	log_msg("started %d", 1);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "status=401 reason=\"signature mismatch\" type=\"a\\x0aforged=1\" id=\"id\\x22x\"\n") != NULL,
	      "request line escaped");
	CHECK(strstr(buf, "larkhook[") && strstr(buf, "]: started 1\n"), "message line");
	{
		int lines = 0;

		for (char *p = buf; *p; p++)
			lines += *p == '\n';
		CHECK(lines == 2, "one line per entry, no injected line");
	}
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "test \"$(stat -c %%a %s)\" = 600", path);
		CHECK(system(cmd) == 0, "log file created 0600");
	}
	/* held lines (the long connection's batch): nothing written until the
	 * release, then all of them in order, whole; a child forked meanwhile
	 * writes its own lines at once and none of its parent's */
	{
		struct stat st0, st;
		pid_t child;
		char *a, *b, *c, *k;

		CHECK(stat(path, &st0) == 0, "log size known");
		log_hold();
		log_msg("held %s", "one");
		log_request(200, "event stored", "a.b", "held-two");
		CHECK(stat(path, &st) == 0 && st.st_size == st0.st_size, "held: nothing written yet");
		if ((child = fork()) == 0) {
			log_msg("from the child");
			_exit(0);
		}
		waitpid(child, NULL, 0);
		log_msg("held three");
		log_release();
		fd = open(path, O_RDONLY);
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		a = strstr(buf, "]: held one\n");
		b = strstr(buf, "id=\"held-two\"\n");
		c = strstr(buf, "]: held three\n");
		k = strstr(buf, "]: from the child\n");
		CHECK(a && b && c && a < b && b < c, "held: released in order, each line whole");
		CHECK(k && k < a, "held: the forked child's line was written at once, before the release");
		CHECK(a && !strstr(a + strlen("]: held one"), "held one"), "held: the child wrote none of its parent's held lines");
	}
	unlink(path);
	rmdir(dir);
	return t_done();
}
