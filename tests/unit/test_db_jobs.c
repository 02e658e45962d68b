/*
 * test_db_jobs.c — the parts of db/ that answer without a server: state
 * names, input validation that happens before any SQL is sent, and the
 * mapping of an unreachable server to 503. (The queue itself is tested
 * against PostgreSQL by tests/db/test_queue.c.)
 */
#include <check.h>
#include <string.h>

#include "common/arena.h"
#include "db/auth.h"
#include "db/db.h"
#include "db/jobs.h"
#include "db/trainings.h"
#include "tests/unit/unit.h"

Suite *suite_db_jobs(void);

/* A server that cannot exist: connecting fails at once. */
#define NOWHERE "host=/nonexistent-trainyard-dir dbname=x connect_timeout=1"

START_TEST(db_jobs_state_names_roundtrip)
{
    for (int s = JOB_QUEUED; s <= JOB_TIMED_OUT; s++) {
        job_state_t back;
        ck_assert_int_eq(job_state_parse(job_state_name((job_state_t)s), &back), 0);
        ck_assert_int_eq(back, s);
        ck_assert_int_eq(job_state_is_final((job_state_t)s), s >= JOB_SUCCEEDED);
    }
    job_state_t x;
    ck_assert_int_eq(job_state_parse("PENDING", &x), -1);
    ck_assert_int_eq(job_state_parse(NULL, &x), -1);
    ck_assert_str_eq(job_state_name((job_state_t)42), "unknown");
}
END_TEST

START_TEST(db_jobs_server_down_is_503)
{
    db_t *db = db_new(NOWHERE);
    arena_t *a = arena_create(0);
    err_t e;
    err_clear(&e);
    job_t j;
    ck_assert_int_eq(db_job_get(db, a, 1, "00000000-0000-4000-8000-000000000000", &j, &e), -1);
    ck_assert_int_eq(e.status, 503);
    ck_assert_str_eq(e.retry_after, "1");
    ck_assert_ptr_null(db_pg(db));
    ck_assert_uint_eq(db_generation(db), 0);
    arena_destroy(a);
    db_close(db);
}
END_TEST

START_TEST(db_jobs_bad_ids_are_404_before_sql)
{
    db_t *db = db_new(NOWHERE);
    arena_t *a = arena_create(0);
    err_t e;
    err_clear(&e);
    job_t j;
    ck_assert_int_eq(db_job_get(db, a, 1, "1; DROP TABLE jobs", &j, &e), -1);
    ck_assert_int_eq(e.status, 404);
    err_clear(&e);
    job_state_t after;
    ck_assert_int_eq(db_job_kill(db, a, 1, "nope", &after, &e), -1);
    ck_assert_int_eq(e.status, 404);
    ck_assert_str_eq(e.items[0].code, "JOB_NOT_FOUND");
    ck_assert_str_eq(e.items[0].message, "There is no job with id: nope");
    arena_destroy(a);
    db_close(db);
}
END_TEST

START_TEST(db_jobs_auth_rejects_malformed_keys_first)
{
    db_t *db = db_new(NOWHERE);
    arena_t *a = arena_create(0);
    err_t e;
    auth_t au;
    const char *bad[] = {"", "ty_", "ty_0123456789ab", "Bearer x",
                         "ty_0123456789AB_00000000000000000000000000000000000000000000000000000000"
                         "00000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        ck_assert_int_eq(db_key_check(db, a, bad[i], &au, &e), -1);
        ck_assert_int_eq(e.status, 401);
    }
    /* Well-formed: it has to ask the server, which is down. */
    err_clear(&e);
    ck_assert_int_eq(db_key_check(db, a,
                                  "ty_0123456789ab_0000000000000000000000000000000000000000000000"
                                  "000000000000000000",
                                  &au, &e),
                     -1);
    ck_assert_int_eq(e.status, 503);
    err_clear(&e);
    ck_assert_int_eq(db_workspace_create(db, a, "a b", NULL, &e), -1);
    ck_assert_int_eq(e.status, 400);
    arena_destroy(a);
    db_close(db);
}
END_TEST

START_TEST(db_jobs_training_query_whitelist)
{
    db_t *db = db_new(NOWHERE);
    arena_t *a = arena_create(0);
    err_t e;
    err_clear(&e);
    training_query_t q;
    memset(&q, 0, sizeof(q));
    q.limit = 100;
    static const char *const one[] = {"1"};
    training_node_t cond = {.kind = TRAINING_COND, .field = "accuracy\" OR 1=1 --", .op = "eq",
                            .values = one, .n_values = 1, .param = "accuracy\" OR 1=1 --"};
    q.where = &cond;
    json_object *out;
    ck_assert_int_eq(db_training_list(db, a, 1, &q, &out, &e), -1);
    ck_assert_int_eq(e.status, 400);
    err_clear(&e);
    cond = (training_node_t){.kind = TRAINING_COND, .field = "mae", .op = "regex",
                             .values = one, .n_values = 1, .param = "mae_regex"};
    long long n;
    ck_assert_int_eq(db_training_count(db, a, 1, &q, &n, &e), -1);
    ck_assert_int_eq(e.status, 400);
    ck_assert_str_eq(e.items[0].field, "query/mae_regex");
    err_clear(&e);
    q.where = NULL;
    q.sorts[0].field = "id; DELETE";
    q.n_sorts = 1;
    ck_assert_int_eq(db_training_list(db, a, 1, &q, &out, &e), -1);
    ck_assert_int_eq(e.status, 400);
    err_clear(&e);
    q.sorts[0].field = "binaryPath"; /* valid: reaches the (absent) server */
    ck_assert_int_eq(db_training_list(db, a, 1, &q, &out, &e), -1);
    ck_assert_int_eq(e.status, 503);
    arena_destroy(a);
    db_close(db);
}
END_TEST

Suite *suite_db_jobs(void)
{
    const TTest *const t[] = {db_jobs_state_names_roundtrip, db_jobs_server_down_is_503,
                              db_jobs_bad_ids_are_404_before_sql,
                              db_jobs_auth_rejects_malformed_keys_first,
                              db_jobs_training_query_whitelist};
    return unit_suite("db_jobs", t, sizeof(t) / sizeof(t[0]));
}
