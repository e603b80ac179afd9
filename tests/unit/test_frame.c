/* test_frame.c: the pbbp2.Frame codec against the official Node SDK's
 * bytes, round trips, and truncated, overlong and hostile input */
#include <stdint.h>

#include "t.h"
#include "frame.h"

/* Made by the Node SDK's own encoder (@larksuiteoapi/node-sdk 1.74.0, the
 * pbbp2 code its WSClient sends with): tests/unit/pbbp2-sdk.js. */
static const char sdk_ping[] = "08001000180720002a0c0a0474797065120470696e67";
static const char sdk_event[] =
	"08ffffffffffffff0f1094b4e4f4cb03180720012a0d0a047479706512056576656e742a110a0a6d65737361"
	"67655f696412036d2d312a080a0373756d1201312a080a037365711201302a0f0a0874726163655f696412"
	"03742d312a1a0a0974696d657374616d70120d3137303030303030303030303042497b22736368656d6122"
	"3a22322e30222c22686561646572223a7b226576656e745f6964223a226531222c226576656e745f747970"
	"65223a22612e62227d2c226576656e74223a7b7d7d";
static const char sdk_ack[] =
	"08ffffffffffffff0f1094b4e4f4cb03180720012a0d0a047479706512056576656e742a110a0a6d65737361"
	"67655f696412036d2d312a080a0373756d1201312a080a037365711201302a0f0a0874726163655f696412"
	"03742d312a1a0a0974696d657374616d70120d313730303030303030303030302a0b0a0662697a5f727412"
	"0133420c7b22636f6465223a3230307d";
static const char sdk_negative[] = "0801100218fbffffffffffffffff012000";
static const char sdk_optional[] = "08001000180020002a040a0012003204677a69703a046a736f6e42004a036e2d31";
static const char event_json[] =
	"{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\",\"event_type\":\"a.b\"},\"event\":{}}";

static size_t
unhex(const char *hex, unsigned char *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
	return n;
}

static int
decodes(const unsigned char *b, size_t n, struct frame *f)
{
	const char *why = NULL;

	return frame_decode(b, n, f, &why) == 0;
}

/* Encoding f gives exactly the bytes of hex. */
static int
encodes_as(const struct frame *f, const char *hex)
{
	unsigned char want[1024], got[1024];
	size_t n = unhex(hex, want), size = frame_size(f);

	return size == n && size <= sizeof got && frame_encode(f, got) == n && memcmp(got, want, n) == 0;
}

static void
sdk_bytes(void)
{
	unsigned char b[1024];
	struct frame f;
	size_t n;

	n = unhex(sdk_ping, b);
	CHECK(decodes(b, n, &f) && f.seq_id == 0 && f.log_id == 0 && f.service == 7 &&
	      f.method == FRAME_CONTROL && f.nheaders == 1 && frame_is(frame_get(&f, "type"), "ping") &&
	      !f.payload.p, "the SDK's ping decodes");
	CHECK(encodes_as(&f, sdk_ping), "the SDK's ping encodes to the same bytes");

	n = unhex(sdk_event, b);
	CHECK(decodes(b, n, &f) && f.seq_id == 9007199254740991ull && f.log_id == 123456789012ull &&
	      f.service == 7 && f.method == FRAME_DATA && f.nheaders == 6, "the SDK's event frame decodes");
	CHECK(frame_is(frame_get(&f, "message_id"), "m-1") && frame_is(frame_get(&f, "sum"), "1") &&
	      frame_is(frame_get(&f, "seq"), "0") && frame_is(frame_get(&f, "trace_id"), "t-1") &&
	      frame_is(frame_get(&f, "timestamp"), "1700000000000") && !frame_get(&f, "biz_rt"),
	      "its headers");
	CHECK(f.payload.n == strlen(event_json) && memcmp(f.payload.p, event_json, f.payload.n) == 0,
	      "its payload");
	CHECK(encodes_as(&f, sdk_event), "the event frame re-encodes to the SDK's bytes");
	/* the ack as the SDK builds it: the frame, its headers, biz_rt, new payload */
	CHECK(frame_add(&f, "biz_rt", "3") == 0, "biz_rt added");
	f.payload = (struct frame_str){ "{\"code\":200}", 12 };
	CHECK(encodes_as(&f, sdk_ack), "the ack encodes to the bytes the SDK's ack has");

	n = unhex(sdk_negative, b);
	CHECK(decodes(b, n, &f) && f.service == -5 && f.seq_id == 1 && f.log_id == 2 && f.nheaders == 0,
	      "a negative int32 (ten-byte varint) decodes");
	CHECK(encodes_as(&f, sdk_negative), "and encodes sign-extended as the SDK does");

	n = unhex(sdk_optional, b);
	CHECK(decodes(b, n, &f) && frame_is(&f.payload_encoding, "gzip") && frame_is(&f.payload_type, "json") &&
	      f.payload.p && f.payload.n == 0 && frame_is(&f.log_id_new, "n-1") && f.nheaders == 1 &&
	      f.headers[0].key.n == 0 && f.headers[0].value.n == 0, "fields 6-9 and an empty header decode");
	CHECK(encodes_as(&f, sdk_optional), "and encode to the SDK's bytes");
}

static void
round_trip(void)
{
	unsigned char buf[4096];
	struct frame f = { 0 }, g;
	static const char bin[] = { 0, 1, '\xff', 0 };
	size_t n;

	f.seq_id = UINT64_MAX;
	f.log_id = 1;
	f.service = INT32_MIN;
	f.method = INT32_MAX;
	for (int i = 0; i < FRAME_MAX_HEADERS; i++)
		frame_add(&f, "k", "v");
	CHECK(frame_add(&f, "biz_rt", "0") == 0, "one header past the limit fits (the ack's)");
	CHECK(frame_add(&f, "x", "y") == -1, "a second one does not");
	f.nheaders = 2;
	f.payload = (struct frame_str){ bin, sizeof bin };
	n = frame_encode(&f, buf);
	CHECK(n == frame_size(&f), "frame_size is what frame_encode writes");
	CHECK(decodes(buf, n, &g) && g.seq_id == UINT64_MAX && g.log_id == 1 && g.service == INT32_MIN &&
	      g.method == INT32_MAX && g.nheaders == 2 && g.payload.n == sizeof bin &&
	      memcmp(g.payload.p, bin, sizeof bin) == 0 && !g.payload_type.p && !g.log_id_new.p,
	      "extremes and binary payload round-trip");

	f = (struct frame){ 0 };
	n = frame_encode(&f, buf);
	CHECK(n == 8 && decodes(buf, n, &g), "an all-zero frame still carries fields 1-4 (8 bytes)");
}

static void
hostile(void)
{
	unsigned char b[2048], c[2048];
	struct frame f;
	const char *why = NULL;
	size_t n = unhex(sdk_event, b);
	int accepted = 0, in_order = 1;

	/* a cut at a field's end leaves a valid shorter frame (after field 4
	 * and after each of the 6 headers); a cut inside a field never does */
	for (size_t cut = 0; cut < n; cut++)
		if (frame_decode(b, cut, &f, &why) == 0) {
			in_order &= f.nheaders == accepted && !f.payload.p;
			accepted++;
		}
	CHECK(accepted == 7 && in_order, "of %zu truncations only the 7 at field ends decode", n);
	/* frame_decode_cut: the head of a frame cut at the WebSocket size
	 * limit; only a cut inside the payload field decodes, as cut */
	{
		size_t first = 0, cuts = 0;
		int ok = 1;

		for (size_t cut = 0; cut < n; cut++) {
			int rc = frame_decode_cut(b, cut, &f, &why);

			if (rc == 0 && f.cut) {
				if (!cuts)
					first = cut;
				cuts++;
				ok &= f.nheaders == 6 && f.seq_id && f.payload.p &&
				      f.payload.p + f.payload.n == (const char *)b + cut;
			}
		}
		CHECK(frame_decode(b, n, &f, &why) == 0 && cuts > 0 && ok &&
		      first + cuts == n && n - f.payload.n == first + 1,
		      "cut anywhere after its payload's tag (%zu cuts from byte %zu, before its length): ids and 6 headers, "
		      "the payload what there is of it, cut set", cuts, first);
		CHECK(frame_decode_cut(b, n, &f, &why) == 0 && !f.cut && f.payload.n == strlen(event_json),
		      "frame_decode_cut of a whole frame: as frame_decode, not cut");
		CHECK(frame_decode_cut(b, 25, &f, &why) == -1 && strstr(why, "past the end"),
		      "cut inside a header: refused");
	}
	CHECK(frame_decode(b, 0, &f, &why) == -1, "empty input refused (required fields missing)");
	CHECK(frame_decode(b, n - 1, &f, &why) == -1 && strstr(why, "past the end"),
	      "payload cut by one byte refused");

	n = unhex("080010001800", b);
	CHECK(frame_decode(b, n, &f, &why) == -1 && strstr(why, "required"), "method missing refused");
	n = unhex("0800100018002000" "088080808080808080808001", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "varint of 11 bytes refused");
	n = unhex("08ffffffffffffffffff02100018002000", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "varint past 64 bits refused");
	n = unhex("08ffffffffffffffffff01100018002000", b);
	CHECK(decodes(b, n, &f) && f.seq_id == UINT64_MAX, "ten-byte varint of 2^64-1 accepted");
	n = unhex("0800100018002000" "42ffffffff0f00", b);
	CHECK(frame_decode(b, n, &f, &why) == -1 && strstr(why, "past the end"), "4 GiB payload length refused");
	n = unhex("0800100018002000" "42ffffffffffffffff7f00", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "2^63 payload length refused");
	n = unhex("0800100018002000" "0a0100", b);
	CHECK(frame_decode(b, n, &f, &why) == -1 && strstr(why, "wire type"), "SeqID as bytes refused");
	n = unhex("0800100018002000" "2801", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "header as varint refused");
	n = unhex("0800100018002000" "2a020a00", b);
	CHECK(frame_decode(b, n, &f, &why) == -1 && strstr(why, "header"), "header without value refused");
	n = unhex("0800100018002000" "2a060a0012000a", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "header whose inner field runs past it refused");
	n = unhex("0800100018002000" "0b0c", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "group refused");
	n = unhex("0800100018002000" "00", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "field number 0 refused");
	/* unknown fields of every skippable wire type, in the frame and a header */
	n = unhex("5005" "590102030405060708" "6203616263" "6d01020304"
	          "0800100018002000" "2a0b0a0174120176180128ff01" "f8ffffff0f01", b);
	CHECK(decodes(b, n, &f) && f.nheaders == 1 && frame_is(frame_get(&f, "t"), "v"),
	      "unknown fields (varint, fixed64, bytes, fixed32; in a header too) skipped");
	n = unhex("0800100018002000" "590102", b);
	CHECK(frame_decode(b, n, &f, &why) == -1, "truncated fixed64 refused");
	/* repeated scalars: the last wins, as in protobuf */
	n = unhex("08011002180320040805", b);
	CHECK(decodes(b, n, &f) && f.seq_id == 5, "a repeated SeqID: the last one wins");

	n = unhex("0800100018002000", c);
	for (int i = 0; i < FRAME_MAX_HEADERS + 1; i++) {
		memcpy(c + n, "\x2a\x04\x0a\x00\x12\x00", 6);
		n += 6;
	}
	CHECK(frame_decode(c, n, &f, &why) == -1 && strstr(why, "too many"), "65 headers refused");
	CHECK(frame_decode(c, n - 6, &f, &why) == 0 && f.nheaders == FRAME_MAX_HEADERS, "64 accepted");
	CHECK(frame_add(&f, "biz_rt", "1") == 0, "and the ack's header still fits");
}

int
main(void)
{
	sdk_bytes();
	round_trip();
	hostile();
	return t_done();
}
