/* lark.h: the Feishu / Lark protocol: envelope, signature, decryption,
 * token, challenge and schema 1.0 / 2.0, as one pure decision (the facts
 * and their sources: doc/7-feishu.md) */
#ifndef LARK_H
#define LARK_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "json.h"
#include "status.h"

#define LARK_ID_MAX 256		/* type and id: printable ASCII, at most this */
#define LARK_CHALLENGE_MAX 1024
#define LARK_HEADER_MAX 256	/* timestamp and nonce headers */

/* What the transport read; every pointer may be NULL except body. */
struct lark_request {
	const char *signature, *timestamp, *nonce;
	const char *body;
	size_t body_len;
};

struct lark_event {
	const char *reason;	/* static text for the log line */
	int challenge;		/* 1: answer with challenge_json */
	char *challenge_json;	/* {"challenge":"…"}, owned */
	const char *type, *id;	/* printable ASCII, borrowed from root */
	const char *said_type, *said_id;	/* the type and id as sent, whenever
					 * they are strings (any length or
					 * byte), even when step 8 refuses
					 * them: for the log line only
					 * (log_request escapes and cuts) */
	const char *schema;	/* "2.0" or "1.0" */
	const char *time, *app_id, *tenant_key;	/* printable or NULL, from root */
	int signed_request;	/* the signature headers were present and matched */
	int age_known;		/* signed, with a decimal timestamp: */
	long long age;		/* now minus that timestamp, seconds */
	char *plain;		/* the decrypted event JSON as received, owned */
	size_t plain_len;
	cJSON *root;		/* plain, parsed, owned */
};

/* Run steps 3-9 of doc/1-flow.md §1.2 on rq at time now. Returns the status;
 * on ST_OK ev says whether it is a challenge or an event and holds its
 * fields. ev->reason is always set. Free ev with lark_event_free. Pure. */
enum status lark_decide(const struct config *c, const struct lark_request *rq,
                        time_t now, struct lark_event *ev);

/* Parse and classify a plaintext event (schema 2.0 or 1.0) without the
 * token check, for trying hooks from the command line. ST_OK with ev
 * filled as by lark_decide, else ST_BAD_REQUEST with ev->reason. Pure. */
enum status lark_plain_event(const char *json, size_t len, struct lark_event *ev);

/* Steps 5-8 on an event that arrived as plaintext over an authenticated
 * channel (the long connection): classify, the Verification Token when
 * check_token, the challenge, the identity; no envelope, signature or
 * replay window. json[0..len) is copied. Results as lark_decide. Pure. */
enum status lark_classify_plain(const struct config *c, const char *json, size_t len,
                                int check_token, struct lark_event *ev);

/* Release what ev owns. */
void lark_event_free(struct lark_event *ev);

/* The number of elements of the array at the dotted path under the event
 * object, or -1 when it is missing or not an array. */
int lark_each_count(const cJSON *root, const char *path);

/* The signature Feishu sends: lowercase hex SHA-256 of timestamp, nonce,
 * key and body, into out (65 bytes). 0 on success. */
int lark_sign(const char *timestamp, const char *nonce, const char *key,
              const char *body, size_t len, char out[65]);

#endif
