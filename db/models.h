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
} model_rec_t;

/* Inserts (id generated into rec->id unless already set). Joins the
 * caller's transaction. */
int db_model_insert(db_t *db, arena_t *arena, model_rec_t *rec, err_t *e);

/* 404 "not_found" if missing or another workspace's. */
int db_model_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                 model_rec_t *out, err_t *e);

/* Models produced by a job, in predict-field order. */
int db_model_list_for_job(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                          model_rec_t **out, size_t *n, err_t *e);

#endif
