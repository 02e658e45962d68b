/*
 * predict.c — CSV in, predictions out, a batch at a time (see predict.h).
 *
 * Rows go to the JSON predict route with every cell as a string: the
 * server parses a string for a number field exactly as it parses the
 * cell of an uploaded CSV, so nothing is guessed here. A row of the
 * answer maps to the row sent at the same index.
 */
#include "cli/predict.h"

#include <stdlib.h>
#include <string.h>

#include "ml/csv.h"

#define PREDICT_BATCH_DEFAULT 1000
/* A batch is sent early when its cells add up to this much text: the
 * route's body limit is 32 MB, JSON quoting adds to the cells. */
#define PREDICT_BATCH_BYTES (4UL * 1024 * 1024)
#define PREDICT_CHUNK 65536

typedef struct predict_ctx {
    cli_http_t *h;
    const cli_predict_opts_t *o;
    char *path;                     /* /api/v1/models/{id}/predict, owned */
    FILE *out;
    json_object *header;            /* input column names (array of strings) */
    json_object *batch;             /* rows waiting: array of objects */
    size_t batch_bytes;
    unsigned long long first_line;  /* input line of the batch's first row */
    unsigned long long last_line;
    json_object *pred_cols;         /* prediction keys, from the first answer */
    unsigned long long rows;        /* rows written */
} predict_ctx_t;

void cli_csv_write_cell(FILE *out, const char *s, size_t n)
{
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

static void predict_write_str(FILE *out, const char *s)
{
    cli_csv_write_cell(out, s, strlen(s));
}

/* The header of the output: input columns, then the prediction's keys
 * (explanations are left out: they are objects, not cells). A key that
 * repeats an input column (the target was in the input) is renamed. */
static void predict_write_header(predict_ctx_t *c, json_object *first)
{
    c->pred_cols = json_object_new_array();
    size_t nin = json_object_array_length(c->header);
    for (size_t i = 0; i < nin; i++) {
        predict_write_str(c->out, json_object_get_string(json_object_array_get_idx(c->header, i)));
        fputc(',', c->out);
    }
    int k = 0;
    json_object_object_foreach(first, key, val) {
        if (json_object_is_type(val, json_type_object) || json_object_is_type(val, json_type_array))
            continue;
        json_object_array_add(c->pred_cols, json_object_new_string(key));
        int clash = 0;
        for (size_t i = 0; i < nin && !clash; i++)
            clash = strcmp(json_object_get_string(json_object_array_get_idx(c->header, i)), key) == 0;
        if (k++ > 0)
            fputc(',', c->out);
        if (clash) {
            char buf[512];
            snprintf(buf, sizeof(buf), "predicted %s", key);
            predict_write_str(c->out, buf);
        } else {
            predict_write_str(c->out, key);
        }
    }
    fputc('\n', c->out);
}

static int predict_flush(predict_ctx_t *c, err_t *e)
{
    size_t n = json_object_array_length(c->batch);
    if (n == 0)
        return 0;
    json_object *body = json_object_new_object(), *answer = NULL;
    json_object_object_add(body, "data", json_object_get(c->batch));
    int rc = cli_http_json(c->h, "POST", c->path, body, &answer, e);
    json_object_put(body);
    json_object *preds = NULL;
    if (rc == 0 && (!json_object_object_get_ex(answer, "predictions", &preds) ||
                    json_object_array_length(preds) != n))
        rc = err_set(e, 1, "predict", "the server answered %zu rows with something else than "
                     "%zu predictions", n, n);
    if (rc != 0) {
        char where[160];
        snprintf(where, sizeof(where), "%s, lines %llu-%llu", c->o->input_name, c->first_line,
                 c->last_line);
        err_wrap(e, where);
        json_object_put(answer);
        return -1;
    }
    if (c->pred_cols == NULL)
        predict_write_header(c, json_object_array_get_idx(preds, 0));
    size_t nin = json_object_array_length(c->header), np = json_object_array_length(c->pred_cols);
    for (size_t r = 0; r < n; r++) {
        json_object *row = json_object_array_get_idx(c->batch, r);
        json_object *pred = json_object_array_get_idx(preds, r), *v;
        for (size_t i = 0; i < nin; i++) {
            const char *name = json_object_get_string(json_object_array_get_idx(c->header, i));
            if (json_object_object_get_ex(row, name, &v))
                cli_csv_write_cell(c->out, json_object_get_string(v),
                                   (size_t)json_object_get_string_len(v));
            fputc(',', c->out);
        }
        for (size_t i = 0; i < np; i++) {
            const char *key = json_object_get_string(json_object_array_get_idx(c->pred_cols, i));
            if (json_object_object_get_ex(pred, key, &v) && v != NULL)
                predict_write_str(c->out, json_object_get_string(v));
            fputc(i + 1 < np ? ',' : '\n', c->out);
        }
    }
    json_object_put(answer);
    if (ferror(c->out))
        return err_set(e, 1, "io", "could not write the predictions: disk full?");
    c->rows += n;
    json_object_put(c->batch);
    c->batch = json_object_new_array();
    c->batch_bytes = 0;
    return 0;
}

static int predict_on_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                             err_t *e)
{
    predict_ctx_t *c = ctx;
    if (c->header == NULL) {
        c->header = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(c->header, json_object_new_string_len(cells[i].ptr, (int)cells[i].len));
        return 0;
    }
    json_object *row = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        /* The names are the header's strings, alive until the end and
         * unique (the reader refuses duplicate columns): no copy, no lookup. */
        json_object_object_add_ex(row, json_object_get_string(json_object_array_get_idx(c->header, i)),
                                  json_object_new_string_len(cells[i].ptr, (int)cells[i].len),
                                  JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
        c->batch_bytes += cells[i].len + 8;
    }
    if (json_object_array_length(c->batch) == 0)
        c->first_line = line;
    c->last_line = line;
    json_object_array_add(c->batch, row);
    size_t limit = c->o->batch_rows ? c->o->batch_rows : PREDICT_BATCH_DEFAULT;
    if (json_object_array_length(c->batch) >= limit || c->batch_bytes >= PREDICT_BATCH_BYTES)
        return predict_flush(c, e);
    return 0;
}

int cli_predict_csv(cli_http_t *h, const cli_predict_opts_t *o, FILE *in, FILE *out,
                    unsigned long long *rows, err_t *e)
{
    predict_ctx_t c = {.h = h, .o = o, .out = out, .batch = json_object_new_array()};
    char *id = cli_http_escape(o->model_id);
    size_t plen = strlen(id ? id : "") + 40;
    c.path = malloc(plen);
    csv_reader_t *reader = csv_reader_new(&csv_limits_default, predict_on_record, &c);
    char *buf = malloc(PREDICT_CHUNK);
    int rc = 0;
    if (id == NULL || c.path == NULL || reader == NULL || buf == NULL) {
        rc = err_set(e, 1, "memory", "out of memory");
        goto out;
    }
    snprintf(c.path, plen, "/api/v1/models/%s/predict", id);
    double fed = 0;
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, PREDICT_CHUNK, in)) > 0) {
        rc = csv_reader_feed(reader, buf, n, e);
        fed += (double)n;
        if (o->progress != NULL)
            cli_progress_update(o->progress, fed, o->input_size, -1, NULL);
    }
    if (rc == 0 && ferror(in))
        rc = err_set(e, 1, "io", "could not read %s", o->input_name);
    if (rc == 0)
        rc = csv_reader_finish(reader, e);
    if (rc == 0)
        rc = predict_flush(&c, e);
    if (rc == 0 && c.header == NULL)
        rc = err_set(e, 1, "csv", "%s is empty: it needs a header row and data rows",
                     o->input_name);
    if (rc == 0 && c.rows == 0)
        rc = err_set(e, 1, "csv", "%s has a header but no rows to predict", o->input_name);
    if (rc != 0 && e->count > 0 && strncmp(e->items[0].message, o->input_name,
                                           strlen(o->input_name)) != 0 &&
        strcmp(e->items[0].code, "csv_invalid") == 0)
        err_wrap(e, o->input_name);
out:
    *rows = c.rows;
    free(buf);
    if (reader != NULL)
        csv_reader_free(reader);
    free(c.path);
    free(id);
    json_object_put(c.batch);
    json_object_put(c.header);
    json_object_put(c.pred_cols);
    return rc;
}
