/* flatten.c: event JSON → LARK_* variables. It walks the JSON text itself,
 * not cJSON's tree, because numbers are exported as their source text
 * (cJSON keeps only a double: 1e400 would become inf). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatten.h"
#include "json.h"

struct walk {
	const char *p, *end;
	struct env *env;
	char name[ENV_NAME_MAX + 1];
	size_t nlen;		/* logical length: may exceed the buffer */
	int emit;		/* 0 while only skipping */
	int nomem;
	flatten_warn *warn;
	void *ctx;
};

static void value(struct walk *w);

static void
ws(struct walk *w)
{
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r'))
		w->p++;
}

static unsigned
hex4(const char *s)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static size_t
put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The string at w->p (validated), decoded into a malloc'd buffer (caller
 * frees; NULL when out of memory, with w->nomem set). Decoding never grows
 * the text, so its raw length bounds the buffer. */
static char *
string(struct walk *w, size_t *len)
{
	const char *s = ++w->p, *q = s;
	size_t n = 0;
	char *out;

	while (q < w->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (!(out = malloc((size_t)(q - s) + 1))) {
		w->nomem = 1;
		w->p = q + 1;
		return NULL;
	}
	while (s < q) {
		if (*s != '\\') {
			out[n++] = *s++;
			continue;
		}
		switch (s[1]) {
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u': {
			unsigned cp = hex4(s + 2);

			if (cp >= 0xd800 && cp < 0xdc00) {	/* a pair, json_check made sure */
				cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(s + 8) - 0xdc00);
				s += 6;
			}
			n += put_utf8(out + n, cp);
			s += 4;
			break;
		}
		default: out[n++] = s[1]; break;	/* " \ / */
		}
		s += 2;
	}
	out[n] = '\0';
	*len = n;
	w->p = q + 1;
	return out;
}

static void
leaf(struct walk *w, const char *v, size_t n)
{
	if (!w->emit)
		return;
	if (w->nlen > ENV_NAME_MAX) {
		w->env->truncated = 1;
		return;
	}
	w->name[w->nlen] = '\0';
	switch (env_put(w->env, w->name, v, n)) {
	case ENV_TAKEN:
		if (w->warn)
			w->warn(w->ctx, w->name);
		break;
	case ENV_NOMEM:
		w->nomem = 1;
		break;
	default:
		break;
	}
}

/* Append "_" and a segment to the name, mapped: letters upper-cased, every
 * other byte but a digit becomes '_'. Returns the old length to restore. */
static size_t
push(struct walk *w, const char *seg, size_t n)
{
	size_t old = w->nlen;

	if (w->nlen < sizeof w->name)
		w->name[w->nlen] = '_';
	w->nlen++;
	for (size_t i = 0; i < n; i++, w->nlen++) {
		unsigned char c = (unsigned char)seg[i];

		if (w->nlen >= sizeof w->name)
			continue;
		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		w->name[w->nlen] = (char)c;
	}
	return old;
}

static void
object(struct walk *w)
{
	w->p++;
	for (ws(w); w->p < w->end && *w->p != '}'; ws(w)) {
		size_t klen = 0, old;
		char *key;

		if (*w->p == ',') {
			w->p++;
			ws(w);
		}
		if (!(key = string(w, &klen)))
			return;
		ws(w);
		w->p++;		/* ':' */
		old = push(w, key, klen);
		free(key);
		value(w);
		w->nlen = old;
		if (w->nomem)
			return;
	}
	w->p++;
}

static void
array(struct walk *w)
{
	char idx[24];
	int i = 0;
	size_t old;

	w->p++;
	for (ws(w); w->p < w->end && *w->p != ']'; ws(w), i++) {
		if (*w->p == ',') {
			w->p++;
			ws(w);
		}
		old = push(w, idx, (size_t)snprintf(idx, sizeof idx, "%d", i));
		value(w);
		w->nlen = old;
		if (w->nomem)
			return;
	}
	w->p++;
	/* the array also tells its length */
	old = push(w, "COUNT", 5);
	leaf(w, idx, (size_t)snprintf(idx, sizeof idx, "%d", i));
	w->nlen = old;
}

static void
value(struct walk *w)
{
	const char *s = w->p;
	size_t n;
	char *str;

	ws(w);
	if (w->p >= w->end)
		return;
	switch (*w->p) {
	case '{':
		object(w);
		break;
	case '[':
		array(w);
		break;
	case '"':
		if ((str = string(w, &n))) {
			leaf(w, str, n);
			free(str);
		}
		break;
	case 'n':
		w->p += 4;
		leaf(w, "", 0);
		break;
	default:	/* true, false or a number: exported as written */
		s = w->p;
		while (w->p < w->end && strchr("truefals0123456789+-.eE", *w->p))
			w->p++;
		leaf(w, s, (size_t)(w->p - s));
		break;
	}
}

/* Move w->p to the value of member key[0..klen) of the object at w->p.
 * 0 when found. */
static int
member(struct walk *w, const char *key, size_t klen)
{
	int emit = w->emit;

	ws(w);
	if (w->p >= w->end || *w->p != '{')
		return -1;
	w->p++;
	w->emit = 0;
	for (ws(w); w->p < w->end && *w->p != '}'; ws(w)) {
		size_t n = 0;
		char *k;
		int hit;

		if (*w->p == ',') {
			w->p++;
			ws(w);
		}
		if (!(k = string(w, &n)))
			break;
		hit = n == klen && memcmp(k, key, n) == 0;
		free(k);
		ws(w);
		w->p++;
		if (hit) {
			w->emit = emit;
			ws(w);
			return 0;
		}
		value(w);
	}
	w->emit = emit;
	return -1;
}

/* Move w->p to element index of the array at w->p. 0 when found. */
static int
element(struct walk *w, int index)
{
	int emit = w->emit;

	ws(w);
	if (w->p >= w->end || *w->p != '[' || index < 0)
		return -1;
	w->p++;
	w->emit = 0;
	for (int i = 0; ws(w), w->p < w->end && *w->p != ']'; i++) {
		if (*w->p == ',') {
			w->p++;
			ws(w);
		}
		if (i == index) {
			w->emit = emit;
			return 0;
		}
		value(w);
	}
	w->emit = emit;
	return -1;
}

/* Walk the value at the end of the dotted path under "event". */
static int
walk(struct walk *w, const char *json, size_t len, const char *path, int index,
     const char *prefix)
{
	w->p = json;
	w->end = json + len;
	w->emit = 1;
	if (member(w, "event", 5))
		return index >= 0 ? 1 : 0;	/* no event object: no LARK_EVENT_ */
	while (path && *path) {
		size_t n = strcspn(path, ".");

		if (member(w, path, n))
			return 1;
		path += n + (path[n] == '.');
	}
	if (index >= 0 && element(w, index))
		return 1;
	w->nlen = strlen(prefix);
	memcpy(w->name, prefix, w->nlen);
	value(w);
	return w->nomem ? -1 : 0;
}

int
flatten_event(struct env *e, const char *json, size_t len, const char *each, int index,
              flatten_warn *warn, void *ctx)
{
	struct walk w = { .env = e, .warn = warn, .ctx = ctx };
	int rc;

	if (json_check(json, len) || (each && index < 0))
		return 1;
	if (each && (rc = walk(&w, json, len, each, index, "LARK_ITEM")) != 0)
		return rc;
	return walk(&w, json, len, NULL, -1, "LARK_EVENT");
}
