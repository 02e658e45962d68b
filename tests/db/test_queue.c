/*
 * test_queue.c — db/ against a real PostgreSQL (TRAINYARD_DATABASE_URL).
 *
 * Applies the migrations (twice: the second run must apply nothing), then
 * exercises auth, artifacts, datasets, the job queue (enqueue + NOTIFY,
 * dedupe, claim, heartbeat, kill, finish-once, release, reaper), logs,
 * models, trainings and reconnection; sharing (fair claim, running and
 * queued limits, upload limits), lease fencing by attempt, crash retries
 * and key revocation by SQL; and finally races three processes over 200
 * jobs: every job must be claimed and finished exactly once.
 *
 * The database should be a scratch one (tests/db/run.sh makes one): the
 * race claims whatever is queued. Prints one line per check that fails and
 * a summary; exits non-zero on any failure.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"
#include "db/artifacts.h"
#include "db/auth.h"
#include "db/counters.h"
#include "db/datasets.h"
#include "db/db.h"
#include "db/jobs.h"
#include "db/limits.h"
#include "db/migrate.h"
#include "db/models.h"
#include "db/trainings.h"

static int checks, failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        checks++;                                                         \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

static const char *url;
static const char *owner_url; /* migrations run as the owner role */
static char suffix[16];

/* Migrations as the owner; then the application role (the rest of this
 * test) can read the history but change no schema (sql/0010). */
static void test_migrate(db_t *app)
{
    err_t e;
    err_clear(&e);
    db_t *db = db_open(owner_url, &e);
    CHECK(db != NULL, "owner connection: %s", err_message(&e));
    if (db == NULL)
        return;
    char dir[4096];
    int applied = -1;
    CHECK(db_migrate_default_dir(dir, sizeof(dir), &e) == 0, "%s", err_message(&e));
    CHECK(db_migrate(db, dir, &applied, &e) == 0, "%s", err_message(&e));
    applied = -1;
    CHECK(db_migrate(db, dir, &applied, &e) == 0, "%s", err_message(&e));
    CHECK(applied == 0, "second migrate applied %d", applied);
    /* Two processes migrating at once: both succeed, nothing applied twice. */
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            err_t ce;
            err_clear(&ce);
            db_t *cdb = db_open(owner_url, &ce);
            int n = 0;
            _exit(cdb && db_migrate(cdb, dir, &n, &ce) == 0 && n == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "concurrent migrate %d failed", i);
    }
    db_close(db);
    if (owner_url == url)
        return; /* one role for everything: nothing to tell apart */
    static const char *const refused[] = {
        "CREATE TABLE app_may_not (a int)", "DROP TABLE jobs", "TRUNCATE job_logs",
        "ALTER TABLE jobs ADD COLUMN x int", "DELETE FROM schema_migrations",
        "CREATE TRIGGER t BEFORE INSERT ON jobs EXECUTE FUNCTION pg_catalog.now()"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        err_clear(&e);
        CHECK(db_exec(app, refused[i], &e) == -1, "the application role may: %s", refused[i]);
    }
    err_clear(&e);
    CHECK(db_exec(app, "SELECT count(*) FROM schema_migrations", &e) == 0, "history: %s",
          err_message(&e));
}

static long long make_workspace(db_t *db, arena_t *a, const char *base, char *key)
{
    err_t e;
    err_clear(&e);
    char name[64];
    snprintf(name, sizeof(name), "%s-%s", base, suffix);
    long long id = 0;
    CHECK(db_workspace_create(db, a, name, &id, &e) == 0, "%s", err_message(&e));
    if (key)
        CHECK(db_key_create(db, a, name, key, &e) == 0, "%s", err_message(&e));
    return id;
}

static void test_auth(db_t *db, arena_t *a)
{
    err_t e;
    err_clear(&e);
    char key[AUTH_KEY_MAX];
    long long ws = make_workspace(db, a, "auth", key);
    auth_t au;
    memset(&au, 0, sizeof(au));
    CHECK(db_key_check(db, a, key, &au, &e) == 0, "%s", err_message(&e));
    CHECK(au.workspace_id == ws, "workspace %lld", au.workspace_id);
    char bad[AUTH_KEY_MAX];
    snprintf(bad, sizeof(bad), "%s", key);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    err_clear(&e);
    CHECK(db_key_check(db, a, bad, &au, &e) == -1 && e.status == 401, "wrong secret accepted");
    err_clear(&e);
    CHECK(db_key_check(db, a, "ty_zz", &au, &e) == -1 && e.status == 401, "malformed accepted");
    err_clear(&e);
    CHECK(db_key_revoke(db, a, key, &e) == 0, "%s", err_message(&e));
    CHECK(db_key_check(db, a, key, &au, &e) == -1 && e.status == 401, "revoked key accepted");
    err_clear(&e);
    char name[64];
    snprintf(name, sizeof(name), "auth-%s", suffix);
    CHECK(db_workspace_create(db, a, name, NULL, &e) == -1 && e.status == 409, "dup workspace");
    err_clear(&e);
    CHECK(db_workspace_create(db, a, "no spaces", NULL, &e) == -1 && e.status == 400, "bad name");
}

static int cmp_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    sha256_update(ctx, buf, n);
    (void)e;
    return 0;
}

static void test_artifacts(db_t *db, arena_t *a, long long ws, char *artifact_out)
{
    err_t e;
    err_clear(&e);
    size_t n = 3 * 1024 * 1024 + 12345;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    char want[SHA256_HEX_LEN + 1];
    sha256_hex(buf, n, want);
    CHECK(db_begin(db, &e) == 0, "%s", err_message(&e));
    artifact_writer_t *w = db_artifact_begin(db, ws, "dataset", &e);
    CHECK(w != NULL, "%s", err_message(&e));
    for (size_t off = 0; w && off < n; off += 100000)
        CHECK(db_artifact_write(w, buf + off, n - off < 100000 ? n - off : 100000, &e) == 0,
              "%s", err_message(&e));
    artifact_info_t info;
    CHECK(w && db_artifact_finish(w, &info, &e) == 0, "%s", err_message(&e));
    CHECK(db_commit(db, &e) == 0, "%s", err_message(&e));
    CHECK(info.size == n, "size %llu", info.size);
    CHECK(strcmp(info.sha256, want) == 0, "sha %s", info.sha256);
    sha256_t *h = sha256_new();
    CHECK(db_artifact_read(db, info.id, cmp_sink, h, &e) == 0, "%s", err_message(&e));
    char got[SHA256_HEX_LEN + 1];
    sha256_finish_hex(h, got);
    CHECK(strcmp(got, want) == 0, "read back differs");
    void *loaded;
    size_t ln;
    CHECK(db_artifact_load(db, a, info.id, &loaded, &ln, &e) == 0 && ln == n &&
              memcmp(loaded, buf, n) == 0, "load differs");
    artifact_reader_t *r = db_artifact_open(db, info.id, &e);
    size_t total = 0;
    char chunk[70000];
    long k;
    while (r && (k = db_artifact_pull(r, chunk, sizeof(chunk), &e)) > 0) {
        CHECK(memcmp(chunk, buf + total, (size_t)k) == 0, "pull differs at %zu", total);
        total += (size_t)k;
    }
    db_artifact_close(r);
    CHECK(total == n, "pulled %zu", total);
    /* An aborted upload leaves nothing behind. */
    CHECK(db_begin(db, &e) == 0, "%s", err_message(&e));
    w = db_artifact_begin(db, ws, "bundle", &e);
    CHECK(w && db_artifact_write(w, buf, 1000, &e) == 0, "%s", err_message(&e));
    db_artifact_abort(w);
    db_rollback(db);
    err_clear(&e);
    CHECK(db_artifact_stat(db, a, "00000000-0000-0000-0000-000000000000", &info, &e) == -1 &&
              e.status == 404, "missing artifact");
    snprintf(artifact_out, UUID_STR_LEN + 1, "%s", got[0] ? info.id : "");
    free(buf);
}

static void test_jobs(db_t *db, arena_t *a, long long ws, long long other_ws,
                      const char *dataset_id)
{
    err_t e;
    err_clear(&e);
    db_t *listener = db_open(url, &e);
    CHECK(listener && db_exec(listener, "LISTEN " JOBS_CHANNEL "; LISTEN " KILL_CHANNEL, &e) == 0,
          "%s", err_message(&e));

    job_t j;
    memset(&j, 0, sizeof(j));
    j.workspace_id = ws;
    j.dialect = "akkio";
    j.spec = json_tokener_parse("{\"predict_fields\":[\"y\"],\"duration\":5}");
    j.dataset_id = dataset_id;
    j.dedupe_key = "k1";
    int existing = -1;
    CHECK(db_job_enqueue(db, a, &j, &existing, &e) == 0, "%s", err_message(&e));
    CHECK(existing == 0 && util_is_uuid(j.id), "enqueue id %s", j.id);
    char ch[64], payload[64];
    CHECK(db_wait_notify(listener, 2, ch, sizeof(ch), payload, sizeof(payload), &e) == 1 &&
              strcmp(ch, JOBS_CHANNEL) == 0 && strcmp(payload, j.id) == 0,
          "notify %s %s", ch, payload);
    job_t dup = j;
    memset(dup.id, 0, sizeof(dup.id));
    CHECK(db_job_enqueue(db, a, &dup, &existing, &e) == 0 && existing == 1 &&
              strcmp(dup.id, j.id) == 0, "dedupe");
    job_t got;
    CHECK(db_job_get(db, a, ws, j.id, &got, &e) == 0 && got.state == JOB_QUEUED &&
              got.priority == 100 && got.max_attempts == 3, "get");
    err_clear(&e);
    CHECK(db_job_get(db, a, other_ws, j.id, &got, &e) == -1 && e.status == 404,
          "other workspace sees job");
    err_clear(&e);
    CHECK(db_job_get(db, a, ws, "not-a-uuid", &got, &e) == -1 && e.status == 404, "bad id");
    err_clear(&e);

    /* claim -> heartbeat -> kill request -> finish killed */
    int have = 0;
    job_t c;
    CHECK(db_job_claim(db, a, "t1", 5, &c, &have, &e) == 0 && have, "claim %s", err_message(&e));
    CHECK(strcmp(c.id, j.id) == 0 && c.state == JOB_RUNNING && c.attempts == 1 &&
              c.started_at > 0, "claimed row");
    job_t none;
    CHECK(db_job_claim(db, a, "t2", 5, &none, &have, &e) == 0 && !have, "queue not empty");
    int kill_req = -1, lost = -1;
    CHECK(db_job_heartbeat(db, a, c.id, "t1", c.attempts, 5, 0.5, 3, &kill_req, &lost, &e) == 0 &&
              kill_req == 0 && lost == 0, "heartbeat");
    CHECK(db_job_heartbeat(db, a, c.id, "t2", c.attempts, 5, 0.5, 3, &kill_req, &lost, &e) == 0 && lost == 1,
          "heartbeat by non-owner");
    job_state_t after;
    CHECK(db_job_kill(db, a, ws, c.id, &after, &e) == 0 && after == JOB_RUNNING, "kill running");
    CHECK(db_wait_notify(listener, 2, ch, sizeof(ch), payload, sizeof(payload), &e) == 1 &&
              strcmp(ch, KILL_CHANNEL) == 0 && strcmp(payload, c.id) == 0, "kill notify %s", ch);
    CHECK(db_job_heartbeat(db, a, c.id, "t1", c.attempts, 5, 0.6, -1, &kill_req, &lost, &e) == 0 &&
              kill_req == 1 && lost == 0, "kill flag via heartbeat");
    CHECK(db_job_finish(db, a, c.id, "t2", c.attempts, JOB_SUCCEEDED, NULL, NULL, &lost, &e) == 0 && lost,
          "finish by non-owner");
    CHECK(db_job_finish(db, a, c.id, "t1", c.attempts, JOB_KILLED, "killed", NULL, &lost, &e) == 0 && !lost,
          "finish");
    CHECK(db_job_finish(db, a, c.id, "t1", c.attempts, JOB_FAILED, "again", NULL, &lost, &e) == 0 && lost,
          "second finish wrote");
    CHECK(db_job_get(db, a, ws, c.id, &got, &e) == 0 && got.state == JOB_KILLED &&
              got.finished_at > 0 && got.lease_owner == NULL, "killed state");
    CHECK(db_job_kill(db, a, ws, c.id, &after, &e) == -1 && e.status == 400 &&
              strcmp(e.items[0].code, "JOB_NOT_RUNNING") == 0, "kill final: %s", e.items[0].code);
    err_clear(&e);
    CHECK(db_job_kill(db, a, ws, "00000000-0000-4000-8000-000000000000", &after, &e) == -1 &&
              e.status == 404 && strcmp(e.items[0].code, "JOB_NOT_FOUND") == 0 &&
              strstr(e.items[0].message, "There is no job with id: ") != NULL, "kill unknown");
    err_clear(&e);
    /* After a kill the dedupe key is free again. */
    memset(dup.id, 0, sizeof(dup.id));
    CHECK(db_job_enqueue(db, a, &dup, &existing, &e) == 0 && existing == 0, "dedupe after kill");
    CHECK(db_job_kill(db, a, ws, dup.id, &after, &e) == 0 && after == JOB_KILLED, "kill queued");

    /* Priority then age. */
    job_t lo = j, hi = j;
    lo.dedupe_key = hi.dedupe_key = NULL;
    lo.priority = 200;
    hi.priority = 10;
    CHECK(db_job_enqueue(db, a, &lo, NULL, &e) == 0 && db_job_enqueue(db, a, &hi, NULL, &e) == 0,
          "enqueue two");
    CHECK(db_job_claim(db, a, "t1", 0.2, &c, &have, &e) == 0 && have && strcmp(c.id, hi.id) == 0,
          "priority order");
    /* Release hands it back without counting the attempt. */
    CHECK(db_job_release(db, a, c.id, "t1", c.attempts, &e) == 0, "release");
    CHECK(db_job_get(db, a, ws, hi.id, &got, &e) == 0 && got.state == JOB_QUEUED &&
              got.attempts == 0, "released state %d attempts %d", got.state, got.attempts);
    /* Reaper: expired leases come back until attempts run out. */
    for (int attempt = 1; attempt <= 3; attempt++) {
        CHECK(db_job_claim(db, a, "t1", 0.05, &c, &have, &e) == 0 && have &&
                  strcmp(c.id, hi.id) == 0 && c.attempts == attempt, "claim attempt %d", attempt);
        usleep(120000);
        int rq = -1, to = -1;
        CHECK(db_job_reap(db, a, &rq, &to, &e) == 0, "%s", err_message(&e));
        CHECK(attempt < 3 ? (rq == 1 && to == 0) : (rq == 0 && to == 1), "reap %d: %d %d",
              attempt, rq, to);
        CHECK(db_job_finish(db, a, c.id, "t1", c.attempts, JOB_SUCCEEDED, NULL, NULL, &lost, &e) == 0 && lost,
              "finish after reap must not write");
    }
    CHECK(db_job_get(db, a, ws, hi.id, &got, &e) == 0 && got.state == JOB_TIMED_OUT &&
              got.error != NULL, "timed out");
    /* Expired and kill requested -> killed. */
    CHECK(db_job_claim(db, a, "t1", 0.05, &c, &have, &e) == 0 && have && strcmp(c.id, lo.id) == 0,
          "claim lo");
    CHECK(db_job_kill(db, a, ws, lo.id, &after, &e) == 0, "kill lo");
    usleep(120000);
    CHECK(db_job_reap(db, a, NULL, NULL, &e) == 0, "reap");
    CHECK(db_job_get(db, a, ws, lo.id, &got, &e) == 0 && got.state == JOB_KILLED, "reaped kill");

    /* Logs. */
    const char *lines[] = {"first", "second \"quoted\"", "third\ttab"};
    CHECK(db_job_log_append(db, a, lo.id, "train", lines, 3, &e) == 0, "%s", err_message(&e));
    json_object *logs = NULL;
    CHECK(db_job_logs(db, a, ws, lo.id, 0, 10, &logs, &e) == 0 &&
              json_object_array_length(logs) == 3, "logs");
    long long seq1 = json_object_get_int64(
        json_object_object_get(json_object_array_get_idx(logs, 0), "seq"));
    CHECK(db_job_logs(db, a, ws, lo.id, seq1, 10, &logs, &e) == 0 &&
              json_object_array_length(logs) == 2 &&
              strcmp(json_object_get_string(json_object_object_get(
                         json_object_array_get_idx(logs, 0), "line")), lines[1]) == 0,
          "logs after");
    err_clear(&e);
    CHECK(db_job_logs(db, a, other_ws, lo.id, 0, 10, &logs, &e) == -1 && e.status == 404,
          "logs of another workspace");
    err_clear(&e);

    /* Bundle jobs build first. */
    job_t b;
    memset(&b, 0, sizeof(b));
    b.workspace_id = ws;
    b.dialect = "workspace";
    char bundle[UUID_STR_LEN + 1];
    CHECK(db_begin(db, &e) == 0, "begin");
    artifact_writer_t *w = db_artifact_begin(db, ws, "bundle", &e);
    artifact_info_t bi;
    CHECK(w && db_artifact_write(w, "x", 1, &e) == 0 && db_artifact_finish(w, &bi, &e) == 0,
          "bundle artifact");
    snprintf(bundle, sizeof(bundle), "%s", bi.id);
    b.bundle_id = bundle;
    CHECK(db_job_enqueue_in_tx(db, a, &b, NULL, &e) == 0 && db_commit(db, &e) == 0,
          "enqueue in tx");
    CHECK(db_job_claim(db, a, "t1", 5, &c, &have, &e) == 0 && have && c.state == JOB_BUILDING,
          "bundle claimed building");
    CHECK(db_job_built(db, a, c.id, "t9", c.attempts, dataset_id, &e) == -1, "built by non-owner");
    err_clear(&e);
    CHECK(db_job_built(db, a, c.id, "t1", c.attempts, dataset_id, &e) == 0, "%s", err_message(&e));
    json_object *res = json_tokener_parse("{\"status\":\"success\",\"model_id\":\"m\"}");
    CHECK(db_job_finish(db, a, c.id, "t1", c.attempts, JOB_SUCCEEDED, NULL, res, &lost, &e) == 0 && !lost,
          "finish bundle");
    json_object_put(res);
    CHECK(db_job_get(db, a, ws, c.id, &got, &e) == 0 && got.state == JOB_SUCCEEDED &&
              got.progress == 1 && got.result != NULL &&
              strcmp(got.dataset_id, dataset_id) == 0, "bundle result");

    long long counts[7];
    CHECK(db_job_counts(db, a, ws, counts, &e) == 0 && counts[JOB_KILLED] == 3 &&
              counts[JOB_TIMED_OUT] == 1 && counts[JOB_SUCCEEDED] == 1, "counts %lld %lld %lld",
          counts[JOB_KILLED], counts[JOB_TIMED_OUT], counts[JOB_SUCCEEDED]);
    job_t *list;
    size_t n;
    CHECK(db_job_list(db, a, ws, 2, 0, &list, &n, &e) == 0 && n == 2 &&
              strcmp(list[0].id, c.id) == 0, "list newest first");
    /* Datasets in use cannot go. */
    job_t q = j;
    q.dedupe_key = NULL;
    CHECK(db_job_enqueue(db, a, &q, NULL, &e) == 0, "enqueue q");
    CHECK(db_dataset_delete(db, a, ws, dataset_id, &e) == -1 && e.status == 409, "busy dataset");
    err_clear(&e);
    CHECK(db_job_kill(db, a, ws, q.id, &after, &e) == 0, "kill q");
    double age = -2;
    CHECK(db_trainer_seen(db, a, "t1", "host", 42, 2, &e) == 0 &&
              db_trainer_last_seen_age(db, a, &age, &e) == 0 && age >= 0 && age < 5, "trainer");
    json_object_put(j.spec);
    db_close(listener);
}

static void test_datasets_models(db_t *db, arena_t *a, long long ws, long long other_ws,
                                 const char *artifact, char *dataset_out)
{
    err_t e;
    err_clear(&e);
    dataset_rec_t d;
    memset(&d, 0, sizeof(d));
    d.workspace_id = ws;
    d.name = "iris.csv";
    d.rows = 150;
    d.fields = json_tokener_parse("[{\"name\":\"a\",\"type\":\"number\",\"missing\":0}]");
    snprintf(d.artifact_id, sizeof(d.artifact_id), "%s", artifact);
    d.size = 10;
    CHECK(db_dataset_insert(db, a, &d, &e) == 0 && util_is_uuid(d.id), "%s", err_message(&e));
    json_object_put(d.fields);
    dataset_rec_t g;
    CHECK(db_dataset_get(db, a, ws, d.id, &g, &e) == 0 && g.rows == 150 &&
              strcmp(g.name, "iris.csv") == 0 && json_object_array_length(g.fields) == 1, "get");
    err_clear(&e);
    CHECK(db_dataset_get(db, a, other_ws, d.id, &g, &e) == -1 && e.status == 404, "isolation");
    err_clear(&e);
    dataset_rec_t *list;
    size_t n;
    long long total;
    CHECK(db_dataset_list(db, a, ws, 10, 0, &list, &n, &total, &e) == 0 && n == 1 && total == 1,
          "list");
    snprintf(dataset_out, UUID_STR_LEN + 1, "%s", d.id);

    /* A second dataset to delete. */
    dataset_rec_t d2 = d;
    d2.fields = NULL;
    CHECK(db_begin(db, &e) == 0, "begin");
    artifact_writer_t *w = db_artifact_begin(db, ws, "dataset", &e);
    artifact_info_t ai;
    CHECK(w && db_artifact_write(w, "a\n1\n", 4, &e) == 0 && db_artifact_finish(w, &ai, &e) == 0,
          "artifact");
    snprintf(d2.artifact_id, sizeof(d2.artifact_id), "%s", ai.id);
    CHECK(db_dataset_insert(db, a, &d2, &e) == 0 && db_commit(db, &e) == 0, "insert 2");
    CHECK(db_dataset_delete(db, a, ws, d2.id, &e) == 0, "%s", err_message(&e));
    CHECK(db_dataset_get(db, a, ws, d2.id, &g, &e) == -1 && e.status == 404, "deleted");
    err_clear(&e);
    CHECK(db_artifact_stat(db, a, ai.id, &ai, &e) == -1 && e.status == 404, "artifact gone");
    err_clear(&e);
    CHECK(db_dataset_delete(db, a, ws, d2.id, &e) == -1 && e.status == 404, "delete twice");
    err_clear(&e);
}

static void test_models(db_t *db, arena_t *a, long long ws, long long other_ws,
                        const char *dataset_id, const char *artifact)
{
    err_t e;
    err_clear(&e);
    job_t j;
    memset(&j, 0, sizeof(j));
    j.workspace_id = ws;
    j.dialect = "strapi";
    j.dataset_id = dataset_id;
    CHECK(db_job_enqueue(db, a, &j, NULL, &e) == 0, "enqueue");
    const char *fields[] = {"b", "a"};
    char ids[2][UUID_STR_LEN + 1];
    for (int i = 0; i < 2; i++) {
        model_rec_t m;
        memset(&m, 0, sizeof(m));
        m.workspace_id = ws;
        snprintf(m.job_id, sizeof(m.job_id), "%s", j.id);
        m.dataset_id = dataset_id;
        m.predict_field = fields[i];
        m.task = "binary";
        m.metrics = json_tokener_parse("{\"accuracy\":0.5}");
        snprintf(m.artifact_id, sizeof(m.artifact_id), "%s", artifact);
        CHECK(db_model_insert(db, a, &m, &e) == 0, "%s", err_message(&e));
        json_object_put(m.metrics);
        snprintf(ids[i], sizeof(ids[i]), "%s", m.id);
    }
    model_rec_t *list;
    size_t n;
    CHECK(db_model_list_for_job(db, a, ws, j.id, &list, &n, &e) == 0 && n == 2 &&
              strcmp(list[0].predict_field, "b") == 0 && strcmp(list[1].id, ids[1]) == 0,
          "model order");
    model_rec_t m;
    CHECK(db_model_get(db, a, ws, ids[0], &m, &e) == 0 && m.metrics != NULL, "model get");
    CHECK(db_model_get(db, a, other_ws, ids[0], &m, &e) == -1 && e.status == 404, "isolation");
    err_clear(&e);
    job_state_t after;
    db_job_kill(db, a, ws, j.id, &after, &e);
}

static void test_trainings(db_t *db, arena_t *a, long long ws, long long other_ws)
{
    err_t e;
    err_clear(&e);
    json_object *doc = NULL;
    int existing = -1;
    json_object *f = json_tokener_parse(
        "{\"uuid\":\"u1\",\"accuracy\":0.75,\"precission\":0.5,\"mae\":1,\"rmse\":2,"
        "\"binaryPath\":\"/b\",\"version\":\"1\",\"meta\":\"{}\"}");
    CHECK(db_training_create(db, a, ws, f, NULL, "alice", &doc, &existing, &e) == 0 &&
              existing == 0, "%s", err_message(&e));
    const char *id = arena_strdup(a, json_object_get_string(json_object_object_get(doc, "id")));
    CHECK(json_object_get_double(json_object_object_get(doc, "accuracy")) == 0.75 &&
              json_object_get_string(json_object_object_get(doc, "published_at")) != NULL &&
              strcmp(json_object_get_string(json_object_object_get(doc, "created_by")), "alice") == 0,
          "doc %s", json_object_to_json_string(doc));
    CHECK(db_training_create(db, a, ws, f, NULL, "alice", &doc, &existing, &e) == 0 &&
              existing == 1, "same again");
    json_object_object_add(f, "accuracy", json_object_new_double(0.1));
    CHECK(db_training_create(db, a, ws, f, NULL, "alice", &doc, &existing, &e) == -1 &&
              e.status == 409, "conflict");
    err_clear(&e);
    json_object *f2 = json_tokener_parse("{\"uuid\":\"u2\",\"accuracy\":0.9}");
    CHECK(db_training_create(db, a, ws, f2, NULL, NULL, &doc, &existing, &e) == 0, "second");
    CHECK(db_training_get(db, a, ws, id, &doc, &e) == 0, "get");
    CHECK(db_training_get(db, a, other_ws, id, &doc, &e) == -1 && e.status == 404, "isolation");
    err_clear(&e);
    training_query_t q;
    memset(&q, 0, sizeof(q));
    q.sorts[0] = (training_sort_t){"accuracy", 1};
    q.n_sorts = 1;
    q.limit = 100;
    json_object *arr;
    CHECK(db_training_list(db, a, ws, &q, &arr, &e) == 0 && json_object_array_length(arr) == 2 &&
              strcmp(json_object_get_string(json_object_object_get(
                         json_object_array_get_idx(arr, 0), "uuid")), "u2") == 0, "sorted list");
    /* One condition: field, operator, value (the tree handlers/strapi_query.c builds). */
    const char *value[1] = {"0.8"};
    training_node_t cond = {.kind = TRAINING_COND, .field = "accuracy", .op = "lt",
                            .values = value, .n_values = 1, .param = "accuracy_lt"};
    q.where = &cond;
    long long count = -1;
    CHECK(db_training_list(db, a, ws, &q, &arr, &e) == 0 && json_object_array_length(arr) == 1 &&
              db_training_count(db, a, ws, &q, &count, &e) == 0 && count == 1, "filter");
    value[0] = "1";
    cond.field = "accuracy; DROP TABLE jobs";
    cond.op = "eq";
    CHECK(db_training_list(db, a, ws, &q, &arr, &e) == -1 && e.status == 400, "bad field");
    err_clear(&e);
    cond.field = "accuracy";
    cond.op = "like";
    CHECK(db_training_count(db, a, ws, &q, &count, &e) == -1 && e.status == 400, "bad op");
    err_clear(&e);
    cond.op = "eq";
    value[0] = "abc";
    CHECK(db_training_count(db, a, ws, &q, &count, &e) == -1 && e.status == 400, "bad number");
    err_clear(&e);
    q.where = NULL;
    q.sorts[0].field = "nope";
    CHECK(db_training_list(db, a, ws, &q, &arr, &e) == -1 && e.status == 400 &&
              strcmp(e.items[0].field, "query/_sort") == 0, "bad sort");
    err_clear(&e);
    q.n_sorts = 0;
    q.limit = 1;
    q.start = 1;
    CHECK(db_training_list(db, a, ws, &q, &arr, &e) == 0 && json_object_array_length(arr) == 1,
          "limit/start");
    json_object *upd = json_tokener_parse("{\"version\":\"2\",\"mae\":null}");
    CHECK(db_training_update(db, a, ws, id, upd, "bob", &doc, &e) == 0 &&
              strcmp(json_object_get_string(json_object_object_get(doc, "version")), "2") == 0 &&
              json_object_object_get(doc, "mae") == NULL &&
              json_object_get_double(json_object_object_get(doc, "rmse")) == 2, "update");
    json_object *clash = json_tokener_parse("{\"uuid\":\"u2\"}");
    CHECK(db_training_update(db, a, ws, id, clash, "bob", &doc, &e) == -1 && e.status == 409,
          "uuid clash");
    err_clear(&e);
    CHECK(db_training_delete(db, a, ws, id, &doc, &e) == 0, "delete");
    CHECK(db_training_get(db, a, ws, id, &doc, &e) == -1 && e.status == 404, "deleted");
    err_clear(&e);
    /* A document linked to a job is filled in when the job finishes. */
    job_t j;
    memset(&j, 0, sizeof(j));
    j.workspace_id = ws;
    j.dialect = "strapi";
    CHECK(db_job_enqueue(db, a, &j, NULL, &e) == 0, "enqueue");
    json_object *f3 = json_tokener_parse("{\"uuid\":\"u3\",\"meta\":{\"predict_fields\":[\"y\"]}}");
    CHECK(db_training_create(db, a, ws, f3, j.id, "alice", &doc, &existing, &e) == 0, "linked");
    const char *id3 = arena_strdup(a, json_object_get_string(json_object_object_get(doc, "id")));
    json_object *metrics = json_tokener_parse("{\"accuracy\":0.93,\"precision\":0.91}");
    CHECK(db_training_job_finished(db, a, j.id, metrics, "/api/v1/models/x", "1", &e) == 0,
          "job finished");
    CHECK(db_training_get(db, a, ws, id3, &doc, &e) == 0 &&
              json_object_get_double(json_object_object_get(doc, "accuracy")) == 0.93 &&
              json_object_get_double(json_object_object_get(doc, "precission")) == 0.91 &&
              strcmp(json_object_get_string(json_object_object_get(doc, "binaryPath")),
                     "/api/v1/models/x") == 0, "filled %s", json_object_to_json_string(doc));
    job_state_t after;
    db_job_kill(db, a, ws, j.id, &after, &e);
    json_object_put(f);
    json_object_put(f2);
    json_object_put(f3);
    json_object_put(upd);
    json_object_put(clash);
    json_object_put(metrics);
}

static void test_reconnect(db_t *db, arena_t *a, long long ws)
{
    err_t e;
    err_clear(&e);
    job_t got;
    /* Kill our own backend from another connection. */
    PGresult *r = PQexec(db_pg(db), "SELECT pg_backend_pid()");
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", PQgetvalue(r, 0, 0));
    PQclear(r);
    unsigned gen = db_generation(db);
    db_t *other = db_open(url, &e);
    CHECK(other && db_exec(other, sql, &e) == 0, "terminate");
    db_close(other);
    usleep(100000);
    int rc = db_job_get(db, a, ws, "00000000-0000-4000-8000-000000000000", &got, &e);
    CHECK(rc == -1 && e.status == 503 && strcmp(e.retry_after, "1") == 0, "503 after loss: %d",
          e.status);
    err_clear(&e);
    rc = db_job_get(db, a, ws, "00000000-0000-4000-8000-000000000000", &got, &e);
    CHECK(rc == -1 && e.status == 404, "recovered: %d %s", e.status, err_message(&e));
    CHECK(db_generation(db) == gen + 1, "generation");
    err_clear(&e);
    db_t *down = db_new("host=/nonexistent-dir dbname=x connect_timeout=1");
    CHECK(db_ensure(down, &e) == -1 && e.status == 503, "server down");
    db_close(down);
}

/* Runs one SQL statement (no parameters) on db; the result or NULL. */
static PGresult *sql(db_t *db, arena_t *a, const char *text)
{
    err_t e;
    err_clear(&e);
    PGresult *res = NULL;
    CHECK(db_query_sql(db, a, text, 0, NULL, &res, &e) == 0, "%s: %s", text, err_message(&e));
    return res;
}

static int enqueue_n(db_t *db, arena_t *a, long long ws, const char *dataset_id, int n,
                     err_t *e)
{
    for (int i = 0; i < n; i++) {
        job_t j;
        memset(&j, 0, sizeof(j));
        j.workspace_id = ws;
        j.dialect = "akkio";
        j.dataset_id = dataset_id;
        if (db_job_enqueue(db, a, &j, NULL, e) != 0)
            return -1;
    }
    return 0;
}

/* Fair claiming: the workspace with the fewest running jobs goes next;
 * a workspace at max_running is skipped. Runs on an empty queue. */
static void test_fair_claim(db_t *db, arena_t *a, const char *dataset_id)
{
    err_t e;
    err_clear(&e);
    long long big = make_workspace(db, a, "flood", NULL);
    long long small = make_workspace(db, a, "small", NULL);
    /* The flood is older and higher priority than the small one's job. */
    CHECK(enqueue_n(db, a, big, dataset_id, 5, &e) == 0, "%s", err_message(&e));
    CHECK(enqueue_n(db, a, small, dataset_id, 2, &e) == 0, "%s", err_message(&e));
    job_t c1, c2, c3, c4;
    int have = 0;
    CHECK(db_job_claim(db, a, "f1", 30, &c1, &have, &e) == 0 && have && c1.workspace_id == big,
          "first claim: oldest job (ties at 0 running)");
    CHECK(db_job_claim(db, a, "f1", 30, &c2, &have, &e) == 0 && have && c2.workspace_id == small,
          "second claim: the workspace with nothing running, not the flood");
    CHECK(db_job_claim(db, a, "f1", 30, &c3, &have, &e) == 0 && have && c3.workspace_id == big,
          "third: 1 running each, the older head wins");
    CHECK(db_job_claim(db, a, "f1", 30, &c4, &have, &e) == 0 && have && c4.workspace_id == small,
          "fourth: small has 1 running, flood 2");
    /* Running limit: the flood may run 2 at most; it has 2 running. */
    char q[160];
    snprintf(q, sizeof(q), "UPDATE workspaces SET max_running = 2 WHERE id = %lld", big);
    sql(db, a, q);
    job_t c5;
    CHECK(db_job_claim(db, a, "f1", 30, &c5, &have, &e) == 0 && !have,
          "a workspace at max_running is skipped (got %s)", have ? "a job" : "none");
    int lost = 0;
    CHECK(db_job_finish(db, a, c1.id, "f1", c1.attempts, JOB_SUCCEEDED, NULL, NULL, &lost, &e) == 0
              && !lost, "finish c1");
    CHECK(db_job_claim(db, a, "f1", 30, &c5, &have, &e) == 0 && have && c5.workspace_id == big,
          "below the limit again: claimable");
    snprintf(q, sizeof(q),
             "UPDATE jobs SET state = 'killed', lease_owner = NULL WHERE workspace_id IN (%lld, %lld)"
             " AND state IN ('queued', 'running')", big, small);
    sql(db, a, q);

    /* One slot, claim then finish: every claim is a tie at 0 running, and
     * ties go round-robin, not to the workspace that flooded first. */
    long long ws3[3] = {make_workspace(db, a, "rr-flood", NULL), make_workspace(db, a, "rr-a", NULL),
                        make_workspace(db, a, "rr-b", NULL)};
    CHECK(enqueue_n(db, a, ws3[0], dataset_id, 4, &e) == 0 &&
              enqueue_n(db, a, ws3[1], dataset_id, 2, &e) == 0 &&
              enqueue_n(db, a, ws3[2], dataset_id, 1, &e) == 0, "%s", err_message(&e));
    static const int want[7] = {0, 1, 2, 0, 1, 0, 0};
    char order[8] = "", expect[8] = "";
    for (int i = 0; i < 7; i++) {
        job_t c;
        expect[i] = (char)('0' + want[i]);
        order[i] = '?';
        if (db_job_claim(db, a, "rr", 30, &c, &have, &e) != 0 || !have)
            continue;
        for (int k = 0; k < 3; k++)
            if (c.workspace_id == ws3[k])
                order[i] = (char)('0' + k);
        db_job_finish(db, a, c.id, "rr", c.attempts, JOB_SUCCEEDED, NULL, NULL, &lost, &e);
        usleep(2000); /* started_at has microseconds; keep the claims apart */
    }
    CHECK(strcmp(order, expect) == 0, "round-robin claim order %s, want %s", order, expect);
}

/* max_queued is exact, also with 8 processes racing for the last places. */
static void test_queued_limit(db_t *db, arena_t *a, const char *dataset_id)
{
    err_t e;
    err_clear(&e);
    long long ws = make_workspace(db, a, "limited", NULL);
    char q[200];
    snprintf(q, sizeof(q), "UPDATE workspaces SET max_queued = 3 WHERE id = %lld", ws);
    sql(db, a, q);
    CHECK(enqueue_n(db, a, ws, dataset_id, 3, &e) == 0, "%s", err_message(&e));
    err_clear(&e);
    CHECK(enqueue_n(db, a, ws, dataset_id, 1, &e) == -1 && e.status == 429 &&
              strcmp(e.items[0].code, "limit_exceeded") == 0 &&
              strstr(e.items[0].message, "max_queued = 3") != NULL,
          "4th job: %d %s", e.status, err_message(&e));
    err_clear(&e);
    /* A claim frees a place (the bound is recounted). */
    job_t c;
    int have = 0;
    CHECK(db_job_claim(db, a, "ql", 30, &c, &have, &e) == 0 && have && c.workspace_id == ws,
          "claim");
    CHECK(enqueue_n(db, a, ws, dataset_id, 1, &e) == 0, "after a claim: %s", err_message(&e));
    /* Requeues are never refused, even past the limit. */
    usleep(1000);
    snprintf(q, sizeof(q), "UPDATE jobs SET lease_expires_at = now() - interval '1 s'"
                           " WHERE id = '%s'", c.id);
    sql(db, a, q);
    CHECK(db_job_reap(db, a, NULL, NULL, &e) == 0, "reap");
    job_t got;
    CHECK(db_job_get(db, a, ws, c.id, &got, &e) == 0 && got.state == JOB_QUEUED, "requeued");
    /* Race: 8 processes, 3 places. */
    snprintf(q, sizeof(q), "UPDATE jobs SET state = 'killed' WHERE workspace_id = %lld", ws);
    sql(db, a, q);
    pid_t kids[8];
    for (int i = 0; i < 8; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            err_t ce;
            err_clear(&ce);
            db_t *cdb = db_open(url, &ce);
            arena_t *ca = arena_create(0);
            int rc = cdb ? enqueue_n(cdb, ca, ws, dataset_id, 1, &ce) : -1;
            _exit(rc == 0 ? 0 : ce.status == 429 ? 1 : 2);
        }
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
        refused += WIFEXITED(st) && WEXITSTATUS(st) == 1;
    }
    CHECK(ok == 3 && refused == 5, "race: %d in, %d refused (want 3, 5)", ok, refused);
    snprintf(q, sizeof(q), "UPDATE jobs SET state = 'killed' WHERE workspace_id = %lld", ws);
    sql(db, a, q);
}

/* A stale claim (same trainer id, older attempt) can neither renew nor end
 * the job's newer claim; a crash retry counts attempts and names them. */
static void test_fencing_and_retry(db_t *db, arena_t *a, const char *dataset_id)
{
    err_t e;
    err_clear(&e);
    long long ws = make_workspace(db, a, "fence", NULL);
    CHECK(enqueue_n(db, a, ws, dataset_id, 1, &e) == 0, "%s", err_message(&e));
    job_t old, cur;
    int have = 0, lost = 0, kill_req = 0;
    CHECK(db_job_claim(db, a, "same", 0.05, &old, &have, &e) == 0 && have && old.attempts == 1,
          "claim 1");
    usleep(100000);
    CHECK(db_job_reap(db, a, NULL, NULL, &e) == 0, "reap");
    CHECK(db_job_claim(db, a, "same", 30, &cur, &have, &e) == 0 && have &&
              strcmp(cur.id, old.id) == 0 && cur.attempts == 2, "claim 2 by the same trainer id");
    CHECK(db_job_heartbeat(db, a, old.id, "same", old.attempts, 30, 0.5, -1, &kill_req, &lost,
                           &e) == 0 && lost, "stale heartbeat refused");
    CHECK(db_job_finish(db, a, old.id, "same", old.attempts, JOB_SUCCEEDED, NULL, NULL, &lost,
                        &e) == 0 && lost, "stale finish refused");
    job_state_t after = JOB_QUEUED;
    CHECK(db_job_retry(db, a, old.id, "same", old.attempts, "training process crashed (signal 9)",
                       &after, &lost, &e) == 0 && lost, "stale retry refused");
    job_t got;
    CHECK(db_job_get(db, a, ws, cur.id, &got, &e) == 0 && got.state == JOB_RUNNING &&
              got.attempts == 2, "current claim untouched");
    CHECK(db_job_heartbeat(db, a, cur.id, "same", cur.attempts, 30, 0.5, -1, &kill_req, &lost,
                           &e) == 0 && !lost, "current heartbeat");
    /* Crashes: attempt 2 -> queued again; attempt 3 -> failed, named. */
    CHECK(db_job_retry(db, a, cur.id, "same", cur.attempts, "training process crashed (signal 9)",
                       &after, &lost, &e) == 0 && !lost && after == JOB_QUEUED, "retry 2");
    CHECK(db_job_claim(db, a, "other", 30, &cur, &have, &e) == 0 && have && cur.attempts == 3,
          "claim 3");
    CHECK(db_job_retry(db, a, cur.id, "other", cur.attempts, "training process crashed (signal 9)",
                       &after, &lost, &e) == 0 && !lost && after == JOB_FAILED, "retry 3 fails");
    CHECK(db_job_get(db, a, ws, cur.id, &got, &e) == 0 && got.state == JOB_FAILED &&
              got.error != NULL &&
              strcmp(got.error, "training process crashed (signal 9) on attempt 3 of 3") == 0,
          "error: %s", got.error ? got.error : "(null)");
    /* A kill asked for before the crash is recorded wins: never retried. */
    CHECK(enqueue_n(db, a, ws, dataset_id, 1, &e) == 0, "%s", err_message(&e));
    CHECK(db_job_claim(db, a, "k", 30, &cur, &have, &e) == 0 && have, "claim k");
    CHECK(db_job_kill(db, a, ws, cur.id, &after, &e) == 0, "kill");
    CHECK(db_job_retry(db, a, cur.id, "k", cur.attempts, "training process crashed (signal 9)",
                       &after, &lost, &e) == 0 && !lost && after == JOB_KILLED, "killed stays killed");
    /* Built is fenced too. */
    CHECK(db_job_built(db, a, cur.id, "k", cur.attempts, dataset_id, &e) == -1 &&
              e.status == 409, "built after the end");
    err_clear(&e);
}

/* Uploads: bytes (413) and datasets (429) limits, checked under the usage
 * row lock; counters follow artifacts and datasets. */
static void test_upload_limits(db_t *db, arena_t *a)
{
    err_t e;
    err_clear(&e);
    long long ws = make_workspace(db, a, "bytes", NULL);
    char name[64], q[200];
    snprintf(name, sizeof(name), "bytes-%s", suffix);
    ws_limits_t set = {0, 0, 1000, 1};
    CHECK(db_limits_set(db, a, name, &set, &e) == 0, "%s", err_message(&e));
    ws_limits_t l;
    ws_usage_t u;
    CHECK(db_limits_get(db, a, name, &l, &u, &e) == 0 && l.max_bytes == 1000 &&
              l.max_datasets == 1 && l.max_queued == 100000 && u.bytes == 0, "get");
    CHECK(db_limits_precheck(db, a, ws, 2000, 1, &e) == -1 && e.status == 413 &&
              strstr(e.items[0].message, "max_bytes = 1000") != NULL, "precheck bytes: %s",
          err_message(&e));
    err_clear(&e);
    CHECK(db_limits_precheck(db, a, ws, 500, 1, &e) == 0, "precheck fits");
    /* 600 bytes fit, then 600 more do not. */
    for (int round = 0; round < 2; round++) {
        CHECK(db_begin(db, &e) == 0, "begin");
        artifact_writer_t *w = db_artifact_begin(db, ws, "dataset", &e);
        char buf[600];
        memset(buf, 'x', sizeof(buf));
        artifact_info_t ai;
        CHECK(w && db_artifact_write(w, buf, sizeof(buf), &e) == 0 &&
                  db_artifact_finish(w, &ai, &e) == 0, "artifact");
        int rc = db_limits_check_upload(db, a, ws, &e);
        if (round == 0) {
            CHECK(rc == 0 && db_commit(db, &e) == 0, "first upload: %s", err_message(&e));
        } else {
            CHECK(rc == -1 && e.status == 413, "second upload: %d", e.status);
            db_rollback(db);
            err_clear(&e);
        }
    }
    CHECK(db_limits_get(db, a, name, &l, &u, &e) == 0 && u.bytes == 600, "bytes %lld", u.bytes);
    snprintf(q, sizeof(q), "DELETE FROM artifacts WHERE workspace_id = %lld", ws);
    sql(db, a, q);
    CHECK(db_limits_get(db, a, name, &l, &u, &e) == 0 && u.bytes == 0, "after delete %lld",
          u.bytes);
    /* Datasets: one allowed. */
    snprintf(q, sizeof(q), "INSERT INTO datasets (workspace_id, name) VALUES (%lld, 'd')", ws);
    sql(db, a, q);
    CHECK(db_limits_precheck(db, a, ws, 10, 1, &e) == -1 && e.status == 429 &&
              strstr(e.items[0].message, "max_datasets = 1") != NULL, "datasets: %s",
          err_message(&e));
    err_clear(&e);
    CHECK(db_limits_set(db, a, "no-such-workspace", &set, &e) == -1 && e.status == 404, "404");
    err_clear(&e);
}

/* A key revoked or deleted by plain SQL notifies the key caches. */
static void test_key_revoke_by_sql(db_t *db, arena_t *a)
{
    err_t e;
    err_clear(&e);
    char key[AUTH_KEY_MAX];
    make_workspace(db, a, "revoke", key);
    db_t *listener = db_open(url, &e);
    CHECK(listener && db_exec(listener, "LISTEN " AUTH_KEYS_CHANNEL, &e) == 0, "listen");
    char prefix[13];
    memcpy(prefix, key + 3, 12);
    prefix[12] = '\0';
    char q[160];
    snprintf(q, sizeof(q), "UPDATE api_keys SET revoked_at = now() WHERE prefix = '%s'", prefix);
    sql(db, a, q);
    char ch[64] = "", payload[64] = "";
    CHECK(db_wait_notify(listener, 2, ch, sizeof(ch), payload, sizeof(payload), &e) == 1 &&
              strcmp(ch, AUTH_KEYS_CHANNEL) == 0 && strcmp(payload, prefix) == 0,
          "update notify: %s %s", ch, payload);
    snprintf(q, sizeof(q), "DELETE FROM api_keys WHERE prefix = '%s'", prefix);
    sql(db, a, q);
    CHECK(db_wait_notify(listener, 2, ch, sizeof(ch), payload, sizeof(payload), &e) == 1 &&
              strcmp(payload, prefix) == 0, "delete notify: %s", payload);
    db_close(listener);
}

/* Three processes race over 200 jobs; each claims and finishes what it gets. */
static void test_race(db_t *db, arena_t *a, long long ws, const char *dataset_id)
{
    err_t e;
    err_clear(&e);
    const int jobs = 200, procs = 3;
    for (int i = 0; i < jobs; i++) {
        job_t j;
        memset(&j, 0, sizeof(j));
        j.workspace_id = ws;
        j.dialect = "akkio";
        j.dataset_id = dataset_id;
        CHECK(db_job_enqueue(db, a, &j, NULL, &e) == 0, "%s", err_message(&e));
    }
    int pipes[3][2];
    pid_t kids[3];
    for (int p = 0; p < procs; p++) {
        if (pipe(pipes[p]) != 0)
            abort();
        kids[p] = fork();
        if (kids[p] == 0) {
            err_t ce;
            err_clear(&ce);
            db_t *cdb = db_open(url, &ce);
            arena_t *ca = arena_create(0);
            char me[16];
            snprintf(me, sizeof(me), "race%d", p);
            int done = 0, have = 1, lost_any = 0;
            while (cdb && have) {
                job_t c;
                arena_reset(ca);
                if (db_job_claim(cdb, ca, me, 30, &c, &have, &ce) != 0)
                    break;
                if (!have)
                    break;
                int lost = 0;
                if (db_job_finish(cdb, ca, c.id, me, c.attempts, JOB_SUCCEEDED, NULL, NULL, &lost, &ce) != 0 ||
                    lost)
                    lost_any = 1;
                done++;
            }
            ssize_t ignored = write(pipes[p][1], &done, sizeof(done));
            (void)ignored;
            _exit(lost_any ? 2 : 0);
        }
        close(pipes[p][1]);
    }
    int total = 0;
    for (int p = 0; p < procs; p++) {
        int st, done = 0;
        if (read(pipes[p][0], &done, sizeof(done)) != sizeof(done))
            done = -1000;
        close(pipes[p][0]);
        waitpid(kids[p], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer %d", p);
        total += done;
    }
    CHECK(total == jobs, "claimed %d of %d", total, jobs);
    static const db_stmt_t st = {
        "test_race_check",
        "SELECT count(*) FILTER (WHERE state = 'succeeded' AND attempts = 1) AS ok,"
        " count(*) AS n FROM jobs WHERE workspace_id = $1 AND dialect = 'akkio'"
        " AND dedupe_key IS NULL AND spec = '{}'",
        1};
    char wsbuf[32];
    snprintf(wsbuf, sizeof(wsbuf), "%lld", ws);
    const char *p[1] = {wsbuf};
    PGresult *res;
    CHECK(db_query(db, a, &st, p, &res, &e) == 0, "%s", err_message(&e));
    CHECK(db_get_ll(res, 0, "ok", -1) == jobs && db_get_ll(res, 0, "n", -1) == jobs,
          "each job once: %s of %s", db_get(res, 0, "ok"), db_get(res, 0, "n"));
}

/* The trigger-kept counts (sql/0011) agree with counting the jobs table,
 * per workspace and overall, before and after folding the deltas. */
static void test_counts(db_t *db, arena_t *a, long long ws)
{
    err_t e;
    err_clear(&e);
    long long want[7], got[7];
    const long long scopes[2] = {ws, 0};
    for (int fold = 0; fold < 2; fold++) {
        long long folded = -1;
        if (fold)
            CHECK(db_job_counts_compact(db, &folded, &e) == 0 && folded >= 0, "fold: %s",
                  err_message(&e));
        for (int k = 0; k < 2; k++) {
            CHECK(db_job_counts(db, a, scopes[k], want, &e) == 0, "%s", err_message(&e));
            CHECK(db_job_counts_cached(db, a, scopes[k], got, &e) == 0, "%s", err_message(&e));
            for (int st = 0; st < 7; st++)
                CHECK(want[st] == got[st], "fold %d scope %lld state %d: %lld counted, %lld kept",
                      fold, scopes[k], st, want[st], got[st]);
        }
    }
}

int main(void)
{
    url = getenv("TRAINYARD_DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "test_queue: set TRAINYARD_DATABASE_URL (a scratch database)\n");
        return 2;
    }
    owner_url = getenv("TRAINYARD_OWNER_DATABASE_URL");
    if (owner_url == NULL || *owner_url == '\0')
        owner_url = url;
    unsigned char rnd[4];
    err_t e;
    err_clear(&e);
    util_random_bytes(rnd, sizeof(rnd), &e);
    util_hex(rnd, sizeof(rnd), suffix);
    db_t *db = db_open(url, &e);
    if (db == NULL) {
        fprintf(stderr, "test_queue: %s\n", err_message(&e));
        return 2;
    }
    arena_t *a = arena_create(0);
    test_migrate(db);
    test_auth(db, a);
    long long ws = make_workspace(db, a, "q", NULL);
    long long other = make_workspace(db, a, "other", NULL);
    char artifact[UUID_STR_LEN + 1], dataset[UUID_STR_LEN + 1];
    test_artifacts(db, a, ws, artifact);
    test_datasets_models(db, a, ws, other, artifact, dataset);
    test_jobs(db, a, ws, other, dataset);
    test_models(db, a, ws, other, dataset, artifact);
    test_trainings(db, a, ws, other);
    test_reconnect(db, a, ws);
    test_counts(db, a, ws);
    arena_reset(a);
    test_fair_claim(db, a, dataset);
    test_queued_limit(db, a, dataset);
    test_fencing_and_retry(db, a, dataset);
    test_upload_limits(db, a);
    test_key_revoke_by_sql(db, a);
    arena_reset(a);
    long long race_ws = make_workspace(db, a, "race", NULL);
    test_race(db, a, race_ws, dataset);
    arena_destroy(a);
    db_close(db);
    printf("test_queue: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
