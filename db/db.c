/*
 * db.c — the process's PostgreSQL connection (see db.h).
 *
 * One connection per process, opened lazily after fork. Statements are
 * prepared on first use per connection: a small open-addressing set keyed by
 * the db_stmt_t's address remembers which ones the current connection knows,
 * and is emptied whenever the connection is replaced (the generation
 * changes). A lost connection is dropped at once and reconnected by the next
 * db_ensure(), except inside a transaction: then every statement fails with
 * 503 until the caller rolls back, so that the rest of a half-done
 * transaction never runs in autocommit on a fresh connection.
 *
 * Error mapping follows SQLSTATE classes: 23505 -> 409, connection classes
 * (08, 57P0x, 53) and serialization failures -> 503 with Retry-After: 1,
 * data exceptions (22) -> 400, everything else -> 500 with the server's
 * message logged and a generic message returned.
 */
#include "db/db.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#define DB_PREPARED_MIN 128

struct db {
    char *conninfo;                   /* as given; owned */
    PGconn *conn;                     /* NULL while disconnected */
    unsigned generation;              /* bumped on every successful connect */
    int in_tx;                        /* between db_begin and commit/rollback */
    int tx_broken;                    /* connection lost inside the transaction */
    const db_stmt_t **prepared;       /* open-addressing set of statements known */
    size_t prepared_cap;              /* power of two */
    size_t prepared_n;
    char request_id[129];             /* the request being served ("" = none), recorded
                                         on the jobs it creates */
};

void db_set_request_id(db_t *db, const char *id)
{
    snprintf(db->request_id, sizeof(db->request_id), "%s", id != NULL ? id : "");
}

const char *db_request_id(const db_t *db)
{
    return db->request_id[0] != '\0' ? db->request_id : NULL;
}

static int db_unavailable(err_t *e, const char *what)
{
    int rc = err_set(e, 503, "unavailable", "database unavailable: %s", what);
    snprintf(e->retry_after, sizeof(e->retry_after), "1");
    return rc;
}

static void db_prepared_clear(db_t *db)
{
    memset(db->prepared, 0, db->prepared_cap * sizeof(*db->prepared));
    db->prepared_n = 0;
}

static size_t db_prepared_slot(const db_t *db, const db_stmt_t *stmt)
{
    uintptr_t h = (uintptr_t)stmt;
    h ^= h >> 17;
    h *= (uintptr_t)0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 7) & (db->prepared_cap - 1);
    while (db->prepared[i] != NULL && db->prepared[i] != stmt)
        i = (i + 1) & (db->prepared_cap - 1);
    return i;
}

static void db_prepared_add(db_t *db, const db_stmt_t *stmt)
{
    if ((db->prepared_n + 1) * 2 > db->prepared_cap) {
        const db_stmt_t **old = db->prepared;
        size_t old_cap = db->prepared_cap;
        db->prepared_cap *= 2;
        db->prepared = calloc(db->prepared_cap, sizeof(*db->prepared));
        if (db->prepared == NULL)
            abort();
        for (size_t i = 0; i < old_cap; i++)
            if (old[i] != NULL)
                db->prepared[db_prepared_slot(db, old[i])] = old[i];
        free(old);
    }
    size_t i = db_prepared_slot(db, stmt);
    if (db->prepared[i] == NULL) {
        db->prepared[i] = stmt;
        db->prepared_n++;
    }
}

db_t *db_new(const char *conninfo)
{
    db_t *db = calloc(1, sizeof(*db));
    if (db == NULL)
        abort();
    db->conninfo = strdup(conninfo ? conninfo : "");
    db->prepared_cap = DB_PREPARED_MIN;
    db->prepared = calloc(db->prepared_cap, sizeof(*db->prepared));
    if (db->conninfo == NULL || db->prepared == NULL)
        abort();
    return db;
}

db_t *db_open(const char *conninfo, err_t *e)
{
    db_t *db = db_new(conninfo);
    if (db_ensure(db, e) != 0) {
        db_close(db);
        return NULL;
    }
    return db;
}

void db_close(db_t *db)
{
    if (db == NULL)
        return;
    if (db->conn != NULL)
        PQfinish(db->conn);
    free(db->prepared);
    free(db->conninfo);
    free(db);
}

/* Forgets a dead connection; the next db_ensure() opens a new one. */
static void db_drop(db_t *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
    db_prepared_clear(db);
    if (db->in_tx)
        db->tx_broken = 1;
}

int db_ensure(db_t *db, err_t *e)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    if (db->in_tx) {
        db->tx_broken = 1;
        return db_unavailable(e, "connection lost inside a transaction");
    }
    if (db->conn != NULL)
        db_drop(db);
    PGconn *c = PQconnectdb(db->conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        const char *msg = c ? PQerrorMessage(c) : "out of memory";
        log_warn("db: could not connect: %.*s", (int)strcspn(msg, "\n"), msg);
        if (c != NULL)
            PQfinish(c);
        return db_unavailable(e, "could not connect");
    }
    db->conn = c;
    db->generation++;
    db_prepared_clear(db);
    return 0;
}

PGconn *db_pg(db_t *db)
{
    return db->conn;
}

unsigned db_generation(const db_t *db)
{
    return db->generation;
}

int db_in_transaction(const db_t *db)
{
    return db->in_tx;
}

/* Maps a failed result (or a NULL one) to e; drops the connection if it is
 * gone. Always returns -1. */
static int db_fail(db_t *db, const PGresult *res, const char *what, err_t *e)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
    if (msg == NULL || *msg == '\0')
        msg = db->conn ? PQerrorMessage(db->conn) : "no connection";
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        log_warn("db: connection lost during %s: %.*s", what, (int)strcspn(msg, "\n"), msg);
        db_drop(db);
        return db_unavailable(e, "connection lost");
    }
    if (state == NULL)
        state = "";
    if (strcmp(state, "23505") == 0) {
        const char *detail = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
        return err_set(e, 409, "conflict", "already exists%s%s", detail ? ": " : "",
                       detail ? detail : "");
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
        strncmp(state, "53", 2) == 0 || strcmp(state, "40001") == 0 ||
        strcmp(state, "40P01") == 0) {
        log_warn("db: %s: %s: %.*s", what, state, (int)strcspn(msg, "\n"), msg);
        return db_unavailable(e, "try again");
    }
    if (strncmp(state, "22", 2) == 0) {
        const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        return err_set(e, 400, "value_error", "invalid value: %s", primary ? primary : "bad input");
    }
    log_error("db: %s: %s: %.*s", what, state, (int)strcspn(msg, "\n"), msg);
    return err_set(e, 500, "internal", "database error");
}

static void db_result_clear(void *p)
{
    PQclear(p);
}

static int db_take_result(db_t *db, arena_t *arena, PGresult *res, const char *what,
                          PGresult **out, err_t *e)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        db_fail(db, res, what, e);
        PQclear(res);
        return -1;
    }
    if (out == NULL) {
        PQclear(res);
        return 0;
    }
    /* Without an arena the caller owns the result (PQclear). */
    if (arena != NULL)
        arena_defer(arena, db_result_clear, res);
    *out = res;
    return 0;
}

static int db_usable(db_t *db, err_t *e)
{
    if (db->in_tx && db->tx_broken)
        return db_unavailable(e, "connection lost inside a transaction");
    return db_ensure(db, e);
}

int db_query_ex(db_t *db, arena_t *arena, const db_stmt_t *stmt, const char *const *params,
                const int *lengths, const int *formats, int result_format, PGresult **out,
                err_t *e)
{
    if (db_usable(db, e) != 0)
        return -1;
    size_t slot = db_prepared_slot(db, stmt);
    if (db->prepared[slot] != stmt) {
        PGresult *p = PQprepare(db->conn, stmt->name, stmt->sql, stmt->n_params, NULL);
        if (p == NULL || PQresultStatus(p) != PGRES_COMMAND_OK) {
            db_fail(db, p, stmt->name, e);
            PQclear(p);
            return -1;
        }
        PQclear(p);
        db_prepared_add(db, stmt);
    }
    PGresult *res = PQexecPrepared(db->conn, stmt->name, stmt->n_params, params, lengths,
                                   formats, result_format);
    return db_take_result(db, arena, res, stmt->name, out, e);
}

int db_query(db_t *db, arena_t *arena, const db_stmt_t *stmt, const char *const *params,
             PGresult **out, err_t *e)
{
    return db_query_ex(db, arena, stmt, params, NULL, NULL, 0, out, e);
}

int db_query_bin(db_t *db, arena_t *arena, const db_stmt_t *stmt, const char *const *params,
                 const int *lengths, const int *formats, PGresult **out, err_t *e)
{
    return db_query_ex(db, arena, stmt, params, lengths, formats, 0, out, e);
}

int db_query_sql(db_t *db, arena_t *arena, const char *sql, int n_params,
                 const char *const *params, PGresult **out, err_t *e)
{
    if (db_usable(db, e) != 0)
        return -1;
    PGresult *res = PQexecParams(db->conn, sql, n_params, NULL, params, NULL, NULL, 0);
    return db_take_result(db, arena, res, "dynamic query", out, e);
}

int db_exec(db_t *db, const char *sql, err_t *e)
{
    if (db_usable(db, e) != 0)
        return -1;
    PGresult *res = PQexec(db->conn, sql);
    return db_take_result(db, NULL, res, "exec", NULL, e);
}

int db_begin(db_t *db, err_t *e)
{
    if (db->in_tx)
        return err_set(e, 500, "internal", "transaction already open");
    if (db_exec(db, "BEGIN", e) != 0)
        return -1;
    db->in_tx = 1;
    db->tx_broken = 0;
    return 0;
}

int db_commit(db_t *db, err_t *e)
{
    if (!db->in_tx)
        return err_set(e, 500, "internal", "no transaction open");
    if (db->tx_broken) {
        db->in_tx = 0;
        db->tx_broken = 0;
        return db_unavailable(e, "connection lost inside a transaction");
    }
    int rc = db_exec(db, "COMMIT", e);
    db->in_tx = 0;
    return rc;
}

void db_rollback(db_t *db)
{
    int was = db->in_tx && !db->tx_broken;
    db->in_tx = 0;
    db->tx_broken = 0;
    if (!was || db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
        return;
    /* ROLLBACK outside a transaction only warns; a COPY in progress makes
     * it fail, in which case the connection is not trustworthy: drop it. */
    PGresult *res = PQexec(db->conn, "ROLLBACK");
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        db_drop(db);
    PQclear(res);
}

static void db_copy_out(char *dst, size_t len, const char *src)
{
    if (dst == NULL || len == 0)
        return;
    snprintf(dst, len, "%s", src ? src : "");
}

int db_wait_notify(db_t *db, double timeout, char *channel, size_t channel_len, char *payload,
                   size_t payload_len, err_t *e)
{
    if (db_ensure(db, e) != 0)
        return -1;
    if (timeout <= 0 && PQconsumeInput(db->conn) == 0) {
        /* A poll without waiting still reads what has arrived. */
        db_drop(db);
        return db_unavailable(e, "connection lost");
    }
    double deadline = util_now_monotonic() + timeout;
    for (;;) {
        PGnotify *n = PQnotifies(db->conn);
        if (n != NULL) {
            db_copy_out(channel, channel_len, n->relname);
            db_copy_out(payload, payload_len, n->extra);
            PQfreemem(n);
            return 1;
        }
        double left = deadline - util_now_monotonic();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
        int ms = (int)(left * 1000.0) + 1;
        int rc = poll(&pfd, 1, ms);
        if (rc < 0 && errno != EINTR)
            return err_set(e, 500, "internal", "poll: %s", strerror(errno));
        if (rc < 0)
            return 0; /* a signal: let the caller look at its flags */
        if (rc > 0 && PQconsumeInput(db->conn) == 0) {
            db_drop(db);
            return db_unavailable(e, "connection lost");
        }
    }
}

const char *db_get(const PGresult *res, int row, const char *column)
{
    int c = PQfnumber(res, column);
    if (c < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, c))
        return NULL;
    return PQgetvalue(res, row, c);
}

long long db_get_ll(const PGresult *res, int row, const char *column, long long dflt)
{
    const char *v = db_get(res, row, column);
    if (v == NULL)
        return dflt;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    return (errno != 0 || end == v) ? dflt : x;
}

double db_get_double(const PGresult *res, int row, const char *column, double dflt)
{
    const char *v = db_get(res, row, column);
    if (v == NULL)
        return dflt;
    char *end;
    double x = strtod(v, &end);
    return end == v ? dflt : x;
}
