/*
 * test_trainer_proto.c — the child-to-trainer line protocol (trainer/proto.h).
 */
#include <check.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "trainer/proto.h"

Suite *suite_trainer_proto(void);

START_TEST(trainer_proto_parses_messages)
{
    proto_msg_t m;
    ck_assert_int_eq(proto_parse("P 0.25 12.5", &m), 0);
    ck_assert_int_eq(m.kind, 'P');
    ck_assert_double_eq_tol(m.fraction, 0.25, 1e-9);
    ck_assert_double_eq_tol(m.estimate, 12.5, 1e-9);
    ck_assert_int_eq(proto_parse("P 7 -1", &m), 0);
    ck_assert_double_eq_tol(m.fraction, 1.0, 1e-9); /* clamped */
    ck_assert_int_eq(proto_parse("L hello world", &m), 0);
    ck_assert_str_eq(m.text, "hello world");
    ck_assert_int_eq(proto_parse("E 400 predict field \"x\" is not in the dataset", &m), 0);
    ck_assert_int_eq(m.status, 400);
    ck_assert_str_eq(m.text, "predict field \"x\" is not in the dataset");
}
END_TEST

START_TEST(trainer_proto_rejects_malformed)
{
    proto_msg_t m;
    const char *bad[] = {"", "P", "P 0.5", "P x y", "P 0.5 1 2", "E abc", "E 99 low",
                         "E 600 high", "X hello", "Lnospace"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(proto_parse(bad[i], &m) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(trainer_proto_format_roundtrip)
{
    char buf[128];
    proto_msg_t m;
    size_t n = proto_format_error(buf, sizeof(buf), 400, "line one\nline two");
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_int_eq(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    ck_assert_int_eq(proto_parse(buf, &m), 0);
    ck_assert_str_eq(m.text, "line one line two");
    n = proto_format_progress(buf, sizeof(buf), 0.5, 3);
    buf[n - 1] = '\0';
    ck_assert_int_eq(proto_parse(buf, &m), 0);
    ck_assert_double_eq_tol(m.fraction, 0.5, 1e-6);
    /* Cut to fit, still one line. */
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    n = proto_format_log(buf, 64, big);
    ck_assert_uint_lt(n, 64);
    ck_assert_int_eq(buf[n - 1], '\n');
    ck_assert_ptr_null(memchr(buf, '\n', n - 1));
}
END_TEST

typedef struct lines {
    char got[8][PROTO_LINE_MAX + 1];
    int n;
} lines_t;

static void collect(void *ctx, char *line)
{
    lines_t *l = ctx;
    if (l->n < 8)
        strcpy(l->got[l->n], line);
    l->n++;
}

START_TEST(trainer_proto_linebuf_splits_and_sanitises)
{
    static proto_linebuf_t lb;
    static lines_t l;
    memset(&lb, 0, sizeof(lb));
    memset(&l, 0, sizeof(l));
    const char a[] = "first\r\nsec";
    const char b[] = "ond\n\xff\xfe bad \x01 ctl \xc3\xa9 ok\nlast";
    proto_linebuf_feed(&lb, a, sizeof(a) - 1, collect, &l);
    ck_assert_int_eq(l.n, 1);
    ck_assert_str_eq(l.got[0], "first");
    proto_linebuf_feed(&lb, b, sizeof(b) - 1, collect, &l);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.got[1], "second");
    ck_assert_str_eq(l.got[2], "?? bad ? ctl \xc3\xa9 ok");
    proto_linebuf_flush(&lb, collect, &l);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.got[3], "last");
    proto_linebuf_flush(&lb, collect, &l);
    ck_assert_int_eq(l.n, 4);
    /* A NUL inside a line does not cut it. */
    const char z[] = {'a', '\0', 'b', '\n'};
    proto_linebuf_feed(&lb, z, sizeof(z), collect, &l);
    ck_assert_str_eq(l.got[4], "a?b");
}
END_TEST

START_TEST(trainer_proto_linebuf_cuts_long_lines)
{
    static proto_linebuf_t lb;
    static lines_t l;
    static char big[PROTO_LINE_MAX * 2 + 10];
    memset(&lb, 0, sizeof(lb));
    memset(&l, 0, sizeof(l));
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\n';
    proto_linebuf_feed(&lb, big, sizeof(big), collect, &l);
    ck_assert_int_eq(l.n, 3);
    ck_assert_uint_eq(strlen(l.got[0]), PROTO_LINE_MAX);
    ck_assert_uint_eq(strlen(l.got[2]), 9);
}
END_TEST

Suite *suite_trainer_proto(void)
{
    const TTest *const t[] = {trainer_proto_parses_messages, trainer_proto_rejects_malformed,
                              trainer_proto_format_roundtrip,
                              trainer_proto_linebuf_splits_and_sanitises,
                              trainer_proto_linebuf_cuts_long_lines};
    return unit_suite("trainer_proto", t, sizeof(t) / sizeof(t[0]));
}
