/* openapi.h: the token and api commands (doc/9-openapi.md), the I/O edge of
 * token.c and api.c */
#ifndef OPENAPI_H
#define OPENAPI_H

/* larkhook [-c FILE] token [--refresh] [--tenant KEY]; argv[0] is "token".
 * Exit status 0, 2 (usage), 75 (temporary), 78 (credentials or config). */
int openapi_token(const char *file, int argc, char **argv);

/* larkhook [-c FILE] api METHOD PATH [BODY | @FILE | -] [--query K=V]...
 * [--all] [--tenant KEY]; argv[0] is "api". Exit status 0 (the reply's
 * code is 0), 1 (another code; the reply is printed all the same), 2
 * (usage), 75 (no reply: network; or no token for now), 78 (config). */
int openapi_api(const char *file, int argc, char **argv);

#endif
