/* env.c: a hook's environment under the caps of doc/3-hooks.md §3.4 */
#include <stdlib.h>
#include <string.h>

#include "env.h"

static int
find(const struct env *e, const char *name, size_t nlen)
{
	for (int i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, nlen) == 0 && e->v[i][nlen] == '=')
			return i;
	return -1;
}

#define MARK "LARK_TRUNCATED=1"

static enum env_put
add(struct env *e, const char *name, const char *value, size_t vlen, int capped)
{
	size_t nlen = strlen(name), size = nlen + 1 + vlen + 1;
	char *s;

	/* the cheap caps first: past them a huge event costs no lookups. One
	 * variable and its bytes are kept for LARK_TRUNCATED. */
	if (capped && (nlen > ENV_NAME_MAX || vlen > ENV_VALUE_MAX || e->n >= ENV_VARS_MAX - 1)) {
		e->truncated = 1;
		return ENV_LEFT_OUT;
	}
	if (find(e, name, nlen) >= 0)
		return ENV_TAKEN;
	if (capped && (e->bytes + size > ENV_BYTES_MAX - sizeof MARK || memchr(value, '\0', vlen))) {
		e->truncated = 1;
		return ENV_LEFT_OUT;
	}
	if (e->n + 1 >= e->cap) {
		int cap = e->cap ? e->cap * 2 : 64;
		char **grown = realloc(e->v, (size_t)cap * sizeof *grown);

		if (!grown)
			return ENV_NOMEM;
		e->v = grown;
		e->cap = cap;
	}
	if (!(s = malloc(size)))
		return ENV_NOMEM;
	memcpy(s, name, nlen);
	s[nlen] = '=';
	memcpy(s + nlen + 1, value, vlen);
	s[size - 1] = '\0';
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	e->bytes += size;
	return ENV_ADDED;
}

enum env_put
env_put(struct env *e, const char *name, const char *value, size_t vlen)
{
	return add(e, name, value, vlen, 1);
}

int
env_finish(struct env *e)
{
	if (e->truncated && add(e, "LARK_TRUNCATED", "1", 1, 0) == ENV_NOMEM)
		return -1;
	return 0;
}

const char *
env_get(const struct env *e, const char *name)
{
	size_t nlen = strlen(name);
	int i = find(e, name, nlen);

	return i < 0 ? NULL : e->v[i] + nlen + 1;
}

static int
by_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	/* compare names only, so the order never depends on the values */
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = strncmp(x, y, nx < ny ? nx : ny);

	return c ? c : (nx > ny) - (nx < ny);
}

void
env_sort(struct env *e)
{
	if (e->n > 1)
		qsort(e->v, (size_t)e->n, sizeof *e->v, by_name);
}

void
env_free(struct env *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	memset(e, 0, sizeof *e);
}
