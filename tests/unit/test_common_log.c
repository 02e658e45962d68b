/*
 * test_common_log.c — log lines in both formats: the context (request or
 * job id) is on every line while set and gone once cleared; a JSON line is
 * one valid object however hostile the message (quotes, newlines, invalid
 * UTF-8).
 */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/unit.h"

Suite *suite_log(void);

/* Runs fn with stderr sent to a temporary file; returns what it wrote. */
static void capture(void (*fn)(void), char *out, size_t n)
{
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t got = fread(out, 1, n - 1, tmp);
    out[got] = '\0';
    fclose(tmp);
}

static void text_lines(void)
{
    log_init("unit", LOG_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    log_context_set("request_id", "abc-123");
    log_info("one");
    log_context_set("request_id", NULL);
    log_info("two");
}

START_TEST(log_text_context_is_on_lines_while_set)
{
    char out[4096];
    capture(text_lines, out, sizeof(out));
    char *second = strchr(out, '\n');
    ck_assert_ptr_nonnull(second);
    *second++ = '\0';
    ck_assert_ptr_nonnull(strstr(out, "unit["));
    ck_assert_ptr_nonnull(strstr(out, "info: one request_id=abc-123"));
    ck_assert_ptr_nonnull(strstr(second, "info: two\n"));
    ck_assert_ptr_null(strstr(second, "request_id"));
}
END_TEST

static void json_lines(void)
{
    log_init("unit", LOG_INFO);
    log_set_format(LOG_FORMAT_JSON);
    log_context_set("job_id", "6f1c0d3e-0000-4000-8000-000000000001");
    log_warn("quote \" backslash \\ newline \n tab \t bad \xff\xfe utf8 é");
    log_context_set("job_id", NULL);
    log_set_format(LOG_FORMAT_TEXT);
}

START_TEST(log_json_is_one_valid_object_with_the_context)
{
    char out[8192];
    capture(json_lines, out, sizeof(out));
    size_t n = strlen(out);
    ck_assert_uint_gt(n, 2);
    ck_assert_int_eq(out[n - 1], '\n');
    ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1); /* one line */
    json_object *doc = json_tokener_parse(out);
    ck_assert_ptr_nonnull(doc);
    json_object *v;
    ck_assert(json_object_object_get_ex(doc, "job_id", &v));
    ck_assert_str_eq(json_object_get_string(v), "6f1c0d3e-0000-4000-8000-000000000001");
    ck_assert(json_object_object_get_ex(doc, "level", &v));
    ck_assert_str_eq(json_object_get_string(v), "warn");
    ck_assert(json_object_object_get_ex(doc, "program", &v));
    ck_assert_str_eq(json_object_get_string(v), "unit");
    ck_assert(json_object_object_get_ex(doc, "msg", &v));
    const char *msg = json_object_get_string(v);
    /* Control bytes became '?' (one event, one line); the invalid UTF-8
     * made the message ASCII-only. */
    ck_assert_ptr_nonnull(strstr(msg, "quote \" backslash \\ newline ? tab ?"));
    ck_assert_ptr_null(strchr(msg, '\xff'));
    json_object_put(doc);
}
END_TEST

START_TEST(log_format_parse_knows_text_and_json)
{
    log_format_t f;
    ck_assert_int_eq(log_format_parse("json", &f), 0);
    ck_assert_int_eq(f, LOG_FORMAT_JSON);
    ck_assert_int_eq(log_format_parse("text", &f), 0);
    ck_assert_int_eq(f, LOG_FORMAT_TEXT);
    ck_assert_int_eq(log_format_parse("xml", &f), -1);
}
END_TEST

Suite *suite_log(void)
{
    const TTest *const t[] = {log_text_context_is_on_lines_while_set,
                              log_json_is_one_valid_object_with_the_context,
                              log_format_parse_knows_text_and_json};
    return unit_suite("log", t, sizeof(t) / sizeof(t[0]));
}
