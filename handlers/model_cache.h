/*
 * model_cache.h — each API worker's bounded cache of loaded models.
 *
 * Loading a model means two database reads and building an XGBoost booster,
 * far more than a prediction costs, so workers keep recently used models,
 * evicting the least recently used beyond a byte budget. Entries are keyed
 * by model id and remember their workspace: a model never changes once
 * trained, so a hit needs no database work at all, and a model of another
 * workspace is a miss that goes to the database, which answers 404.
 * A model can be deleted, though, by any worker, the collector or psql:
 * the deletion NOTIFYs MODEL_CACHE_CHANNEL (sql/0032) and each worker,
 * which LISTENs there, forgets that model before serving its next request
 * (handlers/app.c), or everything after a reconnect, when notifications
 * may have been missed.
 * Boosters are created lazily in the worker, never in the prefork master.
 */
#ifndef TRAINYARD_MODEL_CACHE_H
#define TRAINYARD_MODEL_CACHE_H

#include <stddef.h>

#include "common/err.h"
#include "db/db.h"
#include "db/models.h"
#include "ml/model.h"

#define MODEL_CACHE_CHANNEL "trainyard_models"

typedef struct model_cache model_cache_t;

model_cache_t *model_cache_new(size_t max_bytes);
void model_cache_free(model_cache_t *c);

/* Returns the loaded model model_id of the workspace, loading it (model
 * row, booster artifact, preprocess) on a miss; 404 "not_found" if there is
 * no such model in the workspace. The model stays owned by the cache and
 * valid until the next call. */
ml_model_t *model_cache_get(model_cache_t *c, db_t *db, arena_t *arena, long long workspace_id,
                            const char *model_id, err_t *e);

/* Drops model_id (any workspace) if held; 1 if it was. */
int model_cache_forget(model_cache_t *c, const char *model_id);
/* Drops every model. */
void model_cache_clear(model_cache_t *c);

/* Models currently held and their approximate bytes (for /metrics). */
size_t model_cache_count(const model_cache_t *c);
size_t model_cache_bytes(const model_cache_t *c);

#endif
