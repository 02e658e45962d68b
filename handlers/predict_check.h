/*
 * predict_check.h — what a prediction request sends that the model does not
 * expect: fields it does not read, category levels it never saw, fields it
 * reads that the row leaves out.
 *
 * The engine predicts such rows anyway (an unknown field is ignored, an
 * unseen level goes to "other" or missing, an absent field is missing), so
 * without this a misspelled field gives a normal-looking answer. A column of
 * the training table that the model dropped (preprocess "dropped_fields":
 * constant, id-like, ignored) is known, not unknown. The checks
 * read only the model's preprocess description (ml/model.h), never the
 * booster.
 */
#ifndef TRAINYARD_HANDLERS_PREDICT_CHECK_H
#define TRAINYARD_HANDLERS_PREDICT_CHECK_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

typedef struct predict_check predict_check_t;

/* A checker for one model; keeps a reference to preprocess. */
predict_check_t *predict_check_new(json_object *preprocess);
void predict_check_free(predict_check_t *c);

/* Checks rows (a JSON array of objects; other rows are left to the engine,
 * which refuses them), numbered from first_row. Adds to the checker's
 * warnings, one entry per (code, field, level) with the first rows it
 * concerns, at most PREDICT_CHECK_MAX entries:
 *   {"code":"unknown_field"|"unseen_level"|"missing_field","field":"…",
 *    ["value":"<level>",] "count":N,"rows":[i,…(at most 10)],"message":"…"}
 * The target field in a row (a labelled row) is not unknown. With strict
 * set and anything found, fills e with 422 items ("body/data/<row>/<field>",
 * the same codes) and returns -1; else 0. */
int predict_check_rows(predict_check_t *c, json_object *rows, size_t first_row, int strict,
                       err_t *e);

/* The same over the rows marked[i] != 0 only (marked NULL: all rows), the
 * others known to hold nothing to find (ml_model_predict_rows' unusual). */
int predict_check_rows_marked(predict_check_t *c, json_object *rows, const unsigned char *marked,
                              size_t first_row, int strict, err_t *e);

/* The same for one row, without aggregating: writes the row's findings as
 * one line of text ("unknown_field tenur; unseen_level contract=Three year")
 * into buf (empty if none) and returns how many there were. For CSV answers,
 * where each row carries its own notes. */
size_t predict_check_row_text(predict_check_t *c, json_object *row, char *buf, size_t n);

/* Forgets the warnings aggregated so far (a checker kept for the next
 * request starts empty). */
void predict_check_reset(predict_check_t *c);

/* The aggregated warnings so far (owned by the checker; take a reference
 * to keep them). */
json_object *predict_check_warnings(const predict_check_t *c);

#define PREDICT_CHECK_MAX 100

#endif
