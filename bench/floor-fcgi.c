/* floor-fcgi.c: the FastCGI floors of make bench (doc/8-performance.md). An
 * empty libfcgi responder: read the whole body, answer 200 with the same
 * short JSON larkhook sends. Given a directory as its one argument it is
 * the on-disk floor instead: each body goes to a new file there, written
 * and fsync'd once before the answer (larkhook's spool does more than one
 * fsync; this is the least any durable intake must pay). */
#include <fcgiapp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static char body[1048576];
	const char *dir = argc > 1 ? argv[1] : NULL;
	unsigned long long seq = 0;
	char path[4096];
	FCGX_Request rq;
	int n, len, fd;

	FCGX_Init();
	FCGX_InitRequest(&rq, 0, 0);
	while (FCGX_Accept_r(&rq) >= 0) {
		len = 0;
		while (len < (int)sizeof body &&
		       (n = FCGX_GetStr(body + len, (int)sizeof body - len, rq.in)) > 0)
			len += n;
		if (dir) {
			snprintf(path, sizeof path, "%s/%ld.%llu", dir, (long)getpid(), seq++);
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0 || write(fd, body, (size_t)len) != len || fsync(fd) != 0) {
				FCGX_FPrintF(rq.out, "Status: 503 Service Unavailable\r\n"
				             "Content-Type: application/json\r\n\r\n{\"msg\":\"try again later\"}");
				if (fd >= 0)
					close(fd);
				continue;
			}
			close(fd);
		}
		FCGX_FPrintF(rq.out, "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n"
		             "{\"msg\":\"success\"}");
	}
	return 0;
}
