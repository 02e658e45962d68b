/*
 * datasets.c — /api/v1/datasets: upload, list, show, delete.
 *
 * An upload is streamed: each chunk read from the request goes to the CSV
 * checker (ml/csv.h: structure, UTF-8, type inference) and to the artifact
 * writer (COPY into PostgreSQL) in the same pass, so the worker holds one
 * chunk, never the file. The artifact and the dataset row commit in one
 * transaction; a malformed CSV, a client that goes away or a body over the
 * limit rolls everything back, and nothing is kept.
 *
 * Bodies: `text/csv` (or application/octet-stream) with ?name=, or
 * multipart/form-data with a `file` part (and optionally a `name` part).
 */
#include "handlers/handlers.h"

#include <string.h>

#include "common/feeder.h"
#include "common/log.h"
#include "common/util.h"
#include "db/artifacts.h"
#include "db/datasets.h"
#include "db/limits.h"
#include "fcgi/multipart.h"
#include "handlers/app.h"
#include "handlers/support.h"
#include "ml/csv.h"

#define DATASET_NAME_MAX 200

/* One upload in flight: the checker and the writer fed in lockstep. */
typedef struct upload {
    request_t *r;
    csv_infer_t *infer;          /* owned; freed at the end; fed by `checker` */
    feeder_t *checker;           /* runs csv_infer_feed on its own thread */
    artifact_writer_t *writer;   /* owned until finish/abort */
    int in_file_part;            /* multipart: inside the `file` part */
    int saw_file;                /* multipart: a `file` part was seen */
    char name[DATASET_NAME_MAX + 1]; /* from the query or a `name` part */
    size_t name_len;
    int in_name_part;
} upload_t;

static int upload_check(void *ctx, const char *buf, size_t n, err_t *e)
{
    return csv_infer_feed(ctx, buf, n, e);
}

/* Each chunk is checked on the checker's thread while this one stores it:
 * the two costliest steps of an upload run on two cores. */
static int upload_chunk(void *ctx, const char *buf, size_t n, err_t *e)
{
    upload_t *up = ctx;
    if (feeder_put(up->checker, buf, n, e) != 0)
        return -1;
    return db_artifact_write(up->writer, buf, n, e);
}

static int mp_part_begin(void *ctx, const char *name, const char *filename,
                         const char *content_type, err_t *e)
{
    (void)content_type;
    upload_t *up = ctx;
    up->in_file_part = name != NULL && strcmp(name, "file") == 0;
    up->in_name_part = name != NULL && strcmp(name, "name") == 0;
    if (up->in_file_part) {
        if (up->saw_file)
            return err_add(e, 422, "value_error", "body/file",
                           "Value error, send exactly one file part");
        up->saw_file = 1;
        if (up->name_len == 0 && filename != NULL && *filename != '\0') {
            /* Without an explicit name, the file's base name (sans .csv) names it. */
            const char *base = strrchr(filename, '/');
            base = base ? base + 1 : filename;
            size_t len = strlen(base);
            if (len > 4 && strcmp(base + len - 4, ".csv") == 0)
                len -= 4;
            up->name_len = len < DATASET_NAME_MAX ? len : DATASET_NAME_MAX;
            memcpy(up->name, base, up->name_len);
            up->name[up->name_len] = '\0';
        }
    } else if (up->in_name_part) {
        up->name_len = 0;
        up->name[0] = '\0';
    }
    return 0;
}

static int mp_part_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    upload_t *up = ctx;
    if (up->in_file_part)
        return upload_chunk(up, buf, n, e);
    if (up->in_name_part) {
        if (up->name_len + n > DATASET_NAME_MAX)
            return err_add(e, 422, "string_too_long", "body/name",
                           "String should have at most %d characters", DATASET_NAME_MAX);
        memcpy(up->name + up->name_len, buf, n);
        up->name_len += n;
        up->name[up->name_len] = '\0';
    }
    return 0;
}

static int mp_part_end(void *ctx, err_t *e)
{
    (void)e;
    upload_t *up = ctx;
    up->in_file_part = up->in_name_part = 0;
    return 0;
}

static const multipart_callbacks_t upload_multipart = {mp_part_begin, mp_part_data,
                                                        mp_part_end};

/* Pumps the request body through the CSV checker and the artifact writer. */
static int upload_stream(upload_t *up, int multipart, err_t *e)
{
    if (support_body_stream(up->r, multipart ? &upload_multipart : NULL, upload_chunk, up, e) != 0)
        return -1;
    if (multipart && !up->saw_file)
        return err_add(e, 422, "missing", "body/file", "Field required");
    return 0;
}

static json_object *dataset_doc(const dataset_rec_t *ds)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "dataset_id", json_object_new_string(ds->id));
    json_object_object_add(doc, "name", json_object_new_string(ds->name ? ds->name : ""));
    json_object_object_add(doc, "rows", json_object_new_int64(ds->rows));
    json_object_object_add(doc, "fields", json_object_get(ds->fields));
    json_object_object_add(doc, "size", json_object_new_int64((int64_t)ds->size));
    json_object_object_add(doc, "sha256", json_object_new_string(ds->sha256));
    /* How the file was split (sniffed from its header, ml/csv.h). */
    support_json_str(doc, "delimiter", ds->delimiter ? ds->delimiter : ",");
    support_json_time(doc, "created_at", ds->created_at);
    return doc;
}

int datasets_upload(request_t *r)
{
    app_t *app = app_of(r);
    int multipart = strcmp(r->media_type, "multipart/form-data") == 0;
    if (!multipart && strcmp(r->media_type, "text/csv") != 0 &&
        strcmp(r->media_type, "application/csv") != 0 &&
        strcmp(r->media_type, "application/octet-stream") != 0 && r->media_type[0] != '\0')
        return err_set(&r->err, 415, "unsupported_media_type",
                       "send the CSV as text/csv or as a multipart/form-data `file` part, "
                       "not %s", r->media_type);
    if (support_upload_slot(r, &r->err) != 0)
        return -1;
    double started = util_now_monotonic();
    upload_t up;
    memset(&up, 0, sizeof(up));
    up.r = r;
    const char *qname = req_query(r, "name");
    if (qname != NULL) {
        size_t len = strlen(qname);
        if (len > DATASET_NAME_MAX)
            return err_add(&r->err, 422, "string_too_long", "query/name",
                           "String should have at most %d characters", DATASET_NAME_MAX);
        memcpy(up.name, qname, len + 1);
        up.name_len = len;
    }
    /* Past a limit, say so before a byte of the body is stored. */
    if (db_limits_precheck(app->db, r->arena, r->auth.workspace_id, r->content_length, 1,
                           &r->err) != 0)
        return -1;
    up.infer = csv_infer_new(&csv_limits_default);
    up.checker = feeder_start(upload_check, up.infer, 8, 256 * 1024, &r->err);
    if (up.checker == NULL) {
        csv_infer_free(up.infer);
        return -1;
    }
    if (db_begin(app->db, &r->err) != 0) {
        feeder_finish(up.checker, NULL);
        csv_infer_free(up.infer);
        return -1;
    }
    int rc = -1;
    json_object *summary = NULL;
    up.writer = db_artifact_begin(app->db, r->auth.workspace_id, "dataset", &r->err);
    if (up.writer == NULL)
        goto out;
    if (upload_stream(&up, multipart, &r->err) != 0)
        goto out;
    /* The checker's verdict on the whole file before anything commits. */
    feeder_t *checker = up.checker;
    up.checker = NULL;
    if (feeder_finish(checker, &r->err) != 0)
        goto out;
    artifact_info_t info;
    artifact_writer_t *w = up.writer;
    up.writer = NULL;
    if (db_artifact_finish(w, &info, &r->err) != 0)
        goto out;
    if (csv_infer_finish(up.infer, &summary, &r->err) != 0)
        goto out;
    support_own(r, summary);
    dataset_rec_t ds;
    memset(&ds, 0, sizeof(ds));
    ds.workspace_id = r->auth.workspace_id;
    ds.name = up.name_len > 0 ? up.name : "dataset";
    json_object *v;
    json_object_object_get_ex(summary, "rows", &v);
    ds.rows = json_object_get_int64(v);
    json_object_object_get_ex(summary, "fields", &ds.fields);
    json_object_object_get_ex(summary, "delimiter", &v);
    ds.delimiter = json_object_get_string(v);
    memcpy(ds.artifact_id, info.id, sizeof(ds.artifact_id));
    ds.size = info.size;
    memcpy(ds.sha256, info.sha256, sizeof(ds.sha256));
    if (db_dataset_insert(app->db, r->arena, &ds, &r->err) != 0)
        goto out;
    /* Exact, under the usage row lock: concurrent uploads cannot both take
     * the last bytes or the last dataset. */
    if (db_limits_check_upload(app->db, r->arena, r->auth.workspace_id, &r->err) != 0)
        goto out;
    if (db_commit(app->db, &r->err) != 0)
        goto out;
    rc = 0;
    double secs = util_now_monotonic() - started;
    log_info("dataset %s uploaded: %lld rows, %llu bytes in %.2f s (%.1f MB/s)", ds.id, ds.rows,
             ds.size, secs, secs > 0 ? (double)ds.size / 1048576.0 / secs : 0.0);
    json_object *doc = support_own(r, dataset_doc(&ds));
    req_reply_json(r, 201, doc);
out:
    feeder_finish(up.checker, NULL);
    if (up.writer != NULL)
        db_artifact_abort(up.writer);
    if (rc != 0)
        db_rollback(app->db);
    csv_infer_free(up.infer);
    return rc;
}

int datasets_list(request_t *r)
{
    long long limit, offset;
    if (support_query_int(r, "limit", 100, 1, 1000, &limit, &r->err) != 0 ||
        support_query_int(r, "offset", 0, 0, 1LL << 40, &offset, &r->err) != 0)
        return -1;
    dataset_rec_t *list;
    size_t n;
    long long total;
    if (db_dataset_list(app_of(r)->db, r->arena, r->auth.workspace_id, (int)limit, (int)offset,
                        &list, &n, &total, &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, dataset_doc(&list[i]));
    json_object_object_add(doc, "datasets", items);
    json_object_object_add(doc, "total", json_object_new_int64(total));
    json_object_object_add(doc, "limit", json_object_new_int64(limit));
    json_object_object_add(doc, "offset", json_object_new_int64(offset));
    return req_reply_json(r, 200, doc);
}

/* Loads the dataset named in the path (404 when unknown or not ours). */
static int datasets_load(request_t *r, dataset_rec_t *ds)
{
    if (!util_is_uuid(r->params[0]))
        return err_set(&r->err, 404, "not_found", "There is no dataset with id: %s",
                       r->params[0]);
    return db_dataset_get(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], ds,
                          &r->err);
}

int datasets_show(request_t *r)
{
    dataset_rec_t ds;
    if (datasets_load(r, &ds) != 0)
        return -1;
    return req_reply_json(r, 200, support_own(r, dataset_doc(&ds)));
}

int datasets_delete(request_t *r)
{
    dataset_rec_t ds;
    if (datasets_load(r, &ds) != 0)
        return -1;
    if (db_dataset_delete(app_of(r)->db, r->arena, r->auth.workspace_id, ds.id, &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "dataset_id", json_object_new_string(ds.id));
    json_object_object_add(doc, "deleted", json_object_new_boolean(1));
    return req_reply_json(r, 200, doc);
}
