/*
 * events.c — a workspace's job changes, read for the event stream (see
 * events.h).
 *
 * Two statements: the first look (live jobs and recent changes: what a page
 * that has just loaded its list may have missed) and the follow-up (changes
 * after a watermark). Both stay within one workspace by their first
 * parameter; the job id, when given, only narrows that.
 */
#include "db/events.h"

#include <stdio.h>
#include <string.h>

#define EVENTS_COLUMNS                                                                        \
    "SELECT id, dialect, state, progress, estimate_seconds, error, dataset_id, "              \
    "spec->'predict_fields' AS predict_fields, "                                              \
    "extract(epoch FROM created_at)::float8 AS created_at, "                                  \
    "extract(epoch FROM started_at)::float8 AS started_at, "                                  \
    "extract(epoch FROM finished_at)::float8 AS finished_at, "                                \
    "extract(epoch FROM updated_at)::float8 AS updated_at, "                                  \
    "extract(epoch FROM clock_timestamp())::float8 AS now FROM jobs "

static const db_stmt_t stmt_events_first = {
    "events_first",
    EVENTS_COLUMNS
    "WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id = $2::uuid) AND "
    "($2::uuid IS NOT NULL OR state IN ('queued', 'building', 'running') OR "
    " updated_at > now() - interval '30 seconds') "
    "ORDER BY updated_at, id LIMIT $3",
    3};
static const db_stmt_t stmt_events_since = {
    "events_since",
    EVENTS_COLUMNS
    "WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id = $2::uuid) AND "
    "updated_at > to_timestamp($4::float8) "
    "ORDER BY updated_at, id LIMIT $3",
    4};

static const db_stmt_t stmt_events_clock = {
    "events_clock", "SELECT extract(epoch FROM clock_timestamp())::float8 AS now", 0};

static void events_json_put(void *p)
{
    json_object_put(p);
}

int db_job_events(db_t *db, arena_t *arena, long long workspace_id, const char *job_id,
                  double since, int limit, job_event_t **out, size_t *n, double *now, err_t *e)
{
    char ws[24], lim[16], after[40];
    snprintf(ws, sizeof(ws), "%lld", workspace_id);
    snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 1);
    snprintf(after, sizeof(after), "%.6f", since);
    const char *p[4] = {ws, job_id, lim, after};
    PGresult *res;
    if (db_query(db, arena, since < 0 ? &stmt_events_first : &stmt_events_since, p, &res, e) != 0)
        return -1;
    int rows = PQntuples(res);
    job_event_t *ev = arena_calloc(arena, rows > 0 ? (size_t)rows : 1, sizeof(*ev));
    for (int i = 0; i < rows; i++) {
        job_event_t *j = &ev[i];
        snprintf(j->id, sizeof(j->id), "%s", db_get(res, i, "id"));
        j->dialect = arena_strdup(arena, db_get(res, i, "dialect"));
        j->state = arena_strdup(arena, db_get(res, i, "state"));
        j->progress = db_get_double(res, i, "progress", 0);
        j->estimate_seconds = db_get_double(res, i, "estimate_seconds", -1);
        const char *err = db_get(res, i, "error");
        j->error = err ? arena_strdup(arena, err) : NULL;
        const char *ds = db_get(res, i, "dataset_id");
        j->dataset_id = ds ? arena_strdup(arena, ds) : NULL;
        const char *pf = db_get(res, i, "predict_fields");
        j->predict_fields = pf ? json_tokener_parse(pf) : NULL;
        if (j->predict_fields != NULL)
            arena_defer(arena, events_json_put, j->predict_fields);
        j->created_at = db_get_double(res, i, "created_at", 0);
        j->started_at = db_get_double(res, i, "started_at", 0);
        j->finished_at = db_get_double(res, i, "finished_at", 0);
        j->updated_at = db_get_double(res, i, "updated_at", 0);
    }
    if (rows == 0) {
        /* Nothing changed: the clock still gives the next watermark. */
        if (db_query(db, arena, &stmt_events_clock, NULL, &res, e) != 0)
            return -1;
    }
    *now = db_get_double(res, 0, "now", 0);
    *out = ev;
    *n = (size_t)rows;
    return 0;
}
