/* io.h: small system-call helpers shared by the I/O edges */
#ifndef IO_H
#define IO_H

#include <stddef.h>

/* Write all n bytes of buf to fd, retrying short writes and EINTR.
 * 0 on success, -1 with errno set. */
int io_write_all(int fd, const void *buf, size_t n);

/* Close every descriptor from low up (in a child about to exec). */
void io_close_from(int low);

/* The same, but keep keep1 and keep2 (-1: none). */
void io_close_except(int low, int keep1, int keep2);

/* fsync the directory at path, making the names in it durable. 0 on
 * success, -1 with errno set. */
int io_fsync_dir(const char *path);

/* v in decimal at out (no NUL), at least width digits, zero-padded; the
 * length (at most 25 bytes: width is capped at 24 digits). Plain code: on the intake path a snprintf
 * costs more than the rest of a record line's work. */
size_t io_decimal(char *out, long long v, int width);

/* Monotonic milliseconds. */
long long io_now_ms(void);

#endif
