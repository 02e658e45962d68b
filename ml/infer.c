/*
 * infer.c — dataset summary on upload (csv_infer_* in csv.h) and the
 * missing-cell rule.
 *
 * Runs the CSV reader with one non-storing column_t per column: only
 * counters and the dictionary of non-numeric texts are kept, so memory is
 * bounded by the number of distinct text levels, not by the file size. The
 * type comes from column_type(), the very rule the training engine uses.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ml/column.h"
#include "ml/csv.h"
#include "ml/num.h"

const char *csv_type_name(csv_type_t t)
{
    switch (t) {
    case CSV_NUMBER: return "number";
    case CSV_CATEGORY: return "category";
    case CSV_BOOLEAN: return "boolean";
    case CSV_STRING: return "string";
    }
    return "string";
}

/* Akkio's field types have no boolean: a two-valued text column (Yes/No,
 * true/false) is a category there, as in the seed's stats. */
const char *csv_type_akkio_name(csv_type_t t)
{
    return t == CSV_BOOLEAN ? "category" : csv_type_name(t);
}

int csv_cell_is_missing(const char *p, size_t n)
{
    p = num_trim(p, n, &n);
    switch (n) {
    case 0: return 1;
    case 2: return strncasecmp(p, "NA", 2) == 0;
    case 3:
        return strncasecmp(p, "N/A", 3) == 0 || strncasecmp(p, "NaN", 3) == 0;
    case 4:
        return strncasecmp(p, "null", 4) == 0 || strncasecmp(p, "None", 4) == 0;
    default: return 0;
    }
}

struct csv_infer {
    csv_reader_t *rd;
    char **names;
    column_t *cols;
    size_t n_cols;
    unsigned long long rows;
};

static int infer_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                        err_t *e)
{
    csv_infer_t *ci = ctx;
    (void)line;
    if (ci->names == NULL) {
        ci->names = calloc(n, sizeof(*ci->names));
        ci->cols = calloc(n, sizeof(*ci->cols));
        if (ci->names == NULL || ci->cols == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < n; i++) {
            ci->names[i] = strndup(cells[i].ptr, cells[i].len);
            if (ci->names[i] == NULL)
                return err_set(e, 500, "internal", "out of memory");
            column_init(&ci->cols[i], 0);
        }
        ci->n_cols = n;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (column_add(&ci->cols[i], cells[i].ptr, cells[i].len, e) < 0)
            return -1;
    ci->rows++;
    return 0;
}

csv_infer_t *csv_infer_new(const csv_limits_t *lim)
{
    csv_infer_t *ci = calloc(1, sizeof(*ci));
    if (ci == NULL)
        return NULL;
    ci->rd = csv_reader_new(lim, infer_record, ci);
    if (ci->rd == NULL) {
        free(ci);
        return NULL;
    }
    return ci;
}

int csv_infer_feed(csv_infer_t *ci, const char *buf, size_t n, err_t *e)
{
    return csv_reader_feed(ci->rd, buf, n, e);
}

int csv_infer_finish(csv_infer_t *ci, json_object **summary, err_t *e)
{
    *summary = NULL;
    if (csv_reader_finish(ci->rd, e) < 0)
        return -1;
    if (ci->rows == 0)
        return err_set(e, 400, "csv_invalid", "line 2: no data rows after the header");
    json_object *root = json_object_new_object();
    json_object *fields = json_object_new_array();
    json_object_object_add(root, "rows", json_object_new_int64((int64_t)ci->rows));
    char delim[2] = {csv_reader_delimiter(ci->rd), '\0'};
    json_object_object_add(root, "delimiter", json_object_new_string(delim));
    for (size_t i = 0; i < ci->n_cols; i++) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "name", json_object_new_string(ci->names[i]));
        json_object_object_add(f, "type",
                               json_object_new_string(csv_type_name(column_type(&ci->cols[i]))));
        json_object_object_add(f, "missing", json_object_new_int64((int64_t)ci->cols[i].n_missing));
        /* Distinct values of a text column (category, boolean, string):
         * exact up to COL_EXACT_DISTINCT, the column's HyperLogLog estimate
         * beyond (then "distinct_estimated"). Inference interns no numeric
         * cell, so a column holding numbers gets no count rather than a
         * wrong one. */
        const column_t *c = &ci->cols[i];
        if (c->n_numeric == 0 && c->n_text > 0) {
            json_object_object_add(f, "distinct",
                                   json_object_new_int64((int64_t)llround(column_distinct(c))));
            if (c->hll != NULL)
                json_object_object_add(f, "distinct_estimated", json_object_new_boolean(1));
        }
        json_object_array_add(fields, f);
    }
    json_object_object_add(root, "fields", fields);
    *summary = root;
    return 0;
}

void csv_infer_free(csv_infer_t *ci)
{
    if (ci == NULL)
        return;
    csv_reader_free(ci->rd);
    for (size_t i = 0; i < ci->n_cols; i++) {
        free(ci->names[i]);
        column_free(&ci->cols[i]);
    }
    free(ci->names);
    free(ci->cols);
    free(ci);
}
