/*
 * child.h — one training job, run inside a forked child of the trainer.
 *
 * The child (the job's runner) owns what must not live in the long-running
 * parent: its own PostgreSQL connection and the job's database work. It
 * trains nothing itself: it starts a worker (trainer/worker.h) with no
 * database access, unprivileged and limited (trainer/limits.h), streams it
 * the dataset and reads back its models. Progress and log lines reach
 * proto_fd (trainer/proto.h) from both; on success the runner stores the
 * models and finishes the job itself, in one transaction guarded by the
 * lease owner. Failures are finished by the parent, which also sees
 * crashes the child cannot report (a worker's crash is passed up as the
 * runner's own).
 */
#ifndef TRAINYARD_TRAINER_CHILD_H
#define TRAINYARD_TRAINER_CHILD_H

#include "db/jobs.h"
#include "trainer/limits.h"
#include "common/runner.h"

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
    const child_limits_t *limits; /* the worker's; NULL = child_limits_default */
    const runner_cfg_t *runner;   /* the sandbox runner's; NULL = runner_cfg_default */
} child_args_t;

/* A spec's "duration" in seconds (10 when missing or not positive). */
double trainer_job_duration(json_object *spec);

/* When a job's training must end (wall-clock time): its duration counted
 * from the job's start less store_margin; a retry (started long ago) gets a
 * fresh budget. */
double trainer_budget_end(double started_at, double store_margin, json_object *spec);

/* Runs the job; returns the exit status for _exit(). Installs its own
 * SIGTERM handler (stop between boosting rounds). */
int trainer_child_run(const child_args_t *a);

#endif
