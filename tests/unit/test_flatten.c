/* test_flatten.c: a hook's environment (doc/3-hooks.md): golden
 * environments of the shared vectors through hook_env, the naming of
 * flattened fields, collisions, hostile keys, the caps, each = and the
 * env helpers. All pure: the config is parsed from text in memory. */
#include "t.h"
#include "config.h"
#include "env.h"
#include "flatten.h"
#include "hook.h"
#include "lark.h"

#define CONF "/srv/hooks/larkhook.conf"
#define SELF "/usr/local/sbin/larkhook"	/* the binary, as cfg_load finds it */
#define HOOK_PATH "/opt/lark/bin:/usr/bin:/bin"
#define JSON_FILE "/srv/hooks/larkhook-spool/run/job.x.json"

static struct config cfg;

/* What the warn callback heard. */
struct warns {
	int n;
	char last[256];
};

static void
on_warn(void *ctx, const char *name)
{
	struct warns *w = ctx;

	w->n++;
	snprintf(w->last, sizeof w->last, "%s", name);
}

struct kv {
	const char *name, *value;
};

/* s with control bytes and non-ASCII escaped, for one-line messages (a
 * few rotating static buffers). */
static const char *
esc(const char *s)
{
	static char bufs[4][160];
	static int turn;
	char *out = bufs[turn++ % 4];
	size_t n = 0;

	if (!s)
		return "(nothing)";
	for (; *s && n < sizeof bufs[0] - 8; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			n += (size_t)sprintf(out + n, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	if (*s)
		n += (size_t)sprintf(out + n, "...");
	out[n] = '\0';
	return out;
}

/* The name of entry s ("NAME=VALUE") into out. */
static const char *
name_of(const char *s, char *out, size_t n)
{
	size_t len = strcspn(s, "=");

	snprintf(out, n, "%.*s", (int)len, s);
	return out;
}

/* The sum of "NAME=VALUE\0" over e. */
static size_t
env_size(const struct env *e)
{
	size_t total = 0;

	for (int i = 0; i < e->n; i++)
		total += strlen(e->v[i]) + 1;
	return total;
}

/* Count the variables whose name starts with prefix. */
static int
with_prefix(const struct env *e, const char *prefix)
{
	int n = 0;

	for (int i = 0; i < e->n; i++)
		n += strncmp(e->v[i], prefix, strlen(prefix)) == 0;
	return n;
}

/* e holds exactly the variables of t[0..n): each with its exact value,
 * and nothing else. */
static void
golden(const struct env *e, const struct kv *t, int n, const char *label)
{
	char name[512], extra[512] = "";
	int extras = 0;

	for (int i = 0; i < n; i++) {
		const char *v = env_get(e, t[i].name);

		CHECK(v && strcmp(v, t[i].value) == 0, "%s: %s=%s (got %s)", label, t[i].name, esc(t[i].value),
		      esc(v));
	}
	for (int i = 0; i < e->n; i++) {
		int found = 0;

		name_of(e->v[i], name, sizeof name);
		for (int k = 0; k < n && !found; k++)
			found = strcmp(name, t[k].name) == 0;
		if (!found && !extras++)
			snprintf(extra, sizeof extra, "%s", esc(e->v[i]));
	}
	CHECK(extras == 0, "%s: no variable but those (%d more, first: %s)", label, extras, extra);
	CHECK(e->n == n, "%s: %d variables in all (got %d)", label, n, e->n);
	CHECK(e->v && e->v[e->n] == NULL, "%s: the list is NULL-terminated (an envp)", label);
	CHECK(!env_get(e, "LARK_TRUNCATED") && !e->truncated, "%s: no LARK_TRUNCATED", label);
	CHECK(e->bytes == env_size(e), "%s: bytes counted (%zu, real %zu)", label, e->bytes, env_size(e));
}

/* hook_env for plaintext event json with meta from lark_plain_event. */
static int
event_env(const char *json, const char *each, int index, int count, long attempt, const char *home,
          struct env *e, struct warns *w)
{
	struct lark_event ev;
	struct hook_meta m;
	int rc;

	memset(e, 0, sizeof *e);
	if (lark_plain_event(json, strlen(json), &ev) != ST_OK) {
		printf("FAIL - test event not accepted by lark_plain_event: %s\n", ev.reason);
		exit(1);
	}
	m = (struct hook_meta){ ev.type, ev.id, ev.schema, ev.time, ev.app_id, ev.tenant_key,
	                        json, strlen(json), each, index, count, attempt, JSON_FILE };
	rc = hook_env(&cfg, &m, home, e, on_warn, w);
	lark_event_free(&ev);
	return rc;
}

/* hook_env for an event whose "event" member is event_json (a small 2.0
 * envelope around it), attempt 1, no each, no HOME. */
static int
wrapped_env(const char *event_json, struct env *e, struct warns *w)
{
	static const char head[] = "{\"schema\":\"2.0\",\"header\":{\"event_id\":\"e1\",\"event_type\":\"t.x\"},"
	                           "\"event\":";
	size_t n = strlen(head) + strlen(event_json) + 2;
	char *json = malloc(n);
	struct hook_meta m = { "t.x", "e1", "2.0", NULL, NULL, NULL, json, n - 1, NULL, 0, 0, 1, JSON_FILE };
	int rc;

	if (!json)
		exit(1);
	snprintf(json, n, "%s%s}", head, event_json);
	memset(e, 0, sizeof *e);
	if (w)
		memset(w, 0, sizeof *w);
	rc = hook_env(&cfg, &m, NULL, e, on_warn, w);
	free(json);
	return rc;
}

/* flatten_event alone on json, then env_finish. */
static int
flat(const char *json, const char *each, int index, struct env *e, struct warns *w)
{
	int rc;

	memset(e, 0, sizeof *e);
	if (w)
		memset(w, 0, sizeof *w);
	rc = flatten_event(e, json, strlen(json), each, index, on_warn, w);
	if (rc == 0 && env_finish(e))
		rc = -1;
	return rc;
}

static void
goldens(const cJSON *vec)
{
	const char *comp = t_str(t_vector(vec, "comp"), "plaintext");
	const char *perf = t_str(t_vector(vec, "perf"), "plaintext");
	const char *v1 = t_str(t_vector(vec, "v1"), "plaintext");
	struct warns w = { 0 };
	struct env e;

	/* the compensation event, first attempt, HOME known */
	static const struct kv comp_env[] = {
		{ "PATH", HOOK_PATH },
		{ "LARKHOOK", SELF },
		{ "LARKHOOK_CONFIG", CONF },
		{ "HOME", "/var/www" },
		{ "HR_API_BASE", "https://example.internal" },
		{ "GREETING", "a=b c" },
		{ "LARK_TYPE", "compensation.archive.changed_v1" },
		{ "LARK_ID", "f7984f25108f8137722bb63cee927e66" },
		{ "LARK_SCHEMA", "2.0" },
		{ "LARK_TIME", "1700000001000" },
		{ "LARK_APP_ID", "cli_a1b2c3d4e5f60001" },
		{ "LARK_TENANT_KEY", "2ca1d211f64f6438" },
		{ "LARK_ATTEMPT", "1" },
		{ "LARK_JSON_FILE", JSON_FILE },
		{ "LARK_EVENT_OPERATE_TYPE", "modify" },
		{ "LARK_EVENT_EMPLOYMENT_ID", "7140964208476371111" },
		{ "LARK_EVENT_EFFECTIVE_DATE", "2024-01-01" },
		{ "LARK_EVENT_BEFORE_TID", "7303487035893753387" },
		{ "LARK_EVENT_AFTER_TID", "7303487035893753388" },
	};
	CHECK(event_env(comp, NULL, 0, 0, 1, "/var/www", &e, &w) == 0, "comp: hook_env succeeds");
	golden(&e, comp_env, (int)(sizeof comp_env / sizeof *comp_env), "comp");
	CHECK(w.n == 0, "comp: no collision reported (%d)", w.n);
	env_free(&e);

	/* the performance event without each, third attempt, HOME unknown */
	static const struct kv perf_env[] = {
		{ "PATH", HOOK_PATH },
		{ "LARKHOOK", SELF },
		{ "LARKHOOK_CONFIG", CONF },
		{ "HR_API_BASE", "https://example.internal" },
		{ "GREETING", "a=b c" },
		{ "LARK_TYPE", "performance.review_data.changed_v2" },
		{ "LARK_ID", "5e3702a84e847582be8db7fb73283c02" },
		{ "LARK_SCHEMA", "2.0" },
		{ "LARK_TIME", "1700000000000" },
		{ "LARK_APP_ID", "cli_a1b2c3d4e5f60001" },
		{ "LARK_TENANT_KEY", "2ca1d211f64f6438" },
		{ "LARK_ATTEMPT", "3" },
		{ "LARK_JSON_FILE", JSON_FILE },
		{ "LARK_EVENT_ITEMS_0_USER_ID_UNION_ID", "on_94a1ee5551019f18cd73d9f111898cf2" },
		{ "LARK_EVENT_ITEMS_0_USER_ID_USER_ID", "e33ggbyz" },
		{ "LARK_EVENT_ITEMS_0_USER_ID_OPEN_ID", "ou_7dab8a3d3cdcc9da365777c7ad535d62" },
		{ "LARK_EVENT_ITEMS_0_SEMESTER_ID", "7194320234327572499" },
		{ "LARK_EVENT_ITEMS_0_ACTIVITY_ID", "7194320234327572500" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_STAGE_ID", "7194320234327572501" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_STAGE_TYPE", "review" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_REVIEW_STAGE_ROLE", "solid_line_leader" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_COUNT", "1" },
		{ "LARK_EVENT_ITEMS_COUNT", "1" },
	};
	CHECK(event_env(perf, NULL, 0, 0, 3, NULL, &e, &w) == 0, "perf: hook_env succeeds");
	golden(&e, perf_env, (int)(sizeof perf_env / sizeof *perf_env), "perf");
	CHECK(!env_get(&e, "HOME"), "perf: no HOME when it is unknown");
	env_free(&e);

	/* the same with each = items: element 0 of 1 */
	static const struct kv each_env[] = {
		{ "PATH", HOOK_PATH },
		{ "LARKHOOK", SELF },
		{ "LARKHOOK_CONFIG", CONF },
		{ "HOME", "/var/www" },
		{ "HR_API_BASE", "https://example.internal" },
		{ "GREETING", "a=b c" },
		{ "LARK_TYPE", "performance.review_data.changed_v2" },
		{ "LARK_ID", "5e3702a84e847582be8db7fb73283c02" },
		{ "LARK_SCHEMA", "2.0" },
		{ "LARK_TIME", "1700000000000" },
		{ "LARK_APP_ID", "cli_a1b2c3d4e5f60001" },
		{ "LARK_TENANT_KEY", "2ca1d211f64f6438" },
		{ "LARK_ATTEMPT", "1" },
		{ "LARK_JSON_FILE", JSON_FILE },
		{ "LARK_EACH_INDEX", "0" },
		{ "LARK_EACH_COUNT", "1" },
		{ "LARK_ITEM_USER_ID_UNION_ID", "on_94a1ee5551019f18cd73d9f111898cf2" },
		{ "LARK_ITEM_USER_ID_USER_ID", "e33ggbyz" },
		{ "LARK_ITEM_USER_ID_OPEN_ID", "ou_7dab8a3d3cdcc9da365777c7ad535d62" },
		{ "LARK_ITEM_SEMESTER_ID", "7194320234327572499" },
		{ "LARK_ITEM_ACTIVITY_ID", "7194320234327572500" },
		{ "LARK_ITEM_STAGE_CHANGES_0_STAGE_ID", "7194320234327572501" },
		{ "LARK_ITEM_STAGE_CHANGES_0_STAGE_TYPE", "review" },
		{ "LARK_ITEM_STAGE_CHANGES_0_REVIEW_STAGE_ROLE", "solid_line_leader" },
		{ "LARK_ITEM_STAGE_CHANGES_COUNT", "1" },
		{ "LARK_EVENT_ITEMS_0_USER_ID_UNION_ID", "on_94a1ee5551019f18cd73d9f111898cf2" },
		{ "LARK_EVENT_ITEMS_0_USER_ID_USER_ID", "e33ggbyz" },
		{ "LARK_EVENT_ITEMS_0_USER_ID_OPEN_ID", "ou_7dab8a3d3cdcc9da365777c7ad535d62" },
		{ "LARK_EVENT_ITEMS_0_SEMESTER_ID", "7194320234327572499" },
		{ "LARK_EVENT_ITEMS_0_ACTIVITY_ID", "7194320234327572500" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_STAGE_ID", "7194320234327572501" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_STAGE_TYPE", "review" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_0_REVIEW_STAGE_ROLE", "solid_line_leader" },
		{ "LARK_EVENT_ITEMS_0_STAGE_CHANGES_COUNT", "1" },
		{ "LARK_EVENT_ITEMS_COUNT", "1" },
	};
	CHECK(event_env(perf, "items", 0, 1, 1, "/var/www", &e, &w) == 0, "perf each: hook_env succeeds");
	golden(&e, each_env, (int)(sizeof each_env / sizeof *each_env), "perf each=items");
	env_free(&e);

	/* schema 1.0: type from event.type, id from uuid, time from ts */
	static const struct kv v1_env[] = {
		{ "PATH", HOOK_PATH },
		{ "LARKHOOK", SELF },
		{ "LARKHOOK_CONFIG", CONF },
		{ "HOME", "/var/www" },
		{ "HR_API_BASE", "https://example.internal" },
		{ "GREETING", "a=b c" },
		{ "LARK_TYPE", "app_ticket" },
		{ "LARK_ID", "bc447199585340d1f3728d26b1c0297a" },
		{ "LARK_SCHEMA", "1.0" },
		{ "LARK_TIME", "1700000002.000000" },
		{ "LARK_APP_ID", "cli_a1b2c3d4e5f60001" },
		{ "LARK_ATTEMPT", "12" },
		{ "LARK_JSON_FILE", JSON_FILE },
		{ "LARK_EVENT_TYPE", "app_ticket" },
		{ "LARK_EVENT_APP_ID", "cli_a1b2c3d4e5f60001" },
		{ "LARK_EVENT_APP_TICKET", "dummy-ticket-0001" },
	};
	CHECK(event_env(v1, NULL, 0, 0, 12, "/var/www", &e, &w) == 0, "v1: hook_env succeeds");
	golden(&e, v1_env, (int)(sizeof v1_env / sizeof *v1_env), "v1");
	CHECK(!env_get(&e, "LARK_TENANT_KEY"), "v1: no LARK_TENANT_KEY when the event has none");
	env_free(&e);

	/* secrets never exported */
	CHECK(event_env(comp, NULL, 0, 0, 1, "/var/www", &e, &w) == 0, "comp again");
	{
		int leak = 0;

		for (int i = 0; i < e.n; i++)
			leak += strstr(e.v[i], "lark-test-encrypt-key-0001") != NULL;
		CHECK(leak == 0, "the encrypt key is in no variable");
		CHECK(!env_get(&e, "LARK_TOKEN") && !env_get(&e, "LARK_ENCRYPT_KEY"),
		      "no variable for the secrets");
	}
	env_free(&e);
}

static void
naming(void)
{
	struct warns w;
	struct env e;
	const char *v;

	static const char names[] =
		"{\"event\":{\"camelCase\":\"a\",\"k9\":\"b\",\"a-b.c d\":\"c\",\"A\":{\"bB\":{\"c\":\"d\"}},"
		"\"l\":[\"x\",\"y\"],\"e\":[],\"o\":{},\"m\":[{\"q\":1},[2,[3]]],"
		"\"n1\":1e400,\"n2\":-0.5E+3,\"n3\":12345678901234567890,\"n4\":0,\"n5\":-7.25e-10,"
		"\"t\":true,\"f\":false,\"z\":null}}";
	static const struct kv names_env[] = {
		{ "LARK_EVENT_CAMELCASE", "a" },
		{ "LARK_EVENT_K9", "b" },
		{ "LARK_EVENT_A_B_C_D", "c" },
		{ "LARK_EVENT_A_BB_C", "d" },
		{ "LARK_EVENT_L_0", "x" },
		{ "LARK_EVENT_L_1", "y" },
		{ "LARK_EVENT_L_COUNT", "2" },
		{ "LARK_EVENT_E_COUNT", "0" },
		{ "LARK_EVENT_M_0_Q", "1" },
		{ "LARK_EVENT_M_1_0", "2" },
		{ "LARK_EVENT_M_1_1_0", "3" },
		{ "LARK_EVENT_M_1_1_COUNT", "1" },
		{ "LARK_EVENT_M_1_COUNT", "2" },
		{ "LARK_EVENT_M_COUNT", "2" },
		{ "LARK_EVENT_N1", "1e400" },
		{ "LARK_EVENT_N2", "-0.5E+3" },
		{ "LARK_EVENT_N3", "12345678901234567890" },
		{ "LARK_EVENT_N4", "0" },
		{ "LARK_EVENT_N5", "-7.25e-10" },
		{ "LARK_EVENT_T", "true" },
		{ "LARK_EVENT_F", "false" },
		{ "LARK_EVENT_Z", "" },
	};
	CHECK(flat(names, NULL, 0, &e, &w) == 0, "naming event flattens");
	golden(&e, names_env, (int)(sizeof names_env / sizeof *names_env), "naming");
	CHECK(w.n == 0, "naming: no collision");
	env_free(&e);

	/* a UTF-8 key: each of its bytes becomes '_' (raw or escaped) */
	CHECK(flat("{\"event\":{\"\xc3\xa9\":\"raw\"}}", NULL, 0, &e, NULL) == 0 &&
	      (v = env_get(&e, "LARK_EVENT___")) && strcmp(v, "raw") == 0 && e.n == 1,
	      "raw UTF-8 key \"é\" gives LARK_EVENT___ (two '_')");
	env_free(&e);
	CHECK(flat("{\"event\":{\"\\u00e9\":\"esc\"}}", NULL, 0, &e, NULL) == 0 &&
	      (v = env_get(&e, "LARK_EVENT___")) && strcmp(v, "esc") == 0 && e.n == 1,
	      "escaped key \\u00e9 gives LARK_EVENT___");
	env_free(&e);
	CHECK(flat("{\"event\":{\"\\ud83d\\ude00x\":1}}", NULL, 0, &e, NULL) == 0 &&
	      env_get(&e, "LARK_EVENT_____X") && e.n == 1,
	      "a surrogate-pair key gives four '_' (LARK_EVENT_____X)");
	env_free(&e);
	CHECK(flat("{\"event\":{\"\":\"empty\"}}", NULL, 0, &e, NULL) == 0 && env_get(&e, "LARK_EVENT_") &&
	      e.n == 1, "an empty key gives LARK_EVENT_");
	env_free(&e);
	CHECK(flat("{\"event\":\"just a string\"}", NULL, 0, &e, NULL) == 0 &&
	      (v = env_get(&e, "LARK_EVENT")) && strcmp(v, "just a string") == 0 && e.n == 1,
	      "a scalar event gives LARK_EVENT");
	env_free(&e);
	CHECK(flat("{\"event\":{}}", NULL, 0, &e, NULL) == 0 && e.n == 0, "an empty event gives nothing");
	env_free(&e);
	CHECK(flat("{\"schema\":\"2.0\",\"header\":{\"event_id\":\"x\"}}", NULL, 0, &e, NULL) == 0 && e.n == 0,
	      "an event without an \"event\" member is valid: no LARK_EVENT_ variables, not an error");
	env_free(&e);
	CHECK(flat("{\"header\":{\"event\":{\"x\":1}},\"event\":{\"y\":2}}", NULL, 0, &e, NULL) == 0 &&
	      e.n == 1 && env_get(&e, "LARK_EVENT_Y"), "only the top-level event is flattened");
	env_free(&e);

	/* string values: escapes decoded, every byte kept */
	static const char strs[] =
		"{\"event\":{\"nl\":\"a\\nb\",\"e1\":\"\\u00e9\",\"e2\":\"\\u00E9t\\u00c9\",\"e3\":\"\\ud83d\\ude00\","
		"\"e4\":\"\\u20ac\",\"esc\":\"q\\\"b\\\\s\\/t\\tr\\rf\\fb\\b\",\"raw\":\"\xe2\x82\xac\xf0\x9f\x98\x80\","
		"\"eq\":\"a=b=c\",\"inj\":\"k=v\\nX=1\\n\",\"sp\":\"  lead and trail  \"}}";
	static const struct kv strs_env[] = {
		{ "LARK_EVENT_NL", "a\nb" },
		{ "LARK_EVENT_E1", "\xc3\xa9" },
		{ "LARK_EVENT_E2", "\xc3\xa9t\xc3\x89" },
		{ "LARK_EVENT_E3", "\xf0\x9f\x98\x80" },
		{ "LARK_EVENT_E4", "\xe2\x82\xac" },
		{ "LARK_EVENT_ESC", "q\"b\\s/t\tr\rf\fb\b" },
		{ "LARK_EVENT_RAW", "\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "LARK_EVENT_EQ", "a=b=c" },
		{ "LARK_EVENT_INJ", "k=v\nX=1\n" },
		{ "LARK_EVENT_SP", "  lead and trail  " },
	};
	CHECK(flat(strs, NULL, 0, &e, NULL) == 0, "string event flattens");
	golden(&e, strs_env, (int)(sizeof strs_env / sizeof *strs_env), "strings");
	CHECK(!env_get(&e, "X"), "a newline in a value makes no variable of its own");
	{
		int i = 0;

		while (i < e.n && strcmp(e.v[i], "LARK_EVENT_INJ=k=v\nX=1\n") != 0)
			i++;
		CHECK(i < e.n, "the value with '=' and newlines is one entry, byte-exact");
	}
	env_free(&e);
}

static void
collisions(void)
{
	struct warns w;
	struct env e;
	const char *v;

	CHECK(flat("{\"event\":{\"a_b\":1,\"a-b\":2}}", NULL, 0, &e, &w) == 0 &&
	      (v = env_get(&e, "LARK_EVENT_A_B")) && strcmp(v, "1") == 0 && e.n == 1,
	      "a_b and a-b: the first in document order wins");
	CHECK(w.n == 1 && strcmp(w.last, "LARK_EVENT_A_B") == 0, "the collision is reported once with its name (%d: %s)",
	      w.n, w.last);
	env_free(&e);

	CHECK(flat("{\"event\":{\"a-b\":\"first\",\"A_B\":\"second\",\"a.b\":\"third\"}}", NULL, 0, &e, &w) == 0 &&
	      (v = env_get(&e, "LARK_EVENT_A_B")) && strcmp(v, "first") == 0 && w.n == 2,
	      "three fields on one name: the first kept, two warnings");
	env_free(&e);

	CHECK(flat("{\"event\":{\"x\":[7],\"x_count\":5}}", NULL, 0, &e, &w) == 0 &&
	      (v = env_get(&e, "LARK_EVENT_X_COUNT")) && strcmp(v, "1") == 0 && env_get(&e, "LARK_EVENT_X_0"),
	      "an array's _COUNT comes first when the array does");
	CHECK(w.n == 1 && strcmp(w.last, "LARK_EVENT_X_COUNT") == 0, "key x_count colliding with it is reported");
	env_free(&e);

	CHECK(flat("{\"event\":{\"x_count\":5,\"x\":[7]}}", NULL, 0, &e, &w) == 0 &&
	      (v = env_get(&e, "LARK_EVENT_X_COUNT")) && strcmp(v, "5") == 0 && env_get(&e, "LARK_EVENT_X_0"),
	      "key x_count first: it keeps the name, the array's count is left out");
	CHECK(w.n == 1 && strcmp(w.last, "LARK_EVENT_X_COUNT") == 0, "the array's count collision is reported");
	env_free(&e);

	CHECK(flat("{\"event\":{\"a\":{\"b\":1},\"a_b\":2}}", NULL, 0, &e, &w) == 0 &&
	      (v = env_get(&e, "LARK_EVENT_A_B")) && strcmp(v, "1") == 0 && w.n == 1,
	      "a nested path and a flat key on one name: the first wins");
	env_free(&e);

	/* duplicate keys pass json_check; they collide like any other pair */
	CHECK(flat("{\"event\":{\"d\":1,\"d\":2}}", NULL, 0, &e, &w) == 0 &&
	      (v = env_get(&e, "LARK_EVENT_D")) && strcmp(v, "1") == 0 && w.n == 1,
	      "a duplicate key: first value kept, warned");
	env_free(&e);

	/* no warn callback: no crash */
	memset(&e, 0, sizeof e);
	v = "{\"event\":{\"a_b\":1,\"a-b\":2}}";
	CHECK(flatten_event(&e, v, strlen(v), NULL, -1, NULL, NULL) == 0 && e.n == 1,
	      "collision without a warn callback");
	env_free(&e);
}

static void
hostile(void)
{
	static const char ev[] =
		"{\"PATH\":\"/evil\",\"LD_PRELOAD\":\"/tmp/evil.so\",\"BASH_ENV\":\"/tmp/evil.sh\","
		"\"BASH_FUNC_x%%\":\"() { :; }; echo pwned\",\"HOME\":\"/evil\",\"LARK_TYPE\":\"evil\","
		"\"LARK_TRUNCATED\":\"0\",\"IFS\":\"x\",\"A=B\":\"c\",\"ld_library_path\":\"/evil\","
		"\"nested\":{\"PATH\":\"/evil2\"},\"arr\":[{\"LD_PRELOAD\":\"/evil3\"}]}";
	static const char *const fixed[] = {
		"PATH", "LARKHOOK", "LARKHOOK_CONFIG", "HR_API_BASE", "GREETING", "LARK_TYPE", "LARK_ID", "LARK_SCHEMA", "LARK_ATTEMPT",
		"LARK_JSON_FILE",
	};
	char name[512], bad[512] = "";
	struct warns w;
	struct env e;
	const char *v;
	int others = 0;

	CHECK(wrapped_env(ev, &e, &w) == 0, "hostile keys: hook_env succeeds");
	CHECK((v = env_get(&e, "PATH")) && strcmp(v, HOOK_PATH) == 0, "PATH is the config's");
	CHECK(!env_get(&e, "HOME"), "no HOME from the event");
	CHECK((v = env_get(&e, "LARK_TYPE")) && strcmp(v, "t.x") == 0, "LARK_TYPE is the event type");
	CHECK(!env_get(&e, "LD_PRELOAD") && !env_get(&e, "BASH_ENV") && !env_get(&e, "IFS") &&
	      !env_get(&e, "LD_LIBRARY_PATH") && !env_get(&e, "LARK_TRUNCATED"),
	      "no LD_PRELOAD, BASH_ENV, IFS, LD_LIBRARY_PATH or LARK_TRUNCATED");
	CHECK(with_prefix(&e, "BASH_FUNC") == 0, "no BASH_FUNC_ variable");
	CHECK((v = env_get(&e, "LARK_EVENT_PATH")) && strcmp(v, "/evil") == 0, "the key PATH is LARK_EVENT_PATH");
	CHECK((v = env_get(&e, "LARK_EVENT_LD_PRELOAD")) && strcmp(v, "/tmp/evil.so") == 0,
	      "LD_PRELOAD is LARK_EVENT_LD_PRELOAD");
	CHECK(env_get(&e, "LARK_EVENT_BASH_ENV"), "BASH_ENV is LARK_EVENT_BASH_ENV");
	CHECK(env_get(&e, "LARK_EVENT_BASH_FUNC_X__"), "BASH_FUNC_x%%%% is LARK_EVENT_BASH_FUNC_X__");
	CHECK(env_get(&e, "LARK_EVENT_A_B"), "A=B is LARK_EVENT_A_B");
	CHECK(env_get(&e, "LARK_EVENT_NESTED_PATH") && env_get(&e, "LARK_EVENT_ARR_0_LD_PRELOAD"),
	      "nested hostile keys stay under LARK_EVENT_");
	for (int i = 0; i < e.n; i++) {
		int ok = strncmp(e.v[i], "LARK_EVENT_", 11) == 0;

		name_of(e.v[i], name, sizeof name);
		for (size_t k = 0; k < sizeof fixed / sizeof *fixed && !ok; k++)
			ok = strcmp(name, fixed[k]) == 0;
		ok = ok && name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] == '\0';
		if (!ok && !others++)
			snprintf(bad, sizeof bad, "%s", name);
	}
	CHECK(others == 0, "every variable is a fixed one or LARK_EVENT_[A-Z0-9_]* (%d others, first %s)", others, bad);
	env_free(&e);
}

/* A JSON string of n bytes of c, quoted, into a malloc'd buffer. */
static char *
big_string(size_t n, char c)
{
	char *s = malloc(n + 3);

	if (!s)
		exit(1);
	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

/* A name belongs to the first path that maps to it even when a cap leaves
 * that path's value out: the name stays unset, LARK_TRUNCATED=1, and a
 * later colliding path never takes it over (doc/3-hooks.md §3.3). Both
 * caps that leave a value out while the name is fine: the value cap
 * (32 KiB) and the total (256 KiB). */
static void
capped_collisions(void)
{
	struct warns w;
	struct env e;
	const char *v;
	char *big, *buf, *p;
	size_t len;

	/* the value cap: a-b over 32 KiB first, a_b small after it */
	big = big_string(32769, 'v');
	len = strlen(big) + 128;
	buf = malloc(len);
	snprintf(buf, len, "{\"event\":{\"x\":1,\"a-b\":%s,\"a_b\":\"later\",\"y\":2}}", big);
	CHECK(flat(buf, NULL, 0, &e, &w) == 0 && !env_get(&e, "LARK_EVENT_A_B") && e.truncated &&
	      (v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0 && env_get(&e, "LARK_EVENT_X") &&
	      env_get(&e, "LARK_EVENT_Y") && e.n == 3,
	      "a value over 32 KiB owns its name: LARK_EVENT_A_B unset, not the later path's, LARK_TRUNCATED=1");
	CHECK(w.n == 1 && strcmp(w.last, "LARK_EVENT_A_B") == 0, "the later path's collision is reported (%d: %s)",
	      w.n, w.last);
	CHECK(e.bytes < ENV_BYTES_MAX, "the event was under the 256 KiB total (%zu bytes)", e.bytes);
	env_free(&e);
	free(buf);
	/* the same through hook_env, the environment a hook gets */
	len = strlen(big) + 128;
	buf = malloc(len);
	snprintf(buf, len, "{\"a-b\":%s,\"a_b\":\"later\"}", big);
	CHECK(wrapped_env(buf, &e, &w) == 0 && !env_get(&e, "LARK_EVENT_A_B") &&
	      (v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0 && env_get(&e, "LARK_TYPE"),
	      "hook_env: the capped first path's name stays unset, LARK_TRUNCATED=1");
	env_free(&e);
	free(buf);
	free(big);
	/* a nested first path and a flat key: the nested one is capped */
	big = big_string(40000, 'n');
	len = strlen(big) + 128;
	buf = malloc(len);
	snprintf(buf, len, "{\"event\":{\"a\":{\"b\":%s},\"a_b\":\"flat\"}}", big);
	CHECK(flat(buf, NULL, 0, &e, &w) == 0 && !env_get(&e, "LARK_EVENT_A_B") && e.truncated && w.n == 1,
	      "a capped nested path keeps its name from a later flat key");
	env_free(&e);
	free(buf);
	free(big);

	/* the total: eight 32000-byte values fill most of the 256 KiB, a-b
	 * (10000 bytes) no longer fits, a_b (5 bytes) would */
	big = big_string(32000, 'f');
	len = 8 * (strlen(big) + 16) + 20000;
	buf = malloc(len);
	p = buf + sprintf(buf, "{\"event\":{");
	for (int i = 0; i < 8; i++)
		p += sprintf(p, "\"f%d\":%s,", i, big);
	free(big);
	big = big_string(10000, 'a');
	sprintf(p, "\"a-b\":%s,\"a_b\":\"later\",\"c\":\"fits\"}}", big);
	CHECK(flat(buf, NULL, 0, &e, &w) == 0 && !env_get(&e, "LARK_EVENT_A_B") && e.truncated &&
	      (v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0 && env_get(&e, "LARK_EVENT_F7") &&
	      (v = env_get(&e, "LARK_EVENT_C")) && strcmp(v, "fits") == 0,
	      "a value past the 256 KiB total owns its name: unset, the later small one not exported, "
	      "other small values still are");
	CHECK(w.n == 1 && strcmp(w.last, "LARK_EVENT_A_B") == 0, "that collision is reported");
	CHECK(e.bytes <= ENV_BYTES_MAX, "within the total (%zu bytes)", e.bytes);
	env_free(&e);
	free(buf);
	free(big);

	/* more names held than ENV_HELD_MAX: from then on nothing is added,
	 * so lookups stay bounded and no later path takes a held name */
	big = big_string(32000, 'f');
	len = 8 * (strlen(big) + 16) + (ENV_HELD_MAX + 1) * 620 + 10000;
	buf = malloc(len);
	p = buf + sprintf(buf, "{\"event\":{");
	for (int i = 0; i < 8; i++)
		p += sprintf(p, "\"f%d\":%s,", i, big);
	free(big);
	big = big_string(5500, 'g');
	p += sprintf(p, "\"g\":%s,", big);
	free(big);
	big = big_string(600, 'h');
	for (int i = 0; i <= ENV_HELD_MAX; i++)
		p += sprintf(p, "\"h%d\":%s,", i, big);
	sprintf(p, "\"h-5\":\"x\",\"z\":\"1\"}}");
	CHECK(flat(buf, NULL, 0, &e, &w) == 0 && e.nheld == ENV_HELD_MAX && e.closed &&
	      !env_get(&e, "LARK_EVENT_H_5") && !env_get(&e, "LARK_EVENT_Z") && env_get(&e, "LARK_EVENT_G") &&
	      env_get(&e, "LARK_TRUNCATED") && e.bytes <= ENV_BYTES_MAX,
	      "past %d held names nothing more is added (held %d, closed %d)", ENV_HELD_MAX, e.nheld, e.closed);
	env_free(&e);
	CHECK(e.held == NULL && e.nheld == 0 && !e.closed, "env_free releases the held names");
	free(buf);
	free(big);
}

static void
caps(void)
{
	char key[200], json[512], *buf, *s;
	struct warns w;
	struct env e;
	const char *v;
	size_t len;

	/* names: 128 bytes kept, 129 left out */
	memset(key, 'k', sizeof key);
	snprintf(json, sizeof json, "{\"event\":{\"%.*s\":\"fits\",\"a\":1}}", 128 - 11, key);
	CHECK(flat(json, NULL, 0, &e, NULL) == 0 && e.n == 2 && !e.truncated && !env_get(&e, "LARK_TRUNCATED"),
	      "a 128-byte name is kept");
	CHECK(e.n > 0 && strlen(e.v[0]) == 128 + 5 && strcmp(e.v[0] + 128, "=fits") == 0, "its entry is whole");
	env_free(&e);
	snprintf(json, sizeof json, "{\"event\":{\"%.*s\":\"long\",\"a\":1}}", 129 - 11, key);
	CHECK(flat(json, NULL, 0, &e, NULL) == 0 && e.truncated && (v = env_get(&e, "LARK_TRUNCATED")) &&
	      strcmp(v, "1") == 0 && env_get(&e, "LARK_EVENT_A") && e.n == 2,
	      "a 129-byte name is left out, LARK_TRUNCATED=1, the rest kept");
	{
		int longest = 0;

		for (int i = 0; i < e.n; i++)
			if ((int)strcspn(e.v[i], "=") > longest)
				longest = (int)strcspn(e.v[i], "=");
		CHECK(longest <= 128, "no name over 128 bytes (%d)", longest);
	}
	env_free(&e);
	/* a long name made of nesting, not one key */
	snprintf(json, sizeof json, "{\"event\":{\"%.*s\":{\"%.*s\":1}},\"x\":0}", 60, key, 60, key);
	CHECK(flat(json, NULL, 0, &e, NULL) == 0 && e.truncated && e.n == 1,
	      "a nested name of 11+61+61 bytes is left out");
	env_free(&e);

	/* values: 32 KiB kept, 32 KiB + 1 left out */
	s = big_string(32768, 'v');
	len = strlen(s) + 64;
	buf = malloc(len);
	snprintf(buf, len, "{\"event\":{\"a\":1,\"v\":%s,\"b\":2}}", s);
	CHECK(flat(buf, NULL, 0, &e, NULL) == 0 && (v = env_get(&e, "LARK_EVENT_V")) && strlen(v) == 32768 &&
	      !e.truncated && e.n == 3, "a 32 KiB value is kept");
	env_free(&e);
	free(buf);
	free(s);
	s = big_string(32769, 'v');
	len = strlen(s) + 64;
	buf = malloc(len);
	snprintf(buf, len, "{\"event\":{\"a\":1,\"v\":%s,\"b\":2}}", s);
	CHECK(flat(buf, NULL, 0, &e, NULL) == 0 && !env_get(&e, "LARK_EVENT_V") && e.truncated &&
	      env_get(&e, "LARK_TRUNCATED") && env_get(&e, "LARK_EVENT_A") && env_get(&e, "LARK_EVENT_B"),
	      "a 32 KiB + 1 value is left out, LARK_TRUNCATED=1, the rest kept");
	env_free(&e);
	free(buf);
	free(s);
	/* escapes count after decoding: 32768 decoded bytes from 6-byte escapes */
	{
		size_t n = 16384, k = 0;

		buf = malloc(n * 6 + 64);
		k = (size_t)sprintf(buf, "{\"event\":{\"v\":\"");
		for (size_t i = 0; i < n; i++)
			k += (size_t)sprintf(buf + k, "\\u00e9");
		sprintf(buf + k, "\"}}");
		CHECK(flat(buf, NULL, 0, &e, NULL) == 0 && (v = env_get(&e, "LARK_EVENT_V")) && strlen(v) == 32768 &&
		      !e.truncated, "the value cap counts decoded bytes (16384 x \\u00e9 = 32 KiB kept)");
		env_free(&e);
		free(buf);
	}

	/* a 200 KB value */
	s = big_string(200000, 's');
	len = strlen(s) + 64;
	buf = malloc(len);
	snprintf(buf, len, "{\"a\":\"x\",\"huge\":%s,\"b\":[1,2]}", s);
	CHECK(wrapped_env(buf, &e, &w) == 0, "200 KB value: hook_env succeeds");
	CHECK(!env_get(&e, "LARK_EVENT_HUGE"), "the 200 KB value is left out");
	CHECK((v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0, "LARK_TRUNCATED=1");
	CHECK(env_get(&e, "LARK_EVENT_A") && env_get(&e, "LARK_EVENT_B_0") && env_get(&e, "LARK_EVENT_B_1") &&
	      env_get(&e, "LARK_EVENT_B_COUNT") && env_get(&e, "PATH") && env_get(&e, "LARK_ID"),
	      "the rest is kept");
	env_free(&e);
	free(buf);
	free(s);

	/* 2000 leaves */
	{
		size_t cap = 2000 * 24 + 64, k;

		buf = malloc(cap);
		k = (size_t)sprintf(buf, "{");
		for (int i = 0; i < 2000; i++)
			k += (size_t)sprintf(buf + k, "%s\"k%d\":%d", i ? "," : "", i, i);
		sprintf(buf + k, "}");
		CHECK(wrapped_env(buf, &e, &w) == 0, "2000 leaves: hook_env succeeds");
		CHECK(e.n <= 1000, "at most 1000 variables in all (%d)", e.n);
		CHECK(e.n >= 990, "the cap is used, not far under it (%d)", e.n);
		CHECK((v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0, "LARK_TRUNCATED=1");
		CHECK(env_get(&e, "PATH") && env_get(&e, "LARK_TYPE") && env_get(&e, "LARK_JSON_FILE") &&
		      env_get(&e, "LARK_ATTEMPT"), "the fixed variables are all there");
		CHECK((v = env_get(&e, "LARK_EVENT_K0")) && strcmp(v, "0") == 0 && env_get(&e, "LARK_EVENT_K900") &&
		      !env_get(&e, "LARK_EVENT_K1999"), "the first leaves in document order are kept, the last left out");
		CHECK(e.v[e.n] == NULL && e.bytes == env_size(&e), "the list stays consistent");
		env_free(&e);
		free(buf);
	}

	/* 256 KiB in all: twenty 30000-byte values */
	{
		size_t cap = 20 * 30100 + 64, k;

		buf = malloc(cap);
		k = (size_t)sprintf(buf, "{");
		for (int i = 0; i < 20; i++) {
			k += (size_t)sprintf(buf + k, "%s\"v%d\":\"", i ? "," : "", i);
			memset(buf + k, 'a' + i, 30000);
			k += 30000;
			buf[k++] = '"';
		}
		sprintf(buf + k, ",\"small\":\"s\"}");
		CHECK(wrapped_env(buf, &e, &w) == 0, "600 KB of values: hook_env succeeds");
		CHECK(env_size(&e) <= 262144, "total NAME=VALUE bytes at most 256 KiB (%zu)", env_size(&e));
		CHECK(e.bytes == env_size(&e), "bytes counted (%zu)", e.bytes);
		CHECK(env_size(&e) > 200000, "the budget is used (%zu)", env_size(&e));
		CHECK((v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0, "LARK_TRUNCATED=1");
		CHECK(env_get(&e, "LARK_EVENT_V0") && !env_get(&e, "LARK_EVENT_V19") && env_get(&e, "LARK_EVENT_SMALL"),
		      "first values kept, last left out, a small one after still kept");
		env_free(&e);
		free(buf);
	}

	/* nested-array amplifier: 60 arrays inside event (depth 62) */
	{
		char nest[256], deep[160];
		int k = 0;

		k = sprintf(nest, "{\"a\":");
		for (int i = 0; i < 60; i++)
			nest[k++] = '[';
		for (int i = 0; i < 60; i++)
			nest[k++] = ']';
		sprintf(nest + k, "}");
		CHECK(wrapped_env(nest, &e, &w) == 0, "60 nested arrays: hook_env succeeds");
		CHECK((v = env_get(&e, "LARK_EVENT_A_COUNT")) && strcmp(v, "1") == 0, "outer count 1");
		/* LARK_EVENT_A + 55 x "_0" + "_COUNT" = 128 bytes */
		k = sprintf(deep, "LARK_EVENT_A");
		for (int i = 0; i < 55; i++)
			k += sprintf(deep + k, "_0");
		sprintf(deep + k, "_COUNT");
		CHECK(strlen(deep) == 128 && env_get(&e, deep), "the deepest count that fits (128 bytes) is kept");
		sprintf(deep + k, "_0_COUNT");
		CHECK(!env_get(&e, deep), "deeper ones are left out");
		CHECK(e.truncated && env_get(&e, "LARK_TRUNCATED"), "LARK_TRUNCATED=1");
		CHECK(with_prefix(&e, "LARK_EVENT_") == 56, "56 counts (%d)", with_prefix(&e, "LARK_EVENT_"));
		env_free(&e);

		/* 63 arrays inside event: depth 65, over the limit */
		k = sprintf(nest, "{\"event\":{\"a\":");
		for (int i = 0; i < 63; i++)
			nest[k++] = '[';
		for (int i = 0; i < 63; i++)
			nest[k++] = ']';
		sprintf(nest + k, "}}");
		CHECK(flat(nest, NULL, 0, &e, NULL) == 1, "nesting deeper than 64 is invalid JSON: 1");
		env_free(&e);
	}

	/* wide arrays of small arrays */
	{
		size_t n = 20000, cap = n * 8 + 64, k;

		buf = malloc(cap);
		k = (size_t)sprintf(buf, "{\"w\":[");
		for (size_t i = 0; i < n; i++)
			k += (size_t)sprintf(buf + k, "%s[1,[]]", i ? "," : "");
		sprintf(buf + k, "]}");
		CHECK(wrapped_env(buf, &e, &w) == 0, "20000 small arrays: hook_env succeeds");
		CHECK(e.n <= 1000 && env_size(&e) <= 262144 && env_get(&e, "LARK_TRUNCATED"),
		      "within the caps (%d variables, %zu bytes), LARK_TRUNCATED=1", e.n, env_size(&e));
		CHECK(env_get(&e, "LARK_EVENT_W_0_0") && env_get(&e, "LARK_EVENT_W_0_1_COUNT") &&
		      env_get(&e, "LARK_EVENT_W_0_COUNT"), "the first elements are kept");
		env_free(&e);
		free(buf);

		/* a 1 MiB body of empty arrays: ~350000 leaves */
		n = 350000;
		buf = malloc(n * 3 + 64);
		k = (size_t)sprintf(buf, "{\"w\":[");
		for (size_t i = 0; i < n; i++) {
			memcpy(buf + k, i ? ",[]" : "[]", i ? 3 : 2);
			k += i ? 3 : 2;
		}
		sprintf(buf + k, "]}");
		CHECK(wrapped_env(buf, &e, &w) == 0 && e.n <= 1000 && env_get(&e, "LARK_TRUNCATED"),
		      "a 1 MiB array of empty arrays terminates within the caps (%d variables)", e.n);
		env_free(&e);
		free(buf);
	}
}

static void
each(void)
{
	static const char ev[] =
		"{\"event\":{\"items\":[{\"a\":\"x\",\"b\":[9]},{\"a\":\"y\",\"b\":[1,2],\"c\":{\"d\":true}},{\"a\":\"z\"}],"
		"\"ids\":[\"p\",\"q\"],\"o\":{\"inner\":[{\"c\":1},{\"c\":2}]},\"s\":\"str\",\"e\":[]}}";
	struct env e;
	const char *v;

	static const struct kv item1[] = {
		{ "LARK_ITEM_A", "y" },
		{ "LARK_ITEM_B_0", "1" },
		{ "LARK_ITEM_B_1", "2" },
		{ "LARK_ITEM_B_COUNT", "2" },
		{ "LARK_ITEM_C_D", "true" },
	};
	CHECK(flat(ev, "items", 1, &e, NULL) == 0, "each items index 1: 0");
	for (size_t i = 0; i < sizeof item1 / sizeof *item1; i++)
		CHECK((v = env_get(&e, item1[i].name)) && strcmp(v, item1[i].value) == 0, "each: %s=%s", item1[i].name,
		      item1[i].value);
	CHECK(with_prefix(&e, "LARK_ITEM") == 5, "only element 1's leaves under LARK_ITEM (%d)",
	      with_prefix(&e, "LARK_ITEM"));
	CHECK((v = env_get(&e, "LARK_EVENT_ITEMS_0_A")) && strcmp(v, "x") == 0 && env_get(&e, "LARK_EVENT_ITEMS_2_A") &&
	      (v = env_get(&e, "LARK_EVENT_ITEMS_COUNT")) && strcmp(v, "3") == 0,
	      "the whole event is still under LARK_EVENT_");
	CHECK(!env_get(&e, "LARK_EACH_INDEX"), "flatten_event alone adds no LARK_EACH_INDEX (hook_env does)");
	env_free(&e);

	CHECK(flat(ev, "items", 2, &e, NULL) == 0 && (v = env_get(&e, "LARK_ITEM_A")) && strcmp(v, "z") == 0 &&
	      with_prefix(&e, "LARK_ITEM") == 1, "the last element");
	env_free(&e);
	CHECK(flat(ev, "ids", 1, &e, NULL) == 0 && (v = env_get(&e, "LARK_ITEM")) && strcmp(v, "q") == 0 &&
	      with_prefix(&e, "LARK_ITEM") == 1, "a scalar element gives LARK_ITEM=value");
	env_free(&e);
	CHECK(flat(ev, "o.inner", 1, &e, NULL) == 0 && (v = env_get(&e, "LARK_ITEM_C")) && strcmp(v, "2") == 0 &&
	      with_prefix(&e, "LARK_ITEM") == 1, "a dotted path o.inner");
	env_free(&e);

	CHECK(flat(ev, "items", 3, &e, NULL) == 1, "a missing element: 1");
	env_free(&e);
	CHECK(flat(ev, "items", -1, &e, NULL) == 1, "a negative index: 1");
	env_free(&e);
	CHECK(flat(ev, "nope", 0, &e, NULL) == 1, "a missing path: 1");
	env_free(&e);
	CHECK(flat(ev, "o.nope", 0, &e, NULL) == 1, "a missing nested path: 1");
	env_free(&e);
	CHECK(flat(ev, "s", 0, &e, NULL) == 1, "a path to a string: 1");
	env_free(&e);
	CHECK(flat(ev, "o", 0, &e, NULL) == 1, "a path to an object: 1");
	env_free(&e);
	CHECK(flat(ev, "e", 0, &e, NULL) == 1, "an empty array: 1");
	env_free(&e);
	CHECK(flat(ev, "items.a", 0, &e, NULL) == 1, "a path through an array: 1");
	env_free(&e);
	CHECK(flat("{\"x\":1}", "items", 0, &e, NULL) == 1, "each without an event: 1");
	env_free(&e);

	/* hook_env with each: the element and its index and count */
	{
		char json[512];
		struct hook_meta m = { "t.x", "e1", "2.0", NULL, NULL, NULL, json, 0, "items", 1, 3, 2, JSON_FILE };

		snprintf(json, sizeof json, "%s", ev);
		m.json_len = strlen(json);
		memset(&e, 0, sizeof e);
		CHECK(hook_env(&cfg, &m, NULL, &e, NULL, NULL) == 0 && (v = env_get(&e, "LARK_EACH_INDEX")) &&
		      strcmp(v, "1") == 0 && (v = env_get(&e, "LARK_EACH_COUNT")) && strcmp(v, "3") == 0 &&
		      (v = env_get(&e, "LARK_ITEM_A")) && strcmp(v, "y") == 0 && (v = env_get(&e, "LARK_ATTEMPT")) &&
		      strcmp(v, "2") == 0, "hook_env each: LARK_EACH_INDEX=1, LARK_EACH_COUNT=3, LARK_ITEM_A=y");
		env_free(&e);
		m.index = 5;
		CHECK(hook_env(&cfg, &m, NULL, &e, NULL, NULL) == 1, "hook_env with a missing element: 1");
		env_free(&e);
		m.each = NULL;
		CHECK(hook_env(&cfg, &m, NULL, &e, NULL, NULL) == 0 && !env_get(&e, "LARK_EACH_INDEX") &&
		      with_prefix(&e, "LARK_ITEM") == 0, "without each: no LARK_EACH_ or LARK_ITEM variables");
		env_free(&e);
	}

	/* invalid JSON */
	static const char *const bad[] = {
		"",
		"{",
		"{\"event\":{}} x",
		"{\"event\":{}}{}",
		"{\"event\":{\"a\":\"x\ty\"}}",
		"{\"event\":{\"a\":\"\\u0000\"}}",
		"{\"event\":{\"a\":\"\\ud800\"}}",
		"{\"event\":{\"a\":\"\\udc00\\ud800\"}}",
		"{\"event\":{\"a\":\"\xc3\"}}",
		"{\"event\":{\"a\":\"\xc0\xaf\"}}",
		"{\"event\":{\"a\":\"\xed\xa0\x80\"}}",
		"{\"event\":{\"a\":01}}",
		"{\"event\":{\"a\":tru}}",
		"{\"event\":{\"a\":1,}}",
		"{'event':{}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(flat(bad[i], NULL, 0, &e, NULL) == 1 && e.n == 0, "invalid JSON %zu is refused: 1", i);
		env_free(&e);
	}
	memset(&e, 0, sizeof e);
	CHECK(flatten_event(&e, "{\"event\":{\"a\":\"\0\"}}", 19, NULL, -1, NULL, NULL) == 1,
	      "a raw NUL in the JSON: 1");
	env_free(&e);
	{
		struct hook_meta m = { "t.x", "e1", "2.0", NULL, NULL, NULL, "{\"event\":", 9, NULL, 0, 0, 1, JSON_FILE };

		memset(&e, 0, sizeof e);
		CHECK(hook_env(&cfg, &m, NULL, &e, NULL, NULL) == 1, "hook_env on invalid JSON: 1");
		env_free(&e);
	}
}

static void
helpers(void)
{
	struct env e = { 0 };
	const char *v;

	CHECK(env_put(&e, "X0", "zero", 4) == ENV_ADDED, "env_put X0");
	CHECK(env_put(&e, "X", "plain", 5) == ENV_ADDED, "env_put X");
	CHECK(env_put(&e, "B", "b", 1) == ENV_ADDED, "env_put B");
	CHECK(env_put(&e, "A_", "u", 1) == ENV_ADDED, "env_put A_");
	CHECK(env_put(&e, "AB", "ab", 2) == ENV_ADDED, "env_put AB");
	CHECK(env_put(&e, "A", "a=1", 3) == ENV_ADDED, "env_put A");
	CHECK(env_put(&e, "A", "again", 5) == ENV_TAKEN && (v = env_get(&e, "A")) && strcmp(v, "a=1") == 0,
	      "a second A is refused, the first kept");
	CHECK(env_put(&e, "V", "abcdef", 3) == ENV_ADDED && (v = env_get(&e, "V")) && strcmp(v, "abc") == 0,
	      "env_put takes vlen bytes of the value");
	CHECK(env_put(&e, "N", "a\0b", 3) == ENV_LEFT_OUT && !env_get(&e, "N") && e.truncated,
	      "a value with a NUL is left out");
	CHECK((v = env_get(&e, "X")) && strcmp(v, "plain") == 0, "env_get X is X's, not X0's");
	CHECK(!env_get(&e, "X0=") && !env_get(&e, "") && !env_get(&e, "Y") && !env_get(&e, "A_B"),
	      "env_get of missing names is NULL");
	e.truncated = 0;
	env_sort(&e);
	{
		static const char *const want[] = { "A=a=1", "AB=ab", "A_=u", "B=b", "V=abc", "X=plain", "X0=zero" };
		int ok = e.n == 7;

		for (int i = 0; ok && i < 7; i++)
			ok = strcmp(e.v[i], want[i]) == 0;
		CHECK(ok, "env_sort orders by name: X before X0 although '=' > '0'");
		CHECK(e.v[e.n] == NULL, "still NULL-terminated after sorting");
	}
	CHECK((v = env_get(&e, "X0")) && strcmp(v, "zero") == 0, "env_get after sorting");
	CHECK(env_finish(&e) == 0 && !env_get(&e, "LARK_TRUNCATED"), "env_finish adds nothing when nothing was left out");
	e.truncated = 1;
	CHECK(env_finish(&e) == 0 && (v = env_get(&e, "LARK_TRUNCATED")) && strcmp(v, "1") == 0 && e.n == 8,
	      "env_finish adds LARK_TRUNCATED=1");
	env_free(&e);
	CHECK(e.n == 0 && e.v == NULL && e.bytes == 0 && !e.truncated, "env_free empties it");

	/* 1000 puts: 999 fit, the last place is LARK_TRUNCATED's */
	{
		char name[16];
		int added = 0;

		for (int i = 0; i < 1005; i++) {
			snprintf(name, sizeof name, "V%d", i);
			added += env_put(&e, name, "x", 1) == ENV_ADDED;
		}
		CHECK(env_finish(&e) == 0 && e.n <= 1000 && env_get(&e, "LARK_TRUNCATED") && added == e.n - 1,
		      "env_put stops at the variable cap, room kept for LARK_TRUNCATED (%d added)", added);
		env_free(&e);
	}
	CHECK(env_put(&e, "E", "", 0) == ENV_ADDED && (v = env_get(&e, "E")) && *v == '\0', "an empty value");
	env_free(&e);
}

int
main(void)
{
	static const char conf[] =
		"verification_token = lark-test-verification-token-01\n"
		"encrypt_key = lark-test-encrypt-key-0001\n"
		"path = " HOOK_PATH "\n"
		"env = HR_API_BASE=https://example.internal\n"
		"env = GREETING=a=b c\n"
		"[on *]\n"
		"run = true\n";
	cJSON *vec = t_vectors();
	char err[256];

	if (cfg_parse(conf, strlen(conf), CONF, &cfg, err, sizeof err)) {
		printf("FAIL - config: %s\n", err);
		return 1;
	}
	cfg.self = strdup(SELF);
	goldens(vec);
	naming();
	collisions();
	capped_collisions();
	hostile();
	caps();
	each();
	helpers();
	cfg_free(&cfg);
	cJSON_Delete(vec);
	return t_done();
}
