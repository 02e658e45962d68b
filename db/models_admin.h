/*
 * models_admin.h — listing and deleting a workspace's models (Akkio's
 * legacy GET/DELETE /v1/models).
 */
#ifndef TRAINYARD_DB_MODELS_ADMIN_H
#define TRAINYARD_DB_MODELS_ADMIN_H

#include <stddef.h>

#include "common/util.h"
#include "db/db.h"

typedef struct model_item {
    char id[UUID_STR_LEN + 1];
    const char *job_id;
    const char *dataset_id;     /* may be NULL */
    const char *dataset_name;   /* may be NULL (dataset gone) */
    const char *predict_field;
    const char *task;
    double created_at;
} model_item_t;

/* The workspace's models, newest first, at most limit. Arena-owned. */
int db_model_list_workspace(db_t *db, arena_t *arena, long long workspace_id, int limit,
                            model_item_t **out, size_t *n, err_t *e);

/* Deletes the model and its booster artifact, and takes the model's job out
 * of Akkio's "identical request" matching (its dedupe key), so the same
 * request trains again instead of answering a model that is gone. One
 * transaction. 404 when unknown or another workspace's; 409 "model_pinned"
 * when pinned, 409 "model_in_use" (naming the job) while an unfinished job
 * produced it or names it in its spec. */
int db_model_delete(db_t *db, arena_t *arena, long long workspace_id, const char *id, err_t *e);

#endif
