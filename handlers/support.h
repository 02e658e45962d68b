/*
 * support.h — small pieces every handler family shares: query parameters
 * with bounds, JSON building shorthands, time rendering, and the
 * workspace-in-path check of the workspace dialect.
 */
#ifndef TRAINYARD_SUPPORT_H
#define TRAINYARD_SUPPORT_H

#include <json-c/json.h>

#include "fcgi/multipart.h"
#include "fcgi/request.h"

/* Reads an integer query parameter in [min, max]; absent -> dflt. A bad
 * value is a 422 item at "query/<name>" (pydantic wording). */
int support_query_int(request_t *r, const char *name, long long dflt, long long min,
                      long long max, long long *out, err_t *e);

/* Reads a boolean query parameter ("true/false/1/0/yes/no"); absent -> dflt. */
int support_query_bool(request_t *r, const char *name, int dflt, int *out, err_t *e);

/* Adds key -> string, or JSON null when s is NULL. */
void support_json_str(json_object *obj, const char *key, const char *s);

/* Adds key -> RFC 3339 time, or null when epoch is 0. */
void support_json_time(json_object *obj, const char *key, double epoch);

/* Adds key -> number, or null when v is not finite. */
void support_json_double(json_object *obj, const char *key, double v);

/* The workspace dialect names the workspace in the path: it must be the
 * key's own (another workspace is 404, never 403, so names do not leak). */
int support_workspace_matches(const request_t *r, const char *workspace, err_t *e);

/* Receives the bytes of a streamed body (ROUTE_STREAM_BODY). */
typedef int (*support_sink_fn)(void *ctx, const char *buf, size_t n, err_t *e);

/* Streams the request body chunk by chunk: through a multipart parser
 * calling mp's callbacks when mp is not NULL, else straight into sink.
 * Returns 0 once the whole body (and, for multipart, the closing boundary)
 * is in; -1 with e filled on a short or oversized body, malformed multipart
 * or a callback's error. */
int support_body_stream(request_t *r, const multipart_callbacks_t *mp, support_sink_fn sink,
                        void *ctx, err_t *e);

/* Takes one of the calling key's upload slots (TRAINYARD_UPLOADS_PER_KEY at
 * once, across every worker), held until the request ends. Returns 0, or -1
 * with e filled: 429 when the key already has that many uploads in flight. */
int support_upload_slot(request_t *r, err_t *e);

/* Registers json_object_put for obj on the request's arena and returns obj. */
json_object *support_own(request_t *r, json_object *obj);

#endif
