/* ws.h: the client side of RFC 6455 WebSocket framing: the upgrade, masked
 * frames out, server frames in (pure: bytes in, frames out; the socket is
 * connect.c's) */
#ifndef WS_H
#define WS_H

#include <stddef.h>

#define WS_FRAME_HEAD 14	/* the largest client frame header: 2 + 8 + mask 4 */
#define WS_RESPONSE_MAX 16384	/* the server's handshake answer, headers */

enum ws_opcode { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

/* A ws:// or wss:// URL split for dialing: dial is the http:// or https://
 * URL of the same host and port (what libcurl connects to), host the
 * Host header, target the request target (path and query, "/" when empty).
 * 0 on success; -1 for another scheme, user info, a control byte or
 * space, or a part longer than its buffer. */
int ws_url(const char *url, char *dial, size_t dialn, char *host, size_t hostn, char *target,
           size_t targetn);

/* The value of query parameter name in target (after '?'), undecoded, into
 * out. 0 when present and it fits; -1 otherwise. */
int ws_query(const char *target, const char *name, char *out, size_t n);

/* Sec-WebSocket-Key: base64 of 16 random bytes, 24 characters. 0 on
 * success, -1 when out of memory. */
int ws_key(const unsigned char rnd[16], char key[25]);

/* The Sec-WebSocket-Accept a server must answer key with. 0 on success. */
int ws_accept(const char *key, char out[29]);

/* The upgrade request into out. Its length, or -1 when it does not fit. */
int ws_request(char *out, size_t n, const char *host, const char *target, const char *key);

/* What the server answered the upgrade with. The Handshake-* headers are
 * Feishu's reasons for a refusal ("" when absent), cut to their buffers. */
struct ws_handshake {
	int status;		/* the HTTP status */
	const char *refusal;	/* NULL when the upgrade is accepted, else why not */
	char hs_status[16], hs_autherrcode[24], hs_msg[256];
};

/* Parse the answer in buf[0..len) to the request made with key. Returns the
 * length of its header block (frames may follow it in buf), 0 when more
 * bytes are needed, -1 when it is malformed or over WS_RESPONSE_MAX. */
long ws_response(const char *buf, size_t len, const char *key, struct ws_handshake *h);

/* The length of a client frame's header (with its mask) for n bytes. */
size_t ws_head_len(size_t n);

/* A masked client frame, fin set, of opcode and payload p[0..n) into out,
 * which holds n + WS_FRAME_HEAD bytes. Returns its length. p may be
 * out + ws_head_len(n): the payload is then masked in place. */
size_t ws_frame(unsigned char *out, enum ws_opcode op, const void *p, size_t n,
                const unsigned char mask[4]);

enum ws_kind { WS_MESSAGE, WS_GOT_PING, WS_GOT_PONG, WS_GOT_CLOSE };

/* One thing the server sent; data is borrowed from the ws_rx until the next
 * ws_rx_feed or ws_rx_next. */
struct ws_event {
	enum ws_kind kind;
	int text;		/* WS_MESSAGE: a text message (else binary) */
	const unsigned char *data;	/* the message, or a control frame's payload */
	size_t len;
	int close_code;		/* WS_GOT_CLOSE: the code, 1005 when none was sent */
	int cut;		/* WS_MESSAGE: the message was over the size limit:
				 * data holds its first max bytes, the rest is
				 * discarded as it arrives */
};

/* The receiving side of one connection: bytes in, events out. */
struct ws_rx {
	size_t max;			/* the largest message accepted */
	unsigned char *buf;		/* received bytes; [off, len) not yet parsed */
	size_t off, len, cap;
	unsigned char *msg;		/* a fragmented message being joined */
	size_t msg_len, msg_cap;
	int msg_op;			/* its opcode, 0 when none is open */
	unsigned long long skip;	/* bytes of a cut message still to discard */
	int skip_fin;			/* those end its last frame */
	int dropping;			/* a cut message's later fragments are discarded */
};

#define WS_RX_INIT(max) { (max), NULL, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0 }

/* Append n received bytes. -1 when out of memory or when what is pending
 * exceeds a frame of rx->max. */
int ws_rx_feed(struct ws_rx *rx, const void *p, size_t n);

/* The next event: 1 with *ev filled, 0 when more bytes are needed, -1 on
 * a protocol error (static *reason): a masked or reserved-bit frame, an
 * unknown opcode, a fragmented or oversized control frame, a continuation
 * out of place. A data message over rx->max is not an error (the peer may
 * send it again and again): its first rx->max bytes come as one event with
 * cut set, once they are in, and the rest of it is read and discarded. */
int ws_rx_next(struct ws_rx *rx, struct ws_event *ev, const char **reason);

/* Release what rx holds; it can be used again from empty. */
void ws_rx_free(struct ws_rx *rx);

#endif
