/*
 * test_fcgi_request.c — whole requests through the runtime's dispatch with
 * in-memory I/O: CGI parameters, routing errors, limits, decoding,
 * validation, hooks and the exact bytes of the response.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi/runtime.h"
#include "tests/unit/unit.h"

Suite *suite_fcgi_request(void);

typedef struct fake_io {
    const char *in;
    size_t in_len;
    size_t in_pos;
    size_t in_truncate; /* pretend the client went away after this many bytes */
    char out[65536];
    size_t out_len;
} fake_io_t;

static ssize_t fake_read(void *ctx, void *buf, size_t n)
{
    fake_io_t *f = ctx;
    size_t end = f->in_truncate ? f->in_truncate : f->in_len;
    size_t left = end - f->in_pos;
    size_t k = n < left ? n : left;
    memcpy(buf, f->in + f->in_pos, k);
    f->in_pos += k;
    return (ssize_t)k;
}

static int fake_write(void *ctx, const void *buf, size_t n)
{
    fake_io_t *f = ctx;
    if (f->out_len + n >= sizeof(f->out))
        return -1;
    memcpy(f->out + f->out_len, buf, n);
    f->out_len += n;
    f->out[f->out_len] = '\0';
    return 0;
}

/* --- a small app --------------------------------------------------------- */

static int calls_ensure_db, calls_auth, calls_after, last_after_status;
static int db_down;

static int h_echo(request_t *r)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "path", json_object_new_string(r->path));
    json_object_object_add(doc, "n", json_object_new_int(r->n_params));
    if (r->n_params > 0)
        json_object_object_add(doc, "p0", json_object_new_string(r->params[0]));
    if (r->body != NULL)
        json_object_object_add(doc, "body", json_object_get(r->body));
    const char *q = req_query(r, "q");
    if (q != NULL)
        json_object_object_add(doc, "q", json_object_new_string(q));
    const char *k = req_header(r, "X-API-Key");
    if (k != NULL)
        json_object_object_add(doc, "key", json_object_new_string(k));
    req_header_add(r, "X-Test", "1");
    int rc = req_reply_json(r, 200, doc);
    json_object_put(doc);
    return rc;
}

static int h_fail(request_t *r)
{
    err_set(&r->err, 409, "JOB_NOT_RUNNING", "Job is not running, id: %s", r->params[0]);
    return -1;
}

static int h_crash_quietly(request_t *r)
{
    (void)r;
    return -1; /* no err filled: the runtime must still answer */
}

static int h_stream(request_t *r)
{
    char buf[7];
    size_t total = 0;
    ssize_t k;
    err_t e;
    err_clear(&e);
    while ((k = req_body_read(r, buf, sizeof(buf), &e)) > 0)
        total += (size_t)k;
    if (k < 0) {
        r->err = e;
        return -1;
    }
    char text[64];
    int n = snprintf(text, sizeof(text), "{\"bytes\":%zu}", total);
    return req_reply_json_text(r, 200, text, (size_t)n);
}

static int h_big_reply(request_t *r)
{
    if (req_reply_begin(r, 200, "text/csv", 6) != 0)
        return -1;
    req_reply_write(r, "a,b\n", 4);
    req_reply_write(r, "1\n", 2);
    ck_assert_int_eq(req_reply_write(r, "x", 1), -1); /* past Content-Length */
    return req_reply_end(r);
}

static int calls_park_handler;

/* Parks on first call (when it can), answers once resumed. */
static int h_park(request_t *r)
{
    calls_park_handler++;
    if (req_resumed(r) == REQ_FRESH && req_park(r, "job:1", 30, "note-1") == 0)
        return 0;
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "resumed", json_object_new_int(req_resumed(r)));
    json_object_object_add(doc, "note", json_object_new_string(req_resume_note(r)));
    json_object_object_add(doc, "ws", json_object_new_int64(r->auth.workspace_id));
    int rc = req_reply_json(r, 200, doc);
    json_object_put(doc);
    return rc;
}

static const long long durations[] = {10, 60, 300, 1800};
static const field_spec_t train_fields[] = {
    {.name = "dataset_id", .type = FIELD_STRING, .flags = FIELD_REQUIRED},
    {.name = "duration", .type = FIELD_INT, .flags = FIELD_REQUIRED, .allowed_ints = durations,
     .n_allowed_ints = 4},
};

static const route_t routes[] = {
    {"POST", "/api/v1/models/train/new", h_echo, 1024, DIALECT_AKKIO, ROUTE_AUTH, train_fields, 2},
    {"GET", "/api/v1/models/train/{task_id}/status", h_echo, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL, 0},
    {"POST", "/train/{workspace}/kill", h_fail, 0, DIALECT_WORKSPACE, 0, NULL, 0},
    {"PUT", "/trainings/{id}", h_echo, 1024, DIALECT_STRAPI, 0, train_fields, 2},
    {"POST", "/upload", h_stream, 20, DIALECT_PLAIN, ROUTE_STREAM_BODY, NULL, 0},
    {"GET", "/healthz", h_echo, 0, DIALECT_PLAIN, ROUTE_NO_DB, NULL, 0},
    {"GET", "/quiet", h_crash_quietly, 0, DIALECT_PLAIN, 0, NULL, 0},
    {"GET", "/csv", h_big_reply, 0, DIALECT_PLAIN, 0, NULL, 0},
    {"POST", "/v1/models", h_echo, 4096, DIALECT_AKKIO, ROUTE_KEY_IN_BODY, NULL, 0},
    {"GET", "/wait", h_park, 0, DIALECT_PLAIN, ROUTE_AUTH, NULL, 0},
};

static int hook_ensure_db(request_t *r, err_t *e)
{
    (void)r;
    calls_ensure_db++;
    if (db_down) {
        err_set(e, 503, "db_unavailable", "database unavailable");
        snprintf(e->retry_after, sizeof(e->retry_after), "5");
        return -1;
    }
    return 0;
}

static int hook_auth(request_t *r, err_t *e)
{
    calls_auth++;
    const char *k = req_header(r, "X-API-Key");
    if (k == NULL)
        k = r->body_key;
    if (k == NULL || strcmp(k, "good") != 0)
        return err_set(e, 401, "unauthorized", "Invalid API key");
    r->auth.workspace_id = 1;
    return 0;
}

static void hook_after(request_t *r, int status, double seconds)
{
    (void)r;
    ck_assert(seconds >= 0);
    calls_after++;
    last_after_status = status;
}

static const server_hooks_t hooks = {
    .ensure_db = hook_ensure_db, .authenticate = hook_auth, .after_request = hook_after};

/* Empties the fake connection and loads the request body. */
static void io_reset(fake_io_t *io, const char *body)
{
    memset(io, 0, sizeof(*io));
    io->in = body ? body : "";
    io->in_len = strlen(io->in);
}

/* Runs one request; env is "NAME=value" strings, NULL-terminated. */
static int dispatch(char **env, fake_io_t *io)
{
    arena_t *a = arena_create(0);
    request_t r;
    req_impl_t im;
    req_io_t rio = {.read = fake_read, .write = fake_write, .ctx = io};
    request_init(&r, &im, a, env, &rio, NULL);
    int status = request_dispatch(&r, routes, sizeof(routes) / sizeof(routes[0]), &hooks);
    arena_destroy(a);
    return status;
}

/* The same with the pool's parking switched on; *parked tells whether the
 * handler parked instead of answering. resumed: REQ_FRESH or how it came back. */
static int dispatch_parking(char **env, fake_io_t *io, int resumed, int *parked)
{
    arena_t *a = arena_create(0);
    request_t r;
    req_impl_t im;
    req_io_t rio = {.read = fake_read, .write = fake_write, .ctx = io};
    request_init(&r, &im, a, env, &rio, NULL);
    im.can_park = 1;
    if (resumed != REQ_FRESH) {
        im.resumed = resumed;
        im.resume_note = "note-1";
        im.body_eof = 1;
        r.auth.workspace_id = 7; /* what the first call authenticated */
    }
    int status = request_dispatch(&r, routes, sizeof(routes) / sizeof(routes[0]), &hooks);
    *parked = im.parked;
    arena_destroy(a);
    return status;
}

static const char *body_of(const fake_io_t *io)
{
    const char *p = strstr(io->out, "\r\n\r\n");
    return p ? p + 4 : "";
}

START_TEST(request_good_post_validated_and_echoed)
{
    fake_io_t io;
    const char *body = "{\"dataset_id\":\"d\",\"duration\":60}";
    char cl[32];
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/models/train/new?q=a%20b",
                   "QUERY_STRING=q=a%20b", "CONTENT_TYPE=application/json; charset=utf-8", cl,
                   "HTTP_X_API_KEY=good", NULL};
    io_reset(&io, body);
    calls_after = 0;
    ck_assert_int_eq(dispatch(env, &io), 200);
    ck_assert_int_eq(calls_after, 1);
    ck_assert_int_eq(last_after_status, 200);
    ck_assert_msg(strncmp(io.out, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                                  "Content-Length: ",
                          63) == 0,
                  "%s", io.out);
    ck_assert_ptr_nonnull(strstr(io.out, "\r\nX-Test: 1\r\n\r\n"));
    ck_assert_str_eq(body_of(&io), "{\"path\":\"/api/v1/models/train/new\",\"n\":0,\"body\":"
                                   "{\"dataset_id\":\"d\",\"duration\":60},\"q\":\"a b\","
                                   "\"key\":\"good\"}");
    /* Content-Length is the body's */
    long len = strtol(strstr(io.out, "Content-Length: ") + 16, NULL, 10);
    ck_assert_int_eq(len, (long)strlen(body_of(&io)));
}
END_TEST

START_TEST(request_routing_errors_in_dialect)
{
    fake_io_t io;
    char *e404[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/models/train/x/nope", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(e404, &io), 404);
    ck_assert_str_eq(body_of(&io), "{\"detail\":\"Not Found\"}");

    char *e405[] = {"REQUEST_METHOD=DELETE", "REQUEST_URI=/trainings/3", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(e405, &io), 405);
    ck_assert_ptr_nonnull(strstr(io.out, "\r\nAllow: PUT\r\n"));
    ck_assert_str_eq(body_of(&io), "{\"code\":405,\"message\":\"Method Not Allowed\"}");
}
END_TEST

START_TEST(request_413_before_reading)
{
    fake_io_t io;
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/models/train/new",
                   "CONTENT_TYPE=application/json", "CONTENT_LENGTH=5000000000",
                   "HTTP_X_API_KEY=good", NULL};
    io_reset(&io, "{}");
    calls_auth = 0;
    ck_assert_int_eq(dispatch(env, &io), 413);
    ck_assert_uint_eq(io.in_pos, 0); /* not a byte read */
    ck_assert_int_eq(calls_auth, 0);
    ck_assert_str_eq(body_of(&io),
                     "{\"detail\":\"body exceeds the limit of 1024 bytes for this route\"}");
    /* a body on a route that takes none */
    char *none[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/healthz", "CONTENT_LENGTH=3", NULL};
    io_reset(&io, "abc");
    ck_assert_int_eq(dispatch(none, &io), 413);
    /* no Content-Length (chunked) but too much body: 413 after limit + 1 bytes */
    char *chunked[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/upload", NULL};
    io_reset(&io, "0123456789012345678901234567890123456789");
    ck_assert_int_eq(dispatch(chunked, &io), 413);
    ck_assert_uint_le(io.in_pos, 21);
    /* a bad Content-Length */
    char *bad[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/upload", "CONTENT_LENGTH=-4", NULL};
    io_reset(&io, "");
    ck_assert_int_eq(dispatch(bad, &io), 400);
}
END_TEST

START_TEST(request_stream_body_and_short_body)
{
    fake_io_t io;
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/upload", "CONTENT_LENGTH=15", NULL};
    io_reset(&io, "abcdefghijklmno");
    ck_assert_int_eq(dispatch(env, &io), 200);
    ck_assert_str_eq(body_of(&io), "{\"bytes\":15}");
    io_reset(&io, "abcdefghijklmno");
    io.in_truncate = 9; /* the client went away */
    ck_assert_int_eq(dispatch(env, &io), 400);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"code\":\"body_incomplete\""));
}
END_TEST

START_TEST(request_validation_and_decode_errors)
{
    fake_io_t io;
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/models/train/new",
                   "CONTENT_TYPE=application/json", "HTTP_X_API_KEY=good", NULL};
    io_reset(&io, "{\"duration\":61}");
    ck_assert_int_eq(dispatch(env, &io), 422);
    ck_assert_str_eq(body_of(&io),
                     "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\",\"dataset_id\"],\"msg\":"
                     "\"Field required\"},{\"type\":\"literal_error\",\"loc\":[\"body\","
                     "\"duration\"],\"msg\":\"Input should be 10, 60, 300 or 1800\"}]}");
    io_reset(&io, "{\"duration\":");
    ck_assert_int_eq(dispatch(env, &io), 422);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"json_invalid\",\"loc\":[\"body\",12]"));
    io_reset(&io, "");
    ck_assert_int_eq(dispatch(env, &io), 422);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"missing\",\"loc\":[\"body\"]"));

    /* Strapi: XML coerced, validation is 400 */
    char *put[] = {"REQUEST_METHOD=PUT", "REQUEST_URI=/trainings/9", "CONTENT_TYPE=text/xml",
                   NULL};
    io_reset(&io, "<item><dataset_id>d</dataset_id><duration>300</duration></item>");
    ck_assert_int_eq(dispatch(put, &io), 200);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"duration\":300"));
    io_reset(&io, "<item><dataset_id>d</dataset_id><duration>x</duration></item>");
    ck_assert_int_eq(dispatch(put, &io), 400);
    ck_assert_str_eq(body_of(&io), "{\"code\":400,\"message\":\"duration: Input should be a valid "
                                   "integer, unable to parse string as an integer\"}");
    char *form[] = {"REQUEST_METHOD=PUT", "REQUEST_URI=/trainings/9",
                    "CONTENT_TYPE=application/x-www-form-urlencoded", NULL};
    io_reset(&io, "dataset_id=d&duration=10");
    ck_assert_int_eq(dispatch(form, &io), 200);
    char *plain[] = {"REQUEST_METHOD=PUT", "REQUEST_URI=/trainings/9", "CONTENT_TYPE=text/plain",
                     NULL};
    io_reset(&io, "hello");
    ck_assert_int_eq(dispatch(plain, &io), 415);
    char *dtd[] = {"REQUEST_METHOD=PUT", "REQUEST_URI=/trainings/9",
                   "CONTENT_TYPE=application/xml", NULL};
    io_reset(&io, "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><item>&e;</item>");
    ck_assert_int_eq(dispatch(dtd, &io), 400);
    ck_assert_str_eq(body_of(&io), "{\"code\":400,\"message\":\"xml: DOCTYPE is not allowed\"}");
}
END_TEST

START_TEST(request_hooks_order_auth_db)
{
    fake_io_t io;
    char *noauth[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/models/train/t1/status", NULL};
    io_reset(&io, NULL);
    calls_ensure_db = calls_auth = 0;
    ck_assert_int_eq(dispatch(noauth, &io), 401);
    ck_assert_int_eq(calls_ensure_db, 1);
    ck_assert_int_eq(calls_auth, 1);
    ck_assert_str_eq(body_of(&io), "{\"detail\":\"Invalid API key\"}");

    char *ok[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/v1/models/train/t%201/status/",
                  "HTTP_X_API_KEY=good", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(ok, &io), 200);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"p0\":\"t 1\""));

    db_down = 1;
    io_reset(&io, NULL);
    calls_auth = 0;
    ck_assert_int_eq(dispatch(ok, &io), 503);
    ck_assert_int_eq(calls_auth, 0);
    ck_assert_ptr_nonnull(strstr(io.out, "\r\nRetry-After: 5\r\n"));
    /* ROUTE_NO_DB routes answer while the database is down */
    char *health[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/healthz", NULL};
    io_reset(&io, NULL);
    calls_ensure_db = 0;
    ck_assert_int_eq(dispatch(health, &io), 200);
    ck_assert_int_eq(calls_ensure_db, 0);
    db_down = 0;
}
END_TEST

START_TEST(request_handler_errors_and_streams)
{
    fake_io_t io;
    char *kill[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/train/ws1/kill", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(kill, &io), 409);
    ck_assert_str_eq(body_of(&io), "{\"error_code\":\"JOB_NOT_RUNNING\",\"message\":\"Job is not "
                                   "running, id: ws1\"}");
    char *quiet[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/quiet", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(quiet, &io), 500);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"message\":\"internal error\""));
    char *csv[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/csv", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(csv, &io), 200);
    ck_assert_str_eq(io.out, "Status: 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 6\r\n"
                             "\r\na,b\n1\n");
    /* The request id nginx passes is echoed; one unfit for a header is
     * replaced (and then not echoed: the id made here is only logged). */
    char *traced[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/csv", "HTTP_X_REQUEST_ID=abc-1.2:x@y",
                      NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(traced, &io), 200);
    ck_assert_str_eq(io.out, "Status: 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 6\r\n"
                             "X-Request-Id: abc-1.2:x@y\r\n\r\na,b\n1\n");
    char *forged[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/csv",
                      "HTTP_X_REQUEST_ID=a\r\nSet-Cookie: x=1", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(forged, &io), 200);
    ck_assert_ptr_null(strstr(io.out, "X-Request-Id"));
    ck_assert_ptr_null(strstr(io.out, "Set-Cookie"));
    /* HEAD: headers only */
    char *head[] = {"REQUEST_METHOD=HEAD", "REQUEST_URI=/csv", NULL};
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(head, &io), 200);
    ck_assert_str_eq(body_of(&io), "");
}
END_TEST

START_TEST(request_query_and_headers)
{
    arena_t *a = arena_create(0);
    fake_io_t io;
    memset(&io, 0, sizeof(io));
    char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x%2Fy?ignored",
                   "QUERY_STRING=a=1&b=x+y&a=2&bad=%zz&empty=&flag&%41=z",
                   "CONTENT_TYPE= Application/JSON ; charset=utf-8", "HTTP_AUTHORIZATION=Bearer k",
                   "REMOTE_ADDR=10.0.0.1", NULL};
    request_t r;
    req_impl_t im;
    req_io_t rio = {.read = fake_read, .write = fake_write, .ctx = &io};
    request_init(&r, &im, a, env, &rio, NULL);
    ck_assert_str_eq(r.path, "/x/y");
    ck_assert_str_eq(im.raw_path, "/x%2Fy");
    ck_assert_str_eq(r.media_type, "application/json");
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_str_eq(r.remote_addr, "10.0.0.1");
    ck_assert_str_eq(req_query(&r, "a"), "1");
    ck_assert_str_eq(req_query(&r, "b"), "x y");
    ck_assert_str_eq(req_query(&r, "empty"), "");
    ck_assert_str_eq(req_query(&r, "flag"), "");
    ck_assert_str_eq(req_query(&r, "A"), "z");
    ck_assert_ptr_null(req_query(&r, "bad"));
    ck_assert_ptr_null(req_query(&r, "missing"));
    ck_assert_str_eq(req_header(&r, "authorization"), "Bearer k");
    ck_assert_ptr_null(req_header(&r, "X-API-Key"));
    /* response headers cannot be split */
    req_header_add(&r, "X-Bad", "a\r\nSet-Cookie: x");
    ck_assert_int_eq(req_reply_bytes(&r, 204, "text/plain", "", 0), 0);
    ck_assert_ptr_null(strstr(io.out, "Set-Cookie"));
    ck_assert_int_eq(req_replied(&r), 1);
    ck_assert_int_eq(req_reply_bytes(&r, 200, "text/plain", "", 0), -1); /* only once */
    arena_destroy(a);
}
END_TEST

START_TEST(request_key_in_body_checked_before_decoding)
{
    fake_io_t io;
    char cl[32];
    const char *good = "{\"data\":[1,2],\"api_key\":\"good\"}";
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(good));
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/v1/models",
                   "CONTENT_TYPE=application/json", cl, NULL};
    io_reset(&io, good);
    calls_auth = 0;
    ck_assert_int_eq(dispatch(env, &io), 200);
    ck_assert_int_eq(calls_auth, 2); /* no header key, then the body's */
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"api_key\":\"good\""));

    /* No key: refused after the scan, the malformed tail never decoded. */
    const char *none = "{\"data\":[1,2], \"x\": nonsense";
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(none));
    io_reset(&io, none);
    ck_assert_int_eq(dispatch(env, &io), 401);
    /* A good key, then a malformed body: decoded only now, and refused. */
    const char *bad = "{\"api_key\":\"good\", \"x\": nonsense";
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(bad));
    io_reset(&io, bad);
    ck_assert_int_eq(dispatch(env, &io), 422);
    /* Nested past any decoder's cap: 413 while scanning, before the key. */
    char many[128] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "[");
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(many));
    io_reset(&io, many);
    ck_assert_int_eq(dispatch(env, &io), 413);
}
END_TEST

START_TEST(request_body_handed_over_by_path)
{
    char path[] = "/tmp/ty-unit-body.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *body = "{\"dataset_id\":\"from-file\",\"duration\":60}";
    ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    char cl[32], file[64];
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
    snprintf(file, sizeof(file), "TRAINYARD_BODY_FILE=%s", path);
    char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/api/v1/models/train/new",
                   "CONTENT_TYPE=application/json", cl, "HTTP_X_API_KEY=good",
                   "TRAINYARD_BODY_BY_PATH=1", file, NULL};
    fake_io_t io;
    io_reset(&io, "{\"dataset_id\":\"from-socket\"}");
    ck_assert_int_eq(dispatch(env, &io), 200);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "from-file"));
    /* Without the switch the file is ignored (nginx sent the body). */
    env[5] = "TRAINYARD_BODY_BY_PATH=0";
    const char *sock = "{\"dataset_id\":\"from-socket\",\"duration\":10}";
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(sock));
    io_reset(&io, sock);
    ck_assert_int_eq(dispatch(env, &io), 200);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "from-socket"));
    unlink(path);
    /* A file that is gone is a server fault, said plainly. */
    env[5] = "TRAINYARD_BODY_BY_PATH=1";
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch(env, &io), 500);
}
END_TEST

START_TEST(request_park_and_resume)
{
    char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/wait", "HTTP_X_API_KEY=good", NULL};
    fake_io_t io;
    int parked = 0;
    /* Without a parker in the pool, the handler answers at once. */
    io_reset(&io, NULL);
    calls_park_handler = 0;
    ck_assert_int_eq(dispatch(env, &io), 200);
    ck_assert_ptr_nonnull(strstr(body_of(&io), "\"resumed\":0"));
    /* With one: nothing is written, the request is marked parked. */
    io_reset(&io, NULL);
    ck_assert_int_eq(dispatch_parking(env, &io, REQ_FRESH, &parked), 0);
    ck_assert_int_eq(parked, 1);
    ck_assert_int_eq((int)io.out_len, 0);
    /* Resumed: the same handler, its note, the first call's identity. */
    io_reset(&io, NULL);
    calls_auth = 0;
    ck_assert_int_eq(dispatch_parking(env, &io, REQ_RESUMED_WOKEN, &parked), 200);
    ck_assert_int_eq(calls_auth, 0);
    ck_assert_str_eq(body_of(&io), "{\"resumed\":1,\"note\":\"note-1\",\"ws\":7}");
}
END_TEST

/* A trickling answer (server-sent events): each flush reaches the I/O's
 * flush at once, a HEAD flushes nothing, a failed flush marks the client
 * gone, and the I/O's own "gone" is asked. */
static int flushes, flush_fails, gone_now;
static int fake_flush(void *ctx)
{
    (void)ctx;
    flushes++;
    return flush_fails ? -1 : 0;
}
static int fake_gone(void *ctx)
{
    (void)ctx;
    return gone_now;
}

START_TEST(request_flush_and_client_gone)
{
    static char *env[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/events", NULL};
    static char *head_env[] = {"REQUEST_METHOD=HEAD", "SCRIPT_NAME=/events", NULL};
    fake_io_t io;
    io_reset(&io, NULL);
    arena_t *a = arena_create(0);
    request_t r;
    req_impl_t im;
    req_io_t rio = {.read = fake_read, .write = fake_write, .flush = fake_flush,
                    .gone = fake_gone, .ctx = &io};
    flushes = flush_fails = gone_now = 0;
    request_init(&r, &im, a, env, &rio, NULL);
    ck_assert_int_eq(req_reply_flush(&r), -1); /* nothing begun */
    ck_assert_int_eq(req_reply_begin(&r, 200, "text/event-stream", -1), 0);
    ck_assert_int_eq(req_reply_write(&r, "data: 1\n\n", 9), 0);
    ck_assert_int_eq(req_reply_flush(&r), 0);
    ck_assert_int_eq(flushes, 1);
    ck_assert_int_eq(req_client_gone(&r), 0);
    gone_now = 1;
    ck_assert_int_eq(req_client_gone(&r), 1);
    gone_now = 0;
    flush_fails = 1;
    ck_assert_int_eq(req_reply_flush(&r), -1);
    ck_assert_int_eq(req_client_gone(&r), 1); /* a failed flush: nobody listens */
    ck_assert_int_eq(req_reply_write(&r, "x", 1), -1);
    arena_reset(a);

    flushes = flush_fails = 0;
    io_reset(&io, NULL);
    request_init(&r, &im, a, head_env, &rio, NULL);
    ck_assert_int_eq(req_reply_begin(&r, 200, "text/event-stream", -1), 0);
    ck_assert_int_eq(req_reply_flush(&r), 0);
    ck_assert_int_eq(flushes, 0);
    arena_reset(a);

    /* No flush in the I/O (in-memory): flushing is a no-op that succeeds. */
    req_io_t plain = {.read = fake_read, .write = fake_write, .ctx = &io};
    io_reset(&io, NULL);
    request_init(&r, &im, a, env, &plain, NULL);
    ck_assert_int_eq(req_reply_begin(&r, 200, "text/event-stream", -1), 0);
    ck_assert_int_eq(req_reply_flush(&r), 0);
    ck_assert_int_eq(req_client_gone(&r), 0);
    arena_destroy(a);
}
END_TEST

Suite *suite_fcgi_request(void)
{
    const TTest *const t[] = {request_good_post_validated_and_echoed, request_routing_errors_in_dialect,
                              request_413_before_reading, request_stream_body_and_short_body,
                              request_validation_and_decode_errors, request_hooks_order_auth_db,
                              request_handler_errors_and_streams, request_query_and_headers,
                              request_key_in_body_checked_before_decoding,
                              request_body_handed_over_by_path, request_park_and_resume,
                              request_flush_and_client_gone};
    return unit_suite("fcgi_request", t, sizeof(t) / sizeof(t[0]));
}
