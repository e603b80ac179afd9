/* http.c: HTTPS through libcurl loaded at run time (the only file that
 * includes curl.h; its types and constants are used, never its link) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#ifdef HTTP_STATIC
/* larkhook-static: a fully static program has no dynamic loader, and
 * glibc's static dlopen needs the very shared glibc it was built against;
 * refusing is safer than a crash on a foreign host. */
int
http_init(char *err, size_t n)
{
	snprintf(err, n, "larkhook-static cannot talk to Feishu's OpenAPI: it cannot load "
	         "libcurl (a static program has no dynamic loader); use the dynamically linked "
	         "larkhook (make; needs libcurl4) for token, api and connect");
	return -1;
}

int
http_request(const char *method, const char *url, const char *const *headers,
             const char *body, size_t len, long timeout_ms, struct http_reply *r,
             char *err, size_t n)
{
	(void)method, (void)url, (void)headers, (void)body, (void)len, (void)timeout_ms;
	memset(r, 0, sizeof *r);
	r->ratelimit_reset = -1;
	return http_init(err, n);
}

void
http_reply_free(struct http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

struct http_conn *
http_dial(const char *url, long timeout_ms, char *err, size_t n)
{
	(void)url, (void)timeout_ms;
	http_init(err, n);
	return NULL;
}

int http_conn_fd(struct http_conn *c) { (void)c; return -1; }

ssize_t
http_conn_send(struct http_conn *c, const void *buf, size_t n)
{
	(void)c, (void)buf, (void)n;
	errno = ENOSYS;
	return -1;
}

ssize_t
http_conn_recv(struct http_conn *c, void *buf, size_t n)
{
	(void)c, (void)buf, (void)n;
	errno = ENOSYS;
	return -1;
}

void http_conn_close(struct http_conn *c) { (void)c; }
#else
#include <dlfcn.h>
#include <curl/curl.h>

#ifndef VERSION
#define VERSION "0.1.0"
#endif

#define CONNECT_TIMEOUT_MS 10000L

/* The libcurl functions used, found by dlsym. */
static struct {
	int loaded;
	CURLcode (*global_init)(long);
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	const char *(*strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLcode (*send)(CURL *, const void *, size_t, size_t *);
	CURLcode (*recv)(CURL *, void *, size_t, size_t *);
} cu;

int
http_init(char *err, size_t n)
{
	static const char *const names[] = {
		"curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_perform",
		"curl_easy_getinfo", "curl_easy_cleanup", "curl_easy_strerror", "curl_slist_append",
		"curl_slist_free_all", "curl_easy_send", "curl_easy_recv",
	};
	void *fn[sizeof names / sizeof *names];
	void *lib;

	if (cu.loaded)
		return 0;
	/* RTLD_LOCAL: libcurl's libcrypto.so stays its own; larkhook's static
	 * libcrypto exports nothing, so neither binds to the other's symbols */
	if (!(lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL))) {
		snprintf(err, n, "cannot load libcurl (%s): install it (Debian: apt-get install libcurl4)",
		         dlerror());
		return -1;
	}
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!(fn[i] = dlsym(lib, names[i]))) {
			snprintf(err, n, "libcurl.so.4 has no %s: too old a libcurl", names[i]);
			dlclose(lib);
			return -1;
		}
	/* object to function pointer: POSIX guarantees dlsym's result works */
	memcpy(&cu.global_init, &fn[0], sizeof fn[0]);
	memcpy(&cu.init, &fn[1], sizeof fn[1]);
	memcpy(&cu.setopt, &fn[2], sizeof fn[2]);
	memcpy(&cu.perform, &fn[3], sizeof fn[3]);
	memcpy(&cu.getinfo, &fn[4], sizeof fn[4]);
	memcpy(&cu.cleanup, &fn[5], sizeof fn[5]);
	memcpy(&cu.strerror, &fn[6], sizeof fn[6]);
	memcpy(&cu.slist_append, &fn[7], sizeof fn[7]);
	memcpy(&cu.slist_free_all, &fn[8], sizeof fn[8]);
	memcpy(&cu.send, &fn[9], sizeof fn[9]);
	memcpy(&cu.recv, &fn[10], sizeof fn[10]);
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, n, "libcurl failed to initialise");
		return -1;
	}
	cu.loaded = 1;
	return 0;
}

struct sink {
	struct http_reply *r;
	size_t cap;
	int over;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;
	char *grown;

	if (s->r->len + n > HTTP_REPLY_MAX) {
		s->over = 1;
		return 0;	/* libcurl stops with CURLE_WRITE_ERROR */
	}
	if (s->r->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;

		while (cap < s->r->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(s->r->body, cap)))
			return 0;
		s->r->body = grown;
		s->cap = cap;
	}
	memcpy(s->r->body + s->r->len, data, n);
	s->r->len += n;
	s->r->body[s->r->len] = '\0';
	return n;
}

/* x-ogw-ratelimit-reset: the seconds until Feishu's rate limit opens again. */
static size_t
on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
	static const char name[] = "x-ogw-ratelimit-reset:";
	struct http_reply *r = ctx;
	size_t n = size * nmemb;

	if (n > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
		long v = 0;
		size_t i = sizeof name - 1;

		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < n && line[i] >= '0' && line[i] <= '9') {
			for (; i < n && line[i] >= '0' && line[i] <= '9' && v < 1000000; i++)
				v = v * 10 + (line[i] - '0');
			r->ratelimit_reset = v;
		}
	}
	return n;
}

/* What every handle gets: only http and https, no redirects, no signals,
 * a deadline. TLS verification and the proxy variables are libcurl's
 * defaults and are left alone. */
static void
common(CURL *h, const char *url, long timeout_ms, char *errbuf)
{
	cu.setopt(h, CURLOPT_URL, url);
	cu.setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	cu.setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	cu.setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	          timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
	cu.setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	cu.setopt(h, CURLOPT_USERAGENT, "larkhook/" VERSION);
}

static void
method_and_body(CURL *h, const char *method, const char *body, size_t len)
{
	if (strcmp(method, "GET") == 0) {
		cu.setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(method, "POST") == 0)
		cu.setopt(h, CURLOPT_POST, 1L);
	else
		cu.setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body || strcmp(method, "POST") == 0) {
		cu.setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		cu.setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	}
}

static void
say_error(char *err, size_t n, CURLcode rc, const char *detail, const struct sink *s)
{
	if ((s && s->over) || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(err, n, "the reply is larger than %d bytes", HTTP_REPLY_MAX);
	else
		snprintf(err, n, "%s", detail[0] ? detail : cu.strerror(rc));
}

int
http_request(const char *method, const char *url, const char *const *headers,
             const char *body, size_t len, long timeout_ms, struct http_reply *r,
             char *err, size_t n)
{
	char detail[CURL_ERROR_SIZE] = "";
	struct curl_slist *list = NULL, *grown;
	struct sink s = { r, 0, 0 };
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	CURL *h = NULL;

	memset(r, 0, sizeof *r);
	r->ratelimit_reset = -1;
	if (http_init(err, n))
		return -1;
	/* no "Expect: 100-continue" round trip for larger bodies */
	if (!(list = cu.slist_append(NULL, "Expect:")))
		goto out;
	for (; headers && *headers; headers++) {
		if (!(grown = cu.slist_append(list, *headers)))
			goto out;
		list = grown;
	}
	if (!(h = cu.init()))
		goto out;
	common(h, url, timeout_ms, detail);
	method_and_body(h, method, body, len);
	cu.setopt(h, CURLOPT_HTTPHEADER, list);
	cu.setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	cu.setopt(h, CURLOPT_WRITEDATA, &s);
	cu.setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	cu.setopt(h, CURLOPT_HEADERDATA, r);
	cu.setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_REPLY_MAX);
	if ((rc = cu.perform(h)) == CURLE_OK)
		cu.getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CURLE_OK && !r->body && !(r->body = calloc(1, 1)))
		rc = CURLE_OUT_OF_MEMORY;
out:
	if (rc != CURLE_OK) {
		say_error(err, n, rc, detail, &s);
		http_reply_free(r);
	}
	if (h)
		cu.cleanup(h);
	if (list)
		cu.slist_free_all(list);
	return rc == CURLE_OK ? 0 : -1;
}

void
http_reply_free(struct http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
	r->ratelimit_reset = -1;
}

struct http_conn {
	CURL *h;
	int fd;
};

struct http_conn *
http_dial(const char *url, long timeout_ms, char *err, size_t n)
{
	char detail[CURL_ERROR_SIZE] = "";
	struct http_conn *c;
	curl_socket_t fd = CURL_SOCKET_BAD;
	CURLcode rc;

	if (http_init(err, n))
		return NULL;
	if (!(c = calloc(1, sizeof *c)) || !(c->h = cu.init())) {
		snprintf(err, n, "out of memory");
		free(c);
		return NULL;
	}
	common(c->h, url, timeout_ms, detail);
	cu.setopt(c->h, CURLOPT_CONNECT_ONLY, 1L);
	/* a raw stream through a proxy must be a CONNECT tunnel: for http://
	 * libcurl would otherwise talk to the proxy as to a web server */
	cu.setopt(c->h, CURLOPT_HTTPPROXYTUNNEL, 1L);
	rc = cu.perform(c->h);
	if (rc == CURLE_OK)
		rc = cu.getinfo(c->h, CURLINFO_ACTIVESOCKET, &fd);
	if (rc != CURLE_OK || fd == CURL_SOCKET_BAD) {
		say_error(err, n, rc, detail, NULL);
		if (rc == CURLE_OK)
			snprintf(err, n, "no connection to %s", url);
		http_conn_close(c);
		return NULL;
	}
	c->fd = (int)fd;
	return c;
}

int
http_conn_fd(struct http_conn *c)
{
	return c->fd;
}

/* curl_easy_send's or curl_easy_recv's answer as send(2)'s or recv(2)'s */
static ssize_t
moved(CURLcode rc, size_t n)
{
	if (rc == CURLE_OK)
		return (ssize_t)n;
	errno = rc == CURLE_AGAIN ? EAGAIN : EIO;
	return -1;
}

ssize_t
http_conn_send(struct http_conn *c, const void *buf, size_t n)
{
	size_t sent = 0;
	CURLcode rc = cu.send(c->h, buf, n, &sent);

	return moved(rc, sent);
}

ssize_t
http_conn_recv(struct http_conn *c, void *buf, size_t n)
{
	size_t got = 0;
	CURLcode rc = cu.recv(c->h, buf, n, &got);

	return moved(rc, got);
}

void
http_conn_close(struct http_conn *c)
{
	if (!c)
		return;
	if (c->h)
		cu.cleanup(c->h);
	free(c);
}
#endif
