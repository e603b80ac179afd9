/* fuzz_ws.c: libFuzzer target for the WebSocket client framing (ws.h).
 *
 * Input layout: one mode byte, then the payload.
 *   mode 0: the payload is the server's answer to the upgrade (ws_response
 *           with a fixed key)
 *   mode 1: the payload is what the server sends after the upgrade, fed to
 *           a ws_rx in chunks whose sizes come from the payload's bytes
 *   mode 2: the payload is one message: ws_frame encodes it, unmasked as a
 *           server would send it, and ws_rx must give it back whole
 * Invariants: ws_response's header length lies inside the input and ends
 * with CRLF CRLF, an accepted upgrade is a 101; no event exceeds the size
 * limit, a cut message is exactly the limit, control payloads stay within
 * 125 bytes; a message round-trips, and one over the limit comes back as
 * its first MAX bytes, cut, and nothing more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define BUG(...) do { fprintf(stderr, "fuzz_ws: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define MAX 4096

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static volatile unsigned char sink;

static void
answer(const char *buf, size_t n)
{
	struct ws_handshake h;
	long len = ws_response(buf, n, "dGhlIHNhbXBsZSBub25jZQ==", &h);

	if (len < -1 || len > (long)n || (len > 0 && len < 4))
		BUG("header length %ld of %zu bytes", len, n);
	if (len > 0 && memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
		BUG("the header block does not end with CRLF CRLF");
	if (len > 0 && !h.refusal && h.status != 101)
		BUG("status %d accepted as an upgrade", h.status);
	if (strlen(h.hs_msg) >= sizeof h.hs_msg || strlen(h.hs_status) >= sizeof h.hs_status)
		BUG("a Handshake header overflowed");
}

static void
stream(const unsigned char *p, size_t n)
{
	struct ws_rx rx = WS_RX_INIT(MAX);
	struct ws_event ev;
	const char *why;
	size_t off = 0;
	int rc = 0;

	while (off < n && rc >= 0) {
		size_t chunk = 1 + p[off] % 64;

		if (chunk > n - off)
			chunk = n - off;
		if (ws_rx_feed(&rx, p + off, chunk))
			BUG("feed refused %zu bytes", chunk);
		off += chunk;
		while ((rc = ws_rx_next(&rx, &ev, &why)) == 1) {
			if (ev.len > MAX)
				BUG("an event of %zu bytes past the limit", ev.len);
			if (ev.kind != WS_MESSAGE && ev.len > 125)
				BUG("a control payload of %zu bytes", ev.len);
			if (ev.cut && (ev.kind != WS_MESSAGE || ev.len != MAX))
				BUG("a cut event of %zu bytes", ev.len);
			if (ev.len)
				sink = ev.data[0] ^ ev.data[ev.len - 1];	/* both ends, under ASan */
		}
	}
	ws_rx_free(&rx);
}

static void
round_trip(const unsigned char *p, size_t n)
{
	static const unsigned char zero[4];
	struct ws_rx rx = WS_RX_INIT(MAX);
	struct ws_event ev;
	const char *why = NULL;
	unsigned char *out = malloc(n + WS_FRAME_HEAD);
	size_t len, hl;

	if (!out)
		goto out;
	len = ws_frame(out, WS_BINARY, p, n, zero);
	hl = len - n - 4;		/* the header without the mask */
	out[1] &= 0x7f;			/* as a server sends it: unmasked */
	memmove(out + hl, out + hl + 4, n);
	if (n > MAX) {
		if (ws_rx_feed(&rx, out, len - 4) || ws_rx_next(&rx, &ev, &why) != 1 || ev.kind != WS_MESSAGE ||
		    !ev.cut || ev.len != MAX || memcmp(ev.data, p, MAX) != 0 || ws_rx_next(&rx, &ev, &why) != 0)
			BUG("a message of %zu bytes did not come back cut to %d", n, MAX);
		goto out;
	}
	if (ws_rx_feed(&rx, out, len - 4) || ws_rx_next(&rx, &ev, &why) != 1 || ev.kind != WS_MESSAGE ||
	    ev.len != n || ev.cut || (n && memcmp(ev.data, p, n) != 0))
		BUG("a message of %zu bytes did not round-trip", n);
out:
	free(out);
	ws_rx_free(&rx);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		answer((const char *)data + 1, size - 1);
		break;
	case 1:
		stream(data + 1, size - 1);
		break;
	default:
		round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
