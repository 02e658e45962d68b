/*
 * strapi_query.h — Strapi v3's list parameters, read into a training_query_t.
 *
 * GET /trainings and /trainings/count take what Strapi v3's REST API and its
 * SDKs send: _sort (several keys), _limit, _start, _q, _publicationState,
 * field[_op]=value filters (eq ne lt gt lte gte in nin contains ncontains
 * containss ncontainss null) and _where, as JSON or in qs's bracket syntax
 * (_where[0][accuracy_gte]=0.5, _where[_or][0][x]=1&_where[_or][1][y]=2).
 * The parser only shapes the request; db/trainings.c checks field names and
 * operators against its allow-list and passes every value as a parameter.
 *
 * Usage: strapi_query_init, strapi_query_add per decoded (name, value),
 * strapi_query_finish. Everything it makes lives in the arena.
 */
#ifndef TRAINYARD_STRAPI_QUERY_H
#define TRAINYARD_STRAPI_QUERY_H

#include <json-c/json.h>

#include "common/arena.h"
#include "common/err.h"
#include "db/trainings.h"

/* Caps that keep one query's SQL small: conditions, nesting, values of one
 * _in list, bracket segments of one name. Past them: 400. */
#define STRAPI_MAX_CONDS 64
#define STRAPI_MAX_DEPTH 8
#define STRAPI_MAX_VALUES 100
#define STRAPI_MAX_SEGMENTS 8

typedef struct strapi_query {
    arena_t *arena;
    json_object *root;  /* the parameters as qs would nest them (arena-owned) */
    int failed;
} strapi_query_t;

void strapi_query_init(strapi_query_t *sq, arena_t *arena);

/* Adds one decoded query parameter. Returns -1 (400 in e) on a malformed
 * name or a clash such as a[b]=1&a=2. */
int strapi_query_add(strapi_query_t *sq, const char *name, const char *value, err_t *e);

/* Reads the collected parameters into q (limit 100, live, sorted by id
 * unless told otherwise). Returns -1 (400 in e) on anything it cannot read. */
int strapi_query_finish(strapi_query_t *sq, training_query_t *q, err_t *e);

#endif
