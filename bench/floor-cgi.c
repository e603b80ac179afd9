/* floor-cgi.c: the CGI floor of make bench (doc/8-performance.md). The least a
 * CGI that accepts an event can do: read the announced body, answer 200
 * with the same short JSON larkhook sends. Dynamically linked against libc
 * only, built with the Makefile's -O2, as an "empty C CGI". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(void)
{
	static char buf[65536];
	const char *cl = getenv("CONTENT_LENGTH");
	long long want = cl && *cl ? atoll(cl) : -1;
	ssize_t n;

	while (want != 0) {
		n = read(0, buf, want > 0 && want < (long long)sizeof buf ? (size_t)want : sizeof buf);
		if (n <= 0)
			break;
		if (want > 0)
			want -= n;
	}
	fputs("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"msg\":\"success\"}", stdout);
	return 0;
}
