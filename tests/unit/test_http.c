/* test_http.c: src/http.c against a one-connection server forked per case on
 * 127.0.0.1: libcurl loaded at run time, headers and body sent, the reply
 * and x-ogw-ratelimit-reset kept, redirects not followed, the size cap, a
 * deadline, only http(s), and a raw CONNECT_ONLY connection */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "http.h"

enum mode { ECHO_429, REDIRECT, HUGE, HUGE_EOF, SILENT, RAW_ECHO };

static int port;

static void
put(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			_exit(1);
		s += w;
		n -= (size_t)w;
	}
}

/* Read one HTTP request (headers, then Content-Length bytes) into buf. */
static size_t
request(int fd, char *buf, size_t cap)
{
	size_t n = 0, want = 0;
	char *end = NULL, *cl;
	ssize_t r;

	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "\r\ncontent-length:");
			want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (end && n >= want)
			break;
	}
	return n;
}

static void
serve(int lfd, enum mode m)
{
	char buf[65536], head[256];
	int fd = accept(lfd, NULL, NULL);
	size_t n;

	if (fd < 0)
		_exit(1);
	if (m == RAW_ECHO) {
		ssize_t r = read(fd, buf, sizeof buf);

		put(fd, "pong:", 5);
		put(fd, buf, r > 0 ? (size_t)r : 0);
		_exit(0);
	}
	n = request(fd, buf, sizeof buf);
	if (m == SILENT) {
		pause();
		_exit(0);
	}
	if (m == REDIRECT) {
		snprintf(head, sizeof head, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/elsewhere\r\n"
		         "Content-Length: 2\r\nConnection: close\r\n\r\n{}", port);
		put(fd, head, strlen(head));
		_exit(0);
	}
	if (m == HUGE || m == HUGE_EOF) {
		static char chunk[65536];

		/* HUGE_EOF: no length announced, so only the running count can stop it */
		if (m == HUGE)
			snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
			         "Connection: close\r\n\r\n", HTTP_REPLY_MAX + 1);
		else
			snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\n\r\n");
		put(fd, head, strlen(head));
		memset(chunk, 'x', sizeof chunk);
		for (long left = HTTP_REPLY_MAX + 1L; left > 0; left -= (long)sizeof chunk)
			put(fd, chunk, left < (long)sizeof chunk ? (size_t)left : sizeof chunk);
		_exit(0);
	}
	snprintf(head, sizeof head, "HTTP/1.1 429 Too Many Requests\r\nX-Ogw-Ratelimit-Reset: 7\r\n"
	         "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
	put(fd, head, strlen(head));
	put(fd, buf, n);
	_exit(0);
}

/* A server for one connection in a child; its pid. */
static pid_t
server(enum mode m)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len)) {
		printf("FAIL - cannot listen on 127.0.0.1: %s\n", strerror(errno));
		exit(1);
	}
	port = ntohs(a.sin_port);
	fflush(stdout);
	if ((pid = fork()) == 0)
		serve(lfd, m);
	close(lfd);
	return pid;
}

static void
stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int
main(void)
{
	const char *headers[] = { "Content-Type: application/json; charset=utf-8",
	                          "Authorization: Bearer t-abc", NULL };
	struct http_reply r;
	struct http_conn *c;
	char url[128], err[512] = "", buf[64];
	pid_t pid;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	CHECK(http_init(err, sizeof err) == 0, "libcurl.so.4 loads at run time %s", err);

	pid = server(ECHO_429);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/open-apis/x?a=1", port);
	rc = http_request("POST", url, headers, "{\"k\":1}", 7, 5000, &r, err, sizeof err);
	CHECK(rc == 0 && r.status == 429, "an HTTP answer: status 429 (%ld) %s", r.status, rc ? err : "");
	CHECK(rc == 0 && r.ratelimit_reset == 7, "x-ogw-ratelimit-reset kept (%ld)", r.ratelimit_reset);
	CHECK(rc == 0 && strstr(r.body, "POST /open-apis/x?a=1 HTTP/1.1\r\n"), "method, path and query sent");
	CHECK(rc == 0 && strstr(r.body, "\r\nAuthorization: Bearer t-abc\r\n") &&
	      strstr(r.body, "\r\nContent-Type: application/json; charset=utf-8\r\n"), "the extra headers sent");
	CHECK(rc == 0 && strstr(r.body, "\r\n\r\n{\"k\":1}"), "the body sent");
	CHECK(rc == 0 && !strcasestr(r.body, "\r\nExpect:"), "no Expect: 100-continue");
	CHECK(rc == 0 && strcasestr(r.body, "\r\nUser-Agent: larkhook/"), "User-Agent larkhook/VERSION");
	CHECK(rc == 0 && r.len == strlen(r.body), "len matches the NUL-terminated body");
	http_reply_free(&r);
	stop(pid);

	pid = server(ECHO_429);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/g", port);
	rc = http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err);
	CHECK(rc == 0 && strstr(r.body, "GET /g HTTP/1.1\r\n") && !strcasestr(r.body, "content-length"),
	      "GET without a body %s", rc ? err : "");
	http_reply_free(&r);
	stop(pid);

	pid = server(REDIRECT);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/r", port);
	rc = http_request("GET", url, NULL, NULL, 0, 5000, &r, err, sizeof err);
	CHECK(rc == 0 && r.status == 302 && strcmp(r.body, "{}") == 0, "a redirect is answered, not followed");
	CHECK(r.ratelimit_reset == -1, "no x-ogw-ratelimit-reset: -1");
	http_reply_free(&r);
	stop(pid);

	pid = server(HUGE);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/h", port);
	rc = http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err);
	CHECK(rc == -1 && strstr(err, "larger than") && !r.body, "a reply announced over the cap is refused: %s",
	      err);
	stop(pid);
	pid = server(HUGE_EOF);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/h", port);
	rc = http_request("GET", url, NULL, NULL, 0, 20000, &r, err, sizeof err);
	CHECK(rc == -1 && strstr(err, "larger than") && !r.body, "a reply growing over the cap is cut: %s", err);
	stop(pid);

	pid = server(SILENT);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/s", port);
	rc = http_request("GET", url, NULL, NULL, 0, 300, &r, err, sizeof err);
	CHECK(rc == -1 && !r.body, "a server that never answers: the deadline ends the call: %s", err);
	stop(pid);

	rc = http_request("GET", "file:///etc/passwd", NULL, NULL, 0, 1000, &r, err, sizeof err);
	CHECK(rc == -1, "file:// is refused: %s", err);
	rc = http_request("GET", "http://127.0.0.1:1/", NULL, NULL, 0, 1000, &r, err, sizeof err);
	CHECK(rc == -1 && err[0], "connection refused is a transport error: %s", err);

	pid = server(RAW_ECHO);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/ws", port);
	c = http_dial(url, 5000, err, sizeof err);
	CHECK(c && http_conn_fd(c) >= 0, "http_dial: a raw connection %s", c ? "" : err);
	if (c) {
		struct pollfd p = { http_conn_fd(c), POLLIN, 0 };
		size_t got = 0;
		ssize_t n = -1;

		CHECK(http_conn_send(c, "ping", 4) == 4, "http_conn_send sends");
		while (got < 9 && poll(&p, 1, 5000) == 1) {
			n = http_conn_recv(c, buf + got, sizeof buf - got);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		CHECK(got == 9 && memcmp(buf, "pong:ping", 9) == 0, "http_conn_recv receives the answer");
		while (poll(&p, 1, 5000) == 1 && (n = http_conn_recv(c, buf, sizeof buf)) < 0 && errno == EAGAIN)
			;
		CHECK(n == 0, "http_conn_recv: 0 when the peer closed");
		http_conn_close(c);
	}
	stop(pid);
	c = http_dial("http://127.0.0.1:1/", 1000, err, sizeof err);
	CHECK(!c && err[0], "http_dial: a refused connection is an error: %s", err);
	return t_done();
}
