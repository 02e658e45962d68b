/*
 * test_common.c — arena, err, util and cfg.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/cfg.h"
#include "common/err.h"
#include "common/runner.h"
#include "common/util.h"
#include "tests/unit/unit.h"

Suite *suite_arena(void);
Suite *suite_err(void);
Suite *suite_util(void);
Suite *suite_cfg(void);

static int cleanup_order[8];
static int cleanup_count;

static void record_cleanup(void *p)
{
    cleanup_order[cleanup_count++] = *(int *)p;
}

START_TEST(arena_alignment_and_growth)
{
    arena_t *a = arena_create(64);
    for (int i = 0; i < 10000; i++) {
        void *p = arena_alloc(a, (size_t)(i % 97) + 1);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)(i % 97) + 1);
    }
    char *big = arena_alloc(a, 1 << 20);
    memset(big, 1, 1 << 20);
    ck_assert_uint_ge(arena_used(a), 1 << 20);
    arena_reset(a);
    ck_assert_uint_eq(arena_used(a), 0);
    arena_destroy(a);
}
END_TEST

START_TEST(arena_cleanups_run_newest_first_on_reset)
{
    arena_t *a = arena_create(0);
    static int one = 1, two = 2, three = 3;
    cleanup_count = 0;
    arena_defer(a, record_cleanup, &one);
    arena_defer(a, record_cleanup, &two);
    arena_defer(a, record_cleanup, NULL); /* ignored */
    arena_defer(a, record_cleanup, &three);
    arena_reset(a);
    ck_assert_int_eq(cleanup_count, 3);
    ck_assert_int_eq(cleanup_order[0], 3);
    ck_assert_int_eq(cleanup_order[2], 1);
    arena_defer(a, record_cleanup, &one);
    arena_destroy(a);
    ck_assert_int_eq(cleanup_count, 4);
}
END_TEST

START_TEST(arena_strings)
{
    arena_t *a = arena_create(0);
    ck_assert_str_eq(arena_strdup(a, "abc"), "abc");
    ck_assert_str_eq(arena_strndup(a, "abcdef", 2), "ab");
    ck_assert_str_eq(arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
    ck_assert_ptr_null(arena_strdup(a, NULL));
    char *zeros = arena_calloc(a, 100, 4);
    for (int i = 0; i < 400; i++)
        ck_assert_int_eq(zeros[i], 0);
    arena_destroy(a);
}
END_TEST

START_TEST(err_items_and_status)
{
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(err_add(&e, 422, "missing", "body/dataset_id", "Field required"), -1);
    err_add(&e, 400, "int_parsing", "body/duration", "bad %d", 7);
    ck_assert_int_eq(e.status, 422);
    ck_assert_int_eq(e.count, 2);
    ck_assert_str_eq(e.items[1].message, "bad 7");
    err_wrap(&e, "upload");
    ck_assert_str_eq(err_message(&e), "upload: Field required");
    for (int i = 0; i < ERR_MAX_ITEMS + 3; i++)
        err_add(&e, 422, "x", "", "more");
    ck_assert_int_eq(e.count, ERR_MAX_ITEMS);
    ck_assert_int_eq(e.dropped, 5);
}
END_TEST

static void collect_segment(const char *seg, void *ctx)
{
    char *out = ctx;
    strcat(out, "[");
    strcat(out, seg);
    strcat(out, "]");
}

START_TEST(err_path_escapes_slashes)
{
    char path[ERR_FIELD_MAX] = "";
    err_path_append(path, sizeof(path), "body");
    err_path_append(path, sizeof(path), "od280/od315");
    err_path_append_index(path, sizeof(path), 3);
    err_path_append(path, sizeof(path), "a~b");
    ck_assert_str_eq(path, "body/od280~1od315/3/a~0b");
    char out[256] = "";
    err_path_each(path, collect_segment, out);
    ck_assert_str_eq(out, "[body][od280/od315][3][a~b]");
}
END_TEST

START_TEST(util_uuid_shape)
{
    err_t e;
    err_clear(&e);
    char a[UUID_STR_LEN + 1], b[UUID_STR_LEN + 1];
    ck_assert_int_eq(util_uuid_v4(a, &e), 0);
    ck_assert_int_eq(util_uuid_v4(b, &e), 0);
    ck_assert(util_is_uuid(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[14], '4');
    ck_assert(!util_is_uuid("not-a-uuid"));
    ck_assert(!util_is_uuid("0123456789abcdef0123456789abcdef0123"));
}
END_TEST

START_TEST(util_sha256_known_vectors)
{
    char hex[SHA256_HEX_LEN + 1];
    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_t *h = sha256_new();
    sha256_update(h, "a", 1);
    sha256_update(h, "bc", 2);
    sha256_finish_hex(h, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(util_ct_memcmp("abcd", "abcd", 4), 0);
    ck_assert_int_ne(util_ct_memcmp("abcd", "abce", 4), 0);
}
END_TEST

START_TEST(util_utf8_validation)
{
    ck_assert(util_utf8_valid("plain", 5));
    ck_assert(util_utf8_valid("caf\xc3\xa9", 5));
    ck_assert(util_utf8_valid("\xf0\x9f\x98\x80", 4));
    ck_assert(!util_utf8_valid("\xc3", 1));           /* truncated */
    ck_assert(!util_utf8_valid("\xc0\xaf", 2));       /* overlong '/' */
    ck_assert(!util_utf8_valid("\xed\xa0\x80", 3));   /* surrogate */
    ck_assert(!util_utf8_valid("\xff", 1));
}
END_TEST

typedef struct test_cfg {
    const char *name;
    int workers;
    size_t limit;
    double grace;
} test_cfg_t;

static const cfg_entry_t test_cfg_table[] = {
    {"name", "TY_TEST_NAME", "dflt", CFG_STRING, offsetof(test_cfg_t, name), "a name"},
    {"workers", "TY_TEST_WORKERS", "2", CFG_INT, offsetof(test_cfg_t, workers), "workers"},
    {"limit", "TY_TEST_LIMIT", "1m", CFG_SIZE, offsetof(test_cfg_t, limit), "limit"},
    {"grace", "TY_TEST_GRACE", "1.5", CFG_SECONDS, offsetof(test_cfg_t, grace), "grace"},
};

START_TEST(cfg_defaults_env_and_flags)
{
    test_cfg_t c;
    err_t e;
    err_clear(&e);
    setenv("TY_TEST_WORKERS", "7", 1);
    char *argv[] = {"prog", "--limit=64k", "--name", "x", NULL};
    ck_assert_int_eq(cfg_load(test_cfg_table, 4, &c, 4, argv, "prog", &e), 0);
    ck_assert_str_eq(c.name, "x");
    ck_assert_int_eq(c.workers, 7);
    ck_assert_uint_eq(c.limit, 64 * 1024);
    ck_assert(c.grace > 1.49 && c.grace < 1.51);
    unsetenv("TY_TEST_WORKERS");
}
END_TEST

START_TEST(cfg_rejects_bad_values)
{
    test_cfg_t c;
    err_t e;
    err_clear(&e);
    char *argv[] = {"prog", "--workers=many", NULL};
    ck_assert_int_eq(cfg_load(test_cfg_table, 4, &c, 2, argv, "prog", &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "workers"));
    err_clear(&e);
    char *argv2[] = {"prog", "--nope=1", NULL};
    ck_assert_int_eq(cfg_load(test_cfg_table, 4, &c, 2, argv2, "prog", &e), -1);
    size_t sz;
    ck_assert_int_eq(cfg_parse_size("2g", &sz), 0);
    ck_assert_uint_eq(sz, 2ULL << 30);
    ck_assert_int_eq(cfg_parse_size("-1", &sz), -1);
    ck_assert_int_eq(cfg_parse_size("12q", &sz), -1);
}
END_TEST

Suite *suite_arena(void)
{
    const TTest *const t[] = {arena_alignment_and_growth, arena_cleanups_run_newest_first_on_reset,
                        arena_strings};
    return unit_suite("arena", t, 3);
}

Suite *suite_err(void)
{
    const TTest *const t[] = {err_items_and_status, err_path_escapes_slashes};
    return unit_suite("err", t, 2);
}

Suite *suite_util(void)
{
    const TTest *const t[] = {util_uuid_shape, util_sha256_known_vectors, util_utf8_validation};
    return unit_suite("util", t, 3);
}

typedef struct runner_settings {
    int other;
    runner_cfg_t runner;
} runner_settings_t;

static const cfg_entry_t runner_table[] = {
    {"other", "TY_UNIT_OTHER", "1", CFG_INT, offsetof(runner_settings_t, other), "x"},
    RUNNER_CFG_ENTRIES(runner_settings_t, runner),
};

/* The runner's rows fill the struct as the defaults say, take the
 * environment and flags like any other, and the values are checked. */
START_TEST(cfg_runner_settings_in_the_table)
{
    runner_settings_t c;
    err_t e;
    err_clear(&e);
    setenv("TRAINYARD_SANDBOX_WALL", "7", 1);
    char *argv[] = {"prog", "--sandbox-tmp=8m", "--runner", "off", NULL};
    ck_assert_int_eq(cfg_load(runner_table, sizeof(runner_table) / sizeof(runner_table[0]), &c,
                              4, argv, "prog", &e), 0);
    unsetenv("TRAINYARD_SANDBOX_WALL");
    ck_assert_double_eq(c.runner.wall, 7);
    ck_assert_uint_eq(c.runner.tmp, (size_t)8 << 20);
    ck_assert_str_eq(c.runner.mode, "off");
    ck_assert_uint_eq(c.runner.memory, runner_cfg_default.memory);
    ck_assert_uint_eq(c.runner.unpack_memory, runner_cfg_default.unpack_memory);
    ck_assert_str_eq(c.runner.bwrap, runner_cfg_default.bwrap);
    ck_assert_ptr_null(c.runner.dir);
    ck_assert_int_eq(runner_cfg_check(&c.runner, &e), 0);
    char why[200] = "";
    ck_assert_int_eq(runner_available(&c.runner, why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "TRAINYARD_RUNNER=off"));

    runner_cfg_t r = runner_cfg_default;
    r.bwrap = "/nonexistent/bwrap";
    ck_assert_int_eq(runner_available(&r, why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "bubblewrap missing"));
    r = runner_cfg_default;
    r.mode = "docker";
    ck_assert_int_eq(runner_cfg_check(&r, &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "TRAINYARD_RUNNER"));
    err_clear(&e);
    r = runner_cfg_default;
    r.unpack_memory = 0; /* none: allowed (sanitizer builds) */
    ck_assert_int_eq(runner_cfg_check(&r, &e), 0);
    r.unpack_memory = 4096;
    ck_assert_int_eq(runner_cfg_check(&r, &e), -1);
    ck_assert_str_eq(e.items[0].field, "sandbox-unpack-memory");
    err_clear(&e);
    r = runner_cfg_default;
    r.dir = "relative/dir";
    ck_assert_int_eq(runner_cfg_check(&r, &e), -1);
}
END_TEST

Suite *suite_cfg(void)
{
    const TTest *const t[] = {cfg_defaults_env_and_flags, cfg_rejects_bad_values,
                              cfg_runner_settings_in_the_table};
    return unit_suite("cfg", t, sizeof(t) / sizeof(t[0]));
}
