/*
 * test_common_stats.c — the pool's shared counters: what forked workers add
 * is seen whole by any of them, histograms are cumulative and agree with
 * their counts, and a later rendering never shows a smaller number.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/stats.h"
#include "tests/unit/unit.h"

Suite *suite_stats(void);

static void names(size_t i, const char **method, const char **pattern)
{
    static const char *const m[] = {"GET", "POST"};
    static const char *const p[] = {"/a/{id}", "/b"};
    *method = m[i];
    *pattern = p[i];
}

/* The value of the sample line starting with prefix (exactly), or -1. */
static long long sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *l = text; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, n) == 0 && l[n] == ' ')
            return strtoll(l + n + 1, NULL, 10);
    return -1;
}

START_TEST(stats_forked_workers_add_to_one_view)
{
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(stats_create(2, &e), 0);
    enum { WORKERS = 4, EACH = 500 };
    for (int w = 0; w < WORKERS; w++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            for (int i = 0; i < EACH; i++) {
                stats_request(0, i % 5 == 0 ? 404 : 200, 0.003);
                stats_request(2, 404, 0.0001); /* unmatched */
                stats_add(STATS_PREDICTIONS, 2);
            }
            stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_MODELS, 3);
            _exit(0);
        }
    }
    for (int w = 0; w < WORKERS; w++) {
        int st;
        ck_assert_int_gt(wait(&st), 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    arena_t *a = arena_create(4096);
    char *text = stats_render(a, NULL, names);
    ck_assert_int_eq(sample(text, "trainyard_http_requests_total{status=\"200\",class=\"2xx\"}"),
                     WORKERS * EACH * 4 / 5);
    ck_assert_int_eq(sample(text, "trainyard_http_requests_total{status=\"404\",class=\"4xx\"}"),
                     WORKERS * EACH + WORKERS * EACH / 5);
    ck_assert_int_eq(sample(text, "trainyard_predictions_total"), WORKERS * EACH * 2);
    /* The workers have exited: their gauges (and per-worker series) go. */
    ck_assert_int_eq(sample(text, "trainyard_model_cache_models"), 0);
    ck_assert_ptr_null(strstr(text, "trainyard_api_worker_requests_total{"));
    const char *l2 = "method=\"GET\",route=\"/a/{id}\",class=\"2xx\"";
    const char *dur = "trainyard_http_request_duration_seconds";
    char key[256];
    /* 3 ms: above the 2.5 ms bound, within 5 ms; cumulative from there on. */
    snprintf(key, sizeof(key), "%s_bucket{%s,le=\"0.0025\"}", dur, l2);
    ck_assert_int_eq(sample(text, key), 0);
    snprintf(key, sizeof(key), "%s_bucket{%s,le=\"0.005\"}", dur, l2);
    ck_assert_int_eq(sample(text, key), WORKERS * EACH * 4 / 5);
    snprintf(key, sizeof(key), "%s_bucket{%s,le=\"+Inf\"}", dur, l2);
    ck_assert_int_eq(sample(text, key), WORKERS * EACH * 4 / 5);
    snprintf(key, sizeof(key), "%s_count{%s}", dur, l2);
    ck_assert_int_eq(sample(text, key), WORKERS * EACH * 4 / 5);
    ck_assert_ptr_nonnull(strstr(text, "route=\"unmatched\",class=\"4xx\""));
    /* No request on POST /b: no series for it. */
    ck_assert_ptr_null(strstr(text, "route=\"/b\""));
    /* A parked request (status 0) is no answer: counted when answered. */
    stats_request(0, 0, 0.1);
    ck_assert_ptr_null(strstr(stats_render(a, NULL, names), "class=\"5xx\""));
    /* More requests later: nothing shown goes down. */
    stats_request(0, 200, 0.5);
    char *again = stats_render(a, NULL, names);
    ck_assert_int_eq(sample(again, "trainyard_http_requests_total{status=\"200\",class=\"2xx\"}"),
                     WORKERS * EACH * 4 / 5 + 1);
    arena_destroy(a);
}
END_TEST

START_TEST(stats_without_a_region_does_nothing)
{
    /* Programs that never call stats_create (the trainer, the CLI) may
     * still link code that counts. */
    stats_add(STATS_UPLOAD_BYTES, 5);
    stats_request(0, 200, 0.1);
    arena_t *a = arena_create(4096);
    char *text = stats_render(a, "x\n", names);
    ck_assert_ptr_nonnull(text);
    ck_assert(strncmp(text, "x\n", 2) == 0);
    arena_destroy(a);
}
END_TEST

Suite *suite_stats(void)
{
    /* Without a region first: the other test maps one for the process. */
    const TTest *const t[] = {stats_without_a_region_does_nothing,
                              stats_forked_workers_add_to_one_view};
    return unit_suite("stats", t, sizeof(t) / sizeof(t[0]));
}
