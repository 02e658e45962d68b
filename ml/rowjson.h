/*
 * rowjson.h — a prediction batch read straight from its JSON text into field
 * rows, when the batch has the plain shape almost every client sends.
 *
 * The general path parses the body into a json-c tree (for 10,000 rows of 64
 * fields: 640,000 objects and as many key copies, 200-400 ms), then reads
 * every row out of it again. This reader scans the text once and writes
 * each value into its field's cell as it passes: no tree at all.
 *
 * Plain means: {"data":[{...},...]} with, at most once each, "strict" and
 * "explain" as booleans; every row an object whose keys are distinct and
 * name every field of the plan, plus any of the names known but not read
 * (a training column the model dropped); number fields hold JSON numbers
 * (finite, within a float's range), numeric text or null, boolean fields
 * true, false, a boolean word or null, category fields null or exactly one
 * of their levels; no string holds an escape. On such a batch the general
 * path predicts the same floats and its input check finds nothing
 * (handlers/predict_check.h). Anything else, malformed JSON included, is
 * not read here ("not plain"): the caller takes the general path, which
 * answers it as it always has. So this reader never decides an error.
 */
#ifndef TRAINYARD_ML_ROWJSON_H
#define TRAINYARD_ML_ROWJSON_H

#include <stddef.h>

#include "ml/encode.h"
#include "ml/keyorder.h"

typedef struct rowjson_plan {
    const enc_plan_t *plan; /* the fields, in the matrix's column order */
    keyorder_t *keys;       /* the plan's names (index j = field j), then names
                               known but not read (index >= plan->n) */
    size_t max_cells;       /* rows x fields past which the batch is not plain
                               (the general path refuses it with 413) */
} rowjson_plan_t;

typedef struct rowjson_rows {
    float *F;               /* n x plan->n field values, malloc'd (free it) */
    size_t n;
    int strict, explain;    /* the body's booleans, -1 when absent */
} rowjson_rows_t;

/* Reads text (len bytes) as a plain batch: 1 with *out filled, 0 when it is
 * not plain (*out empty), -1 out of memory. */
int rowjson_read(const rowjson_plan_t *p, const char *text, size_t len, rowjson_rows_t *out);

#endif
