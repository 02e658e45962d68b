/*
 * predict_check.h — what a prediction request sends that the model does not
 * expect: fields it does not read, category levels it never saw, fields it
 * reads that the row leaves out.
 *
 * The engine predicts such rows anyway (an unknown field is ignored, an
 * unseen level goes to "other" or missing, an absent field is missing), so
 * without this a misspelled field gives a normal-looking answer. The checks
 * read only the model's preprocess description (ml/model.h), never the
 * booster.
 */
#ifndef TRAINYARD_HANDLERS_PREDICT_CHECK_H
#define TRAINYARD_HANDLERS_PREDICT_CHECK_H

#include <json-c/json.h>

#include "common/err.h"

/* Checks rows (a JSON array of objects; other rows are left to the engine,
 * which refuses them) against preprocess. Returns, in *warnings (caller
 * owns), one entry per (code, field, level) with the first rows it
 * concerns, at most PREDICT_CHECK_MAX entries:
 *   {"code":"unknown_field"|"unseen_level"|"missing_field","field":"…",
 *    ["value":"<level>",] "count":N,"rows":[i,…(at most 10)],"message":"…"}
 * The target field in a row (a labelled row) is not unknown. With strict
 * set and anything found, fills e with 422 items ("body/data/<row>/<field>",
 * the same codes) and returns -1; else 0. */
int predict_check_rows(json_object *preprocess, json_object *rows, int strict,
                       json_object **warnings, err_t *e);

#define PREDICT_CHECK_MAX 100

#endif
