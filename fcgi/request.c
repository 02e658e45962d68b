/*
 * request.c — request_t from CGI parameters, and every way to answer one.
 *
 * A response is written as CGI-style headers ("Status: 201 Created",
 * Content-Type, Content-Length, the headers added with req_header_add, a
 * blank line) followed by the body; nginx turns that into HTTP. All bytes go
 * through r->impl's req_io_t, so the same code runs over FastCGI and in the
 * unit tests. Everything allocated here comes from the request's arena.
 */
#include "fcgi/request.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "fcgi/dialect.h"
#include "fcgi/park.h"
#include "fcgi/router.h"
#include "fcgi/runtime.h"

static req_impl_t *impl_of(const request_t *r)
{
    return r->impl;
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **p = envp; p != NULL && *p != NULL; p++)
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

const char *req_reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}

/* "http://host/a/b?x" (absolute-form) -> "/a/b?x" */
static const char *origin_form(const char *uri)
{
    if (uri[0] == '/')
        return uri;
    const char *scheme = strstr(uri, "://");
    if (scheme == NULL)
        return uri;
    const char *slash = strchr(scheme + 3, '/');
    return slash ? slash : "/";
}

/* The request's id: the client's (or nginx's) X-Request-Id when it is 1 to
 * 128 characters of [A-Za-z0-9._:@-] (it goes into headers, log lines and
 * a database column as it is), else 32 random hex digits of our own. */
static const char *request_id_of(arena_t *arena, const char *given)
{
    if (given != NULL) {
        size_t n = strlen(given);
        int ok = n > 0 && n <= 128;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)given[i]) || strchr("._:@-", given[i]) != NULL;
        if (ok)
            return arena_strdup(arena, given);
    }
    unsigned char raw[16];
    err_t e;
    err_clear(&e);
    if (util_random_bytes(raw, sizeof(raw), &e) != 0)
        memset(raw, 0, sizeof(raw)); /* no entropy: an id of zeros beats none */
    char *hex = arena_alloc(arena, 2 * sizeof(raw) + 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

void request_init(request_t *r, req_impl_t *impl, arena_t *arena, char **envp,
                  const req_io_t *io, void *app)
{
    memset(r, 0, sizeof(*r));
    memset(impl, 0, sizeof(*impl));
    r->arena = arena;
    r->app = app;
    r->impl = impl;
    impl->io = *io;
    impl->envp = envp;
    impl->headers_tail = &impl->headers;
    impl->reply_length = -1;
    impl->dialect = DIALECT_PLAIN;
    err_clear(&r->err);

    const char *method = env_get(envp, "REQUEST_METHOD");
    r->method = arena_strdup(arena, method && *method ? method : "GET");
    impl->head_only = strcmp(r->method, "HEAD") == 0;

    /* The raw path: REQUEST_URI keeps "%2F" inside a segment, which nginx's
     * decoded DOCUMENT_URI would have split. */
    const char *uri = env_get(envp, "REQUEST_URI");
    const char *qs = env_get(envp, "QUERY_STRING");
    char *raw;
    if (uri != NULL && *uri != '\0') {
        uri = origin_form(uri);
        const char *q = strchr(uri, '?');
        raw = arena_strndup(arena, uri, q ? (size_t)(q - uri) : strlen(uri));
        if (qs == NULL && q != NULL)
            qs = q + 1;
    } else {
        const char *doc = env_get(envp, "DOCUMENT_URI");
        if (doc == NULL || *doc == '\0') {
            const char *script = env_get(envp, "SCRIPT_NAME");
            const char *info = env_get(envp, "PATH_INFO");
            doc = arena_sprintf(arena, "%s%s", script ? script : "", info ? info : "");
        }
        const char *q = strchr(doc, '?');
        raw = arena_strndup(arena, doc, q ? (size_t)(q - doc) : strlen(doc));
    }
    if (raw[0] == '\0')
        raw = arena_strdup(arena, "/");
    impl->raw_path = raw;
    const char *decoded = router_percent_decode(arena, raw, strlen(raw), 0);
    r->path = decoded ? decoded : raw;
    r->query = arena_strdup(arena, qs ? qs : "");

    const char *given_id = env_get(envp, "HTTP_X_REQUEST_ID");
    r->request_id = request_id_of(arena, given_id);
    impl->echo_request_id = given_id != NULL && strcmp(given_id, r->request_id) == 0;

    const char *ct = env_get(envp, "CONTENT_TYPE");
    r->content_type = arena_strdup(arena, ct ? ct : "");
    size_t mlen = strcspn(r->content_type, ";");
    while (mlen > 0 && isspace((unsigned char)r->content_type[mlen - 1]))
        mlen--;
    const char *mstart = r->content_type;
    while (mlen > 0 && isspace((unsigned char)*mstart)) {
        mstart++;
        mlen--;
    }
    char *media = arena_strndup(arena, mstart, mlen);
    for (char *p = media; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    r->media_type = media;

    const char *cl = env_get(envp, "CONTENT_LENGTH");
    r->content_length = -1;
    if (cl != NULL && *cl != '\0') {
        char *end;
        errno = 0;
        long long v = strtoll(cl, &end, 10);
        if (errno != 0 || *end != '\0' || v < 0 || !isdigit((unsigned char)cl[0]))
            impl->bad_length = 1;
        else
            r->content_length = v;
    }
    impl->body_fd = -1;
    const char *by_path = env_get(envp, "TRAINYARD_BODY_BY_PATH");
    const char *body_file = env_get(envp, "TRAINYARD_BODY_FILE");
    if (by_path != NULL && strcmp(by_path, "1") == 0 && body_file != NULL && *body_file != '\0')
        impl->body_path = arena_strdup(arena, body_file);
    const char *path_key = env_get(envp, "TRAINYARD_PATH_KEY");
    if (path_key != NULL && *path_key != '\0')
        r->path_key = router_percent_decode(arena, path_key, strlen(path_key), 0);
    const char *addr = env_get(envp, "REMOTE_ADDR");
    r->remote_addr = arena_strdup(arena, addr ? addr : "");
}

const char *req_header(const request_t *r, const char *name)
{
    char key[128];
    size_t len = 0;
    if (strcasecmp(name, "Content-Type") == 0)
        return env_get(impl_of(r)->envp, "CONTENT_TYPE");
    if (strcasecmp(name, "Content-Length") == 0)
        return env_get(impl_of(r)->envp, "CONTENT_LENGTH");
    len = (size_t)snprintf(key, sizeof(key), "HTTP_");
    for (const char *p = name; *p && len + 1 < sizeof(key); p++)
        key[len++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    key[len] = '\0';
    return env_get(impl_of(r)->envp, key);
}

static void query_parse(request_t *r)
{
    req_impl_t *im = impl_of(r);
    if (im->query_parsed)
        return;
    im->query_parsed = 1;
    size_t max = 1;
    for (const char *p = r->query; *p; p++)
        if (*p == '&')
            max++;
    im->query_names = arena_alloc(r->arena, max * sizeof(char *));
    im->query_values = arena_alloc(r->arena, max * sizeof(char *));
    const char *p = r->query;
    while (*p != '\0') {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (len > 0 && klen > 0) {
            char *name = router_percent_decode(r->arena, p, klen, 1);
            char *value = eq ? router_percent_decode(r->arena, eq + 1, len - klen - 1, 1)
                             : arena_strdup(r->arena, "");
            /* A malformed pair is skipped rather than failing the request. */
            if (name != NULL && value != NULL) {
                im->query_names[im->n_query] = name;
                im->query_values[im->n_query] = value;
                im->n_query++;
            }
        }
        p += len;
        if (*p == '&')
            p++;
    }
}

const char *req_query(request_t *r, const char *name)
{
    query_parse(r);
    req_impl_t *im = impl_of(r);
    for (size_t i = 0; i < im->n_query; i++)
        if (strcmp(im->query_names[i], name) == 0)
            return im->query_values[i];
    return NULL;
}

void req_query_each(request_t *r, void (*fn)(const char *name, const char *value, void *ctx),
                    void *ctx)
{
    query_parse(r);
    req_impl_t *im = impl_of(r);
    for (size_t i = 0; i < im->n_query; i++)
        fn(im->query_names[i], im->query_values[i], ctx);
}

static void close_fd(void *p)
{
    close((int)(intptr_t)p - 1);
}

int request_body_file(request_t *r, err_t *e)
{
    req_impl_t *im = impl_of(r);
    if (im->body_path == NULL)
        return -1;
    if (im->body_fd >= 0)
        return im->body_fd;
    if (im->body_dir != NULL && *im->body_dir != '\0') {
        size_t n = strlen(im->body_dir);
        if (strncmp(im->body_path, im->body_dir, n) != 0 || im->body_path[n] != '/' ||
            strstr(im->body_path + n, "/..") != NULL) {
            log_error("request: body file %s is outside %s", im->body_path, im->body_dir);
            err_set(e, 500, "internal_error", "the request body was handed over from an "
                    "unexpected place");
            return -2;
        }
    }
    int fd = open(im->body_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_error("request: body file %s: %s", im->body_path, fd < 0 ? strerror(errno)
                                                                        : "not a regular file");
        if (fd >= 0)
            close(fd);
        err_set(e, 500, "internal_error", "the request body file could not be read");
        return -2;
    }
    im->body_fd = fd;
    arena_defer(r->arena, close_fd, (void *)(intptr_t)(fd + 1));
    return fd;
}

/* Reads up to want bytes of the body from wherever it is. */
static ssize_t body_source_read(request_t *r, void *buf, size_t want, err_t *e)
{
    req_impl_t *im = impl_of(r);
    if (im->body_path == NULL)
        return im->io.read(im->io.ctx, buf, want);
    int fd = request_body_file(r, e);
    if (fd < 0)
        return -2;
    size_t got = 0;
    while (got < want) {
        ssize_t k = read(fd, (char *)buf + got, want - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

long long req_body_bytes(const request_t *r)
{
    const req_impl_t *im = r->impl;
    return im != NULL ? im->body_read : 0;
}

ssize_t req_body_read(request_t *r, void *buf, size_t n, err_t *e)
{
    req_impl_t *im = impl_of(r);
    size_t limit = r->route ? im->body_limit : 0;
    if ((size_t)im->body_read > limit)
        return err_set(e, 413, "too_large", "body exceeds the limit of %zu bytes for this route",
                       limit);
    if (im->body_eof || n == 0)
        return 0;
    size_t want = n;
    if (r->content_length >= 0) {
        long long left = r->content_length - im->body_read;
        if (left <= 0) {
            im->body_eof = 1;
            return 0;
        }
        if ((unsigned long long)left < want)
            want = (size_t)left;
    }
    /* Never read more than one byte past the limit: that byte is the proof. */
    if (want > limit + 1 - (size_t)im->body_read)
        want = limit + 1 - (size_t)im->body_read;
    ssize_t got = body_source_read(r, buf, want, e);
    if (got == -2)
        return -1;
    if (got < 0) {
        im->body_eof = 1;
        return err_set(e, 400, "body_incomplete", "could not read the request body");
    }
    im->body_read += got;
    if ((size_t)im->body_read > limit)
        return err_set(e, 413, "too_large", "body exceeds the limit of %zu bytes for this route",
                       limit);
    if ((size_t)got < want) {
        im->body_eof = 1;
        if (r->content_length >= 0)
            return err_set(e, 400, "body_incomplete",
                           "request body ended after %lld of %lld bytes", im->body_read,
                           r->content_length);
    } else if (r->content_length >= 0 && im->body_read == r->content_length) {
        im->body_eof = 1;
    }
    return got;
}

void req_header_add(request_t *r, const char *name, const char *value)
{
    req_impl_t *im = impl_of(r);
    /* Header injection: a CR or LF in either part would end the header. */
    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
        log_warn("request: dropped a response header with a line break: %s", name);
        return;
    }
    resp_header_t *h = arena_alloc(r->arena, sizeof(*h));
    h->name = arena_strdup(r->arena, name);
    h->value = arena_strdup(r->arena, value);
    h->next = NULL;
    *im->headers_tail = h;
    im->headers_tail = &h->next;
}

static int io_write(req_impl_t *im, const void *buf, size_t n)
{
    if (im->write_failed)
        return -1;
    if (n > 0 && im->io.write(im->io.ctx, buf, n) != 0) {
        im->write_failed = 1;
        return -1;
    }
    return 0;
}

int req_reply_begin(request_t *r, int status, const char *content_type, long long length)
{
    req_impl_t *im = impl_of(r);
    if (im->replied) {
        log_error("request: %s %s: a second response was attempted", r->method, r->path);
        return -1;
    }
    im->replied = 1;
    im->status = status;
    im->reply_length = length;
    if (content_type == NULL || strpbrk(content_type, "\r\n") != NULL)
        content_type = "application/octet-stream";
    char *head = arena_sprintf(r->arena, "Status: %d %s\r\nContent-Type: %s\r\n", status,
                               req_reason_phrase(status), content_type);
    if (io_write(im, head, strlen(head)) != 0)
        return -1;
    if (length >= 0) {
        char cl[48];
        int n = snprintf(cl, sizeof(cl), "Content-Length: %lld\r\n", length);
        if (io_write(im, cl, (size_t)n) != 0)
            return -1;
    }
    if (im->echo_request_id) {
        /* Every answer through nginx names its request (nginx always sends
         * one), so that a client can quote it. An id made here is only
         * logged: the bytes of a direct FastCGI answer stay as they were. */
        char *id = arena_sprintf(r->arena, "X-Request-Id: %s\r\n", r->request_id);
        if (io_write(im, id, strlen(id)) != 0)
            return -1;
    }
    for (const resp_header_t *h = im->headers; h != NULL; h = h->next) {
        char *line = arena_sprintf(r->arena, "%s: %s\r\n", h->name, h->value);
        if (io_write(im, line, strlen(line)) != 0)
            return -1;
    }
    return io_write(im, "\r\n", 2);
}

int req_reply_write(request_t *r, const void *buf, size_t n)
{
    req_impl_t *im = impl_of(r);
    if (!im->replied)
        return -1;
    if (im->reply_length >= 0 && im->reply_sent + (long long)n > im->reply_length) {
        log_error("request: %s %s: body longer than its Content-Length", r->method, r->path);
        return -1;
    }
    im->reply_sent += (long long)n;
    if (im->head_only)
        return 0;
    return io_write(im, buf, n);
}

int req_reply_end(request_t *r)
{
    req_impl_t *im = impl_of(r);
    if (!im->replied)
        return -1;
    if (im->reply_length >= 0 && im->reply_sent != im->reply_length && !im->head_only) {
        log_error("request: %s %s: body shorter than its Content-Length", r->method, r->path);
        return -1;
    }
    return im->write_failed ? -1 : 0;
}

int req_reply_flush(request_t *r)
{
    req_impl_t *im = impl_of(r);
    if (!im->replied || im->write_failed)
        return -1;
    if (im->head_only || im->io.flush == NULL)
        return 0;
    if (im->io.flush(im->io.ctx) != 0) {
        im->write_failed = 1;
        return -1;
    }
    return 0;
}

int req_client_gone(request_t *r)
{
    req_impl_t *im = impl_of(r);
    if (im->write_failed)
        return 1;
    return im->io.gone != NULL && im->io.gone(im->io.ctx);
}

int req_reply_bytes(request_t *r, int status, const char *content_type, const void *body,
                    size_t len)
{
    if (req_reply_begin(r, status, content_type, (long long)len) != 0)
        return -1;
    if (req_reply_write(r, body, len) != 0)
        return -1;
    return req_reply_end(r);
}

int req_reply_json_text(request_t *r, int status, const char *json, size_t len)
{
    return req_reply_bytes(r, status, "application/json", json, len);
}

int req_reply_json(request_t *r, int status, json_object *doc)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    return req_reply_json_text(r, status, text, len);
}

int req_reply_error(request_t *r, const err_t *e)
{
    req_impl_t *im = impl_of(r);
    dialect_t d = r->route ? r->route->dialect : im->dialect;
    int status = dialect_error_status(d, e);
    if (e->retry_after[0] != '\0')
        req_header_add(r, "Retry-After", e->retry_after);
    json_object *doc = dialect_error_doc(d, e);
    int rc = req_reply_json(r, status, doc);
    json_object_put(doc);
    return rc;
}

int req_replied(const request_t *r)
{
    return impl_of(r)->replied;
}

int req_park(request_t *r, const char *wake_key, double seconds, const char *note)
{
    req_impl_t *im = impl_of(r);
    if (!im->can_park || im->replied || im->parked)
        return -1;
    /* The body must have been read to its end: the connection then holds
     * nothing but the next request nginx will send after our answer. */
    if (!im->body_eof && !(r->content_length >= 0 && im->body_read >= r->content_length))
        return -1;
    if (wake_key == NULL || strlen(wake_key) >= 96 || (note != NULL && strlen(note) >= 256))
        return -1;
    if (seconds > PARK_MAX_SECONDS)
        seconds = PARK_MAX_SECONDS;
    if (seconds < 0)
        seconds = 0;
    im->parked = 1;
    im->park_key = arena_strdup(r->arena, wake_key);
    im->park_note = arena_strdup(r->arena, note ? note : "");
    im->park_deadline = util_now_monotonic() + seconds;
    if (im->park_deadline_cap > 0 && im->park_deadline > im->park_deadline_cap)
        im->park_deadline = im->park_deadline_cap;
    return 0;
}

int req_resumed(const request_t *r)
{
    return impl_of(r)->resumed;
}

const char *req_resume_note(const request_t *r)
{
    const char *n = impl_of(r)->resume_note;
    return n ? n : "";
}
