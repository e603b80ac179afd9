/* t.h: the unit-test harness: CHECK prints "ok - …" or "FAIL - …" and
 * tests/run.sh totals them. Also loads the shared test vectors. */
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

/* The vectors of ../shared (beside the repository) or the copy in
 * tests/data. Exits when neither can be read: a test without its data must
 * not pass. The caller frees with cJSON_Delete. */
static inline cJSON *
t_vectors(void)
{
	const char *paths[] = { getenv("VECTORS"), "../shared/vectors/lark-vectors.json",
	                        "tests/data/lark-vectors.json" };
	for (size_t i = 0; i < 3; i++) {
		FILE *f = paths[i] ? fopen(paths[i], "rb") : NULL;
		char *buf;
		long n;
		cJSON *root;

		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n + 1);
		if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
			fclose(f);
			free(buf);
			continue;
		}
		buf[n] = '\0';
		fclose(f);
		root = cJSON_Parse(buf);
		free(buf);
		if (root)
			return root;
	}
	printf("FAIL - cannot read lark-vectors.json\n");
	exit(1);
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
