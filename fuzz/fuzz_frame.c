/* fuzz_frame.c: libFuzzer target for the pbbp2.Frame codec (frame.h).
 *
 * Input: any bytes, taken as one binary WebSocket message. Invariants:
 *  - a frame that decodes encodes to exactly frame_size bytes;
 *  - decoding that encoding gives the same fields back (every header, the
 *    optional fields present or absent alike);
 *  - encoding is canonical: encoding the decoded encoding again gives the
 *    same bytes;
 *  - every string the decoder returns lies inside the input;
 *  - frame_decode_cut: its strings lie inside the input too, a payload
 *    marked cut ends at the input's end, and on a frame that decodes whole
 *    it gives the same fields, not cut.
 * Built and run by tools/fuzz.sh (make fuzz). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define BUG(...) do { fprintf(stderr, "fuzz_frame: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int
same(const struct frame_str *a, const struct frame_str *b)
{
	return !a->p == !b->p && a->n == b->n && (!a->n || memcmp(a->p, b->p, a->n) == 0);
}

static void
inside(const struct frame_str *s, const unsigned char *data, size_t size)
{
	if (s->p && ((const unsigned char *)s->p < data || s->n > size ||
	             (const unsigned char *)s->p + s->n > data + size))
		BUG("a string outside the input");
}

static void
compare(const struct frame *f, const struct frame *g)
{
	if (f->seq_id != g->seq_id || f->log_id != g->log_id || f->service != g->service ||
	    f->method != g->method || f->nheaders != g->nheaders)
		BUG("the fixed fields or the header count changed in a round trip");
	for (int i = 0; i < f->nheaders; i++)
		if (!same(&f->headers[i].key, &g->headers[i].key) ||
		    !same(&f->headers[i].value, &g->headers[i].value))
			BUG("header %d changed in a round trip", i);
	if (!same(&f->payload_encoding, &g->payload_encoding) || !same(&f->payload_type, &g->payload_type) ||
	    !same(&f->payload, &g->payload) || !same(&f->log_id_new, &g->log_id_new))
		BUG("an optional field changed in a round trip");
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct frame f, g, h;
	const char *why = NULL;
	unsigned char *out, *again;
	size_t n;

	why = NULL;
	if (frame_decode_cut(data, size, &h, &why) == 0) {
		for (int i = 0; i < h.nheaders; i++) {
			inside(&h.headers[i].key, data, size);
			inside(&h.headers[i].value, data, size);
		}
		inside(&h.payload, data, size);
		if (h.cut && (!h.payload.p || (const unsigned char *)h.payload.p + h.payload.n != data + size))
			BUG("a cut payload that does not run to the input's end");
	} else if (!why)
		BUG("frame_decode_cut refused without a reason");
	why = NULL;
	if (frame_decode(data, size, &f, &why) != 0) {
		if (!why)
			BUG("refused without a reason");
		return 0;
	}
	if (frame_decode_cut(data, size, &g, &why) != 0 || g.cut)
		BUG("a whole frame did not decode whole with frame_decode_cut");
	compare(&f, &g);
	if (f.nheaders > FRAME_MAX_HEADERS)
		BUG("%d headers accepted", f.nheaders);
	for (int i = 0; i < f.nheaders; i++) {
		inside(&f.headers[i].key, data, size);
		inside(&f.headers[i].value, data, size);
	}
	inside(&f.payload, data, size);
	inside(&f.payload_type, data, size);
	inside(&f.payload_encoding, data, size);
	inside(&f.log_id_new, data, size);
	n = frame_size(&f);
	if (!(out = malloc(n ? n : 1)) || !(again = malloc(n ? n : 1)))
		abort();
	if (frame_encode(&f, out) != n)
		BUG("frame_encode wrote other than frame_size bytes");
	if (frame_decode(out, n, &g, &why) != 0)
		BUG("its own encoding does not decode: %s", why);
	compare(&f, &g);
	if (frame_size(&g) != n || frame_encode(&g, again) != n || memcmp(out, again, n) != 0)
		BUG("encoding is not canonical");
	if (frame_decode(again, n, &h, &why) != 0)
		BUG("second encoding does not decode");
	free(out);
	free(again);
	return 0;
}
