/* test_json.c: the strict JSON rules of doc/6-hostile.md §6.1 (json_check,
 * json_parse, json_string). Every input is copied into a buffer of exactly
 * its length, without a NUL terminator, so an over-read is a real bug (and
 * visible under ASan/valgrind). */
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "json.h"

static const char *why;		/* the reason of the last check, for messages */
static cJSON sentinel;		/* json_parse must overwrite *out with NULL */

/* An exactly-sized heap copy of s[0..n); the caller frees. */
static char *
exact(const char *s, size_t n)
{
	char *b = malloc(n ? n : 1);

	if (!b) {
		printf("FAIL - out of memory\n");
		exit(1);
	}
	memcpy(b, s, n);
	return b;
}

/* Both json_check and json_parse accept s[0..n), and json_parse gives a tree. */
static int
good(const char *s, size_t n)
{
	char *b = exact(s, n);
	cJSON *root = NULL;
	const char *e1 = json_check(b, n), *e2 = json_parse(b, n, &root);
	int ok = !e1 && !e2 && root;

	why = e1 ? e1 : e2 ? e2 : "accepted";
	cJSON_Delete(root);
	free(b);
	return ok;
}

/* Both json_check and json_parse reject s[0..n), and json_parse leaves no tree. */
static int
bad(const char *s, size_t n)
{
	char *b = exact(s, n);
	cJSON *root = &sentinel;
	const char *e1 = json_check(b, n), *e2 = json_parse(b, n, &root);
	int ok = e1 && e2 && !root;

	why = e1 ? e1 : e2 ? e2 : "accepted";
	if (root && root != &sentinel)
		cJSON_Delete(root);
	free(b);
	return ok;
}

/* Well-formed for json_check, but json_parse rejects it (duplicate keys). */
static int
dupkey(const char *s, size_t n)
{
	char *b = exact(s, n);
	cJSON *root = &sentinel;
	const char *e1 = json_check(b, n), *e2 = json_parse(b, n, &root);
	int ok = !e1 && e2 && !root;

	why = e1 ? e1 : e2 ? e2 : "accepted";
	if (root && root != &sentinel)
		cJSON_Delete(root);
	free(b);
	return ok;
}

#define GOOD(desc, lit) CHECK(good(lit, sizeof lit - 1), "accepts %s (%s)", desc, why)
#define BAD(desc, lit) CHECK(bad(lit, sizeof lit - 1), "rejects %s (%s)", desc, why)
#define DUP(desc, lit) CHECK(dupkey(lit, sizeof lit - 1), "json_parse rejects %s, json_check does not (%s)", desc, why)

/* A growing text buffer for generated documents. */
struct sb {
	char *p;
	size_t n, cap;
};

static void
sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		if (!(b->p = realloc(b->p, b->cap))) {
			printf("FAIL - out of memory\n");
			exit(1);
		}
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* depth nested containers: "[[…]]" or {"a":{"a":…{}}}, or alternating. */
static struct sb
nested(int depth, int kind, const char *inner)
{
	struct sb b = { 0 };

	for (int i = 0; i < depth; i++) {
		int obj = kind == 1 || (kind == 2 && i % 2);

		sb_str(&b, obj ? "{\"a\":" : "[");
	}
	sb_str(&b, inner);
	for (int i = depth - 1; i >= 0; i--) {
		int obj = kind == 1 || (kind == 2 && i % 2);

		sb_str(&b, obj ? "}" : "]");
	}
	return b;
}

/* check(p, n), first in a child held to CPU_BUDGET seconds of CPU
 * (RLIMIT_CPU: a bound on the work, not a timing; these take
 * milliseconds), so a parser gone quadratic fails here instead of hanging
 * the suite; then here, for its verdict and why. */
#define CPU_BUDGET 10
static int
bounded(int (*check)(const char *, size_t), const char *p, size_t n)
{
	struct rlimit r = { CPU_BUDGET, CPU_BUDGET + 1 };
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		setrlimit(RLIMIT_CPU, &r);
		check(p, n);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		why = "over its CPU budget, or the child failed";
		return 0;
	}
	return check(p, n);
}

static void
test_structure(void)
{
	GOOD("an empty object", "{}");
	GOOD("an empty array", "[]");
	GOOD("an object of every kind of value",
	     "{\"s\":\"x\",\"n\":1,\"t\":true,\"f\":false,\"z\":null,\"a\":[1,\"2\",[3]],\"o\":{\"p\":{}}}");
	GOOD("nested arrays and objects", "[{\"a\":[{\"b\":[[],{}]}]},[[[1]]]]");
	GOOD("a top-level string", "\"x\"");
	GOOD("a top-level number", "42");
	GOOD("a top-level literal", "true");
	GOOD("null", "null");
	GOOD("whitespace around the value", " \t\r\n{ \"a\" \t:\r\n[ 1 , 2 ] } \n\t\r ");
	GOOD("whitespace inside an empty object and array", "{ \n }");
	GOOD("-0", "-0");
	GOOD("1e400 (becomes inf in cJSON; valid JSON)", "[1e400]");
	GOOD("-1e309", "[-1e309]");
	GOOD("1.5E-3", "1.5E-3");
	GOOD("1e+2 and 1E2", "[1e+2,1E2,0.5,-0.0e0]");
	GOOD("0", "0");
	GOOD("DEL 0x7f in a string", "\"a\x7f" "b\"");
	GOOD("DEL 0x7f in a key", "{\"\x7f\":1}");
	GOOD("all simple escapes", "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"");
	GOOD("a \\u escape, either case", "[\"\\u00e9\",\"\\u00E9\",\"\\uFFFF\"]");

	BAD("trailing data: {} x", "{} x");
	BAD("two objects: {}{}", "{}{}");
	BAD("a value after the object: {\"a\":1} 1", "{\"a\":1} 1");
	BAD("two numbers: 1 2", "1 2");
	BAD("two arrays: [] []", "[] []");
	BAD("empty input", "");
	BAD("only whitespace", " \t\r\n ");
	BAD("a form feed as whitespace", "\f{}");
	BAD("a vertical tab after the value", "{}\v");
	BAD("a trailing comma in an array", "[1,]");
	BAD("a trailing comma in an object", "{\"a\":1,}");
	BAD("a leading comma", "[,1]");
	BAD("a missing value", "{\"a\":}");
	BAD("a missing colon", "{\"a\" 1}");
	BAD("a missing comma", "[1 2]");
	BAD("an unquoted key", "{a:1}");
	BAD("a number as key", "{1:1}");
	BAD("single quotes", "['a']");
	BAD("an unclosed object", "{\"a\":1");
	BAD("an unclosed array", "[1,2");
	BAD("an unclosed string", "\"abc");
	BAD("a mismatched close", "[}");
	BAD("a lone close", "]");
	BAD("a truncated literal", "tru");
	BAD("a misspelt literal", "[nul]");
	BAD("an uppercase literal", "True");
	BAD("a literal with trailing letters", "[truex]");
	BAD("a comment", "{} // c");
	BAD("a leading UTF-8 BOM", "\xef\xbb\xbf{}");
}

static void
test_numbers(void)
{
	BAD("leading zero 01", "01");
	BAD("leading zero -01", "-01");
	BAD("leading zero in an array [00]", "[00]");
	BAD("leading zero 01.5", "[01.5]");
	BAD("+1", "+1");
	BAD(".5", ".5");
	BAD("1.", "1.");
	BAD("1.e5", "[1.e5]");
	BAD("1e", "1e");
	BAD("1e+", "[1e+]");
	BAD("a lone minus", "-");
	BAD("--1", "--1");
	BAD("hex 0x10", "0x10");
	BAD("NaN", "NaN");
	BAD("nan in an array", "[nan]");
	BAD("Infinity", "Infinity");
	BAD("-Infinity", "[-Infinity]");
}

static void
test_strings(void)
{
	char buf[8];

	BAD("\\u0000 in a value", "{\"a\":\"x\\u0000y\"}");
	BAD("\\u0000 in a key", "{\"a\\u0000b\":1}");
	BAD("\\u0000 alone", "\"\\u0000\"");
	BAD("a raw NUL in a string", "{\"token\":\"ab\0cd\"}");
	BAD("a raw NUL in a key", "{\"to\0ken\":1}");
	BAD("a raw NUL after the value", "{\"a\":1}\0");
	BAD("a raw NUL before the value", "\0{}");
	BAD("a raw NUL between members", "[1,\0 2]");
	BAD("a raw NUL as the only byte", "\0");

	for (int c = 0x01; c <= 0x1f; c++) {
		memcpy(buf, "[\"a?b\"]", 7);
		buf[3] = (char)c;
		CHECK(bad(buf, 7), "rejects raw control character 0x%02x in a string (%s)", c, why);
	}
	BAD("a raw tab in a key", "{\"a\tb\":1}");
	BAD("a raw newline in a string", "\"a\nb\"");

	BAD("a lone continuation byte 0x80", "\"\x80\"");
	BAD("a lone continuation byte 0xbf", "[\"a\xbf" "b\"]");
	BAD("0xff 0xfe", "\"\xff\xfe\"");
	BAD("0xfe alone", "\"\xfe\"");
	BAD("overlong \\xc0\\xaf", "\"\xc0\xaf\"");
	BAD("overlong \\xc1\\xbf", "\"\xc1\xbf\"");
	BAD("overlong \\xe0\\x80\\xaf", "\"\xe0\x80\xaf\"");
	BAD("overlong \\xf0\\x8f\\xbf\\xbf", "\"\xf0\x8f\xbf\xbf\"");
	BAD("surrogate \\xed\\xa0\\x80", "\"\xed\xa0\x80\"");
	BAD("surrogate \\xed\\xbf\\xbf", "\"\xed\xbf\xbf\"");
	BAD("above U+10FFFF \\xf4\\x90\\x80\\x80", "\"\xf4\x90\x80\x80\"");
	BAD("0xf5 lead byte", "\"\xf5\x80\x80\x80\"");
	BAD("a 2-byte lead then an ASCII byte", "\"\xc3" "a\"");
	BAD("a 2-byte sequence truncated by the quote", "\"\xc3\"");
	BAD("a 3-byte sequence truncated by the quote", "\"\xe4\xb8\"");
	BAD("a 4-byte sequence truncated by the quote", "\"\xf0\x9f\x98\"");
	BAD("a 2-byte sequence truncated at the end of input", "\"\xc3");
	BAD("a 3-byte sequence truncated at the end of input", "\"\xe4\xb8");
	BAD("a 4-byte sequence truncated at the end of input", "\"\xf0\x9f\x98");
	BAD("a lead byte as the last byte of input", "[\"\xf0");
	BAD("invalid UTF-8 in a key", "{\"\xc0\xaf\":1}");
	BAD("UTF-8 outside a string", "[\xc3\xa9]");

	GOOD("2-byte UTF-8 \"\xc3\xa9\"", "\"\xc3\xa9\"");
	GOOD("3-byte UTF-8 \"\xe4\xb8\xad\"", "\"\xe4\xb8\xad\"");
	GOOD("4-byte UTF-8 \"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\"");
	GOOD("UTF-8 in a key", "{\"\xe4\xb8\xad\":\"\xc3\xa9\"}");
	GOOD("U+0080 and U+07FF", "\"\xc2\x80\xdf\xbf\"");
	GOOD("U+0800, U+D7FF, U+E000 and U+FFFF", "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");
	GOOD("U+10000 and U+10FFFF", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");

	GOOD("an escaped surrogate pair \\ud83d\\ude00", "\"\\ud83d\\ude00\"");
	GOOD("an escaped surrogate pair in uppercase", "\"\\uD83D\\uDE00\"");
	BAD("a lone high surrogate \\ud800", "\"\\ud800\"");
	BAD("a lone high surrogate at the end of input", "\"\\ud800");
	BAD("a lone low surrogate \\udc00", "\"\\udc00\"");
	BAD("a low surrogate before a high one", "\"\\udc00\\ud800\"");
	BAD("a high surrogate followed by \\u0041", "\"\\ud800\\u0041\"");
	BAD("a high surrogate followed by another high", "\"\\ud800\\ud800\"");
	BAD("a high surrogate followed by text", "\"\\ud800abcdef\"");
	BAD("a high surrogate followed by a bad escape", "\"\\ud800\\x\"");
	BAD("a lone surrogate in a key", "{\"\\udfff\":1}");
	BAD("bad escape \\x", "\"\\x41\"");
	BAD("bad escape \\a", "\"\\a\"");
	BAD("bad escape \\U", "\"\\U0041\"");
	BAD("short \\u12", "\"\\u12\"");
	BAD("short \\u12 at the end of input", "\"\\u12");
	BAD("non-hex \\u00g0", "\"\\u00g0\"");
	BAD("a backslash at the end of input", "\"\\");
	BAD("an escaped quote that leaves the string open", "\"\\\"");
}

static void
test_duplicates(void)
{
	DUP("a duplicate key at the top level", "{\"token\":\"good\",\"token\":\"evil\"}");
	DUP("a duplicate key that is not adjacent", "{\"a\":1,\"b\":2,\"c\":3,\"a\":4}");
	DUP("a duplicate key in a nested object", "{\"x\":{\"y\":1,\"y\":2}}");
	DUP("a duplicate key inside an array of objects", "[{\"a\":1},{\"b\":1,\"b\":2}]");
	DUP("a duplicate key in an object inside an array inside an object",
	    "{\"e\":{\"items\":[{\"id\":1,\"id\":2}]}}");
	DUP("keys that differ only by escaping {\"a\":1,\"\\u0061\":2}", "{\"a\":1,\"\\u0061\":2}");
	DUP("keys that differ only by escaping \\/", "{\"a/b\":1,\"a\\/b\":2}");
	DUP("keys equal after a surrogate pair", "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}");
	DUP("two empty keys", "{\"\":1,\"\":2}");
	DUP("a duplicate with different value types", "{\"a\":{},\"a\":[]}");
	GOOD("the same key in sibling objects", "[{\"a\":1},{\"a\":2}]");
	GOOD("the same key at different levels", "{\"a\":{\"a\":{\"a\":1}}}");
	GOOD("keys differing only by case", "{\"a\":1,\"A\":2}");
	GOOD("a key that is a prefix of another", "{\"a\":1,\"ab\":2,\"abc\":3}");
	/* objects of 16 members are compared pair by pair, larger ones
	 * sorted: a duplicate as the first and last member of each */
	DUP("16 members, the first and the last the same",
	    "{\"k\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,\"j\":9,\"l\":10,"
	    "\"m\":11,\"n\":12,\"o\":13,\"p\":14,\"k\":15}");
	DUP("17 members, the first and the last the same",
	    "{\"k\":0,\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,\"j\":9,\"l\":10,"
	    "\"m\":11,\"n\":12,\"o\":13,\"p\":14,\"q\":15,\"k\":16}");
	GOOD("16 distinct members sharing their first byte",
	     "{\"ka\":0,\"kb\":1,\"kc\":2,\"kd\":3,\"ke\":4,\"kf\":5,\"kg\":6,\"kh\":7,\"ki\":8,\"kj\":9,"
	     "\"kk\":10,\"kl\":11,\"km\":12,\"kn\":13,\"ko\":14,\"k\":15}");
	DUP("16 members sharing their first byte, two the same",
	    "{\"ka\":0,\"kb\":1,\"kc\":2,\"kd\":3,\"ke\":4,\"kf\":5,\"kg\":6,\"kh\":7,\"ki\":8,\"kj\":9,"
	    "\"kk\":10,\"kl\":11,\"km\":12,\"kn\":13,\"k\\u0061\":14,\"k\":15}");
}

static void
test_depth(void)
{
	struct sb b;

	b = nested(64, 0, "");
	CHECK(good(b.p, b.n), "accepts exactly 64 nested arrays (%s)", why);
	free(b.p);
	b = nested(64, 0, "1");
	CHECK(good(b.p, b.n), "accepts 64 nested arrays around a number (%s)", why);
	free(b.p);
	b = nested(63, 1, "{}");
	CHECK(good(b.p, b.n), "accepts exactly 64 nested objects (%s)", why);
	free(b.p);
	b = nested(64, 2, "1");
	CHECK(good(b.p, b.n), "accepts 64 alternating arrays and objects (%s)", why);
	free(b.p);
	b = nested(65, 0, "");
	CHECK(bad(b.p, b.n), "rejects 65 nested arrays (%s)", why);
	free(b.p);
	b = nested(64, 1, "{\"b\":1}");
	CHECK(bad(b.p, b.n), "rejects 65 nested objects (%s)", why);
	free(b.p);
	b = nested(65, 2, "1");
	CHECK(bad(b.p, b.n), "rejects 65 alternating arrays and objects (%s)", why);
	free(b.p);

	b = nested(1000, 0, "");
	CHECK(bounded(bad, b.p, b.n), "rejects 1000 nested arrays, within its CPU budget (%s)", why);
	free(b.p);
	b = nested(1000, 1, "1");
	CHECK(bounded(bad, b.p, b.n), "rejects 1000 nested objects, within its CPU budget (%s)", why);
	free(b.p);

	b = (struct sb){ 0 };
	for (int i = 0; i < 1000000; i++)
		sb_put(&b, "[", 1);
	CHECK(bounded(bad, b.p, b.n), "rejects 1 000 000 unclosed [, within its CPU budget (%s)", why);
	free(b.p);

	b = nested(62, 0, "{\"a\":1,\"a\":2}");
	CHECK(dupkey(b.p, b.n), "json_parse rejects a duplicate key at depth 63 (%s)", why);
	free(b.p);
}

static void
test_large(void)
{
	struct sb b = { 0 };
	char key[32];
	cJSON *root = NULL;
	const char *err;
	char *buf;

	sb_str(&b, "{");
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof key, "%s\"k%d\":%d", i ? "," : "", i, i);

		sb_put(&b, key, (size_t)n);
	}
	sb_str(&b, "}");
	CHECK(bounded(good, b.p, b.n), "accepts an object of 100 000 distinct members, within its CPU budget (%s)",
	      why);
	b.n--;			/* drop "}" */
	sb_str(&b, ",\"k0\":0}");
	CHECK(bounded(dupkey, b.p, b.n),
	      "rejects 100 000 members with a duplicate at the end, within its CPU budget (%s)", why);
	free(b.p);

	b = (struct sb){ 0 };
	sb_str(&b, "1");
	for (int i = 0; i < 400; i++)
		sb_str(&b, "0");
	CHECK(good(b.p, b.n), "accepts 1 followed by 400 zeros (CVE-2023-26819 patched) (%s)", why);
	free(b.p);
	b = (struct sb){ 0 };
	sb_str(&b, "{\"n\":[-1");
	for (int i = 0; i < 400; i++)
		sb_str(&b, "0");
	sb_str(&b, ".5e-3]}");
	CHECK(good(b.p, b.n), "accepts a 400-digit number with fraction and exponent in an object (%s)", why);
	free(b.p);

	{
		static const char cve[] =
			"{\"a\": true, \"b\": [ null,9999999999999999999999999999999999999999999999912345678901234567]}";
		const cJSON *arr;

		buf = exact(cve, sizeof cve - 1);
		err = json_parse(buf, sizeof cve - 1, &root);
		arr = cJSON_GetObjectItemCaseSensitive(root, "b");
		CHECK(!err && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "a")) &&
		      cJSON_GetArraySize(arr) == 2 && cJSON_IsNull(cJSON_GetArrayItem(arr, 0)) &&
		      cJSON_IsNumber(cJSON_GetArrayItem(arr, 1)),
		      "accepts the CVE-2023-26819 sample and parses it fully (%s)", err ? err : "accepted");
		cJSON_Delete(root);
		free(buf);
	}

	BAD("{\"1\":1, in an exactly-sized buffer (CVE-2023-53154)", "{\"1\":1,");
	BAD("{\"1\":1 in an exactly-sized buffer", "{\"1\":1");
	BAD("{\"1\": in an exactly-sized buffer", "{\"1\":");
	BAD("[1, in an exactly-sized buffer", "[1,");
}

static void
test_parse_tree(void)
{
	static const char doc[] = "{\"s\":\"\\u00e9\\ud83d\\ude00\",\"n\":-0.5,\"t\":\"\x7f\"}";
	cJSON *root = NULL;
	const char *err, *s;
	const cJSON *n;
	char *buf = exact(doc, sizeof doc - 1);

	err = json_parse(buf, sizeof doc - 1, &root);
	s = json_string(root, "s", 64);
	CHECK(!err && s && strcmp(s, "\xc3\xa9\xf0\x9f\x98\x80") == 0,
	      "json_parse unescapes \\u00e9 and a surrogate pair into UTF-8");
	n = cJSON_GetObjectItemCaseSensitive(root, "n");
	CHECK(cJSON_IsNumber(n) && n->valuedouble == -0.5, "json_parse gives numbers");
	cJSON_Delete(root);
	free(buf);

	root = &sentinel;
	err = json_parse("{} x", 4, &root);
	CHECK(err && root == NULL, "json_parse sets *out to NULL on failure");
	root = &sentinel;
	err = json_parse("{\"a\":1,\"a\":1}", 13, &root);
	CHECK(err && root == NULL, "json_parse sets *out to NULL on a duplicate key");
	CHECK(json_check("{} x", 3) == NULL, "json_check looks only at the first len bytes");
}

static void
test_json_string(void)
{
	static const char doc[] =
		"{\"s\":\"abc\",\"e\":\"\",\"n\":1,\"z\":null,\"t\":true,\"a\":[\"abc\"],\"o\":{\"s\":\"x\"},\"u\":\"\xe4\xb8\xad\"}";
	cJSON *root = NULL;
	const char *err = json_parse(doc, sizeof doc - 1, &root), *v;

	CHECK(!err && root, "json_string: the test document parses (%s)", err ? err : "accepted");
	if (err)
		return;
	v = json_string(root, "s", 3);
	CHECK(v && strcmp(v, "abc") == 0, "json_string returns a string of exactly max bytes");
	v = json_string(root, "s", 100);
	CHECK(v && strcmp(v, "abc") == 0, "json_string returns a short string");
	CHECK(json_string(root, "s", 2) == NULL, "json_string: NULL when longer than max");
	CHECK(json_string(root, "u", 3) != NULL && json_string(root, "u", 2) == NULL,
	      "json_string counts bytes, not characters");
	v = json_string(root, "e", 0);
	CHECK(v && *v == '\0', "json_string returns an empty string with max 0");
	CHECK(json_string(root, "n", 100) == NULL, "json_string: NULL for a number");
	CHECK(json_string(root, "z", 100) == NULL, "json_string: NULL for null");
	CHECK(json_string(root, "t", 100) == NULL, "json_string: NULL for true");
	CHECK(json_string(root, "a", 100) == NULL, "json_string: NULL for an array");
	CHECK(json_string(root, "o", 100) == NULL, "json_string: NULL for an object");
	CHECK(json_string(root, "missing", 100) == NULL, "json_string: NULL for a missing member");
	CHECK(json_string(root, "S", 100) == NULL, "json_string is case sensitive");
	CHECK(json_string(NULL, "s", 100) == NULL, "json_string: NULL for a NULL object");
	cJSON_Delete(root);
}

int
main(void)
{
	test_structure();
	test_numbers();
	test_strings();
	test_duplicates();
	test_depth();
	test_large();
	test_parse_tree();
	test_json_string();
	return t_done();
}
