/*
 * test_fcgi_body.c — JSON, XML, form and multipart decoding, good and bad,
 * and the streaming multipart parser fed at every split point.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/body.h"
#include "fcgi/multipart.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_body(void);

static json_object *decode_ok(body_format_t f, const char *text, const char *ctype)
{
    json_object *o = NULL;
    err_t e;
    err_clear(&e);
    int rc = -1;
    size_t n = strlen(text);
    switch (f) {
    case BODY_JSON: rc = body_decode_json(text, n, NULL, &o, &e); break;
    case BODY_XML: rc = body_decode_xml(text, n, NULL, &o, &e); break;
    case BODY_FORM: rc = body_decode_form(text, n, NULL, &o, &e); break;
    case BODY_MULTIPART: rc = body_decode_multipart(text, n, ctype, NULL, &o, &e); break;
    case BODY_UNSUPPORTED: break;
    }
    ck_assert_msg(rc == 0, "decode failed: %s (%s)", err_message(&e), text);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* Decodes expecting failure; returns the status, fills e. */
static int decode_bad(body_format_t f, const char *text, size_t n, const body_limits_t *lim,
                      err_t *e)
{
    json_object *o = (json_object *)1;
    err_clear(e);
    int rc = 0;
    switch (f) {
    case BODY_JSON: rc = body_decode_json(text, n, lim, &o, e); break;
    case BODY_XML: rc = body_decode_xml(text, n, lim, &o, e); break;
    case BODY_FORM: rc = body_decode_form(text, n, lim, &o, e); break;
    default: break;
    }
    ck_assert_msg(rc == -1, "decode accepted: %s", text);
    ck_assert_ptr_null(o);
    ck_assert_int_ge(e->count, 1);
    return e->status;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

START_TEST(body_json_good_and_whitespace)
{
    json_object *o = decode_ok(BODY_JSON, " {\"a\":1,\"b\":[true,null,\"x\"]}\r\n", NULL);
    ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "a")), 1);
    json_object_put(o);
    o = decode_ok(BODY_JSON, "[1,2]", NULL); /* not an object: validation's job */
    ck_assert(json_object_is_type(o, json_type_array));
    json_object_put(o);
    o = decode_ok(BODY_JSON, "12", NULL);
    ck_assert_int_eq(json_object_get_int(o), 12);
    json_object_put(o);
}
END_TEST

/* Whitespace after the value is valid wherever the decoder's 64 KiB slices
 * fall: a body padded with spaces to 200,000 bytes decodes; garbage after
 * the padding is still refused at its offset. */
START_TEST(body_json_trailing_whitespace_across_slices)
{
    size_t n = 200000;
    char *buf = malloc(n + 1);
    ck_assert_ptr_nonnull(buf);
    memset(buf, ' ', n);
    memcpy(buf, "{\"a\":1}", 7);
    buf[n - 1] = '\n';
    buf[n] = '\0';
    json_object *o = decode_ok(BODY_JSON, buf, NULL);
    ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "a")), 1);
    json_object_put(o);
    buf[n - 2] = 'x';
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(decode_bad(BODY_JSON, buf, n, NULL, &e), 400);
    ck_assert_str_eq(e.items[0].message, "json: unexpected token at offset 199998");
    free(buf);
}
END_TEST

START_TEST(body_json_errors_name_the_offset)
{
    err_t e;
    const char *t = "{\"duration\": 60,,}";
    ck_assert_int_eq(decode_bad(BODY_JSON, t, strlen(t), NULL, &e), 400);
    ck_assert_str_eq(e.items[0].code, "json_invalid");
    ck_assert_str_eq(e.items[0].message, "json: unexpected token at offset 16");
    ck_assert_str_eq(e.items[0].field, "body/16");

    t = "{\"a\":1} trailing";
    decode_bad(BODY_JSON, t, strlen(t), NULL, &e);
    ck_assert_str_eq(e.items[0].message, "json: unexpected token at offset 8");
    t = "{\"a\":1}{}";
    decode_bad(BODY_JSON, t, strlen(t), NULL, &e);
    t = "{\"a\":";
    decode_bad(BODY_JSON, t, strlen(t), NULL, &e);
    ck_assert_str_eq(e.items[0].message, "json: unexpected end of input at offset 5");
    const char *bad[] = {"", "   ", "null", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1e999}",
                         "{\"a\":\"\\u0000\"}", "{\"a\":01}",
                         "{\"a\":1,}", "{\"a\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(decode_bad(BODY_JSON, bad[i], strlen(bad[i]), NULL, &e), 400);
        ck_assert_str_eq(e.items[0].code, "json_invalid");
    }
    /* an embedded NUL is garbage, not an end */
    decode_bad(BODY_JSON, "{\"a\":1}\0{}", 10, NULL, &e);
}
END_TEST

START_TEST(body_json_limits)
{
    err_t e;
    body_limits_t lim = {.max_bytes = 1000, .max_depth = 3, .max_fields = 4};
    const char *ok = "{\"a\":{\"b\":[1]}}"; /* depth 3 */
    json_object *o = NULL;
    ck_assert_int_eq(body_decode_json(ok, strlen(ok), &lim, &o, &e), 0);
    json_object_put(o);
    const char *deep = "{\"a\":{\"b\":[[1]]}}";
    ck_assert_int_eq(decode_bad(BODY_JSON, deep, strlen(deep), &lim, &e), 413);
    ck_assert_str_eq(e.items[0].code, "too_large");
    const char *wide = "{\"a\":1,\"b\":2,\"c\":[1,2]}"; /* 3 keys + 2 items */
    ck_assert_int_eq(decode_bad(BODY_JSON, wide, strlen(wide), &lim, &e), 413);
    lim.max_bytes = 5;
    ck_assert_int_eq(decode_bad(BODY_JSON, ok, strlen(ok), &lim, &e), 413);
    /* the default depth cap stops a very deep document */
    char *nest = malloc(20001);
    memset(nest, '[', 10000);
    memset(nest + 10000, ']', 10000);
    nest[20000] = '\0';
    ck_assert_int_eq(decode_bad(BODY_JSON, nest, 20000, NULL, &e), 413);
    free(nest);
}
END_TEST

START_TEST(body_xml_item_shape)
{
    json_object *o = decode_ok(
        BODY_XML,
        "<?xml version=\"1.0\"?>\n<item>\n  <dataset_id>d&amp;1</dataset_id>\n"
        "  <duration>60</duration><predict_fields><item>y</item></predict_fields>"
        "<ignore_fields><f>a</f><f>b</f></ignore_fields><tag>x</tag><tag>y</tag>"
        "<empty/><cdata><![CDATA[<raw>]]></cdata><meta><k>v</k></meta></item>",
        NULL);
    ck_assert_str_eq(jstr(o, "dataset_id"), "d&1");
    ck_assert_str_eq(jstr(o, "duration"), "60");
    json_object *pf = json_object_object_get(o, "predict_fields");
    ck_assert(json_object_is_type(pf, json_type_array));
    ck_assert_int_eq(json_object_array_length(pf), 1);
    json_object *ig = json_object_object_get(o, "ignore_fields");
    ck_assert_int_eq(json_object_array_length(ig), 2);
    ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "tag")), 2);
    ck_assert_str_eq(jstr(o, "empty"), "");
    ck_assert_str_eq(jstr(o, "cdata"), "<raw>");
    ck_assert_str_eq(jstr(json_object_object_get(o, "meta"), "k"), "v");
    json_object_put(o);
}
END_TEST

START_TEST(body_xml_refuses_dtd_and_entities)
{
    err_t e;
    const char *laughs =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<item><a>&lol3;</a></item>";
    ck_assert_int_eq(decode_bad(BODY_XML, laughs, strlen(laughs), NULL, &e), 400);
    ck_assert_str_eq(e.items[0].code, "xml_invalid");
    ck_assert_str_eq(e.items[0].message, "xml: DOCTYPE is not allowed");
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
                      "\"file:///etc/passwd\">]><item><a>&x;</a></item>";
    decode_bad(BODY_XML, xxe, strlen(xxe), NULL, &e);
    ck_assert_str_eq(e.items[0].message, "xml: DOCTYPE is not allowed");
    const char *ext = "<!DOCTYPE item SYSTEM \"http://example.com/x.dtd\"><item/>";
    decode_bad(BODY_XML, ext, strlen(ext), NULL, &e);
    /* an undeclared entity is a well-formedness error, never a lookup */
    const char *undeclared = "<item><a>&x;</a></item>";
    ck_assert_int_eq(decode_bad(BODY_XML, undeclared, strlen(undeclared), NULL, &e), 400);
    ck_assert_str_eq(e.items[0].code, "xml_invalid");
    /* UTF-16 would hide the DOCTYPE from the byte scan: refused before parsing */
    const char *ascii = "<!DOCTYPE a [<!ENTITY x \"y\">]><a><b>&x;</b></a>";
    size_t n = strlen(ascii);
    char *u16 = malloc(2 * n + 2);
    u16[0] = (char)0xFF;
    u16[1] = (char)0xFE;
    for (size_t i = 0; i < n; i++) {
        u16[2 + 2 * i] = ascii[i];
        u16[3 + 2 * i] = 0;
    }
    ck_assert_int_eq(decode_bad(BODY_XML, u16, 2 * n + 2, NULL, &e), 400);
    ck_assert_str_eq(e.items[0].message, "xml: only UTF-8 bodies are accepted");
    /* UTF-16 without a BOM (the parser would guess it from "<\0?\0"). */
    ck_assert_int_eq(decode_bad(BODY_XML, u16 + 2, 2 * n, NULL, &e), 400);
    ck_assert_str_eq(e.items[0].message, "xml: only UTF-8 bodies are accepted");
    free(u16);
}
END_TEST

START_TEST(body_xml_malformed_and_limits)
{
    err_t e;
    const char *bad[] = {"", "<item>", "<item><a>1</b></item>", "<item>text</item>",
                         "<item><a>1</a>text<b/></item>", "<item/><other/>", "not xml"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(decode_bad(BODY_XML, bad[i], strlen(bad[i]), NULL, &e) == 400, "%s",
                      bad[i]);
        ck_assert_str_eq(e.items[0].code, "xml_invalid");
        ck_assert_msg(strncmp(e.items[0].message, "xml: ", 5) == 0, "%s", e.items[0].message);
    }
    body_limits_t lim = {.max_bytes = 1000, .max_depth = 2, .max_fields = 3};
    const char *deep = "<item><a><b><c>1</c></b></a></item>";
    ck_assert_int_eq(decode_bad(BODY_XML, deep, strlen(deep), &lim, &e), 413);
    const char *wide = "<item><a>1</a><b>1</b><c>1</c><d>1</d></item>";
    ck_assert_int_eq(decode_bad(BODY_XML, wide, strlen(wide), &lim, &e), 413);
    lim.max_bytes = 10;
    ck_assert_int_eq(decode_bad(BODY_XML, wide, strlen(wide), &lim, &e), 413);
}
END_TEST

START_TEST(body_form_fields_and_arrays)
{
    json_object *o = decode_ok(BODY_FORM,
                               "dataset_id=d%201&duration=60&predict_fields[]=y&x=a+b&r=1&r=2"
                               "&&flag&empty=\n",
                               NULL);
    ck_assert_str_eq(jstr(o, "dataset_id"), "d 1");
    ck_assert_str_eq(jstr(o, "x"), "a b");
    ck_assert_str_eq(jstr(o, "flag"), "");
    ck_assert_str_eq(jstr(o, "empty"), "");
    json_object *pf = json_object_object_get(o, "predict_fields");
    ck_assert(json_object_is_type(pf, json_type_array));
    ck_assert_int_eq(json_object_array_length(pf), 1);
    ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "r")), 2);
    json_object_put(o);
    /* JSON under the form content type (the Strapi seed's curl example) */
    o = decode_ok(BODY_FORM, "  {\"name\":\"x\"}", NULL);
    ck_assert_str_eq(jstr(o, "name"), "x");
    json_object_put(o);
}
END_TEST

START_TEST(body_form_bad_escapes_and_limits)
{
    err_t e;
    const char *bad[] = {"a=%zz", "a=%2", "a=%", "a=%00", "%41%=1", "=1", "a=%ff%fe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(decode_bad(BODY_FORM, bad[i], strlen(bad[i]), NULL, &e) == 400, "%s",
                      bad[i]);
        ck_assert_str_eq(e.items[0].code, "form_invalid");
    }
    body_limits_t lim = {.max_bytes = 100, .max_depth = 4, .max_fields = 2};
    ck_assert_int_eq(decode_bad(BODY_FORM, "a=1&b=2&c=3", 11, &lim, &e), 413);
}
END_TEST

START_TEST(body_decode_dispatch)
{
    json_object *o = NULL;
    int untyped = -1;
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(body_decode("application/xml", "application/xml", "<i><a>1</a></i>", 15,
                                 NULL, &o, &untyped, &e),
                     0);
    ck_assert_int_eq(untyped, 1);
    json_object_put(o);
    ck_assert_int_eq(body_decode("application/json", "application/json", "{}", 2, NULL, &o,
                                 &untyped, &e),
                     0);
    ck_assert_int_eq(untyped, 0);
    json_object_put(o);
    ck_assert_int_eq(body_decode("application/x-www-form-urlencoded", "", "{}", 2, NULL, &o,
                                 &untyped, &e),
                     0);
    ck_assert_int_eq(untyped, 0);
    json_object_put(o);
    ck_assert_int_eq(body_decode("text/plain", "text/plain", "x", 1, NULL, &o, &untyped, &e), -1);
    ck_assert_int_eq(e.status, 415);
    ck_assert_str_eq(e.items[0].code, "unsupported_media_type");
    ck_assert_int_eq(body_format_of("application/vnd.api+json"), BODY_JSON);
    ck_assert_int_eq(body_format_of("text/xml"), BODY_XML);
    ck_assert_int_eq(body_format_of(""), BODY_UNSUPPORTED);
}
END_TEST

/* --- multipart ------------------------------------------------------------ */

#define CT "multipart/form-data; boundary=----XyZ"
static const char mp_sample[] =
    "preamble to ignore\r\n"
    "------XyZ\r\n"
    "Content-Disposition: form-data; name=\"name\"\r\n"
    "\r\n"
    "iris\r\n"
    "------XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
    "Content-Type: text/csv\r\n"
    "\r\n"
    "x,y\r\n1,2\r\n----XyZ not a boundary\r\n\r\n"
    "------XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "------XyZ--\r\n"
    "epilogue";

typedef struct rec {
    char log[2048];
    size_t len;
    int fail_on_data;
} rec_t;

static void rec_put(rec_t *r, const char *s, size_t n)
{
    if (r->len + n < sizeof(r->log)) {
        memcpy(r->log + r->len, s, n);
        r->len += n;
        r->log[r->len] = '\0';
    }
}

static int rec_begin(void *ctx, const char *name, const char *filename, const char *ctype,
                     err_t *e)
{
    (void)e;
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "[%s|%s|%s]", name, filename ? filename : "-", ctype);
    rec_put(ctx, buf, (size_t)n);
    return 0;
}

static int rec_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    rec_t *r = ctx;
    if (r->fail_on_data)
        return err_set(e, 413, "too_large", "stop");
    rec_put(r, buf, n);
    return 0;
}

static int rec_end(void *ctx, err_t *e)
{
    (void)e;
    rec_put(ctx, "[end]", 5);
    return 0;
}

static const multipart_callbacks_t rec_cb = {rec_begin, rec_data, rec_end};
static const char expected_log[] = "[name|-|]iris[end][file|a.csv|text/csv]x,y\r\n1,2\r\n"
                                   "----XyZ not a boundary\r\n[end][empty|-|][end]";

START_TEST(body_multipart_every_split_point)
{
    size_t n = strlen(mp_sample);
    for (size_t split = 0; split <= n; split++) {
        rec_t r = {.len = 0};
        err_t e;
        err_clear(&e);
        multipart_t *mp = multipart_new(CT, &rec_cb, &r, 10, 1024, &e);
        ck_assert_ptr_nonnull(mp);
        ck_assert_int_eq(multipart_feed(mp, mp_sample, split, &e), 0);
        ck_assert_int_eq(multipart_feed(mp, mp_sample + split, n - split, &e), 0);
        ck_assert_msg(multipart_finish(mp, &e) == 0, "split %zu: %s", split, err_message(&e));
        ck_assert_msg(strcmp(r.log, expected_log) == 0, "split %zu: %s", split, r.log);
        multipart_free(mp);
    }
    /* and byte by byte */
    rec_t r = {.len = 0};
    err_t e;
    err_clear(&e);
    multipart_t *mp = multipart_new(CT, &rec_cb, &r, 10, 1024, &e);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(multipart_feed(mp, mp_sample + i, 1, &e), 0);
    ck_assert_int_eq(multipart_finish(mp, &e), 0);
    ck_assert_str_eq(r.log, expected_log);
    multipart_free(mp);
}
END_TEST

typedef struct counter {
    size_t bytes;
    size_t largest;
    int parts;
    int ok; /* every byte is the expected one */
} counter_t;

static int count_begin(void *ctx, const char *name, const char *filename, const char *ctype,
                       err_t *e)
{
    (void)name, (void)filename, (void)ctype, (void)e;
    ((counter_t *)ctx)->parts++;
    return 0;
}

static int count_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    counter_t *c = ctx;
    (void)e;
    for (size_t i = 0; i < n; i++)
        if (buf[i] != (char)('a' + (c->bytes + i) % 26))
            c->ok = 0;
    c->bytes += n;
    if (n > c->largest)
        c->largest = n;
    return 0;
}

static const multipart_callbacks_t count_cb = {count_begin, count_data, NULL};

START_TEST(body_multipart_large_part_streams)
{
    /* a 200 KB part goes through the parser's small window, in pieces */
    size_t big = 200000;
    size_t cap = big + 512;
    char *body = malloc(cap);
    size_t n = (size_t)snprintf(body, cap, "--b\r\nContent-Disposition: form-data; name=\"f\"; "
                                           "filename=\"x\"\r\n\r\n");
    for (size_t i = 0; i < big; i++)
        body[n++] = (char)('a' + i % 26);
    n += (size_t)snprintf(body + n, cap - n, "\r\n--b--");
    counter_t c = {.ok = 1};
    err_t e;
    err_clear(&e);
    multipart_t *mp = multipart_new("multipart/form-data; boundary=b", &count_cb, &c, 4, 1024, &e);
    ck_assert_ptr_nonnull(mp);
    for (size_t off = 0; off < n; off += 7777) /* odd chunk size: boundaries straddle */
        ck_assert_int_eq(multipart_feed(mp, body + off, n - off < 7777 ? n - off : 7777, &e), 0);
    ck_assert_int_eq(multipart_finish(mp, &e), 0);
    multipart_free(mp);
    ck_assert_int_eq(c.parts, 1);
    ck_assert_uint_eq(c.bytes, big);
    ck_assert(c.ok);
    ck_assert_uint_le(c.largest, 32768);
    free(body);
}
END_TEST

START_TEST(body_multipart_bad_inputs)
{
    err_t e;
    const char *bad_ct[] = {"multipart/form-data", "multipart/form-data; boundary=",
                            "multipart/form-data; boundary=a; boundary=b",
                            "multipart/form-data; boundary=\"unterminated",
                            "text/plain; boundary=x",
                            "multipart/form-data; boundary=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                            "multipart/form-data; boundary=a\x01"};
    for (size_t i = 0; i < sizeof(bad_ct) / sizeof(bad_ct[0]); i++) {
        err_clear(&e);
        ck_assert_msg(multipart_new(bad_ct[i], &rec_cb, NULL, 10, 1024, &e) == NULL, "%s",
                      bad_ct[i]);
        ck_assert_str_eq(e.items[0].code, "multipart_invalid");
    }
    err_clear(&e);
    multipart_t *ok = multipart_new("multipart/form-data; boundary=\"q b\"", &rec_cb, NULL, 1,
                                    64, &e);
    ck_assert_ptr_nonnull(ok);
    multipart_free(ok);

    const char *bad_body[] = {
        "",                                                          /* no boundary at all */
        "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1", /* no closing */
        "--b\r\n--b\r\n",                                            /* duplicated boundary */
        "--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--",   /* no name */
        "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--b--",
        "--b\r\nno colon here\r\n\r\n1\r\n--b--",
        "--bx\r\n",                                                  /* junk after delimiter */
        "--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\n\r\n--b--",
    };
    for (size_t i = 0; i < sizeof(bad_body) / sizeof(bad_body[0]); i++) {
        rec_t r = {.len = 0};
        err_clear(&e);
        multipart_t *mp = multipart_new("multipart/form-data; boundary=b", &rec_cb, &r, 10, 1024,
                                        &e);
        int rc = multipart_feed(mp, bad_body[i], strlen(bad_body[i]), &e);
        if (rc == 0)
            rc = multipart_finish(mp, &e);
        ck_assert_msg(rc == -1, "accepted: %s", bad_body[i]);
        ck_assert_str_eq(e.items[0].code, "multipart_invalid");
        multipart_free(mp);
    }
    /* limits: parts and header bytes are 413 */
    err_clear(&e);
    multipart_t *mp = multipart_new(CT, &rec_cb, &(rec_t){0}, 1, 1024, &e);
    ck_assert_int_eq(multipart_feed(mp, mp_sample, strlen(mp_sample), &e), -1);
    ck_assert_int_eq(e.status, 413);
    multipart_free(mp);
    char hdr[300];
    memset(hdr, 'x', sizeof(hdr));
    memcpy(hdr, "--b\r\nX-Long: ", 13);
    err_clear(&e);
    mp = multipart_new("multipart/form-data; boundary=b", &rec_cb, &(rec_t){0}, 4, 64, &e);
    ck_assert_int_eq(multipart_feed(mp, hdr, sizeof(hdr), &e), -1);
    ck_assert_int_eq(e.status, 413);
    multipart_free(mp);
    /* a callback's error stops the parser and comes back as is */
    rec_t r = {.fail_on_data = 1};
    err_clear(&e);
    mp = multipart_new(CT, &rec_cb, &r, 10, 1024, &e);
    ck_assert_int_eq(multipart_feed(mp, mp_sample, strlen(mp_sample), &e), -1);
    ck_assert_str_eq(err_message(&e), "stop");
    ck_assert_int_eq(multipart_feed(mp, "x", 1, &e), -1);
    multipart_free(mp);
}
END_TEST

START_TEST(body_multipart_decode_whole)
{
    const char *body = "--b\r\nContent-Disposition: form-data; name=\"dataset_id\"\r\n\r\nd1\r\n"
                       "--b\r\nContent-Disposition: form-data; name=\"predict_fields[]\"\r\n\r\ny\r\n"
                       "--b\r\nContent-Disposition: form-data; name=\"predict_fields[]\"\r\n\r\nz\r\n"
                       "--b--\r\n";
    json_object *o = decode_ok(BODY_MULTIPART, body, "multipart/form-data; boundary=b");
    ck_assert_str_eq(jstr(o, "dataset_id"), "d1");
    ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "predict_fields")), 2);
    json_object_put(o);
    /* file parts are refused by the whole-body decoder */
    json_object *none = NULL;
    err_t e;
    err_clear(&e);
    ck_assert_int_eq(body_decode_multipart(mp_sample, strlen(mp_sample), CT, NULL, &none, &e), -1);
    ck_assert_ptr_null(none);
    ck_assert_str_eq(e.items[0].code, "multipart_invalid");
}
END_TEST

Suite *suite_fcgi_body(void)
{
    const TTest *const t[] = {body_json_good_and_whitespace,
                              body_json_trailing_whitespace_across_slices,
                              body_json_errors_name_the_offset,
                              body_json_limits, body_xml_item_shape,
                              body_xml_refuses_dtd_and_entities, body_xml_malformed_and_limits,
                              body_form_fields_and_arrays, body_form_bad_escapes_and_limits,
                              body_decode_dispatch, body_multipart_every_split_point,
                              body_multipart_large_part_streams, body_multipart_bad_inputs,
                              body_multipart_decode_whole};
    return unit_suite("fcgi_body", t, sizeof(t) / sizeof(t[0]));
}
