/*
 * model_cache.h — each API worker's bounded cache of loaded models.
 *
 * Loading a model means two database reads and building an XGBoost booster,
 * far more than a prediction costs, so workers keep recently used models,
 * evicting the least recently used beyond a byte budget. Entries are keyed
 * by model id; a workspace check happens before the cache is consulted
 * (db_model_get), so the cache never serves another workspace's model.
 * Boosters are created lazily in the worker, never in the prefork master.
 */
#ifndef TRAINYARD_MODEL_CACHE_H
#define TRAINYARD_MODEL_CACHE_H

#include <stddef.h>

#include "common/err.h"
#include "db/db.h"
#include "db/models.h"
#include "ml/model.h"

typedef struct model_cache model_cache_t;

model_cache_t *model_cache_new(size_t max_bytes);
void model_cache_free(model_cache_t *c);

/* Returns the loaded model for rec, loading it (booster artifact +
 * preprocess) on a miss. The model stays owned by the cache and valid until
 * the next call. */
ml_model_t *model_cache_get(model_cache_t *c, db_t *db, arena_t *arena, const model_rec_t *rec,
                            err_t *e);

/* Models currently held and their approximate bytes (for /metrics). */
size_t model_cache_count(const model_cache_t *c);
size_t model_cache_bytes(const model_cache_t *c);

#endif
