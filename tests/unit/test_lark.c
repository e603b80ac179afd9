/* test_lark.c: the protocol decision on the shared vectors, the unsigned
 * path, the replay window, and a forged SHA-256 length extension */
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "t.h"
#include "config.h"
#include "crypto.h"
#include "lark.h"

static struct config cfg, plain_cfg, window_cfg, default_cfg;
static const char *ts, *nonce;

static void
load(struct config *c, const char *text)
{
	char err[256];

	if (cfg_parse(text, strlen(text), "/t/larkhook.conf", c, err, sizeof err)) {
		printf("FAIL - config: %s\n", err);
		exit(1);
	}
}

static enum status
decide(const struct config *c, const char *sig, const char *body, size_t len, time_t now,
       struct lark_event *ev)
{
	struct lark_request rq = { sig, sig ? ts : NULL, sig ? nonce : NULL, body, len };

	return lark_decide(c, &rq, now, ev);
}

static void
vectors(const cJSON *vec)
{
	const cJSON *v;
	struct lark_event ev;
	char sig[65];

	cJSON_ArrayForEach(v, cJSON_GetObjectItem(vec, "vectors")) {
		const char *name = t_str(v, "name"), *body = t_str(v, "raw_body");
		int is_challenge = strncmp(name, "challenge", 9) == 0;
		enum status st;

		lark_sign(ts, nonce, t_str(vec, "encrypt_key"), body, strlen(body), sig);
		CHECK(strcmp(sig, t_str(v, "x_lark_signature")) == 0, "%s: signature as documented", name);
		st = decide(&cfg, t_str(v, "x_lark_signature"), body, strlen(body), 1700000000, &ev);
		CHECK(st == ST_OK, "%s: signed request accepted (%s)", name, ev.reason);
		CHECK(ev.challenge == is_challenge, "%s: classified as %s", name, is_challenge ? "challenge" : "event");
		if (!is_challenge)
			CHECK(ev.plain && strcmp(ev.plain, t_str(v, "plaintext")) == 0 && ev.type && ev.id,
			      "%s: plaintext kept as received, type and id found", name);
		lark_event_free(&ev);

		st = decide(&cfg, NULL, body, strlen(body), 1700000000, &ev);
		CHECK(st == (is_challenge ? ST_OK : ST_UNAUTHORIZED), "%s unsigned: %d", name, (int)st);
		lark_event_free(&ev);

		sig[0] = sig[0] == 'a' ? 'b' : 'a';
		st = decide(&cfg, sig, body, strlen(body), 1700000000, &ev);
		CHECK(st == ST_UNAUTHORIZED, "%s: a changed signature digit is 401", name);
		lark_event_free(&ev);
	}
}

static void
fields(const cJSON *vec)
{
	const cJSON *v = t_vector(vec, "comp");
	const cJSON *v1 = t_vector(vec, "v1");
	const cJSON *perf = t_vector(vec, "perf");
	struct lark_event ev;

	decide(&cfg, t_str(v, "x_lark_signature"), t_str(v, "raw_body"), strlen(t_str(v, "raw_body")), 0, &ev);
	CHECK(ev.type && strcmp(ev.type, "compensation.archive.changed_v1") == 0, "comp: type");
	CHECK(ev.id && strcmp(ev.id, "f7984f25108f8137722bb63cee927e66") == 0, "comp: id");
	CHECK(ev.schema && strcmp(ev.schema, "2.0") == 0, "comp: schema 2.0");
	CHECK(ev.time && strcmp(ev.time, "1700000001000") == 0, "comp: create_time as sent");
	CHECK(ev.app_id && strcmp(ev.app_id, "cli_a1b2c3d4e5f60001") == 0, "comp: app_id");
	CHECK(ev.tenant_key && strcmp(ev.tenant_key, "2ca1d211f64f6438") == 0, "comp: tenant_key");
	CHECK(ev.signed_request, "comp: marked as signed");
	lark_event_free(&ev);

	decide(&cfg, t_str(v1, "x_lark_signature"), t_str(v1, "raw_body"), strlen(t_str(v1, "raw_body")), 0, &ev);
	CHECK(ev.schema && strcmp(ev.schema, "1.0") == 0, "v1: schema 1.0");
	CHECK(ev.type && strcmp(ev.type, "app_ticket") == 0, "v1: type from event.type");
	CHECK(ev.id && strlen(ev.id) > 0 && strcmp(ev.id, cJSON_GetObjectItem(ev.root, "uuid")->valuestring) == 0,
	      "v1: id from uuid");
	lark_event_free(&ev);

	decide(&cfg, t_str(perf, "x_lark_signature"), t_str(perf, "raw_body"), strlen(t_str(perf, "raw_body")), 0, &ev);
	CHECK(lark_each_count(ev.root, "items") == 1, "perf: each items counts 1");
	CHECK(lark_each_count(ev.root, "missing") == -1, "perf: a missing each path is -1");
	CHECK(lark_each_count(ev.root, "items.x") == -1, "perf: a path through an array is -1");
	lark_event_free(&ev);
}

static void
negative(const cJSON *vec)
{
	const cJSON *neg = cJSON_GetObjectItem(vec, "negative");
	const cJSON *sp = cJSON_GetObjectItem(neg, "perf_body_with_space_after_colon");
	const cJSON *ch = t_vector(vec, "challenge");
	struct lark_event ev;
	char upper[65];
	enum status st;

	st = decide(&cfg, t_str(sp, "x_lark_signature_over_these_exact_bytes"), t_str(sp, "raw_body"),
	            strlen(t_str(sp, "raw_body")), 0, &ev);
	CHECK(st == ST_OK && !ev.challenge, "a body with a space after the colon, signed over its bytes: accepted");
	lark_event_free(&ev);

	snprintf(upper, sizeof upper, "%s", t_str(ch, "x_lark_signature"));
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p -= 32;
	st = decide(&cfg, upper, t_str(ch, "raw_body"), strlen(t_str(ch, "raw_body")), 0, &ev);
	CHECK(st == ST_UNAUTHORIZED, "uppercase hex signature: 401");
	lark_event_free(&ev);

	/* the challenge under another key: its padding check fails, uniform 401 */
	struct config wrong;
	load(&wrong, "verification_token = lark-test-verification-token-01\nencrypt_key = test key\nmax_age = 0\n");
	st = decide(&wrong, NULL, t_str(ch, "raw_body"), strlen(t_str(ch, "raw_body")), 0, &ev);
	CHECK(st == ST_UNAUTHORIZED, "challenge decrypted with the wrong key: 401 (%s)", ev.reason);
	lark_event_free(&ev);
	cfg_free(&wrong);
}

/* Anyone holding one signed request can extend it: SHA-256 of
 * prefix || body || glue || suffix continues from the published digest. */
static void
length_extension(const cJSON *vec)
{
	const cJSON *v = t_vector(vec, "comp");
	const char *body = t_str(v, "raw_body"), *sig = t_str(v, "x_lark_signature");
	const char *suffix = "{\"encrypt\":\"evil\"}";
	size_t prefix = strlen(ts) + strlen(nonce) + strlen(t_str(vec, "encrypt_key"));
	size_t total = prefix + strlen(body);
	/* 0x80, zeros up to 56 mod 64, then the bit length in 8 bytes */
	size_t glue = 1 + (55 - total % 64 + 64) % 64 + 8;
	unsigned char forged[4096], md[32];
	char forged_sig[65], check_sig[65];
	size_t n = 0;
	SHA256_CTX ctx;
	struct lark_event ev;
	enum status st;

	memcpy(forged, body, strlen(body));
	n = strlen(body);
	forged[n++] = 0x80;
	while ((prefix + n) % 64 != 56)
		forged[n++] = 0;
	for (int i = 7; i >= 0; i--)
		forged[n++] = (unsigned char)(((unsigned long long)total * 8) >> (8 * i));
	CHECK((prefix + n) % 64 == 0 && n - strlen(body) == glue, "length extension: glue padding built");
	memcpy(forged + n, suffix, strlen(suffix));

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	SHA256_Init(&ctx);
	for (int i = 0; i < 8; i++)
		sscanf(sig + 8 * i, "%8x", &ctx.h[i]);
	ctx.Nl = (unsigned)((prefix + n) * 8);
	ctx.Nh = 0;
	SHA256_Update(&ctx, suffix, strlen(suffix));
	SHA256_Final(md, &ctx);
#pragma GCC diagnostic pop
	n += strlen(suffix);
	crypto_hex(md, 32, forged_sig);
	lark_sign(ts, nonce, t_str(vec, "encrypt_key"), (const char *)forged, n, check_sig);
	CHECK(strcmp(forged_sig, check_sig) == 0, "length extension: the forged signature is valid without the key");
	st = decide(&cfg, forged_sig, (const char *)forged, n, 0, &ev);
	CHECK(st == ST_BAD_REQUEST, "length extension: the extended body is rejected as not one JSON value (%s)",
	      ev.reason);
	lark_event_free(&ev);
}

static void
window(const cJSON *vec)
{
	const cJSON *v = t_vector(vec, "comp");
	const char *body = t_str(v, "raw_body"), *sig = t_str(v, "x_lark_signature");
	struct lark_event ev;

	CHECK(decide(&window_cfg, sig, body, strlen(body), 1700000000 + 28800, &ev) == ST_OK && ev.age_known &&
	      ev.age == 28800, "max_age 8h: 8 h old accepted, its age kept");
	lark_event_free(&ev);
	CHECK(decide(&window_cfg, sig, body, strlen(body), 1700000000 + 28801, &ev) == ST_UNAUTHORIZED, "max_age 8h: 8 h 1 s old is 401");
	lark_event_free(&ev);
	CHECK(decide(&window_cfg, sig, body, strlen(body), 1700000000 - 28801, &ev) == ST_UNAUTHORIZED, "max_age 8h: 8 h 1 s ahead is 401");
	lark_event_free(&ev);
	CHECK(decide(&default_cfg, sig, body, strlen(body), 1700000000 + 86401, &ev) == ST_UNAUTHORIZED,
	      "default max_age (1d): a day and a second old is 401");
	lark_event_free(&ev);
	CHECK(decide(&default_cfg, sig, body, strlen(body), 1700000000 + 86400, &ev) == ST_OK,
	      "default max_age (1d): a day old accepted");
	lark_event_free(&ev);
	CHECK(decide(&cfg, sig, body, strlen(body), 1800000000, &ev) == ST_OK, "max_age 0: any age accepted");
	lark_event_free(&ev);
}

static void
token_only(const cJSON *vec)
{
	const cJSON *v = t_vector(vec, "comp");
	const char *pt = t_str(v, "plaintext"), *body = t_str(v, "raw_body");
	const char *chal = "{\"challenge\":\"x\\\"y\",\"token\":\"lark-test-verification-token-01\",\"type\":\"url_verification\"}";
	struct lark_event ev;

	CHECK(decide(&plain_cfg, NULL, pt, strlen(pt), 0, &ev) == ST_OK && !ev.challenge, "token-only: plaintext event accepted");
	lark_event_free(&ev);
	CHECK(decide(&plain_cfg, NULL, body, strlen(body), 0, &ev) == ST_SERVER_ERROR, "token-only: encrypted body is 500");
	lark_event_free(&ev);
	CHECK(decide(&plain_cfg, NULL, chal, strlen(chal), 0, &ev) == ST_OK && ev.challenge &&
	      strcmp(ev.challenge_json, "{\"challenge\":\"x\\\"y\"}") == 0, "token-only: challenge answered, JSON-escaped");
	lark_event_free(&ev);
	CHECK(decide(&cfg, NULL, pt, strlen(pt), 0, &ev) == ST_UNAUTHORIZED, "key set: plaintext event unsigned is 401");
	lark_event_free(&ev);
}

/* The long connection's events arrive as plaintext: steps 5-8 without the
 * envelope, signature or window; the token only when asked. */
static void
classify_plain(const cJSON *vec)
{
	const cJSON *v = t_vector(vec, "comp");
	const char *pt = t_str(v, "plaintext");
	const char *forged = "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\",\"event_type\":\"t.x\","
	                     "\"token\":\"wrong\"},\"event\":{}}";
	const char *noid = "{\"header\":{\"event_type\":\"t\"},\"event\":{}}";
	struct lark_event ev;

	CHECK(lark_classify_plain(&cfg, pt, strlen(pt), 1, &ev) == ST_OK && !ev.challenge && ev.id &&
	      strcmp(ev.id, "f7984f25108f8137722bb63cee927e66") == 0 && strcmp(ev.plain, pt) == 0,
	      "classify_plain: the plaintext event accepted, id found, kept as received");
	lark_event_free(&ev);
	CHECK(lark_classify_plain(&cfg, forged, strlen(forged), 1, &ev) == ST_UNAUTHORIZED,
	      "classify_plain: a wrong token is 401 when checked");
	lark_event_free(&ev);
	CHECK(lark_classify_plain(&cfg, forged, strlen(forged), 0, &ev) == ST_OK && strcmp(ev.type, "t.x") == 0,
	      "classify_plain: the token is not looked at when not asked");
	lark_event_free(&ev);
	CHECK(lark_classify_plain(&cfg, "{\"a\":1}", 7, 0, &ev) == ST_BAD_REQUEST,
	      "classify_plain: neither event nor challenge is 400 (%s)", ev.reason);
	lark_event_free(&ev);
	CHECK(lark_classify_plain(&cfg, noid, strlen(noid), 0, &ev) == ST_BAD_REQUEST, "classify_plain: an event without id is 400 (%s)", ev.reason);
	lark_event_free(&ev);
}

/* Legacy card callbacks are signed with SHA-1 over the Verification Token;
 * larkhook does not accept them (doc/7-feishu.md §7.7: only the schema 2.0 card callback is taken).
 * The vector is checked here so the scheme is known, then refused. */
static void
legacy_card(const cJSON *vec)
{
	const cJSON *card = cJSON_GetObjectItem(vec, "card_legacy_sha1");
	const char *body = t_str(card, "raw_body"), *want = t_str(card, "x_lark_signature");
	unsigned char md[20];
	char hex[41];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct lark_event ev;
	struct lark_request rq = { want, t_str(card, "timestamp"), t_str(card, "nonce"), body, strlen(body) };

	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	EVP_DigestUpdate(ctx, t_str(card, "timestamp"), strlen(t_str(card, "timestamp")));
	EVP_DigestUpdate(ctx, t_str(card, "nonce"), strlen(t_str(card, "nonce")));
	EVP_DigestUpdate(ctx, t_str(card, "verification_token"), strlen(t_str(card, "verification_token")));
	EVP_DigestUpdate(ctx, body, strlen(body));
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	crypto_hex(md, 20, hex);
	CHECK(strcmp(hex, want) == 0, "legacy card: the SHA-1 vector is as documented");
	CHECK(lark_decide(&cfg, &rq, 0, &ev) == ST_UNAUTHORIZED, "legacy card with its SHA-1 signature: 401");
	lark_event_free(&ev);
	rq.signature = rq.timestamp = rq.nonce = NULL;
	CHECK(lark_decide(&plain_cfg, &rq, 0, &ev) == ST_BAD_REQUEST,
	      "legacy card in token-only mode: 400, not an event (%s)", ev.reason);
	lark_event_free(&ev);
}

/* Feishu's bare {"encrypt":"..."} is read without a tree (lark.c,
 * bare_encrypt); the same value written any other way takes the full parse.
 * Both must decide the same: status, reason, challenge, plaintext, type, id. */
static void
bare_and_parsed(const cJSON *vec)
{
	static const struct {
		const char *label, *head, *tail;
		int escape_first;
	} forms[] = {
		{ "with spaces", "{ \"encrypt\" : \"", "\" }", 0 },
		{ "with its first byte escaped", "{\"encrypt\":\"", "\"}", 1 },
		{ "after another member", "{\"x\":1,\"encrypt\":\"", "\"}", 0 },
	};
	static const char *const bad[] = { "AAA", "AAAA", "=AAA", "" };
	const cJSON *v;
	char body[8192], sig[65];

	cJSON_ArrayForEach(v, cJSON_GetObjectItem(vec, "vectors")) {
		const char *name = t_str(v, "name"), *enc = t_str(v, "encrypt");
		struct lark_event bare, parsed;
		enum status sb, sp;

		snprintf(body, sizeof body, "{\"encrypt\":\"%s\"}", enc);
		CHECK(strcmp(body, t_str(v, "raw_body")) == 0, "%s: Feishu's body is the bare form", name);
		sb = decide(&cfg, t_str(v, "x_lark_signature"), body, strlen(body), 1700000000, &bare);
		for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
			if (forms[f].escape_first)
				snprintf(body, sizeof body, "%s\\u%04x%s%s", forms[f].head, (unsigned char)enc[0],
				         enc + 1, forms[f].tail);
			else
				snprintf(body, sizeof body, "%s%s%s", forms[f].head, enc, forms[f].tail);
			lark_sign(ts, nonce, t_str(vec, "encrypt_key"), body, strlen(body), sig);
			sp = decide(&cfg, sig, body, strlen(body), 1700000000, &parsed);
			CHECK(sb == sp && strcmp(bare.reason, parsed.reason) == 0 && bare.challenge == parsed.challenge &&
			      (!bare.plain) == (!parsed.plain) && (!bare.plain || strcmp(bare.plain, parsed.plain) == 0) &&
			      (!bare.id) == (!parsed.id) && (!bare.id || strcmp(bare.id, parsed.id) == 0) &&
			      (!bare.type) == (!parsed.type) && (!bare.type || strcmp(bare.type, parsed.type) == 0),
			      "%s: the value %s decides as the bare body (%s / %s)", name, forms[f].label, bare.reason,
			      parsed.reason);
			lark_event_free(&parsed);
		}
		lark_event_free(&bare);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct lark_event bare, parsed;
		enum status sb, sp;

		snprintf(body, sizeof body, "{\"encrypt\":\"%s\"}", bad[i]);
		lark_sign(ts, nonce, t_str(vec, "encrypt_key"), body, strlen(body), sig);
		sb = decide(&cfg, sig, body, strlen(body), 1700000000, &bare);
		snprintf(body, sizeof body, "{\"encrypt\": \"%s\"}", bad[i]);
		lark_sign(ts, nonce, t_str(vec, "encrypt_key"), body, strlen(body), sig);
		sp = decide(&cfg, sig, body, strlen(body), 1700000000, &parsed);
		CHECK(sb == ST_BAD_REQUEST && sb == sp && strcmp(bare.reason, parsed.reason) == 0,
		      "encrypt \"%s\": 400 \"%s\" bare and parsed alike", bad[i], bare.reason);
		lark_event_free(&bare);
		lark_event_free(&parsed);
	}
}

/* A refused identity is still shown to the log: said_type and said_id
 * hold what was sent (step 8 of doc/1-flow.md §1.2; log_request escapes
 * and cuts it), while type and id stay NULL. */
static void
refused_identity(const cJSON *vec)
{
	const char *tok = t_str(vec, "verification_token");
	char body[2048], longid[301];
	struct lark_event ev;
	enum status st;

	snprintf(body, sizeof body, "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"a\\u0001b\\nc\","
	         "\"event_type\":\"t.x\",\"token\":\"%s\"},\"event\":{}}", tok);
	st = decide(&plain_cfg, NULL, body, strlen(body), 0, &ev);
	CHECK(st == ST_BAD_REQUEST && !ev.id && ev.said_id && strcmp(ev.said_id, "a\001b\nc") == 0 &&
	      ev.said_type && strcmp(ev.said_type, "t.x") == 0,
	      "an id with control bytes: 400, and said_id/said_type keep what was sent (%s)", ev.reason);
	lark_event_free(&ev);

	memset(longid, 'x', 300);
	longid[300] = '\0';
	snprintf(body, sizeof body, "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"%s\","
	         "\"event_type\":\"t\\u007f\",\"token\":\"%s\"},\"event\":{}}", longid, tok);
	st = decide(&plain_cfg, NULL, body, strlen(body), 0, &ev);
	CHECK(st == ST_BAD_REQUEST && !ev.type && ev.said_type && strcmp(ev.said_type, "t\177") == 0 &&
	      ev.said_id && strlen(ev.said_id) == 300, "a 300-byte id and a type with DEL: 400, both said (%s)",
	      ev.reason);
	lark_event_free(&ev);

	snprintf(body, sizeof body, "{\"uuid\":\"u\\r1\",\"token\":\"%s\",\"event\":{\"type\":\"old\"}}", tok);
	st = decide(&plain_cfg, NULL, body, strlen(body), 0, &ev);
	CHECK(st == ST_BAD_REQUEST && ev.said_id && strcmp(ev.said_id, "u\r1") == 0 && ev.said_type &&
	      strcmp(ev.said_type, "old") == 0, "schema 1.0: uuid and event.type said");
	lark_event_free(&ev);

	snprintf(body, sizeof body, "{\"schema\":\"2.0\",\"header\":{\"event_id\":7,\"token\":\"%s\"},"
	         "\"event\":{}}", tok);
	st = decide(&plain_cfg, NULL, body, strlen(body), 0, &ev);
	CHECK(st == ST_BAD_REQUEST && !ev.said_id && !ev.said_type, "a number id and no type: nothing said");
	lark_event_free(&ev);

	snprintf(body, sizeof body, "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\",\"event_type\":\"t\","
	         "\"token\":\"wrong\"},\"event\":{}}");
	st = decide(&plain_cfg, NULL, body, strlen(body), 0, &ev);
	CHECK(st == ST_UNAUTHORIZED && ev.said_id && strcmp(ev.said_id, "e1") == 0,
	      "a wrong token: 401, the id it claimed is said");
	lark_event_free(&ev);
}

int
main(void)
{
	cJSON *vec = t_vectors();
	char text[512];

	ts = t_str(vec, "timestamp");
	nonce = t_str(vec, "nonce");
	snprintf(text, sizeof text, "verification_token = %s\nencrypt_key = %s\nmax_age = 0\n",
	         t_str(vec, "verification_token"), t_str(vec, "encrypt_key"));
	load(&cfg, text);
	snprintf(text, sizeof text, "verification_token = %s\nencrypt_key = %s\nmax_age = 8h\n",
	         t_str(vec, "verification_token"), t_str(vec, "encrypt_key"));
	load(&window_cfg, text);
	snprintf(text, sizeof text, "verification_token = %s\nencrypt_key = %s\n",
	         t_str(vec, "verification_token"), t_str(vec, "encrypt_key"));
	load(&default_cfg, text);
	snprintf(text, sizeof text, "verification_token = %s\nmax_age = 0\n", t_str(vec, "verification_token"));
	load(&plain_cfg, text);

	vectors(vec);
	bare_and_parsed(vec);
	fields(vec);
	negative(vec);
	length_extension(vec);
	window(vec);
	token_only(vec);
	refused_identity(vec);
	legacy_card(vec);
	classify_plain(vec);
	cfg_free(&cfg);
	cfg_free(&window_cfg);
	cfg_free(&default_cfg);
	cfg_free(&plain_cfg);
	cJSON_Delete(vec);
	return t_done();
}
