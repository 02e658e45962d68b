/*
 * child.h — one training job, run inside a forked child of the trainer.
 *
 * The child owns everything that must not live in the long-running parent:
 * its own PostgreSQL connection, the dataset in memory, XGBoost (libgomp is
 * not fork-safe, so it is only ever initialised here). It reports progress,
 * log lines and its error on proto_fd (trainer/proto.h) and, on success,
 * stores the models and finishes the job itself, in one transaction guarded
 * by the lease owner. Failures are finished by the parent, which also sees
 * crashes the child cannot report.
 */
#ifndef TRAINYARD_TRAINER_CHILD_H
#define TRAINYARD_TRAINER_CHILD_H

#include "db/jobs.h"

/* Exit statuses of the child. */
#define CHILD_EXIT_DONE 0      /* succeeded and committed */
#define CHILD_EXIT_FAILED 1    /* failed; the reason was sent as an "E" line */
#define CHILD_EXIT_LOST 3      /* the lease was lost: nothing written */
#define CHILD_EXIT_RETRY 4     /* PostgreSQL was unreachable: hand the job back */

typedef struct child_args {
    const char *conninfo;      /* database URL */
    const char *trainer_id;    /* the lease owner */
    const job_t *job;          /* as claimed (its strings stay valid: fork copied them) */
    int proto_fd;              /* write end of the protocol pipe */
    double store_margin;       /* seconds kept back from the budget for storing */
} child_args_t;

/* Runs the job; returns the exit status for _exit(). Installs its own
 * SIGTERM handler (stop between boosting rounds). */
int trainer_child_run(const child_args_t *a);

#endif
