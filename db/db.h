/*
 * db.h — one libpq connection per process, with named prepared statements.
 *
 * Each entity file (db/jobs.c, db/datasets.c, ...) keeps its SQL together as
 * static const db_stmt_t values. db_query() prepares a statement the first
 * time it is used on the current connection and again after a reconnect
 * (the connection's generation number changes), so callers never think
 * about preparation. Parameters are always passed separately from SQL.
 *
 * Ownership: every json_object or string a db_* function hands back
 * (job specs, results, documents, lists) belongs to the arena passed in and
 * is released with it; callers never json_object_put them.
 *
 * Connections are opened after fork, never before. When PostgreSQL is
 * unreachable, db_ensure() fails with status 503, code "unavailable" and
 * err.retry_after set; the next call tries again, so a worker recovers on
 * its own once the server is back.
 */
#ifndef TRAINYARD_DB_H
#define TRAINYARD_DB_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct db db_t;

typedef struct db_stmt {
    const char *name;  /* unique across the program, e.g. "job_claim" */
    const char *sql;   /* $1..$n placeholders */
    int n_params;
} db_stmt_t;

/* Opens a connection (conninfo: URL or key=value). Returns NULL with e filled
 * (503) when the server cannot be reached; nothing is allocated then. Use
 * db_new + db_ensure for processes that must start while it is down. */
db_t *db_open(const char *conninfo, err_t *e);

/* Creates a handle without connecting (the API workers use this, so that a
 * worker starts even while PostgreSQL is down). Never NULL. */
db_t *db_new(const char *conninfo);

/* The id of the request this connection serves (the API sets it per
 * request; NULL or "" clears it): rows that record who created them, such
 * as jobs.request_id, take it from here. db_request_id is NULL when none. */
void db_set_request_id(db_t *db, const char *id);
const char *db_request_id(const db_t *db);

void db_close(db_t *db);

/* Connects or reconnects if needed. 0, or -1 with e = 503 "unavailable". */
int db_ensure(db_t *db, err_t *e);

/* The raw connection (NULL when disconnected), for LISTEN and COPY. */
PGconn *db_pg(db_t *db);

/* Runs a prepared statement with text parameters (NULL = SQL NULL).
 * On success *out (if not NULL) holds the result, released with the arena
 * (with arena == NULL the caller owns it and calls PQclear); with
 * out == NULL the result is cleared at once. Errors map SQLSTATEs:
 * unique violation -> 409 "conflict", connection loss -> 503, others -> 500
 * with the server's message logged (not sent). */
int db_query(db_t *db, arena_t *arena, const db_stmt_t *stmt, const char *const *params,
             PGresult **out, err_t *e);

/* Same with explicit lengths and formats (1 = binary) for bytea parameters. */
int db_query_bin(db_t *db, arena_t *arena, const db_stmt_t *stmt, const char *const *params,
                 const int *lengths, const int *formats, PGresult **out, err_t *e);

/* The general form of the two above: lengths/formats may be NULL (all
 * text); result_format 1 asks for binary results (bytea without hex). */
int db_query_ex(db_t *db, arena_t *arena, const db_stmt_t *stmt, const char *const *params,
                const int *lengths, const int *formats, int result_format, PGresult **out,
                err_t *e);

/* Runs SQL that is not prepared, with text parameters: only for statements
 * assembled from whitelisted fragments (list filters). Values still travel
 * as parameters, never in the SQL text. */
int db_query_sql(db_t *db, arena_t *arena, const char *sql, int n_params,
                 const char *const *params, PGresult **out, err_t *e);

/* Connection generation: changes on every (re)connect, so that a caller
 * holding session state (LISTEN) knows to set it up again. 0 = never. */
unsigned db_generation(const db_t *db);

/* True between db_begin and db_commit/db_rollback. */
int db_in_transaction(const db_t *db);

/* Plain SQL without parameters (BEGIN, COMMIT, LISTEN, migrations). */
int db_exec(db_t *db, const char *sql, err_t *e);

int db_begin(db_t *db, err_t *e);
int db_commit(db_t *db, err_t *e);
/* Rolls back if a transaction is open; never fails loudly. */
void db_rollback(db_t *db);

/* Waits up to timeout seconds (0: just looks at what has arrived, without
 * blocking) for a NOTIFY on a channel this connection LISTENs to. Returns 1 if one arrived (its channel and payload copied into
 * the given buffers, which may be NULL), 0 on timeout, -1 with e filled. */
int db_wait_notify(db_t *db, double timeout, char *channel, size_t channel_len, char *payload,
                   size_t payload_len, err_t *e);

/* Result helpers: value or NULL for SQL NULL. */
const char *db_get(const PGresult *res, int row, const char *column);
long long db_get_ll(const PGresult *res, int row, const char *column, long long dflt);
double db_get_double(const PGresult *res, int row, const char *column, double dflt);

#endif
