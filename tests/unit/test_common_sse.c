/*
 * test_common_sse.c — event ids and stream tickets: what is written parses
 * back to the same values, and every other shape is refused.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/sse.h"
#include "tests/unit/unit.h"

Suite *suite_sse(void);

START_TEST(sse_cursor_round_trips_and_refuses_others)
{
    char buf[48];
    long long us = -1, log = -1;
    sse_cursor_format(1796017443512345LL, 42, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1796017443512345-42");
    ck_assert_int_eq(sse_cursor_parse(buf, &us, &log), 0);
    ck_assert(us == 1796017443512345LL && log == 42);
    ck_assert_int_eq(sse_cursor_parse("0-0", &us, &log), 0);
    static const char *const bad[] = {"", "-", "1-", "-1", "1--1", "+1-2", " 1-2", "1-2 ",
                                      "1-2-3", "a-b", "1.5-2", "1234567890123456789-1",
                                      "yesterday"};
    us = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(sse_cursor_parse(bad[i], &us, &log) == -1, "accepted \"%s\"", bad[i]);
    ck_assert(us == 7); /* nothing written on refusal */
}
END_TEST

START_TEST(sse_ticket_split_checks_every_part)
{
    char mac[65];
    memset(mac, 'a', 64);
    mac[64] = '\0';
    char ok[300];
    snprintf(ok, sizeof(ok), "0123456789ab.my_ws-2.1796017443.%s", mac);
    sse_ticket_t t;
    ck_assert_int_eq(sse_ticket_split(ok, &t), 0);
    ck_assert_str_eq(t.prefix, "0123456789ab");
    ck_assert_str_eq(t.workspace, "my_ws-2");
    ck_assert(t.expires == 1796017443LL);
    ck_assert_str_eq(t.mac, mac);
    ck_assert_int_eq(t.payload_len, strlen("0123456789ab.my_ws-2.1796017443"));
    char bad[300];
    /* Each shape is head + the MAC + tail. */
    static const char *const shapes[][2] = {
        {".ws.1.", ""},     {"ab..1.", ""},     {"ab.ws..", ""},    {"AB.ws.1.", ""},
        {"ab.w s.1.", ""},  {"ab.ws.-1.", ""},  {"ab.ws.1.", "ff"}, {"ab.ws.1.", "."},
        {"ab.ws.1x.", ""},  {"ab.w.s.1.", ""}};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        snprintf(bad, sizeof(bad), "%s%s%s", shapes[i][0], mac, shapes[i][1]);
        ck_assert_msg(sse_ticket_split(bad, &t) == -1, "accepted \"%s\"", bad);
    }
    ck_assert_int_eq(sse_ticket_split("ab.ws.1.", &t), -1);
    snprintf(bad, sizeof(bad), "ab.ws.1.%.63sG", mac);
    ck_assert_int_eq(sse_ticket_split(bad, &t), -1);
    ck_assert_int_eq(sse_ticket_split(NULL, &t), -1);
}
END_TEST

Suite *suite_sse(void)
{
    const TTest *const t[] = {sse_cursor_round_trips_and_refuses_others,
                              sse_ticket_split_checks_every_part};
    return unit_suite("sse", t, sizeof(t) / sizeof(t[0]));
}
