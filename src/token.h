/* token.h: the tenant_access_token cache shared by every process of one
 * config: its file format and lifetime rules (pure), and getting a token
 * from it or from Feishu under a lock (doc/9-openapi.md) */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>

#include "config.h"
#include "json.h"

#define TOKEN_MAX 65536		/* bytes of a token: JWTs of 4 KiB and more */
#define TOKEN_MARGIN 300	/* re-mint when fewer seconds remain */
#define TOKEN_TIMEOUT_MS 20000L	/* one mint request */

/* Exit statuses of the token and api commands (sysexits). */
enum token_rc { TOKEN_OK = 0, TOKEN_TEMP = 75, TOKEN_CONFIG = 78 };

struct token {
	char key[17];		/* token_key of what it was minted for */
	char *value;		/* malloc'd, or NULL */
	long long minted;	/* unix seconds at receipt */
	long long expires;	/* minted + expire */
	long long refresh;	/* use it until then, then mint anew */
};

/* What a cached token was minted for, as 16 hex digits in out: a hash of
 * app_id, api_base and the tenant (NULL: none). A cache file with another
 * key (the config now names another app or host) is not used. Pure. */
void token_key(const char *app_id, const char *api_base, const char *tenant, char out[17]);

/* Set t's times for a token received at now with expire seconds left:
 * used until TOKEN_MARGIN before it expires, or for half its life when that
 * is shorter than twice the margin. Pure. */
void token_life(struct token *t, long long now, long long expire);

/* Whether t can be handed out at now (a clock that went back by more than
 * the margin since the mint also says no). Pure. */
int token_fresh(const struct token *t, long long now);

/* Whether s[0..n) can be a token: 1..TOKEN_MAX printable ASCII bytes, no
 * space. Pure. */
int token_valid(const char *s, size_t n);

/* The cache file's text for t (caller frees), or NULL. Pure. */
char *token_format(const struct token *t, size_t *len);

/* Parse a cache file's text into t (t->value malloc'd). 0 on success, -1
 * when it is not one. Pure. */
int token_parse(const char *buf, size_t len, struct token *t);

/* What a mint's HTTP reply means: TOKEN_OK with t filled from the string
 * member field and expire; TOKEN_TEMP (5xx, 429, code 99991400, a garbled
 * reply); TOKEN_CONFIG (Feishu refused the credentials, or no such
 * endpoint). *code is the reply's code, -1 when none, -2 when it is no
 * integer. err says why, never with a
 * secret (nothing of the request is in it). Pure. */
enum token_rc token_reply(long status, const char *body, size_t len, const char *field,
                          long long now, struct token *t, long *code, char *err, size_t n);

void token_free(struct token *t);

/* A valid token in *out (caller frees): from the cache, or minted under
 * the cache's lock when the cache has none fresh, or holds exactly stale
 * (a token Feishu just refused; NULL: none), or force is set (--refresh;
 * a token another process minted while this one waited is taken instead).
 * tenant: the tenant key of a store app (NULL for a self-built app). Loads
 * c->app_secret when it must mint. TOKEN_OK, or TOKEN_TEMP / TOKEN_CONFIG
 * with err set (never holding the secret); the cache is then untouched. */
enum token_rc token_get(struct config *c, const char *tenant, int force, const char *stale,
                        char **out, char *err, size_t n);

/* Keep the app_ticket of a store app's app_ticket event (root: the parsed
 * plaintext) in the state file, 0600, durably. 0 on success (or when the
 * event is for another app), -1 when it could not be stored. */
int token_keep_ticket(const struct config *c, const cJSON *root);

#endif
