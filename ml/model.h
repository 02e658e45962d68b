/*
 * model.h — a trained model loaded for prediction (API side).
 *
 * A model is the booster (UBJ bytes) plus its preprocess description, the
 * JSON the engine wrote at training time:
 *   {"version":1,"task":"binary","target":"churn","classes":["No","Yes"],
 *    "features":[{"name":"tenure","kind":"number"},
 *                {"name":"contract","kind":"category","levels":["Month-to-month",...],
 *                 "other":true}, ...],
 *    "dropped_fields":[{"field":"id","reason":"..."},...] (optional: columns
 *    of the training table the model does not read; a row may carry them),
 *    "base_score":..., "target_transform":"log1p" (regression, optional: the
 *    booster predicts log1p(target), invert with expm1), "ensemble":{...}
 *    (optional: the booster is a weighted blend, ml/ensemble.h), ...}
 * It is enough to turn a row of raw values into the booster's input, in C
 * here or in Python with the downloaded archive.
 *
 * Loading creates an XGBoost booster: only ever in a process that will not
 * fork afterwards (an API worker, after fork).
 */
#ifndef TRAINYARD_MODEL_H
#define TRAINYARD_MODEL_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/rowcsv.h"
#include "ml/rowjson.h"
#include "ml/textbuf.h"

typedef struct ml_model ml_model_t;

/* The training columns preprocess lists in "dropped_fields" (their
 * "field"s, in order, borrowed from preprocess) as a malloc'd array of *n
 * (free it); NULL only when out of memory. Read by the model and by the
 * input check (handlers/predict_check.h), which know them, not read. */
const char **ml_preprocess_dropped(json_object *preprocess, size_t *n);

/* Takes copies of what it needs; the caller keeps booster and preprocess. */
ml_model_t *ml_model_load(const void *booster, size_t booster_len, json_object *preprocess,
                          err_t *e);
void ml_model_free(ml_model_t *m);

/* Predicts rows (a JSON array of objects {field: value}). Missing fields,
 * null and the missing words (NA, NaN, null, ...) are missing values; fields
 * the model does not use are ignored. Returns, in *out (caller owns), Akkio's
 * shape:
 *   [{"<target>":"<label>","Probability <target> is <class>":p,...},...]
 * (regression: only {"<target>": value}); an empty array gives [].
 * Types: a number field takes a JSON number or a numeric string; a boolean
 * field takes true/false, "yes"/"no"/"true"/"false" or 0/1; a category field
 * takes any scalar as its text. A category the model never saw (or saw too
 * rarely to keep) is NOT an error: it is predicted as the "other" level, or
 * as missing when the field has no "other" level. A value of the wrong type
 * (or an object/array, or a row that is not an object) is reported per row
 * and field as 422 items with paths "body/data/<row>/<field>" (codes
 * float_parsing, bool_parsing, finite_number, dict_type, ...); then nothing
 * is predicted. */
int ml_model_predict(ml_model_t *m, json_object *rows, json_object **out, err_t *e);

/* The same, and with explain set each prediction also carries
 * "explanation": XGBoost's TreeSHAP contributions per input field of the
 * model (ml/contrib.h), in margin units, summing with "bias" to the margin:
 *   binary:     {"output":"log-odds","class":"<classes[1]>","bias":b,
 *                "contributions":{"<field>":c,...}}   (p = 1/(1+exp(-margin)))
 *   regression: {"output":"value","bias":b,"contributions":{...}}
 *               ("output":"log1p(value)" when the model was fit on log1p of
 *               the target, preprocess "target_transform":"log1p": the
 *               prediction is expm1 of the sum)
 *   multiclass: {"output":"margin","classes":{"<class>":{"bias":b,
 *                "contributions":{...}},...}}          (p = softmax of margins)
 * Fields the model does not use (ignored, dropped at training) are absent. */
int ml_model_predict_explain(ml_model_t *m, json_object *rows, int explain, json_object **out,
                             err_t *e);

/* The same, and unusual (n bytes for n rows, or NULL) marks each row an
 * input check (handlers/predict_check.h) could find something in: 0 only
 * when the row's keys are exactly the model's fields and none of them is a
 * category (whose levels the check reads), 1 otherwise. Read while the row
 * is encoded, so a batch of plain rows needs no second pass to be checked.
 * Filled only when the call succeeds. */
int ml_model_predict_rows(ml_model_t *m, json_object *rows, int explain, unsigned char *unusual,
                          json_object **out, err_t *e);

/* A batch body's text read straight into the model's field rows when it is
 * plain (ml/rowjson.h: every row exactly the model's fields, values of
 * their kinds, known levels): 1 with *rows filled (free rows->F), 0 when
 * it is not (decode it and use ml_model_predict_rows), -1 out of memory.
 * A plain batch holds nothing an input check would tell of. */
int ml_model_read_text(ml_model_t *m, const char *text, size_t len, rowjson_rows_t *rows);

/* Predicts n field rows F (n x the model's fields, as read above), in
 * ml_model_predict_explain's shape; 413 past ML_PREDICT_MAX_CELLS. */
int ml_model_predict_matrix(ml_model_t *m, const float *F, size_t n, int explain,
                            json_object **out, err_t *e);

/* The same without explanations, written as JSON text (the predictions
 * array, appended to out: the owner frees out->p) straight from the
 * predicted floats: the text ml_model_predict_matrix's array serialises
 * to, without a json-c object per value (a 10,000-row multiclass answer
 * holds 110,000 numbers). */
int ml_model_predict_matrix_text(ml_model_t *m, const float *F, size_t n, textbuf_t *out,
                                 err_t *e);

/* Whether small batches are predicted without XGBoost (see model.c): 1
 * yes, -1 no, 0 not decided yet (no small batch so far). */
int ml_model_walks(const ml_model_t *m);

/* The raw predictions of n field rows: ml_model_outputs(m) floats a row
 * (the k class probabilities, binary too; 1 value for regression),
 * malloc'd into *out (NULL for no rows); 413 as above. */
int ml_model_predict_values(ml_model_t *m, const float *F, size_t n, float **out, err_t *e);
size_t ml_model_outputs(const ml_model_t *m);

/* The same from JSON rows, read and refused as ml_model_predict reads them
 * (*out NULL for no rows). */
int ml_model_predict_rows_values(ml_model_t *m, json_object *rows, float **out, err_t *e);

/* The class a row of those probabilities predicts (the first of equals). */
size_t ml_model_best_class(const ml_model_t *m, const float *row);

/* A predicted number as every answer writes it: the float's shortest text
 * (ml/num.h), not 17 digits of its double (0.941176474, not
 * 0.94117647409439087: the model computes in float), ".0" after a whole
 * number as json-c writes doubles, null when not finite. Returns the
 * length written into buf (ML_PREDICTION_TEXT_MAX bytes). */
#define ML_PREDICTION_TEXT_MAX 32
int ml_prediction_text(float v, char *buf);

/* CSV records read straight into field rows (ml/rowcsv.h) by the model's
 * fields; NULL when a field the model reads is not among the header's n
 * columns or is named twice (the general path reads every row then), or
 * out of memory. Borrows the model. */
rowcsv_map_t *ml_model_csv_map(const ml_model_t *m, char *const *names, size_t n);

/* Rows x features one prediction request may hold (16M floats = 64 MB):
 * past it, ml_model_predict answers 413 without allocating. */
#define ML_PREDICT_MAX_CELLS ((size_t)16 * 1024 * 1024)

/* Member i of an ensemble model (booster bytes and preprocess as stored)
 * as its own model file, malloc'd UBJ bytes in *out: a tree member cut out
 * of the booster (ml/ensemble.h), the linear member as a gblinear model on
 * its expanded input (ml/linpart.h). */
int ml_model_member_file(const void *booster, size_t booster_len, json_object *preprocess,
                         size_t i, void **out, size_t *out_len, err_t *e);

/* Approximate bytes held (for the worker's bounded cache). */
size_t ml_model_size(const ml_model_t *m);

#endif
