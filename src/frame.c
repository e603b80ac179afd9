/* frame.c: the pbbp2.Frame codec: proto2, varint and length-delimited
 * fields, every length checked against what is left */
#include <string.h>

#include "frame.h"

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

/* A reading position in a buffer. */
struct in {
	const unsigned char *p, *end;
};

/* A varint of at most 10 bytes whose value fits 64 bits. 0 on success. */
static int
varint(struct in *in, uint64_t *v)
{
	uint64_t x = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		unsigned char b;

		if (in->p == in->end)
			return -1;
		b = *in->p++;
		if (shift == 63 && b > 1)
			return -1;	/* bits past the 64th */
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* A length-delimited field's bytes. 0 on success. */
static int
delimited(struct in *in, struct frame_str *s)
{
	uint64_t n;

	if (varint(in, &n) || n > (uint64_t)(in->end - in->p))
		return -1;
	s->p = (const char *)in->p;
	s->n = (size_t)n;
	in->p += n;
	return 0;
}

/* Skip a field of an unknown number. Groups (wire types 3 and 4) are
 * refused: proto2 deprecates them and pbbp2 has none. */
static int
skip(struct in *in, unsigned wire)
{
	struct frame_str s;
	uint64_t v;
	size_t n;

	switch (wire) {
	case WIRE_VARINT:
		return varint(in, &v);
	case WIRE_LEN:
		return delimited(in, &s);
	case WIRE_FIXED64:
	case WIRE_FIXED32:
		n = wire == WIRE_FIXED64 ? 8 : 4;
		if ((size_t)(in->end - in->p) < n)
			return -1;
		in->p += n;
		return 0;
	}
	return -1;
}

/* The next field's number and wire type. */
static int
tag(struct in *in, uint64_t *field, unsigned *wire)
{
	uint64_t t;

	if (varint(in, &t) || (t >> 3) == 0 || (t >> 3) > 0x1fffffff)
		return -1;
	*field = t >> 3;
	*wire = (unsigned)(t & 7);
	return 0;
}

static int
header(struct frame_str body, struct frame_header *h)
{
	struct in in = { (const unsigned char *)body.p, (const unsigned char *)body.p + body.n };
	int seen = 0;

	h->key.p = h->value.p = NULL;
	while (in.p < in.end) {
		uint64_t field;
		unsigned wire;

		if (tag(&in, &field, &wire))
			return -1;
		if (field == 1 || field == 2) {
			if (wire != WIRE_LEN || delimited(&in, field == 1 ? &h->key : &h->value))
				return -1;
			seen |= (int)field;
		} else if (skip(&in, wire))
			return -1;
	}
	return seen == 3 ? 0 : -1;
}

static int
fail(const char **reason, const char *why)
{
	*reason = why;
	return -1;
}

/* frame_decode, and with cut, frame_decode_cut. */
static int
decode(const unsigned char *buf, size_t len, struct frame *f, int cut, const char **reason)
{
	struct in in = { buf, buf + len };
	struct frame_str s;
	unsigned seen = 0;

	memset(f, 0, sizeof *f);
	while (in.p < in.end) {
		uint64_t field, v;
		unsigned wire;

		if (tag(&in, &field, &wire))
			return fail(reason, "bad field tag");
		if (field > 9) {
			if (skip(&in, wire))
				return fail(reason, "unknown field runs past the end");
			continue;
		}
		if (wire != (field <= 4 ? WIRE_VARINT : WIRE_LEN))
			return fail(reason, "known field of the wrong wire type");
		if (field <= 4) {
			if (varint(&in, &v))
				return fail(reason, "bad varint");
			if (field == 1)
				f->seq_id = v;
			else if (field == 2)
				f->log_id = v;
			else if (field == 3)
				f->service = (int32_t)(uint32_t)v;	/* int32: the low 32 bits */
			else
				f->method = (int32_t)(uint32_t)v;
			seen |= 1u << field;
			continue;
		}
		if (delimited(&in, &s)) {
			if (!cut || field != 8)
				return fail(reason, "length runs past the end");
			/* the payload the cut went through: what is left of it */
			f->payload = (struct frame_str){ (const char *)in.p, (size_t)(in.end - in.p) };
			f->cut = 1;
			break;
		}
		switch (field) {
		case 5:
			if (f->nheaders == FRAME_MAX_HEADERS)
				return fail(reason, "too many headers");
			if (header(s, &f->headers[f->nheaders++]))
				return fail(reason, "malformed header");
			break;
		case 6: f->payload_encoding = s; break;
		case 7: f->payload_type = s; break;
		case 8: f->payload = s; break;
		case 9: f->log_id_new = s; break;
		}
	}
	if (seen != 0x1e)
		return fail(reason, "a required field (SeqID, LogID, service, method) is missing");
	return 0;
}

int
frame_decode(const unsigned char *buf, size_t len, struct frame *f, const char **reason)
{
	return decode(buf, len, f, 0, reason);
}

int
frame_decode_cut(const unsigned char *buf, size_t len, struct frame *f, const char **reason)
{
	return decode(buf, len, f, 1, reason);
}

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* tag, length and bytes of a length-delimited field */
static size_t
str_size(size_t n)
{
	return 1 + varint_size(n) + n;
}

static size_t
header_size(const struct frame_header *h)
{
	return str_size(h->key.n) + str_size(h->value.n);
}

/* An int32 goes on the wire sign-extended to 64 bits, as protobuf does. */
static uint64_t
int32_wire(int32_t v)
{
	return (uint64_t)(int64_t)v;
}

size_t
frame_size(const struct frame *f)
{
	const struct frame_str *opt[] = { &f->payload_encoding, &f->payload_type, &f->payload,
	                                  &f->log_id_new };
	size_t n = 4 + varint_size(f->seq_id) + varint_size(f->log_id) +
	           varint_size(int32_wire(f->service)) + varint_size(int32_wire(f->method));

	for (int i = 0; i < f->nheaders; i++)
		n += str_size(header_size(&f->headers[i]));
	for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
		if (opt[i]->p)
			n += str_size(opt[i]->n);
	return n;
}

static unsigned char *
put_varint(unsigned char *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*o++ = (unsigned char)v;
	return o;
}

static unsigned char *
put_str(unsigned char *o, unsigned field, const struct frame_str *s)
{
	*o++ = (unsigned char)(field << 3 | WIRE_LEN);
	o = put_varint(o, s->n);
	if (s->n)
		memcpy(o, s->p, s->n);
	return o + s->n;
}

size_t
frame_encode(const struct frame *f, unsigned char *out)
{
	const struct frame_str *opt[] = { &f->payload_encoding, &f->payload_type, &f->payload,
	                                  &f->log_id_new };
	unsigned char *o = out;

	*o++ = 1 << 3 | WIRE_VARINT;
	o = put_varint(o, f->seq_id);
	*o++ = 2 << 3 | WIRE_VARINT;
	o = put_varint(o, f->log_id);
	*o++ = 3 << 3 | WIRE_VARINT;
	o = put_varint(o, int32_wire(f->service));
	*o++ = 4 << 3 | WIRE_VARINT;
	o = put_varint(o, int32_wire(f->method));
	for (int i = 0; i < f->nheaders; i++) {
		*o++ = 5 << 3 | WIRE_LEN;
		o = put_varint(o, header_size(&f->headers[i]));
		o = put_str(o, 1, &f->headers[i].key);
		o = put_str(o, 2, &f->headers[i].value);
	}
	for (unsigned i = 0; i < sizeof opt / sizeof opt[0]; i++)
		if (opt[i]->p)
			o = put_str(o, 6 + i, opt[i]);
	return (size_t)(o - out);
}

int
frame_is(const struct frame_str *s, const char *t)
{
	size_t n = strlen(t);

	return s && s->p && s->n == n && memcmp(s->p, t, n) == 0;
}

const struct frame_str *
frame_get(const struct frame *f, const char *key)
{
	for (int i = 0; i < f->nheaders; i++)
		if (frame_is(&f->headers[i].key, key))
			return &f->headers[i].value;
	return NULL;
}

int
frame_add(struct frame *f, const char *key, const char *value)
{
	if (f->nheaders > FRAME_MAX_HEADERS)
		return -1;
	f->headers[f->nheaders].key = (struct frame_str){ key, strlen(key) };
	f->headers[f->nheaders].value = (struct frame_str){ value, strlen(value) };
	f->nheaders++;
	return 0;
}
