/*
 * dataset_preview.c — GET /api/v1/datasets/{dataset_id}/preview: the first
 * rows of a stored dataset, as the console's dataset page shows them.
 *
 * The artifact is pulled chunk by chunk through the same CSV reader the
 * upload checked it with (ml/csv.h), so the cells are exactly the ones the
 * engine reads (quotes removed, BOM skipped), and reading stops as soon as
 * the rows asked for are in: a preview of a 1 GB dataset reads its first
 * chunk, not the file. A stop cap on the bytes read bounds the work even for
 * rows as long as the reader's line limit.
 *
 * Answer: {"dataset_id", "fields": [names], "rows": [[cell, ...], ...],
 * "more": true when the dataset has rows past those shown}.
 */
#include "handlers/handlers.h"

#include "common/util.h"
#include "db/artifacts.h"
#include "db/datasets.h"
#include "handlers/app.h"
#include "handlers/support.h"
#include "ml/csv.h"

#define PREVIEW_ROWS_DEFAULT 20
#define PREVIEW_ROWS_MAX 200
#define PREVIEW_CHUNK (64 * 1024)
#define PREVIEW_READ_MAX (8 * 1024 * 1024) /* > one record at the reader's line limit */

typedef struct preview {
    json_object *fields; /* header names (owned by the answer) */
    json_object *rows;   /* data rows as arrays of strings (owned by the answer) */
    long long want;      /* data rows asked for */
    int more;            /* a record past the last one kept was read */
} preview_t;

static json_object *cells_json(const csv_cell_t *cells, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string_len(cells[i].ptr, (int)cells[i].len));
    return a;
}

static int preview_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                          err_t *e)
{
    preview_t *p = ctx;
    (void)line;
    (void)e;
    if (p->fields == NULL)
        p->fields = cells_json(cells, n);
    else if ((long long)json_object_array_length(p->rows) < p->want)
        json_object_array_add(p->rows, cells_json(cells, n));
    else
        p->more = 1;
    return 0;
}

int datasets_preview(request_t *r)
{
    long long want;
    if (support_query_int(r, "rows", PREVIEW_ROWS_DEFAULT, 1, PREVIEW_ROWS_MAX, &want, &r->err) != 0)
        return -1;
    if (!util_is_uuid(r->params[0]))
        return err_set(&r->err, 404, "not_found", "There is no dataset with id: %s",
                       r->params[0]);
    dataset_rec_t ds;
    if (db_dataset_get(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], &ds,
                       &r->err) != 0)
        return -1;
    preview_t p = {.rows = support_own(r, json_object_new_array()), .want = want};
    csv_reader_t *rd = csv_reader_new(&csv_limits_default, preview_record, &p);
    artifact_reader_t *ar = rd ? db_artifact_open(app_of(r)->db, ds.artifact_id, &r->err) : NULL;
    char *buf = arena_alloc(r->arena, PREVIEW_CHUNK);
    int rc = -1;
    if (rd == NULL || buf == NULL) {
        err_set(&r->err, 500, "internal", "out of memory");
        goto out;
    }
    if (ar == NULL)
        goto out;
    size_t total = 0;
    for (;;) {
        long got = db_artifact_pull(ar, buf, PREVIEW_CHUNK, &r->err);
        if (got < 0)
            goto out;
        if (got == 0) {
            if (csv_reader_finish(rd, &r->err) != 0)
                goto out;
            break;
        }
        if (csv_reader_feed(rd, buf, (size_t)got, &r->err) != 0)
            goto out;
        total += (size_t)got;
        /* Enough rows and one more seen, or the byte cap: stop reading. */
        if (p.more || total >= PREVIEW_READ_MAX) {
            p.more = 1;
            break;
        }
    }
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "dataset_id", json_object_new_string(ds.id));
    json_object_object_add(doc, "fields", p.fields ? p.fields : json_object_new_array());
    p.fields = NULL;
    json_object_object_add(doc, "rows", json_object_get(p.rows));
    json_object_object_add(doc, "more", json_object_new_boolean(p.more));
    rc = req_reply_json(r, 200, doc);
out:
    if (ar != NULL)
        db_artifact_close(ar);
    csv_reader_free(rd);
    json_object_put(p.fields);
    return rc;
}
