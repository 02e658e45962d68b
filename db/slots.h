/*
 * slots.h — counted slots across every API worker and host: "at most N
 * uploads in flight per key", without a table.
 *
 * A slot is a session-level PostgreSQL advisory lock on the worker's own
 * connection, keyed by (hashtext(name), slot number). Whoever holds it is
 * using the slot; a worker that dies or loses its connection gives its
 * slots back with it, so a crash never leaks one.
 */
#ifndef TRAINYARD_DB_SLOTS_H
#define TRAINYARD_DB_SLOTS_H

#include "db/db.h"

/* Takes a free slot among cap slots named name. Returns 1 with *slot set,
 * 0 when all cap are taken, -1 with e filled (database trouble). */
int db_slot_take(db_t *db, arena_t *arena, const char *name, int cap, int *slot, err_t *e);

/* Gives the slot back (errors are ignored: a lost connection freed it). */
void db_slot_give(db_t *db, arena_t *arena, const char *name, int slot);

#endif
