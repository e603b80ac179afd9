/* http.h: HTTPS through libcurl, loaded with dlopen("libcurl.so.4") on first
 * use and never linked: linking it would cost every CGI request the start-up
 * of libcurl's dependencies, a hundred times larkhook's whole budget.
 * TLS is verified (libcurl's defaults), https_proxy / no_proxy are honoured
 * (libcurl reads them), redirects are never followed, every call has a
 * deadline. */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP_REPLY_MAX (16 << 20)	/* bytes of a reply body kept */

/* Load libcurl (once per process). 0 on success; -1 with a message in err
 * (libcurl missing, or larkhook-static, which cannot load libraries).
 * Callers exit 78 then: it is the installation, not the network. */
int http_init(char *err, size_t n);

struct http_reply {
	long status;		/* the HTTP status */
	char *body;		/* NUL-terminated, malloc'd */
	size_t len;
	long ratelimit_reset;	/* x-ogw-ratelimit-reset in seconds, or -1 */
};

/* One request: method ("GET", "POST", ...) to url with the extra header
 * lines headers (NULL-terminated array, or NULL) and body[0..len) (NULL:
 * none), all of it within timeout_ms. 0 when an HTTP answer came (any
 * status; free r with http_reply_free); -1 on a transport error (DNS,
 * connect, TLS, timeout, a reply over HTTP_REPLY_MAX) with err set and r
 * empty. Calls http_init itself. */
int http_request(const char *method, const char *url, const char *const *headers,
                 const char *body, size_t len, long timeout_ms, struct http_reply *r,
                 char *err, size_t n);

void http_reply_free(struct http_reply *r);

/* A raw connection for a protocol of one's own on top (the long
 * connection's WebSocket): url is https://host[:port]/... (or http:// for
 * a test on loopback); libcurl connects, goes through the proxy when one is
 * set, does the TLS handshake with verification, and hands the stream over.
 * NULL with err set on failure; free with http_conn_close. */
struct http_conn *http_dial(const char *url, long timeout_ms, char *err, size_t n);

/* The socket, to poll(2) for readability (it is non-blocking). */
int http_conn_fd(struct http_conn *c);

/* Send or receive through TLS. The number of bytes moved; -1 with errno
 * EAGAIN when it would block, or another errno on failure; recv returns 0
 * when the peer closed. */
ssize_t http_conn_send(struct http_conn *c, const void *buf, size_t n);
ssize_t http_conn_recv(struct http_conn *c, void *buf, size_t n);

void http_conn_close(struct http_conn *c);

#endif
