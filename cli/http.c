/*
 * http.c — libcurl under the terminal client (see http.h).
 *
 * libcurl does the protocol (keep-alive, chunked answers, TLS, proxies from
 * the environment); this file only adapts it: where bodies come from and
 * go to, the key header, and turning a refusal into a sentence a user can
 * act on. A server error is read from whichever of trainyard's error
 * shapes it came in: {"detail":[{"loc","msg"}]}, {"detail":"…"},
 * {"error_code","message"}, {"code","message"} or {"status","message"}.
 */
#include "cli/http.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* A JSON answer larger than this is not one of ours. */
#define HTTP_JSON_MAX (256UL * 1024 * 1024)

struct cli_http {
    CURL *curl;                       /* the one easy handle: its connection is reused */
    char *base;                       /* server base URL, owned */
    struct curl_slist *auth;          /* X-API-Key and X-Trainyard-Workspace headers (or NULL) */
    cli_http_progress_fn progress;    /* see cli_http_set_progress */
    void *progress_ctx;
    volatile sig_atomic_t *cancel;    /* see cli_http_set_cancel */
    int upload;                       /* the current call's progress is the upload's */
};

typedef struct http_buf {
    char *data;                       /* NUL-terminated */
    size_t len, cap;
    int too_big;
} http_buf_t;

/* Where an answer's body goes: into buf, or (downloads of a 2xx) into out. */
typedef struct http_sink {
    CURL *curl;
    http_buf_t buf;
    FILE *out;                        /* NULL: always into buf */
    long long written;
    int write_failed;
} http_sink_t;

static size_t http_buf_add(http_buf_t *b, const char *p, size_t n)
{
    if (b->len + n + 1 > HTTP_JSON_MAX) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static size_t http_on_write(char *p, size_t size, size_t nmemb, void *ctx)
{
    http_sink_t *s = ctx;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    /* Only a successful answer goes to the file: an error's body is the
     * message to show, not the user's model. */
    if (s->out != NULL && code >= 200 && code < 300) {
        if (fwrite(p, 1, n, s->out) != n) {
            s->write_failed = 1;
            return 0;
        }
        s->written += (long long)n;
        return n;
    }
    return http_buf_add(&s->buf, p, n);
}

static int http_on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
    cli_http_t *h = ctx;
    if (h->cancel != NULL && *h->cancel)
        return 1; /* abandons the transfer: CURLE_ABORTED_BY_CALLBACK */
    if (h->progress != NULL) {
        if (h->upload)
            h->progress(h->progress_ctx, (double)ulnow, (double)ultotal);
        else
            h->progress(h->progress_ctx, (double)dlnow, (double)dltotal);
    }
    return 0;
}

cli_http_t *cli_http_new(const char *base_url, const char *key, err_t *e)
{
    static int initialised;
    if (!initialised) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set(e, 1, "http", "libcurl could not initialise");
            return NULL;
        }
        initialised = 1;
    }
    cli_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->curl = curl_easy_init()) == NULL || (h->base = strdup(base_url)) == NULL) {
        cli_http_free(h);
        err_set(e, 1, "http", "out of memory");
        return NULL;
    }
    if (key != NULL && *key != '\0') {
        size_t n = strlen(key) + 16;
        char *hdr = malloc(n);
        if (hdr != NULL) {
            snprintf(hdr, n, "X-API-Key: %s", key);
            h->auth = curl_slist_append(NULL, hdr);
            free(hdr);
        }
        if (h->auth == NULL) {
            cli_http_free(h);
            err_set(e, 1, "http", "out of memory");
            return NULL;
        }
    }
    return h;
}

int cli_http_set_workspace(cli_http_t *h, const char *workspace, err_t *e)
{
    if (workspace == NULL || *workspace == '\0')
        return 0;
    if (strpbrk(workspace, "\r\n") != NULL)
        return err_set(e, 2, "usage", "a workspace name is one line of A-Z a-z 0-9 _ -");
    size_t n = strlen(workspace) + 32;
    char *hdr = malloc(n);
    struct curl_slist *l = NULL;
    if (hdr != NULL) {
        snprintf(hdr, n, "X-Trainyard-Workspace: %s", workspace);
        l = curl_slist_append(h->auth, hdr);
        free(hdr);
    }
    if (l == NULL)
        return err_set(e, 1, "http", "out of memory");
    h->auth = l;
    return 0;
}

void cli_http_free(cli_http_t *h)
{
    if (h == NULL)
        return;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->auth);
    free(h->base);
    free(h);
}

void cli_http_set_progress(cli_http_t *h, cli_http_progress_fn fn, void *ctx)
{
    h->progress = fn;
    h->progress_ctx = ctx;
}

void cli_http_set_cancel(cli_http_t *h, volatile sig_atomic_t *flag)
{
    h->cancel = flag;
}

char *cli_http_escape(const char *s)
{
    char *c = curl_easy_escape(NULL, s, 0);
    char *out = c != NULL ? strdup(c) : NULL;
    curl_free(c);
    return out;
}

/* The human message of an error answer in any of the dialects' shapes. */
static void http_error_text(json_object *doc, const char *raw, char *out, size_t n)
{
    json_object *v;
    out[0] = '\0';
    if (json_object_is_type(doc, json_type_object)) {
        if (json_object_object_get_ex(doc, "detail", &v) && json_object_is_type(v, json_type_array)) {
            size_t used = 0;
            for (size_t i = 0; i < json_object_array_length(v) && used + 1 < n; i++) {
                json_object *item = json_object_array_get_idx(v, i), *loc, *msg;
                char where[256] = "";
                if (json_object_object_get_ex(item, "loc", &loc) &&
                    json_object_is_type(loc, json_type_array)) {
                    size_t w = 0;
                    for (size_t k = 0; k < json_object_array_length(loc) && w + 1 < sizeof(where); k++)
                        w += (size_t)snprintf(where + w, sizeof(where) - w, "%s%s", k ? "." : "",
                                              json_object_get_string(json_object_array_get_idx(loc, k)));
                }
                json_object_object_get_ex(item, "msg", &msg);
                int k = snprintf(out + used, n - used, "%s%s%s%s", i ? "; " : "", where,
                                 where[0] ? ": " : "", msg ? json_object_get_string(msg) : "invalid");
                used += k > 0 ? (size_t)k : 0;
            }
            return;
        }
        static const char *const keys[] = {"message", "detail", "error", "status"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (json_object_object_get_ex(doc, keys[i], &v) && json_object_is_type(v, json_type_string)) {
                snprintf(out, n, "%s", json_object_get_string(v));
                return;
            }
    }
    snprintf(out, n, "%.200s", raw != NULL && *raw ? raw : "(no message)");
    out[strcspn(out, "\r\n")] = '\0';
}

/* Runs the transfer prepared on h->curl (body options set by the caller)
 * and turns its outcome into 0 or an error. */
static int http_perform(cli_http_t *h, const char *method, const char *path,
                        struct curl_slist *hdrs, http_sink_t *sink, json_object **out, err_t *e)
{
    char curl_err[CURL_ERROR_SIZE] = "";
    size_t ulen = strlen(h->base) + strlen(path) + 1;
    char *url = malloc(ulen);
    if (url == NULL)
        return err_set(e, 1, "http", "out of memory");
    snprintf(url, ulen, "%s%s", h->base, path);
    sink->curl = h->curl;
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_on_write);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, http_on_progress);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "trainyard-cli");
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(h->curl);
    long code = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
    /* The buffer is this frame's: the handle must not keep pointing at it. */
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
    int ret = 0;
    if (out != NULL)
        *out = NULL;
    if (rc == CURLE_ABORTED_BY_CALLBACK && h->cancel != NULL && *h->cancel) {
        ret = err_set(e, 130, "interrupted", "interrupted");
    } else if (sink->write_failed) {
        ret = err_set(e, 1, "io", "could not write the download: disk full or not writable?");
    } else if (sink->buf.too_big) {
        ret = err_set(e, 1, "http", "%s %s: the answer is larger than %lu MB", method, path,
                      HTTP_JSON_MAX >> 20);
    } else if (rc != CURLE_OK) {
        ret = err_set(e, 1, "http",
                      "could not reach %s: %s (is the server running? `trainyard login URL` "
                      "or TRAINYARD_URL names the server to use)",
                      h->base, curl_err[0] ? curl_err : curl_easy_strerror(rc));
    } else {
        json_object *doc = NULL;
        if (sink->buf.len > 0)
            doc = json_tokener_parse(sink->buf.data);
        if (code >= 200 && code < 300) {
            if (sink->buf.len > 0 && doc == NULL && sink->out == NULL)
                ret = err_set(e, 1, "http", "%s %s answered %ld with a body that is not JSON: %.80s",
                              method, path, code, sink->buf.data);
            else if (out != NULL)
                *out = json_object_get(doc);
        } else {
            char msg[1024];
            http_error_text(doc, sink->buf.data, msg, sizeof(msg));
            const char *fix = code == 401 ? " (run `trainyard login URL` with a valid key, or set "
                                            "TRAINYARD_KEY)"
                              : code == 403 ? " (this key may not do that: use a key of this "
                                              "workspace)"
                              : code == 413 ? " (over the server's size limit)"
                              : code == 429 ? " (the server is rate limiting: try again shortly)"
                              : code >= 500 ? " (a server error: the server's logs say more)"
                                            : "";
            ret = err_set(e, (int)code, "http", "%s (HTTP %ld)%s", msg, code, fix);
        }
        json_object_put(doc);
    }
    free(sink->buf.data);
    sink->buf = (http_buf_t){0};
    free(url);
    return ret;
}

/* Resets the handle's per-call options (the connection stays) and builds
 * the header list: the key, plus a content type for bodies. */
static struct curl_slist *http_headers(cli_http_t *h, const char *content_type)
{
    curl_easy_reset(h->curl);
    struct curl_slist *hdrs = NULL;
    for (struct curl_slist *s = h->auth; s != NULL; s = s->next)
        hdrs = curl_slist_append(hdrs, s->data);
    if (content_type != NULL) {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
        /* nginx buffers bodies anyway: the 100-continue round trip is wasted. */
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    return curl_slist_append(hdrs, "Accept: application/json");
}

int cli_http_json(cli_http_t *h, const char *method, const char *path, json_object *body,
                  json_object **out, err_t *e)
{
    struct curl_slist *hdrs = http_headers(h, body != NULL ? "application/json" : NULL);
    http_sink_t sink = {0};
    h->upload = 0;
    if (body != NULL) {
        const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    }
    int rc = http_perform(h, method, path, hdrs, &sink, out, e);
    curl_slist_free_all(hdrs);
    return rc;
}

static size_t http_on_read(char *buf, size_t size, size_t nitems, void *ctx)
{
    FILE *f = ctx;
    size_t n = fread(buf, 1, size * nitems, f);
    return n == 0 && ferror(f) ? CURL_READFUNC_ABORT : n;
}

int cli_http_upload(cli_http_t *h, const char *path, FILE *f, long long size,
                    const char *content_type, json_object **out, err_t *e)
{
    struct curl_slist *hdrs = http_headers(h, content_type);
    http_sink_t sink = {0};
    h->upload = 1;
    curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(h->curl, CURLOPT_READFUNCTION, http_on_read);
    curl_easy_setopt(h->curl, CURLOPT_READDATA, f);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
    int rc = http_perform(h, "POST", path, hdrs, &sink, out, e);
    if (rc != 0 && ferror(f))
        err_wrap(e, "reading the file failed");
    curl_slist_free_all(hdrs);
    h->upload = 0;
    return rc;
}

int cli_http_download(cli_http_t *h, const char *path, FILE *out, long long *bytes, err_t *e)
{
    struct curl_slist *hdrs = http_headers(h, NULL);
    http_sink_t sink = {.out = out};
    h->upload = 0;
    int rc = http_perform(h, "GET", path, hdrs, &sink, NULL, e);
    if (bytes != NULL)
        *bytes = sink.written;
    curl_slist_free_all(hdrs);
    return rc;
}
