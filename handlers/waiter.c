/*
 * waiter.c — LISTEN trainyard_job_done for the parker (waiter.h).
 *
 * One lazily connected database handle in the parker process. Whenever the
 * connection is new (first use, or after PostgreSQL came back), the LISTEN
 * is issued again and every parked request is woken: notifications sent
 * while nobody listened are lost, and a woken handler simply looks at the
 * job again (and parks once more only if it still has time: see req_park).
 */
#include "handlers/waiter.h"

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "db/db.h"
#include "db/jobs.h"
#include "handlers/app.h"

typedef struct app_waiter {
    db_t *db;
    unsigned generation; /* db generation the LISTEN was issued on */
} app_waiter_t;

void *app_waiter_init(void *config)
{
    const app_config_t *cfg = config;
    app_waiter_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->db = db_new(cfg->database_url);
    if (w->db == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

int app_waiter_fd(void *waiter)
{
    app_waiter_t *w = waiter;
    PGconn *c = db_pg(w->db);
    return c != NULL && w->generation != 0 ? PQsocket(c) : -1;
}

void app_waiter_poll(void *waiter, void (*wake)(void *ctx, const char *key), void *ctx)
{
    app_waiter_t *w = waiter;
    err_t e;
    err_clear(&e);
    if (w->generation == 0 || w->generation != db_generation(w->db)) {
        if (db_ensure(w->db, &e) != 0 || db_exec(w->db, "LISTEN " JOB_DONE_CHANNEL, &e) != 0) {
            w->generation = 0;
            return;
        }
        w->generation = db_generation(w->db);
        wake(ctx, NULL);
        return;
    }
    char payload[128], key[160];
    int rc;
    while ((rc = db_wait_notify(w->db, 0, NULL, 0, payload, sizeof(payload), &e)) == 1) {
        snprintf(key, sizeof(key), "job:%s", payload);
        wake(ctx, key);
    }
    if (rc < 0)
        w->generation = 0; /* reconnect and listen again next time */
}
