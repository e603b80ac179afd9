/* config.h: larkhook.conf parsed once into a const struct config (every
 * key: doc/2-config.md) */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#define CFG_MAX_BACKOFF 16

enum match { MATCH_EXACT, MATCH_PREFIX, MATCH_ANY };

struct hook {
	char *pattern;		/* as written: "a.b", "a.*" or "*" */
	enum match match;
	char *run;		/* /bin/sh command line */
	unsigned timeout;	/* seconds */
	unsigned attempts;
	char *each;		/* dotted path under event, or NULL */
	int reply;		/* mode = reply */
	int line;
};

struct config {
	char *file;		/* the config file as given */
	char *dir;		/* its directory: hooks run here, relative paths start here */
	char *token;		/* verification_token */
	char *token_file;
	char *encrypt_key;	/* NULL: token-only mode */
	char *encrypt_key_file;
	unsigned char aes_key[32];	/* SHA-256 of encrypt_key, derived once */
	char *spool;
	size_t max_body;
	unsigned max_age;	/* seconds, 0 = off; 8h..retain */
	unsigned reply_max_age;	/* the same for reply hooks (not deduplicated), 0 = off */
	unsigned read_timeout;
	unsigned retain;
	unsigned concurrency;
	unsigned backoff[CFG_MAX_BACKOFF];
	int nbackoff;
	char *path;		/* PATH for hooks */
	char **env;		/* NAME=VALUE entries */
	int nenv;
	char *log;		/* NULL: standard error */
	int allow_root;
	/* OpenAPI access (token, api, connect). app_secret_file is read only
	 * by cfg_app_secret, never by cfg_load: the webhook path has no use
	 * for the App Secret and does not hold it. */
	char *app_id;		/* NULL: no OpenAPI access configured */
	char *app_secret;	/* a secret: never logged, exported or shown */
	char *app_secret_file;
	char *api_base;		/* scheme://host[:port], no trailing slash */
	int app_store;		/* app_type = store */
	int api_line;		/* the line of app_id, for messages */
	char *self;		/* the running binary's absolute path, or NULL */
	struct hook *hooks;
	int nhooks;
};

/* Parse text[0..len) of the config named file into c, filling defaults and
 * resolving relative paths against file's directory. Secret files are named,
 * not read. 0 on success; -1 with "FILE:LINE: message" in err, and c
 * empty (nothing to free). Pure. */
int cfg_parse(const char *text, size_t len, const char *file, struct config *c,
              char *err, size_t errlen);

/* Read and parse file, then read the *_file secrets but app_secret_file
 * (one trailing newline dropped), and note the running binary's path in
 * c->self. 0 on success; -1 with the message in err, and c empty. */
int cfg_load(const char *file, struct config *c, char *err, size_t errlen);

/* Fill c->app_secret (from app_secret_file when that is set, one trailing
 * newline dropped). 0 on success; -1 with a message in err that never holds
 * the secret (no app_id, unreadable file, ...). */
int cfg_app_secret(struct config *c, char *err, size_t errlen);

/* The hook for an event type: exact, then longest prefix.*, then *. NULL
 * when none. Borrowed from c. */
const struct hook *cfg_route(const struct config *c, const char *type);

/* Release everything c owns. */
void cfg_free(struct config *c);

#endif
