/*
 * sandbox.h — the sandbox runner: a KAOS job's own training program, run in
 * Linux namespaces on the trainer host (DESIGN.md "Runner").
 *
 * A sibling of the worker (trainer/worker.h): the runner (a forked child of
 * the trainer, holding the job's database connection) unpacks the job's
 * code, data and hyperparameter bundles into a private directory, then runs
 * the build check and each hyperparameter run under bubblewrap, as an
 * unprivileged user with an empty environment, rlimits, a seccomp filter
 * and a wall clock, and stores what the runs wrote.
 *
 * Settings (environment, read by the runner; the API reads TRAINYARD_RUNNER
 * too, to refuse code bundles at submission when no sandbox can run them):
 *   TRAINYARD_RUNNER            sandbox | off (default sandbox where bwrap and
 *                               user namespaces exist)
 *   TRAINYARD_SANDBOX_BWRAP     the bubblewrap binary (/usr/bin/bwrap)
 *   TRAINYARD_SANDBOX_WALL      seconds per run, and the cap of a job's
 *                               ?timeout= (600)
 *   TRAINYARD_SANDBOX_MEMORY    address space per run, bytes (3 GiB)
 *   TRAINYARD_SANDBOX_CPU       CPU seconds per run (wall x 2)
 *   TRAINYARD_SANDBOX_FILE      largest file a run may write (256 MiB)
 *   TRAINYARD_SANDBOX_OUT       bytes of <out> per run (512 MiB; checked
 *                               every half second, the run killed past it)
 *   TRAINYARD_SANDBOX_TMP       size of a run's private /tmp (64 MiB)
 *   TRAINYARD_SANDBOX_PROCS     processes (RLIMIT_NPROC of the sandbox user: 256)
 *   TRAINYARD_SANDBOX_DIR       where job directories are made ($TMPDIR, /tmp)
 */
#ifndef TRAINYARD_TRAINER_SANDBOX_H
#define TRAINYARD_TRAINER_SANDBOX_H

#include <stddef.h>

#include "trainer/child.h"

/* 1 if the job is one for the sandbox runner (spec "runner": "sandbox"). */
int sandbox_job_is(const job_t *job);

/* 1 if this host can run sandboxed jobs: TRAINYARD_RUNNER is not "off",
 * the bubblewrap binary exists, and user namespaces are enabled. why (when
 * not NULL) gets the reason it cannot. */
int sandbox_available(char *why, size_t n);

/* Runs a sandbox job in the trainer's child; returns the child's exit
 * status (trainer/child.h). */
int sandbox_job_run(const child_args_t *a);

/* The seccomp filter as a compiled BPF program in a fresh memfd (offset 0),
 * for bwrap --seccomp; -1 on failure. */
int sandbox_seccomp_fd(void);

#endif
