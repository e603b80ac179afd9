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

static int
held(const struct env *e, const char *name, size_t nlen)
{
	for (size_t o = 0; o < e->heldlen; o += strlen(e->held + o) + 1)
		if (strncmp(e->held + o, name, nlen) == 0 && e->held[o + nlen] == '\0')
			return 1;
	return 0;
}

/* Left out for its value: the name stays taken. Past ENV_HELD_MAX names
 * (or out of memory) nothing more is added at all, which keeps the rule
 * and bounds the lookups. */
static enum env_put
hold(struct env *e, const char *name, size_t nlen)
{
	char *grown;

	e->truncated = 1;
	if (e->nheld >= ENV_HELD_MAX || !(grown = realloc(e->held, e->heldlen + nlen + 1))) {
		e->closed = 1;
		return ENV_LEFT_OUT;
	}
	e->held = grown;
	memcpy(e->held + e->heldlen, name, nlen + 1);
	e->heldlen += nlen + 1;
	e->nheld++;
	return ENV_LEFT_OUT;
}

#define MARK "LARK_TRUNCATED=1"

static enum env_put
add(struct env *e, const char *name, const char *value, size_t vlen, int capped)
{
	size_t nlen = strlen(name), size = nlen + 1 + vlen + 1;
	char *s;

	/* the cheap caps first: past them a huge event costs no lookups. One
	 * variable and its bytes are kept for LARK_TRUNCATED. A name too
	 * long is too long for every path, so it needs no holding. */
	if (capped && (nlen > ENV_NAME_MAX || e->n >= ENV_VARS_MAX - 1 || e->closed)) {
		e->truncated = 1;
		return ENV_LEFT_OUT;
	}
	if (find(e, name, nlen) >= 0 || held(e, name, nlen))
		return ENV_TAKEN;
	if (capped && (vlen > ENV_VALUE_MAX || e->bytes + size > ENV_BYTES_MAX - sizeof MARK ||
	               memchr(value, '\0', vlen)))
		return hold(e, name, nlen);
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
	free(e->held);
	memset(e, 0, sizeof *e);
}
