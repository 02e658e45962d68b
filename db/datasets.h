/*
 * datasets.h — uploaded tabular datasets (metadata; bytes live in artifacts).
 */
#ifndef TRAINYARD_DB_DATASETS_H
#define TRAINYARD_DB_DATASETS_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/util.h"
#include "db/db.h"

typedef struct dataset_rec {
    char id[UUID_STR_LEN + 1];
    long long workspace_id;
    const char *name;
    long long rows;
    json_object *fields;       /* [{"name","type","missing"}] in column order */
    char artifact_id[UUID_STR_LEN + 1];
    unsigned long long size;   /* bytes of CSV */
    char sha256[SHA256_HEX_LEN + 1];
    const char *delimiter;     /* "," ";" "\t" "|" as sniffed (ml/csv.h); NULL inserts "," */
    double created_at;
} dataset_rec_t;

/* Inserts (id generated into rec->id). Joins the caller's transaction. */
int db_dataset_insert(db_t *db, arena_t *arena, dataset_rec_t *rec, err_t *e);

/* 404 "not_found" if missing, deleted or another workspace's. */
int db_dataset_get(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                   dataset_rec_t *out, err_t *e);

/* Newest first. */
int db_dataset_list(db_t *db, arena_t *arena, long long workspace_id, int limit, int offset,
                    dataset_rec_t **out, size_t *n, long long *total, err_t *e);

/* Deletes the dataset and its artifact. 404 if unknown; 409 "conflict" while
 * a queued/building/running job uses it. */
int db_dataset_delete(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                      err_t *e);

#endif
