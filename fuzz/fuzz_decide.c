/* fuzz_decide.c: libFuzzer target for the whole request decision
 * (lark_decide in lark.h: signature headers + body → status).
 *
 * Input layout: one flags byte, then the rest split at the first three
 * '\n' into X-Lark-Signature, X-Lark-Request-Timestamp,
 * X-Lark-Request-Nonce and the body (the body may hold any byte; a header
 * ends at its first NUL, as an environment variable would).
 *   bit 0: token-only config (no encrypt_key), else the vectors' keys
 *   bit 1, 2, 3: send the signature, timestamp, nonce header
 *   bit 4: replace the signature by the right one over timestamp, nonce,
 *          key and the (final) body, so the fuzzer gets past verification
 *   bit 5: the body is a plaintext: encrypt it with the key and a fixed IV
 *          into {"encrypt":"…"} first, so the fuzzer reaches the inner steps
 *   bit 6: a config with max_age = 8h, the least doc/2-config.md allows
 *          (now is the vectors' timestamp)
 * Missing lines are empty headers and an empty body.
 *
 * Invariants: the status is one lark_decide documents (200 400 401 500)
 * with a reason; the unsigned path with a key set answers only a challenge
 * or the uniform 401; an accepted event has a printable type and id of at
 * most 256 bytes, a schema of "2.0" or "1.0", its plaintext and tree, and
 * with a key it was signed; a challenge answer is strict JSON. The same
 * body goes through lark_plain_event with the same checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "lark.h"

#ifndef FUZZ_KEY
#define FUZZ_KEY "lark-test-encrypt-key-0001"
#endif
#ifndef FUZZ_TOKEN
#define FUZZ_TOKEN "lark-test-verification-token-01"
#endif
#define NOW 1700000000

#define BUG(...) do { fprintf(stderr, "fuzz_decide: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct config keyed, plain, windowed;

static void
load(struct config *c, const char *text)
{
	char err[512];

	if (cfg_parse(text, strlen(text), "/fuzz/larkhook.conf", c, err, sizeof err)) {
		fprintf(stderr, "fuzz_decide: config: %s\n", err);
		exit(1);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	load(&keyed, "verification_token = " FUZZ_TOKEN "\nencrypt_key = " FUZZ_KEY "\n");
	load(&plain, "verification_token = " FUZZ_TOKEN "\n");
	load(&windowed, "verification_token = " FUZZ_TOKEN "\nencrypt_key = " FUZZ_KEY
	     "\nmax_age = 8h\n");
	return 0;
}

/* The next '\n'-terminated field of [*p, end) as a NUL-terminated copy. */
static char *
field(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

static int
printable(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++)
		if (s[n] < 0x20 || s[n] > 0x7e)
			return 0;
	return n >= 1 && n <= LARK_ID_MAX;
}

static void
check_event(const char *who, enum status st, const struct lark_event *ev)
{
	if (!ev->reason)
		BUG("%s: status %d without a reason", who, (int)st);
	if (st != ST_OK && st != ST_BAD_REQUEST && st != ST_UNAUTHORIZED && st != ST_SERVER_ERROR)
		BUG("%s: undocumented status %d (%s)", who, (int)st, ev->reason);
	if (st != ST_OK)
		return;
	if (ev->challenge) {
		if (!ev->challenge_json || json_check(ev->challenge_json, strlen(ev->challenge_json)))
			BUG("%s: challenge answer is not strict JSON", who);
		return;
	}
	if (!printable(ev->type) || !printable(ev->id))
		BUG("%s: accepted event without a printable type and id", who);
	if (!ev->schema || (strcmp(ev->schema, "2.0") != 0 && strcmp(ev->schema, "1.0") != 0))
		BUG("%s: accepted event with schema %s", who, ev->schema ? ev->schema : "NULL");
	if (!ev->plain || !ev->root || strlen(ev->plain) != ev->plain_len)
		BUG("%s: accepted event without its plaintext and tree", who);
	if (json_check(ev->plain, ev->plain_len))
		BUG("%s: accepted plaintext is not strict JSON", who);
	for (const char *const *m = &ev->time; m <= &ev->tenant_key; m++)
		if (*m && !printable(*m))
			BUG("%s: metadata is not printable", who);
	(void)lark_each_count(ev->root, "items");
	(void)lark_each_count(ev->root, "a.b.c");
}

/* {"encrypt":"base64(iv || AES(plain))"} under the config's key. */
static char *
seal(const struct config *c, const char *plain, size_t n, size_t *len)
{
	static const unsigned char iv[16] = "fuzz-fixed-iv-16";
	unsigned char *raw;
	size_t rawn;
	char *b64, *body;

	if (crypto_encrypt(c->aes_key, iv, plain, n, &raw, &rawn))
		abort();
	b64 = crypto_b64encode(raw, rawn);
	free(raw);
	if (!b64 || !(body = malloc(strlen(b64) + 16)))
		abort();
	*len = (size_t)sprintf(body, "{\"encrypt\":\"%s\"}", b64);
	free(b64);
	return body;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const unsigned char *p = data + 1, *end = data + size;
	const struct config *c;
	struct lark_request rq = { 0 };
	struct lark_event ev;
	char *sig, *ts, *nonce, *body, good[65];
	size_t len;
	unsigned flags;
	enum status st;

	if (size < 1)
		return 0;
	flags = data[0];
	c = flags & 1 ? &plain : flags & 64 ? &windowed : &keyed;
	sig = field(&p, end);
	ts = field(&p, end);
	nonce = field(&p, end);
	len = (size_t)(end - p);
	if (!(body = malloc(len ? len : 1)))
		abort();
	memcpy(body, p, len);
	if ((flags & 32) && c->encrypt_key) {
		char *sealed = seal(c, body, len, &len);

		free(body);
		body = sealed;
	}
	if ((flags & 16) && c->encrypt_key &&
	    lark_sign(ts, nonce, c->encrypt_key, body, len, good) == 0) {
		free(sig);
		sig = strdup(good);
	}
	rq.signature = flags & 2 ? sig : NULL;
	rq.timestamp = flags & 4 ? ts : NULL;
	rq.nonce = flags & 8 ? nonce : NULL;
	rq.body = body;
	rq.body_len = len;

	st = lark_decide(c, &rq, NOW, &ev);
	check_event("lark_decide", st, &ev);
	if (c->encrypt_key && !rq.signature && !rq.timestamp && !rq.nonce &&
	    !(st == ST_UNAUTHORIZED || (st == ST_OK && ev.challenge) || st == ST_SERVER_ERROR))
		BUG("unsigned request with a key set: status %d (%s), not a challenge or the uniform 401",
		    (int)st, ev.reason);
	if (st == ST_OK && !ev.challenge && c->encrypt_key && !ev.signed_request)
		BUG("event accepted with a key set but not signed");
	lark_event_free(&ev);

	st = lark_plain_event(body, len, &ev);
	check_event("lark_plain_event", st, &ev);
	if (st == ST_OK && ev.challenge)
		BUG("lark_plain_event answered a challenge");
	lark_event_free(&ev);

	free(sig);
	free(ts);
	free(nonce);
	free(body);
	return 0;
}
