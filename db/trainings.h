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

/* A parsed list query (handlers/strapi_query.c reads it from Strapi v3's
 * parameters). Conditions form a tree: AND and OR nodes hold children,
 * COND nodes compare one field. Names and operators are checked here, in
 * db/, against the allow-list; values only ever become parameters. */
typedef enum training_node_kind { TRAINING_AND, TRAINING_OR, TRAINING_COND } training_node_kind_t;

typedef struct training_node {
    training_node_kind_t kind;
    const char *field;          /* COND: an API field name (checked by db/) */
    const char *op;             /* COND: eq ne lt gt lte gte in nin contains ncontains
                                 * containss ncontainss null */
    const char *const *values;  /* COND: one value; in/nin any number */
    int n_values;
    const char *param;          /* COND: the query parameter it came from, for errors */
    struct training_node *first; /* AND/OR: first child */
    struct training_node *next;  /* the next sibling */
} training_node_t;

#define TRAINING_SORT_MAX 8

typedef struct training_sort {
    const char *field;
    int desc;
} training_sort_t;

typedef struct training_query {
    training_sort_t sorts[TRAINING_SORT_MAX]; /* none: by id */
    int n_sorts;
    int limit;                  /* -1 = all (Strapi default 100) */
    int start;
    const char *q;              /* _q: full-text over the fields, NULL = none */
    int preview;                /* _publicationState=preview: drafts too (default live) */
    training_node_t *where;     /* NULL = no condition */
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

/* Unknown sort/filter fields, bad operators and values that are not of the
 * field's type are 400 naming the parameter. Nulls sort as PostgreSQL's
 * default: last ascending, first descending (as Strapi on PostgreSQL). */
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
