/*
 * http.h — the terminal client's HTTP calls to a trainyard server (libcurl).
 *
 * One handle per program run, reused for every call so that the connection
 * is kept alive. Every call sends the key as X-API-Key. Answers outside
 * 2xx become an err_t whose message is the server's own (whatever dialect
 * shaped it) plus what to do about it: a refused key names `trainyard
 * login`, an unreachable server names the URL tried.
 *
 * Bodies stream both ways: an upload is read from a FILE in chunks, a
 * download is written to a FILE as it arrives, so neither is ever held
 * whole in memory. JSON answers are held (they are small by design).
 */
#ifndef TRAINYARD_CLI_HTTP_H
#define TRAINYARD_CLI_HTTP_H

#include <signal.h>
#include <stdio.h>

#include <json-c/json.h>

#include "common/err.h"

typedef struct cli_http cli_http_t;

/* Called as bytes move (now and total of the direction that matters, total
 * 0 when unknown). */
typedef void (*cli_http_progress_fn)(void *ctx, double now, double total);

/* base_url without a trailing slash; key may be "" (then no header). */
cli_http_t *cli_http_new(const char *base_url, const char *key, err_t *e);
void cli_http_free(cli_http_t *h);

/* Every later call names this workspace of the key's account in
 * X-Trainyard-Workspace (routes without one in their path act there); NULL
 * or "": the key's own. 0, or -1 with e (out of memory). */
int cli_http_set_workspace(cli_http_t *h, const char *workspace, err_t *e);

/* Progress callback for the following calls (NULL: none). */
void cli_http_set_progress(cli_http_t *h, cli_http_progress_fn fn, void *ctx);

/* When *flag becomes non-zero (a signal handler sets it), the transfer in
 * progress is abandoned and the call fails with status 130. */
void cli_http_set_cancel(cli_http_t *h, volatile sig_atomic_t *flag);

/* method path[?query] with an optional JSON body; *out receives the parsed
 * JSON answer (caller owns; NULL if the answer was empty). 0 on 2xx. */
int cli_http_json(cli_http_t *h, const char *method, const char *path, json_object *body,
                  json_object **out, err_t *e);

/* POSTs size bytes read from f as content_type; the JSON answer as above. */
int cli_http_upload(cli_http_t *h, const char *path, FILE *f, long long size,
                    const char *content_type, json_object **out, err_t *e);

/* GETs path into out (the answer's bytes as they come). 0 on 2xx; on
 * another status nothing is written to out and e holds the server's error. */
int cli_http_download(cli_http_t *h, const char *path, FILE *out, long long *bytes, err_t *e);

/* The escaped form of s for a query string or path segment (caller frees
 * with free()). */
char *cli_http_escape(const char *s);

#endif
