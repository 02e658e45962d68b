/*
 * encode.h — from typed columns to model inputs, and the preprocess JSON.
 *
 * A plan lists the input features chosen from the dataset (ids, constants,
 * ignored fields and the target left out, each drop recorded with its
 * reason) and how each is encoded:
 *   number   -> its float value (NaN = missing)
 *   boolean  -> 0 / 1
 *   category -> index of a kept level (most frequent first, at most
 *               ENC_MAX_LEVELS, each seen at least twice); every other level
 *               folds into the "other" index n_levels; missing -> NaN
 * That per-feature float row (the "field row") is the tree model's input
 * as is, with categories as XGBoost categorical features. The linear model
 * expands it: numbers standardised (missing -> the training median; a
 * number marked log1p is read as log1p(max(x, 0)) first), booleans
 * standardised (missing -> 0), categories one-hot over
 * levels + other (missing -> all zero).
 *
 * The preprocess JSON (model.h) serialises exactly this, so the API and the
 * Python helper (tests/e2e/trainyard_preprocess.py) rebuild the same input.
 */
#ifndef TRAINYARD_ML_ENCODE_H
#define TRAINYARD_ML_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/err.h"
#include "ml/data.h"

#define ENC_MAX_LEVELS 128

typedef enum enc_kind { ENC_NUMBER, ENC_BOOLEAN, ENC_CATEGORY } enc_kind_t;

typedef struct enc_feature {
    char *name;
    enc_kind_t kind;
    size_t col;               /* dataset column (training only) */
    size_t n_levels;          /* category: kept levels */
    char **levels;            /* category: level texts, index order */
    int other;                /* category: an "other" bucket exists */
    uint32_t *map;            /* training only: dict id -> code (n_levels = other) */
    double mean, scale;       /* linear: standardisation */
    double impute;            /* linear, number, when imputed: a missing value's
                               * stand-in (the training median, enc_fit_linear);
                               * else (booleans, earlier models) missing -> 0 */
    int imputed;
    int log1p;                /* linear, number: read as log1p(max(x, 0)) before
                               * standardising (enc_fit_linear's log_skewed);
                               * "transform": "log1p" in the preprocess JSON */
} enc_feature_t;

typedef struct enc_plan {
    enc_feature_t *f;
    size_t n;
    int linear;               /* the model reads the expanded (linear) input */
    size_t width;             /* input columns of the booster */
    int target_log1p;         /* regression on log1p(target): scoring_predict
                               * returns expm1 of the booster's output */
} enc_plan_t;

/* Chooses features: every column but the target, the ignored ones, id-like
 * and constant columns. Appends {"field","reason"} for each drop to
 * dropped (and the log line to each reason). */
int enc_plan_build(enc_plan_t *p, const ml_data_t *d, size_t target, json_object *ignore,
                   json_object *dropped, err_t *e);
void enc_plan_free(enc_plan_t *p);

/* Fills out (n x p->n floats, row-major) with the field rows of the given
 * dataset rows. */
void enc_fill_rows(const enc_plan_t *p, const ml_data_t *d, const size_t *rows, size_t n,
                   float *out);

/* Mean / scale of numeric features over the field rows (for linear), and
 * each number field's median (impute): sklearn's SimpleImputer default,
 * which the mean (the 0 of the standardised input) lost to on every
 * shared dataset with empty cells (linear model, test split: credit_data
 * AUC .8355 -> .8369, pima .8722 -> .8754). The median of at most
 * IMPUTE_SAMPLE evenly spaced values: exact up to that many rows. */
/* With log_skewed, a number whose training values are all >= 0 and
 * right-skewed (sample skewness > ENC_LOG_SKEW) is marked log1p and its
 * mean / scale are those of log1p(x): sizes, counts and amounts then enter
 * the linear model on the scale where their effect is closer to linear
 * (the search keeps this input only when it validates better). Returns
 * the number of features marked (0 without log_skewed). */
#define ENC_LOG_SKEW 0.5
size_t enc_fit_linear(enc_plan_t *p, const float *F, size_t n, int log_skewed);
/* Whether any feature of p is read through a transform (log1p): such a
 * preprocess JSON is version 2, which version-1 readers must refuse. */
int enc_plan_transforms(const enc_plan_t *p);
size_t enc_linear_width(const enc_plan_t *p);
/* Expands one field row into the linear input (enc_linear_width floats). */
void enc_expand_linear(const enc_plan_t *p, const float *frow, float *out);

/* Booster input width and XGBoost feature names/types for the plan.
 * names/types are malloc'd arrays of malloc'd strings (free with
 * enc_names_free). */
int enc_feature_info(const enc_plan_t *p, char ***names, char ***types, size_t *n);
void enc_names_free(char **v, size_t n);

/* Preprocess JSON <-> plan (the plan read back has no col/map). */
json_object *enc_plan_to_json(const enc_plan_t *p);
int enc_plan_from_json(enc_plan_t *p, json_object *features, int linear, err_t *e);
/* A copy of src through its JSON form (names, kinds, levels,
 * standardisation; no training maps), read as linear or not. */
int enc_plan_copy(const enc_plan_t *src, enc_plan_t *dst, int linear, err_t *e);
/* v as a JSON number whose text is the shortest of %.15g, %.16g, %.17g
 * that strtod reads back as v (17 always does): kept with the number, so
 * the global double format (a few digits, for API answers) does not round
 * what a model reads back. */
json_object *enc_exact_double(double v);

/* Field value of one raw cell text (trimmed) for feature f: number / 0-1 /
 * level code; NaN if missing. Returns -1 if the text does not fit the kind
 * (a number feature given "abc"). Unknown categories give "other" (or NaN
 * when the feature has no other bucket). */
int enc_value_from_text(const enc_feature_t *f, const char *p, size_t n, float *out);

#endif
