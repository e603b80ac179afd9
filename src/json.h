/* json.h: strict JSON (doc/6-hostile.md §6.1) around cJSON */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define JSON_MAX_DEPTH 64	/* the outer value is depth 1 */

/* Check buf[0..len) is exactly one JSON value, optionally surrounded by
 * whitespace: strict UTF-8, no NUL or \u0000, no raw control characters,
 * escaped surrogates only as pairs, depth at most JSON_MAX_DEPTH.
 * NULL when it is, else a static reason. Duplicate keys are not seen here. */
const char *json_check(const char *buf, size_t len);

/* json_check, then parse with cJSON and reject duplicate keys at any level.
 * On success *out is the tree (caller frees with cJSON_Delete) and NULL is
 * returned; otherwise *out is NULL and a static reason is returned. */
const char *json_parse(const char *buf, size_t len, cJSON **out);

/* The member name of obj as a string of at most max bytes, or NULL when it
 * is missing, not a string, or longer. Borrowed from obj. */
const char *json_string(const cJSON *obj, const char *name, size_t max);

/* Feishu's "code" member of obj: -1 when there is none, -2 when it is no
 * integer in range (surely not 0), else its value. */
long json_code(const cJSON *obj);

#endif
