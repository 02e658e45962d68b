/*
 * runner.h — the settings of the runner for user code (DESIGN.md "Runner"),
 * shared by the API and the trainer.
 *
 * The trainer's sandbox runner (trainer/sandbox.h) obeys all of them; the
 * API reads the first two to refuse a source-code bundle at submission when
 * no sandbox could run it. Both programs put RUNNER_CFG_ENTRIES in their
 * settings table (common/cfg.h), so `--help` lists them with the others and
 * nothing reads getenv() for them.
 */
#ifndef TRAINYARD_COMMON_RUNNER_H
#define TRAINYARD_COMMON_RUNNER_H

#include <stddef.h>

#include "common/cfg.h"

typedef struct runner_cfg {
    const char *mode;     /* TRAINYARD_RUNNER: "sandbox" or "off" */
    const char *bwrap;    /* the bubblewrap binary */
    double wall;          /* seconds per run; also the cap of a job's ?timeout= */
    size_t memory;        /* RLIMIT_AS of a run, bytes */
    double cpu;           /* RLIMIT_CPU of a run; 0 = wall x 2 + 5 */
    size_t file;          /* RLIMIT_FSIZE of a run */
    size_t out;           /* bytes of a run's <out> (watched twice a second) */
    size_t tmp;           /* size of a run's private /tmp */
    int procs;            /* RLIMIT_NPROC of the sandbox user */
    const char *dir;      /* where job directories are made; NULL = $TMPDIR or /tmp */
    double unpack_cpu;    /* CPU seconds of the process that unpacks one bundle */
    size_t unpack_memory; /* its RLIMIT_AS; 0 = none (sanitizer builds) */
} runner_cfg_t;

/* Table rows for a settings struct T holding a runner_cfg_t at member F. */
#define RUNNER_CFG_ENTRIES(T, F)                                                                \
    {"runner", "TRAINYARD_RUNNER", "sandbox", CFG_STRING, offsetof(T, F.mode),                  \
     "user code (KAOS source bundles): sandbox | off (off: such bundles get a 422)"},           \
    {"sandbox-bwrap", "TRAINYARD_SANDBOX_BWRAP", "/usr/bin/bwrap", CFG_STRING,                  \
     offsetof(T, F.bwrap), "the bubblewrap binary the sandbox runs in"},                        \
    {"sandbox-wall", "TRAINYARD_SANDBOX_WALL", "600", CFG_SECONDS, offsetof(T, F.wall),         \
     "wall-clock seconds per sandboxed run (and the cap of a job's timeout)"},                  \
    {"sandbox-memory", "TRAINYARD_SANDBOX_MEMORY", "3g", CFG_SIZE, offsetof(T, F.memory),      \
     "address space per sandboxed run"},                                                        \
    {"sandbox-cpu", "TRAINYARD_SANDBOX_CPU", "0", CFG_SECONDS, offsetof(T, F.cpu),             \
     "CPU seconds per sandboxed run; 0 = wall x 2 + 5"},                                        \
    {"sandbox-file", "TRAINYARD_SANDBOX_FILE", "256m", CFG_SIZE, offsetof(T, F.file),          \
     "largest file a sandboxed run may write"},                                                 \
    {"sandbox-out", "TRAINYARD_SANDBOX_OUT", "512m", CFG_SIZE, offsetof(T, F.out),             \
     "bytes of a run's <out>; the run is killed past it"},                                      \
    {"sandbox-tmp", "TRAINYARD_SANDBOX_TMP", "64m", CFG_SIZE, offsetof(T, F.tmp),              \
     "size of a run's private /tmp"},                                                           \
    {"sandbox-procs", "TRAINYARD_SANDBOX_PROCS", "256", CFG_INT, offsetof(T, F.procs),         \
     "processes of the sandbox user (RLIMIT_NPROC)"},                                           \
    {"sandbox-dir", "TRAINYARD_SANDBOX_DIR", NULL, CFG_STRING, offsetof(T, F.dir),             \
     "where job directories are made (default $TMPDIR, else /tmp)"},                            \
    {"sandbox-unpack-cpu", "TRAINYARD_SANDBOX_UNPACK_CPU", "60", CFG_SECONDS,                  \
     offsetof(T, F.unpack_cpu), "CPU seconds of the confined process unpacking one bundle"},    \
    {"sandbox-unpack-memory", "TRAINYARD_SANDBOX_UNPACK_MEMORY", "512m", CFG_SIZE,             \
     offsetof(T, F.unpack_memory),                                                              \
     "address space of the confined process unpacking a bundle (0 = no limit)"}

/* The defaults of the table above, for callers without a settings table
 * (tests, benchmarks). */
extern const runner_cfg_t runner_cfg_default;

/* 0 if c holds sane values, else -1 with e naming the setting. */
int runner_cfg_check(const runner_cfg_t *c, err_t *e);

/* 1 if this host can run sandboxed jobs: the mode is not "off", the
 * bubblewrap binary is executable and user namespaces are enabled; why
 * (when not NULL) gets the reason it cannot. */
int runner_available(const runner_cfg_t *c, char *why, size_t n);

#endif
