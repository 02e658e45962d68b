/*
 * trainer.h — the trainer daemon's supervisor loop.
 *
 * One process claims jobs while it has free slots, forks one child per job
 * (trainer/child.h), renews each job's lease with a heartbeat carrying the
 * child's progress, turns kill requests into SIGTERM then SIGKILL, stores
 * the children's output as job log lines, finishes jobs whose child failed,
 * crashed or was killed, and requeues other trainers' expired leases (the
 * reaper runs in every trainer). It waits in poll() on the PostgreSQL socket
 * (LISTEN trainyard_jobs / trainyard_kill), the children's pipes and a
 * self-pipe for signals; polling the queue is only a fallback.
 *
 * SIGTERM/SIGINT: stop claiming, let running jobs finish within
 * shutdown_grace, then kill the children and release their jobs; return 0.
 */
#ifndef TRAINYARD_TRAINER_H
#define TRAINYARD_TRAINER_H

#include "trainer/housekeep.h"
#include "trainer/limits.h"
#include "common/runner.h"

typedef struct trainer_config {
    const char *database_url;
    int slots;                 /* concurrent jobs */
    double lease;              /* seconds a claim stays valid without heartbeat */
    double heartbeat;          /* seconds between heartbeats (<= 1) */
    double kill_grace;         /* SIGTERM -> SIGKILL */
    double shutdown_grace;     /* on SIGTERM: wait this long for running jobs */
    double reap_interval;      /* seconds between reaper runs */
    double poll_interval;      /* fallback queue poll without NOTIFY */
    double store_margin;       /* seconds of the budget kept for storing models */
    const char *trainer_id;    /* default host:pid */
    const char *log_level;
    child_limits_t child;      /* what each job's training process may use */
    housekeep_config_t housekeep; /* job counts, retention, orphaned artifacts */
    runner_cfg_t runner;       /* the sandbox runner for user code (common/runner.h) */
} trainer_config_t;

/* Runs until a stop signal; 0 on a clean stop, 1 on a fatal error. */
int trainer_run(const trainer_config_t *cfg);

#endif
