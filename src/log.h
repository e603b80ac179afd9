/* log.h: the one log sink; every line is escaped and written whole (what
 * may and may not be logged: doc/6-hostile.md §6.4) */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

#define LOG_FIELD_MAX 256	/* request-derived fields are cut to this */

/* Send log lines to path (appended, created 0600), or to standard error when
 * path is NULL. On failure lines go to standard error, and -1 is returned. */
int log_open(const char *path);

/* The descriptor lines are written to (for hooks' output in the runner). */
int log_fd(void);

/* Escape in[0..n), at most cap input bytes, into out (outsz >= 4 * cap + 4):
 * bytes below 0x20, 0x7f, '"' and '\' become \xNN; "..." marks a cut.
 * Returns the length written. Pure. */
size_t log_escape(char *out, size_t outsz, const char *in, size_t n, size_t cap);

/* Hold lines in memory from now until log_release, which writes them in
 * one write(2) (lines stay whole and in order; a full buffer is written
 * earlier). For a caller handling many requests at once, and only between
 * two points where it may not block (a forked child drops what is held). */
void log_hold(void);
void log_release(void);

/* One line of trusted text (printf format), prefixed with time and pid. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one line per request: status, reason, and the type and id when known
 * (NULL otherwise), escaped and cut to LOG_FIELD_MAX. */
void log_request(int status, const char *reason, const char *type, const char *id);

#endif
