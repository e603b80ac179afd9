/* hook.c: the hook environment and running hooks: fork, a new session, a
 * clean descriptor table and environment, output drained, deadlines */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "io.h"
#include "json.h"
#include "log.h"
#include "spool.h"

/* Add name=value unless value is NULL; count a failure for lack of memory. */
static void
put_str(struct env *e, const char *name, const char *value, int *nomem)
{
	if (value && env_put(e, name, value, strlen(value)) == ENV_NOMEM)
		*nomem = 1;
}

static void
put_num(struct env *e, const char *name, long long v, int *nomem)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%lld", v);
	put_str(e, name, buf, nomem);
}

int
hook_env(const struct config *c, const struct hook_meta *m, const char *home,
         struct env *e, flatten_warn *warn, void *ctx)
{
	int nomem = 0, rc;

	put_str(e, "PATH", c->path, &nomem);
	put_str(e, "HOME", home, &nomem);
	/* so a hook can call "$LARKHOOK" token / api under this very config
	 * (neither is a secret; the App Secret stays in the config) */
	put_str(e, "LARKHOOK", c->self, &nomem);
	if (c->file && c->file[0] == '/')
		put_str(e, "LARKHOOK_CONFIG", c->file, &nomem);
	for (int i = 0; i < c->nenv; i++) {
		const char *eq = strchr(c->env[i], '=');
		char name[ENV_NAME_MAX + 1];

		if (eq && (size_t)(eq - c->env[i]) < sizeof name) {
			memcpy(name, c->env[i], (size_t)(eq - c->env[i]));
			name[eq - c->env[i]] = '\0';
			put_str(e, name, eq + 1, &nomem);
		}
	}
	put_str(e, "LARK_TYPE", m->type, &nomem);
	put_str(e, "LARK_ID", m->id, &nomem);
	put_str(e, "LARK_SCHEMA", m->schema, &nomem);
	put_str(e, "LARK_TIME", m->time, &nomem);
	put_str(e, "LARK_APP_ID", m->app_id, &nomem);
	put_str(e, "LARK_TENANT_KEY", m->tenant_key, &nomem);
	put_num(e, "LARK_ATTEMPT", m->attempt, &nomem);
	put_str(e, "LARK_JSON_FILE", m->json_file, &nomem);
	if (m->each) {
		put_num(e, "LARK_EACH_INDEX", m->index, &nomem);
		put_num(e, "LARK_EACH_COUNT", m->count, &nomem);
	}
	if (nomem)
		return -1;
	rc = flatten_event(e, m->json, m->json_len, m->each, m->each ? m->index : -1, warn, ctx);
	if (rc)
		return rc;
	return env_finish(e);
}

const char *
hook_home(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : NULL;
}

/* SIGCHLD wakes hook_wait through a pipe (the self-pipe trick). It belongs
 * to the process that made it: a forked runner makes its own. */
static int chld[2] = { -1, -1 };
static pid_t chld_owner;

static void
on_chld(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(chld[1], "", 1) < 0) {
		/* full: a wake-up is already pending */
	}
	errno = saved;
}

static int
watch_children(void)
{
	struct sigaction sa;

	if (chld_owner == getpid())
		return 0;
	/* a pipe of the process this one was forked from: not closed here,
	 * its numbers may belong to something else by now (a runner closes
	 * every inherited descriptor when it detaches) */
	if (pipe2(chld, O_CLOEXEC | O_NONBLOCK))
		return -1;
	chld_owner = getpid();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGCHLD, &sa, NULL);
}

long long
hook_now_ms(void)
{
	return io_now_ms();
}

static void
say(int fd, const char *msg)
{
	if (write(fd, msg, strlen(msg)) < 0) {
		/* nowhere left to tell */
	}
}

static void
kill_group(int sig)
{
	(void)sig;
	kill(-getpid(), SIGKILL);
}

static volatile sig_atomic_t terminating;

static void
on_term(int sig)
{
	(void)sig;
	terminating = 1;
}

/* The group leader of a hook: it waits for the shell and passes on how it
 * ended. When the runner dies (SIGHUP, by PR_SET_PDEATHSIG) it kills the
 * whole group, so a runner killed mid-hook leaves nothing of the hook
 * running beside the runner that repairs its job. At a timeout the runner
 * sends SIGTERM to the group: the leader survives it (its exit would make
 * the runner kill the group at once) and, as the subreaper of the hook's
 * processes, stays until all of them are gone, so members that trap
 * SIGTERM get the grace time before the SIGKILL. Never returns. */
static void
supervise(pid_t sh)
{
	struct sigaction sa;
	sigset_t none;
	int st;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	io_close_from(0);
	while (waitpid(sh, &st, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	/* timed out: wait for the rest of the group (orphans come to us) */
	while (terminating && (waitpid(-1, NULL, 0) >= 0 || errno == EINTR))
		;
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
		_exit(128 + WTERMSIG(st));
	}
	_exit(WEXITSTATUS(st));
}

/* In the child: never returns. Only async-signal-safe calls before exec. */
static void
child(const char *run, const char *dir, char *const envp[], int in, int out, int err,
      pid_t parent, int orphan_kill)
{
	char *argv[] = { "sh", "-c", (char *)run, NULL };
	sigset_t none;
	pid_t sh;

	setsid();
	if (orphan_kill) {
		struct sigaction sa;

		/* the handler first: the runner may die at any moment */
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = kill_group;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);
		if (prctl(PR_SET_PDEATHSIG, SIGHUP) || getppid() != parent)
			_exit(127);
		if ((sh = fork()) < 0)
			_exit(127);
		if (sh > 0)
			supervise(sh);
		prctl(PR_SET_PDEATHSIG, 0);
	}
	/* lift the three above anything they could collide with, then place them */
	in = fcntl(in, F_DUPFD, 10);
	out = fcntl(out, F_DUPFD, 10);
	err = fcntl(err, F_DUPFD, 10);
	if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	io_close_from(3);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir(dir)) {
		say(2, "larkhook: cannot enter the config directory\n");
		_exit(126);
	}
	execve("/bin/sh", argv, envp);
	say(2, "larkhook: cannot execute /bin/sh\n");
	_exit(127);
}

int
hook_start(struct hook_proc *p, const char *run, const char *dir, char *const envp[],
           int in_fd, enum hook_out mode, unsigned timeout, unsigned grace_ms,
           const char *label)
{
	int op[2] = { -1, -1 }, ep[2] = { -1, -1 };
	pid_t parent = getpid();

	memset(p, 0, sizeof *p);
	p->out = p->err = -1;
	p->mode = mode;
	p->grace_ms = grace_ms;
	snprintf(p->label, sizeof p->label, "%s", label);
	if (watch_children() ||
	    (mode != HOOK_INHERIT && pipe2(op, O_CLOEXEC)) ||
	    (mode == HOOK_REPLY && pipe2(ep, O_CLOEXEC)))
		goto fail;
	if ((p->pid = fork()) < 0)
		goto fail;
	if (p->pid == 0)
		child(run, dir, envp, in_fd, mode == HOOK_INHERIT ? 1 : op[1],
		      mode == HOOK_INHERIT ? 2 : mode == HOOK_REPLY ? ep[1] : op[1], parent,
		      mode != HOOK_INHERIT);
	p->deadline = hook_now_ms() + (long long)timeout * 1000;
	if (op[1] >= 0)
		close(op[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	p->out = op[0];
	p->err = ep[0];
	if (p->out >= 0)
		fcntl(p->out, F_SETFL, O_NONBLOCK);
	if (p->err >= 0)
		fcntl(p->err, F_SETFL, O_NONBLOCK);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return -1;
}

static void
log_line(struct hook_proc *p)
{
	char esc[4 * sizeof p->line + 8];

	if (!p->linelen)
		return;
	log_escape(esc, sizeof esc, p->line, p->linelen, p->linelen);
	log_msg("%s: %s", p->label, esc);
	p->linelen = 0;
}

/* Output for the log, cut into lines; past HOOK_OUTPUT_MAX only counted. */
static void
to_log(struct hook_proc *p, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++, p->seen++) {
		if (p->seen >= HOOK_OUTPUT_MAX)
			continue;
		if (buf[i] == '\n') {
			log_line(p);
			continue;
		}
		p->line[p->linelen++] = buf[i];
		if (p->linelen == sizeof p->line)
			log_line(p);
	}
}

static void
to_reply(struct hook_proc *p, const char *buf, size_t n)
{
	if (p->reply_len + n > HOOK_OUTPUT_MAX) {
		p->reply_over = 1;
		return;
	}
	if (!p->reply && !(p->reply = malloc(HOOK_OUTPUT_MAX + 1))) {
		p->reply_over = 1;
		return;
	}
	memcpy(p->reply + p->reply_len, buf, n);
	p->reply_len += n;
	p->reply[p->reply_len] = '\0';
}

/* Read what is there without blocking; close at end of file. */
static void
drain(struct hook_proc *p, int *fd, int reply)
{
	char buf[8192];
	ssize_t n;

	while (*fd >= 0) {
		n = read(*fd, buf, sizeof buf);
		if (n > 0) {
			if (reply)
				to_reply(p, buf, (size_t)n);
			else
				to_log(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(*fd);
		*fd = -1;
	}
}

static void
close_fds(struct hook_proc *p)
{
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	p->out = p->err = -1;
}

static void
finish(struct hook_proc *p)
{
	/* the hook's leftover children may hold the pipe: take what is
	 * there, then stop listening */
	drain(p, &p->out, p->mode == HOOK_REPLY);
	drain(p, &p->err, 0);
	close_fds(p);
	log_line(p);
	if (p->seen > HOOK_OUTPUT_MAX)
		log_msg("%s: output cut: %zu bytes, the first %d logged", p->label, p->seen,
		        HOOK_OUTPUT_MAX);
	p->done = 1;
}

/* Reap p if it has exited. A timed-out group is killed before the reap,
 * while its process group id cannot have been reused. */
static void
reap(struct hook_proc *p)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) || si.si_pid != p->pid)
		return;
	if (p->timed_out)
		kill(-p->pid, SIGKILL);
	while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
		;
	finish(p);
}

static void
enforce(struct hook_proc *p, long long now)
{
	if (!p->timed_out && now >= p->deadline) {
		p->timed_out = 1;
		p->kill_at = now + p->grace_ms;
		kill(-p->pid, p->grace_ms ? SIGTERM : SIGKILL);
	} else if (p->timed_out && p->kill_at && now >= p->kill_at) {
		kill(-p->pid, SIGKILL);
		p->kill_at = 0;
	}
}

void
hook_wait(struct hook_proc *const *procs, int n, int wake_fd, int timeout_ms)
{
	struct pollfd fds[2 * 64 + 2];
	long long now = hook_now_ms(), next = now + timeout_ms;
	int nfds = 0;
	char junk[64];

	for (int i = 0; i < n && nfds < 2 * 64; i++) {
		const struct hook_proc *p = procs[i];

		if (p->done)
			continue;
		if (p->out >= 0)
			fds[nfds++] = (struct pollfd){ p->out, POLLIN, 0 };
		if (p->err >= 0)
			fds[nfds++] = (struct pollfd){ p->err, POLLIN, 0 };
		if (!p->timed_out && p->deadline < next)
			next = p->deadline;
		if (p->timed_out && p->kill_at && p->kill_at < next)
			next = p->kill_at;
	}
	if (chld[0] >= 0)
		fds[nfds++] = (struct pollfd){ chld[0], POLLIN, 0 };
	if (wake_fd >= 0)
		fds[nfds++] = (struct pollfd){ wake_fd, POLLIN, 0 };
	poll(fds, (nfds_t)nfds, next > now ? (int)(next - now) : 0);
	while (chld[0] >= 0 && read(chld[0], junk, sizeof junk) > 0)
		;
	now = hook_now_ms();
	for (int i = 0; i < n; i++) {
		struct hook_proc *p = procs[i];

		if (p->done)
			continue;
		drain(p, &p->out, p->mode == HOOK_REPLY);
		drain(p, &p->err, 0);
		reap(p);
		if (!p->done)
			enforce(p, now);
	}
}

const char *
hook_result(const struct hook_proc *p, char *buf, size_t n)
{
	if (p->timed_out)
		snprintf(buf, n, "timeout");
	else if (WIFEXITED(p->status))
		snprintf(buf, n, "exit %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(buf, n, "signal %d", WTERMSIG(p->status));
	else
		snprintf(buf, n, "unknown");
	return buf;
}

void
hook_release(struct hook_proc *p)
{
	close_fds(p);
	free(p->reply);
	p->reply = NULL;
	p->reply_len = 0;
}

/* The event file of a hook that runs outside the runner: spool/run/NAME.
 * The descriptor to read it from, or -1. */
static int
event_file(const char *spool, const char *prefix, const struct hook_meta *m, char *path,
           size_t n)
{
	static unsigned serial;
	int fd;

	if (spool_prepare(spool) ||
	    snprintf(path, n, "%s/run/%s.%ld.%u.json", spool, prefix, (long)getpid(), serial++) >= (int)n)
		return -1;
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return -1;
	if (io_write_all(fd, m->json, m->json_len) || close(fd)) {
		unlink(path);
		return -1;
	}
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void
warn_log(void *ctx, const char *name)
{
	log_msg("%s: two fields map to %s; the first in the document is kept", (const char *)ctx, name);
}

enum status
hook_reply(const struct config *c, const struct hook *h, struct hook_meta *m, const char *home,
           char **body, const char **reason)
{
	struct hook_proc p, *pp = &p;
	struct env env = { 0 };
	char path[PATH_MAX], label[2300], type[4 * LOG_FIELD_MAX + 8], id[4 * LOG_FIELD_MAX + 8];
	enum status st = ST_SERVER_ERROR;
	const char *s;
	int in;

	*body = NULL;
	log_escape(type, sizeof type, m->type, strlen(m->type), LOG_FIELD_MAX);
	log_escape(id, sizeof id, m->id, strlen(m->id), LOG_FIELD_MAX);
	snprintf(label, sizeof label, "reply hook [on %s] %s %s", h->pattern, type, id);
	*reason = "reply hook: cannot write the event file in the spool's run/";
	if ((in = event_file(c->spool, "reply", m, path, sizeof path)) < 0)
		return st;
	m->json_file = path;
	m->attempt = 1;
	*reason = "reply hook: cannot build its environment";
	if (hook_env(c, m, home, &env, warn_log, label) == 0) {
		*reason = "reply hook: cannot start /bin/sh";
		if (hook_start(&p, h->run, c->dir, env.v, in, HOOK_REPLY, h->timeout, 0, label) == 0) {
			while (!p.done)
				hook_wait(&pp, 1, -1, 1000);
			s = p.reply ? p.reply : "";
			while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
				s++;
			if (p.timed_out)
				*reason = "reply hook timed out";
			else if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0)
				*reason = "reply hook failed (non-zero exit or a signal)";
			else if (p.reply_over)
				*reason = "reply hook wrote more than 64 KiB";
			else if (!p.reply || *s != '{' || json_check(p.reply, p.reply_len))
				*reason = "reply hook output is not a JSON object";
			else {
				*body = p.reply;
				p.reply = NULL;
				*reason = "reply hook answered";
				st = ST_OK;
			}
			hook_release(&p);
		}
	}
	close(in);
	unlink(path);
	env_free(&env);
	return st;
}
