/*
 * test_ml_csv.c — the streaming CSV reader, type inference and typed
 * column storage (ml/csv.c, ml/infer.c, ml/column.c, ml/data.c).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/column.h"
#include "ml/csv.h"
#include "ml/data.h"
#include "ml/num.h"
#include "tests/unit/unit.h"

Suite *suite_ml_csv(void);

/* Records serialised as "line:cell|cell|...\n" for comparisons. */
typedef struct sink {
    char buf[8192];
    size_t len;
    int records;
} sink_t;

static int sink_record(void *ctx, const csv_cell_t *c, size_t n, unsigned long long line, err_t *e)
{
    sink_t *s = ctx;
    (void)e;
    s->len += (size_t)snprintf(s->buf + s->len, sizeof(s->buf) - s->len, "%llu:", line);
    for (size_t i = 0; i < n; i++)
        s->len += (size_t)snprintf(s->buf + s->len, sizeof(s->buf) - s->len, "%s%.*s",
                                   i ? "|" : "", (int)c[i].len, c[i].ptr);
    s->len += (size_t)snprintf(s->buf + s->len, sizeof(s->buf) - s->len, "\n");
    s->records++;
    return 0;
}

/* Parses text in chunks of the given sizes (split = split point, 0 = one chunk). */
static int parse(const char *text, size_t len, size_t split, const csv_limits_t *lim, sink_t *s,
                 err_t *e)
{
    memset(s, 0, sizeof(*s));
    err_clear(e);
    csv_reader_t *r = csv_reader_new(lim, sink_record, s);
    int rc = 0;
    if (split > 0 && split < len) {
        rc = csv_reader_feed(r, text, split, e);
        if (rc == 0)
            rc = csv_reader_feed(r, text + split, len - split, e);
    } else {
        rc = csv_reader_feed(r, text, len, e);
    }
    if (rc == 0)
        rc = csv_reader_finish(r, e);
    csv_reader_free(r);
    return rc;
}

static const char tricky[] = "\xef\xbb\xbfname,note,n\r\n"
                             "a,\"x, y\",1\r\n"
                             "\"b \"\"q\"\"\",\"multi\nline\",2\n"
                             "\n"
                             "c,,3\n"
                             "d,\"\",4";

START_TEST(ml_csv_quotes_crlf_bom_and_blank_lines)
{
    sink_t s;
    err_t e;
    ck_assert_int_eq(parse(tricky, sizeof(tricky) - 1, 0, NULL, &s, &e), 0);
    ck_assert_int_eq(s.records, 5);
    ck_assert_str_eq(s.buf, "1:name|note|n\n"
                            "2:a|x, y|1\n"
                            "3:b \"q\"|multi\nline|2\n"
                            "6:c||3\n"
                            "7:d||4\n");
}
END_TEST

START_TEST(ml_csv_chunked_at_every_split_point)
{
    sink_t whole, part;
    err_t e;
    size_t len = sizeof(tricky) - 1;
    ck_assert_int_eq(parse(tricky, len, 0, NULL, &whole, &e), 0);
    for (size_t split = 1; split < len; split++) {
        ck_assert_int_eq(parse(tricky, len, split, NULL, &part, &e), 0);
        ck_assert_msg(strcmp(whole.buf, part.buf) == 0, "split at %zu differs:\n%s", split,
                      part.buf);
    }
    /* Byte by byte too. */
    csv_reader_t *r = csv_reader_new(NULL, sink_record, &part);
    memset(&part, 0, sizeof(part));
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(csv_reader_feed(r, tricky + i, 1, &e), 0);
    ck_assert_int_eq(csv_reader_finish(r, &e), 0);
    csv_reader_free(r);
    ck_assert_str_eq(whole.buf, part.buf);
}
END_TEST

typedef struct bad_case {
    const char *text;
    int status;
    const char *expect; /* substring of the message */
} bad_case_t;

START_TEST(ml_csv_malformed_inputs_name_their_line)
{
    static const bad_case_t cases[] = {
        {"a,b\n1,2\n3\n", 400, "line 3: ragged row: 1 fields, expected 2"},
        {"a,b\n1,2,3\n", 400, "line 2: ragged row"},
        {"a,b\n1,x\"y\n", 400, "line 2: quote in an unquoted field"},
        {"a,b\n\"x\"y,1\n", 400, "line 2: text after a closing quote"},
        {"a,b\n1,2\n\"abc,1\n", 400, "line 3: unterminated quote"},
        {"", 400, "line 1: no header"},
        {"1,2\n3,4\n", 400, "line 1: no header"},
        {"2019,2020\n3,4\n", 400, "only numbers, so it is data; put a row of column names first"},
        {"-1,1e3,0.5\n3,4,5\n", 400, "line 1: no header"},
        {"a,a\n1,2\n", 400, "line 1: duplicate column name \"a\""},
        {"a,,c\n1,2,3\n", 400, "line 1: empty column name (column 2)"},
        {"a,b\n1,\xff\n", 400, "line 2: not valid UTF-8"},
        {"a,b\n1,\xc0\xaf\n", 400, "line 2: not valid UTF-8"},
        {"a,b\n\"x\ny\",1\n1\n", 400, "line 4: ragged row"},
        {"a,b\r\n1,2\r\n3\r\n", 400, "line 3: ragged row"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sink_t s;
        err_t e;
        size_t len = strlen(cases[i].text);
        ck_assert_int_eq(parse(cases[i].text, len, 0, NULL, &s, &e), -1);
        ck_assert_int_eq(e.status, cases[i].status);
        ck_assert_str_eq(e.items[0].code, "csv_invalid");
        ck_assert_msg(strstr(err_message(&e), cases[i].expect) != NULL, "case %zu: got \"%s\"", i,
                      err_message(&e));
        /* Same verdict whatever the chunking. */
        for (size_t split = 1; split < len; split++) {
            ck_assert_int_eq(parse(cases[i].text, len, split, NULL, &s, &e), -1);
            ck_assert_msg(strstr(err_message(&e), cases[i].expect) != NULL,
                          "case %zu split %zu: got \"%s\"", i, split, err_message(&e));
        }
    }
    /* A NUL would cut "ab\0x" and "ab\0y" to one name "ab" downstream. */
    static const char nul_header[] = "ab\0x,ab\0y\n1,2\n";
    static const char nul_cell[] = "a,b\n1,x\0y\n";
    sink_t s;
    err_t e;
    ck_assert_int_eq(parse(nul_header, sizeof(nul_header) - 1, 0, NULL, &s, &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 1: a NUL byte is not allowed"));
    ck_assert_int_eq(parse(nul_cell, sizeof(nul_cell) - 1, 3, NULL, &s, &e), -1);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 2: a NUL byte is not allowed"));
}
END_TEST

START_TEST(ml_csv_limits)
{
    sink_t s;
    err_t e;
    csv_limits_t lim = {.max_columns = 3, .max_line_bytes = 16, .max_rows = 2};
    const char *wide = "a,b,c,d\n";
    ck_assert_int_eq(parse(wide, strlen(wide), 0, &lim, &s, &e), -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_str_eq(e.items[0].code, "too_large");
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 1: more than 3 columns"));
    const char *longline = "a,b\n1,\"0123456789012345678\"\n";
    ck_assert_int_eq(parse(longline, strlen(longline), 0, &lim, &s, &e), -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 2: line longer than 16 bytes"));
    const char *rows = "a,b\n1,2\n3,4\n5,6\n";
    ck_assert_int_eq(parse(rows, strlen(rows), 0, &lim, &s, &e), -1);
    ck_assert_int_eq(e.status, 413);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 4: more than 2 rows"));
    const char *ok = "a,b\n1,2\n3,4\n";
    ck_assert_int_eq(parse(ok, strlen(ok), 0, &lim, &s, &e), 0);
}
END_TEST

START_TEST(ml_csv_missing_cells)
{
    const char *yes[] = {"", " ", "NA", "na", "N/A", "NaN", "nan", "null", "NULL", "None", " NA "};
    const char *no[] = {"0", "n", "Nan2", "none!", "-", "NAN N"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(csv_cell_is_missing(yes[i], strlen(yes[i])), "%s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!csv_cell_is_missing(no[i], strlen(no[i])), "%s", no[i]);
}
END_TEST

START_TEST(ml_csv_number_parsing)
{
    double d;
    float f;
    ck_assert(num_parse_double(" -12.5e2 ", 9, &d) && d == -1250.0);
    ck_assert(num_parse_double(".5", 2, &d) && d == 0.5);
    ck_assert(num_parse_double("0.1", 3, &d) && d == 0.1);
    ck_assert(num_parse_double("12345678901234567890123", 23, &d) && d == 12345678901234567890123.0);
    ck_assert(num_parse_double("1e-30", 5, &d) && d == 1e-30);
    ck_assert(!num_parse_double("1e", 2, &d));
    ck_assert(!num_parse_double("abc", 3, &d));
    ck_assert(!num_parse_double("1.2.3", 5, &d));
    ck_assert(!num_parse_double("inf", 3, &d));
    ck_assert(!num_parse_double("-", 1, &d));
    ck_assert(!num_parse_float("1e39", 4, &f));
    char buf[32];
    num_format_float(0.1f, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0.1");
    num_format_float(3.0f, buf, sizeof(buf));
    ck_assert_str_eq(buf, "3");
}
END_TEST

static json_object *infer(const char *text, err_t *e)
{
    csv_infer_t *ci = csv_infer_new(NULL);
    json_object *out = NULL;
    size_t len = strlen(text);
    /* Two chunks, to exercise streaming. */
    if (csv_infer_feed(ci, text, len / 2, e) == 0 &&
        csv_infer_feed(ci, text + len / 2, len - len / 2, e) == 0)
        csv_infer_finish(ci, &out, e);
    csv_infer_free(ci);
    return out;
}

static const char *field_type(json_object *summary, size_t i, int64_t *missing)
{
    json_object *fields, *f, *v;
    json_object_object_get_ex(summary, "fields", &fields);
    f = json_object_array_get_idx(fields, i);
    json_object_object_get_ex(f, "missing", &v);
    *missing = json_object_get_int64(v);
    json_object_object_get_ex(f, "type", &v);
    return json_object_get_string(v);
}

START_TEST(ml_csv_infer_types)
{
    /* num, cat, bool, string (unique text), mixed (numbers + a few words) */
    char text[8192] = "num,cat,flag,text,mixed\n";
    for (int i = 0; i < 60; i++) {
        char row[128];
        snprintf(row, sizeof(row), "%s,%s,%s,note %d,%s\n", i == 3 ? "NA" : i % 7 ? "1.5" : "-2",
                 i % 3 == 0 ? "red" : i % 3 == 1 ? "green" : "",
                 i % 2 ? "Yes" : "no", i, i % 10 == 0 ? "many" : "7");
        strcat(text, row);
    }
    err_t e;
    err_clear(&e);
    json_object *s = infer(text, &e);
    ck_assert_ptr_nonnull(s);
    json_object *rows;
    json_object_object_get_ex(s, "rows", &rows);
    ck_assert_int_eq(json_object_get_int(rows), 60);
    int64_t miss;
    ck_assert_str_eq(field_type(s, 0, &miss), "number");
    ck_assert_int_eq(miss, 1);
    ck_assert_str_eq(field_type(s, 1, &miss), "category");
    ck_assert_int_eq(miss, 20);
    ck_assert_str_eq(field_type(s, 2, &miss), "boolean");
    ck_assert_int_eq(miss, 0);
    ck_assert_str_eq(field_type(s, 3, &miss), "string");
    ck_assert_str_eq(field_type(s, 4, &miss), "category");
    json_object_put(s);
    /* Header only: refused. */
    ck_assert_ptr_null(infer("a,b\n", &e));
    ck_assert_ptr_nonnull(strstr(err_message(&e), "no data rows"));
}
END_TEST

static ml_data_t *data_from(const char *text, err_t *e)
{
    ml_data_t *d = ml_data_new(NULL);
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i += 7) {
        size_t k = len - i < 7 ? len - i : 7;
        if (ml_data_feed(d, text + i, k, e) < 0) {
            ml_data_free(d);
            return NULL;
        }
    }
    if (ml_data_finish(d, e) < 0) {
        ml_data_free(d);
        return NULL;
    }
    return d;
}

START_TEST(ml_csv_data_typed_columns_and_switch)
{
    err_t e;
    err_clear(&e);
    ml_data_t *d = data_from("x,m,b\n1.5,3,yes\n,1.50,No\n2,abc,TRUE\n-1,3,\n", &e);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(ml_data_rows(d), 4);
    ck_assert_uint_eq(ml_data_columns(d), 3);
    ck_assert_int_eq(d->types[0], CSV_NUMBER);
    ck_assert(d->cols[0].vals[0] == 1.5f && isnan(d->cols[0].vals[1]));
    ck_assert_int_eq(d->types[1], CSV_CATEGORY);
    /* The floats before the switch came back as text: "3", "1.5", then "abc", "3". */
    const column_t *m = &d->cols[1];
    ck_assert(m->is_codes);
    ck_assert_str_eq(dict_text(&m->dict, column_code(m, 0)), "3");
    ck_assert_str_eq(dict_text(&m->dict, column_code(m, 1)), "1.5");
    ck_assert_str_eq(dict_text(&m->dict, column_code(m, 2)), "abc");
    ck_assert_uint_eq(column_code(m, 3), column_code(m, 0));
    ck_assert_int_eq(d->types[2], CSV_BOOLEAN);
    ck_assert_uint_eq(column_code(&d->cols[2], 3), COL_MISSING);
    ck_assert_int_eq(ml_data_find(d, "b"), 2);
    ck_assert_int_eq(ml_data_find(d, "nope"), -1);
    ml_data_free(d);
    /* Errors surface through ml_data too. */
    ck_assert_ptr_null(data_from("a,b\n1,2\n3\n", &e));
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 3"));
}
END_TEST

START_TEST(ml_csv_infer_agrees_with_data_on_real_file)
{
    const char *path = unit_dataset_path("credit_data_train.csv");
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    err_t e;
    err_clear(&e);
    csv_infer_t *ci = csv_infer_new(NULL);
    ml_data_t *d = ml_data_new(NULL);
    char buf[3000];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0) {
        ck_assert_int_eq(csv_infer_feed(ci, buf, k, &e), 0);
        ck_assert_int_eq(ml_data_feed(d, buf, k, &e), 0);
    }
    fclose(f);
    json_object *s = NULL;
    ck_assert_int_eq(csv_infer_finish(ci, &s, &e), 0);
    ck_assert_int_eq(ml_data_finish(d, &e), 0);
    json_object *rows, *fields;
    json_object_object_get_ex(s, "rows", &rows);
    ck_assert_uint_eq((size_t)json_object_get_int64(rows), ml_data_rows(d));
    json_object_object_get_ex(s, "fields", &fields);
    ck_assert_uint_eq(json_object_array_length(fields), ml_data_columns(d));
    for (size_t i = 0; i < ml_data_columns(d); i++) {
        int64_t miss;
        ck_assert_str_eq(field_type(s, i, &miss), csv_type_name(d->types[i]));
    }
    int64_t miss;
    ck_assert_str_eq(field_type(s, 0, &miss), "category"); /* Status: good/bad */
    ck_assert_str_eq(field_type(s, 1, &miss), "number");   /* Seniority */
    json_object_put(s);
    csv_infer_free(ci);
    ml_data_free(d);
}
END_TEST

/* Columns with many distinct texts: inference (which streams uploads and
 * must not grow with the file) and training reach the same types, and
 * inference keeps at most COL_EXACT_DISTINCT texts per column. */
START_TEST(ml_csv_high_cardinality_bounded_and_consistent)
{
    err_t e;
    err_clear(&e);
    csv_infer_t *ci = csv_infer_new(NULL);
    ml_data_t *d = ml_data_new(NULL);
    const char *header = "half,unique,few\n";
    ck_assert_int_eq(csv_infer_feed(ci, header, strlen(header), &e), 0);
    ck_assert_int_eq(ml_data_feed(d, header, strlen(header), &e), 0);
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 60000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char line[96];
        /* half: ~12k levels over 60k rows; unique: one per row; few: 3000 levels */
        int n = snprintf(line, sizeof(line), "h%llu,u%d,f%llu\n", (x >> 8) % 12000, i,
                         (x >> 24) % 3000);
        ck_assert_int_eq(csv_infer_feed(ci, line, (size_t)n, &e), 0);
        ck_assert_int_eq(ml_data_feed(d, line, (size_t)n, &e), 0);
    }
    json_object *s = NULL;
    ck_assert_int_eq(csv_infer_finish(ci, &s, &e), 0);
    ck_assert_int_eq(ml_data_finish(d, &e), 0);
    int64_t miss;
    ck_assert_str_eq(field_type(s, 0, &miss), "category");
    ck_assert_str_eq(field_type(s, 1, &miss), "string");
    ck_assert_str_eq(field_type(s, 2, &miss), "category");
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(field_type(s, i, &miss), csv_type_name(d->types[i]));
    json_object_put(s);
    csv_infer_free(ci);
    ml_data_free(d);

    /* The inference column itself: a bounded dictionary, a close estimate. */
    column_t col;
    column_init(&col, 0);
    for (int i = 0; i < 60000; i++) {
        char cell[32];
        int n = snprintf(cell, sizeof(cell), "id-%d", i % 30000);
        ck_assert_int_eq(column_add(&col, cell, (size_t)n, &e), 0);
    }
    ck_assert_uint_le(col.dict.n, COL_EXACT_DISTINCT);
    double est = column_distinct(&col);
    ck_assert_msg(est > 28500 && est < 31500, "estimate %f", est);
    ck_assert_int_eq(column_type(&col), CSV_CATEGORY); /* 30k levels over 60k cells */
    column_free(&col);
}
END_TEST

/* Codes start at 1 byte and widen to 2, then 4, as levels arrive; every
 * row (missing ones included) reads back the same through each widening. */
START_TEST(ml_csv_codes_widen_with_levels)
{
    err_t e;
    err_clear(&e);
    column_t col;
    column_init(&col, 1);
    ck_assert_int_eq(column_add(&col, "7", 1, &e), 0); /* numeric first: the switch path */
    const int n = 90000; /* 72,000 levels: past 2-byte codes */
    for (int i = 0; i < n; i++) {
        char cell[32];
        int k = i % 5 == 4 ? 0 : snprintf(cell, sizeof(cell), "v%d", i);
        ck_assert_int_eq(column_add(&col, cell, (size_t)k, &e), 0);
        if (i == 100)
            ck_assert_uint_eq(col.code_bytes, 1);
        if (i == 1000)
            ck_assert_uint_eq(col.code_bytes, 2);
    }
    ck_assert_uint_eq(col.code_bytes, 4);
    ck_assert(col.is_codes);
    ck_assert_str_eq(dict_text(&col.dict, column_code(&col, 0)), "7");
    for (int i = 0; i < n; i++) {
        uint32_t code = column_code(&col, (size_t)i + 1);
        if (i % 5 == 4) {
            ck_assert_uint_eq(code, COL_MISSING);
            continue;
        }
        char want[32];
        snprintf(want, sizeof(want), "v%d", i);
        ck_assert_str_eq(dict_text(&col.dict, code), want);
    }
    column_free(&col);
}
END_TEST

START_TEST(ml_csv_sniffs_the_delimiter_from_the_header)
{
    static const struct {
        const char *text;
        char delim;
        const char *expect;
    } cases[] = {
        {"a,b,c\n1,2,3\n", ',', "1:a|b|c\n2:1|2|3\n"},
        /* Decimal commas in the rows do not outvote the header. */
        {"a;b;c\n1,5;2;3,25\n", ';', "1:a|b|c\n2:1,5|2|3,25\n"},
        {"a\tb\tc\nx y\t2\t3\n", '\t', "1:a|b|c\n2:x y|2|3\n"},
        {"a|b|c\n1|2|3\n", '|', "1:a|b|c\n2:1|2|3\n"},
        /* A delimiter inside a quoted name does not vote. */
        {"\"x;y;z\",b,c\n1,2,3\n", ',', "1:x;y;z|b|c\n2:1|2|3\n"},
        /* One column: no delimiter at all reads as ','; a tie as the earlier. */
        {"only\nx\n", ',', "1:only\n2:x\n"},
        {"a;b,c\n1;2,3\n", ',', "1:a;b|c\n2:1;2|3\n"},
        /* Blank lines and a BOM before the header, CRLF ends. */
        {"\xef\xbb\xbf\r\n\na;b\r\n1;2\r\n", ';', "3:a|b\n4:1|2\n"},
        /* A quoted header spanning lines, the delimiter only after it. */
        {"\"multi\nline\";b\n1;2\n", ';', "1:multi\nline|b\n3:1|2\n"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t len = strlen(cases[k].text);
        /* Whole, then split at every point (the header held back and replayed). */
        for (size_t split = 0; split < len; split++) {
            sink_t s;
            err_t e;
            ck_assert_msg(parse(cases[k].text, len, split, NULL, &s, &e) == 0, "case %zu: %s", k,
                          err_message(&e));
            ck_assert_msg(strcmp(s.buf, cases[k].expect) == 0, "case %zu split %zu:\n%s", k,
                          split, s.buf);
        }
        ck_assert_int_eq(csv_sniff_delimiter(cases[k].text, len), cases[k].delim);
    }
    /* The reader says what it chose; nothing before the header line ends. */
    sink_t s;
    err_t e;
    memset(&s, 0, sizeof(s));
    csv_reader_t *r = csv_reader_new(NULL, sink_record, &s);
    ck_assert_int_eq(csv_reader_feed(r, "a|b", 3, &e), 0);
    ck_assert_int_eq(csv_reader_delimiter(r), 0);
    ck_assert_int_eq(s.records, 0);
    ck_assert_int_eq(csv_reader_feed(r, "\n1|2", 4, &e), 0);
    ck_assert_int_eq(csv_reader_delimiter(r), '|');
    ck_assert_int_eq(csv_reader_finish(r, &e), 0);
    ck_assert_int_eq(s.records, 2);
    csv_reader_free(r);
    /* A header with no line end at all is sniffed at finish. */
    memset(&s, 0, sizeof(s));
    r = csv_reader_new(NULL, sink_record, &s);
    ck_assert_int_eq(csv_reader_feed(r, "a\tb", 3, &e), 0);
    ck_assert_int_eq(csv_reader_finish(r, &e), 0);
    ck_assert_int_eq(csv_reader_delimiter(r), '\t');
    ck_assert_str_eq(s.buf, "1:a|b\n");
    csv_reader_free(r);
    /* A ragged ';' file is still refused with its line. */
    ck_assert_int_ne(parse("a;b\n1;2;3\n", 10, 0, NULL, &s, &e), 0);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "line 2"));
}
END_TEST

START_TEST(ml_csv_infer_reports_the_delimiter)
{
    err_t e;
    err_clear(&e);
    json_object *s = infer("price;kind\n1,5;a\n2,25;b\n", &e);
    ck_assert_ptr_nonnull(s);
    json_object *d;
    ck_assert(json_object_object_get_ex(s, "delimiter", &d));
    ck_assert_str_eq(json_object_get_string(d), ";");
    int64_t miss;
    ck_assert_str_eq(field_type(s, 0, &miss), "category"); /* "1,5" is not a number */
    ck_assert_str_eq(field_type(s, 1, &miss), "category");
    json_object_put(s);
    s = infer("a\tb\n1\t2\n3\t4\n", &e);
    ck_assert_ptr_nonnull(s);
    json_object_object_get_ex(s, "delimiter", &d);
    ck_assert_str_eq(json_object_get_string(d), "\t");
    ck_assert_str_eq(field_type(s, 1, &miss), "number");
    json_object_put(s);
}
END_TEST

/* The fast path (whole plain records, 16 bytes at a time) splits on the
 * sniffed delimiter: a long ';' or tab file parses as its ',' twin, whole
 * and in small chunks, and a comma inside its cells stays data. */
START_TEST(ml_csv_fast_path_uses_the_sniffed_delimiter)
{
    static const char delims[] = {';', '\t', '|'};
    char comma[4096] = "name,value,note\n", other[4096];
    for (int i = 0; i < 40; i++) {
        char row[96];
        snprintf(row, sizeof(row), "item%d,%d.5,word%d\n", i, i * 7, i % 3);
        strcat(comma, row);
    }
    sink_t want, got;
    err_t e;
    ck_assert_int_eq(parse(comma, strlen(comma), 0, NULL, &want, &e), 0);
    for (size_t d = 0; d < sizeof(delims); d++) {
        size_t n = strlen(comma);
        for (size_t i = 0; i <= n; i++)
            other[i] = comma[i] == ',' ? delims[d] : comma[i];
        for (size_t split = 0; split < n; split += 7) {
            ck_assert_int_eq(parse(other, n, split, NULL, &got, &e), 0);
            ck_assert_msg(strcmp(want.buf, got.buf) == 0, "delimiter %d split %zu:\n%s",
                          delims[d], split, got.buf);
        }
        /* A comma is data in a ';' file, also on the fast path. */
        char dec[4096] = "a;b\n";
        for (int i = 0; i < 30; i++)
            strcat(dec, "1,25;long enough text\n");
        ck_assert_int_eq(parse(dec, strlen(dec), 0, NULL, &got, &e), 0);
        ck_assert_int_eq(got.records, 31);
        ck_assert_ptr_nonnull(strstr(got.buf, "31:1,25|long enough text\n"));
    }
}
END_TEST

Suite *suite_ml_csv(void)
{
    const TTest *const t[] = {
        ml_csv_quotes_crlf_bom_and_blank_lines, ml_csv_chunked_at_every_split_point,
        ml_csv_malformed_inputs_name_their_line, ml_csv_limits, ml_csv_missing_cells,
        ml_csv_number_parsing, ml_csv_infer_types, ml_csv_data_typed_columns_and_switch,
        ml_csv_infer_agrees_with_data_on_real_file, ml_csv_high_cardinality_bounded_and_consistent,
        ml_csv_codes_widen_with_levels, ml_csv_sniffs_the_delimiter_from_the_header,
        ml_csv_infer_reports_the_delimiter, ml_csv_fast_path_uses_the_sniffed_delimiter,
    };
    return unit_suite("ml_csv", t, sizeof(t) / sizeof(t[0]));
}
