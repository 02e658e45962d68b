/*
 * models.h — trained models: one per predict field of a succeeded job.
 *
 * The booster (XGBoost UBJ) is an artifact; the preprocessing description
 * (field encodings, class labels) and metrics are JSON columns, so that the
 * API can load a predictor with two reads.
 */
#ifndef TRAINYARD_DB_MODELS_H
#define TRAINYARD_DB_MODELS_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/util.h"
#include "db/db.h"

typedef struct model_rec {
    char id[UUID_STR_LEN + 1];
    long long workspace_id;
    char job_id[UUID_STR_LEN + 1];
    const char *dataset_id;
    const char *predict_field;
    const char *task;          /* "binary" | "multiclass" | "regression" */
    json_object *metrics;      /* validation metrics of the final model */
    json_object *candidates;   /* ranked candidates tried */
    json_object *preprocess;   /* encoding description (ml/model.h) */
    char artifact_id[UUID_STR_LEN + 1]; /* the UBJ booster */
    double created_at;
    const char *name;          /* NULL until named */
    json_object *tags;         /* JSON array of strings, sorted, unique */
    int pinned;                /* kept by retention (db/retention.h) and by DELETE */
    double updated_at;         /* 0 if never changed */
} model_rec_t;

/* A change to a model's labels: fields left as they are unless set. */
typedef struct model_update {
    int set_name;              /* 1: name becomes `name` (NULL clears it) */
    const char *name;
    json_object *tags;         /* NULL: keep; else the new set (array of strings) */
    int pinned;                /* -1: keep; 0 or 1 */
} model_update_t;

/* What a model came from. Strings arena-owned; NULL when absent (no code
 * bundle for built-in jobs; dataset fields NULL when the job named none). */
typedef struct model_lineage {
    const char *model_id, *predict_field;
    const char *job_id, *dialect, *state, *user;
    json_object *spec;         /* the training spec as the job stored it */
    double job_created_at, job_finished_at;
    const char *code_id, *code_sha256; /* the source bundle of a user-code job */
    long long code_size;
    const char *dataset_id, *dataset_name, *dataset_sha256, *dataset_delimiter;
    long long dataset_rows, dataset_size;
    int dataset_deleted;       /* the dataset was deleted since; its hash stays */
} model_lineage_t;

/* Inserts (id generated into rec->id unless already set). Joins the
 * caller's transaction. */
int db_model_insert(db_t *db, arena_t *arena, model_rec_t *rec, err_t *e);

/* 404 "not_found" if missing or another workspace's. */
int db_model_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                 model_rec_t *out, err_t *e);

/* Models produced by a job, in predict-field order. */
int db_model_list_for_job(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                          model_rec_t **out, size_t *n, err_t *e);

/* A page of the workspace's models, newest first, without candidates or
 * preprocess; tag (NULL: any) keeps those carrying it. *total counts all
 * that match. */
int db_model_list_page(db_t *db, arena_t *arena, long long workspace_id, int limit, int offset,
                       const char *tag, model_rec_t **out, size_t *n, long long *total, err_t *e);

/* Renames, retags, pins or unpins. 404 when unknown or another workspace's. */
int db_model_update(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                    const model_update_t *u, err_t *e);

/* The model's lineage. 404 when unknown or another workspace's. */
int db_model_lineage(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                     model_lineage_t *out, err_t *e);

/* The lineages of many models in one query, for listings: by model id
 * (by_job = 0) or of every model of the given jobs (by_job = 1), in the
 * workspace only, ordered by job then predict field. ids must be UUIDs
 * (others are skipped). *out (arena-owned) holds *n rows; ids that match
 * no model of the workspace have no row. */
int db_model_lineage_many(db_t *db, arena_t *arena, long long workspace_id, int by_job,
                          const char *const *ids, size_t n_ids, model_lineage_t **out,
                          size_t *n, err_t *e);

#endif
