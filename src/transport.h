/* transport.h: CGI and FastCGI in and out; the only user of libfcgi */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stddef.h>

#include "status.h"

struct transport;

/* What one request brought; strings are copies owned by the transport and
 * valid until tr_finish. Absent parameters are NULL. */
struct request {
	char *method, *content_length;
	char *signature, *timestamp, *nonce;
	char *body;		/* NUL-terminated, body_len bytes */
	size_t body_len;
};

struct response {
	enum status status;
	const char *extra_headers;	/* "Name: value\r\n" lines, or NULL */
	const char *body;
};

/* 1 when fd 0 is a listening socket, the FastCGI convention (the test
 * libfcgi makes: getpeername fails with ENOTCONN). */
int tr_is_fastcgi(void);

/* Start serving: fastcgi selects libfcgi, otherwise one CGI request. NULL
 * on failure. Free with tr_close. */
struct transport *tr_open(int fastcgi);
void tr_close(struct transport *t);

/* Wait for the next request. 1 when there is one, 0 when serving is over. */
int tr_accept(struct transport *t, struct request *rq);

/* Read the body per doc/1-flow.md §1.2 step 2 into rq: at most max_body bytes,
 * within timeout seconds. The announced body is always consumed (or the
 * deadline passes). ST_OK, or the status to answer with *reason set. */
enum status tr_read_body(struct transport *t, struct request *rq, size_t max_body,
                         unsigned timeout, const char **reason);

/* Send the response for the current request. */
void tr_respond(struct transport *t, const struct response *r);

/* End the current request and release its copies. */
void tr_finish(struct transport *t, struct request *rq);

#endif
