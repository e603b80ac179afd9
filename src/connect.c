/* connect.c: the long-connection loop: endpoint, dial, upgrade, ping,
 * reassemble, intake, ack, reconnect (doc/10-connect.md) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connect.h"
#include "crypto.h"
#include "frame.h"
#include "hook.h"
#include "http.h"
#include "intake.h"
#include "io.h"
#include "lark.h"
#include "log.h"
#include "ws.h"

#define ENDPOINT_PATH "/callback/ws/endpoint"
#define ENDPOINT_TIMEOUT_MS 15000
#define DIAL_TIMEOUT_MS 10000
#define UPGRADE_TIMEOUT_MS 10000
#define SEND_TIMEOUT_MS 10000
#define FRAGMENT_TTL_MS 5000	/* an incomplete set is dropped after this (Go SDK: 5 s) */
#define MAX_SETS 32		/* fragmented messages joined at once */
#define MAX_FRAGMENTS 1024	/* pieces of one message */
#define MAX_MESSAGE_ID 256
#define URL_MAX 4096
#define ACK_HOLD_MS 100		/* acks waiting for the rest of their read go out after this at most */
#define OUT_FLUSH (256 * 1024)	/* queued bytes that are sent at once */
#define MASKS 256		/* masking keys drawn from the system at once */

enum { CODE_OK = 0, CODE_BUSY = 1, CODE_INTERNAL = 1000040343, CODE_TOO_MANY = 1000040350 };

/* Feishu's ClientConfig in seconds; the SDKs' defaults until it speaks. */
struct timing {
	long ping, interval, nonce, count;
};

/* A fragmented message being joined (doc/10-connect.md §10.1, Data). */
struct set {
	char id[MAX_MESSAGE_ID + 1];	/* "" when the slot is free */
	int sum, have;
	size_t bytes;
	long long born;
	unsigned char **piece;
	size_t *len;
};

enum outcome { UP, RETRY, FATAL, STOPPED, LOST };

struct lc {
	const struct config *c;
	struct intake in;
	struct timing t;
	sigset_t waiting;		/* the signal mask while waiting */
	/* the connection */
	struct http_conn *conn;
	struct ws_rx rx;
	int32_t service;
	long long last_rx, last_ping;
	struct set sets[MAX_SETS];
	/* frames queued to go out in one write (flush) */
	unsigned char *out;
	size_t outlen, outcap;
	long long out_since;		/* when the oldest queued frame was queued */
	unsigned char masks[MASKS][4];	/* masking keys, one getrandom for many frames */
	int masks_left;
	int broken;			/* a send failed: the connection is lost */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* A fatal problem: to the log, and to standard error too when the log is
 * a file, so whoever started connect sees why it ended. */
#define SAY(...) do { \
	log_msg(__VA_ARGS__); \
	if (log_fd() != 2) { fprintf(stderr, "larkhook: " __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

/* Wait up to ms for fd (-1: none) to be ready for events, or for a
 * signal. The revents, 0 on timeout, -1 when a stop was asked for. */
static int
wait_for(struct lc *lc, int fd, short events, long long ms)
{
	struct pollfd p = { fd, events, 0 };
	struct timespec ts;

	if (ms < 0)
		ms = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	if (stop)
		return -1;
	if (ppoll(&p, fd >= 0 ? 1 : 0, &ts, &lc->waiting) < 0 && errno != EINTR)
		return 0;
	return stop ? -1 : p.revents;
}

/* A random number of milliseconds in [0, s seconds]. */
static long long
jitter(long s)
{
	uint32_t r = 0;

	if (s <= 0 || crypto_random((unsigned char *)&r, sizeof r))
		return 0;
	return (long long)(r % ((uint32_t)s * 1000 + 1));
}

static void
apply_timing(struct timing *t, const cJSON *cc)
{
	static const char *const names[] = { "PingInterval", "ReconnectInterval", "ReconnectNonce",
	                                     "ReconnectCount" };
	long *fields[] = { &t->ping, &t->interval, &t->nonce, &t->count };

	if (!cJSON_IsObject(cc))
		return;
	for (int i = 0; i < 4; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(cc, names[i]);

		/* bounded: a day at most, and a ping every second at most */
		if (cJSON_IsNumber(v) && v->valuedouble >= (i == 0 ? 1 : i == 3 ? -1 : 0) &&
		    v->valuedouble <= 86400)
			*fields[i] = (long)v->valuedouble;
	}
}

/* --- the endpoint ---------------------------------------------------------- */

/* The request body: {"AppID":…,"AppSecret":…}, the one place the secret
 * goes. Caller wipes and frees. */
static char *
credentials(const struct config *c)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (o && cJSON_AddStringToObject(o, "AppID", c->app_id) &&
	    cJSON_AddStringToObject(o, "AppSecret", c->app_secret))
		text = cJSON_PrintUnformatted(o);
	if (o) {
		cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "AppSecret");

		if (cJSON_IsString(s))
			explicit_bzero(s->valuestring, strlen(s->valuestring));
	}
	cJSON_Delete(o);
	return text;
}

/* What the endpoint answered: the URL into url, Feishu's timing applied. */
static enum outcome
endpoint_answer(struct lc *lc, const struct http_reply *r, char *url, size_t n)
{
	cJSON *root = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(data, "URL");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
	char m[4 * 200 + 8] = "";
	enum outcome o = RETRY;

	if (cJSON_IsString(msg))
		log_escape(m, sizeof m, msg->valuestring, strlen(msg->valuestring), 200);
	if (!cJSON_IsNumber(code)) {
		log_msg("connect: the endpoint's answer has no code; retrying");
	} else if (code->valuedouble == CODE_OK) {
		if (cJSON_IsString(u) && u->valuestring[0] && strlen(u->valuestring) < n) {
			strcpy(url, u->valuestring);
			apply_timing(&lc->t, cJSON_GetObjectItemCaseSensitive(data, "ClientConfig"));
			o = UP;
		} else
			log_msg("connect: the endpoint's answer has no usable URL; retrying");
	} else if (code->valuedouble == CODE_BUSY || code->valuedouble == CODE_INTERNAL) {
		log_msg("connect: the endpoint is busy (code %.0f, \"%s\"); retrying", code->valuedouble, m);
	} else {
		SAY("connect: Feishu refused the app: code %.0f, \"%s\"; check app_id and app_secret in "
		    "%s, and that the app is a self-built app", code->valuedouble, m, lc->c->file);
		o = FATAL;
	}
	cJSON_Delete(root);
	return o;
}

/* POST the credentials to {api_base}/callback/ws/endpoint. */
static enum outcome
endpoint(struct lc *lc, char *url, size_t n)
{
	static const char *const headers[] = { "locale: zh", "Content-Type: application/json", NULL };
	char where[URL_MAX], err[512];
	struct http_reply r;
	enum outcome o;
	char *body;
	int failed;

	snprintf(where, sizeof where, "%s" ENDPOINT_PATH, lc->c->api_base);
	if (!(body = credentials(lc->c))) {
		log_msg("connect: out of memory");
		return RETRY;
	}
	failed = http_request("POST", where, headers, body, strlen(body), ENDPOINT_TIMEOUT_MS, &r, err,
	                      sizeof err);
	explicit_bzero(body, strlen(body));
	cJSON_free(body);
	if (failed) {
		log_msg("connect: %s: %s; retrying", where, err);
		return RETRY;
	}
	if (r.status != 200) {
		log_msg("connect: %s answered HTTP %ld; retrying", where, r.status);
		o = RETRY;
	} else
		o = endpoint_answer(lc, &r, url, n);
	http_reply_free(&r);
	return o;
}

/* --- the WebSocket --------------------------------------------------------- */

/* Send all of buf within SEND_TIMEOUT_MS. 0 on success. */
static int
send_all(struct lc *lc, const void *buf, size_t n)
{
	long long deadline = hook_now_ms() + SEND_TIMEOUT_MS;
	const char *p = buf;

	while (n > 0) {
		ssize_t w = http_conn_send(lc->conn, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			long long left = deadline - hook_now_ms();
			struct pollfd pfd = { http_conn_fd(lc->conn), POLLOUT, 0 };

			/* poll, not wait_for: a stop waits for the frame being sent */
			if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
				return -1;
		} else
			return -1;
	}
	return 0;
}

/* The next masking key: RFC 6455 asks for a fresh unpredictable one per
 * frame; they are drawn from the system MASKS at a time. */
static int
next_mask(struct lc *lc, unsigned char mask[4])
{
	if (lc->masks_left == 0) {
		if (crypto_random(&lc->masks[0][0], sizeof lc->masks))
			return -1;
		lc->masks_left = MASKS;
	}
	memcpy(mask, lc->masks[--lc->masks_left], 4);
	explicit_bzero(lc->masks[lc->masks_left], 4);
	return 0;
}

/* Room for n more bytes at lc->out + lc->outlen. */
static int
out_room(struct lc *lc, size_t n)
{
	size_t want = lc->outlen + n;
	unsigned char *grown;

	if (want <= lc->outcap)
		return 0;
	if (want < 2 * lc->outcap)
		want = 2 * lc->outcap;
	if (!(grown = realloc(lc->out, want)))
		return -1;
	lc->out = grown;
	lc->outcap = want;
	return 0;
}

/* Make the events stored since the last flush durable together: one
 * fsync of new/ and one of seen/ (spool_commit). 0 when they are; -1 when
 * they were undone, and their acks may not be sent. */
static int
commit(struct lc *lc)
{
	struct spool *sp = &lc->in.spool;
	int failed = spool_commit(sp), e = errno;

	if (!failed && sp->undone == 0)
		return 0;
	log_msg("connect: %d stored events undone: new/ or seen/ cannot be made durable%s%s; their "
	        "acks are not sent, so Feishu delivers them again", sp->undone, failed ? ": " : "",
	        failed ? strerror(e) : "");
	sp->undone = 0;
	return -1;
}

/* Send every queued frame, in one write when the socket takes it. Before
 * that, the events stored since the last flush are made durable (commit:
 * when that fails, nothing queued is sent), the runner is kicked for them
 * (an ack never precedes its event's kick, as a webhook's answer does
 * not), and the log lines held for them are written. */
static int
flush(struct lc *lc)
{
	size_t n = lc->outlen;

	if (commit(lc))
		n = 0;
	intake_kick(&lc->in);
	log_release();
	lc->outlen = 0;
	if (lc->broken || (n && send_all(lc, lc->out, n)))
		lc->broken = 1;	/* a frame may be cut: nothing more can follow it */
	return lc->broken ? -1 : 0;
}

/* Queue a WebSocket frame of opcode op with payload p[0..n), masked; it
 * goes out with the next flush (at once when the queue is large). p may
 * be NULL with the payload already at its place in the queue (its offset
 * being lc->outlen + ws_head_len(n)), masked in place. */
static int
queue_ws(struct lc *lc, enum ws_opcode op, const void *p, size_t n)
{
	size_t head = ws_head_len(n);
	unsigned char mask[4];

	if (out_room(lc, n + head) || next_mask(lc, mask))
		return -1;
	if (lc->outlen == 0)
		lc->out_since = hook_now_ms();
	if (!p)
		p = lc->out + lc->outlen + head;
	lc->outlen += ws_frame(lc->out + lc->outlen, op, p, n, mask);
	return lc->outlen >= OUT_FLUSH ? flush(lc) : 0;
}

/* Queue frame f as one masked binary WebSocket message. */
static int
send_frame(struct lc *lc, const struct frame *f)
{
	size_t n = frame_size(f), head = ws_head_len(n);

	if (out_room(lc, n + head))
		return -1;
	/* encoded where queue_ws masks it in place (ws.h allows it) */
	frame_encode(f, lc->out + lc->outlen + head);
	return queue_ws(lc, WS_BINARY, NULL, n);
}

/* A WebSocket control frame (pong, close) with payload p[0..n), n <= 125,
 * queued behind what is queued already, and everything sent. */
static int
send_control(struct lc *lc, enum ws_opcode op, const void *p, size_t n)
{
	if (n > 125 || queue_ws(lc, op, p, n))
		return -1;
	return flush(lc);
}

static int
ping(struct lc *lc)
{
	struct frame f = { 0 };

	f.service = lc->service;
	f.method = FRAME_CONTROL;
	frame_add(&f, "type", "ping");
	lc->last_ping = hook_now_ms();
	return send_frame(lc, &f);
}

/* 1 for a host that is this machine: only there may ws:// go unencrypted. */
static int
loopback(const char *host)
{
	size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");

	return (n == 9 && strncmp(host, "localhost", 9) == 0) || (n == 5 && strncmp(host, "[::1]", 5) == 0) ||
	       strncmp(host, "127.", 4) == 0;
}

static int32_t
service_id(const char *target)
{
	char v[16], *end;
	long n;

	if (ws_query(target, "service_id", v, sizeof v))
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno || *end || n < INT32_MIN || n > INT32_MAX ? 0 : (int32_t)n;
}

/* A refused upgrade: fatal or worth another try (doc/10-connect.md §10.1). */
static enum outcome
refused(const struct ws_handshake *h, const char *host)
{
	long status = atol(h->hs_status);

	if (status == 514 && strcmp(h->hs_autherrcode, "1000040350") == 0) {
		SAY("connect: %s refused the connection: too many connections for this app "
		    "(Feishu allows 50): \"%s\"", host, h->hs_msg);
		return FATAL;
	}
	if (status == 403) {
		SAY("connect: %s refused the connection: forbidden: \"%s\"", host, h->hs_msg);
		return FATAL;
	}
	log_msg("connect: %s refused the upgrade: HTTP %d, Handshake-Status \"%s\", autherrcode \"%s\", "
	        "\"%s\"; retrying", host, h->status, h->hs_status, h->hs_autherrcode, h->hs_msg);
	return RETRY;
}

/* Read the answer to the upgrade; what follows it goes to lc->rx. */
static enum outcome
upgrade(struct lc *lc, const char *host, const char *key)
{
	long long deadline = hook_now_ms() + UPGRADE_TIMEOUT_MS;
	char buf[WS_RESPONSE_MAX];
	struct ws_handshake h;
	size_t len = 0;
	long head = 0;

	while (head == 0) {
		ssize_t r = http_conn_recv(lc->conn, buf + len, sizeof buf - len);
		int ready;

		if (r > 0) {
			len += (size_t)r;
			head = ws_response(buf, len, key, &h);
			continue;
		}
		if (r == 0 || errno != EAGAIN) {
			log_msg("connect: %s closed the connection during the upgrade; retrying", host);
			return RETRY;
		}
		ready = wait_for(lc, http_conn_fd(lc->conn), POLLIN, deadline - hook_now_ms());
		if (ready < 0)
			return STOPPED;
		if (ready == 0) {
			log_msg("connect: %s did not answer the upgrade in time; retrying", host);
			return RETRY;
		}
	}
	if (head < 0) {
		log_msg("connect: %s answered the upgrade with something else than HTTP; retrying", host);
		return RETRY;
	}
	if (h.refusal && h.status != 101)
		return refused(&h, host);
	if (h.refusal) {
		log_msg("connect: %s: %s; retrying", host, h.refusal);
		return RETRY;
	}
	if (ws_rx_feed(&lc->rx, buf + head, len - (size_t)head))
		return RETRY;
	return UP;
}

/* Dial the URL the endpoint gave and upgrade the connection. */
static enum outcome
dial(struct lc *lc, const char *url)
{
	char to[URL_MAX], host[512], target[URL_MAX], key[25], req[URL_MAX + 512], err[512];
	unsigned char rnd[16];
	enum outcome o;
	int n;

	/* the URL's query is its credential (a ticket): never logged */
	if (ws_url(url, to, sizeof to, host, sizeof host, target, sizeof target)) {
		log_msg("connect: the endpoint gave a URL that is not ws:// or wss://; retrying");
		return RETRY;
	}
	if (strncmp(url, "ws://", 5) == 0 && !loopback(host)) {
		log_msg("connect: the endpoint gave an unencrypted ws:// URL for %s; refused, retrying", host);
		return RETRY;
	}
	lc->service = service_id(target);
	if (!(lc->conn = http_dial(to, DIAL_TIMEOUT_MS, err, sizeof err))) {
		log_msg("connect: cannot reach %s: %s; retrying", host, err);
		return RETRY;
	}
	if (crypto_random(rnd, sizeof rnd) || ws_key(rnd, key))
		return RETRY;
	if ((n = ws_request(req, sizeof req, host, target, key)) < 0 || send_all(lc, req, (size_t)n)) {
		log_msg("connect: cannot send the upgrade to %s; retrying", host);
		return RETRY;
	}
	if ((o = upgrade(lc, host, key)) == UP)
		log_msg("connect: connected to %s (service_id %ld)", host, (long)lc->service);
	return o;
}

/* --- frames in ------------------------------------------------------------ */

static void
drop_set(struct set *s)
{
	for (int i = 0; s->piece && i < s->sum; i++)
		free(s->piece[i]);
	free(s->piece);
	free(s->len);
	memset(s, 0, sizeof *s);
}

/* The slot for message id: its set, a free one, or the oldest, emptied. */
static struct set *
find_set(struct lc *lc, const struct frame_str *id)
{
	struct set *free_slot = NULL, *oldest = &lc->sets[0];

	for (int i = 0; i < MAX_SETS; i++) {
		struct set *s = &lc->sets[i];

		if (!s->id[0]) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (strlen(s->id) == id->n && memcmp(s->id, id->p, id->n) == 0)
			return s;
		if (s->born < oldest->born)
			oldest = s;
	}
	if (free_slot)
		return free_slot;
	log_msg("connect: more than %d fragmented messages at once; dropped the oldest", MAX_SETS);
	drop_set(oldest);
	return oldest;
}

static void
expire_sets(struct lc *lc, long long now)
{
	for (int i = 0; i < MAX_SETS; i++)
		if (lc->sets[i].id[0] && now - lc->sets[i].born > FRAGMENT_TTL_MS) {
			log_msg("connect: dropped an incomplete fragmented message (%d of %d pieces after %d s)",
			        lc->sets[i].have, lc->sets[i].sum, FRAGMENT_TTL_MS / 1000);
			drop_set(&lc->sets[i]);
		}
}

/* Keep piece seq of sum of f's message. When it completes the set, the
 * joined payload (caller frees) and its length; NULL otherwise. */
static unsigned char *
join(struct lc *lc, const struct frame *f, int sum, int seq, size_t *len)
{
	const struct frame_str *id = frame_get(f, "message_id");
	unsigned char *all = NULL, *piece;
	struct set *s;
	size_t o = 0;

	if (!id || id->n == 0 || id->n > MAX_MESSAGE_ID || memchr(id->p, '\0', id->n)) {
		log_msg("connect: a fragment without a usable message_id; dropped");
		return NULL;
	}
	s = find_set(lc, id);
	if (s->id[0] && s->sum != sum)
		drop_set(s);	/* the same id with another count: start again */
	if (!s->id[0]) {
		if (!(s->piece = calloc((size_t)sum, sizeof *s->piece)) ||
		    !(s->len = calloc((size_t)sum, sizeof *s->len))) {
			drop_set(s);
			return NULL;
		}
		memcpy(s->id, id->p, id->n);
		s->sum = sum;
		s->born = hook_now_ms();
	}
	if (s->bytes - s->len[seq] + f->payload.n > lc->c->max_body) {
		log_msg("connect: a fragmented message over max_body; dropped");
		drop_set(s);
		return NULL;
	}
	if (!(piece = malloc(f->payload.n ? f->payload.n : 1)))
		return NULL;
	if (f->payload.n)
		memcpy(piece, f->payload.p, f->payload.n);
	s->have += !s->piece[seq];
	s->bytes += f->payload.n - s->len[seq];
	free(s->piece[seq]);
	s->piece[seq] = piece;
	s->len[seq] = f->payload.n;
	if (s->have < s->sum)
		return NULL;
	if ((all = malloc(s->bytes ? s->bytes : 1)))
		for (int i = 0; i < s->sum; i++) {
			memcpy(all + o, s->piece[i], s->len[i]);
			o += s->len[i];
		}
	*len = o;
	drop_set(s);
	return all;
}

/* A small non-negative decimal header, or dflt when absent or malformed. */
static int
header_int(const struct frame *f, const char *key, int dflt)
{
	const struct frame_str *v = frame_get(f, key);
	int n = 0;

	if (!v || v->n == 0 || v->n > 6)
		return dflt;
	for (size_t i = 0; i < v->n; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return dflt;
		n = n * 10 + (v->p[i] - '0');
	}
	return n;
}

/* The event through the webhook's pipeline from classification on: the
 * ack's code, and *answer a reply hook's JSON (caller frees) or NULL. */
static int
deliver(struct lc *lc, const unsigned char *json, size_t len, char **answer)
{
	struct lark_event ev;
	const char *reason;
	enum status st;

	*answer = NULL;
	/* the SDKs check no token on this authenticated channel */
	st = lark_classify_plain(lc->c, (const char *)json, len, 0, &ev);
	reason = ev.reason;
	if (st == ST_OK && !ev.challenge) {
		const struct hook *h = cfg_route(lc->c, ev.type);

		/* a reply hook may take its whole timeout: what the read stored
		 * so far is committed and acked first, not held behind it */
		if (h && h->reply) {
			flush(lc);	/* a failed send: the read's end finds it (broken) */
			log_hold();
		}
		st = intake_event(&lc->in, &ev, answer, &reason);
	}
	log_request((int)st, reason, ev.said_type, ev.said_id);
	lark_event_free(&ev);
	if (st == ST_OK)
		return 200;
	free(*answer);
	*answer = NULL;
	return st < 500 ? (int)st : 500;
}


/* The ack: f with every header it came with, biz_rt, and the code. Queued
 * only now, after deliver stored the event durably; it goes out with the
 * other acks of the same read (readable), or once it has waited
 * ACK_HOLD_MS. */
static int
ack(struct lc *lc, const struct frame *f, int code, const char *answer, long long ms)
{
	struct frame a = *f;
	char rt[24], plain[32], *b64 = NULL, *payload = plain;
	int rc = -1, n;

	rt[io_decimal(rt, ms, 1)] = '\0';
	frame_add(&a, "biz_rt", rt);	/* frame.h keeps a spare slot for it */
	if (answer) {
		if (!(b64 = crypto_b64encode((const unsigned char *)answer, strlen(answer))))
			return -1;
		if (!(payload = malloc(64 + strlen(b64))))
			goto out;
		n = sprintf(payload, "{\"code\":%d,\"data\":\"%s\"}", code, b64);
	} else {
		/* {"code":N}, the usual ack, without a format or an allocation */
		memcpy(plain, "{\"code\":", 8);
		n = 8 + (int)io_decimal(plain + 8, code, 1);
		plain[n++] = '}';
	}
	a.payload = (struct frame_str){ payload, (size_t)n };
	rc = send_frame(lc, &a);
	if (rc == 0 && lc->outlen && hook_now_ms() - lc->out_since >= ACK_HOLD_MS) {
		rc = flush(lc);
		log_hold();	/* the rest of the read: readable releases */
	}
out:
	if (payload != plain)
		free(payload);
	free(b64);
	return rc;
}

/* A data frame: an event or a card callback, whole or a fragment. */
static int
data(struct lc *lc, const struct frame *f)
{
	const struct frame_str *type = frame_get(f, "type");
	int sum = header_int(f, "sum", 1), seq = header_int(f, "seq", 0), code, rc;
	const unsigned char *payload = (const unsigned char *)f->payload.p;
	size_t len = f->payload.n;
	unsigned char *joined = NULL;
	long long start = hook_now_ms();
	char *answer;

	if (!frame_is(type, "event") && !frame_is(type, "card")) {
		log_msg("connect: ignored a data frame that is neither an event nor a card callback");
		return 0;
	}
	if (sum > 1) {
		if (f->cut) {
			log_msg("connect: a fragment over the size limit; dropped");
			return 0;
		}
		if (sum > MAX_FRAGMENTS || seq >= sum) {
			log_msg("connect: a fragment %d of %d is out of bounds; dropped", seq, sum);
			return 0;
		}
		if (!(joined = join(lc, f, sum, seq, &len)))
			return 0;
		payload = joined;
	} else if (f->cut || len > lc->c->max_body) {
		/* as a webhook's body over max_body: 413, and nothing stored (a
		 * message over the WebSocket limit came cut: its head is enough
		 * for the ack, and Feishu is not made to send it forever) */
		log_request(ST_TOO_LARGE, "event over max_body", NULL, NULL);
		return ack(lc, f, ST_TOO_LARGE, NULL, 0);
	}
	code = deliver(lc, payload ? payload : (const unsigned char *)"", len, &answer);
	rc = ack(lc, f, code, answer, hook_now_ms() - start);
	free(answer);
	free(joined);
	return rc;
}

static void
control(struct lc *lc, const struct frame *f)
{
	cJSON *cc;

	if (!frame_is(frame_get(f, "type"), "pong") || !f->payload.p || !f->payload.n)
		return;
	/* a pong may carry the ClientConfig to use from now on */
	if ((cc = cJSON_ParseWithLength(f->payload.p, f->payload.n))) {
		apply_timing(&lc->t, cc);
		cJSON_Delete(cc);
	}
}

/* One WebSocket message: a pbbp2 frame. -1 when the connection failed. */
static int
message(struct lc *lc, const struct ws_event *ev)
{
	const char *why = NULL;
	struct frame f;

	if (ev->text) {
		log_msg("connect: ignored a text message (frames are binary)");
		return 0;
	}
	if ((ev->cut ? frame_decode_cut : frame_decode)(ev->data, ev->len, &f, &why)) {
		log_msg("connect: ignored a frame that does not decode%s: %s",
		        ev->cut ? " (cut at the size limit)" : "", why);
		return 0;
	}
	f.cut |= ev->cut;	/* cut past its payload: the frame is still over the limit */
	if (f.method == FRAME_CONTROL) {
		if (f.cut)
			return 0;
		control(lc, &f);
		return 0;
	}
	return f.method == FRAME_DATA ? data(lc, &f) : 0;
}

/* Every event in the bytes received so far. -1 when the connection is over. */
static int
events(struct lc *lc)
{
	struct ws_event ev;
	const char *why = NULL;
	int rc;

	while ((rc = ws_rx_next(&lc->rx, &ev, &why)) == 1) {
		switch (ev.kind) {
		case WS_MESSAGE:
			if (message(lc, &ev))
				return -1;
			break;
		case WS_GOT_PING:
			if (send_control(lc, WS_PONG, ev.data, ev.len))
				return -1;
			break;
		case WS_GOT_PONG:
			break;
		case WS_GOT_CLOSE:
			log_msg("connect: the server closed the connection (code %d); reconnecting", ev.close_code);
			send_control(lc, WS_CLOSE, ev.data, ev.len >= 2 ? 2 : 0);
			return -1;
		}
	}
	if (rc < 0) {
		log_msg("connect: WebSocket protocol error: %s; reconnecting", why);
		return -1;
	}
	return 0;
}

/* Read what is there. The events of one read are stored one after the
 * other, and their acks then leave together in one write: an ack is
 * queued only after its event is durable, so none can leave before.
 * -1 when the connection is over. */
static int
readable(struct lc *lc)
{
	unsigned char buf[65536];
	int bad;

	for (;;) {
		ssize_t r = http_conn_recv(lc->conn, buf, sizeof buf);

		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r <= 0) {
			log_msg("connect: the connection %s; reconnecting", r == 0 ? "was closed" : "failed");
			return -1;
		}
		lc->last_rx = hook_now_ms();
		log_hold();	/* the read's log lines go out in one write too */
		bad = ws_rx_feed(&lc->rx, buf, (size_t)r) || events(lc);
		if (flush(lc) || bad)
			return -1;
	}
}

/* Silence for longer than this means the connection is dead. */
static long long
dead_after(const struct timing *t)
{
	long margin = t->ping < 2 ? 2 : t->ping > 30 ? 30 : t->ping;

	return (long long)(t->ping + margin) * 1000;
}

static long long
earliest(const struct lc *lc, long long now)
{
	long long next = lc->last_ping + (long long)lc->t.ping * 1000;
	long long dead = lc->last_rx + dead_after(&lc->t);

	if (dead < next)
		next = dead;
	for (int i = 0; i < MAX_SETS; i++)
		if (lc->sets[i].id[0] && lc->sets[i].born + FRAGMENT_TTL_MS + 1 < next)
			next = lc->sets[i].born + FRAGMENT_TTL_MS + 1;
	return next - now;
}

/* Hold the connection: ping, read, answer, until it is lost or a stop. */
static enum outcome
serve(struct lc *lc)
{
	int fd = http_conn_fd(lc->conn);

	lc->last_rx = hook_now_ms();
	if (ping(lc) || events(lc) || flush(lc))	/* a ping at once; frames that came with the 101 */
		return LOST;
	for (;;) {
		long long now = hook_now_ms();
		int ready;

		if (now - lc->last_rx > dead_after(&lc->t)) {
			log_msg("connect: nothing received for %llds; the connection is presumed dead; "
			        "reconnecting", (now - lc->last_rx) / 1000);
			return LOST;
		}
		if (now >= lc->last_ping + (long long)lc->t.ping * 1000 && (ping(lc) || flush(lc)))
			return LOST;
		expire_sets(lc, now);
		ready = wait_for(lc, fd, POLLIN, earliest(lc, hook_now_ms()));
		if (ready < 0) {
			send_control(lc, WS_CLOSE, "\x03\xe8", 2);	/* 1000: going away cleanly */
			return STOPPED;
		}
		if (ready && readable(lc))
			return LOST;
	}
}

static void
hang_up(struct lc *lc)
{
	http_conn_close(lc->conn);
	lc->conn = NULL;
	lc->broken = 0;
	/* what a lost connection did not take: Feishu redelivers; what was
	 * stored meanwhile is made durable and run all the same */
	lc->outlen = 0;
	commit(lc);
	intake_kick(&lc->in);
	log_release();
	ws_rx_free(&lc->rx);
	for (int i = 0; i < MAX_SETS; i++)
		drop_set(&lc->sets[i]);
}

static enum outcome
attempt(struct lc *lc)
{
	char url[URL_MAX];
	enum outcome o = endpoint(lc, url, sizeof url);

	if (o == UP)
		o = dial(lc, url);
	if (o == UP)
		o = serve(lc);
	explicit_bzero(url, sizeof url);
	hang_up(lc);
	return o;
}

int
connect_run(struct config *c)
{
	struct lc lc = {
		.c = c, .in = { c, SPOOL_INIT(c->spool), -1, 1, 0 },
		.t = { 120, 120, 30, -1 },	/* the SDKs' defaults */
		.rx = WS_RX_INIT(c->max_body + 65536),
	};
	struct sigaction sa;
	sigset_t block;
	char err[512];
	int jittered = 0, rc = 1;
	long long wait = 0;

	if (http_init(err, sizeof err)) {
		SAY("connect: %s", err);
		return 78;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* the signals stay blocked but while waiting: a stop never interrupts
	 * an event between its store and its ack */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &lc.waiting);
	lc.in.spool.hold = 1;	/* group commit: flush */
	sigdelset(&lc.waiting, SIGTERM);
	sigdelset(&lc.waiting, SIGINT);
	spool_prepare(c->spool);
	log_msg("connect: starting for app %s at %s", c->app_id, c->api_base);
	for (;;) {
		enum outcome o;

		if (wait && wait_for(&lc, -1, 0, wait) < 0) {
			rc = 0;
			break;
		}
		o = attempt(&lc);
		if (o == FATAL || o == STOPPED) {
			rc = o == FATAL ? 1 : 0;
			break;
		}
		/* Feishu's rule: a random 0..ReconnectNonce s first, then
		 * ReconnectInterval between attempts; larkhook never gives up,
		 * whatever ReconnectCount says, and waits at least 1 s so that a
		 * server closing every connection at once is not hammered */
		if (o == LOST || !jittered) {
			wait = jitter(lc.t.nonce);
			jittered = 1;
		} else
			wait = lc.t.interval * 1000LL;
		if (wait < 1000)
			wait = 1000;
		log_msg("connect: next attempt in %lld ms", wait);
	}
	log_msg("connect: %s", rc ? "stopped by a fatal answer" : "stopped by a signal");
	free(lc.out);
	spool_close(&lc.in.spool);
	if (lc.in.runner_lock >= 0)
		close(lc.in.runner_lock);
	return rc;
}
