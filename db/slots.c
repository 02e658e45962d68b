/*
 * slots.c — counted slots on advisory locks (slots.h).
 *
 * One round trip per slot tried: cap is small (a few uploads per key), and
 * trying them in order keeps the statement trivially correct, where a
 * single query over generate_series could take more than one lock.
 */
#include "db/slots.h"

#include <stdio.h>
#include <string.h>

static const db_stmt_t stmt_take = {
    "slot_take", "SELECT pg_try_advisory_lock(hashtext($1), $2::int) AS ok", 2};
static const db_stmt_t stmt_give = {
    "slot_give", "SELECT pg_advisory_unlock(hashtext($1), $2::int) AS ok", 2};

int db_slot_take(db_t *db, arena_t *arena, const char *name, int cap, int *slot, err_t *e)
{
    for (int i = 0; i < cap; i++) {
        char num[16];
        snprintf(num, sizeof(num), "%d", i);
        const char *p[2] = {name, num};
        PGresult *res = NULL;
        if (db_query(db, arena, &stmt_take, p, &res, e) != 0)
            return -1;
        const char *ok = db_get(res, 0, "ok");
        if (ok != NULL && strcmp(ok, "t") == 0) {
            *slot = i;
            return 1;
        }
    }
    return 0;
}

void db_slot_give(db_t *db, arena_t *arena, const char *name, int slot)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", slot);
    const char *p[2] = {name, num};
    err_t e;
    err_clear(&e);
    (void)db_query(db, arena, &stmt_give, p, NULL, &e);
}
