/* api.c: the decisions of the api command, pure: the path rule, the URL,
 * retry, wait, next page, and joining the pages of --all */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

/* A dot segment ("." or ".."), its dots raw or as %2e, from s to the next
 * '/', '?' or the end. */
static int
dot_segment(const char *s)
{
	int dots = 0;

	while (*s && *s != '/' && *s != '?') {
		if (*s == '.')
			s++;
		else if (s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E'))
			s += 3;
		else
			return 0;
		dots++;
	}
	return dots == 1 || dots == 2;
}

const char *
api_check_path(const char *path)
{
	static const char prefix[] = "/open-apis/";
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);

	if (strncmp(path, prefix, sizeof prefix - 1) != 0)
		return "PATH must start with /open-apis/ (it is appended to api_base)";
	for (const char *s = path; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '\\' || *s == '#')
			return "PATH holds a space, a control byte, a backslash, '#' or a non-ASCII byte";
	for (size_t i = 0; i < plen; i++) {
		if (path[i] == '/' && dot_segment(path + i + 1))
			return "PATH has a \".\" or \"..\" segment";
		/* an encoded slash or backslash could make one for a server that decodes */
		if (path[i] == '%' && i + 2 < plen && path[i + 1] == '2' &&
		    (path[i + 2] == 'f' || path[i + 2] == 'F'))
			return "PATH has an encoded slash (%2f)";
		if (path[i] == '%' && i + 2 < plen && path[i + 1] == '5' &&
		    (path[i + 2] == 'c' || path[i + 2] == 'C'))
			return "PATH has an encoded backslash (%5c)";
		if (path[i] == '/' && path[i + 1] == '/')
			return "PATH has an empty segment (//)";
	}
	return NULL;
}

/* Percent-encode s[0..n) onto out (which has room for 3n). */
static char *
encode(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
		    b == '-' || b == '_' || b == '.' || b == '~') {
			*out++ = (char)b;
		} else {
			*out++ = '%';
			*out++ = hex[b >> 4];
			*out++ = hex[b & 15];
		}
	}
	return out;
}

char *
api_url(const char *base, const char *path, char *const *query, int n, const char *page_token)
{
	size_t cap = strlen(base) + strlen(path) + 1;
	char *url, *o;
	char sep = strchr(path, '?') ? '&' : '?';

	for (int i = 0; i < n; i++) {
		const char *eq = strchr(query[i], '=');

		if (!eq || eq == query[i])
			return NULL;
		cap += 1 + 3 * strlen(query[i]);
	}
	if (page_token)
		cap += sizeof "&page_token=" + 3 * strlen(page_token);
	if (!(url = malloc(cap)))
		return NULL;
	o = url + strlen(base) + strlen(path);
	strcpy(url, base);
	strcat(url, path);
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(query[i], '=');

		*o++ = sep;
		sep = '&';
		o = encode(o, query[i], (size_t)(eq - query[i]));
		*o++ = '=';
		o = encode(o, eq + 1, strlen(eq + 1));
	}
	if (page_token) {
		*o++ = sep;
		memcpy(o, "page_token=", 11);
		o = encode(o + 11, page_token, strlen(page_token));
	}
	*o = '\0';
	return url;
}

void
api_info(const cJSON *root, long status, long reset, struct api_info *i)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
	const cJSON *more = cJSON_GetObjectItemCaseSensitive(data, "has_more");

	i->status = status;
	i->reset = reset;
	i->code = json_code(root);
	i->has_more = cJSON_IsTrue(more);
	i->page_token = json_string(data, "page_token", 4096);
}

enum api_act
api_decide(struct api_state *s, const struct api_info *i, int all, unsigned *wait)
{
	*wait = 0;
	if ((i->code == 99991663 || i->code == 99991664 || i->code == 99991671) && !s->reminted) {
		s->reminted = 1;
		return API_REMINT;
	}
	if ((i->status == 429 || i->code == 99991400) && s->waits < API_MAX_WAITS) {
		s->waits++;
		if (i->reset >= 0)
			*wait = i->reset < 1 ? 1 : i->reset > API_WAIT_MAX ? API_WAIT_MAX : (unsigned)i->reset;
		else
			*wait = 1u << s->waits;	/* no header: 2, 4, 8 s */
		return API_WAIT;
	}
	if (all && i->code == 0 && i->has_more && i->page_token && *i->page_token &&
	    s->pages + 1 < API_MAX_PAGES) {
		s->pages++;
		return API_NEXT_PAGE;
	}
	return API_DONE;
}

static cJSON *
items_of(cJSON *root)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
	cJSON *items = cJSON_GetObjectItemCaseSensitive(data, "items");

	return cJSON_IsArray(items) ? items : NULL;
}

int
api_join(cJSON *acc, cJSON *page)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(acc, "data");
	cJSON *to = items_of(acc), *from = items_of(page), *e;

	/* Feishu leaves items out of a page that has none */
	if (!to && cJSON_IsObject(data) && !cJSON_GetObjectItemCaseSensitive(data, "items"))
		to = cJSON_AddArrayToObject(data, "items");
	if (!to)
		return -1;
	if (!from)
		return 0;
	while ((e = from->child)) {
		cJSON_DetachItemViaPointer(from, e);
		cJSON_AddItemToArray(to, e);
	}
	return 0;
}

void
api_join_end(cJSON *acc)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(acc, "data");

	if (!cJSON_IsObject(data))
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(data, "page_token");
	cJSON_DeleteItemFromObjectCaseSensitive(data, "has_more");
	cJSON_AddFalseToObject(data, "has_more");
}
