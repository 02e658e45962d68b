/*
 * trainings.h — the Strapi-style /trainings collection.
 *
 * A document records a training: either one done elsewhere (the client
 * posts its metrics) or one trainyard runs (meta holds a training spec; the
 * document links to the job and is filled in when the job finishes).
 * Documents are plain JSON objects with the seed's fields:
 * id, uuid, accuracy, precission, mae, rmse, binaryPath, version, meta,
 * published_at, created_by, updated_by (plus created_at/updated_at, as
 * Strapi v3 adds them).
 */
#ifndef TRAINYARD_DB_TRAININGS_H
#define TRAINYARD_DB_TRAININGS_H

#include <json-c/json.h>

#include "db/db.h"

/* A parsed list query: GET /trainings?_sort=&_limit=&_start=&field_op=value */
typedef struct training_filter {
    const char *field;  /* one of the seed's fields or id/published_at/created_at/updated_at */
    const char *op;     /* "eq" "ne" "lt" "gt" "lte" "gte" */
    const char *value;
} training_filter_t;

typedef struct training_query {
    const char *sort_field;     /* NULL = id */
    int sort_desc;
    int limit;                  /* -1 = all (Strapi default 100) */
    int start;
    training_filter_t filters[16];
    int n_filters;
} training_query_t;

/* Creates a document from body fields (already validated). If a document of
 * the workspace has the same uuid: same content -> *existing = 1 and *out is
 * that document; different content -> 409 "conflict". job_id may be NULL. */
int db_training_create(db_t *db, arena_t *arena, long long workspace_id, json_object *fields,
                       const char *job_id, const char *created_by, json_object **out,
                       int *existing, err_t *e);

/* 404 if missing or another workspace's; id is the document id (text). */
int db_training_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                    json_object **out, err_t *e);

/* Unknown sort/filter fields and bad operators are 400 naming the parameter. */
int db_training_list(db_t *db, arena_t *arena, long long workspace_id,
                     const training_query_t *q, json_object **out_array, err_t *e);
int db_training_count(db_t *db, arena_t *arena, long long workspace_id,
                      const training_query_t *q, long long *count, err_t *e);

/* Updates the given fields; returns the new document. 409 if uuid collides. */
int db_training_update(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       json_object *fields, const char *updated_by, json_object **out,
                       err_t *e);

/* Deletes and returns the deleted document (Strapi v3 answers with it). */
int db_training_delete(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                       json_object **out, err_t *e);

/* Called when a job finishes: fills accuracy/precission/mae/rmse,
 * binaryPath and version of the documents linked to the job. Joins the
 * caller's transaction. */
int db_training_job_finished(db_t *db, arena_t *arena, const char *job_id, json_object *metrics,
                             const char *binary_path, const char *version, err_t *e);

#endif
