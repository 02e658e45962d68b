/*
 * rowcsv.h — CSV records read straight into a model's field rows, for
 * batch predictions and evaluation (handlers/batch.c): the CSV
 * counterpart of rowjson.h.
 *
 * The general path turns each record into a JSON row (missing cells null,
 * the others strings) for the engine (ml/model.h) and the input check
 * (handlers/predict_check.h). A record is plain when that path would read
 * it without complaint and the check would find nothing in it: every cell
 * the model reads is missing or of its field's kind, and a category's
 * text is exactly one of its levels. A plain record is read here into the
 * same floats, bit for bit (tests/fuzz/fuzz_rowcsv.c holds the two to
 * it), without a JSON object per cell.
 */
#ifndef TRAINYARD_ML_ROWCSV_H
#define TRAINYARD_ML_ROWCSV_H

#include <stddef.h>

#include "ml/csv.h"
#include "ml/encode.h"
#include "ml/keyorder.h"

typedef struct rowcsv_map rowcsv_map_t;

/* The field of each of a header's n columns: keys names the plan's fields
 * in plan order (then any dropped training columns, read as not the
 * model's). NULL when a field of the plan is not among the columns or is
 * named twice (every record would hold something for the check: a missing
 * field, or two values where the JSON row keeps one), or out of memory.
 * Borrows plan and keys. */
rowcsv_map_t *rowcsv_map_new(const enc_plan_t *plan, keyorder_t *keys, char *const *names,
                             size_t n);
void rowcsv_map_free(rowcsv_map_t *map);

/* Floats a field row holds (the plan's fields). */
size_t rowcsv_width(const rowcsv_map_t *map);

/* One record's n cells into the field row x: 1 when plain, 0 when not (x
 * is then undefined and the general path reads the record). */
int rowcsv_read(const rowcsv_map_t *map, const csv_cell_t *cells, size_t n, float *x);

#endif
