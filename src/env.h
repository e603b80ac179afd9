/* env.h: a hook's environment, built from nothing under the caps of
 * doc/3-hooks.md §3.4; pure */
#ifndef ENV_H
#define ENV_H

#include <stddef.h>

#define ENV_NAME_MAX 128	/* bytes of a name */
#define ENV_VALUE_MAX 32768	/* bytes of a value */
#define ENV_VARS_MAX 1000	/* variables in all */
#define ENV_BYTES_MAX 262144	/* sum of "NAME=VALUE\0" */
#define ENV_HELD_MAX 1000	/* names held for values left out */

struct env {
	char **v;		/* "NAME=VALUE" strings, NULL-terminated: an envp */
	int n, cap;
	size_t bytes;
	int truncated;		/* a cap kept something out */
	char *held;		/* "NAME\0NAME\0…": names whose value a cap left out */
	size_t heldlen;
	int nheld;
	int closed;		/* more than ENV_HELD_MAX held: nothing more is added */
};

enum env_put { ENV_ADDED, ENV_LEFT_OUT, ENV_TAKEN, ENV_NOMEM };

/* Add name=value[0..vlen) unless name is already there or held (ENV_TAKEN:
 * the first wins) or a cap forbids it (ENV_LEFT_OUT, and e->truncated is
 * set). A name whose value is left out (too long, past the byte total,
 * holding a NUL) stays held by it: a later value for the same name is
 * ENV_TAKEN, and the name stays unset (doc/3-hooks.md §3.3). value may
 * hold any byte but NUL. */
enum env_put env_put(struct env *e, const char *name, const char *value, size_t vlen);

/* Add LARK_TRUNCATED=1 when something was left out (always fits: env_put
 * keeps room for it). 0 on success, -1 when out of memory. */
int env_finish(struct env *e);

/* The value of name, or NULL. Borrowed from e. */
const char *env_get(const struct env *e, const char *name);

/* Sort the entries by name (for printing). */
void env_sort(struct env *e);

/* Release what e owns and empty it. */
void env_free(struct env *e);

#endif
