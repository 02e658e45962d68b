/*
 * gate.h — a pool-wide cap on requests that hold a worker for long on
 * purpose (server-sent event streams).
 *
 * The prefork pool has a fixed number of workers; a stream keeps one busy
 * for its whole life. The gate is a handful of slots in a shared anonymous
 * mapping, made by the master before it forks (like common/stats.h), so
 * every worker sees the same slots: a stream enters (takes a free slot) or
 * is refused, and leaves when it ends. A slot records the pid that holds
 * it: a worker killed in the middle of a stream leaves its slot to be taken
 * over by the next one that looks (its pid is gone), so a crash never
 * shrinks the cap for good.
 */
#ifndef TRAINYARD_GATE_H
#define TRAINYARD_GATE_H

#include "common/err.h"

#define GATE_MAX_SLOTS 64

/* Maps the shared slots, n of them (0 .. GATE_MAX_SLOTS; 0 refuses every
 * entry). Call once, in the master, before forking; a second call (tests)
 * starts afresh. Without it every gate_enter is refused. 0, or -1 with e. */
int gate_create(int n, err_t *e);

/* Takes a slot for this process: its index (>= 0), or -1 when all are held
 * by live processes (or there is no gate). */
int gate_enter(void);

/* Gives the slot back (the index gate_enter returned; -1 is ignored). */
void gate_leave(int slot);

/* Slots held now by live processes, and the cap. */
int gate_held(void);
int gate_capacity(void);

#endif
