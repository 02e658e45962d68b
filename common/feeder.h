/*
 * feeder.h — hands byte chunks to a consumer running on its own thread.
 *
 * An upload does two expensive things with every chunk: check and type it
 * (ml/csv.h) and store it (COPY into PostgreSQL, with its SHA-256). Done one
 * after the other on one thread they add up; with a feeder the checker runs
 * on a second core while the caller stores. The caller copies each chunk
 * into one of a few fixed slots (a bounded queue: it blocks when the
 * consumer is that far behind), and learns of the consumer's first error at
 * its next put or at finish. Memory: slots x slot_size, allocated once.
 *
 * The consumer must not touch anything the caller uses meanwhile (no
 * request arena, no database handle): it gets the bytes and its own ctx.
 */
#ifndef TRAINYARD_FEEDER_H
#define TRAINYARD_FEEDER_H

#include <stddef.h>

#include "common/err.h"

typedef struct feeder feeder_t;

/* The consumer: 0, or -1 with e filled (it is then given nothing more). */
typedef int (*feeder_consume_fn)(void *ctx, const char *buf, size_t n, err_t *e);

/* Starts the consumer thread. Returns NULL with e filled if it cannot. */
feeder_t *feeder_start(feeder_consume_fn consume, void *ctx, int slots, size_t slot_size,
                       err_t *e);

/* Queues n bytes (split over slots as needed; copied). Returns 0, or -1
 * with e set to the consumer's error once it has failed. */
int feeder_put(feeder_t *f, const char *buf, size_t n, err_t *e);

/* Waits until everything queued is consumed, stops the thread and frees f.
 * Returns 0, or -1 with the consumer's error. NULL is allowed. */
int feeder_finish(feeder_t *f, err_t *e);

#endif
