/*
 * queue_bench.c — the job queue's two figures, through the real db/ code.
 *
 *   TRAINYARD_DATABASE_URL=<scratch db> build/bench/queue_bench [jobs] [throughput_jobs]
 *
 * 1. Pickup latency: one process enqueues jobs one at a time (the API's
 *    single-statement INSERT + pg_notify); another waits the way an idle
 *    trainer does (LISTEN, poll on the socket, then the claim statement) and
 *    reports when its claim returned. Latency = claim returned - enqueue
 *    returned (commit acknowledged). Targets: p50 <= 2 ms, p99 <= 6 ms.
 * 2. Throughput: N empty jobs are queued, then 4 worker processes claim and
 *    finish them (db_job_claim + db_job_finish) until the queue is empty.
 *    Target: >= 2,000 jobs/s.
 *
 * The database must be a scratch one: the workers claim whatever is queued.
 * Migrations are applied first (TRAINYARD_SQL_DIR or the checkout's sql/).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include "db/auth.h"
#include "db/db.h"
#include "db/jobs.h"
#include "db/migrate.h"

#define WORKERS 4

static const char *url;

static void die(const char *what, const err_t *e)
{
    fprintf(stderr, "queue_bench: %s: %s\n", what, err_message(e));
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The idle trainer: LISTEN, wait, claim, finish, report the claim time. */
static void listener(int ready_fd, int report_fd, int jobs)
{
    err_t e;
    err_clear(&e);
    db_t *db = db_open(url, &e);
    if (db == NULL || db_exec(db, "LISTEN " JOBS_CHANNEL, &e) != 0)
        die("listener", &e);
    arena_t *a = arena_create(0);
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1)
        exit(1);
    for (int done = 0; done < jobs;) {
        int rc = db_wait_notify(db, 5, NULL, 0, NULL, 0, &e);
        if (rc < 0)
            die("wait", &e);
        if (rc == 0)
            continue;
        for (;;) {
            job_t j;
            int got = 0;
            arena_reset(a);
            if (db_job_claim(db, a, "bench-listener", 30, &j, &got, &e) != 0)
                die("claim", &e);
            if (!got)
                break;
            double t = util_now_monotonic();
            if (write(report_fd, &t, sizeof(t)) != sizeof(t))
                exit(1);
            int lost;
            if (db_job_finish(db, a, j.id, "bench-listener", j.attempts, JOB_SUCCEEDED, NULL, NULL, &lost,
                              &e) != 0)
                die("finish", &e);
            done++;
        }
    }
    arena_destroy(a);
    db_close(db);
    _exit(0);
}

static void bench_latency(db_t *db, long long ws, int jobs)
{
    int ready[2], report[2];
    if (pipe(ready) != 0 || pipe(report) != 0)
        exit(1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(report[0]);
        listener(ready[1], report[1], jobs);
    }
    close(ready[1]);
    close(report[1]);
    char c;
    if (read(ready[0], &c, 1) != 1)
        exit(1);
    arena_t *a = arena_create(0);
    double *lat = calloc((size_t)jobs, sizeof(double));
    double *lat_start = calloc((size_t)jobs, sizeof(double));
    err_t e;
    err_clear(&e);
    for (int i = 0; i < jobs; i++) {
        job_t j;
        memset(&j, 0, sizeof(j));
        j.workspace_id = ws;
        j.dialect = "akkio";
        arena_reset(a);
        double t0 = util_now_monotonic();
        if (db_job_enqueue(db, a, &j, NULL, &e) != 0)
            die("enqueue", &e);
        double t1 = util_now_monotonic();
        double claimed;
        if (read(report[0], &claimed, sizeof(claimed)) != sizeof(claimed))
            exit(1);
        lat[i] = (claimed - t1) * 1000.0;
        lat_start[i] = (claimed - t0) * 1000.0;
    }
    int st;
    waitpid(pid, &st, 0);
    qsort(lat, (size_t)jobs, sizeof(double), cmp_double);
    qsort(lat_start, (size_t)jobs, sizeof(double), cmp_double);
    printf("pickup latency over %d jobs (enqueue commit -> claim returned):\n", jobs);
    printf("  p50 %.3f ms   p90 %.3f ms   p99 %.3f ms   max %.3f ms   (targets p50 <= 2, p99 <= 6)\n",
           lat[jobs / 2], lat[jobs * 9 / 10], lat[jobs * 99 / 100], lat[jobs - 1]);
    printf("  from the start of the enqueue call: p50 %.3f ms   p99 %.3f ms\n",
           lat_start[jobs / 2], lat_start[jobs * 99 / 100]);
    free(lat);
    free(lat_start);
    arena_destroy(a);
}

static void worker(int report_fd, int id)
{
    err_t e;
    err_clear(&e);
    db_t *db = db_open(url, &e);
    if (db == NULL)
        die("worker", &e);
    arena_t *a = arena_create(0);
    char me[32];
    snprintf(me, sizeof(me), "bench-worker-%d", id);
    int done = 0;
    for (;;) {
        job_t j;
        int got = 0, lost = 0;
        arena_reset(a);
        if (db_job_claim(db, a, me, 30, &j, &got, &e) != 0)
            die("claim", &e);
        if (!got)
            break;
        if (db_job_finish(db, a, j.id, me, j.attempts, JOB_SUCCEEDED, NULL, NULL, &lost, &e) != 0)
            die("finish", &e);
        done++;
    }
    if (write(report_fd, &done, sizeof(done)) != sizeof(done))
        _exit(1);
    _exit(0);
}

static void bench_throughput(db_t *db, long long ws, int jobs)
{
    static const db_stmt_t fill = {
        "bench_fill",
        "INSERT INTO jobs (workspace_id, dialect) SELECT $1, 'akkio' FROM generate_series(1, $2)",
        2};
    arena_t *a = arena_create(0);
    err_t e;
    err_clear(&e);
    char wsb[32], nb[32];
    snprintf(wsb, sizeof(wsb), "%lld", ws);
    snprintf(nb, sizeof(nb), "%d", jobs);
    const char *p[2] = {wsb, nb};
    if (db_query(db, a, &fill, p, NULL, &e) != 0 || db_exec(db, "ANALYZE jobs", &e) != 0)
        die("fill", &e);
    int report[2];
    if (pipe(report) != 0)
        exit(1);
    double t0 = util_now_monotonic();
    pid_t kids[WORKERS];
    fflush(NULL);
    for (int i = 0; i < WORKERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(report[0]);
            worker(report[1], i);
        }
    }
    close(report[1]);
    int total = 0;
    for (int i = 0; i < WORKERS; i++) {
        int done = 0, st;
        if (read(report[0], &done, sizeof(done)) == sizeof(done))
            total += done;
        waitpid(kids[i], &st, 0);
    }
    double secs = util_now_monotonic() - t0;
    printf("claim + finish throughput, %d worker processes:\n", WORKERS);
    printf("  %d jobs in %.2f s = %.0f jobs/s   (target >= 2000)\n", total, secs, total / secs);
    if (total != jobs)
        printf("  WARNING: %d jobs queued, %d processed\n", jobs, total);
    arena_destroy(a);
}

int main(int argc, char **argv)
{
    log_init("queue_bench", LOG_WARN);
    url = getenv("TRAINYARD_DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "queue_bench: set TRAINYARD_DATABASE_URL (a scratch database)\n");
        return 2;
    }
    int latency_jobs = argc > 1 ? atoi(argv[1]) : 2000;
    int throughput_jobs = argc > 2 ? atoi(argv[2]) : 20000;
    if (latency_jobs < 10 || throughput_jobs < 10) {
        fprintf(stderr, "usage: queue_bench [latency_jobs >= 10] [throughput_jobs >= 10]\n");
        return 2;
    }
    err_t e;
    err_clear(&e);
    db_t *db = db_open(url, &e);
    if (db == NULL)
        die("connect", &e);
    char dir[PATH_MAX];
    if (db_migrate_default_dir(dir, sizeof(dir), &e) != 0 || db_migrate(db, dir, NULL, &e) != 0)
        die("migrate", &e);
    arena_t *a = arena_create(0);
    char name[64];
    unsigned char r[4];
    util_random_bytes(r, sizeof(r), &e);
    char hex[9];
    util_hex(r, sizeof(r), hex);
    snprintf(name, sizeof(name), "queue-bench-%s", hex);
    long long ws;
    if (db_workspace_create(db, a, name, &ws, &e) != 0)
        die("workspace", &e);
    bench_latency(db, ws, latency_jobs);
    bench_throughput(db, ws, throughput_jobs);
    arena_destroy(a);
    db_close(db);
    return 0;
}
