/*
 * test_cli.c — the terminal client's pure parts: config file parsing and
 * saving, tables, CSV cells out, result rendering, progress formatting.
 * (Its HTTP side is tested end to end in tests/e2e/test_cli.py.)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/config.h"
#include "cli/predict.h"
#include "cli/progress.h"
#include "cli/result.h"
#include "cli/table.h"
#include "ml/csv.h"
#include "tests/unit/unit.h"

Suite *suite_cli(void);

START_TEST(cli_config_parses_lines)
{
    cli_config_t c;
    memset(&c, 0, sizeof(c));
    const char text[] = "# comment\r\nurl=http://h:1\r\nkey=ty_abc=def\nbogus=1\nworkspace=w\n"
                        "=empty\nnoequals\nkey";
    cli_config_parse(&c, text, sizeof(text) - 1);
    ck_assert_str_eq(c.url, "http://h:1");
    ck_assert_str_eq(c.key, "ty_abc=def"); /* only the first '=' splits */
    ck_assert_str_eq(c.workspace, "w");
}
END_TEST

START_TEST(cli_config_refuses_oversized_values)
{
    cli_config_t c;
    memset(&c, 0, sizeof(c));
    size_t n = CLI_CONFIG_VALUE_MAX + 16;
    char *text = malloc(n);
    memcpy(text, "key=", 4);
    memset(text + 4, 'k', n - 4);
    cli_config_parse(&c, text, n);
    ck_assert_str_eq(c.key, "");
    free(text);
}
END_TEST

START_TEST(cli_config_url_normalises)
{
    err_t e;
    err_clear(&e);
    char url[64] = "http://127.0.0.1:8080///";
    ck_assert_int_eq(cli_config_url_normalise(url, &e), 0);
    ck_assert_str_eq(url, "http://127.0.0.1:8080");
    char bad[64] = "127.0.0.1:8080";
    ck_assert_int_eq(cli_config_url_normalise(bad, &e), -1);
    ck_assert_int_eq(e.status, 2);
    ck_assert_ptr_nonnull(strstr(err_message(&e), "http://"));
}
END_TEST

START_TEST(cli_config_saves_private_file)
{
    char dir[] = "/tmp/trainyard-cli-test.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    cli_config_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.path, sizeof(c.path), "%s/a/b/config", dir);
    snprintf(c.url, sizeof(c.url), "http://x");
    snprintf(c.key, sizeof(c.key), "secret");
    snprintf(c.workspace, sizeof(c.workspace), "dev");
    err_t e;
    err_clear(&e);
    mode_t old = umask(0);
    int rc = cli_config_save(&c, &e);
    umask(old);
    ck_assert_msg(rc == 0, "%s", err_message(&e));
    struct stat st;
    ck_assert_int_eq(stat(c.path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    /* Read back through the loader (the environment must not interfere). */
    setenv("TRAINYARD_CONFIG", c.path, 1);
    unsetenv("TRAINYARD_URL");
    unsetenv("TRAINYARD_KEY");
    unsetenv("TRAINYARD_WORKSPACE");
    cli_config_t back;
    ck_assert_int_eq(cli_config_load(&back, &e), 0);
    ck_assert_str_eq(back.url, "http://x");
    ck_assert_str_eq(back.key, "secret");
    ck_assert_str_eq(back.workspace, "dev");
    /* The environment wins over the file. */
    setenv("TRAINYARD_KEY", "fromenv", 1);
    ck_assert_int_eq(cli_config_load(&back, &e), 0);
    ck_assert_str_eq(back.key, "fromenv");
    unsetenv("TRAINYARD_KEY");
    unsetenv("TRAINYARD_CONFIG");
    /* A newline would smuggle a second setting in: refused. */
    snprintf(c.key, sizeof(c.key), "a\nurl=http://evil");
    ck_assert_int_eq(cli_config_save(&c, &e), -1);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Runs fn(out) into *text (caller frees). The buffer's pointer lives in
 * the caller, so that it outlives this call. */
static void capture(char **text, void (*fn)(FILE *, void *), void *arg)
{
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    fn(f, arg);
    fclose(f);
}

static void print_table(FILE *f, void *arg)
{
    cli_table_print(arg, f);
}

START_TEST(cli_table_aligns_columns)
{
    const char *const head[] = {"name", "rows", "note"};
    cli_table_t *t = cli_table_new(3, head);
    char *empty = NULL;
    capture(&empty, print_table, t);
    ck_assert_str_eq(empty, "name  rows  note\n(none)\n");
    free(empty);
    const char *const r1[] = {"churn", "500", "a\tb"};
    const char *const r2[] = {"x", "12345", NULL};
    cli_table_add(t, r1);
    cli_table_add(t, r2);
    char *s = NULL;
    capture(&s, print_table, t);
    ck_assert_str_eq(s, "name   rows   note\n"
                        "churn    500  a b\n"
                        "x      12345  \n");
    free(s);
    cli_table_free(t);
}
END_TEST

typedef struct cells {
    char got[8][64];
    size_t n;
} cells_t;

static int collect(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line, err_t *e)
{
    (void)line;
    (void)e;
    cells_t *c = ctx;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(c->got[i], sizeof(c->got[i]), "%.*s", (int)cells[i].len, cells[i].ptr);
    c->n = n;
    return 0;
}

START_TEST(cli_csv_cells_roundtrip)
{
    const char *const values[] = {"plain", "a,b", "say \"hi\"", "two\nlines", " padded ", ""};
    size_t nv = sizeof(values) / sizeof(values[0]);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fputs("a,b,c,d,e,f\n", f); /* the reader wants a header first */
    for (size_t i = 0; i < nv; i++) {
        cli_csv_write_cell(f, values[i], strlen(values[i]));
        fputc(i + 1 < nv ? ',' : '\n', f);
    }
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "\"say \"\"hi\"\"\""));
    ck_assert_ptr_nonnull(strstr(buf, "plain,\"a,b\""));
    cells_t got = {0};
    err_t e;
    err_clear(&e);
    csv_reader_t *r = csv_reader_new(&csv_limits_default, collect, &got);
    ck_assert_msg(csv_reader_feed(r, buf, len, &e) == 0, "%s", err_message(&e));
    ck_assert_int_eq(csv_reader_finish(r, &e), 0);
    csv_reader_free(r);
    ck_assert_uint_eq(got.n, nv);
    for (size_t i = 0; i < nv; i++)
        ck_assert_str_eq(got.got[i], values[i]);
    free(buf);
}
END_TEST

static void print_result(FILE *f, void *arg)
{
    cli_result_print(f, arg, 2);
}

START_TEST(cli_result_marks_chosen_model)
{
    json_object *doc = json_tokener_parse(
        "{\"model_id\":\"m1\",\"stats\":[[{\"class_name\":\"No\",\"count\":3,\"precision\":0.5,"
        "\"recall\":1,\"f1\":0.66,\"frequency\":0.6},{\"class_name\":\"Yes\",\"count\":2}]],"
        "\"field_importance\":{\"a\":0.25,\"b\":0.75},"
        "\"models\":[{\"predict_field\":\"churn\",\"task\":\"binary\",\"reason\":\"two values\","
        "\"model\":\"linear\",\"metric\":\"auc\",\"value\":0.8,\"rows\":5,"
        "\"validation\":\"5-fold\",\"validation_metrics\":{\"accuracy\":0.9},"
        "\"candidates\":[{\"model\":\"tree\",\"value\":0.9,\"rank\":1,\"params\":{\"eta\":0.1}},"
        "{\"model\":\"tree\",\"value\":0.85,\"rank\":2},"
        "{\"model\":\"linear\",\"value\":0.8,\"rank\":3}]}]}");
    ck_assert_ptr_nonnull(doc);
    char *s = NULL;
    capture(&s, print_result, doc);
    ck_assert_ptr_nonnull(strstr(s, "model_id  m1"));
    ck_assert_ptr_nonnull(strstr(s, "== churn: binary (two values)"));
    ck_assert_ptr_nonnull(strstr(s, "accuracy  0.9000"));
    /* top 2 shown, and the chosen third row too, marked. */
    ck_assert_ptr_nonnull(strstr(s, "eta=0.1"));
    ck_assert_ptr_nonnull(strstr(s, "\n*     3  linear"));
    ck_assert_msg(strstr(s, "No         3      0.500") != NULL, "%s", s);
    /* Importance sorted, largest first. */
    const char *imp = strstr(s, "field importance");
    ck_assert_ptr_nonnull(imp);
    ck_assert_msg(strstr(imp, "\nb ") != NULL && strstr(imp, "\na ") != NULL, "%s", imp);
    ck_assert_uint_lt(strlen(strstr(imp, "\na ")), strlen(strstr(imp, "\nb ")));
    free(s);
    json_object_put(doc);
}
END_TEST

START_TEST(cli_progress_sizes_and_silence)
{
    char buf[24];
    ck_assert_str_eq(cli_progress_size(999, buf, sizeof(buf)), "999 B");
    ck_assert_str_eq(cli_progress_size(58900, buf, sizeof(buf)), "58.9 kB");
    ck_assert_str_eq(cli_progress_size(1.5e9, buf, sizeof(buf)), "1.5 GB");
    setenv("TRAINYARD_PROGRESS", "0", 1);
    ck_assert_int_eq(cli_progress_wanted(0), 0);
    setenv("TRAINYARD_PROGRESS", "1", 1);
    ck_assert_int_eq(cli_progress_wanted(0), 1);
    unsetenv("TRAINYARD_PROGRESS");
    ck_assert_int_eq(cli_progress_wanted(1), 0); /* --json: never */
}
END_TEST

Suite *suite_cli(void)
{
    const TTest *const tests[] = {cli_config_parses_lines,  cli_config_refuses_oversized_values,
                                  cli_config_url_normalises, cli_config_saves_private_file,
                                  cli_table_aligns_columns,  cli_csv_cells_roundtrip,
                                  cli_result_marks_chosen_model, cli_progress_sizes_and_silence};
    return unit_suite("cli", tests, sizeof(tests) / sizeof(tests[0]));
}
