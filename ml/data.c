/*
 * data.c — the training dataset, built from streamed CSV chunks in one parse
 * (ml_data_* in train.h).
 *
 * Every cell goes straight into its column's typed storage (column.c); at
 * finish the columns are typed with the same rule as csv_infer. Nothing
 * else is kept: the raw CSV is never held in memory.
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
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (column_add(&d->cols[i], cells[i].ptr, cells[i].len, e) < 0)
            return -1;
    d->n_rows++;
    return 0;
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
    free(d);
}
