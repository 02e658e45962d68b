/*
 * trainer/main.c — `trainyard-trainer`: reads its settings (one table,
 * --help prints it), applies pending migrations if asked, and runs the
 * supervisor loop (trainer/trainer.h).
 */
#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/runner.h"
#include "common/util.h"
#include "db/migrate.h"
#include "trainer/trainer.h"
#include "trainer/unpack.h"
#include "trainer/worker.h"

typedef struct trainer_settings {
    trainer_config_t t;
    int migrate;
    const char *log_format; /* TRAINYARD_LOG_FORMAT */
} trainer_settings_t;

#define OFF(f) offsetof(trainer_settings_t, f)

static const cfg_entry_t settings[] = {
    {"database-url", "TRAINYARD_DATABASE_URL", "postgresql:///trainyard", CFG_STRING,
     OFF(t.database_url), "PostgreSQL URL or key=value conninfo"},
    {"slots", "TRAINYARD_TRAINER_SLOTS", "1", CFG_INT, OFF(t.slots),
     "jobs trained at once (one child process each)"},
    {"lease", "TRAINYARD_TRAINER_LEASE", "10", CFG_SECONDS, OFF(t.lease),
     "seconds a claim stays valid without a heartbeat"},
    {"heartbeat", "TRAINYARD_TRAINER_HEARTBEAT", "1", CFG_SECONDS, OFF(t.heartbeat),
     "seconds between heartbeats (lease renewal, progress)"},
    {"kill-grace", "TRAINYARD_TRAINER_KILL_GRACE", "5", CFG_SECONDS, OFF(t.kill_grace),
     "seconds between SIGTERM and SIGKILL for a killed job"},
    {"shutdown-grace", "TRAINYARD_TRAINER_SHUTDOWN_GRACE", "30", CFG_SECONDS,
     OFF(t.shutdown_grace), "on SIGTERM, seconds running jobs get to finish"},
    {"reap-interval", "TRAINYARD_TRAINER_REAP_INTERVAL", "2", CFG_SECONDS, OFF(t.reap_interval),
     "seconds between runs of the expired-lease reaper"},
    {"poll-interval", "TRAINYARD_TRAINER_POLL_INTERVAL", "2", CFG_SECONDS, OFF(t.poll_interval),
     "fallback queue poll when no NOTIFY arrives"},
    {"store-margin", "TRAINYARD_TRAINER_STORE_MARGIN", "1", CFG_SECONDS, OFF(t.store_margin),
     "seconds of a job's budget kept back for storing its models"},
    {"trainer-id", "TRAINYARD_TRAINER_ID", NULL, CFG_STRING, OFF(t.trainer_id),
     "lease owner name (default host:pid)"},
    {"log-level", "TRAINYARD_LOG_LEVEL", "info", CFG_STRING, OFF(t.log_level),
     "debug | info | warn | error"},
    {"log-format", "TRAINYARD_LOG_FORMAT", "text", CFG_STRING, OFF(log_format),
     "text | json (one object per line, with the job id in a job's lines)"},
    {"migrate", "TRAINYARD_TRAINER_MIGRATE", "0", CFG_INT, OFF(migrate),
     "1 = apply pending sql/ migrations at start"},
    {"child-user", "TRAINYARD_CHILD_USER", "nobody", CFG_STRING, OFF(t.child.user),
     "user a job's training process runs as when the trainer is root"},
    {"child-memory", "TRAINYARD_CHILD_MEMORY", "4g", CFG_SIZE, OFF(t.child.memory),
     "address-space limit of a training process (0 = none)"},
    {"child-cpu-seconds", "TRAINYARD_CHILD_CPU_SECONDS", "0", CFG_SECONDS,
     OFF(t.child.cpu_seconds), "CPU-time limit of a training process; 0 = wall limit x cores"},
    {"child-file-size", "TRAINYARD_CHILD_FILE_SIZE", "1g", CFG_SIZE, OFF(t.child.file_size),
     "largest file a training process may write, and largest result it may hand back"},
    {"child-wall-factor", "TRAINYARD_CHILD_WALL_FACTOR", "1.5", CFG_SECONDS,
     OFF(t.child.wall_factor), "wall-clock limit of a job = duration x this + grace"},
    {"gc-interval", "TRAINYARD_GC_INTERVAL", "600", CFG_SECONDS, OFF(t.housekeep.gc_interval),
     "seconds between storage collector passes (retention, orphaned artifacts); 0 = never"},
    {"retention-days", "TRAINYARD_RETENTION_DAYS", "30", CFG_INT, OFF(t.housekeep.keep_days),
     "days finished jobs and their logs are kept (0 = forever; per workspace: trainyard "
     "retention)"},
    {"retention-models", "TRAINYARD_RETENTION_MODELS", "10", CFG_INT,
     OFF(t.housekeep.keep_models), "models kept per dataset, newest first, pinned ones aside "
     "(0 = all)"},
    {"gc-orphan-grace", "TRAINYARD_GC_ORPHAN_GRACE", "3600", CFG_SECONDS,
     OFF(t.housekeep.orphan_grace), "seconds an artifact nothing refers to is left alone"},
    {"child-wall-grace", "TRAINYARD_CHILD_WALL_GRACE", "60", CFG_SECONDS,
     OFF(t.child.wall_grace), "seconds added to duration x factor (ingest, matrices, storing)"},
    {"child-inmem-max", "TRAINYARD_CHILD_INMEM_MAX", "0", CFG_SIZE, OFF(t.child.inmem_max),
     "largest float matrix (rows x fields x 4 bytes) trained in memory; larger trains from "
     "pages on disk (0 = what child-memory leaves: (memory - 256m) / 3)"},
    {"child-scratch", "TRAINYARD_CHILD_SCRATCH", NULL, CFG_STRING, OFF(t.child.scratch),
     "local directory for the page files of data larger than memory (default $TMPDIR or /tmp)"},
    {"child-scratch-size", "TRAINYARD_CHILD_SCRATCH_SIZE", "64g", CFG_SIZE,
     OFF(t.child.scratch_size), "file-size limit of a training process on that path"},
    {"test-mode", "TRAINYARD_TEST_MODE", "0", CFG_INT, OFF(t.child.test_mode),
     "1 = obey a spec's test_mode (sleep, crash_signal, exit_code, memory_bomb): for test "
     "stacks only; 0 = ignore it"},
    RUNNER_CFG_ENTRIES(trainer_settings_t, t.runner),
};

/* libgomp (XGBoost's OpenMP) reads OMP_WAIT_POLICY once, as it loads,
 * before main. Its default keeps idle threads spinning, which on a small
 * machine shared with the API and PostgreSQL makes a boosting round up to
 * 100x slower; unless the operator chose a policy, the trainer re-executes
 * itself with the passive one. */
static const char *const trainer_env_defaults[] = {"OMP_WAIT_POLICY=passive"};

int main(int argc, char **argv)
{
    /* A job's training process, exec'd by its runner (trainer/worker.h):
     * no settings, no database, descriptors 3-5 only. */
    if (argc == 2 && strcmp(argv[1], WORKER_ARG) == 0)
        return trainer_worker_main();
    /* A bundle's unpacker, exec'd by a sandbox job's runner (trainer/unpack.h). */
    if (trainer_unpack_main(argc, argv) >= 0)
        return 1; /* not reached: an unpacker exits */
    util_exec_with_env_defaults(argv, trainer_env_defaults, 1);
    /* Job workers may run as this same user (a trainer that is not root):
     * our environment and memory hold the database URL. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    trainer_settings_t s;
    memset(&s, 0, sizeof(s));
    err_t e;
    err_clear(&e);
    int rc = cfg_load(settings, sizeof(settings) / sizeof(settings[0]), &s, argc, argv,
                      "trainyard-trainer [--flag=value ...]", &e);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "trainyard-trainer: %s\n", err_message(&e));
        return 2;
    }
    log_level_t level = LOG_INFO;
    if (log_level_parse(s.t.log_level, &level) != 0) {
        fprintf(stderr, "trainyard-trainer: unknown log level \"%s\"\n", s.t.log_level);
        return 2;
    }
    log_format_t format = LOG_FORMAT_TEXT;
    if (log_format_parse(s.log_format, &format) != 0) {
        fprintf(stderr, "trainyard-trainer: log-format: \"%s\" is not text or json\n",
                s.log_format);
        return 2;
    }
    log_init("trainyard-trainer", level);
    log_set_format(format);
    json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
    if (s.t.heartbeat <= 0 || s.t.heartbeat > s.t.lease / 2) {
        fprintf(stderr, "trainyard-trainer: heartbeat must be > 0 and at most half the lease\n");
        return 2;
    }
    if (runner_cfg_check(&s.t.runner, &e) != 0) {
        fprintf(stderr, "trainyard-trainer: %s\n", err_message(&e));
        return 2;
    }
    if (s.t.reap_interval <= 0 || s.t.poll_interval <= 0) {
        fprintf(stderr, "trainyard-trainer: intervals must be > 0\n");
        return 2;
    }
    char id[320];
    if (s.t.trainer_id == NULL || *s.t.trainer_id == '\0') {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s:%d", host, (int)getpid());
        s.t.trainer_id = id;
    }
    if (s.migrate) {
        char dir[PATH_MAX];
        db_t *db = db_open(s.t.database_url, &e);
        int applied = 0;
        if (db == NULL || db_migrate_default_dir(dir, sizeof(dir), &e) != 0 ||
            db_migrate(db, dir, &applied, &e) != 0) {
            log_error("migrate: %s", err_message(&e));
            db_close(db);
            return 1;
        }
        db_close(db); /* before any fork: children open their own */
    }
    return trainer_run(&s.t);
}
