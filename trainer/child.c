/*
 * child.c — runs one claimed job in a forked child of the trainer (see
 * child.h): the job's runner.
 *
 * The runner does the job's database work and nothing else; the training
 * happens in a worker (trainer/worker.h) that it starts by exec'ing the
 * trainer's binary afresh, as an unprivileged user when the trainer is
 * root, with rlimits, an empty environment (OMP_* settings aside) and only
 * three descriptors: the input pipe, the result pipe and the protocol pipe.
 * The worker never sees the database URL, a connection or another job.
 *
 * Steps: connect; for a bundle job copy the bundle into an unlinked file for
 * the worker (the worker, not the runner, parses the untrusted archive);
 * start the worker; for a bundle job read back what the worker found in it
 * (trainyard.json over the job's spec, the dataset's path) and, while the
 * job is still building, the named CSV as the worker extracts and trains on
 * it, streaming it into a new dataset artifact and into the type inference
 * that summarises it; otherwise stream the dataset artifact down the input
 * pipe. Then read the worker's result frame and store every model plus the
 * job's result in one transaction.
 *
 * A wall-clock limit (duration x factor + grace, from the worker's start, so
 * ingest and matrix building count) ends a worker that overruns, and the
 * job fails saying so. A worker killed from outside (SIGKILL: the OOM
 * killer, an operator) or crashing takes the runner down with the same
 * signal, so that the trainer sees the crash it always saw and decides
 * about a retry; the runner logs the limits it ran under first.
 */
#include "trainer/child.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include "db/artifacts.h"
#include "db/datasets.h"
#include "db/datasets_append.h"
#include "db/models.h"
#include "db/trainings.h"
#include "ml/csv.h"
#include "ml/train.h"
#include "trainer/proto.h"
#include "trainer/sandbox.h"
#include "trainer/worker.h"

extern char **environ;

static volatile sig_atomic_t child_stop;
static volatile sig_atomic_t wall_expired;
static volatile pid_t worker_pid;      /* > 0 while the worker runs */

/* SIGTERM (a kill request, the trainer stopping): the worker stops between
 * boosting rounds and reports "killed". */
static void child_on_term(int sig)
{
    (void)sig;
    child_stop = 1;
    if (worker_pid > 0)
        kill(worker_pid, SIGTERM);
}

/* The wall-clock limit. */
static void child_on_alarm(int sig)
{
    (void)sig;
    if (worker_pid > 0) {
        wall_expired = 1;
        kill(worker_pid, SIGKILL);
    }
}

typedef struct child {
    const child_args_t *a;
    const child_limits_t *lim;
    db_t *db;                    /* the runner's connection (writes) */
    arena_t *arena;              /* job scope */
    artifact_writer_t *writer;   /* bundle build: the new dataset artifact */
    csv_infer_t *infer;          /* bundle build: the dataset summary */
    int in_fd;                   /* write end of the worker's input, -1 when closed */
    int res_fd;                  /* read end of the worker's result, -1 when closed */
    pid_t pid;                   /* the worker, 0 once reaped */
    int we_killed;               /* we sent the worker SIGKILL ourselves */
    int bundle_fd;               /* bundle jobs: the bundle's bytes for the worker, else -1 */
    int ds_fd;                   /* bundle jobs: read end of what the worker found in the
                                    bundle (spec, then the dataset's CSV when building) */
    char xdir[4096];             /* data larger than memory: the worker's page-file
                                    directory (removed after the job), else "" */
    double xmatrix;              /* the dataset's float matrix, bytes (0 = unknown) */
    double started;              /* monotonic time the worker started */
    double wall_limit;           /* seconds */
} child_t;

const child_limits_t child_limits_default = {
    "nobody", (size_t)4 << 30, 0, (size_t)1 << 30, 1.5, 60, 0, 0, NULL, (size_t)64 << 30,
};

static void child_send(const child_t *c, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t k = write(c->a->proto_fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* the parent is gone; PDEATHSIG ends us */
        buf += k;
        n -= (size_t)k;
    }
}

static void cb_log(void *ctx, const char *text)
{
    char line[PROTO_LINE_MAX];
    child_send(ctx, line, proto_format_log(line, sizeof(line), text));
}

static int stopped(err_t *e)
{
    return err_set(e, 499, "killed", "killed");
}

/* Bytes for the worker; fails once it is gone (EPIPE). */
static int child_to_worker(child_t *c, const void *buf, size_t n, err_t *e)
{
    const char *p = buf;
    while (n > 0) {
        if (child_stop)
            return stopped(e);
        ssize_t k = write(c->in_fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, 500, "worker_gone", "the training process ended early");
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int sink_train(void *ctx, const void *buf, size_t n, err_t *e)
{
    return child_to_worker(ctx, buf, n, e);
}

static int sink_build(void *ctx, const void *buf, size_t n, err_t *e)
{
    child_t *c = ctx;
    if (child_stop)
        return stopped(e);
    return db_artifact_write(c->writer, buf, n, e) != 0 || csv_infer_feed(c->infer, buf, n, e) != 0
               ? -1
               : 0;
}

static void json_put(void *p)
{
    json_object_put(p);
}

/* The metrics a Strapi training document shows: the model's validation
 * metrics, plus "precision" (macro average over the first field's classes,
 * from the Akkio stats) for classification, which the seed's document has
 * a field for (spelled "precission"). Arena-owned. */
static json_object *child_document_metrics(arena_t *arena, json_object *metrics,
                                           json_object *result)
{
    json_object *out = json_object_new_object();
    arena_defer(arena, json_put, out);
    if (metrics != NULL) {
        json_object_object_foreach(metrics, key, val) {
            json_object_object_add(out, key, json_object_get(val));
        }
    }
    json_object *stats, *classes;
    if (json_object_object_get_ex(out, "precision", NULL) || result == NULL ||
        !json_object_object_get_ex(result, "stats", &stats) ||
        (classes = json_object_array_get_idx(stats, 0)) == NULL)
        return out;
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(classes); i++) {
        json_object *p;
        if (json_object_object_get_ex(json_object_array_get_idx(classes, i), "precision", &p)) {
            sum += json_object_get_double(p);
            n++;
        }
    }
    if (n > 0)
        json_object_object_add(out, "precision", json_object_new_double(sum / (double)n));
    return out;
}

static void db_free(void *p)
{
    db_close(p);
}

/* One frame from the worker's bundle pipe (trainer/worker.h): its length
 * in *n (0 = the end), its bytes in buf (at most cap). */
static int child_read_frame(child_t *c, char *buf, size_t cap, size_t *n, err_t *e)
{
    unsigned char len[4];
    if (util_read_exact(c->ds_fd, len, 4) != 0)
        return err_set(e, 500, "worker_gone", "the training process ended early");
    *n = (size_t)len[0] << 24 | (size_t)len[1] << 16 | (size_t)len[2] << 8 | len[3];
    if (*n > cap)
        return err_set(e, 500, "internal", "the training process sent a %zu-byte frame", *n);
    if (*n > 0 && util_read_exact(c->ds_fd, buf, *n) != 0)
        return err_set(e, 500, "worker_gone", "the training process ended early");
    return 0;
}

static int sink_fd(void *ctx, const void *buf, size_t n, err_t *e)
{
    const char *p = buf;
    int fd = *(int *)ctx;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, 500, "internal", "copying the bundle: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The bundle's bytes in an unlinked file (a memfd where O_TMPFILE is not
 * supported) that only the worker reads: the runner never parses it. */
static int child_bundle_copy(child_t *c, err_t *e)
{
    const char *dir = getenv("TMPDIR");
    int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fd = memfd_create("trainyard-bundle", MFD_CLOEXEC);
    if (fd < 0)
        return err_set(e, 500, "internal", "no temporary file for the bundle: %s",
                       strerror(errno));
    if (db_artifact_read(c->db, c->a->job->bundle_id, sink_fd, &fd, e) != 0) {
        close(fd);
        return -1;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) { /* the worker shares this offset */
        close(fd);
        return err_set(e, 500, "internal", "rewinding the bundle: %s", strerror(errno));
    }
    c->bundle_fd = fd;
    return 0;
}

/* What the worker found in the bundle: trainyard.json laid over the job's
 * spec, and the dataset's path in the bundle. */
static int child_bundle_head(child_t *c, bundle_info_t *info, json_object **spec, err_t *e)
{
    size_t n = 0;
    char *buf = arena_alloc(c->arena, 256 * 1024 + 1);
    if (child_read_frame(c, buf, 256 * 1024, &n, e) != 0)
        return -1;
    buf[n] = '\0';
    json_object *head = json_tokener_parse(buf), *v;
    if (head == NULL || !json_object_object_get_ex(head, "spec", spec)) {
        json_object_put(head);
        return err_set(e, 500, "internal", "the training process sent no bundle description");
    }
    arena_defer(c->arena, json_put, head);
    memset(info, 0, sizeof(*info));
    snprintf(info->dataset_path, sizeof(info->dataset_path), "%s",
             json_object_object_get_ex(head, "dataset_path", &v) ? json_object_get_string(v) : "");
    return 0;
}

/* The dataset's CSV as the worker extracts it, into sink_build. */
static int child_bundle_csv(child_t *c, err_t *e)
{
    char *buf = malloc(WORKER_FRAME_MAX);
    if (buf == NULL)
        abort();
    int rc = 0;
    for (;;) {
        size_t n = 0;
        if ((rc = child_read_frame(c, buf, WORKER_FRAME_MAX, &n, e)) != 0 || n == 0)
            break;
        if ((rc = sink_build(c, buf, n, e)) != 0)
            break;
    }
    free(buf);
    return rc;
}

/* building -> running: the bundle's CSV, as the worker extracts it (and
 * trains on it), becomes a dataset. */
static int child_build(child_t *c, const bundle_info_t *info, char *dataset_id, err_t *e)
{
    const job_t *job = c->a->job;
    if (db_begin(c->db, e) != 0)
        return -1;
    c->writer = db_artifact_begin(c->db, job->workspace_id, "dataset", e);
    if (c->writer == NULL)
        goto fail;
    c->infer = csv_infer_new(&csv_limits_default);
    int rc = child_bundle_csv(c, e);
    if (rc != 0) {
        db_artifact_abort(c->writer);
        c->writer = NULL;
        goto fail;
    }
    artifact_info_t ai;
    rc = db_artifact_finish(c->writer, &ai, e);
    c->writer = NULL;
    if (rc != 0)
        goto fail;
    json_object *summary = NULL;
    if (csv_infer_finish(c->infer, &summary, e) != 0)
        goto fail;
    arena_defer(c->arena, json_put, summary);
    char path[sizeof(info->dataset_path)];
    snprintf(path, sizeof(path), "%s", info->dataset_path);
    dataset_rec_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.workspace_id = job->workspace_id;
    rec.name = arena_strdup(c->arena, basename(path));
    json_object *v;
    rec.rows = json_object_object_get_ex(summary, "rows", &v) ? json_object_get_int64(v) : 0;
    rec.fields = json_object_object_get_ex(summary, "fields", &v) ? v : NULL;
    rec.delimiter = json_object_object_get_ex(summary, "delimiter", &v) ? json_object_get_string(v)
                                                                         : NULL;
    memcpy(rec.artifact_id, ai.id, sizeof(rec.artifact_id));
    rec.size = ai.size;
    memcpy(rec.sha256, ai.sha256, sizeof(rec.sha256));
    if (db_dataset_insert(c->db, c->arena, &rec, e) != 0 ||
        db_job_built(c->db, c->arena, job->id, c->a->trainer_id, job->attempts, rec.id, e) != 0 ||
        db_commit(c->db, e) != 0)
        goto fail;
    memcpy(dataset_id, rec.id, UUID_STR_LEN + 1);
    char line[sizeof(info->dataset_path) + 128];
    snprintf(line, sizeof(line), "built dataset %s from %s (%lld rows)", rec.id,
             info->dataset_path, rec.rows);
    cb_log(c, line);
    return 0;
fail:
    db_rollback(c->db);
    return -1;
}

/* Stores the models and finishes the job, all in one transaction. */
static int child_store(child_t *c, const char *dataset_id, ml_result_t *res, int *lost,
                       err_t *e)
{
    const job_t *job = c->a->job;
    *lost = 0;
    if (db_begin(c->db, e) != 0)
        return -1;
    json_object *ids = json_object_new_array();
    const char *first = NULL;
    json_object *first_metrics = NULL;
    for (size_t i = 0; i < res->n_models; i++) {
        ml_model_out_t *m = &res->models[i];
        artifact_writer_t *w = db_artifact_begin(c->db, job->workspace_id, "model", e);
        if (w == NULL)
            goto fail;
        if (db_artifact_write(w, m->booster, m->booster_len, e) != 0) {
            db_artifact_abort(w);
            goto fail;
        }
        artifact_info_t ai;
        if (db_artifact_finish(w, &ai, e) != 0)
            goto fail;
        model_rec_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.workspace_id = job->workspace_id;
        memcpy(rec.job_id, job->id, sizeof(rec.job_id));
        rec.dataset_id = dataset_id;
        rec.predict_field = m->predict_field;
        rec.task = m->task;
        rec.metrics = m->metrics;
        rec.candidates = m->candidates;
        rec.preprocess = m->preprocess;
        memcpy(rec.artifact_id, ai.id, sizeof(rec.artifact_id));
        if (db_model_insert(c->db, c->arena, &rec, e) != 0)
            goto fail;
        json_object_array_add(ids, json_object_new_string(rec.id));
        if (first == NULL) {
            first = arena_strdup(c->arena, rec.id);
            first_metrics = m->metrics;
        }
    }
    if (res->result == NULL)
        res->result = json_object_new_object();
    if (first != NULL)
        json_object_object_add(res->result, "model_id", json_object_new_string(first));
    json_object_object_add(res->result, "model_ids", ids);
    ids = NULL;
    const char *path =
        first ? arena_sprintf(c->arena, "/api/v1/models/%s/download", first) : NULL;
    if (db_training_job_finished(c->db, c->arena, job->id,
                                 child_document_metrics(c->arena, first_metrics, res->result),
                                 path, "1", e) != 0)
        goto fail;
    if (db_job_finish(c->db, c->arena, job->id, c->a->trainer_id, job->attempts, JOB_SUCCEEDED,
                      NULL, res->result, lost, e) != 0)
        goto fail;
    if (*lost) {
        db_rollback(c->db);
        return 0;
    }
    return db_commit(c->db, e);
fail:
    json_object_put(ids);
    db_rollback(c->db);
    return -1;
}

/* Seconds the child waits for PostgreSQL to come back before it gives the
 * job back to the queue (a little longer than a PostgreSQL restart). */
#define CHILD_STORE_WAIT 60.0

double trainer_job_duration(json_object *spec)
{
    json_object *v;
    double duration = 10;
    if (json_object_object_get_ex(spec, "duration", &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        duration = json_object_get_double(v);
    return duration > 0 ? duration : 10;
}

double trainer_budget_end(double started_at, double store_margin, json_object *spec)
{
    double duration = trainer_job_duration(spec);
    double now_wall = util_now_wall();
    double end_wall = started_at + duration;
    if (started_at <= 0 || end_wall < now_wall + duration / 2)
        end_wall = now_wall + duration;
    return end_wall - store_margin;
}

/* --- the worker ------------------------------------------------------------ */

typedef struct worker_ids {
    int drop;                    /* 1: switch to uid/gid before exec */
    uid_t uid;
    gid_t gid;
} worker_ids_t;

static int child_worker_ids(const child_limits_t *lim, worker_ids_t *ids, err_t *e)
{
    memset(ids, 0, sizeof(*ids));
    if (geteuid() != 0)
        return 0; /* already unprivileged: the worker stays this user */
    const char *name = lim->user && *lim->user ? lim->user : "nobody";
    struct passwd *pw = getpwnam(name);
    if (pw == NULL)
        return err_set(e, 500, "internal",
                       "no user \"%s\" to train as (TRAINYARD_CHILD_USER)", name);
    if (pw->pw_uid == 0)
        return err_set(e, 500, "internal", "TRAINYARD_CHILD_USER must not be root");
    ids->drop = 1;
    ids->uid = pw->pw_uid;
    ids->gid = pw->pw_gid;
    return 0;
}

static double child_cpu_limit(const child_t *c)
{
    if (c->lim->cpu_seconds > 0)
        return c->lim->cpu_seconds;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return c->wall_limit * (double)(cores > 0 ? cores : 1) + 5;
}

static void set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    struct rlimit cur;
    /* Never above what we have: lowering is all an unprivileged process may do. */
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
        if (rl.rlim_max > cur.rlim_max)
            rl.rlim_max = cur.rlim_max;
        if (rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
    }
    setrlimit(resource, &rl);
}

/* In the forked child: descriptors into place, limits, identity, exec.
 * Only async-signal-safe calls from here on; never returns. */
static void child_worker_exec(const child_t *c, int in_rd, int res_wr, int found_wr, int exe_fd,
                              const worker_ids_t *ids, char *const envp[], pid_t runner)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != runner)
        _exit(CHILD_EXIT_LOST);
    int hi[6] = {fcntl(in_rd, F_DUPFD, 10), fcntl(res_wr, F_DUPFD, 10),
                 fcntl(c->a->proto_fd, F_DUPFD, 10), fcntl(exe_fd, F_DUPFD, 10),
                 c->bundle_fd >= 0 ? fcntl(c->bundle_fd, F_DUPFD, 10) : -1,
                 found_wr >= 0 ? fcntl(found_wr, F_DUPFD, 10) : -1};
    if (hi[0] < 0 || hi[1] < 0 || hi[2] < 0 || hi[3] < 0 ||
        dup2(hi[0], WORKER_FD_INPUT) < 0 || dup2(hi[1], WORKER_FD_RESULT) < 0 ||
        dup2(hi[2], WORKER_FD_PROTO) < 0 || dup2(hi[3], 6) < 0 ||
        (hi[4] >= 0 && dup2(hi[4], WORKER_FD_BUNDLE) < 0) ||
        (hi[5] >= 0 && dup2(hi[5], WORKER_FD_FOUND) < 0))
        _exit(126);
    fcntl(6, F_SETFD, FD_CLOEXEC);
    int first_free = hi[4] >= 0 ? WORKER_FD_FOUND + 1 : 7;
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0 && null != STDIN_FILENO)
        dup2(null, STDIN_FILENO);
    /* Everything else (the runner's database socket, other pipes) goes. */
    if (close_range((unsigned)first_free, ~0U, 0) != 0)
        for (int fd = first_free; fd < 4096; fd++)
            close(fd);

    rlim_t mem = (rlim_t)c->lim->memory;
    if (mem > 0)
        set_limit(RLIMIT_AS, mem, mem);
    rlim_t cpu = (rlim_t)child_cpu_limit(c);
    set_limit(RLIMIT_CPU, cpu, cpu + 5); /* SIGXCPU, then SIGKILL */
    /* Page files of data larger than memory outgrow the result's cap. */
    size_t fsize = c->xdir[0] && c->lim->scratch_size > c->lim->file_size ? c->lim->scratch_size
                                                                           : c->lim->file_size;
    if (fsize > 0)
        set_limit(RLIMIT_FSIZE, (rlim_t)fsize, (rlim_t)fsize);
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_NOFILE, 64, 64);

    if (ids->drop) {
        if (setgroups(0, NULL) != 0 || setgid(ids->gid) != 0 || setuid(ids->uid) != 0)
            _exit(126);
        if (setuid(0) == 0)
            _exit(126); /* root could be regained: refuse to run */
        /* A change of credentials clears the parent-death signal: again. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != runner)
            _exit(CHILD_EXIT_LOST);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (chdir("/") != 0)
        _exit(126);
    char *argv[] = {"trainyard-job", WORKER_ARG, NULL};
    fexecve(6, argv, envp);
    _exit(127);
}

/* The worker's environment: the OpenMP settings the trainer had (libgomp
 * reads them as it loads), the sanitizers' (ASAN_/UBSAN_/LSAN_OPTIONS:
 * meaningful only to a sanitizer build, as in make test-asan-e2e), and
 * nothing else but MALLOC_ARENA_MAX: glibc reserves 64 MiB of address space
 * per thread's arena, which on a machine with many cores would eat the
 * address-space limit without a byte used. */
static char **child_worker_env(arena_t *arena)
{
    size_t n = 0;
    for (char **p = environ; *p; p++)
        n++;
    char **out = arena_alloc(arena, (n + 3) * sizeof(*out));
    size_t k = 0;
    int policy = 0;
    for (char **p = environ; *p; p++) {
        if (strncmp(*p, "OMP_", 4) == 0 || strncmp(*p, "ASAN_OPTIONS=", 13) == 0 ||
            strncmp(*p, "UBSAN_OPTIONS=", 14) == 0 || strncmp(*p, "LSAN_OPTIONS=", 13) == 0) {
            out[k++] = arena_strdup(arena, *p);
            policy |= strncmp(*p, "OMP_WAIT_POLICY=", 16) == 0;
        }
    }
    if (!policy)
        out[k++] = arena_strdup(arena, "OMP_WAIT_POLICY=passive");
    out[k++] = arena_strdup(arena, "MALLOC_ARENA_MAX=2");
    out[k] = NULL;
    return out;
}

static void fmt_bytes(char *buf, size_t n, size_t v)
{
    if (v == 0)
        snprintf(buf, n, "unlimited");
    else if (v % (1024ULL * 1024 * 1024) == 0)
        snprintf(buf, n, "%zu GiB", v >> 30);
    else
        snprintf(buf, n, "%zu MiB", v >> 20);
}

/* (Re)arms the wall clock: wall_limit seconds from the worker's start. */
static void child_wall_arm(const child_t *c)
{
    double left = c->wall_limit - (util_now_monotonic() - c->started);
    if (left < 0.001)
        left = 0.001;
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)left;
    it.it_value.tv_usec = (suseconds_t)((left - (double)(time_t)left) * 1e6);
    setitimer(ITIMER_REAL, &it, NULL);
}

/* The largest float matrix trained in memory (child_limits_t.inmem_max). */
static double child_inmem_max(const child_limits_t *lim)
{
    if (lim->inmem_max > 0)
        return (double)lim->inmem_max;
    if (lim->memory == 0)
        return INFINITY;
    double room = (double)lim->memory - 256.0 * 1024 * 1024;
    return room > 0 ? room / 3 : 0;
}

/* Data larger than memory: a page-file directory the worker may write
 * (it runs as another user when we are root). */
static int child_scratch_make(child_t *c, const worker_ids_t *ids, err_t *e)
{
    const char *base = c->lim->scratch && *c->lim->scratch ? c->lim->scratch : getenv("TMPDIR");
    snprintf(c->xdir, sizeof(c->xdir), "%s/trainyard-job-%.8s-XXXXXX",
             base && *base ? base : "/tmp", c->a->job->id);
    if (mkdtemp(c->xdir) == NULL) {
        err_set(e, 500, "internal", "could not create a directory for the dataset's pages in "
                "\"%s\": %s", base && *base ? base : "/tmp", strerror(errno));
        c->xdir[0] = '\0';
        return -1;
    }
    if (ids->drop && chown(c->xdir, ids->uid, ids->gid) != 0) {
        err_set(e, 500, "internal", "chown %s: %s", c->xdir, strerror(errno));
        rmdir(c->xdir);
        c->xdir[0] = '\0';
        return -1;
    }
    return 0;
}

static int child_scratch_rm_one(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* What a worker left in its page-file directory (a killed one: XGBoost's
 * cache files), and the directory. */
static void child_scratch_remove(child_t *c)
{
    if (c->xdir[0] == '\0')
        return;
    nftw(c->xdir, child_scratch_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    c->xdir[0] = '\0';
}

/* Starts the worker and sends it the job's description. */
static int child_worker_start(child_t *c, json_object *spec, err_t *e)
{
    worker_ids_t ids;
    if (child_worker_ids(c->lim, &ids, e) != 0)
        return -1;
    if (c->xmatrix > child_inmem_max(c->lim) && child_scratch_make(c, &ids, e) != 0)
        return -1;
    c->wall_limit = trainer_job_duration(spec) * c->lim->wall_factor + c->lim->wall_grace;
    int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (exe < 0)
        return err_set(e, 500, "internal", "open /proc/self/exe: %s", strerror(errno));
    int in[2], res[2], found[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0) {
        close(exe);
        return err_set(e, 500, "internal", "pipe: %s", strerror(errno));
    }
    if (pipe2(res, O_CLOEXEC) != 0 || (c->bundle_fd >= 0 && pipe2(found, O_CLOEXEC) != 0)) {
        close(exe), close(in[0]), close(in[1]);
        return err_set(e, 500, "internal", "pipe: %s", strerror(errno));
    }
    char **envp = child_worker_env(c->arena);
    pid_t runner = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_worker_exec(c, in[0], res[1], found[1], exe, &ids, envp, runner);
    close(exe);
    close(in[0]);
    close(res[1]);
    if (found[1] >= 0)
        close(found[1]);
    if (pid < 0) {
        close(in[1]), close(res[0]);
        if (found[0] >= 0)
            close(found[0]);
        return err_set(e, 500, "internal", "fork: %s", strerror(errno));
    }
    c->pid = pid;
    worker_pid = pid;
    c->in_fd = in[1];
    c->res_fd = res[0];
    c->ds_fd = found[0];
    c->started = util_now_monotonic();
    child_wall_arm(c);

    char mem[32], fsz[32];
    fmt_bytes(mem, sizeof(mem), c->lim->memory);
    fmt_bytes(fsz, sizeof(fsz), c->lim->file_size);
    json_object *head = json_object_new_object();
    json_object_object_add(head, "spec", json_object_get(spec));
    json_object_object_add(head, "started_at", json_object_new_double(c->a->job->started_at));
    json_object_object_add(head, "store_margin", json_object_new_double(c->a->store_margin));
    json_object_object_add(head, "bundle", json_object_new_boolean(c->bundle_fd >= 0));
    json_object_object_add(head, "building",
                           json_object_new_boolean(c->a->job->state == JOB_BUILDING));
    /* Only a trainer started for tests passes the fault a test asked for;
     * otherwise the field is ignored and the job trains as any other. */
    json_object *test_mode;
    if (c->lim->test_mode && json_object_object_get_ex(spec, "test_mode", &test_mode) &&
        json_object_is_type(test_mode, json_type_object))
        json_object_object_add(head, "test_mode", json_object_get(test_mode));
    if (c->xdir[0]) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "dir", json_object_new_string(c->xdir));
        json_object_object_add(x, "matrix_bytes", json_object_new_double(c->xmatrix));
        json_object_object_add(x, "inmem_max", json_object_new_double(child_inmem_max(c->lim)));
        json_object_object_add(head, "external_memory", x);
    }
    json_object_object_add(head, "limits",
                           json_object_new_string(arena_sprintf(
                               c->arena, "memory %s, cpu %.0f s, file size %s, wall clock %.0f s",
                               mem, child_cpu_limit(c), fsz, c->wall_limit)));
    size_t len = 0;
    const char *text = json_object_to_json_string_length(head, JSON_C_TO_STRING_PLAIN, &len);
    int rc = child_to_worker(c, text, len, e) != 0 || child_to_worker(c, "\n", 1, e) != 0 ? -1 : 0;
    json_object_put(head);
    return rc;
}

/* Waits for the worker (SIGKILL first if kill_it) and stops the clock. */
static int child_worker_wait(child_t *c, int kill_it)
{
    int status = 0;
    if (c->in_fd >= 0)
        close(c->in_fd), c->in_fd = -1;
    if (c->res_fd >= 0)
        close(c->res_fd), c->res_fd = -1;
    if (c->ds_fd >= 0)
        close(c->ds_fd), c->ds_fd = -1;
    if (c->pid <= 0)
        return 0;
    if (kill_it) {
        kill(c->pid, SIGKILL);
        c->we_killed = 1;
    }
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    worker_pid = 0;
    c->pid = 0;
    struct itimerval off;
    memset(&off, 0, sizeof(off));
    setitimer(ITIMER_REAL, &off, NULL);
    return status;
}

/* Outcomes of a worker that did not succeed. */
#define CHILD_WORKER_REPORTED 2  /* it sent its own "E" line: nothing to add */
#define CHILD_WORKER_STOPPED (-2) /* we killed it: the reason is ours, e untouched */

/* Turns the worker's exit status into the job's outcome: 0 success,
 * CHILD_WORKER_REPORTED, CHILD_WORKER_STOPPED, or -1 with e filled. A
 * worker killed by a signal that is not ours takes the runner down with the
 * same signal. */
static int child_worker_verdict(child_t *c, int status, err_t *e)
{
    if (wall_expired)
        return err_set(e, 500, "wall_clock",
                       "training exceeded its wall-clock limit of %.0f s "
                       "(duration x %g + %.0f s grace, TRAINYARD_CHILD_WALL_FACTOR/_GRACE)",
                       c->wall_limit, c->lim->wall_factor, c->lim->wall_grace);
    if (WIFEXITED(status)) {
        switch (WEXITSTATUS(status)) {
        case CHILD_EXIT_DONE:
            return 0;
        case CHILD_EXIT_FAILED:
            return CHILD_WORKER_REPORTED;
        case 126:
        case 127: {
            char mem[32];
            fmt_bytes(mem, sizeof(mem), c->lim->memory);
            return err_set(e, 500, "internal",
                           "could not start the training process (status %d; its memory limit "
                           "is %s, TRAINYARD_CHILD_MEMORY)",
                           WEXITSTATUS(status), mem);
        }
        default:
            return err_set(e, 500, "internal", "training process exited with status %d",
                           WEXITSTATUS(status));
        }
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    if (sig == SIGKILL && c->we_killed)
        return CHILD_WORKER_STOPPED;
    if (sig == SIGXCPU)
        return err_set(e, 500, "cpu_limit", "training exceeded its CPU limit of %.0f s",
                       child_cpu_limit(c));
    char mem[32];
    fmt_bytes(mem, sizeof(mem), c->lim->memory);
    char line[160];
    snprintf(line, sizeof(line), "training process ended by signal %d (memory limit %s)", sig,
             mem);
    cb_log(c, line);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
    _exit(CHILD_EXIT_FAILED); /* a signal that does not kill (none we expect) */
}

/* Reads the worker's result frame (all of it, up to the file-size cap). */
static int child_read_result(child_t *c, char **out, size_t *len, err_t *e)
{
    size_t cap = 1 << 20, used = 0;
    size_t max = c->lim->file_size ? c->lim->file_size : (size_t)1 << 40;
    char *buf = malloc(cap);
    if (buf == NULL)
        abort();
    for (;;) {
        if (used == cap) {
            if (cap >= max) {
                free(buf);
                return err_set(e, 500, "internal", "the training result is over %zu bytes", max);
            }
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
        ssize_t k = read(c->res_fd, buf + used, cap - used);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            free(buf);
            return err_set(e, 500, "internal", "reading the training result: %s",
                           strerror(errno));
        }
        if (k == 0)
            break;
        used += (size_t)k;
    }
    *out = buf;
    *len = used;
    return 0;
}

static char *dup_json_string(json_object *o, const char *key)
{
    json_object *v;
    return strdup(json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "");
}

/* Frame -> ml_result_t (its own copies; ml_result_free releases them). */
static int child_parse_result(const char *buf, size_t len, ml_result_t *res, err_t *e)
{
    memset(res, 0, sizeof(*res));
    char *end;
    errno = 0;
    unsigned long long jl = strtoull(buf, &end, 10);
    if (len == 0 || errno != 0 || *end != '\n' || jl > len - (size_t)(end + 1 - buf))
        return err_set(e, 500, "internal", "the training process handed back no result");
    const char *json = end + 1;
    json_tokener *tok = json_tokener_new();
    json_object *doc = json_tokener_parse_ex(tok, json, (int)jl);
    json_tokener_free(tok);
    json_object *models;
    if (doc == NULL || !json_object_object_get_ex(doc, "models", &models) ||
        !json_object_is_type(models, json_type_array)) {
        json_object_put(doc);
        return err_set(e, 500, "internal", "the training result is malformed");
    }
    const char *blob = json + jl;
    size_t left = len - (size_t)(blob - buf);
    size_t n = json_object_array_length(models);
    res->models = calloc(n ? n : 1, sizeof(*res->models));
    if (res->models == NULL)
        abort();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(models, i), *v;
        ml_model_out_t *o = &res->models[i];
        res->n_models = i + 1;
        o->predict_field = dup_json_string(m, "predict_field");
        o->task = dup_json_string(m, "task");
        o->preprocess = json_object_object_get_ex(m, "preprocess", &v) ? json_object_get(v) : NULL;
        o->metrics = json_object_object_get_ex(m, "metrics", &v) ? json_object_get(v) : NULL;
        o->candidates = json_object_object_get_ex(m, "candidates", &v) ? json_object_get(v) : NULL;
        int64_t bl = json_object_object_get_ex(m, "booster_len", &v) ? json_object_get_int64(v) : -1;
        if (bl < 0 || (size_t)bl > left) {
            rc = err_set(e, 500, "internal", "the training result is truncated");
            break;
        }
        o->booster = malloc(bl ? (size_t)bl : 1);
        if (o->booster == NULL)
            abort();
        memcpy(o->booster, blob, (size_t)bl);
        o->booster_len = (size_t)bl;
        blob += bl;
        left -= (size_t)bl;
    }
    json_object *r;
    if (rc == 0 && json_object_object_get_ex(doc, "result", &r) && r != NULL)
        res->result = json_object_get(r);
    json_object_put(doc);
    if (rc != 0)
        ml_result_free(res);
    return rc;
}

/* --- the job ---------------------------------------------------------------- */

/* Sends the input, collects the result, stores it. Returns 0, -1 with e
 * filled, or CHILD_WORKER_REPORTED. */
static int child_work(child_t *c, int *lost, err_t *e)
{
    const job_t *job = c->a->job;
    c->db = db_open(c->a->conninfo, e);
    if (c->db == NULL)
        return -1;
    arena_defer(c->arena, db_free, c->db);
    json_object *spec = job->spec;
    char dataset_id[UUID_STR_LEN + 1] = "";
    if (job->dataset_id != NULL)
        snprintf(dataset_id, sizeof(dataset_id), "%s", job->dataset_id);

    bundle_info_t info;
    memset(&info, 0, sizeof(info));
    if (job->bundle_id != NULL && child_bundle_copy(c, e) != 0)
        return -1;
    dataset_rec_t ds;
    int building = job->state == JOB_BUILDING && job->bundle_id != NULL;
    if (!building) {
        if (dataset_id[0] == '\0')
            return err_set(e, 400, "training_invalid", "the job names no dataset");
        if (db_dataset_get(c->db, c->arena, job->workspace_id, dataset_id, &ds, e) != 0)
            return -1;
        /* The bytes the job was submitted on, not what later appends
         * made of the dataset (sql/0033). */
        char pinned[UUID_STR_LEN + 1];
        if (db_job_dataset_artifact(c->db, c->arena, job->id, pinned, e) != 0)
            return -1;
        if (pinned[0] != '\0')
            memcpy(ds.artifact_id, pinned, sizeof(pinned));
        /* Types the client set on the dataset's fields (Akkio v1's
         * `fields`): the worker reads those columns so (ml_data_retype). */
        /* The measured size decides the path (child_limits_t.inmem_max). */
        if (ds.rows > 0 && json_object_is_type(ds.fields, json_type_array))
            c->xmatrix = (double)ds.rows * (double)json_object_array_length(ds.fields) * 4.0;
        json_object *declared = db_dataset_declared_types(ds.fields);
        if (declared != NULL && json_object_is_type(spec, json_type_object))
            json_object_object_add(spec, "field_types", declared);
        else
            json_object_put(declared);
    }
    if (child_worker_start(c, spec, e) != 0)
        goto worker_failed;
    if (job->bundle_id != NULL) {
        /* The bundle's own spec may set another duration: the wall clock
         * follows it (still counted from the worker's start). */
        if (child_bundle_head(c, &info, &spec, e) != 0)
            goto worker_failed;
        c->wall_limit =
            trainer_job_duration(spec) * c->lim->wall_factor + c->lim->wall_grace;
        child_wall_arm(c);
    }
    int rc = building ? child_build(c, &info, dataset_id, e)
                      : db_artifact_read(c->db, ds.artifact_id, sink_train, c, e);
    if (rc != 0)
        goto worker_failed;
    close(c->in_fd);
    c->in_fd = -1;
    char *frame = NULL;
    size_t frame_len = 0;
    rc = child_read_result(c, &frame, &frame_len, e);
    err_t theirs; /* err_set adds to an error: keep the worker's apart */
    err_clear(&theirs);
    int verdict = child_worker_verdict(c, child_worker_wait(c, rc != 0), &theirs);
    if (rc != 0 || verdict != 0) {
        free(frame);
        if (verdict == -1)
            *e = theirs;
        return verdict == CHILD_WORKER_REPORTED ? verdict : -1;
    }
    if (child_stop) {
        free(frame);
        return stopped(e);
    }
    ml_result_t res;
    rc = child_parse_result(frame, frame_len, &res, e);
    free(frame);
    if (rc != 0)
        return -1;
    /* The models exist only in this process: while PostgreSQL is away
     * (a restart, a failover), wait for it rather than throw the work away.
     * The finish is fenced by the claim, so storing late is safe: if the
     * job was handed to someone else meanwhile, nothing is written. */
    double give_up = util_now_monotonic() + CHILD_STORE_WAIT, pause = 0.25;
    while ((rc = child_store(c, dataset_id, &res, lost, e)) != 0 && e->status == 503 &&
           !child_stop && util_now_monotonic() + pause < give_up) {
        log_warn("storing the result: %s; trying again in %.2g s", err_message(e), pause);
        err_clear(e);
        usleep((useconds_t)(pause * 1e6));
        pause = pause * 2 > 4 ? 4 : pause * 2;
    }
    ml_result_free(&res);
    return rc;

worker_failed:;
    /* The worker's own account of a failure (a CSV error it reported, the
     * wall clock) beats ours ("ended early"). */
    err_t theirs_too;
    err_clear(&theirs_too);
    int v = child_worker_verdict(c, child_worker_wait(c, 1), &theirs_too);
    int gone = e->count > 0 && strcmp(e->items[0].code, "worker_gone") == 0;
    if (wall_expired || (gone && v == -1)) {
        *e = theirs_too; /* the wall clock, or the worker's exit status: says more */
        return -1;
    }
    if (gone && v == CHILD_WORKER_REPORTED)
        return CHILD_WORKER_REPORTED;
    return -1;
}

int trainer_child_run(const child_args_t *a)
{
    if (sandbox_job_is(a->job))
        return sandbox_job_run(a); /* the user's own program: trainer/sandbox.h */
    /* Where the worker runs as our own user (a trainer that is not root),
     * this keeps our memory and /proc/<pid>/environ (the database URL) out
     * of its reach: not dumpable = no ptrace, no environ, no mem. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = child_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = child_on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    child_t c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.lim = a->limits ? a->limits : &child_limits_default;
    c.in_fd = c.res_fd = c.ds_fd = c.bundle_fd = -1;
    c.arena = arena_create(1 << 16);
    err_t e;
    err_clear(&e);
    int lost = 0;
    int rc = child_work(&c, &lost, &e);
    child_worker_wait(&c, 1);
    child_scratch_remove(&c);
    if (c.bundle_fd >= 0)
        close(c.bundle_fd);
    arena_destroy(c.arena);
    if (rc == CHILD_WORKER_REPORTED)
        return CHILD_EXIT_FAILED;
    if (rc != 0) {
        char line[PROTO_LINE_MAX];
        child_send(&c, line, proto_format_error(line, sizeof(line), e.status, err_message(&e)));
        /* The database went away under us: not the job's fault. */
        return e.status == 503 ? CHILD_EXIT_RETRY : CHILD_EXIT_FAILED;
    }
    return lost ? CHILD_EXIT_LOST : CHILD_EXIT_DONE;
}
