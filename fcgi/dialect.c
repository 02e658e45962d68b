/*
 * dialect.c — one err_t, four error shapes (see dialect.h).
 *
 * Each API family keeps the error shape its clients already parse: FastAPI's
 * for the Akkio routes (including its quirk of answering a JSON syntax error
 * with 422 and loc ["body", <offset>]), KAOS's error_code/message for the
 * workspace routes, Strapi's code/message, and trainyard's own for the rest.
 * What varies is only the rendering; which error happened is decided by the
 * caller. A 500 never shows its message (it may carry internals): the
 * runtime logs it instead.
 */
#include "fcgi/dialect.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static int is_decode_code(const char *code)
{
    static const char *const codes[] = {"json_invalid", "xml_invalid", "form_invalid",
                                        "multipart_invalid"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

static int safe_status(const err_t *e)
{
    return e->status >= 400 && e->status <= 599 ? e->status : 500;
}

/* A validation error in FastAPI's sense: field checks, or a body that did
 * not decode. */
static int is_validation(const err_t *e)
{
    int s = safe_status(e);
    if (s == 422)
        return 1;
    return s == 400 && e->count > 0 && is_decode_code(e->items[0].code);
}

int dialect_error_status(dialect_t d, const err_t *e)
{
    int s = safe_status(e);
    switch (d) {
    case DIALECT_AKKIO:
        return is_validation(e) ? 422 : s;
    case DIALECT_STRAPI:
        return s == 422 ? 400 : s;
    case DIALECT_WORKSPACE:
    case DIALECT_PLAIN:
    case DIALECT_AKKIO_V1:
        break;
    }
    return s;
}

/* A JSON string from text that may not be UTF-8 (library messages can echo
 * client bytes): invalid bytes become '?'. */
static json_object *safe_string(const char *s)
{
    size_t n = strlen(s);
    if (util_utf8_valid(s, n))
        return json_object_new_string(s);
    char buf[ERR_MESSAGE_MAX * 2];
    size_t len = 0;
    for (size_t i = 0; i < n && len + 1 < sizeof(buf); i++) {
        unsigned char c = (unsigned char)s[i];
        buf[len++] = c < 0x80 ? (char)c : '?';
    }
    buf[len] = '\0';
    return json_object_new_string(buf);
}

typedef struct path_ctx {
    char *out;
    size_t n;
    int index;    /* segment number */
    int skip_loc; /* drop the first segment (body/query/path/header) */
    json_object *loc;
} path_ctx_t;

static void display_seg(const char *seg, void *ctx)
{
    path_ctx_t *p = ctx;
    int first = p->index++ == 0;
    if (first && p->skip_loc)
        return;
    size_t len = strlen(p->out);
    snprintf(p->out + len, p->n - len, "%s%s", len > 0 ? "." : "", seg);
}

/* "body/predict_fields/0" -> "predict_fields.0"; "body" stays "body". */
static void field_display(const char *field, char *out, size_t n)
{
    out[0] = '\0';
    int segments = 0;
    for (const char *p = field; *p; p++)
        if (*p == '/')
            segments++;
    int has_loc = strncmp(field, "body/", 5) == 0 || strncmp(field, "query/", 6) == 0 ||
                  strncmp(field, "path/", 5) == 0 || strncmp(field, "header/", 7) == 0;
    path_ctx_t p = {.out = out, .n = n, .index = 0, .skip_loc = has_loc && segments > 0};
    err_path_each(field, display_seg, &p);
}

static int is_index(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static void loc_seg(const char *seg, void *ctx)
{
    path_ctx_t *p = ctx;
    if (is_index(seg))
        json_object_array_add(p->loc, json_object_new_int((int)strtol(seg, NULL, 10)));
    else
        json_object_array_add(p->loc, safe_string(seg));
}

/* The message of one item as the one-message dialects show it. */
static void item_text(const err_item_t *it, int status, char *out, size_t n)
{
    char name[ERR_FIELD_MAX];
    if (status >= 500 && status != 503) {
        snprintf(out, n, "internal error");
        return;
    }
    field_display(it->field, name, sizeof(name));
    if (name[0] != '\0' && !is_decode_code(it->code) && strcmp(it->field, "body") != 0)
        snprintf(out, n, "%s: %s", name, it->message);
    else
        snprintf(out, n, "%s", it->message);
}

/* All items joined with "; ". */
static void joined_message(const err_t *e, char *out, size_t n)
{
    int status = safe_status(e);
    out[0] = '\0';
    if (e->count == 0) {
        snprintf(out, n, "%s", req_reason_phrase(status));
        return;
    }
    if (status >= 500 && status != 503) {
        snprintf(out, n, "internal error");
        return;
    }
    size_t len = 0;
    for (int i = 0; i < e->count && len + 1 < n; i++) {
        char one[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
        item_text(&e->items[i], status, one, sizeof(one));
        len += (size_t)snprintf(out + len, n - len, "%s%s", i > 0 ? "; " : "", one);
    }
    if (e->dropped > 0 && len + 1 < n)
        snprintf(out + len, n - len, "; and %d more", e->dropped);
}

static int is_upper_code(const char *code)
{
    int letters = 0;
    for (const char *p = code; *p; p++) {
        if (isupper((unsigned char)*p))
            letters++;
        else if (!isdigit((unsigned char)*p) && *p != '_')
            return 0;
    }
    return letters > 0;
}

static const char *workspace_code(const err_t *e)
{
    if (e->count > 0 && is_upper_code(e->items[0].code))
        return e->items[0].code;
    switch (safe_status(e)) {
    case 400: return is_validation(e) ? "INVALID_REQUEST" : "BAD_REQUEST";
    case 401: return "UNAUTHORIZED";
    case 403: return "FORBIDDEN";
    case 404: return "NOT_FOUND";
    case 405: return "METHOD_NOT_ALLOWED";
    case 409: return "CONFLICT";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 415: return "UNSUPPORTED_MEDIA_TYPE";
    case 422: return "INVALID_REQUEST";
    case 429: return "TOO_MANY_REQUESTS";
    case 503: return "SERVICE_UNAVAILABLE";
    default: return safe_status(e) >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
    }
}

static json_object *akkio_item(const err_item_t *it)
{
    json_object *o = json_object_new_object();
    json_object *loc = json_object_new_array();
    path_ctx_t p = {.loc = loc};
    if (it->field[0] != '\0')
        err_path_each(it->field, loc_seg, &p);
    if (json_object_array_length(loc) == 0)
        json_object_array_add(loc, json_object_new_string("body"));
    json_object_object_add(o, "type", json_object_new_string(it->code[0] ? it->code : "value_error"));
    json_object_object_add(o, "loc", loc);
    if (strcmp(it->code, "json_invalid") == 0) {
        /* FastAPI's wording; our own detail goes to ctx.error. */
        json_object_object_add(o, "msg", json_object_new_string("JSON decode error"));
        json_object *ctx = json_object_new_object();
        json_object_object_add(ctx, "error", safe_string(it->message));
        json_object_object_add(o, "ctx", ctx);
    } else {
        json_object_object_add(o, "msg", safe_string(it->message));
    }
    return o;
}

json_object *dialect_error_doc(dialect_t d, const err_t *e)
{
    int status = dialect_error_status(d, e);
    json_object *doc = json_object_new_object();
    char message[ERR_MAX_ITEMS * (ERR_MESSAGE_MAX + ERR_FIELD_MAX)];
    joined_message(e, message, sizeof(message));
    switch (d) {
    case DIALECT_AKKIO:
        if (status == 422 && e->count > 0) {
            json_object *detail = json_object_new_array();
            for (int i = 0; i < e->count; i++)
                json_object_array_add(detail, akkio_item(&e->items[i]));
            json_object_object_add(doc, "detail", detail);
        } else if (status >= 500 && status != 503) {
            json_object_object_add(doc, "detail", json_object_new_string("Internal Server Error"));
        } else {
            json_object_object_add(doc, "detail", safe_string(message));
        }
        break;
    case DIALECT_WORKSPACE:
        json_object_object_add(doc, "error_code", json_object_new_string(workspace_code(e)));
        json_object_object_add(doc, "message", safe_string(message));
        break;
    case DIALECT_STRAPI:
        json_object_object_add(doc, "code", json_object_new_int(status));
        json_object_object_add(doc, "message", safe_string(message));
        break;
    case DIALECT_AKKIO_V1: {
        /* Akkio's legacy clients test `status`: the one text its docs give
         * for a bad key, else "error" with the message and, when one field
         * is at fault, its name ("rows.3.age"). */
        if (status == 401) {
            json_object_object_add(doc, "status",
                                   json_object_new_string("missing or invalid API key"));
            break;
        }
        json_object_object_add(doc, "status", json_object_new_string("error"));
        json_object_object_add(doc, "message", safe_string(message));
        if (e->count > 0 && e->items[0].field[0] != '\0' && !(status >= 500 && status != 503) &&
            !is_decode_code(e->items[0].code)) {
            char name[ERR_FIELD_MAX];
            field_display(e->items[0].field, name, sizeof(name));
            json_object_object_add(doc, "field", safe_string(name));
        }
        break;
    }
    case DIALECT_PLAIN: {
        json_object *err = json_object_new_object();
        const err_item_t *first = e->count > 0 ? &e->items[0] : NULL;
        int hide = status >= 500 && status != 503;
        char one[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
        json_object_object_add(err, "status", json_object_new_int(status));
        json_object_object_add(err, "code",
                               json_object_new_string(hide ? "internal_error"
                                                      : first && first->code[0] ? first->code
                                                                                : "error"));
        json_object_object_add(err, "field",
                               first && first->field[0] && !hide ? safe_string(first->field)
                                                                 : NULL);
        if (first != NULL)
            item_text(first, status, one, sizeof(one));
        else
            snprintf(one, sizeof(one), "%s", req_reason_phrase(status));
        json_object_object_add(err, "message", safe_string(one));
        json_object *details = json_object_new_array();
        for (int i = 0; !hide && i < e->count; i++) {
            json_object *item = json_object_new_object();
            json_object_object_add(item, "field", safe_string(e->items[i].field));
            json_object_object_add(item, "code", safe_string(e->items[i].code));
            json_object_object_add(item, "message", safe_string(e->items[i].message));
            json_object_array_add(details, item);
        }
        json_object_object_add(err, "details", details);
        json_object_object_add(doc, "error", err);
        break;
    }
    }
    return doc;
}
