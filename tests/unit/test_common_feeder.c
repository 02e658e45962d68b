/*
 * test_common_feeder.c — the producer/consumer hand-off of uploads: every
 * byte arrives in order however it is cut, the consumer's first error
 * reaches the producer, and a failed consumer never leaves it blocked.
 */
#include <check.h>
#include <string.h>

#include "common/feeder.h"
#include "tests/unit/unit.h"

Suite *suite_feeder(void);

typedef struct sink {
    char got[100000];
    size_t len;
    size_t fail_after; /* fail once this many bytes arrived; 0 = never */
} sink_t;

static int consume(void *ctx, const char *buf, size_t n, err_t *e)
{
    sink_t *s = ctx;
    if (s->fail_after > 0 && s->len >= s->fail_after)
        return err_set(e, 400, "csv_invalid", "row %zu: broken", s->len);
    memcpy(s->got + s->len, buf, n);
    s->len += n;
    return 0;
}

START_TEST(feeder_bytes_arrive_in_order)
{
    static sink_t s;
    memset(&s, 0, sizeof(s));
    err_t e;
    err_clear(&e);
    feeder_t *f = feeder_start(consume, &s, 3, 7, &e);
    ck_assert_ptr_nonnull(f);
    char src[50000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)('a' + i % 26);
    size_t off = 0, step = 1;
    while (off < sizeof(src)) {
        size_t k = step < sizeof(src) - off ? step : sizeof(src) - off;
        ck_assert_int_eq(feeder_put(f, src + off, k, &e), 0);
        off += k;
        step = step * 3 % 101 + 1;
    }
    ck_assert_int_eq(feeder_finish(f, &e), 0);
    ck_assert_uint_eq(s.len, sizeof(src));
    ck_assert_int_eq(memcmp(s.got, src, sizeof(src)), 0);
    ck_assert_int_eq(feeder_finish(NULL, &e), 0);
}
END_TEST

START_TEST(feeder_consumer_error_reaches_the_producer)
{
    static sink_t s;
    memset(&s, 0, sizeof(s));
    s.fail_after = 100;
    err_t e;
    err_clear(&e);
    feeder_t *f = feeder_start(consume, &s, 2, 10, &e);
    char chunk[10] = "0123456789";
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = feeder_put(f, chunk, sizeof(chunk), &e);
    ck_assert_int_eq(rc, -1); /* never blocked for good: the error came back */
    ck_assert_int_eq(e.status, 400);
    ck_assert_str_eq(err_message(&e), "row 100: broken");
    err_clear(&e);
    ck_assert_int_eq(feeder_finish(f, &e), -1);
    ck_assert_str_eq(err_message(&e), "row 100: broken");
}
END_TEST

Suite *suite_feeder(void)
{
    const TTest *const t[] = {feeder_bytes_arrive_in_order, feeder_consumer_error_reaches_the_producer};
    return unit_suite("feeder", t, sizeof(t) / sizeof(t[0]));
}
