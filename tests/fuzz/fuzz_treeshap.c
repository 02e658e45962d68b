/*
 * fuzz_treeshap.c — ml/treeshap.c on arbitrary model documents.
 *
 * The input is read as the JSON form of an XGBoost model (what
 * XGBoosterSaveModelToBuffer writes: learner.gradient_booster.model.trees
 * and tree_info) for a model of 6 inputs and 2 output groups. Whatever comes
 * in, treeshap_from_json either declines (1), fails with an error, or gives
 * a forest whose walks end; its contributions for a few fixed rows (numbers,
 * category codes, missing values) are finite whenever every number in the
 * document is small (a leaf value or cover of 1e300 may rightly overflow).
 * The walker form (treeshap_walker_from_json, what small batches predict
 * with) reads the same document, given an objective when it has none:
 * declined, an error, or margins for the same rows, finite under the same
 * condition; and it never declines a forest the contributions accepted.
 * A gblinear document (its weights: the walker's dot product) is read by
 * the walker alone.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ml/treeshap.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define W 6
#define GROUPS 2
#define ROWS 4

/* 1 when every number in the document is within +-1e6 (covers: the
 * fractions they make stay finite too, as long as none is tiny). */
static int small_numbers(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double:
    case json_type_int: {
        double v = json_object_get_double(o);
        return isfinite(v) && fabs(v) <= 1e6 && (v == 0 || fabs(v) >= 1e-6);
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!small_numbers(json_object_array_get_idx(o, i)))
                return 0;
        return 1;
    case json_type_object: {
        json_object_object_foreach(o, k, v) {
            (void)k;
            if (!small_numbers(v))
                return 0;
        }
        return 1;
    }
    default:
        return 1;
    }
}

static const float X[ROWS * W] = {
    0, 1, 2, 3, 4, 5,
    -1, 0.5f, NAN, 1e3f, 7, 0,
    NAN, NAN, NAN, NAN, NAN, NAN,
    3, 64, 1, 200, -5, 2.5f,
};

/* What a reader answered (rc, the forest t, the error e) is one of its
 * three outcomes: an error (reported as errors are) without a forest,
 * declined without one, or a forest. */
static void outcome(int rc, const treeshap_t *t, const err_t *e, const char *what)
{
    if (rc < 0) {
        fuzz_check_err(e, what);
        FUZZ_CHECK(t == NULL, "%s: a forest with an error", what);
    } else {
        FUZZ_CHECK((t != NULL) == (rc == 0), "%s: rc %d with%s a forest", what, rc,
                   t ? "" : "out");
    }
}

/* The walker on the same document (shap_rc: what the contributions' reader
 * answered). */
static void walk(json_object *root, int shap_rc)
{
    json_object *lrn = NULL, *obj = NULL;
    int given = 0; /* the objective is ours: the walker knows it */
    if (json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "learner", &lrn) &&
        json_object_is_type(lrn, json_type_object) &&
        !json_object_object_get_ex(lrn, "objective", &obj)) {
        obj = json_object_new_object();
        json_object_object_add(obj, "name", json_object_new_string("multi:softprob"));
        json_object_object_add(lrn, "objective", obj);
        json_object *mp = json_object_new_object();
        json_object_object_add(mp, "base_score", json_object_new_string("5E-1"));
        json_object_object_add(lrn, "learner_model_param", mp);
        given = 1;
    }
    treeshap_t *t = NULL;
    err_t e;
    err_clear(&e);
    int rc = treeshap_walker_from_json(root, W, GROUPS, &t, &e);
    outcome(rc, t, &e, "walker_from_json");
    FUZZ_CHECK(!(rc > 0 && given && shap_rc == 0), "the walker declined a forest the reader took");
    if (rc != 0)
        return;
    float out[ROWS * GROUPS];
    treeshap_margins(t, X, ROWS, out);
    if (small_numbers(root))
        for (size_t i = 0; i < ROWS * GROUPS; i++)
            FUZZ_CHECK(isfinite(out[i]), "margin %zu is %g", i, (double)out[i]);
    treeshap_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    if (root == NULL)
        return 0;
    treeshap_t *t = NULL;
    err_t e;
    err_clear(&e);
    int rc = treeshap_from_json(root, W, GROUPS, &t, &e);
    outcome(rc, t, &e, "from_json");
    if (rc == 0) {
        float *out = calloc(ROWS * GROUPS * (W + 1), sizeof(*out));
        FUZZ_CHECK(out != NULL, "out of memory");
        treeshap_rows(t, X, ROWS, out);
        if (small_numbers(root))
            for (size_t i = 0; i < ROWS * GROUPS * (W + 1); i++)
                FUZZ_CHECK(isfinite(out[i]), "contribution %zu is %g", i, (double)out[i]);
        FUZZ_CHECK(treeshap_bytes(t) > 0, "no size");
        free(out);
        treeshap_free(t);
    }
    walk(root, rc);
    json_object_put(root);
    return 0;
}
