/* test_ws.c: RFC 6455 client framing: the RFC's own examples, the upgrade
 * and its refusals, fragments, control frames and hostile frames */
#include "t.h"
#include "ws.h"

static struct ws_rx rx = WS_RX_INIT(1024);

/* Feed b[0..n) to a fresh rx and take the first event. */
static int
one(const void *b, size_t n, struct ws_event *ev, const char **why)
{
	ws_rx_free(&rx);
	if (ws_rx_feed(&rx, b, n))
		return -2;
	return ws_rx_next(&rx, ev, why);
}

static void
urls(void)
{
	char dial[256], host[128], target[512], v[32];

	CHECK(ws_url("wss://msg-frontier.feishu.cn/ws/v2?fpid=493&device_id=7&service_id=33554678", dial,
	             sizeof dial, host, sizeof host, target, sizeof target) == 0 &&
	      strcmp(dial, "https://msg-frontier.feishu.cn/") == 0 && strcmp(host, "msg-frontier.feishu.cn") == 0 &&
	      strcmp(target, "/ws/v2?fpid=493&device_id=7&service_id=33554678") == 0, "wss URL split");
	CHECK(ws_query(target, "service_id", v, sizeof v) == 0 && strcmp(v, "33554678") == 0, "service_id read");
	CHECK(ws_query(target, "device_id", v, sizeof v) == 0 && strcmp(v, "7") == 0, "device_id read");
	CHECK(ws_query(target, "id", v, sizeof v) == -1, "a suffix of a name does not match");
	CHECK(ws_query("/ws", "service_id", v, sizeof v) == -1, "no query");
	CHECK(ws_url("ws://127.0.0.1:8080?a=1#frag", dial, sizeof dial, host, sizeof host, target,
	             sizeof target) == 0 && strcmp(dial, "http://127.0.0.1:8080/") == 0 &&
	      strcmp(host, "127.0.0.1:8080") == 0 && strcmp(target, "/?a=1") == 0, "ws URL with port, no path");
	CHECK(ws_url("ws://h", dial, sizeof dial, host, sizeof host, target, sizeof target) == 0 &&
	      strcmp(target, "/") == 0, "empty path is /");
	CHECK(ws_url("https://h/", dial, sizeof dial, host, sizeof host, target, sizeof target) == -1,
	      "another scheme refused");
	CHECK(ws_url("wss://u:p@h/", dial, sizeof dial, host, sizeof host, target, sizeof target) == -1,
	      "user info refused");
	CHECK(ws_url("wss://h/a b", dial, sizeof dial, host, sizeof host, target, sizeof target) == -1,
	      "space refused");
	CHECK(ws_url("wss://h/\r\nX: y", dial, sizeof dial, host, sizeof host, target, sizeof target) == -1,
	      "CR LF refused (no header injection)");
	CHECK(ws_url("wss:///x", dial, sizeof dial, host, sizeof host, target, sizeof target) == -1,
	      "empty host refused");
	CHECK(ws_url("wss://h/xxxxxxxxxx", dial, sizeof dial, host, sizeof host, target, 8) == -1,
	      "a target too long for its buffer refused");
}

static void
handshake(void)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	char k[25], acc[29], req[512], resp[WS_RESPONSE_MAX + 64];
	struct ws_handshake h;
	long n;

	ws_key((const unsigned char *)"the sample nonce", k);
	CHECK(strcmp(k, key) == 0, "Sec-WebSocket-Key of RFC 6455's sample nonce");
	CHECK(ws_accept(key, acc) == 0 && strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	      "Sec-WebSocket-Accept of RFC 6455 section 1.3");
	CHECK(ws_request(req, sizeof req, "h:1", "/ws?x=1", key) > 0 &&
	      strncmp(req, "GET /ws?x=1 HTTP/1.1\r\nHost: h:1\r\n", 33) == 0 &&
	      strstr(req, "\r\nUpgrade: websocket\r\n") && strstr(req, "\r\nConnection: Upgrade\r\n") &&
	      strstr(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") &&
	      strstr(req, "\r\nSec-WebSocket-Version: 13\r\n") && strstr(req, "\r\n\r\n") == req + strlen(req) - 4,
	      "upgrade request");
	CHECK(ws_request(req, 40, "h", "/", key) == -1, "upgrade request too long for its buffer");

	strcpy(resp, "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x82\x00");
	n = ws_response(resp, strlen(resp) + 1, key, &h);
	CHECK(n == (long)strlen(resp) - 1 && h.status == 101 && !h.refusal,
	      "101 accepted (names any case, token lists); the frame after it is left");
	CHECK(ws_response(resp, 40, key, &h) == 0, "a partial answer asks for more");
	CHECK(ws_response(resp, (size_t)n, "AAAAAAAAAAAAAAAAAAAAAA==", &h) == n && h.refusal &&
	      strstr(h.refusal, "Accept"), "the accept of another key refused");
	strcpy(resp, "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) > 0 && h.refusal, "101 without Upgrade refused");
	strcpy(resp, "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
	             "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) > 0 && h.refusal, "an extension not asked for refused");
	strcpy(resp, "HTTP/1.1 514 \r\nHandshake-Status: 514\r\nHandshake-Msg: too many\x01 conns\r\n"
	             "handshake-autherrcode: 1000040350\r\nContent-Length: 0\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) > 0 && h.status == 514 && h.refusal &&
	      strcmp(h.hs_status, "514") == 0 && strcmp(h.hs_autherrcode, "1000040350") == 0 &&
	      strcmp(h.hs_msg, "too many? conns") == 0, "Feishu's refusal headers read, control bytes masked");
	strcpy(resp, "HTTP/1.1 403 Forbidden\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) > 0 && h.status == 403 && !h.hs_status[0],
	      "a refusal without Handshake headers");
	strcpy(resp, "HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) == -1, "a bare LF line refused");
	strcpy(resp, "SSH-2.0-x\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) == -1, "not HTTP refused");
	strcpy(resp, "HTTP/1.1 1x1 OK\r\n\r\n");
	CHECK(ws_response(resp, strlen(resp), key, &h) == -1, "a bad status refused");
	memset(resp, 'a', sizeof resp);
	memcpy(resp, "HTTP/1.1 101 OK\r\nX: ", 20);
	CHECK(ws_response(resp, sizeof resp, key, &h) == -1, "an answer over 16 KiB without its end refused");
}

static void
rfc_examples(void)
{
	static const unsigned char hello[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
	static const unsigned char masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
	                                        0x51, 0x58 };
	static const unsigned char frag[] = { 0x01, 0x03, 'H', 'e', 'l', 0x80, 0x02, 'l', 'o' };
	static const unsigned char ping[] = { 0x89, 0x05, 'H', 'e', 'l', 'l', 'o' };
	static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char out[70000 + WS_FRAME_HEAD], big[70000];
	struct ws_event ev;
	const char *why = NULL;
	size_t n;

	CHECK(one(hello, sizeof hello, &ev, &why) == 1 && ev.kind == WS_MESSAGE && ev.text && ev.len == 5 &&
	      memcmp(ev.data, "Hello", 5) == 0, "RFC 6455 5.7: unmasked text Hello");
	CHECK(ws_frame(out, WS_TEXT, "Hello", 5, mask) == sizeof masked && memcmp(out, masked, sizeof masked) == 0,
	      "RFC 6455 5.7: masked Hello encoded byte for byte");
	CHECK(one(masked, sizeof masked, &ev, &why) == -1 && strstr(why, "masked"), "a masked server frame refused");
	CHECK(one(frag, sizeof frag, &ev, &why) == 1 && ev.kind == WS_MESSAGE && ev.len == 5 &&
	      memcmp(ev.data, "Hello", 5) == 0, "RFC 6455 5.7: fragmented Hello joined");
	CHECK(one(ping, sizeof ping, &ev, &why) == 1 && ev.kind == WS_GOT_PING && ev.len == 5, "ping");

	memset(big, 'x', sizeof big);
	n = ws_frame(out, WS_BINARY, big, 256, mask);
	CHECK(n == 256 + 8 && out[0] == 0x82 && out[1] == (0x80 | 126) && out[2] == 1 && out[3] == 0,
	      "256 bytes: 16-bit length");
	n = ws_frame(out, WS_BINARY, big, 65536, mask);
	CHECK(n == 65536 + 14 && out[1] == (0x80 | 127) && out[2] == 0 && out[7] == 1 && out[8] == 0 &&
	      out[9] == 0, "64 KiB: 64-bit length");
	n = ws_frame(out, WS_BINARY, big, 125, mask);
	CHECK(n == 125 + 6 && out[1] == (0x80 | 125), "125 bytes: 7-bit length");
	n = ws_frame(out, WS_BINARY, big, 126, mask);
	CHECK(n == 126 + 8 && out[1] == (0x80 | 126), "126 bytes: 16-bit length");
	CHECK(out[8] == ('x' ^ 0x37) && out[9] == ('x' ^ 0xfa) && out[12] == ('x' ^ 0x37), "payload masked");
}

/* feed(b, n, step, ...): b fed step bytes at a time; every message's first
 * 16 bytes and length and cut noted in got[] ("LEN:CUT:TEXT|"); the last
 * ws_rx_next answer. */
static int
feed(const unsigned char *b, size_t n, size_t step, char *got, size_t gotn)
{
	struct ws_event ev;
	const char *why = NULL;
	int rc = 0;

	ws_rx_free(&rx);
	got[0] = '\0';
	for (size_t i = 0; i < n; i += step) {
		if (ws_rx_feed(&rx, b + i, i + step <= n ? step : n - i))
			return -2;
		while ((rc = ws_rx_next(&rx, &ev, &why)) == 1)
			if (ev.kind == WS_MESSAGE) {
				size_t l = strlen(got);

				snprintf(got + l, gotn - l, "%zu:%d:%.*s|", ev.len, ev.cut, (int)(ev.len < 16 ? ev.len : 16),
				         (const char *)ev.data);
			}
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* put a server frame (unmasked) of op, fin, payload of n bytes of c at b;
 * its length */
static size_t
put(unsigned char *b, int op, int fin, size_t n, char c)
{
	size_t h = 2;

	b[0] = (unsigned char)((fin ? 0x80 : 0) | op);
	if (n < 126)
		b[1] = (unsigned char)n;
	else {
		b[1] = 126;
		b[2] = (unsigned char)(n >> 8);
		b[3] = (unsigned char)n;
		h = 4;
	}
	memset(b + h, c, n);
	return h + n;
}

/* A message over the limit (1024 here) is no protocol error: its first
 * 1024 bytes come as one event with cut set, the rest is discarded as it
 * comes, and the next message is read as usual. */
static void
cut_messages(void)
{
	static unsigned char b[20000];
	char got[512];
	size_t n;

	n = put(b, WS_BINARY, 1, 5000, 'a');
	n += put(b + n, WS_BINARY, 1, 3, 'z');
	CHECK(feed(b, n, n, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|3:0:zzz|") == 0,
	      "a frame of 5000 bytes: its first 1024 cut, then the next message (%s)", got);
	CHECK(feed(b, n, 1, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|3:0:zzz|") == 0,
	      "the same fed byte by byte (%s)", got);
	CHECK(feed(b, n, 700, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|3:0:zzz|") == 0,
	      "the same fed 700 bytes at a time (%s)", got);
	n = put(b, WS_BINARY, 1, 1024, 'a');
	n += put(b + n, WS_BINARY, 1, 1025, 'b');
	CHECK(feed(b, n, 100, got, sizeof got) == 0 && strcmp(got, "1024:0:aaaaaaaaaaaaaaaa|1024:1:bbbbbbbbbbbbbbbb|") == 0,
	      "exactly 1024 bytes whole, 1025 cut (%s)", got);

	/* fragments: 600 + 600 + 600 (a ping between), then a whole one */
	n = put(b, WS_BINARY, 0, 600, 'a');
	n += put(b + n, WS_CONT, 0, 600, 'b');
	n += put(b + n, WS_PING, 1, 2, 'p');
	n += put(b + n, WS_CONT, 1, 600, 'c');
	n += put(b + n, WS_TEXT, 1, 2, 'y');
	CHECK(feed(b, n, n, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|2:0:yy|") == 0,
	      "fragments adding up past the limit: cut once, the rest dropped, the next message read (%s)", got);
	CHECK(feed(b, n, 1, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|2:0:yy|") == 0,
	      "the same fed byte by byte (%s)", got);
	{
		struct ws_event ev;
		const char *why = NULL;
		int kinds = 0, rc;

		ws_rx_free(&rx);
		ws_rx_feed(&rx, b, n);
		while ((rc = ws_rx_next(&rx, &ev, &why)) == 1)
			kinds = kinds * 10 + (int)ev.kind + 1;
		CHECK(rc == 0 && kinds == 121 && ev.len == 2,
		      "... and the ping among the dropped fragments still comes (events %d)", kinds);
		ws_rx_free(&rx);
		CHECK(feed(b, put(b, WS_BINARY, 0, 600, 'a') + put(b + put(b, WS_BINARY, 0, 600, 'a'), WS_CONT, 0, 600, 'b'),
		           37, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|") == 0,
		      "a cut message whose end has not come: cut once, more awaited (%s)", got);
	}
	n = put(b, WS_BINARY, 0, 600, 'a');
	n += put(b + n, WS_CONT, 0, 600, 'b');
	n += put(b + n, WS_BINARY, 1, 2, 'x');
	CHECK(feed(b, n, n, got, sizeof got) == -1, "a new message inside a cut fragmented one: still an error");
	n = put(b, WS_BINARY, 0, 2000, 'a');
	n += put(b + n, WS_CONT, 0, 0, 'b');
	n += put(b + n, WS_CONT, 1, 0, 'b');
	n += put(b + n, WS_BINARY, 1, 1, 'w');
	CHECK(feed(b, n, 3, got, sizeof got) == 0 && strcmp(got, "1024:1:aaaaaaaaaaaaaaaa|1:0:w|") == 0,
	      "a first fragment over the limit, then empty continuations (%s)", got);
	ws_rx_free(&rx);
}

static void
receiving(void)
{
	unsigned char b[4096];
	struct ws_event ev;
	const char *why = NULL;
	int rc = 0;
	size_t n = 0;

	/* a fragmented binary message with a ping between its fragments, fed
	 * one byte at a time */
	memcpy(b + n, "\x02\x02" "ab", 4), n += 4;
	memcpy(b + n, "\x89\x01" "p", 3), n += 3;
	memcpy(b + n, "\x00\x01" "c", 3), n += 3;
	memcpy(b + n, "\x80\x02" "de", 4), n += 4;
	memcpy(b + n, "\x8a\x00", 2), n += 2;
	memcpy(b + n, "\x88\x02\x03\xe8", 4), n += 4;
	ws_rx_free(&rx);
	{
		int kinds[8], k = 0;
		char msg[16] = "";

		for (size_t i = 0; i < n; i++) {
			ws_rx_feed(&rx, b + i, 1);
			while ((rc = ws_rx_next(&rx, &ev, &why)) == 1 && k < 8) {
				kinds[k++] = ev.kind;
				if (ev.kind == WS_MESSAGE && ev.len < sizeof msg) {
					memcpy(msg, ev.data, ev.len);
					msg[ev.len] = '\0';
				}
				if (ev.kind == WS_GOT_CLOSE)
					CHECK(ev.close_code == 1000, "close code 1000");
			}
			if (rc < 0)
				break;
		}
		CHECK(rc == 0 && k == 4 && kinds[0] == WS_GOT_PING && kinds[1] == WS_MESSAGE &&
		      kinds[2] == WS_GOT_PONG && kinds[3] == WS_GOT_CLOSE && strcmp(msg, "abcde") == 0,
		      "byte by byte: ping inside a fragmented message, then the message, pong, close");
	}
	ws_rx_free(&rx);
	CHECK(ws_rx_next(&rx, &ev, &why) == 0 && ws_rx_feed(&rx, "", 0) == 0 && ws_rx_next(&rx, &ev, &why) == 0,
	      "nothing received yet: more needed");
	CHECK(one("\x88\x00", 2, &ev, &why) == 1 && ev.kind == WS_GOT_CLOSE && ev.close_code == 1005,
	      "close without a code is 1005");
	CHECK(one("\x82\x7e\x00", 3, &ev, &why) == 0, "half a 16-bit length: more needed");
	CHECK(one("\x82\x05" "abc", 5, &ev, &why) == 0, "a partial payload: more needed");

	CHECK(one("\xc2\x00", 2, &ev, &why) == -1 && strstr(why, "reserved"), "RSV1 refused");
	CHECK(one("\x83\x00", 2, &ev, &why) == -1, "data opcode 3 refused");
	CHECK(one("\x8b\x00", 2, &ev, &why) == -1, "control opcode 11 refused");
	CHECK(one("\x09\x00", 2, &ev, &why) == -1 && strstr(why, "control"), "fragmented ping refused");
	CHECK(one("\x89\x7e\x00\x7e", 4, &ev, &why) == -1, "126-byte ping refused");
	CHECK(one("\x88\x01\x03", 3, &ev, &why) == -1, "one-byte close refused");
	CHECK(one("\x80\x01" "a", 3, &ev, &why) == -1 && strstr(why, "continuation"),
	      "continuation without a message refused");
	CHECK(one("\x01\x01" "a" "\x82\x01" "b", 6, &ev, &why) == -1 && strstr(why, "inside"),
	      "new message inside a fragmented one refused");
	CHECK(one("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10, &ev, &why) == -1, "length with top bit refused");
	CHECK(one("\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00", 10, &ev, &why) == 0,
	      "a 4 GiB frame: no error from its header; its first 1024 bytes awaited");
	cut_messages();
	ws_rx_free(&rx);
}

int
main(void)
{
	urls();
	handshake();
	rfc_examples();
	receiving();
	return t_done();
}
