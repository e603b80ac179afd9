/* fuzz_json.c: libFuzzer target for the strict JSON check (json.h).
 *
 * Input: any bytes, taken as a request body. Invariants checked:
 *  - json_parse fails whenever json_check does, with the same reason;
 *  - what json_check accepts, cJSON parses too: json_parse then fails only
 *    on a duplicate key;
 *  - an accepted document printed back by cJSON passes json_check again.
 * Built and run by tools/fuzz.sh (make fuzz). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define BUG(...) do { fprintf(stderr, "fuzz_json: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *check = json_check(buf, size);
	cJSON *root = NULL;
	const char *parse = json_parse(buf, size, &root);

	if (check && (!parse || strcmp(check, parse) != 0))
		BUG("json_check says \"%s\" but json_parse says \"%s\"", check, parse ? parse : "ok");
	if (parse && root)
		BUG("json_parse failed (%s) but left a tree", parse);
	if (!check && parse && strcmp(parse, "duplicate key") != 0)
		BUG("json_check accepted what json_parse rejects: %s", parse);
	if (!parse) {
		char *text;

		if (!root)
			BUG("json_parse succeeded without a tree");
		if ((text = cJSON_PrintUnformatted(root))) {
			const char *again = json_check(text, strlen(text));

			if (again)
				BUG("cJSON's printout of an accepted document fails json_check: %s", again);
			cJSON_free(text);
		}
		cJSON_Delete(root);
	}
	return 0;
}
