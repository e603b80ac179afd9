/* frame.h: the pbbp2.Frame codec of Feishu's long connection (doc/10-connect.md
 * §10.1; why it is hand-written: §10.2). Pure. */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX_HEADERS 64	/* a frame with more is refused */

/* Bytes of a string or bytes field, borrowed; p is NULL when absent. Not
 * NUL-terminated: a hostile peer may put a NUL inside. */
struct frame_str {
	const char *p;
	size_t n;
};

struct frame_header {
	struct frame_str key, value;
};

struct frame {
	uint64_t seq_id, log_id;			/* fields 1-4: required, */
	int32_t service, method;			/* always encoded */
	struct frame_header headers[FRAME_MAX_HEADERS + 1];	/* one spare for an ack's biz_rt */
	int nheaders;
	struct frame_str payload_encoding, payload_type;	/* 6, 7 */
	struct frame_str payload;			/* 8 */
	struct frame_str log_id_new;			/* 9 */
	int cut;		/* frame_decode_cut: the payload runs past the end */
};

enum { FRAME_CONTROL = 0, FRAME_DATA = 1 };	/* method */

/* Decode buf[0..len) into f, whose strings then point into buf. Unknown
 * fields are skipped; a missing required field, a known field of the wrong
 * wire type, a length past the end, a varint over 10 bytes, a group or more
 * than FRAME_MAX_HEADERS headers is refused. 0 on success; -1 with a static
 * *reason. */
int frame_decode(const unsigned char *buf, size_t len, struct frame *f, const char **reason);

/* The same for the first len bytes of a frame that was longer (a message
 * over the WebSocket size limit, cut): a payload (field 8) that runs past
 * the end is what there is of it, with f->cut set, and decoding stops
 * there; anything else past the end is refused. Feishu's encoder writes
 * the fields in order, so the ids and headers an ack echoes come first. */
int frame_decode_cut(const unsigned char *buf, size_t len, struct frame *f, const char **reason);

/* The exact length frame_encode writes for f. */
size_t frame_size(const struct frame *f);

/* Encode f into out, which holds frame_size(f) bytes; returns that length.
 * Fields 1-4 are always written (the SDKs refuse a frame without them),
 * the others when their p is not NULL. */
size_t frame_encode(const struct frame *f, unsigned char *out);

/* The first header named key, or NULL. Borrowed from f. */
const struct frame_str *frame_get(const struct frame *f, const char *key);

/* Append a header (key and value borrowed: they must outlive f's use).
 * -1 when f has no room left. */
int frame_add(struct frame *f, const char *key, const char *value);

/* 1 when s holds exactly the text t. */
int frame_is(const struct frame_str *s, const char *t);

#endif
