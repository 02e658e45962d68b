/*
 * datasets_append.h — the statements behind Akkio's legacy dataset calls
 * (handlers/akkio_v1.c): lock a dataset for a change, point it at a new
 * artifact, retype its fields, and drop an artifact nothing needs.
 *
 * A dataset grows by replacement: its rows so far plus the new ones become
 * a new artifact, and the dataset row is pointed at it in the same
 * transaction. A job that already read the old artifact id keeps reading
 * the old bytes; the old artifact is dropped only when no job that has not
 * finished uses the dataset (db_dataset_lock's busy) or was submitted on
 * it (sql/0033); otherwise the collector reclaims it once they are over.
 */
#ifndef TRAINYARD_DB_DATASETS_APPEND_H
#define TRAINYARD_DB_DATASETS_APPEND_H

#include <json-c/json.h>

#include "db/datasets.h"

/* Inside the caller's transaction: loads the workspace's dataset (with the
 * delimiter its file is written with) and locks
 * its row until commit (FOR UPDATE), so two appends never interleave.
 * *busy = 1 when a queued, building or running job uses it. 404 if unknown. */
int db_dataset_lock(db_t *db, arena_t *arena, long long workspace_id, const char *id,
                    dataset_rec_t *out, int *busy, err_t *e);

/* Points the dataset at new bytes: artifact, rows, fields, size, sha256 of
 * rec (its id names the row). Joins the caller's transaction. */
int db_dataset_replace_data(db_t *db, arena_t *arena, const dataset_rec_t *rec, err_t *e);

/* Replaces the fields document only. Joins the caller's transaction. */
int db_dataset_set_fields(db_t *db, arena_t *arena, const char *id, json_object *fields,
                          err_t *e);

/* The types a client set on a dataset's fields (marked "declared" in the
 * fields document by Akkio v1's `fields` call) as {name: type}, what the
 * trainer passes to training as the spec's field_types; NULL when none
 * was set. Caller puts it. */
json_object *db_dataset_declared_types(json_object *fields);

/* The dataset artifact job_id was submitted on (sql/0033), into out
 * (UUID_STR_LEN + 1 bytes); "" when the job has none recorded (jobs from
 * before the pin, bundle jobs). */
int db_job_dataset_artifact(db_t *db, arena_t *arena, const char *job_id, char *out, err_t *e);

/* Deletes a dataset's former artifact (its chunks go with it), unless an
 * unfinished job was submitted on it: then the collector reclaims it once
 * that job is over (db/retention.c). */
int db_artifact_drop(db_t *db, arena_t *arena, const char *artifact_id, err_t *e);

#endif
