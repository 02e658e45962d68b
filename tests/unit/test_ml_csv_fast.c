/*
 * test_ml_csv_fast.c — the CSV reader's in-place fast path (ml/csv.c)
 * against its byte state machine.
 *
 * Fed one byte at a time, the reader never takes the fast path (it needs
 * sixteen bytes of a record in one chunk); fed whole, it takes it for every
 * plain record. Generated files that mix plain records with everything the
 * fast path hands back (quotes, doubled quotes, newlines in quotes, CRLF
 * and lone CR, blank lines, UTF-8, ragged rows, NUL) must give the same
 * records, lines and errors both ways.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/csv.h"
#include "tests/unit/unit.h"

Suite *suite_ml_csv_fast(void);

typedef struct trace {
    char *buf;
    size_t len, cap;
} trace_t;

static void trace_put(trace_t *t, const char *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        ck_assert_ptr_nonnull(t->buf);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static int trace_record(void *ctx, const csv_cell_t *c, size_t n, unsigned long long line,
                        err_t *e)
{
    (void)e;
    trace_t *t = ctx;
    char head[32];
    trace_put(t, head, (size_t)snprintf(head, sizeof(head), "%llu:%zu:", line, n));
    for (size_t i = 0; i < n; i++) {
        trace_put(t, head, (size_t)snprintf(head, sizeof(head), "[%zu]", c[i].len));
        trace_put(t, c[i].ptr, c[i].len);
    }
    trace_put(t, "\n", 1);
    return 0;
}

/* Parses text whole or bytewise; the trace gets the records, then the error. */
static void run(const char *text, size_t len, int bytewise, trace_t *t)
{
    memset(t, 0, sizeof(*t));
    err_t e;
    err_clear(&e);
    csv_reader_t *r = csv_reader_new(NULL, trace_record, t);
    ck_assert_ptr_nonnull(r);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = bytewise ? 1 : len - off;
        rc = csv_reader_feed(r, text + off, n, &e);
        off += n;
    }
    if (rc == 0)
        rc = csv_reader_finish(r, &e);
    csv_reader_free(r);
    char tail[600];
    int k = snprintf(tail, sizeof(tail), "rc=%d %d %s", rc, e.status,
                     rc ? e.items[0].message : "");
    trace_put(t, tail, (size_t)k);
}

/* A deterministic generator (xorshift) of CSV files of three columns. */
static unsigned long long rng_state;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void gen_cell(trace_t *out, int odd)
{
    static const char *const plain[] = {"12", "3.5e2", "Lisbon", "", "row of text that is long",
                                        "caf\xc3\xa9", "NA", " padded "};
    static const char *const unusual[] = {"\"quoted, comma\"", "\"doubled \"\" quote\"",
                                          "\"line\nbreak\"", "bad\"quote", "\xc3", "x\x01y"};
    const char *s = odd ? unusual[rnd(6)] : plain[rnd(8)];
    trace_put(out, s, strlen(s));
}

static void gen_file(trace_t *out, unsigned rows, unsigned odd_per_1000)
{
    memset(out, 0, sizeof(*out));
    trace_put(out, "alpha,beta,gamma\n", 17);
    for (unsigned r = 0; r < rows; r++) {
        unsigned cols = rnd(1000) < 3 ? 2 : 3; /* now and then a ragged row */
        if (rnd(1000) < 5) {
            trace_put(out, "\n", 1); /* a blank line */
            continue;
        }
        for (unsigned c = 0; c < cols; c++) {
            if (c)
                trace_put(out, ",", 1);
            gen_cell(out, rnd(1000) < odd_per_1000);
        }
        unsigned end = rnd(10);
        trace_put(out, end == 0 ? "\r\n" : end == 1 ? "\r" : "\n", end < 2 ? (end ? 1 : 2) : 1);
    }
}

START_TEST(ml_csv_fast_path_agrees_with_state_machine)
{
    /* Clean files (plain records only: the fast path takes them all) and
     * files with ever more unusual records, each under several seeds. */
    static const unsigned odd[] = {0, 2, 20, 200};
    for (size_t o = 0; o < sizeof(odd) / sizeof(odd[0]); o++) {
        for (unsigned seed = 1; seed <= 8; seed++) {
            rng_state = 0x9e3779b97f4a7c15ULL * seed + o;
            trace_t file, whole, bytes;
            gen_file(&file, 400, odd[o]);
            run(file.buf, file.len, 0, &whole);
            run(file.buf, file.len, 1, &bytes);
            ck_assert_msg(whole.len == bytes.len && memcmp(whole.buf, bytes.buf, whole.len) == 0,
                          "odd %u seed %u: whole and bytewise differ", odd[o], seed);
            free(file.buf);
            free(whole.buf);
            free(bytes.buf);
        }
    }
}
END_TEST

START_TEST(ml_csv_fast_path_crlf_on_block_edges)
{
    /* A CRLF whose LF opens the next 16-byte block, a CR ending a chunk,
     * and a record of exactly sixteen bytes. */
    for (size_t pad = 0; pad < 40; pad++) {
        char text[256];
        size_t n = (size_t)snprintf(text, sizeof(text), "h1,h2\n%.*s,b\r\nc,d\r\n\r\n%s,z\n",
                                    (int)pad, "0123456789012345678901234567890123456789",
                                    "0123456789abcd");
        trace_t whole, bytes;
        run(text, n, 0, &whole);
        run(text, n, 1, &bytes);
        ck_assert_str_eq(whole.buf, bytes.buf);
        free(whole.buf);
        free(bytes.buf);
    }
}
END_TEST

Suite *suite_ml_csv_fast(void)
{
    Suite *s = suite_create("ml_csv_fast");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ml_csv_fast_path_agrees_with_state_machine);
    tcase_add_test(tc, ml_csv_fast_path_crlf_on_block_edges);
    suite_add_tcase(s, tc);
    return s;
}
