/* api.h: what the api command decides (pure): which paths it calls, the URL,
 * what to do after each reply (retry with a new token, wait out a rate
 * limit, fetch the next page, stop), and joining pages */
#ifndef API_H
#define API_H

#include "json.h"

#define API_MAX_WAITS 3		/* rate-limit retries of one call */
#define API_WAIT_MAX 60		/* seconds, the longest one wait */
#define API_MAX_PAGES 1000	/* --all stops there */
#define API_TIMEOUT_MS 60000L	/* one request */

/* NULL when path may be called: it starts with /open-apis/, is printable
 * ASCII with no space, backslash or '#', and has no "." or ".." segment
 * (raw or percent-encoded) that could climb out of /open-apis/. Else a
 * static reason. Pure. */
const char *api_check_path(const char *path);

/* base + path + the query: each of query[0..n) is "K=V", percent-encoded
 * here, then page_token when not NULL. Caller frees; NULL when an item has
 * no '=' or an empty K. Pure. */
char *api_url(const char *base, const char *path, char *const *query, int n,
              const char *page_token);

/* What one reply says, for api_decide. */
struct api_info {
	long status;		/* HTTP status */
	long code;		/* the reply's code, -1 when none, -2 when not an integer */
	int has_more;		/* data.has_more is true */
	const char *page_token;	/* data.page_token, or NULL; borrowed */
	long reset;		/* x-ogw-ratelimit-reset, -1 when absent */
};

/* Read root (the reply parsed, or NULL when it is not JSON) into i. Pure. */
void api_info(const cJSON *root, long status, long reset, struct api_info *i);

/* The state of one api command across its requests. */
struct api_state {
	int reminted;		/* a token was refused and re-minted once */
	int waits;		/* rate-limit waits so far */
	int pages;		/* pages fetched */
};

enum api_act {
	API_DONE,		/* print and exit: 0 when code is 0, else 1 */
	API_REMINT,		/* the token was refused: mint anew, same request again */
	API_WAIT,		/* rate limited: wait *wait seconds, same request again */
	API_NEXT_PAGE,		/* --all: the same request with page_token */
};

/* The next step after reply i (all: --all was given). Counts in s. Pure. */
enum api_act api_decide(struct api_state *s, const struct api_info *i, int all, unsigned *wait);

/* --all: move the elements of page's data.items to the end of acc's (a
 * page without items adds none; acc gets an items array when it has none).
 * 0 on success; -1 when acc has no data object or its items is no array.
 * Pure. */
int api_join(cJSON *acc, cJSON *page);

/* --all, after the last page: acc says there is nothing more. Pure. */
void api_join_end(cJSON *acc);

#endif
