/*
 * batch.c — batch predictions and evaluation over CSV (see batch.h).
 *
 * One pump serves both: the CSV reader's record callback reads each data
 * row straight into the model's field row when it is plain (every cell of
 * its field's kind, categories known: ml/rowcsv.h, which reads what the
 * general path would read) and otherwise turns it into a JSON object of
 * the model's fields (a missing cell is null, a column the model does not
 * read is left out) for ml_model_predict, the engine the JSON route uses,
 * and the input check; so a CSV answer is the JSON answer to the same
 * rows. Every BATCH_ROWS rows the batch is predicted. If the engine
 * refuses the JSON rows (a value of the wrong type: 422), they are
 * predicted again row by row so that only the bad rows go without. The
 * answer is written batch by batch; nothing grows with the file but the
 * evaluation's probability and label arrays (capped).
 */
#include "handlers/batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/artifacts.h"
#include "db/datasets.h"
#include "handlers/app.h"
#include "handlers/predict_check.h"
#include "handlers/support.h"
#include "ml/csv.h"
#include "ml/metrics.h"

#define BATCH_READ_CHUNK (64 * 1024)

typedef struct outbuf {
    char *p;                   /* malloc'd */
    size_t len, cap;
} outbuf_t;

typedef struct batch {
    request_t *r;
    const model_rec_t *rec;
    ml_model_t *model;
    predict_check_t *check;    /* owned */
    int strict, evaluate;
    const char *target;
    int regression;
    size_t k;                  /* classes; 1 for regression */
    const char **classes;      /* arena */
    const char **prob_keys;    /* "Probability <target> is <class>", arena */
    /* header */
    size_t ncols;
    char **names;              /* malloc'd copies */
    unsigned char *keep;       /* the column is one of the model's fields */
    long target_col;           /* -1 if absent */
    json_object *header_warnings; /* owned */
    /* the pending batch: each queued row either read into F (plain) or a
     * JSON row of rows, in order */
    rowcsv_map_t *map;         /* owned; NULL: every row goes through JSON */
    float *F;                  /* BATCH_ROWS field rows (malloc'd) */
    size_t n_plain;
    unsigned char *plain;      /* per queued row */
    json_object *rows;         /* owned */
    char **labels;             /* evaluate: label text per queued row (malloc'd) */
    size_t queued;
    unsigned long long next_row; /* index of the next data row read */
    /* prediction output */
    outbuf_t out;
    int begun;
    /* evaluation */
    float *prob, *yv;          /* n x k probabilities, or n values (regression) */
    int *y;
    size_t n, cap, max_rows;
    unsigned long long unlabelled, unknown_class, refused;
    unsigned long long bytes;
} batch_t;

/* --- output ------------------------------------------------------------------ */

static void out_put(outbuf_t *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 64 * 1024;
        while (cap < o->len + n)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (p == NULL)
            abort();
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* One cell, quoted when it holds a comma, quote, CR or LF (RFC 4180). */
static void out_cell(outbuf_t *o, int first, const char *s)
{
    if (!first)
        out_put(o, ",", 1);
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        out_put(o, s, strlen(s));
        return;
    }
    out_put(o, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            out_put(o, "\"", 1);
        out_put(o, p, 1);
    }
    out_put(o, "\"", 1);
}

static int out_flush(batch_t *b, err_t *e)
{
    request_t *r = b->r;
    if (!b->begun) {
        if (b->header_warnings != NULL && json_object_array_length(b->header_warnings) > 0)
            req_header_add(r, "Trainyard-Warnings",
                           json_object_to_json_string_ext(b->header_warnings,
                                                          JSON_C_TO_STRING_PLAIN));
        if (req_reply_begin(r, 200, "text/csv; charset=utf-8", -1) != 0)
            return err_set(e, 500, "internal", "could not start the answer");
        b->begun = 1;
        outbuf_t head = {0};
        out_cell(&head, 1, b->target);
        for (size_t c = 0; !b->regression && c < b->k; c++)
            out_cell(&head, 0, b->prob_keys[c]);
        out_cell(&head, 0, "warnings");
        out_cell(&head, 0, "error");
        out_put(&head, "\n", 1);
        int rc = req_reply_write(r, head.p, head.len);
        free(head.p);
        if (rc != 0)
            return err_set(e, 499, "client_gone", "the client went away");
    }
    if (b->out.len > 0 && req_reply_write(r, b->out.p, b->out.len) != 0)
        return err_set(e, 499, "client_gone", "the client went away");
    b->out.len = 0;
    return 0;
}

/* --- the model's shape --------------------------------------------------------- */

static void batch_shape(batch_t *b)
{
    arena_t *a = b->r->arena;
    b->target = b->rec->predict_field;
    b->regression = b->rec->task != NULL && strcmp(b->rec->task, "regression") == 0;
    json_object *classes = NULL;
    json_object_object_get_ex(b->rec->preprocess, "classes", &classes);
    b->k = b->regression ? 1 : classes ? json_object_array_length(classes) : 0;
    b->classes = arena_calloc(a, b->k + 1, sizeof(char *));
    b->prob_keys = arena_calloc(a, b->k + 1, sizeof(char *));
    for (size_t c = 0; !b->regression && c < b->k; c++) {
        b->classes[c] = json_object_get_string(json_object_array_get_idx(classes, c));
        b->prob_keys[c] = arena_sprintf(a, "Probability %s is %s", b->target, b->classes[c]);
    }
}

static int is_feature(json_object *features, const char *name)
{
    size_t n = features ? json_object_array_length(features) : 0;
    for (size_t j = 0; j < n; j++) {
        json_object *nm;
        if (json_object_object_get_ex(json_object_array_get_idx(features, j), "name", &nm) &&
            strcmp(json_object_get_string(nm), name) == 0)
            return 1;
    }
    return 0;
}

/* The header: which columns the model reads, where the target is, and
 * what is missing or unknown (refused under strict, before any output). */
static int batch_header(batch_t *b, const csv_cell_t *cells, size_t n, err_t *e)
{
    json_object *features = NULL;
    json_object_object_get_ex(b->rec->preprocess, "features", &features);
    b->ncols = n;
    b->names = calloc(n + 1, sizeof(char *));
    b->keep = calloc(n + 1, 1);
    if (b->names == NULL || b->keep == NULL)
        abort();
    b->target_col = -1;
    json_object *probe = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        b->names[i] = strndup(cells[i].ptr, cells[i].len);
        if (b->names[i] == NULL)
            abort();
        b->keep[i] = (unsigned char)is_feature(features, b->names[i]);
        if (strcmp(b->names[i], b->target) == 0)
            b->target_col = (long)i;
        json_object_object_add(probe, b->names[i], NULL);
    }
    if (b->evaluate && b->target_col < 0) {
        json_object_put(probe);
        return err_add(e, 422, "missing", arena_sprintf(b->r->arena, "body/%s", b->target),
                       "the rows have no column \"%s\": evaluation needs the true values",
                       b->target);
    }
    /* The header's findings, as one row of the JSON route would give them. */
    predict_check_t *hc = predict_check_new(b->rec->preprocess);
    json_object *one = json_object_new_array();
    json_object_array_add(one, probe);
    int rc = predict_check_rows(hc, one, 0, b->strict, e);
    json_object *w = predict_check_warnings(hc);
    b->header_warnings = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(w); i++) {
        json_object *item = json_object_array_get_idx(w, i);
        json_object_object_del(item, "rows");
        json_object_object_del(item, "count");
        json_object_array_add(b->header_warnings, json_object_get(item));
    }
    json_object_put(one);
    predict_check_free(hc);
    if (rc != 0) {
        /* Under strict: say they are columns, not the first row's fields. */
        for (int i = 0; i < e->count; i++) {
            const char *slash = strrchr(e->items[i].field, '/');
            if (slash == NULL)
                continue;
            /* A very long name is cut, as err_add cuts every field path. */
            char name[sizeof(e->items[i].field) - sizeof("body/columns/")];
            snprintf(name, sizeof(name), "%s", slash + 1);
            snprintf(e->items[i].field, sizeof(e->items[i].field), "body/columns/%s", name);
        }
        return -1;
    }
    /* Rows are read straight into field rows when the columns allow it
     * (every field the model reads among them, once). */
    b->map = ml_model_csv_map(b->model, b->names, n);
    if (b->map != NULL &&
        (b->F = malloc((BATCH_ROWS * rowcsv_width(b->map) + 1) * sizeof(float))) == NULL)
        abort();
    return 0;
}

/* --- one batch ---------------------------------------------------------------- */

/* Predictions for the queued JSON rows: vals (ml_model_outputs floats a
 * row) or, for a row without, errors[i] (malloc'd text). Returns -1 only
 * when the engine failed for another reason than the rows' values. */
static int batch_run(batch_t *b, float *vals, char **errors, err_t *e)
{
    size_t n = json_object_array_length(b->rows), width = ml_model_outputs(b->model);
    float *got = NULL;
    err_t pe;
    err_clear(&pe);
    if (ml_model_predict_rows_values(b->model, b->rows, &got, &pe) == 0) {
        memcpy(vals, got, n * width * sizeof(float));
        free(got);
        return 0;
    }
    if (pe.status != 422) {
        *e = pe;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *one = json_object_new_array();
        json_object_array_add(one, json_object_get(json_object_array_get_idx(b->rows, i)));
        err_clear(&pe);
        int rc = ml_model_predict_rows_values(b->model, one, &got, &pe);
        json_object_put(one);
        if (rc == 0) {
            memcpy(vals + i * width, got, width * sizeof(float));
            free(got);
        } else if (pe.status == 422) {
            /* The engine numbers the row 0 in its message: name the field only. */
            const char *field = pe.count > 0 ? strrchr(pe.items[0].field, '/') : NULL;
            char text[ERR_MESSAGE_MAX + ERR_FIELD_MAX + 4];
            snprintf(text, sizeof(text), "%s: %s", field ? field + 1 : "row",
                     pe.count > 0 ? pe.items[0].message : err_message(&pe));
            if ((errors[i] = strdup(text)) == NULL)
                abort();
        } else {
            *e = pe;
            return -1;
        }
    }
    return 0;
}

/* One queued row's outcome: its predicted floats (ml_model_outputs of
 * them) or why it has none, and its JSON row (NULL when read plain). */
typedef struct row_out {
    const float *vals;         /* NULL: error */
    const char *error;         /* borrowed from batch_flush's errors */
    json_object *row;          /* borrowed from b->rows */
} row_out_t;

/* A prediction's CSV cell: its text, or an empty cell (CSV's missing value)
 * where JSON would write null. */
static const char *csv_prediction(float v, char *num)
{
    return isfinite(v) ? (ml_prediction_text(v, num), num) : NULL;
}

static void batch_write_rows(batch_t *b, const row_out_t *outs)
{
    char num[ML_PREDICTION_TEXT_MAX];
    for (size_t i = 0; i < b->queued; i++) {
        const row_out_t *o = &outs[i];
        char notes[512], refusal[sizeof(notes) + 32];
        size_t found = o->row ? predict_check_row_text(b->check, o->row, notes, sizeof(notes)) : 0;
        const char *error = o->error;
        const float *v = o->vals;
        if (error == NULL && found > 0 && b->strict) {
            /* A local buffer: a long file of refused rows must not grow the arena. */
            snprintf(refusal, sizeof(refusal), "refused (strict): %s", notes);
            error = refusal;
            v = NULL;
        }
        if (v == NULL)
            out_cell(&b->out, 1, NULL);
        else if (b->regression)
            out_cell(&b->out, 1, csv_prediction(v[0], num));
        else
            out_cell(&b->out, 1, b->classes[ml_model_best_class(b->model, v)]);
        for (size_t c = 0; !b->regression && c < b->k; c++)
            out_cell(&b->out, 0, v ? csv_prediction(v[c], num) : NULL);
        out_cell(&b->out, 0, found > 0 && error == NULL ? notes : NULL);
        out_cell(&b->out, 0, error);
        out_put(&b->out, "\n", 1);
    }
}

/* The class index of a label (exact text, then ignoring case), -1 if the
 * model has no such class. */
static int batch_class_of(const batch_t *b, const char *label)
{
    for (size_t c = 0; c < b->k; c++)
        if (strcmp(b->classes[c], label) == 0)
            return (int)c;
    for (size_t c = 0; c < b->k; c++)
        if (strcasecmp(b->classes[c], label) == 0)
            return (int)c;
    return -1;
}

static int batch_collect(batch_t *b, const row_out_t *outs, err_t *e)
{
    for (size_t i = 0; i < b->queued; i++) {
        if (outs[i].vals == NULL) {
            b->refused++;
            continue;
        }
        const char *label = b->labels[i];
        float yv = 0;
        int yc = 0;
        if (b->regression) {
            char *end = NULL;
            double d = strtod(label, &end);
            while (end && (*end == ' ' || *end == '\t'))
                end++;
            if (end == label || *end != '\0' || !isfinite(d)) {
                b->unknown_class++;
                continue;
            }
            yv = (float)d;
        } else if ((yc = batch_class_of(b, label)) < 0) {
            b->unknown_class++;
            continue;
        }
        if (b->n >= b->max_rows)
            return err_set(e, 413, "too_large",
                           "evaluation holds at most %zu scored rows for this model: score a "
                           "sample", b->max_rows);
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 4096;
            float *np_ = realloc(b->prob, cap * b->k * sizeof(float));
            if (np_ == NULL)
                abort();
            b->prob = np_;
            float *ny = realloc(b->yv, cap * sizeof(float));
            int *nc = realloc(b->y, cap * sizeof(int));
            if (ny == NULL || nc == NULL)
                abort();
            b->yv = ny;
            b->y = nc;
            b->cap = cap;
        }
        if (b->regression) {
            b->prob[b->n] = outs[i].vals[0];
            b->yv[b->n] = yv;
        } else {
            memcpy(&b->prob[b->n * b->k], outs[i].vals, b->k * sizeof(float));
            b->y[b->n] = yc;
        }
        b->n++;
    }
    return 0;
}

static int batch_flush(batch_t *b, err_t *e)
{
    if (b->queued == 0)
        return 0;
    size_t nj = json_object_array_length(b->rows), width = ml_model_outputs(b->model);
    float *plain_vals = NULL;
    float *json_vals = calloc(nj * width + 1, sizeof(float));
    char **errors = calloc(nj + 1, sizeof(char *));
    row_out_t *outs = calloc(b->queued + 1, sizeof(*outs));
    if (json_vals == NULL || errors == NULL || outs == NULL)
        abort();
    int rc = nj > 0 ? batch_run(b, json_vals, errors, e) : 0;
    if (rc == 0 && b->n_plain > 0)
        rc = ml_model_predict_values(b->model, b->F, b->n_plain, &plain_vals, e);
    if (rc == 0) {
        for (size_t i = 0, ip = 0, ij = 0; i < b->queued; i++) {
            row_out_t *o = &outs[i];
            if (b->plain[i]) {
                o->vals = plain_vals + ip++ * width;
                continue;
            }
            o->row = json_object_array_get_idx(b->rows, ij);
            o->error = errors[ij];
            o->vals = errors[ij] == NULL ? json_vals + ij * width : NULL;
            ij++;
        }
        if (b->evaluate) {
            rc = batch_collect(b, outs, e);
        } else {
            batch_write_rows(b, outs);
            rc = out_flush(b, e);
        }
    }
    for (size_t i = 0; i < nj; i++)
        free(errors[i]);
    free(errors);
    free(outs);
    free(json_vals);
    free(plain_vals);
    for (size_t i = 0; b->labels && i < b->queued; i++) {
        free(b->labels[i]);
        b->labels[i] = NULL;
    }
    json_object_put(b->rows);
    b->rows = json_object_new_array();
    b->queued = 0;
    b->n_plain = 0;
    return rc;
}

static int batch_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                        err_t *e)
{
    (void)line;
    batch_t *b = ctx;
    if (b->names == NULL)
        return batch_header(b, cells, n, e);
    b->next_row++;
    if (b->evaluate) {
        const csv_cell_t *l = &cells[b->target_col];
        if (csv_cell_is_missing(l->ptr, l->len)) {
            b->unlabelled++;
            return 0;
        }
        b->labels[b->queued] = strndup(l->ptr, l->len);
        if (b->labels[b->queued] == NULL)
            abort();
    }
    int plain = b->map != NULL &&
                rowcsv_read(b->map, cells, n, b->F + b->n_plain * rowcsv_width(b->map));
    b->plain[b->queued] = (unsigned char)plain;
    b->n_plain += (size_t)plain;
    if (!plain) {
        json_object *row = json_object_new_object();
        for (size_t i = 0; i < n; i++) {
            if (!b->keep[i])
                continue;
            json_object_object_add(row, b->names[i],
                                   csv_cell_is_missing(cells[i].ptr, cells[i].len)
                                       ? NULL
                                       : json_object_new_string_len(cells[i].ptr,
                                                                    (int)cells[i].len));
        }
        json_object_array_add(b->rows, row);
    }
    if (++b->queued == BATCH_ROWS)
        return batch_flush(b, e);
    return 0;
}

/* --- the pump ------------------------------------------------------------------ */

static void batch_init(batch_t *b, request_t *r, const model_rec_t *rec, ml_model_t *model,
                       int strict, int evaluate)
{
    memset(b, 0, sizeof(*b));
    b->r = r;
    b->rec = rec;
    b->model = model;
    b->strict = strict;
    b->evaluate = evaluate;
    b->check = predict_check_new(rec->preprocess);
    b->rows = json_object_new_array();
    b->plain = calloc(BATCH_ROWS + 1, 1);
    if (b->plain == NULL)
        abort();
    if (evaluate) {
        b->labels = calloc(BATCH_ROWS + 1, sizeof(char *));
        if (b->labels == NULL)
            abort();
    }
    batch_shape(b);
    b->max_rows = BATCH_EVAL_MAX_CELLS / (b->k + 1);
}

static void batch_release(batch_t *b)
{
    for (size_t i = 0; i < b->ncols; i++)
        free(b->names[i]);
    free(b->names);
    free(b->keep);
    for (size_t i = 0; b->labels && i < BATCH_ROWS; i++)
        free(b->labels[i]);
    free(b->labels);
    json_object_put(b->rows);
    rowcsv_map_free(b->map);
    free(b->F);
    free(b->plain);
    json_object_put(b->header_warnings);
    predict_check_free(b->check);
    free(b->out.p);
    free(b->prob);
    free(b->yv);
    free(b->y);
}

static int batch_feed_body(request_t *r, csv_reader_t *rd, batch_t *b, err_t *e)
{
    char *buf = arena_alloc(r->arena, BATCH_READ_CHUNK);
    for (;;) {
        ssize_t got = req_body_read(r, buf, BATCH_READ_CHUNK, e);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        b->bytes += (unsigned long long)got;
        if (csv_reader_feed(rd, buf, (size_t)got, e) != 0)
            return -1;
    }
    return csv_reader_finish(rd, e);
}

typedef struct feed_ctx {
    csv_reader_t *rd;
    batch_t *b;
} feed_ctx_t;

static int batch_feed_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    feed_ctx_t *f = ctx;
    f->b->bytes += n;
    return csv_reader_feed(f->rd, buf, n, e);
}

int batch_predict_csv(request_t *r, const model_rec_t *rec, ml_model_t *model, int strict)
{
    batch_t b;
    batch_init(&b, r, rec, model, strict, 0);
    csv_reader_t *rd = csv_reader_new(&csv_limits_default, batch_record, &b);
    if (rd == NULL)
        abort();
    err_t e;
    err_clear(&e);
    int rc = batch_feed_body(r, rd, &b, &e);
    if (rc == 0 && b.names == NULL)
        rc = err_set(&e, 400, "csv_invalid", "line 1: no header (empty input)");
    if (rc == 0)
        rc = batch_flush(&b, &e);
    if (rc == 0 && !b.begun)
        rc = out_flush(&b, &e); /* a header and no rows: the header line alone */
    if (rc != 0 && b.begun && e.status != 499) {
        /* Output has begun: the rows read before the fault still get their
         * predictions, then the last line carries the error (batch.h). */
        err_t fe;
        err_clear(&fe);
        b.out.len = 0;
        if (batch_flush(&b, &fe) == 0)
            b.out.len = 0;
        out_cell(&b.out, 1, NULL);
        for (size_t c = 0; !b.regression && c < b.k; c++)
            out_cell(&b.out, 0, NULL);
        out_cell(&b.out, 0, NULL);
        out_cell(&b.out, 0, arena_sprintf(r->arena, "stopped after %llu rows: %s",
                                          b.next_row, err_message(&e)));
        out_put(&b.out, "\n", 1);
        req_reply_write(r, b.out.p, b.out.len);
    }
    if (b.begun)
        req_reply_end(r);
    else if (rc != 0)
        r->err = e;
    csv_reader_free(rd);
    batch_release(&b);
    return b.begun ? 0 : rc;
}

static json_object *batch_metrics(const batch_t *b, json_object **stats)
{
    json_object *m = json_object_new_object();
    if (b->regression) {
        json_object_object_add(m, "rmse", json_object_new_double(metric_rmse(b->prob, b->yv, b->n)));
        json_object_object_add(m, "mae", json_object_new_double(metric_mae(b->prob, b->yv, b->n)));
        json_object_object_add(m, "r2", json_object_new_double(metric_r2(b->prob, b->yv, b->n)));
        *stats = metric_regression_stats(0, b->target, b->prob, b->yv, b->n);
        return m;
    }
    if (b->k == 2) {
        float *score = malloc((b->n + 1) * sizeof(float));
        if (score == NULL)
            abort();
        for (size_t i = 0; i < b->n; i++)
            score[i] = b->prob[i * 2 + 1];
        json_object_object_add(m, "auc", json_object_new_double(metric_auc(score, b->y, b->n)));
        free(score);
    }
    json_object_object_add(m, "accuracy",
                           json_object_new_double(metric_accuracy(b->prob, b->y, b->n, b->k)));
    json_object_object_add(m, "logloss",
                           json_object_new_double(metric_logloss(b->prob, b->y, b->n, b->k)));
    json_object_object_add(m, "macro_f1",
                           json_object_new_double(metric_macro_f1(b->prob, b->y, b->n, b->k)));
    *stats = metric_class_stats(0, b->target, "category", b->classes, b->prob, b->y, b->n, b->k);
    return m;
}

int batch_evaluate(request_t *r, const model_rec_t *rec, ml_model_t *model,
                   const char *dataset_id)
{
    app_t *app = app_of(r);
    dataset_rec_t ds;
    if (dataset_id != NULL) {
        if (!util_is_uuid(dataset_id) ||
            db_dataset_get(app->db, r->arena, r->auth.workspace_id, dataset_id, &ds, &r->err) !=
                0) {
            if (r->err.status >= 500)
                return -1;
            err_clear(&r->err);
            return err_add(&r->err, 422, "not_found", "body/dataset_id",
                           "There is no dataset with id: %s", dataset_id);
        }
    }
    batch_t b;
    batch_init(&b, r, rec, model, 0, 1);
    csv_reader_t *rd = csv_reader_new(&csv_limits_default, batch_record, &b);
    if (rd == NULL)
        abort();
    int rc;
    if (dataset_id != NULL) {
        feed_ctx_t f = {rd, &b};
        rc = db_artifact_read(app->db, ds.artifact_id, batch_feed_sink, &f, &r->err);
        if (rc == 0)
            rc = csv_reader_finish(rd, &r->err);
    } else {
        rc = batch_feed_body(r, rd, &b, &r->err);
    }
    if (rc == 0)
        rc = batch_flush(&b, &r->err);
    if (rc == 0 && b.n == 0)
        rc = err_add(&r->err, 422, "no_rows", dataset_id ? "body/dataset_id" : "body",
                     "no row could be scored: %llu without a value of \"%s\", %llu with a "
                     "value the model does not know, %llu refused",
                     b.unlabelled, b.target, b.unknown_class, b.refused);
    if (rc == 0) {
        json_object *doc = support_own(r, json_object_new_object());
        json_object_object_add(doc, "model_id", json_object_new_string(rec->id));
        support_json_str(doc, "task", rec->task);
        support_json_str(doc, "predict_field", rec->predict_field);
        json_object *src = json_object_new_object();
        if (dataset_id != NULL) {
            support_json_str(src, "dataset_id", ds.id);
            support_json_str(src, "sha256", ds.sha256);
        }
        json_object_object_add(src, "bytes", json_object_new_int64((int64_t)b.bytes));
        char delim[2] = {csv_reader_delimiter(rd), '\0'};
        json_object_object_add(src, "delimiter", json_object_new_string(delim));
        json_object_object_add(doc, "source", src);
        json_object_object_add(doc, "rows", json_object_new_int64((int64_t)b.n));
        json_object *skipped = json_object_new_object();
        json_object_object_add(skipped, "unlabelled", json_object_new_int64((int64_t)b.unlabelled));
        json_object_object_add(skipped, "unknown_label",
                               json_object_new_int64((int64_t)b.unknown_class));
        json_object_object_add(skipped, "refused", json_object_new_int64((int64_t)b.refused));
        json_object_object_add(doc, "skipped", skipped);
        json_object *stats = NULL;
        json_object_object_add(doc, "metrics", batch_metrics(&b, &stats));
        json_object_object_add(doc, "stats", stats);
        json_object_object_add(doc, "training_metrics", json_object_get(rec->metrics));
        json_object_object_add(doc, "warnings", json_object_get(b.header_warnings));
        rc = req_reply_json(r, 200, doc);
    }
    csv_reader_free(rd);
    batch_release(&b);
    return rc;
}
