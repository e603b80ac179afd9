/* io.c: small system-call helpers shared by the I/O edges */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

int
io_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void
io_close_from(int low)
{
	io_close_except(low, -1, -1);
}

/* Close fds [from, to] (to = -1: to the top). The kernel's close_range
 * where there is one; else every open number /proc lists, or every number
 * up to the limit of open files (65536 at most) when /proc is missing. */
static void
close_span(int from, int to)
{
	long max;
	DIR *d;
	struct dirent *e;

	if (from > to && to >= 0)
		return;
	if (syscall(SYS_close_range, (unsigned)from, to < 0 ? ~0U : (unsigned)to, 0u) == 0)
		return;
	if ((d = opendir("/proc/self/fd"))) {
		int self = dirfd(d);

		while ((e = readdir(d))) {
			int fd = atoi(e->d_name);

			if (e->d_name[0] != '.' && fd != self && fd >= from && (to < 0 || fd <= to))
				close(fd);
		}
		closedir(d);
		return;
	}
	/* no limit known (-1) must still close: the cap the loop had before */
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (long fd = from; fd < max && (to < 0 || fd <= to); fd++)
		close((int)fd);
}

void
io_close_except(int low, int keep1, int keep2)
{
	int lo = keep1 < keep2 ? keep1 : keep2, hi = keep1 < keep2 ? keep2 : keep1;
	int from = low;

	if (lo >= from) {
		close_span(from, lo - 1);
		from = lo + 1;
	}
	if (hi >= from) {
		close_span(from, hi - 1);
		from = hi + 1;
	}
	close_span(from, -1);
}

int
io_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

size_t
io_decimal(char *out, long long v, int width)
{
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
	char digits[24];
	size_t n = 0, o = 0;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while ((int)n < width && n < sizeof digits)
		digits[n++] = '0';
	if (v < 0)
		out[o++] = '-';
	while (n)
		out[o++] = digits[--n];
	return o;
}

long long
io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
