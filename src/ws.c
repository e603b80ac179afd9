/* ws.c: RFC 6455 client framing: the upgrade request and its answer,
 * masked frames out, unmasked server frames in with fragments joined */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* 1 for bytes allowed in a URL we pass on: printable ASCII but space */
static int
urlsafe(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
put(char *out, size_t n, const char *a, size_t an, const char *b, size_t bn)
{
	if (an + bn + 1 > n)
		return -1;
	memcpy(out, a, an);
	memcpy(out + an, b, bn);
	out[an + bn] = '\0';
	return 0;
}

int
ws_url(const char *url, char *dial, size_t dialn, char *host, size_t hostn, char *target,
       size_t targetn)
{
	const char *scheme, *auth;
	size_t alen;

	if (strncmp(url, "wss://", 6) == 0) {
		scheme = "https://";
		auth = url + 6;
	} else if (strncmp(url, "ws://", 5) == 0) {
		scheme = "http://";
		auth = url + 5;
	} else
		return -1;
	alen = strcspn(auth, "/?#");
	if (alen == 0 || memchr(auth, '@', alen) || !urlsafe(url, strlen(url)))
		return -1;
	if (put(host, hostn, auth, alen, "", 0) || put(dial, dialn, scheme, strlen(scheme), auth, alen) ||
	    strlen(dial) + 2 > dialn)
		return -1;
	strcat(dial, "/");
	if (auth[alen] == '#' || !auth[alen])
		return put(target, targetn, "/", 1, "", 0);
	/* a fragment is not sent */
	return put(target, targetn, auth[alen] == '?' ? "/" : "", auth[alen] == '?',
	           auth + alen, strcspn(auth + alen, "#"));
}

int
ws_query(const char *target, const char *name, char *out, size_t n)
{
	const char *q = strchr(target, '?');
	size_t len = strlen(name);

	while (q) {
		q++;
		if (strncmp(q, name, len) == 0 && q[len] == '=') {
			q += len + 1;
			return put(out, n, q, strcspn(q, "&#"), "", 0);
		}
		q = strchr(q, '&');
	}
	return -1;
}

int
ws_key(const unsigned char rnd[16], char key[25])
{
	char *b64 = crypto_b64encode(rnd, 16);

	if (!b64)
		return -1;
	memcpy(key, b64, 25);	/* 24 digits and the NUL */
	free(b64);
	return 0;
}

int
ws_accept(const char *key, char out[29])
{
	char buf[128];
	unsigned char md[20];
	char *b64;
	int n = snprintf(buf, sizeof buf, "%s" WS_GUID, key);

	if (n < 0 || (size_t)n >= sizeof buf || crypto_sha1(buf, (size_t)n, md) ||
	    !(b64 = crypto_b64encode(md, sizeof md)))
		return -1;
	memcpy(out, b64, 28);
	out[28] = '\0';
	free(b64);
	return 0;
}

int
ws_request(char *out, size_t n, const char *host, const char *target, const char *key)
{
	int len = snprintf(out, n,
	                   "GET %s HTTP/1.1\r\n"
	                   "Host: %s\r\n"
	                   "Upgrade: websocket\r\n"
	                   "Connection: Upgrade\r\n"
	                   "Sec-WebSocket-Key: %s\r\n"
	                   "Sec-WebSocket-Version: 13\r\n"
	                   "User-Agent: larkhook\r\n"
	                   "\r\n",
	                   target, host, key);

	return len < 0 || (size_t)len >= n ? -1 : len;
}

/* 1 when the comma-separated list v[0..n) holds token (any case). */
static int
has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);

	while (n > 0) {
		size_t item = 0, t;

		while (n > 0 && (*v == ' ' || *v == '\t' || *v == ',')) {
			v++;
			n--;
		}
		while (item < n && v[item] != ',')
			item++;
		for (t = item; t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'); t--)
			;
		if (t == tl && strncasecmp(v, token, tl) == 0)
			return 1;
		v += item;
		n -= item;
	}
	return 0;
}

static void
copy_value(char *out, size_t n, const char *v, size_t vn)
{
	if (vn >= n)
		vn = n - 1;
	memcpy(out, v, vn);
	out[vn] = '\0';
	for (size_t i = 0; i < vn; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

/* What one header line says about the upgrade. */
struct upgrade {
	int upgrade, connection, accept, extra;
};

static void
header_line(const char *line, size_t n, const char *want, struct upgrade *u, struct ws_handshake *h)
{
	const char *colon = memchr(line, ':', n);
	size_t name, vn;
	const char *v;

	if (!colon)
		return;
	name = (size_t)(colon - line);
	v = colon + 1;
	vn = n - name - 1;
	while (vn && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
#define IS(s) (name == sizeof s - 1 && strncasecmp(line, s, name) == 0)
	if (IS("Upgrade"))
		u->upgrade = vn == 9 && strncasecmp(v, "websocket", 9) == 0;
	else if (IS("Connection"))
		u->connection = has_token(v, vn, "upgrade");
	else if (IS("Sec-WebSocket-Accept"))
		u->accept = vn == 28 && memcmp(v, want, 28) == 0;
	else if (IS("Sec-WebSocket-Extensions") || IS("Sec-WebSocket-Protocol"))
		u->extra = 1;	/* none was asked for */
	else if (IS("Handshake-Status"))
		copy_value(h->hs_status, sizeof h->hs_status, v, vn);
	else if (IS("Handshake-Autherrcode"))
		copy_value(h->hs_autherrcode, sizeof h->hs_autherrcode, v, vn);
	else if (IS("Handshake-Msg"))
		copy_value(h->hs_msg, sizeof h->hs_msg, v, vn);
#undef IS
}

long
ws_response(const char *buf, size_t len, const char *key, struct ws_handshake *h)
{
	struct upgrade u = { 0 };
	const char *end = NULL, *p, *eol;
	char want[29];
	int status;

	memset(h, 0, sizeof *h);
	for (size_t i = 0; i + 3 < len && i + 4 <= WS_RESPONSE_MAX; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i + 4;
			break;
		}
	if (!end)
		return len >= WS_RESPONSE_MAX ? -1 : 0;
	if (ws_accept(key, want))
		return -1;
	if (len < 13 || (memcmp(buf, "HTTP/1.1 ", 9) != 0 && memcmp(buf, "HTTP/1.0 ", 9) != 0))
		return -1;
	status = 0;
	for (p = buf + 9; p < buf + 12; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		status = status * 10 + (*p - '0');
	}
	if (*p != ' ' && *p != '\r')
		return -1;
	h->status = status;
	p = memchr(buf, '\n', (size_t)(end - buf));
	if (p[-1] != '\r')
		return -1;	/* lines end with CRLF */
	p++;
	for (; p < end - 2; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol - p < 1 || eol[-1] != '\r')
			return -1;	/* lines end with CRLF */
		header_line(p, (size_t)(eol - 1 - p), want, &u, h);
	}
	if (status != 101)
		h->refusal = "the server refused the upgrade";
	else if (!u.upgrade || !u.connection)
		h->refusal = "101 without Upgrade: websocket and Connection: Upgrade";
	else if (!u.accept)
		h->refusal = "Sec-WebSocket-Accept missing or wrong";
	else if (u.extra)
		h->refusal = "an extension or subprotocol that was not asked for";
	return (long)(end - buf);
}

size_t
ws_head_len(size_t n)
{
	return 2 + (n < 126 ? 0 : n <= 0xffff ? 2 : 8) + 4;
}

size_t
ws_frame(unsigned char *out, enum ws_opcode op, const void *p, size_t n,
         const unsigned char mask[4])
{
	const unsigned char *in = p;
	size_t o = 0;

	out[o++] = (unsigned char)(0x80 | op);
	if (n < 126)
		out[o++] = (unsigned char)(0x80 | n);
	else if (n <= 0xffff) {
		out[o++] = 0x80 | 126;
		out[o++] = (unsigned char)(n >> 8);
		out[o++] = (unsigned char)n;
	} else {
		out[o++] = 0x80 | 127;
		for (int s = 56; s >= 0; s -= 8)
			out[o++] = (unsigned char)((uint64_t)n >> s);
	}
	memcpy(out + o, mask, 4);
	o += 4;
	/* byte by byte, not memcpy: in is allowed to be out + o */
	for (size_t i = 0; i < n; i++)
		out[o + i] = in[i] ^ mask[i & 3];
	return o + n;
}

int
ws_rx_feed(struct ws_rx *rx, const void *p, size_t n)
{
	size_t pending = rx->len - rx->off;
	unsigned char *grown;

	/* connect.c drains every event before it feeds again, so what stays
	 * pending is less than one frame; far more is a caller's bug */
	if (pending + n > 2 * rx->max + 2 * WS_FRAME_HEAD + 1048576)
		return -1;
	if (rx->off) {
		memmove(rx->buf, rx->buf + rx->off, pending);
		rx->off = 0;
		rx->len = pending;
	}
	if (rx->len + n > rx->cap) {
		size_t cap = rx->cap ? rx->cap : 65536;

		while (cap < rx->len + n)
			cap *= 2;
		if (!(grown = realloc(rx->buf, cap)))
			return -1;
		rx->buf = grown;
		rx->cap = cap;
	}
	if (n)
		memcpy(rx->buf + rx->len, p, n);
	rx->len += n;
	return 0;
}

static int
fail(const char **reason, const char *why)
{
	*reason = why;
	return -1;
}

/* A complete frame's header at b[0..n): 1 when whole, 0 when more bytes
 * are needed, -1 when malformed. */
struct head {
	int fin, op;
	size_t hlen;
	uint64_t plen;
};

static int
head(const unsigned char *b, size_t n, struct head *h, const char **reason)
{
	if (n < 2)
		return 0;
	h->fin = b[0] >> 7;
	h->op = b[0] & 15;
	if (b[0] & 0x70)
		return fail(reason, "reserved bits set (no extension was agreed)");
	if (b[1] & 0x80)
		return fail(reason, "a masked frame from the server");
	h->plen = b[1] & 127;
	h->hlen = 2;
	if (h->plen == 126) {
		if (n < 4)
			return 0;
		h->plen = (uint64_t)b[2] << 8 | b[3];
		h->hlen = 4;
	} else if (h->plen == 127) {
		if (n < 10)
			return 0;
		h->plen = 0;
		for (int i = 2; i < 10; i++)
			h->plen = h->plen << 8 | b[i];
		if (h->plen >> 63)
			return fail(reason, "frame length with its top bit set");
		h->hlen = 10;
	}
	if (h->op >= 8) {
		if (h->op > WS_PONG)
			return fail(reason, "unknown control opcode");
		if (!h->fin || h->plen > 125)
			return fail(reason, "fragmented or oversized control frame");
	} else if (h->op > WS_BINARY)
		return fail(reason, "unknown data opcode");
	return 1;
}

/* A data frame: whole message, first fragment, or continuation. */
static int
data(struct ws_rx *rx, const struct head *h, const unsigned char *p, struct ws_event *ev,
     const char **reason)
{
	size_t n = (size_t)h->plen;

	if (h->op == WS_CONT ? !rx->msg_op : rx->msg_op != 0)
		return fail(reason, h->op == WS_CONT ? "continuation without a message" :
		                                       "new message inside a fragmented one");
	if (h->op != WS_CONT && h->fin) {
		*ev = (struct ws_event){ WS_MESSAGE, h->op == WS_TEXT, p, n, 0, 0 };
		return 1;
	}
	if (rx->msg_len + n > rx->msg_cap) {	/* within rx->max: oversize() takes the rest */
		size_t cap = rx->msg_cap ? rx->msg_cap : 65536;
		unsigned char *grown;

		while (cap < rx->msg_len + n)
			cap *= 2;
		if (!(grown = realloc(rx->msg, cap)))
			return fail(reason, "out of memory");
		rx->msg = grown;
		rx->msg_cap = cap;
	}
	if (n)
		memcpy(rx->msg + rx->msg_len, p, n);
	rx->msg_len += n;
	if (h->op != WS_CONT)
		rx->msg_op = h->op;
	if (!h->fin)
		return 0;
	*ev = (struct ws_event){ WS_MESSAGE, rx->msg_op == WS_TEXT, rx->msg, rx->msg_len, 0, 0 };
	rx->msg_op = 0;
	rx->msg_len = 0;
	return 1;
}

static int
control(const struct head *h, const unsigned char *p, struct ws_event *ev, const char **reason)
{
	size_t n = (size_t)h->plen;

	*ev = (struct ws_event){ WS_GOT_PING, 0, p, n, 0, 0 };
	if (h->op == WS_PONG)
		ev->kind = WS_GOT_PONG;
	if (h->op != WS_CLOSE)
		return 1;
	ev->kind = WS_GOT_CLOSE;
	if (n == 1)
		return fail(reason, "close frame of one byte");
	ev->close_code = n >= 2 ? p[0] << 8 | p[1] : 1005;
	return 1;
}

/* A data frame that takes its message over rx->max (h whole at b, n bytes
 * there). Its message's first rx->max bytes are one event, with cut set,
 * once they are in; the rest of the frame, and the message's later
 * fragments, are discarded as they come (skip, dropping). A later fragment
 * of a message already cut is discarded whole. 1 with *ev; 0 when more
 * bytes are needed or the frame was discarded; -1 as data(). */
static int
oversize(struct ws_rx *rx, const struct head *h, const unsigned char *b, size_t n,
         struct ws_event *ev, const char **reason)
{
	size_t room = rx->max - rx->msg_len;

	if (h->op == WS_CONT ? !rx->msg_op : rx->msg_op != 0)
		return fail(reason, h->op == WS_CONT ? "continuation without a message" :
		                                       "new message inside a fragmented one");
	if (!rx->dropping) {
		if (n - h->hlen < room)
			return 0;
		if (h->op != WS_CONT && h->fin) {
			*ev = (struct ws_event){ WS_MESSAGE, h->op == WS_TEXT, b + h->hlen, room, 0, 1 };
		} else {
			if (rx->msg_cap < rx->max) {
				unsigned char *grown = realloc(rx->msg, rx->max ? rx->max : 1);

				if (!grown)
					return fail(reason, "out of memory");
				rx->msg = grown;
				rx->msg_cap = rx->max;
			}
			if (room)
				memcpy(rx->msg + rx->msg_len, b + h->hlen, room);
			if (h->op != WS_CONT)
				rx->msg_op = h->op;
			*ev = (struct ws_event){ WS_MESSAGE, rx->msg_op == WS_TEXT, rx->msg, rx->max, 0, 1 };
			rx->dropping = !h->fin;
		}
		rx->off += h->hlen + room;
		rx->skip = h->plen - room;
		rx->skip_fin = h->fin;
		return 1;
	}
	rx->off += h->hlen;
	rx->skip = h->plen;
	rx->skip_fin = h->fin;
	return 0;
}

/* Discard what is left of a cut message's frame; at its last frame's end
 * the message is over. 1 when done, 0 when more bytes are needed. */
static int
skipped(struct ws_rx *rx)
{
	size_t n = rx->len - rx->off;
	size_t k = rx->skip < n ? (size_t)rx->skip : n;

	rx->off += k;
	rx->skip -= k;
	if (rx->skip)
		return 0;
	if (rx->skip_fin) {
		rx->msg_op = 0;
		rx->msg_len = 0;
		rx->dropping = 0;
		rx->skip_fin = 0;
	}
	return 1;
}

int
ws_rx_next(struct ws_rx *rx, struct ws_event *ev, const char **reason)
{
	if (!rx->buf)
		return 0;	/* nothing received yet */
	for (;;) {
		const unsigned char *b;
		size_t n;
		struct head h;
		int rc;

		if ((rx->skip || rx->skip_fin) && !skipped(rx))
			return 0;
		b = rx->buf + rx->off;
		n = rx->len - rx->off;
		if ((rc = head(b, n, &h, reason)) <= 0)
			return rc;
		if (h.op < 8 && (rx->dropping || h.plen > rx->max - rx->msg_len)) {
			if ((rc = oversize(rx, &h, b, n, ev, reason)) != 0)
				return rc;
			if (rx->skip || rx->skip_fin || rx->off != (size_t)(b - rx->buf))
				continue;
			return 0;
		}
		if (n - h.hlen < h.plen)
			return 0;
		rx->off += h.hlen + (size_t)h.plen;
		rc = h.op >= 8 ? control(&h, b + h.hlen, ev, reason) : data(rx, &h, b + h.hlen, ev, reason);
		if (rc != 0)
			return rc;
		/* a fragment was kept: go on with the next frame */
	}
}

void
ws_rx_free(struct ws_rx *rx)
{
	free(rx->buf);
	free(rx->msg);
	*rx = (struct ws_rx)WS_RX_INIT(rx->max);
}
