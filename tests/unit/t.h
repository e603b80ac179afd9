/* t.h: the unit-test harness: CHECK prints "ok - …" or "FAIL - …" and
 * tests/run.sh totals them. Also loads the test vectors of tests/data. */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

static int t_failed;

#define CHECK(cond, ...) do { \
	int ok_ = !!(cond); \
	printf(ok_ ? "ok - " : "FAIL - %s:%d: ", __FILE__, __LINE__); \
	printf(__VA_ARGS__); \
	putchar('\n'); \
	if (!ok_) t_failed++; \
} while (0)

static inline int
t_done(void)
{
	return t_failed ? 1 : 0;
}

/* The project's test vectors, tests/data/lark-vectors.json (where each
 * came from: tests/data/README.md), read from the top of the tree as
 * tests/run.sh runs the units. Exits when it cannot be read: a test
 * without its data must not pass. The caller frees with cJSON_Delete. */
static inline cJSON *
t_vectors(void)
{
	static const char path[] = "tests/data/lark-vectors.json";
	FILE *f = fopen(path, "rb");
	cJSON *root = NULL;
	char *buf = NULL;
	long n;

	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		root = cJSON_Parse(buf);
	}
	if (f)
		fclose(f);
	free(buf);
	if (!root) {
		printf("FAIL - cannot read %s (run the tests from the top of the tree)\n", path);
		exit(1);
	}
	return root;
}

/* A string member of obj; exits when missing (test data is wrong). */
static inline const char *
t_str(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(item)) {
		printf("FAIL - test vector lacks %s\n", name);
		exit(1);
	}
	return item->valuestring;
}

/* The vector called name; exits when there is none. */
static inline const cJSON *
t_vector(const cJSON *vec, const char *name)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, cJSON_GetObjectItem(vec, "vectors")) {
		const cJSON *n = cJSON_GetObjectItem(v, "name");

		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return v;
	}
	printf("FAIL - no test vector named %s\n", name);
	exit(1);
}

#endif
