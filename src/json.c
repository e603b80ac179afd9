/* json.c: a strict scanner in front of cJSON, because cJSON alone accepts
 * NUL, bad UTF-8, control characters, duplicate keys and trailing data */
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct scan {
	const unsigned char *p, *end;
};

static const char *value(struct scan *s, int depth);

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* One well-formed UTF-8 sequence of two or more bytes (Unicode table 3-7):
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static const char *
utf8(struct scan *s)
{
	const unsigned char *p = s->p;
	unsigned char c = *p, lo = 0x80, hi = 0xbf;
	int more;

	if (c >= 0xc2 && c <= 0xdf)
		more = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		more = 2;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		more = 3;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
	} else
		return "invalid UTF-8";
	if (s->end - p <= more)
		return "invalid UTF-8";
	if (p[1] < lo || p[1] > hi)
		return "invalid UTF-8";
	for (int i = 2; i <= more; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return "invalid UTF-8";
	s->p += more + 1;
	return NULL;
}

static const char *
escape(struct scan *s)
{
	unsigned u, lo;

	if (s->end - s->p < 2)
		return "unterminated string";
	switch (s->p[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		s->p += 2;
		return NULL;
	case 'u':
		break;
	default:
		return "bad escape in string";
	}
	if (s->end - s->p < 6 || hex4(s->p + 2, &u))
		return "bad \\u escape in string";
	s->p += 6;
	if (u == 0)
		return "\\u0000 in string";
	if (u >= 0xdc00 && u <= 0xdfff)
		return "lone surrogate in string";
	if (u < 0xd800 || u > 0xdbff)
		return NULL;
	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
	    hex4(s->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
		return "lone surrogate in string";
	s->p += 6;
	return NULL;
}

static const char *
string(struct scan *s)
{
	const char *err;

	s->p++;			/* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;

		if (c == '"') {
			s->p++;
			return NULL;
		}
		if (c < 0x20)
			return c ? "control character in string" : "NUL byte in string";
		if (c == '\\') {
			if ((err = escape(s)))
				return err;
		} else if (c >= 0x80) {
			if ((err = utf8(s)))
				return err;
		} else
			s->p++;
	}
	return "unterminated string";
}

static int
digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static const char *
number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0') {
		s->p++;
		if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			return "leading zero in number";
	} else if (!digits(s))
		return "bad number";
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digits(s))
			return "bad number";
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!digits(s))
			return "bad number";
	}
	return NULL;
}

static const char *
literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return "unexpected byte";
	s->p += n;
	return NULL;
}

/* Objects and arrays share one loop: members are "key": value in objects,
 * plain values in arrays. */
static const char *
container(struct scan *s, int depth, int object)
{
	const char *err;
	unsigned char close = object ? '}' : ']';

	if (depth > JSON_MAX_DEPTH)
		return "nesting too deep";
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return NULL;
	}
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p != '"')
				return "expected a member name";
			if ((err = string(s)))
				return err;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return "expected ':'";
			s->p++;
		}
		if ((err = value(s, depth + 1)))
			return err;
		skip_ws(s);
		if (s->p >= s->end)
			return "unterminated object or array";
		if (*s->p == close) {
			s->p++;
			return NULL;
		}
		if (*s->p != ',')
			return "expected ',' or end of object or array";
		s->p++;
		skip_ws(s);
	}
}

static const char *
value(struct scan *s, int depth)
{
	skip_ws(s);
	if (s->p >= s->end)
		return "unexpected end of input";
	switch (*s->p) {
	case '{':
		return container(s, depth, 1);
	case '[':
		return container(s, depth, 0);
	case '"':
		return string(s);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	case '\0':
		return "NUL byte";
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return number(s);
		return "unexpected byte";
	}
}

const char *
json_check(const char *buf, size_t len)
{
	struct scan s = { (const unsigned char *)buf, (const unsigned char *)buf + len };
	const char *err;

	if ((err = value(&s, 1)))
		return err;
	skip_ws(&s);
	if (s.p != s.end)
		return "data after the JSON value";
	return NULL;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when two names are the same; the first byte is compared inline, as
 * most names differ there. */
static int
same(const char *a, const char *b)
{
	return a[0] == b[0] && strcmp(a, b) == 0;
}

/* Duplicate keys, compared after unescaping (so "a" and "\u0061" clash):
 * an object of up to DUP_PAIRWISE names compares each pair (an event's
 * objects are that small: no allocation, no sort); a larger one sorts its
 * names and looks at neighbours. */
#define DUP_PAIRWISE 16
static const char *
duplicates(const cJSON *node)
{
	const char *err = NULL;
	const cJSON *c, *d;
	size_t n = 0, i = 0;
	char **names;

	for (c = node->child; c; c = c->next)
		if ((err = duplicates(c)))
			return err;
	if (!cJSON_IsObject(node) || !node->child)
		return NULL;
	for (c = node->child; c; c = c->next)
		n++;
	if (n <= DUP_PAIRWISE) {
		for (c = node->child; c; c = c->next)
			for (d = c->next; d; d = d->next)
				if (same(c->string, d->string))
					return "duplicate key";
		return NULL;
	}
	if (!(names = malloc(n * sizeof *names)))
		return "out of memory";
	for (c = node->child; c; c = c->next)
		names[i++] = c->string;
	qsort(names, n, sizeof *names, cmp_names);
	for (i = 1; i < n && !err; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			err = "duplicate key";
	free(names);
	return err;
}

const char *
json_parse(const char *buf, size_t len, cJSON **out)
{
	const char *err, *end = NULL;
	cJSON *root;

	*out = NULL;
	if ((err = json_check(buf, len)))
		return err;
	if (!(root = cJSON_ParseWithLengthOpts(buf, len, &end, 0)))
		return "rejected by the JSON parser";
	if ((err = duplicates(root))) {
		cJSON_Delete(root);
		return err;
	}
	*out = root;
	return NULL;
}

const char *
json_string(const cJSON *obj, const char *name, size_t max)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(item) || strlen(item->valuestring) > max)
		return NULL;
	return item->valuestring;
}

long
json_code(const cJSON *obj)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "code");

	if (!cJSON_IsNumber(c))
		return -1;
	return c->valuedouble > -1e15 && c->valuedouble < 1e15 &&
	       c->valuedouble == (double)(long long)c->valuedouble ? (long)c->valuedouble : -2;
}
