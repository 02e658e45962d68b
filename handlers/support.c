/*
 * support.c — helpers shared by the handler families (see support.h).
 */
#include "handlers/support.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "db/slots.h"
#include "handlers/app.h"

static void put_json(void *p)
{
    json_object_put(p);
}

json_object *support_own(request_t *r, json_object *obj)
{
    arena_defer(r->arena, put_json, obj);
    return obj;
}

int support_query_int(request_t *r, const char *name, long long dflt, long long min,
                      long long max, long long *out, err_t *e)
{
    const char *v = req_query(r, name);
    char field[ERR_FIELD_MAX] = "query";
    err_path_append(field, sizeof(field), name);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0)
        return err_add(e, 422, "int_parsing", field,
                       "Input should be a valid integer, unable to parse string as an integer");
    if (n < min)
        return err_add(e, 422, "greater_than_equal", field,
                       "Input should be greater than or equal to %lld", min);
    if (n > max)
        return err_add(e, 422, "less_than_equal", field,
                       "Input should be less than or equal to %lld", max);
    *out = n;
    return 0;
}

int support_query_bool(request_t *r, const char *name, int dflt, int *out, err_t *e)
{
    const char *v = req_query(r, name);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    /* A bare "?include-data" means true, as a flag does. */
    static const char *const words[] = {"", "1", "true", "yes", "on", "0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(v, words[i]) == 0) {
            *out = i < 5;
            return 0;
        }
    }
    char field[ERR_FIELD_MAX] = "query";
    err_path_append(field, sizeof(field), name);
    return err_add(e, 422, "bool_parsing", field,
                   "Input should be a valid boolean, unable to interpret input");
}

#define SUPPORT_BODY_CHUNK (256 * 1024)

int support_body_stream(request_t *r, const multipart_callbacks_t *mp, support_sink_fn sink,
                        void *ctx, err_t *e)
{
    multipart_t *parser = NULL;
    if (mp != NULL && (parser = multipart_new(r->content_type, mp, ctx, 64, 16 * 1024, e)) == NULL)
        return -1;
    char *buf = arena_alloc(r->arena, SUPPORT_BODY_CHUNK);
    int rc = -1;
    for (;;) {
        ssize_t got = req_body_read(r, buf, SUPPORT_BODY_CHUNK, e);
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        if ((parser ? multipart_feed(parser, buf, (size_t)got, e)
                    : sink(ctx, buf, (size_t)got, e)) != 0)
            goto out;
    }
    rc = parser != NULL ? multipart_finish(parser, e) : 0;
out:
    multipart_free(parser);
    return rc;
}

void support_json_str(json_object *obj, const char *key, const char *s)
{
    json_object_object_add(obj, key, s ? json_object_new_string(s) : NULL);
}

void support_json_time(json_object *obj, const char *key, double epoch)
{
    if (epoch <= 0) {
        json_object_object_add(obj, key, NULL);
        return;
    }
    char buf[32];
    util_format_time(epoch, buf);
    json_object_object_add(obj, key, json_object_new_string(buf));
}

void support_json_double(json_object *obj, const char *key, double v)
{
    json_object_object_add(obj, key, isfinite(v) ? json_object_new_double(v) : NULL);
}

int support_workspace_matches(const request_t *r, const char *workspace, err_t *e)
{
    if (r->auth.workspace_name != NULL && strcmp(r->auth.workspace_name, workspace) == 0)
        return 0;
    return err_set(e, 404, "WORKSPACE_NOT_FOUND", "There is no workspace named: %s", workspace);
}

typedef struct upload_slot {
    db_t *db;
    arena_t *arena;
    const char *name;
    int slot;
} upload_slot_t;

static void upload_slot_give(void *p)
{
    upload_slot_t *u = p;
    db_slot_give(u->db, u->arena, u->name, u->slot);
}

int support_upload_slot(request_t *r, err_t *e)
{
    app_t *app = app_of(r);
    int cap = app->config->uploads_per_key;
    if (cap <= 0)
        return 0;
    upload_slot_t *u = arena_calloc(r->arena, 1, sizeof(*u));
    u->db = app->db;
    u->arena = r->arena;
    u->name = arena_sprintf(r->arena, "trainyard-upload:%s",
                            r->auth.key_prefix ? r->auth.key_prefix : "");
    int rc = db_slot_take(app->db, r->arena, u->name, cap, &u->slot, e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        req_header_add(r, "Retry-After", "5");
        return err_set(e, 429, "too_many_uploads",
                       "this API key already has %d uploads in progress; wait until one "
                       "finishes (TRAINYARD_UPLOADS_PER_KEY)", cap);
    }
    arena_defer(r->arena, upload_slot_give, u);
    return 0;
}
