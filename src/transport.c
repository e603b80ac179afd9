/* transport.c: turns CGI or FastCGI into a struct request and a response
 * back; nothing else in larkhook knows about either */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "transport.h"
#include "io.h"

#define CHUNK 65536

struct transport {
	int fastcgi;
	int served;		/* CGI: the one request was handed out */
	int clean;		/* the input was read without error or timeout */
	FCGX_Request req;
};

static volatile sig_atomic_t expired;

static void
on_alarm(int sig)
{
	(void)sig;
	expired = 1;
}

/* The deadline interrupts blocking reads (SIGALRM without SA_RESTART, set
 * up once in tr_open). It keeps ticking after it expires, so a read entered
 * just after the first tick is still interrupted by the next. */
static void
deadline(unsigned seconds)
{
	struct itimerval it = { { 0, 0 }, { 0, 0 } };

	if (seconds) {
		it.it_value.tv_sec = seconds;
		it.it_interval.tv_usec = 100000;
	}
	expired = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

int
tr_is_fastcgi(void)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;

	return getpeername(0, (struct sockaddr *)&sa, &len) != 0 && errno == ENOTCONN;
}

struct transport *
tr_open(int fastcgi)
{
	struct transport *t = calloc(1, sizeof *t);
	struct sigaction sa;

	if (!t)
		return NULL;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	t->fastcgi = fastcgi;
	if (fastcgi && (FCGX_Init() != 0 || FCGX_InitRequest(&t->req, 0, 0) != 0)) {
		free(t);
		return NULL;
	}
	return t;
}

void
tr_close(struct transport *t)
{
	if (t && t->fastcgi)
		FCGX_Free(&t->req, 1);
	free(t);
}

static char *
param(struct transport *t, const char *name)
{
	const char *v = t->fastcgi ? FCGX_GetParam(name, t->req.envp) : getenv(name);

	return v ? strdup(v) : NULL;
}

int
tr_accept(struct transport *t, struct request *rq)
{
	memset(rq, 0, sizeof *rq);
	if (t->fastcgi) {
		if (FCGX_Accept_r(&t->req) < 0)
			return 0;
	} else if (t->served++)
		return 0;
	/* copies: libfcgi frees its parameters when the request ends */
	rq->method = param(t, "REQUEST_METHOD");
	rq->content_length = param(t, "CONTENT_LENGTH");
	rq->signature = param(t, "HTTP_X_LARK_SIGNATURE");
	rq->timestamp = param(t, "HTTP_X_LARK_REQUEST_TIMESTAMP");
	rq->nonce = param(t, "HTTP_X_LARK_REQUEST_NONCE");
	return 1;
}

/* Up to n bytes; 0 at end of input, -1 on error or when the deadline passed. */
static ssize_t
get(struct transport *t, char *buf, size_t n)
{
	ssize_t r;

	if (expired)
		return -1;
	if (t->fastcgi) {
		r = FCGX_GetStr(buf, (int)n, t->req.in);
		if (r == 0 && FCGX_GetError(t->req.in))
			return -1;
		return expired && r == 0 ? -1 : r;
	}
	do
		r = read(0, buf, n);
	while (r < 0 && errno == EINTR && !expired);
	return r;
}

/* "" and absent mean "read to the end"; otherwise plain decimal digits. */
static enum status
announced(const char *cl, size_t max_body, long long *want, const char **reason)
{
	unsigned long long n = 0;

	*want = -1;
	if (!cl || !*cl)
		return ST_OK;
	for (const char *s = cl; *s; s++) {
		if (*s < '0' || *s > '9') {
			*reason = "malformed CONTENT_LENGTH";
			return ST_BAD_REQUEST;
		}
		if (n > (1ULL << 62) / 10) {
			*reason = "CONTENT_LENGTH too large";
			return ST_TOO_LARGE;
		}
		n = n * 10 + (unsigned long long)(*s - '0');
	}
	*want = (long long)n;
	if (n > max_body) {
		*reason = "body over max_body";
		return ST_TOO_LARGE;
	}
	return ST_OK;
}

/* Read and throw away the rest of the announced body (want < 0: to the end),
 * so no server is left waiting to write it. */
static void
drain(struct transport *t, long long want)
{
	char buf[CHUNK];
	ssize_t r;

	while (want != 0 && (r = get(t, buf, want < 0 || want > CHUNK ? CHUNK : (size_t)want)) > 0)
		if (want > 0)
			want -= r;
}

enum status
tr_read_body(struct transport *t, struct request *rq, size_t max_body, unsigned timeout,
             const char **reason)
{
	long long want;
	enum status st = announced(rq->content_length, max_body, &want, reason);
	size_t cap = want >= 0 ? (size_t)want : max_body + 1;
	ssize_t r = 1;

	deadline(timeout);
	if (st != ST_OK) {
		drain(t, st == ST_BAD_REQUEST ? -1 : want);
		goto out;
	}
	if (!(rq->body = malloc(cap + 1))) {
		*reason = "out of memory";
		drain(t, want);
		st = ST_SERVER_ERROR;
		goto out;
	}
	while (rq->body_len < cap && (r = get(t, rq->body + rq->body_len, cap - rq->body_len)) > 0)
		rq->body_len += (size_t)r;
	rq->body[rq->body_len] = '\0';
	if (expired) {
		*reason = "body not received within read_timeout";
		st = ST_TIMEOUT;
	} else if (r < 0) {
		*reason = "error reading the body";
		st = ST_BAD_REQUEST;
	} else if (want < 0 && rq->body_len > max_body) {
		*reason = "body over max_body";
		drain(t, -1);
		st = ST_TOO_LARGE;
	} else if (want >= 0 && rq->body_len < (size_t)want) {
		*reason = "body shorter than CONTENT_LENGTH";
		st = ST_BAD_REQUEST;
	} else if (t->fastcgi && want >= 0) {
		char c;

		/* the empty FCGI_STDIN record that ends the input is normally
		 * in libfcgi's buffer already: see it here, under the
		 * deadline, so tr_finish can close without lingering */
		get(t, &c, 1);
	}
out:
	t->clean = !expired && r >= 0 && !(t->fastcgi && FCGX_GetError(t->req.in));
	deadline(0);
	return st;
}

static const char *
reason_phrase(enum status s)
{
	switch (s) {
	case ST_OK: return "OK";
	case ST_BAD_REQUEST: return "Bad Request";
	case ST_UNAUTHORIZED: return "Unauthorized";
	case ST_BAD_METHOD: return "Method Not Allowed";
	case ST_TIMEOUT: return "Request Timeout";
	case ST_TOO_LARGE: return "Payload Too Large";
	case ST_SERVER_ERROR: return "Internal Server Error";
	case ST_UNAVAILABLE: return "Service Unavailable";
	}
	return "Error";
}

void
tr_respond(struct transport *t, const struct response *r)
{
	char head[512];
	size_t blen = strlen(r->body);
	int n = snprintf(head, sizeof head,
	                 "Status: %d %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %lu\r\n%s\r\n",
	                 (int)r->status, reason_phrase(r->status), (unsigned long)blen,
	                 r->extra_headers ? r->extra_headers : "");

	if (t->fastcgi) {
		FCGX_PutStr(head, n, t->req.out);
		FCGX_PutStr(r->body, (int)blen, t->req.out);
		return;
	}
	/* the web server may be gone; nothing more to do then */
	if (io_write_all(1, head, (size_t)n) == 0)
		io_write_all(1, r->body, blen);
}

void
tr_finish(struct transport *t, struct request *rq)
{
	if (t->fastcgi) {
		/* libfcgi's close shuts down its side and then waits (up to
		 * 2 s) for the server to close first, so that unread input
		 * cannot turn into a reset that loses the answer. With the
		 * input read to its end there is none: close at once (a
		 * stream closed by a read error or the deadline also says
		 * EOF, but then input may be left: linger). The
		 * wait held each responder for a scheduler round trip per
		 * request (FCGX_Detach only clears that flag here). */
		if (t->clean && FCGX_HasSeenEOF(t->req.in))
			FCGX_Detach(&t->req);
		FCGX_Finish_r(&t->req);
	}
	free(rq->method);
	free(rq->content_length);
	free(rq->signature);
	free(rq->timestamp);
	free(rq->nonce);
	free(rq->body);
	memset(rq, 0, sizeof *rq);
}
