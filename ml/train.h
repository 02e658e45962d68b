/*
 * train.h — the training engine's entry point, as the trainer child calls it.
 *
 * The child streams the dataset's CSV into an ml_data_t (typed columns, one
 * parse), then calls ml_train() with the job's spec. Training runs inside
 * the spec's duration (wall clock, the caller's overhead included via
 * deadline), reports progress through callbacks at least once a second,
 * and returns one model per predict field plus the result document the API
 * serves. XGBoost is only touched here, in the child, after fork.
 */
#ifndef TRAINYARD_TRAIN_H
#define TRAINYARD_TRAIN_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/csv.h"

typedef struct ml_data ml_data_t;

/* Streaming construction from CSV chunks. */
ml_data_t *ml_data_new(const csv_limits_t *lim);
int ml_data_feed(ml_data_t *d, const char *buf, size_t n, err_t *e);
int ml_data_finish(ml_data_t *d, err_t *e);
/* After finish: the columns named in types ({name: "number" | "category"
 * | "string" | "boolean"}, NULL = none) take that type instead of the
 * inferred one: the types a client set on the dataset (Akkio v1's
 * `fields`), which the trainer passes as the spec's field_types. A number
 * column declared a category is encoded as one (its values' texts are the
 * levels); a text column declared a number reads its numeric texts and
 * leaves the rest missing; "string" reads the values as text (encoded as
 * an inferred string column is: its repeating levels); "boolean" on a
 * column that is not yes/no-like is read as a category. 400 for a name the
 * dataset does not have. */
int ml_data_retype(ml_data_t *d, json_object *types, err_t *e);
/* Before the first feed: keep the values in a page file in dir instead of
 * memory (ml/spill.h), for a table larger than the process may hold;
 * ml_train then trains from disk (ml/extmem.h). dir must exist and stay
 * until ml_data_free; the file in it is unlinked at once. group_rows: rows
 * held in memory between writes (0 = SPILL_GROUP_BYTES of values). */
int ml_data_spill(ml_data_t *d, const char *dir, size_t group_rows, err_t *e);
int ml_data_spilled(const ml_data_t *d);
size_t ml_data_rows(const ml_data_t *d);
size_t ml_data_columns(const ml_data_t *d);
void ml_data_free(ml_data_t *d);

typedef struct ml_callbacks {
    /* fraction 0..1 done, estimated seconds left (< 0 unknown). */
    void (*progress)(void *ctx, double fraction, double estimate_seconds);
    /* one human-readable line (one per candidate, task choice, drops, ...). */
    void (*log)(void *ctx, const char *line);
    /* polled between boosting rounds: nonzero = stop now (kill). */
    int (*should_stop)(void *ctx);
    void *ctx;
} ml_callbacks_t;

/* One printf-formatted line to cb->log (cut at 511 bytes); nothing when
 * cb or its log is NULL. For the engine's modules (train.c, extmem.c). */
void ml_log(const ml_callbacks_t *cb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct ml_model_out {
    char *predict_field;       /* malloc'd */
    char *task;                /* "binary" | "multiclass" | "regression" */
    void *booster;             /* UBJ bytes, malloc'd */
    size_t booster_len;
    json_object *preprocess;   /* encoding + labels (see model.h) */
    json_object *metrics;      /* validation metrics of the final model */
    json_object *candidates;   /* ranked: [{params, metric, value, trees, seconds}] */
} ml_model_out_t;

typedef struct ml_result {
    ml_model_out_t *models;    /* one per predict field, in spec order */
    size_t n_models;
    /* The result document (without model_id, which the caller adds):
     * {"status":"success","stats":[[...]],"field_importance":{...},
     *  "data_story":[...],"task":[...],"dropped_fields":[...],
     *  "reproducible":bool, "stopped":{"reason":"converged"|"time budget"|
 *  "max_models"|"candidate cap","detail":...}, ...}  (per field in "models") */
    json_object *result;
} ml_result_t;

/* Trains per spec: {"predict_fields":[..],"ignore_fields":[..],
 * "duration":10,"extra_attention":bool,"seed":int?,"max_models":int?,
 * "task":"binary|multiclass|regression"?}. deadline is a monotonic time
 * (util_now_monotonic) by which everything must be done. Errors are user
 * errors where possible (400 "training_invalid": "predict field \"x\" is
 * not in the dataset") so that the job's error tells the user what to fix. */
int ml_train(const ml_data_t *d, json_object *spec, double deadline, const ml_callbacks_t *cb,
             ml_result_t *out, err_t *e);

void ml_result_free(ml_result_t *r);

#endif
