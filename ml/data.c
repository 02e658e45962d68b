/*
 * data.c — the training dataset, built from streamed CSV chunks in one parse
 * (ml_data_* in train.h).
 *
 * Every cell goes straight into its column's typed storage (column.c); at
 * finish the columns are typed with the same rule as csv_infer. Nothing
 * else is kept: the raw CSV is never held in memory.
 *
 * Spill mode (data larger than memory, ml/extmem.h): every group of rows is
 * handed to a page file (spill.h) and the columns start over, so memory
 * holds one group whatever the table's size. A column that turns from
 * numbers to codes after some of its groups were written gets their
 * numbers interned too, as a column does with the floats it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "ml/data.h"

static int data_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                       err_t *e)
{
    ml_data_t *d = ctx;
    (void)line;
    if (d->names == NULL) {
        d->names = calloc(n, sizeof(*d->names));
        d->cols = calloc(n, sizeof(*d->cols));
        if (d->names == NULL || d->cols == NULL)
            return err_set(e, 500, "internal", "out of memory");
        for (size_t i = 0; i < n; i++) {
            d->names[i] = strndup(cells[i].ptr, cells[i].len);
            if (d->names[i] == NULL)
                return err_set(e, 500, "internal", "out of memory");
            column_init(&d->cols[i], 1);
        }
        d->n_cols = n;
        if (d->spill_dir != NULL) {
            d->spill = spill_open(d->spill_dir, n, e);
            if (d->spill == NULL)
                return -1;
            if (d->group_rows == 0)
                d->group_rows = spill_group_rows(n);
        }
        return 0;
    }
    if (d->spill == NULL) {
        for (size_t i = 0; i < n; i++)
            if (column_add(&d->cols[i], cells[i].ptr, cells[i].len, e) < 0)
                return -1;
        d->n_rows++;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        column_t *c = &d->cols[i];
        int was_codes = c->is_codes;
        if (column_add(c, cells[i].ptr, cells[i].len, e) < 0)
            return -1;
        if (!was_codes && c->is_codes && spill_intern_floats(d->spill, c, i, e) < 0)
            return -1;
    }
    d->n_rows++;
    if (d->cols[0].n >= d->group_rows && spill_flush(d->spill, d->cols, e) < 0)
        return -1;
    return 0;
}

int ml_data_spill(ml_data_t *d, const char *dir, size_t group_rows, err_t *e)
{
    if (d->names != NULL)
        return err_set(e, 500, "internal", "spill mode is chosen before the first row");
    free(d->spill_dir);
    d->spill_dir = strdup(dir);
    d->group_rows = group_rows;
    return d->spill_dir ? 0 : err_set(e, 500, "internal", "out of memory");
}

int ml_data_spilled(const ml_data_t *d)
{
    return d->spill != NULL;
}

ml_data_t *ml_data_new(const csv_limits_t *lim)
{
    ml_data_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->rd = csv_reader_new(lim, data_record, d);
    if (d->rd == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

int ml_data_feed(ml_data_t *d, const char *buf, size_t n, err_t *e)
{
    return csv_reader_feed(d->rd, buf, n, e);
}

int ml_data_finish(ml_data_t *d, err_t *e)
{
    if (csv_reader_finish(d->rd, e) < 0)
        return -1;
    csv_reader_free(d->rd);
    d->rd = NULL;
    if (d->spill != NULL && spill_flush(d->spill, d->cols, e) < 0)
        return -1;
    if (d->n_rows == 0)
        return err_set(e, 400, "csv_invalid", "line 2: no data rows after the header");
    d->types = calloc(d->n_cols, sizeof(*d->types));
    if (d->types == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t i = 0; i < d->n_cols; i++)
        d->types[i] = column_type(&d->cols[i]);
    d->finished = 1;
    return 0;
}

int ml_data_retype(ml_data_t *d, json_object *types, err_t *e)
{
    if (types == NULL)
        return 0;
    if (!d->finished)
        return err_set(e, 500, "internal", "dataset not finished");
    if (!json_object_is_type(types, json_type_object))
        return err_add(e, 400, "dict_type", "field_types",
                       "field_types should be a {field: type} object");
    json_object_object_foreach(types, name, tv) {
        const char *t = json_object_get_string(tv);
        long i = ml_data_find(d, name);
        if (i < 0)
            return err_add(e, 400, "value_error", "field_types",
                           "field \"%s\" is not in the dataset", name);
        column_t *c = &d->cols[i];
        csv_type_t want;
        if (t != NULL && strcmp(t, "number") == 0)
            want = CSV_NUMBER;
        else if (t != NULL && strcmp(t, "category") == 0)
            want = CSV_CATEGORY;
        else if (t != NULL && strcmp(t, "string") == 0)
            want = CSV_STRING;
        else if (t != NULL && strcmp(t, "boolean") == 0)
            want = d->types[i] == CSV_BOOLEAN ? CSV_BOOLEAN : CSV_CATEGORY;
        else
            return err_add(e, 400, "literal_error", "field_types",
                           "the type of \"%s\" should be number, category, string or boolean",
                           name);
        if (want == d->types[i])
            continue;
        int was_codes = c->is_codes;
        if (want == CSV_NUMBER ? column_to_numbers(c, e) < 0 : column_to_codes(c, e) < 0)
            return -1;
        /* Spilled numbers become levels: intern them (spill_read converts). */
        if (!was_codes && c->is_codes && d->spill != NULL &&
            spill_intern_floats(d->spill, c, (size_t)i, e) < 0)
            return -1;
        d->types[i] = want;
    }
    return 0;
}

size_t ml_data_rows(const ml_data_t *d)
{
    return d->n_rows;
}

size_t ml_data_columns(const ml_data_t *d)
{
    return d->n_cols;
}

long ml_data_find(const ml_data_t *d, const char *name)
{
    for (size_t i = 0; i < d->n_cols; i++)
        if (strcmp(d->names[i], name) == 0)
            return (long)i;
    return -1;
}

void ml_data_free(ml_data_t *d)
{
    if (d == NULL)
        return;
    csv_reader_free(d->rd);
    for (size_t i = 0; i < d->n_cols; i++) {
        free(d->names[i]);
        column_free(&d->cols[i]);
    }
    free(d->names);
    free(d->cols);
    free(d->types);
    spill_free(d->spill);
    free(d->spill_dir);
    free(d);
}
