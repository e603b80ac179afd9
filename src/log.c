/* log.c: the one log sink; lines are built in memory and written with one
 * write(2) so concurrent CGI processes never interleave within a line */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

static int sink = 2;

/* Lines held by log_hold, written whole and in order by log_release. */
static struct {
	int on;
	long pid;		/* getpid() once per hold */
	size_t len;
	char buf[65536];
} held;

int
log_open(const char *path)
{
	int fd;

	if (!path) {
		sink = 2;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		sink = 2;
		log_msg("cannot open log %s: %s; logging to standard error", path, strerror(errno));
		return -1;
	}
	if (sink > 2)
		close(sink);
	sink = fd;
	return 0;
}

int
log_fd(void)
{
	return sink;
}

size_t
log_escape(char *out, size_t outsz, const char *in, size_t n, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < n && i < cap && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char)c;
	}
	if (i < n && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

/* "YYYY-MM-DDTHH:MM:SSZ" for t, computed here: glibc's gmtime_r and
 * strftime load the time zone (/etc/localtime) on first use, a file a
 * chroot lacks and a UTC stamp never needs. The date comes from the day
 * count by whole 400-year eras of the Gregorian calendar, March-based
 * years putting the leap day last. */
static int
utc_stamp(char *out, size_t n, time_t t)
{
	long long days = (long long)t / 86400, secs = (long long)t % 86400, era, doe, yoe, doy, mp;
	long long y, m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	return snprintf(out, n, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", y, m, d, secs / 3600,
			secs / 60 % 60, secs % 60);
}

/* s appended to buf[0..cap) at *n, cut to fit (one byte kept for a NUL). */
static void
put(char *buf, size_t cap, size_t *n, const char *s)
{
	size_t k = strlen(s);

	if (*n >= cap)
		return;
	if (k > cap - 1 - *n)
		k = cap - 1 - *n;
	memcpy(buf + *n, s, k);
	*n += k;
	buf[*n] = '\0';
}

/* " larkhook[PID]: " without snprintf, which cost more than the rest of
 * a line */
static void
put_pid(char *buf, size_t cap, size_t *n, long pid)
{
	char p[40] = " larkhook[";
	size_t k = 10;

	k += io_decimal(p + k, pid, 1);
	memcpy(p + k, "]: ", 4);
	put(buf, cap, n, p);
}

static void
emit(const char *text)
{
	char line[6272];
	size_t n;

	static char stamp[32];
	static size_t stamp_len;
	static time_t stamp_of = -1;
	time_t now = time(NULL);

	if (now != stamp_of) {	/* one formatting a second, not one a line */
		stamp_len = (size_t)utc_stamp(stamp, sizeof stamp, now);
		stamp_of = now;
	}
	memcpy(line, stamp, stamp_len);
	n = stamp_len;
	put_pid(line, sizeof line, &n, held.on ? held.pid : (long)getpid());
	put(line, sizeof line, &n, text);
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (!held.on) {
		io_write_all(sink, line, n);
		return;
	}
	if (held.len + n > sizeof held.buf) {
		io_write_all(sink, held.buf, held.len);
		held.len = 0;
	}
	memcpy(held.buf + held.len, line, n);
	held.len += n;
}

/* A child forked while lines are held (the runner kick) neither writes
 * nor keeps them: they are its parent's. */
static void
forked(void)
{
	held.on = 0;
	held.len = 0;
}

void
log_hold(void)
{
	static int registered;

	if (!registered && pthread_atfork(NULL, NULL, forked) == 0)
		registered = 1;
	if (!registered || held.on)
		return;
	held.pid = (long)getpid();
	held.on = 1;
}

void
log_release(void)
{
	if (!held.on)
		return;
	held.on = 0;
	if (held.len)
		io_write_all(sink, held.buf, held.len);
	held.len = 0;
}

void
log_msg(const char *fmt, ...)
{
	char text[6144];	/* a hook line: label (<= 2.3 KB) and 512 escaped bytes */
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* messages may carry paths and errors: keep control bytes out anyway */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	emit(text);
}

void
log_request(int status, const char *reason, const char *type, const char *id)
{
	char t[4 * LOG_FIELD_MAX + 8], i[4 * LOG_FIELD_MAX + 8], text[2 * sizeof t + 256], code[16];
	size_t n = 0;

	text[0] = '\0';
	/* plain copies: five snprintf calls were most of a line's cost */
	code[io_decimal(code, status, 1)] = '\0';
	put(text, sizeof text, &n, "status=");
	put(text, sizeof text, &n, code);
	put(text, sizeof text, &n, " reason=\"");
	put(text, sizeof text, &n, reason ? reason : "");
	put(text, sizeof text, &n, "\"");
	if (type) {
		log_escape(t, sizeof t, type, strlen(type), LOG_FIELD_MAX);
		put(text, sizeof text, &n, " type=\"");
		put(text, sizeof text, &n, t);
		put(text, sizeof text, &n, "\"");
	}
	if (id) {
		log_escape(i, sizeof i, id, strlen(id), LOG_FIELD_MAX);
		put(text, sizeof text, &n, " id=\"");
		put(text, sizeof text, &n, i);
		put(text, sizeof text, &n, "\"");
	}
	emit(text);
}
