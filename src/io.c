/* io.c: small system-call helpers shared by the I/O edges */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
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

void
io_close_except(int low, int keep1, int keep2)
{
	int max = (int)sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	/* close_range where the kernel has it, else one close per number */
	for (int fd = low; fd < max; fd++) {
		int stop = max;

		if (fd == keep1 || fd == keep2)
			continue;
		if (keep1 > fd && keep1 < stop)
			stop = keep1;
		if (keep2 > fd && keep2 < stop)
			stop = keep2;
		if (syscall(SYS_close_range, (unsigned)fd, (unsigned)stop - 1, 0u) == 0) {
			fd = stop - 1;
			continue;
		}
		close(fd);
	}
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
