/* fuzz_flatten.c: libFuzzer target for the hook environment: flatten_event
 * (flatten.h) and hook_env (hook.h).
 *
 * Input layout: one index byte, then an each = path up to the first '\n'
 * (an empty line: no each), then the event JSON. Only input json_check
 * accepts is flattened (flatten_event trusts its checked input); the rest
 * must be refused with 1.
 *
 * For each input: flatten_event without each, flatten_event with the path
 * and index (when a path is given), and hook_env with a fixed config
 * (PATH and two env = entries) and the path. Invariants on every resulting
 * environment: NULL-terminated with n entries, each "NAME=VALUE" with NAME
 * of [A-Z0-9_]+ and at most 128 bytes, a value of at most 32 KiB without
 * NUL, no name twice, at most 1000 entries and 256 KiB in all (plus
 * LARK_TRUNCATED=1, present exactly when something was left out), no
 * name exported that a left-out value holds (doc/3-hooks.md §3.3);
 * without each no LARK_ITEM_ name, flatten's names start LARK_EVENT or
 * LARK_ITEM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "env.h"
#include "flatten.h"
#include "hook.h"
#include "json.h"

#define BUG(...) do { fprintf(stderr, "fuzz_flatten: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct config cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char text[] = "verification_token = t\n"
		"path = /usr/bin:/bin\n"
		"env = SITE=fuzz\n"
		"env = MODE=a=b\n";
	char err[256];

	(void)argc;
	(void)argv;
	if (cfg_parse(text, sizeof text - 1, "/fuzz/larkhook.conf", &cfg, err, sizeof err)) {
		fprintf(stderr, "fuzz_flatten: config: %s\n", err);
		exit(1);
	}
	return 0;
}

static void
warn(void *ctx, const char *name)
{
	(void)ctx;
	if (!name || !*name)
		BUG("warned of an empty name");
}

/* every invariant of an env; flat: only LARK_EVENT_ / LARK_ITEM_ names */
static void
check_env(const char *who, const struct env *e, int flat, int items)
{
	size_t bytes = 0;
	int truncated = 0;

	if (e->n < 0 || (e->n > 0 && !e->v) || (e->v && e->v[e->n]))
		BUG("%s: %d entries, not NULL-terminated", who, e->n);
	if (e->n > ENV_VARS_MAX + 1)
		BUG("%s: %d entries", who, e->n);
	for (int i = 0; i < e->n; i++) {
		const char *s = e->v[i], *eq = strchr(s, '=');
		size_t nl;

		if (!eq || eq == s)
			BUG("%s: entry without a name: %s", who, s);
		nl = (size_t)(eq - s);
		if (nl > ENV_NAME_MAX)
			BUG("%s: a %zu-byte name", who, nl);
		if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != nl)
			BUG("%s: name not [A-Z0-9_]+: %.*s", who, (int)nl, s);
		if (strlen(eq + 1) > ENV_VALUE_MAX)
			BUG("%s: a %zu-byte value", who, strlen(eq + 1));
		bytes += strlen(s) + 1;
		if (nl == 14 && strncmp(s, "LARK_TRUNCATED", 14) == 0) {
			if (strcmp(eq, "=1") != 0)
				BUG("%s: %s", who, s);
			truncated = 1;
			continue;
		}
		if (flat && strncmp(s, "LARK_EVENT", 10) != 0 && strncmp(s, "LARK_ITEM", 9) != 0)
			BUG("%s: unexpected name %.*s", who, (int)nl, s);
		if (!items && strncmp(s, "LARK_ITEM", 9) == 0)
			BUG("%s: %.*s without each", who, (int)nl, s);
		for (int j = 0; j < i; j++)
			if (strncmp(e->v[j], s, nl + 1) == 0)
				BUG("%s: %.*s twice", who, (int)nl, s);
	}
	if (bytes > ENV_BYTES_MAX)
		BUG("%s: %zu bytes in all", who, bytes);
	/* a name held by a value a cap left out is never exported */
	if (e->nheld > ENV_HELD_MAX || (e->nheld && !e->truncated))
		BUG("%s: %d names held, truncated %d", who, e->nheld, e->truncated);
	for (size_t o = 0; o < e->heldlen; o += strlen(e->held + o) + 1)
		if (env_get(e, e->held + o))
			BUG("%s: %s is held by a value left out, yet exported", who, e->held + o);
	if (truncated && !e->truncated)
		BUG("%s: LARK_TRUNCATED without truncation", who);
	if (!flat && e->truncated && !truncated)
		BUG("%s: truncated but no LARK_TRUNCATED", who);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const unsigned char *p, *nl, *end = data + size;
	char *each = NULL, *json;
	size_t len;
	int index, valid, rc;
	struct env e = { 0 };
	struct hook_meta m = { .type = "a.b", .id = "id1", .schema = "2.0", .attempt = 1 };

	if (size < 1)
		return 0;
	index = data[0] == 255 ? -1 : data[0];
	p = data + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl) {
		if (nl > p) {
			if (!(each = strndup((const char *)p, (size_t)(nl - p))))
				abort();
		}
		p = nl + 1;
	}
	/* the JSON alone in a buffer of its size, so an over-read is caught */
	len = (size_t)(end - p);
	if (!(json = malloc(len ? len : 1)))
		abort();
	memcpy(json, p, len);
	valid = json_check(json, len) == NULL;

	rc = flatten_event(&e, json, len, NULL, -1, warn, NULL);
	if (!valid && rc != 1)
		BUG("flatten_event took invalid JSON (rc %d)", rc);
	if (valid && rc != 0 && rc != 1)
		BUG("flatten_event without each: rc %d", rc);
	check_env("flatten_event", &e, 1, 0);
	env_free(&e);

	if (each) {
		rc = flatten_event(&e, json, len, each, index, warn, NULL);
		if (!valid && rc != 1)
			BUG("flatten_event with each took invalid JSON (rc %d)", rc);
		if (index < 0 && rc != 1)
			BUG("flatten_event with each and index -1: rc %d", rc);
		check_env("flatten_event each", &e, 1, 1);
		env_free(&e);
	}

	m.json = json;
	m.json_len = len;
	m.each = each;
	m.index = index;
	m.count = index + 1;
	rc = hook_env(&cfg, &m, "/home/fuzz", &e, warn, NULL);
	if (rc == 0) {
		check_env("hook_env", &e, 0, each != NULL);
		if (!env_get(&e, "PATH") || !env_get(&e, "LARK_TYPE") || !env_get(&e, "SITE"))
			BUG("hook_env without PATH, LARK_TYPE or an env = entry");
	} else if (rc != 1 && rc != -1)
		BUG("hook_env: rc %d", rc);
	else if (valid && !each)
		BUG("hook_env refused valid JSON without each: rc %d", rc);
	env_free(&e);

	free(json);
	free(each);
	return 0;
}
