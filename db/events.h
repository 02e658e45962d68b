/*
 * events.h — what changed in a workspace's jobs, for the live event stream
 * (GET /api/v1/events, handlers/events.c).
 *
 * A change is read, not announced: the stream asks once a second for the
 * jobs whose updated_at moved past its watermark, on the index
 * jobs (workspace_id, updated_at) of sql/0152. Rows come oldest change
 * first so that a watermark taken from the last row never skips one.
 */
#ifndef TRAINYARD_DB_EVENTS_H
#define TRAINYARD_DB_EVENTS_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/util.h"
#include "db/db.h"

/* One job as the stream shows it. Strings and JSON are arena-owned. */
typedef struct job_event {
    char id[UUID_STR_LEN + 1];
    const char *dialect;
    const char *state;
    double progress;            /* 0..1 */
    double estimate_seconds;    /* the trainer's estimate of what remains; < 0 unknown */
    const char *error;          /* NULL when none */
    const char *dataset_id;     /* NULL when none */
    json_object *predict_fields; /* array, or NULL */
    double created_at, started_at, finished_at; /* epoch seconds; 0 = not yet */
    double updated_at;          /* epoch seconds, microsecond precision */
} job_event_t;

/* The workspace's jobs (only job_id's when it is not NULL) changed after
 * `since` (epoch seconds), oldest change first, at most limit. With
 * since < 0: the first look of a stream, which gets every job not yet
 * final and those changed in the last 30 seconds (with job_id: that job,
 * whatever its state). *now is the database's clock. */
int db_job_events(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                  double since, int limit, job_event_t **out, size_t *n, double *now,
                  err_t *e);

#endif
