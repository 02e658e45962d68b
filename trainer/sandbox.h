/*
 * sandbox.h — the sandbox runner: a KAOS job's own training program, run in
 * Linux namespaces on the trainer host (DESIGN.md "Runner").
 *
 * A sibling of the worker (trainer/worker.h): the runner (a forked child of
 * the trainer, holding the job's database connection) has a confined
 * unpacker (trainer/unpack.h) extract the job's code, data and
 * hyperparameter bundles into a private directory, then runs
 * the build check and each hyperparameter run under bubblewrap, as an
 * unprivileged user with an empty environment, rlimits, a seccomp filter
 * and a wall clock, and stores what the runs wrote.
 *
 * Settings: common/runner.h (TRAINYARD_RUNNER, TRAINYARD_SANDBOX_*), in
 * the trainer's settings table; the API reads the same table to refuse
 * source-code bundles at submission when no sandbox could run them.
 */
#ifndef TRAINYARD_TRAINER_SANDBOX_H
#define TRAINYARD_TRAINER_SANDBOX_H

#include <stddef.h>

#include "common/err.h"
#include "common/runner.h"
#include "trainer/child.h"

/* 1 if the job is one for the sandbox runner (spec "runner": "sandbox"). */
int sandbox_job_is(const job_t *job);

/* Runs a sandbox job in the trainer's child; returns the child's exit
 * status (trainer/child.h). */
int sandbox_job_run(const child_args_t *a);

/* Host paths bound into one sandboxed process (NULL: not bound). */
typedef struct sandbox_mounts {
    const char *code;          /* read-only at /code (cwd /code/model); required */
    const char *data;          /* read-only at /pfs/data/<data_name> */
    const char *data_name;
    const char *hyper;         /* read-only at /pfs/hyper/<hyper_name> */
    const char *hyper_name;
    const char *out;           /* writable at /out (owned by the sandbox user) */
} sandbox_mounts_t;

/* Runs cmd once in exactly the sandbox a run gets (namespaces, mounts,
 * rlimits from cfg, seccomp, the sandbox user when root), its output
 * discarded, and waits: *status is waitpid's. For benchmarks and checks
 * of the host (bench/kaos_sandbox.c); jobs go through sandbox_job_run. */
int sandbox_exec_once(const runner_cfg_t *cfg, const sandbox_mounts_t *m,
                      const char *const *cmd, int *status, err_t *e);

/* The seccomp filter as a compiled BPF program in a fresh memfd (offset 0),
 * for bwrap --seccomp; -1 on failure. */
int sandbox_seccomp_fd(void);

#endif
