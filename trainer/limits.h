/*
 * limits.h — what a training worker process may use.
 *
 * Every job is trained by a worker exec'd afresh from the trainer's binary
 * (trainer/worker.h): it holds no database URL or connection, gets its
 * input and hands back its result over descriptors its parent opened, runs
 * as an unprivileged user when the trainer is root, and under these limits.
 */
#ifndef TRAINYARD_TRAINER_LIMITS_H
#define TRAINYARD_TRAINER_LIMITS_H

#include <stddef.h>

typedef struct child_limits {
    const char *user;      /* the worker's user when the trainer runs as root ("nobody") */
    size_t memory;         /* RLIMIT_AS, bytes (address space: heap, maps, thread stacks) */
    double cpu_seconds;    /* RLIMIT_CPU over all threads; 0 = wall limit x online cores */
    size_t file_size;      /* RLIMIT_FSIZE, and the cap on the result handed back */
    double wall_factor;    /* wall-clock limit = duration x wall_factor + wall_grace, */
    double wall_grace;     /*   counted from the worker's start: ingest, matrices, training */
    int test_mode;         /* TRAINYARD_TEST_MODE: 1 = hand a spec's "test_mode" to the
                              worker (sleep, crash, exit, memory bomb on demand); only
                              throwaway test stacks set it, otherwise the field is ignored */
    /* Data larger than memory (ml/extmem.h): a dataset whose float matrix
     * (rows x fields x 4 bytes) exceeds inmem_max, or when that is 0 what
     * `memory` leaves for it ((memory - 256 MB) / 3: the in-memory path's
     * peak is 3x the matrix), is trained from page files in a directory of
     * its own under scratch (removed after the job), with the file-size
     * limit raised to scratch_size. */
    size_t inmem_max;
    const char *scratch;   /* NULL or "": $TMPDIR, else /tmp */
    size_t scratch_size;
} child_limits_t;

/* The defaults (the settings table's). */
extern const child_limits_t child_limits_default;

#endif
