/* asan-defaults.c: linked into the sanitizer build of `make check`
 * (tools/check.sh). Every larkhook process of the test suite, including
 * CGIs that lighttpd or apache start with an environment of their own and
 * detached runners, writes its ASan, UBSan and LSan reports to
 * CHECK_LOG_DIR/asan.PID instead of a standard error nobody reads; the
 * check fails when such a file appears.
 *
 * LeakSanitizer cannot work in a process traced with ptrace (the crash
 * and faults suites run larkhook under strace): there it would only die
 * with "LeakSanitizer does not work under ptrace", so leak detection is off
 * in a traced process and on everywhere else. */
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CHECK_LOG_DIR
#error "build with -DCHECK_LOG_DIR='\"/dir\"'"
#endif

/* a web server may start larkhook without PATH: name the symbolizer */
#ifdef CHECK_SYMBOLIZER
#define SYMBOLIZER ":external_symbolizer_path=" CHECK_SYMBOLIZER
#else
#define SYMBOLIZER ""
#endif

#define COMMON "log_path=" CHECK_LOG_DIR "/asan:abort_on_error=0:print_stacktrace=1:halt_on_error=1" \
	SYMBOLIZER

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

/* TracerPid in /proc/self/status is not 0. Raw system calls only: this
 * runs while the sanitizer runtime starts, before anything is set up. */
static int
traced(void)
{
	static int known = -1;
	char buf[4096], *p;
	long fd, n;

	if (known >= 0)
		return known;
	known = 0;
	fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return known;
	n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return known;
	buf[n] = '\0';
	if ((p = strstr(buf, "TracerPid:"))) {
		for (p += 10; *p == ' ' || *p == '\t'; p++)
			;
		known = *p >= '1' && *p <= '9';
	}
	return known;
}

const char *
__asan_default_options(void)
{
	return traced() ? COMMON ":detect_leaks=0" : COMMON ":detect_leaks=1";
}

const char *
__lsan_default_options(void)
{
	return traced() ? COMMON ":detect_leaks=0" : COMMON ":detect_leaks=1";
}

const char *
__ubsan_default_options(void)
{
	return COMMON;
}
