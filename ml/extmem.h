/*
 * extmem.h — training on a table larger than the process's memory.
 *
 * The dataset was spilled while it streamed in (ml_data_spill: its typed
 * columns live in a page file, ml/spill.h). For each predict field the task
 * is detected in one pass over the target's pages; the rows are then
 * encoded a page group at a time and handed to XGBoost's external-memory
 * DMatrix (a callback iterator and a cache_prefix on the same local disk):
 * XGBoost sketches quantiles from the batches and keeps its own pages on
 * disk, so memory holds per-row state (labels, gradients, predictions)
 * rather than the float matrix.
 *
 * Validation is a holdout drawn by a hash of the row number (so every pass
 * agrees on it), bounded to EXTMEM_VALID_CELLS cells and kept in memory:
 * early stopping, the stats, the charts and the story read it as train.c's
 * in-memory holdout. Categories are split as their codes (XGBoost 1.7's
 * external memory mistrains categorical features, dmlc/xgboost#10036).
 * The search is smaller than ml/search.c's. First the blocks: the
 * training rows cut into blocks that fit in memory, one booster boosting
 * on each block's QuantileDMatrix in turn (every tree on fresh rows, every
 * row used, a round at in-memory speed). Then, with the time left, a few
 * fixed candidates on XGBoost's page cache (depthwise hist: every round
 * reads the pages 2 x depth + 1 times, ~10x an in-memory round with
 * 1.7.4, which is why the blocks come first and why a table of many
 * blocks leaves them no time). Each early-stops on the holdout; every
 * step is guessed from the last before it starts, so the budget holds;
 * no linear model, no k-fold, no refit, no ensemble.
 */
#ifndef TRAINYARD_ML_EXTMEM_H
#define TRAINYARD_ML_EXTMEM_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/data.h"
#include "ml/encode.h"
#include "ml/search.h"
#include "ml/task.h"
#include "ml/train.h"

#define EXTMEM_VALID_CELLS 4000000.0 /* holdout cells kept in memory (16 MB) */

typedef struct extmem_in {
    const ml_data_t *d;        /* spilled (ml_data_spilled) */
    size_t target;             /* the predict field's column */
    const task_info_t *t;      /* from extmem_task_detect */
    const enc_plan_t *plan;
    double end;                /* monotonic time by which the search is done */
    double reserve;            /* seconds the caller needs after it */
    double job_start, job_end; /* for progress fractions */
    unsigned long long seed;
    int max_models;            /* 0 = as many candidates as time allows */
    const ml_callbacks_t *cb;
    const char *field;         /* for log lines */
    size_t field_index;        /* names this field's cache files */
    double block_bytes;        /* memory a block of rows may take; 0: from the
                                * address-space cap (see extmem.c) */
} extmem_in_t;

/* task_detect (task.h) over a spilled column: the same rules, classes and
 * errors; t->rows and t->y stay NULL (labels are read with the pages), t->n
 * counts the rows with a value. */
int extmem_task_detect(const ml_data_t *d, size_t col, const char *override, task_info_t *t,
                       err_t *e);

/* The search. Fills out as search_run does, the validation rows being
 * [0, *nv): *F (nv x plan->n field rows) and *y (labels) are malloc'd for
 * the caller. *info: {"rows","training_rows","validation_rows","page_bytes",
 * "cache_bytes","batches","seconds_to_pages"} for the result. XGBoost's
 * cache files are removed before it returns. */
int extmem_search(const extmem_in_t *in, search_out_t *out, float **F, float **y, size_t *nv,
                  json_object **info, err_t *e);

#endif
