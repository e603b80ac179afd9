/* cmd.c: the commands an operator runs: check, drain, status, retry, run,
 * forge */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "connect.h"
#include "crypto.h"
#include "hook.h"
#include "io.h"
#include "json.h"
#include "lark.h"
#include "log.h"
#include "openapi.h"
#include "queue.h"
#include "runner.h"
#include "spool.h"

#ifndef VERSION
#define VERSION "0.1.0"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static const char usage[] =
	"usage: larkhook [-c FILE] check | drain | status | retry ID|all | run EVENT.json\n"
	"       larkhook [-c FILE] forge [-u URL] EVENT.json\n"
	"       larkhook [-c FILE] connect\n"
	"       larkhook [-c FILE] token [--refresh] [--tenant KEY]\n"
	"       larkhook [-c FILE] api METHOD PATH [BODY | @FILE | -] [--query K=V]... [--all]\n"
	"       larkhook --version | --help\n";

static const char help[] =
	"larkhook receives Feishu / Lark event callbacks as a CGI or FastCGI program,\n"
	"stores each genuine event durably, and runs the shell hook configured for its\n"
	"type with the event's fields in LARK_* environment variables.\n"
	"\n"
	"The config is -c FILE, else $LARKHOOK_CONFIG, else larkhook.conf beside the\n"
	"executable, else " SYSCONFDIR "/larkhook.conf.\n"
	"\n"
	"Commands:\n"
	"  check             validate the config, list the hooks, warn about risks;\n"
	"                    exit 1 when the config is unusable\n"
	"  drain             run every job that is due now, then exit; put it in cron so\n"
	"                    retries run even when no new events arrive:\n"
	"                      */5 * * * * /usr/local/sbin/larkhook -c /path/larkhook.conf drain\n"
	"  status            jobs per state, the oldest waiting job's age, and every\n"
	"                    failed job; exit 1 when something is in failed/\n"
	"  retry ID|all      queue failed jobs again (ID: an event id as status shows\n"
	"                    it), due at once, with a fresh budget of attempts\n"
	"  run EVENT.json    run the matching hook on a plaintext event now, in the\n"
	"                    foreground: prints the environment it gets and its output,\n"
	"                    exits with its status; nothing is stored\n"
	"  forge [-u URL] EVENT.json\n"
	"                    print a curl command that POSTs the event to URL encrypted\n"
	"                    and signed with this config's keys, as Feishu would:\n"
	"                      larkhook forge -u https://example.com/larkhook ev.json | sh\n"
	"  connect           hold Feishu's long connection (no public URL needed):\n"
	"                    events arrive over it, are stored and acked, and run\n"
	"                    their hooks; needs app_id and app_secret; runs in the\n"
	"                    foreground until SIGTERM (examples/larkhook-connect.service)\n"
	"  token [--refresh] [--tenant KEY]\n"
	"                    print a tenant_access_token of the app (app_id, app_secret),\n"
	"                    cached in the spool's state/ and shared by every hook;\n"
	"                    --tenant names the tenant of a store app\n"
	"  api METHOD PATH [BODY | @FILE | -] [--query K=V]... [--all] [--tenant KEY]\n"
	"                    call the OpenAPI at api_base with that token and print the\n"
	"                    reply; exit 1 when its code is not 0. Hooks get the binary\n"
	"                    and the config in $LARKHOOK and $LARKHOOK_CONFIG:\n"
	"                      \"$LARKHOOK\" api GET /open-apis/contact/v3/users/ou_x\n"
	"                    --all follows page_token and joins data.items\n"
	"\n"
	"Options:\n"
	"  -c FILE           the config file\n"
	"  --version         print the version\n"
	"  --help            this text\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error; token and api also 75\n"
	"(temporary: network, 5xx, rate limit) and 78 (credentials or config).\n";

const char *
cmd_option_c(int argc, char **argv, int *next)
{
	const char *file = NULL;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		file = argv[i + 1];
		i += 2;
	}
	*next = i;
	return file;
}

static int
load(const char *file, struct config *c, int runs_hooks)
{
	char err[1024];

	if (cfg_load(file, c, err, sizeof err)) {
		fprintf(stderr, "larkhook: %s\n", err);
		return -1;
	}
	if (runs_hooks && geteuid() == 0 && !c->allow_root) {
		fprintf(stderr, "larkhook: refusing to run hooks as root; run this as the web "
		                "server's user (e.g. sudo -u www-data), or set allow_root = yes in %s\n",
		        c->file);
		cfg_free(c);
		return -1;
	}
	umask(077);
	return 0;
}

/* The whole of a file, NUL-terminated (caller frees), or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *grown;
	size_t n = 0, cap = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > SPOOL_RECORD_MAX || !(grown = realloc(buf, cap))) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return NULL;
			}
			buf = grown;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int
world_readable(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && (st.st_mode & S_IROTH);
}

static void
check_hooks(const struct config *c)
{
	for (int i = 0; i < c->nhooks; i++) {
		const struct hook *h = &c->hooks[i];
		size_t n = strcspn(h->run, " \t");
		char prog[PATH_MAX];

		printf("hook [on %s]: %s%s%s%s\n", h->pattern, h->run, h->each ? " (each " : "",
		       h->each ? h->each : "", h->each ? ")" : "");
		/* only an absolute program can be checked without the shell */
		if (h->run[0] == '/' && n < sizeof prog) {
			memcpy(prog, h->run, n);
			prog[n] = '\0';
			if (access(prog, X_OK) != 0)
				printf("warning: [on %s]: %s is not an executable file (%s)\n",
				       h->pattern, prog, strerror(errno));
		}
	}
}

/* The OpenAPI keys: the secret must be readable now, not at the first
 * token a hook asks for. */
static int
check_api(struct config *c)
{
	char err[1024];

	if (!c->app_id) {
		printf("openapi: off (no app_id; token and api need it)\n");
		return 0;
	}
	if (cfg_app_secret(c, err, sizeof err)) {
		fprintf(stderr, "larkhook: %s\n", err);
		return -1;
	}
	printf("openapi: app %s (%s app) at %s; App Secret %s\n", c->app_id,
	       c->app_store ? "store" : "self-built", c->api_base,
	       c->app_secret_file ? "from app_secret_file" : "in this file");
	return 0;
}

/* What `connect` would do with this config. */
static void
check_connect(const struct config *c)
{
	if (!c->app_id)
		printf("connect: off (needs app_id and app_secret)\n");
	else if (c->app_store)
		printf("warning: connect: Feishu offers the long connection to self-built apps only; "
		       "a store app (app_type = store) receives events by webhook\n");
	else
		printf("connect: ready: the long connection is asked for at %s/callback/ws/endpoint\n",
		       c->api_base);
}

static int
check(const char *file)
{
	char why[PATH_MAX + 64];
	struct config c;

	if (load(file, &c, 0))
		return 1;
	if (check_api(&c)) {
		cfg_free(&c);
		return 1;
	}
	printf("config %s: ok\n", c.file);
	check_connect(&c);
	if (!c.token)
		printf("webhook: off (no verification_token): CGI and FastCGI answer every "
		       "request 500; this config serves larkhook connect only\n");
	else
		printf("mode: %s\n", c.encrypt_key ? "encrypted and signed" : "token only");
	printf("spool: %s\n", c.spool);
	printf("log: %s\n", c.log ? c.log : "standard error (the web server's error log)");
	check_hooks(&c);
	if (!c.nhooks)
		printf("warning: no [on TYPE] sections: events are acknowledged and dropped\n");
	if (!c.encrypt_key && c.token)
		printf("warning: no encrypt_key: requests are neither encrypted nor signed; "
		       "set an Encrypt Key in the developer console and here\n");
	if (!c.log)
		printf("warning: no log = file: hook output and the runner's lines are lost "
		       "when the server's error log is not a plain file\n");
	if ((!c.token_file || !c.encrypt_key_file || (c.app_id && !c.app_secret_file)) &&
	    world_readable(c.file))
		printf("warning: %s holds secrets and is readable by everyone: chmod 600 it\n", c.file);
	if (world_readable(c.token_file) || world_readable(c.encrypt_key_file) ||
	    world_readable(c.app_secret_file))
		printf("warning: a secret file is readable by everyone: chmod 600 it\n");
	if (!c.max_age)
		printf("warning: max_age = 0: the replay window is off; a signed request captured once "
		       "can run its hook again after retain, when its id is forgotten: set max_age "
		       "(8h..retain, default 1d)\n");
	if (spool_check(c.spool, why, sizeof why) > 0)
		printf("warning: spool: %s: intake answers 503 and no job runs until it is the user's "
		       "own and writable by no one else (chown, chmod 700)\n", why);
	if (strstr(c.spool, "/public_html") || strstr(c.spool, "/htdocs") || strstr(c.spool, "/www/"))
		printf("warning: the spool %s looks like it is inside a document root: "
		       "move it where the web server does not serve it\n", c.spool);
	cfg_free(&c);
	return 0;
}

static int
drain(const char *file)
{
	struct runner_totals t = { 0 };
	struct config c;
	int rc;

	if (load(file, &c, 1))
		return 1;
	log_open(c.log);
	rc = runner_drain(&c, &t);
	if (rc == 1)
		printf("another runner is working on %s; it runs the due jobs\n", c.spool);
	else if (rc < 0)
		fprintf(stderr, "larkhook: cannot use the spool %s: %s\n", c.spool, strerror(errno));
	else
		printf("drain: %d done, %d to retry later, %d failed\n", t.done, t.retried, t.failed);
	cfg_free(&c);
	return rc < 0 ? 1 : 0;
}

struct tally {
	const char *spool, *dir;
	time_t now;
	int n, due;
	long long oldest;	/* arrival, microseconds */
	int listing;
};

static void
count_job(void *ctx, const char *name, const struct job *j)
{
	struct tally *t = ctx;
	struct spool_job rec;
	char path[PATH_MAX];

	t->n++;
	if (j->when <= (long long)t->now)
		t->due++;
	if (!t->oldest || j->arrival < t->oldest)
		t->oldest = j->arrival;
	if (!t->listing)
		return;
	snprintf(path, sizeof path, "%s/%s/%s", t->spool, t->dir, name);
	if (spool_read(path, &rec) == 0) {
		printf("  %s  %s", rec.id, rec.type);
		if (rec.each)
			printf("  item %d", j->index);
		spool_job_free(&rec);
	} else
		printf("  (unreadable record %s)", name);
	printf("  attempts %ld  last %s\n", j->runs, j->last[0] ? j->last : "-");
}

static int
status(const char *file)
{
	static const char *const dirs[] = { "new", "cur", "done", "failed" };
	struct tally t[4];
	struct config c;
	time_t now = time(NULL);

	if (load(file, &c, 0))
		return 1;
	printf("spool %s\n", c.spool);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct tally){ c.spool, dirs[i], now, 0, 0, 0, 0 };
		queue_each(c.spool, dirs[i], count_job, &t[i]);
	}
	printf("waiting  %d (%d due, %d waiting for a retry time)\n", t[0].n, t[0].due, t[0].n - t[0].due);
	printf("running  %d\n", t[1].n);
	printf("done     %d\n", t[2].n);
	printf("failed   %d\n", t[3].n);
	if (t[0].n)
		printf("oldest waiting job: %llds old\n", (long long)now - t[0].oldest / 1000000);
	if (t[3].n) {
		printf("failed jobs (event id, type, attempts, last result):\n");
		t[3] = (struct tally){ c.spool, "failed", now, 0, 0, 0, 1 };
		queue_each(c.spool, "failed", count_job, &t[3]);
		printf("requeue them with: larkhook -c %s retry ID|all\n", c.file);
	}
	cfg_free(&c);
	return t[3].n ? 1 : 0;
}

struct requeue {
	const char *spool;
	char hash[65];		/* empty: all */
	int n, errors;
};

static void
requeue(void *ctx, const char *name, const struct job *j)
{
	struct requeue *r = ctx;
	struct job n = *j;

	if (r->hash[0] && strcmp(r->hash, j->hash) != 0)
		return;
	n.budget = n.runs;	/* a fresh budget; LARK_ATTEMPT keeps counting */
	n.when = 0;
	if (queue_move(r->spool, "failed", name, "new", &n, 1))
		r->errors++;
	else
		r->n++;
}

static int
retry(const char *file, const char *id)
{
	struct requeue r = { 0 };
	struct config c;

	if (load(file, &c, 0))
		return 1;
	r.spool = c.spool;
	if (strcmp(id, "all") != 0) {
		struct bytes part = { id, strlen(id) };
		unsigned char md[32];

		if (crypto_sha256(&part, 1, md)) {
			cfg_free(&c);
			return 1;
		}
		crypto_hex(md, 32, r.hash);
	}
	queue_each(c.spool, "failed", requeue, &r);
	if (r.errors)
		fprintf(stderr, "larkhook: %d job(s) could not be moved back to new/\n", r.errors);
	if (!r.n) {
		fprintf(stderr, "larkhook: no failed job %s%s in %s/failed\n",
		        strcmp(id, "all") ? "for event id " : "", strcmp(id, "all") ? id : "", c.spool);
		cfg_free(&c);
		return 1;
	}
	printf("%d job(s) queued again\n", r.n);
	if (geteuid() != 0 || c.allow_root) {
		log_open(c.log);
		runner_kick(&c, NULL);
		printf("a runner was started for them (or one already runs)\n");
	} else
		printf("run `larkhook drain` as the web server's user to run them now\n");
	cfg_free(&c);
	return r.errors ? 1 : 0;
}

static pid_t run_group;

/* Ctrl-C on `larkhook run` reaches the hook's own process group too. */
static void
forward(int sig)
{
	if (run_group > 0)
		kill(-run_group, sig);
}

static int
exit_code(const struct hook_proc *p)
{
	if (p->timed_out)
		return 124;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	return WIFSIGNALED(p->status) ? 128 + WTERMSIG(p->status) : 1;
}

/* One job of `run`: print the environment, run the hook in the foreground. */
static int
run_one(const struct config *c, const struct hook *h, const struct lark_event *ev, int index,
        int count, const char *home)
{
	char path[] = "/tmp/larkhook-event.XXXXXX", what[32];
	struct hook_meta m = {
		ev->type, ev->id, ev->schema, ev->time, ev->app_id, ev->tenant_key,
		ev->plain, ev->plain_len, h->each, index, count, 1, path,
	};
	struct hook_proc p, *pp = &p;
	struct env env = { 0 };
	struct sigaction sa;
	int fd = mkstemp(path), rc = 1;

	if (fd < 0 || io_write_all(fd, ev->plain, ev->plain_len) || lseek(fd, 0, SEEK_SET) < 0) {
		fprintf(stderr, "larkhook: cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (hook_env(c, &m, home, &env, NULL, NULL)) {
		fprintf(stderr, "larkhook: cannot build the hook environment\n");
		goto out;
	}
	env_sort(&env);
	for (int i = 0; i < env.n; i++)
		printf("%s\n", env.v[i]);
	printf("--- running [on %s]: %s\n", h->pattern, h->run);
	fflush(stdout);
	if (hook_start(&p, h->run, c->dir, env.v, fd, HOOK_INHERIT, h->timeout, 5000, "run")) {
		fprintf(stderr, "larkhook: cannot start /bin/sh: %s\n", strerror(errno));
		goto out;
	}
	run_group = p.pid;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!p.done)
		hook_wait(&pp, 1, -1, 1000);
	run_group = 0;
	rc = exit_code(&p);
	printf("--- %s\n", hook_result(&p, what, sizeof what));
	hook_release(&p);
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	env_free(&env);
	return rc;
}

static int
run(const char *file, const char *event)
{
	struct lark_event ev;
	const struct hook *h;
	struct config c;
	size_t len;
	char *json;
	int rc = 1, count = 1;

	if (load(file, &c, 1))
		return 1;
	if (!(json = slurp(event, &len))) {
		fprintf(stderr, "larkhook: cannot read %s: %s\n", event, strerror(errno));
		cfg_free(&c);
		return 1;
	}
	if (lark_plain_event(json, len, &ev) != ST_OK) {
		fprintf(stderr, "larkhook: %s: %s (give the plaintext event: the JSON inside \"encrypt\")\n",
		        event, ev.reason);
	} else if (!(h = cfg_route(&c, ev.type))) {
		fprintf(stderr, "larkhook: no [on ...] section of %s matches %s\n", c.file, ev.type);
	} else if (h->each && (count = lark_each_count(ev.root, h->each)) <= 0) {
		printf("event.%s is missing or empty: no job, nothing to run\n", h->each);
		rc = 0;
	} else {
		const char *home = hook_home();

		rc = 0;
		for (int i = 0; i < count; i++) {
			int r = run_one(&c, h, &ev, h->each ? i : 0, count, home);

			if (r && !rc)
				rc = r;
		}
	}
	lark_event_free(&ev);
	free(json);
	cfg_free(&c);
	return rc;
}

/* Print s single-quoted for the shell. */
static void
quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

/* The event's text with the config's Verification Token in it. Caller
 * frees with cJSON_free. */
static char *
with_token(const struct config *c, const char *json, size_t len, const char *event)
{
	cJSON *root = NULL, *where, *tok;
	const char *err = json_parse(json, len, &root);
	char *out = NULL;

	if (err || !cJSON_IsObject(root)) {
		fprintf(stderr, "larkhook: %s: %s\n", event, err ? err : "not a JSON object");
		cJSON_Delete(root);
		return NULL;
	}
	where = cJSON_GetObjectItemCaseSensitive(root, "header");
	if (!cJSON_IsObject(where))
		where = root;
	tok = cJSON_GetObjectItemCaseSensitive(where, "token");
	if (cJSON_IsString(tok) && strcmp(tok->valuestring, c->token) == 0) {
		out = cJSON_malloc(len + 1);
		if (out) {
			memcpy(out, json, len);
			out[len] = '\0';
		}
	} else {
		cJSON_DeleteItemFromObjectCaseSensitive(where, "token");
		if (cJSON_AddStringToObject(where, "token", c->token))
			out = cJSON_PrintUnformatted(root);
		fprintf(stderr, "larkhook: note: the event's token was set to this config's "
		                "verification_token\n");
	}
	cJSON_Delete(root);
	return out;
}

static int
forge(const char *file, const char *url, const char *event)
{
	unsigned char iv[16], rnd[8], *sealed = NULL;
	char nonce[17], ts[24], sig[65], *json = NULL, *plain = NULL, *b64 = NULL, *body = NULL;
	struct config c;
	size_t len, n;
	int rc = 1;

	if (load(file, &c, 0))
		return 1;
	if (!c.token) {
		fprintf(stderr, "larkhook: %s has no verification_token: there is no webhook to "
		        "forge a request for\n", c.file);
		goto out;
	}
	if (!(json = slurp(event, &len))) {
		fprintf(stderr, "larkhook: cannot read %s: %s\n", event, strerror(errno));
		goto out;
	}
	if (!(plain = with_token(&c, json, len, event)))
		goto out;
	printf("curl -sS -i -X POST -H 'Content-Type: application/json' ");
	if (!c.encrypt_key) {
		printf("--data-binary ");
		quoted(plain);
		putchar(' ');
	} else {
		if (crypto_random(iv, sizeof iv) || crypto_random(rnd, sizeof rnd) ||
		    crypto_encrypt(c.aes_key, iv, plain, strlen(plain), &sealed, &n) ||
		    !(b64 = crypto_b64encode(sealed, n)) || !(body = malloc(strlen(b64) + 16)))
			goto out;
		sprintf(body, "{\"encrypt\":\"%s\"}", b64);
		crypto_hex(rnd, sizeof rnd, nonce);
		snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
		if (lark_sign(ts, nonce, c.encrypt_key, body, strlen(body), sig))
			goto out;
		printf("-H 'X-Lark-Request-Timestamp: %s' -H 'X-Lark-Request-Nonce: %s' "
		       "-H 'X-Lark-Signature: %s' --data-binary '%s' ", ts, nonce, sig, body);
	}
	quoted(url);
	putchar('\n');
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "larkhook: cannot forge the request\n");
	free(json);
	cJSON_free(plain);
	free(sealed);
	free(b64);
	free(body);
	cfg_free(&c);
	return rc;
}

/* The long connection: the App Secret is read here, where it is needed. */
static int
connect_cmd(const char *file)
{
	struct config c;
	char err[1024];
	int rc;

	if (load(file, &c, 1))
		return 1;
	if (!c.app_id) {
		fprintf(stderr, "larkhook: connect needs app_id and app_secret (or app_secret_file) "
		        "in %s: the app's credentials from the developer console\n", c.file);
		cfg_free(&c);
		return 1;
	}
	if (cfg_app_secret(&c, err, sizeof err)) {
		fprintf(stderr, "larkhook: %s\n", err);
		cfg_free(&c);
		return 1;
	}
	log_open(c.log);
	rc = connect_run(&c);
	cfg_free(&c);
	return rc;
}

int
cmd_main(const char *file, int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "";

	if (strcmp(cmd, "--version") == 0 && argc == 1) {
		printf("larkhook %s\n", VERSION);
		return 0;
	}
	if ((strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) && argc == 1) {
		fputs(help, stdout);
		return 0;
	}
	if (strcmp(cmd, "check") == 0 && argc == 1)
		return check(file);
	if (strcmp(cmd, "drain") == 0 && argc == 1)
		return drain(file);
	if (strcmp(cmd, "status") == 0 && argc == 1)
		return status(file);
	if (strcmp(cmd, "retry") == 0 && argc == 2)
		return retry(file, argv[1]);
	if (strcmp(cmd, "run") == 0 && argc == 2)
		return run(file, argv[1]);
	if (strcmp(cmd, "token") == 0)
		return openapi_token(file, argc, argv);
	if (strcmp(cmd, "api") == 0)
		return openapi_api(file, argc, argv);
	if (strcmp(cmd, "forge") == 0 && argc == 2)
		return forge(file, "http://localhost/larkhook", argv[1]);
	if (strcmp(cmd, "connect") == 0 && argc == 1)
		return connect_cmd(file);
	if (strcmp(cmd, "forge") == 0 && argc == 4 && strcmp(argv[1], "-u") == 0)
		return forge(file, argv[2], argv[3]);
	fputs(usage, stderr);
	return 2;
}
