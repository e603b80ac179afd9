/* lark.c: the Feishu / Lark protocol as one pure decision over the request */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "lark.h"

/* Which way the request came: it decides the status of a failure. */
enum path {
	PATH_SIGNED,		/* key set, signature verified: precise 400s */
	PATH_UNSIGNED,		/* key set, no signature: challenge only, uniform 401 */
	PATH_PLAIN,		/* token-only mode */
};

static enum status
fail(struct lark_event *ev, enum status st, const char *reason)
{
	ev->reason = reason;
	return st;
}

/* Malformed input: 400 where the sender is known, the uniform 401 where not. */
static enum status
bad(struct lark_event *ev, enum path path, const char *reason)
{
	return fail(ev, path == PATH_UNSIGNED ? ST_UNAUTHORIZED : ST_BAD_REQUEST, reason);
}

int
lark_sign(const char *timestamp, const char *nonce, const char *key,
          const char *body, size_t len, char out[65])
{
	struct bytes parts[] = {
		{ timestamp, strlen(timestamp) }, { nonce, strlen(nonce) },
		{ key, strlen(key) }, { body, len },
	};
	unsigned char md[32];

	if (crypto_sha256(parts, 4, md))
		return -1;
	crypto_hex(md, 32, out);
	return 0;
}

static int
lowerhex64(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 64;
}

/* The signature covers the raw bytes, so it is checked before any parsing. */
static enum status
verify(const struct config *c, const struct lark_request *rq, struct lark_event *ev)
{
	char want[65];

	if (!rq->signature || !rq->timestamp || !rq->nonce)
		return fail(ev, ST_UNAUTHORIZED, "incomplete signature headers");
	if (strlen(rq->timestamp) > LARK_HEADER_MAX || strlen(rq->nonce) > LARK_HEADER_MAX)
		return fail(ev, ST_UNAUTHORIZED, "oversized signature headers");
	if (!lowerhex64(rq->signature))
		return fail(ev, ST_UNAUTHORIZED, "malformed signature");
	if (lark_sign(rq->timestamp, rq->nonce, c->encrypt_key, rq->body, rq->body_len, want))
		return fail(ev, ST_SERVER_ERROR, "SHA-256 failed");
	if (!crypto_equal(want, 64, rq->signature, 64))
		return fail(ev, ST_UNAUTHORIZED, "signature mismatch");
	ev->signed_request = 1;
	return ST_OK;
}

/* The base64 of iv || ciphertext → ev->plain. */
static enum status
decrypt(const struct config *c, const char *b64, size_t n, enum path path, struct lark_event *ev)
{
	unsigned char *raw = NULL;
	size_t rawn = 0;
	int rc;

	if (crypto_b64decode(b64, n, &raw, &rawn))
		return bad(ev, path, "encrypt is not strict base64");
	rc = crypto_decrypt(c->aes_key, raw, rawn, &ev->plain, &ev->plain_len);
	free(raw);
	if (rc)
		return bad(ev, path, "undecryptable: bad length, key or padding");
	return ST_OK;
}

/* {"encrypt":"<base64 of iv || ciphertext>"} as a parsed tree → ev->plain. */
static enum status
decrypt_member(const struct config *c, const cJSON *outer, enum path path, struct lark_event *ev)
{
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(outer, "encrypt");

	if (!enc)
		return fail(ev, ST_UNAUTHORIZED, "plaintext body but encrypt_key is configured");
	if (!cJSON_IsString(enc))
		return bad(ev, path, "encrypt is not a string");
	return decrypt(c, enc->valuestring, strlen(enc->valuestring), path, ev);
}

/* Feishu's body is exactly {"encrypt":"<base64>"}, and that shape needs no
 * tree: the base64 alphabet holds nothing JSON escapes, so the bytes between
 * the quotes are the string's value, the one the full parse would give.
 * Building the tree was a third of a FastCGI intake's instructions. Any
 * other body (spaces, more members, escapes) takes the full parse. 1 when
 * body has the shape; *b64 and *n are then the value. */
static int
bare_encrypt(const char *body, size_t len, const char **b64, size_t *n)
{
	static const char head[] = "{\"encrypt\":\"";
	const size_t h = sizeof head - 1;

	if (len < h + 2 || memcmp(body, head, h) != 0 || memcmp(body + len - 2, "\"}", 2) != 0 ||
	    !crypto_b64_alphabet(body + h, len - h - 2))
		return 0;
	*b64 = body + h;
	*n = len - h - 2;
	return 1;
}

static const char *
printable(const char *s)
{
	if (!s || !*s || strlen(s) > LARK_ID_MAX)
		return NULL;
	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return NULL;
	return s;
}

static const char *
member(const cJSON *obj, const char *name)
{
	return printable(json_string(obj, name, LARK_ID_MAX));
}

static enum status
challenge(const cJSON *root, enum path path, struct lark_event *ev)
{
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "challenge");
	cJSON *reply;

	if (!cJSON_IsString(ch))
		return bad(ev, path, "challenge is not a string");
	if (strlen(ch->valuestring) > LARK_CHALLENGE_MAX)
		return fail(ev, ST_UNAUTHORIZED, "challenge longer than 1 KiB");
	if (!(reply = cJSON_CreateObject()) || !cJSON_AddStringToObject(reply, "challenge", ch->valuestring) ||
	    !(ev->challenge_json = cJSON_PrintUnformatted(reply))) {
		cJSON_Delete(reply);
		return fail(ev, ST_SERVER_ERROR, "out of memory");
	}
	cJSON_Delete(reply);
	ev->challenge = 1;
	return fail(ev, ST_OK, "challenge answered");
}

static int
decimal(const char *s, long long *out)
{
	long long n = 0;

	if (!s || !*s || strlen(s) > 18)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}

/* Step 9: the timestamp of a signed request (the signature covers it)
 * within max_age of now. Its age is kept for reply hooks (intake.c). */
static enum status
fresh(const struct config *c, const struct lark_request *rq, time_t now, struct lark_event *ev)
{
	long long ts;

	if (!ev->signed_request)
		return ST_OK;
	if (decimal(rq->timestamp, &ts) == 0) {
		ev->age = (long long)now - ts;
		ev->age_known = 1;
	}
	if (!c->max_age)
		return ST_OK;
	if (!ev->age_known)
		return fail(ev, ST_UNAUTHORIZED, "timestamp is not a decimal");
	if (ev->age > (long long)c->max_age || -ev->age > (long long)c->max_age)
		return fail(ev, ST_UNAUTHORIZED, "timestamp outside max_age");
	return ST_OK;
}

/* A string member as sent, whatever its length or bytes (json_check keeps
 * NUL out), or NULL: what the log line shows of a refused identity. */
static const char *
said(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Step 5: parse and classify the plaintext. ev->schema is "2.0", "1.0" or
 * NULL for a challenge; *token is where the Verification Token is. */
static enum status
classify(struct lark_event *ev, enum path path, const cJSON **token)
{
	const cJSON *root, *header, *event, *type;
	const char *err;

	if ((err = json_parse(ev->plain, ev->plain_len, &ev->root)))
		return bad(ev, path, err);
	root = ev->root;
	if (!cJSON_IsObject(root))
		return bad(ev, path, "plaintext is not a JSON object");
	header = cJSON_GetObjectItemCaseSensitive(root, "header");
	event = cJSON_GetObjectItemCaseSensitive(root, "event");
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	*token = cJSON_GetObjectItemCaseSensitive(root, "token");
	if (cJSON_IsObject(header)) {
		ev->schema = "2.0";
		*token = cJSON_GetObjectItemCaseSensitive(header, "token");
		ev->said_type = said(header, "event_type");
		ev->said_id = said(header, "event_id");
	} else if (header) {
		return bad(ev, path, "header is not an object");
	} else if (cJSON_IsString(type) && strcmp(type->valuestring, "url_verification") == 0) {
		ev->schema = NULL;
	} else if (cJSON_GetObjectItemCaseSensitive(root, "uuid") && cJSON_IsObject(event)) {
		ev->schema = "1.0";
		ev->said_type = said(event, "type");
		ev->said_id = said(root, "uuid");
	} else
		return bad(ev, path, "neither an event nor a URL verification");
	return ST_OK;
}

/* Step 8: the event's identity and metadata, borrowed from the tree. */
static enum status
identify(struct lark_event *ev)
{
	const cJSON *root = ev->root;
	const cJSON *header = cJSON_GetObjectItemCaseSensitive(root, "header");
	const cJSON *event = cJSON_GetObjectItemCaseSensitive(root, "event");

	if (ev->schema[0] == '2') {
		ev->type = member(header, "event_type");
		ev->id = member(header, "event_id");
		ev->time = member(header, "create_time");
		ev->app_id = member(header, "app_id");
		ev->tenant_key = member(header, "tenant_key");
	} else {
		ev->type = member(event, "type");
		ev->id = member(root, "uuid");
		ev->time = member(root, "ts");
		ev->app_id = member(event, "app_id");
		ev->tenant_key = member(event, "tenant_key");
	}
	if (!ev->type)
		return fail(ev, ST_BAD_REQUEST, "event type is missing or not 1-256 printable ASCII bytes");
	if (!ev->id)
		return fail(ev, ST_BAD_REQUEST, "event id is missing or not 1-256 printable ASCII bytes");
	return ST_OK;
}

/* Steps 5-8 on the plaintext in ev->plain. */
static enum status
steps5to8(const struct config *c, enum path path, int check_token, struct lark_event *ev)
{
	const cJSON *token = NULL;
	enum status st;

	if ((st = classify(ev, path, &token)) != ST_OK)
		return st;
	/* the token is checked on every request, signed or not */
	if (check_token && (!cJSON_IsString(token) || !c->token ||
	    !crypto_equal(token->valuestring, strlen(token->valuestring), c->token, strlen(c->token))))
		return fail(ev, ST_UNAUTHORIZED, "verification token mismatch");
	if (!ev->schema)
		return challenge(ev->root, path, ev);
	if (path == PATH_UNSIGNED)
		return fail(ev, ST_UNAUTHORIZED, "unsigned event");
	return identify(ev);
}

/* Steps 5-9 on the plaintext. */
static enum status
inner(const struct config *c, const struct lark_request *rq, time_t now, enum path path,
      struct lark_event *ev)
{
	enum status st;

	if ((st = steps5to8(c, path, 1, ev)) != ST_OK || ev->challenge)
		return st;
	if (fresh(c, rq, now, ev) != ST_OK)
		return ST_UNAUTHORIZED;
	return fail(ev, ST_OK, "event accepted");
}

/* ev->plain = a NUL-terminated copy of json[0..len). */
static enum status
copy_plain(const char *json, size_t len, struct lark_event *ev)
{
	if (!(ev->plain = malloc(len + 1)))
		return fail(ev, ST_SERVER_ERROR, "out of memory");
	memcpy(ev->plain, json, len);
	ev->plain[len] = '\0';
	ev->plain_len = len;
	return ST_OK;
}

enum status
lark_classify_plain(const struct config *c, const char *json, size_t len, int check_token,
                    struct lark_event *ev)
{
	enum status st;

	memset(ev, 0, sizeof *ev);
	if ((st = copy_plain(json, len, ev)) != ST_OK)
		return st;
	if ((st = steps5to8(c, PATH_PLAIN, check_token, ev)) != ST_OK || ev->challenge)
		return st;
	return fail(ev, ST_OK, "event accepted");
}

enum status
lark_plain_event(const char *json, size_t len, struct lark_event *ev)
{
	const cJSON *token;
	enum status st;

	memset(ev, 0, sizeof *ev);
	if ((st = copy_plain(json, len, ev)) != ST_OK)
		return st;
	if ((st = classify(ev, PATH_PLAIN, &token)) != ST_OK)
		return st;
	if (!ev->schema)
		return fail(ev, ST_BAD_REQUEST, "a URL verification, not an event");
	if ((st = identify(ev)) != ST_OK)
		return st;
	return fail(ev, ST_OK, "event");
}

enum status
lark_decide(const struct config *c, const struct lark_request *rq, time_t now,
            struct lark_event *ev)
{
	enum path path = PATH_PLAIN;
	cJSON *outer = NULL;
	const char *err, *b64;
	size_t b64n;
	enum status st;

	memset(ev, 0, sizeof *ev);
	if (c->encrypt_key)
		path = rq->signature || rq->timestamp || rq->nonce ? PATH_SIGNED : PATH_UNSIGNED;
	if (path == PATH_SIGNED && (st = verify(c, rq, ev)) != ST_OK)
		return st;
	if (path != PATH_PLAIN && bare_encrypt(rq->body, rq->body_len, &b64, &b64n)) {
		if ((st = decrypt(c, b64, b64n, path, ev)) != ST_OK)
			return st;
		return inner(c, rq, now, path, ev);
	}
	if ((err = json_parse(rq->body, rq->body_len, &outer)))
		return bad(ev, path, err);
	if (!cJSON_IsObject(outer))
		st = bad(ev, path, "body is not a JSON object");
	else if (path != PATH_PLAIN)
		st = decrypt_member(c, outer, path, ev);
	else if (cJSON_GetObjectItemCaseSensitive(outer, "encrypt"))
		st = fail(ev, ST_SERVER_ERROR, "encrypted body but no encrypt_key configured");
	else
		st = copy_plain(rq->body, rq->body_len, ev);
	cJSON_Delete(outer);
	if (st != ST_OK)
		return st;
	return inner(c, rq, now, path, ev);
}

void
lark_event_free(struct lark_event *ev)
{
	cJSON_Delete(ev->root);
	free(ev->plain);
	cJSON_free(ev->challenge_json);
	memset(ev, 0, sizeof *ev);
}

int
lark_each_count(const cJSON *root, const char *path)
{
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "event");
	char name[257];

	while (node && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof name)
			return -1;
		memcpy(name, path, n);
		name[n] = '\0';
		node = cJSON_GetObjectItemCaseSensitive(node, name);
		path += n + (path[n] == '.');
	}
	return cJSON_IsArray(node) ? cJSON_GetArraySize(node) : -1;
}
