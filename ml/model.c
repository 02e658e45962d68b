/*
 * model.c — a trained model served by the API (model.h).
 *
 * Loading parses the preprocess JSON back into an encoding plan
 * (encode.c) and the UBJ bytes into a booster; predicting turns each JSON
 * row into a field row with the same rules as training (its keys read in
 * order and matched by position, ml/keyorder.h: a 64-field row costs 64
 * string compares, not 64 hash lookups) and predicts all rows at once
 * through scoring_predict (in-place from dense floats). The
 * booster runs with nthread = 1: API workers are many single-threaded
 * processes, and one small request gains nothing from a thread pool. A
 * batch of PARALLEL_ROWS rows or more (10,000 rows through a blend: tens
 * of milliseconds of tree walks) takes the machine's cores, up to
 * PARALLEL_MAX, for its prediction; the next small one sets one thread
 * again.
 *
 * Small batches (up to WALK_ROWS rows) skip XGBoost: its fixed cost per
 * call (a proxy matrix, its JSON configuration read, the cgroup files its
 * thread count reads) was about half a one-row prediction's CPU. The
 * model's trees are walked here (treeshap_margins; a linear model's
 * weights make the same dot product) and put through the same transform
 * in the same precision. The walker is built on the first
 * small batch and trusted only when its predictions of that batch's first
 * rows and of a row of missing values are XGBoost's bit for bit; else
 * (another XGBoost's arithmetic, a model it declines) XGBoost predicts
 * every batch, as it does the large ones.
 */
#include "ml/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml/contrib.h"
#include "ml/encode.h"
#include "ml/ensemble.h"
#include "ml/keyorder.h"
#include "ml/linpart.h"
#include "ml/num.h"
#include "ml/scoring.h"
#include "ml/treeshap.h"
#include "ml/xgb.h"

/* A piece of an answer's JSON text, escaped once. */
typedef struct answer_text {
    char *p;                  /* malloc'd */
    size_t n;
} answer_text_t;

struct ml_model {
    void *booster;
    enc_plan_t plan;
    ml_task_t task;
    size_t k;
    char **classes;
    char **prob_keys;          /* "Probability <target> is <class>" */
    char *target;
    size_t bytes;
    linpart_t *linpart;       /* a blend's linear member, beside the booster */
    keyorder_t *keys;         /* the plan's field names, for reading rows */
    int categories;           /* the plan has a category field */
    char **dropped;           /* training columns the plan dropped (copies) */
    size_t n_dropped;
    contrib_cache_t *contrib; /* built by the first explanation */
    answer_text_t *texts;     /* the answer's keys and labels as JSON text
                               * (answer_texts), for write_predictions */
    size_t n_texts;
    int nthread;              /* the booster's current "nthread" */
    treeshap_t *walker;       /* small batches' trees (see the top), or NULL */
    int walker_state;         /* 0: not tried yet, 1: trusted, -1: XGBoost only */
};

#define WALK_ROWS 64
#define WALK_PROBE_ROWS 8

#define PARALLEL_ROWS 2048
#define PARALLEL_MAX 4

/* Sets the booster's threads for a batch of n rows (see the top). */
static int threads_for(ml_model_t *m, size_t n, err_t *e)
{
    int want = 1;
    if (n >= PARALLEL_ROWS) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        want = cores < 1 ? 1 : cores > PARALLEL_MAX ? PARALLEL_MAX : (int)cores;
    }
    if (want == m->nthread)
        return 0;
    char v[16];
    snprintf(v, sizeof(v), "%d", want);
    if (xgb_booster_param(m->booster, "nthread", v, e) < 0)
        return -1;
    m->nthread = want;
    return 0;
}

void ml_model_free(ml_model_t *m)
{
    if (m == NULL)
        return;
    xgb_booster_free(m->booster);
    linpart_free(m->linpart);
    keyorder_free(m->keys);
    for (size_t i = 0; i < m->n_dropped; i++)
        free(m->dropped[i]);
    free(m->dropped);
    contrib_cache_free(m->contrib);
    treeshap_free(m->walker);
    for (size_t i = 0; i < m->n_texts; i++)
        free(m->texts[i].p);
    free(m->texts);
    enc_plan_free(&m->plan);
    for (size_t i = 0; m->classes && i < m->k; i++) {
        free(m->classes[i]);
        free(m->prob_keys[i]);
    }
    free(m->classes);
    free(m->prob_keys);
    free(m->target);
    free(m);
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* An ensemble's linear member (ml/linpart.h) from preprocess.json, if it
 * has one: the booster then holds only the tree members. */
static int linear_member(ml_model_t *m, json_object *preprocess, err_t *e)
{
    json_object *ens, *members;
    if (!json_object_object_get_ex(preprocess, "ensemble", &ens) ||
        !json_object_object_get_ex(ens, "members", &members) ||
        !json_object_is_type(members, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(members); i++) {
        json_object *o = json_object_array_get_idx(members, i), *lin, *w;
        if (!json_object_object_get_ex(o, "linear", &lin))
            continue;
        if (m->linpart != NULL || !json_object_object_get_ex(o, "weight", &w) ||
            !(json_object_get_double(w) > 0))
            return err_set(e, 500, "model_invalid", "the ensemble's linear member is not "
                           "described once with a weight");
        size_t g = m->task == TASK_MULTICLASS ? m->k : 1;
        if (linpart_from_json(lin, json_object_get_double(w), &m->plan, g, &m->linpart, e) < 0)
            return -1;
        m->bytes += (m->linpart->width + 1) * (g + 1) * sizeof(double) + m->plan.n * 64;
    }
    return 0;
}

const char **ml_preprocess_dropped(json_object *preprocess, size_t *n)
{
    json_object *dropped = NULL;
    if (!json_object_object_get_ex(preprocess, "dropped_fields", &dropped) ||
        !json_object_is_type(dropped, json_type_array))
        dropped = NULL;
    size_t nd = dropped != NULL ? json_object_array_length(dropped) : 0;
    const char **names = malloc((nd + 1) * sizeof(*names));
    *n = 0;
    for (size_t i = 0; names != NULL && i < nd; i++) {
        const char *f = get_str(json_object_array_get_idx(dropped, i), "field");
        if (f != NULL)
            names[(*n)++] = f;
    }
    return names;
}

/* The key order over the plan's field names (ml/keyorder.h), then the
 * training columns it dropped (indexes from plan.n on: known, not read;
 * copied, as the caller keeps preprocess). */
static int field_keys(ml_model_t *m, json_object *preprocess)
{
    size_t nd = 0, n = m->plan.n;
    const char **dropped = ml_preprocess_dropped(preprocess, &nd);
    const char **names = malloc((n + nd + 1) * sizeof(*names));
    m->dropped = calloc(nd + 1, sizeof(*m->dropped));
    int rc = dropped != NULL && names != NULL && m->dropped != NULL ? 0 : -1;
    for (size_t j = 0; rc == 0 && j < m->plan.n; j++)
        names[j] = m->plan.f[j].name;
    for (size_t i = 0; rc == 0 && i < nd; i++) {
        if ((m->dropped[m->n_dropped] = strdup(dropped[i])) == NULL)
            rc = -1;
        else
            names[n++] = m->dropped[m->n_dropped++];
    }
    if (rc == 0 && (m->keys = keyorder_new(names, n)) == NULL)
        rc = -1;
    free(names);
    free(dropped);
    return rc;
}

/* s as JSON text (json-c's escaping, as a document's answer has it), then
 * suffix, into *t; -1 when out of memory. */
static int answer_text(const char *s, const char *suffix, answer_text_t *t)
{
    json_object *o = json_object_new_string(s);
    if (o == NULL)
        return -1;
    const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t a = strlen(j), b = strlen(suffix);
    t->p = malloc(a + b + 1);
    if (t->p != NULL) {
        memcpy(t->p, j, a);
        memcpy(t->p + a, suffix, b + 1);
        t->n = a + b;
    }
    json_object_put(o);
    return t->p != NULL ? 0 : -1;
}

/* The answer's texts, escaped once per model rather than per request:
 * [0] "<target>":, then per class "<class>" and "<prob key>":. */
static int answer_texts(ml_model_t *m)
{
    size_t nt = 1 + (m->task == TASK_REGRESSION ? 0 : 2 * m->k);
    if ((m->texts = calloc(nt, sizeof(*m->texts))) == NULL)
        return -1;
    m->n_texts = nt;
    if (answer_text(m->target, ":", &m->texts[0]) < 0)
        return -1;
    for (size_t c = 0; nt > 1 && c < m->k; c++)
        if (m->classes[c] == NULL || m->prob_keys[c] == NULL ||
            answer_text(m->classes[c], "", &m->texts[1 + 2 * c]) < 0 ||
            answer_text(m->prob_keys[c], ":", &m->texts[2 + 2 * c]) < 0)
            return -1;
    for (size_t i = 0; i < nt; i++)
        m->bytes += m->texts[i].n + sizeof(m->texts[i]);
    return 0;
}

ml_model_t *ml_model_load(const void *booster, size_t booster_len, json_object *preprocess,
                          err_t *e)
{
    ml_model_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        err_set(e, 500, "internal", "out of memory");
        return NULL;
    }
    const char *task = get_str(preprocess, "task"), *target = get_str(preprocess, "target");
    const char *kind = get_str(preprocess, "model");
    json_object *features = NULL, *classes = NULL;
    if (task == NULL || target == NULL ||
        !json_object_object_get_ex(preprocess, "features", &features)) {
        err_set(e, 500, "model_invalid", "preprocess lacks task, target or features");
        goto fail;
    }
    m->target = strdup(target);
    if (strcmp(task, "binary") == 0)
        m->task = TASK_BINARY;
    else if (strcmp(task, "multiclass") == 0)
        m->task = TASK_MULTICLASS;
    else if (strcmp(task, "regression") == 0)
        m->task = TASK_REGRESSION;
    else {
        err_set(e, 500, "model_invalid", "unknown task \"%s\"", task);
        goto fail;
    }
    m->k = 1;
    if (m->task != TASK_REGRESSION) {
        if (!json_object_object_get_ex(preprocess, "classes", &classes) ||
            !json_object_is_type(classes, json_type_array) ||
            json_object_array_length(classes) < 2 ||
            (m->task == TASK_BINARY && json_object_array_length(classes) != 2)) {
            err_set(e, 500, "model_invalid", "preprocess has no usable classes");
            goto fail;
        }
        m->k = json_object_array_length(classes);
        m->classes = calloc(m->k, sizeof(*m->classes));
        m->prob_keys = calloc(m->k, sizeof(*m->prob_keys));
        if (m->classes == NULL || m->prob_keys == NULL) {
            err_set(e, 500, "internal", "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < m->k; i++) {
            const char *c = json_object_get_string(json_object_array_get_idx(classes, i));
            m->classes[i] = strdup(c ? c : "");
            size_t len = strlen(target) + strlen(m->classes[i]) + 20;
            m->prob_keys[i] = malloc(len);
            if (m->prob_keys[i])
                snprintf(m->prob_keys[i], len, "Probability %s is %s", target, m->classes[i]);
        }
    }
    if (m->target == NULL || answer_texts(m) < 0) {
        err_set(e, 500, "internal", "out of memory");
        goto fail;
    }
    if (enc_plan_from_json(&m->plan, features, kind && strcmp(kind, "linear") == 0, e) < 0)
        goto fail;
    const char *tt = get_str(preprocess, "target_transform");
    if (tt != NULL && strcmp(tt, "log1p") != 0) {
        err_set(e, 500, "model_invalid", "unknown target_transform \"%s\"", tt);
        goto fail;
    }
    m->plan.target_log1p = m->task == TASK_REGRESSION && tt != NULL;
    if (field_keys(m, preprocess) < 0) {
        err_set(e, 500, "internal", "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < m->plan.n; j++)
        m->categories |= m->plan.f[j].kind == ENC_CATEGORY;
    if (linear_member(m, preprocess, e) < 0)
        goto fail;
    if (xgb_booster_load(booster, booster_len, &m->booster, e) < 0 || threads_for(m, 1, e) < 0)
        goto fail;
    m->bytes += sizeof(*m) + booster_len * 2 + m->plan.n * 64;
    for (size_t j = 0; j < m->plan.n; j++)
        for (size_t l = 0; l < m->plan.f[j].n_levels; l++)
            m->bytes += strlen(m->plan.f[j].levels[l]) + 16;
    return m;
fail:
    ml_model_free(m);
    return NULL;
}

int ml_model_member_file(const void *booster, size_t booster_len, json_object *preprocess,
                         size_t i, void **out, size_t *out_len, err_t *e)
{
    json_object *ens, *members, *lin;
    *out = NULL;
    if (!json_object_object_get_ex(preprocess, "ensemble", &ens) ||
        !json_object_object_get_ex(ens, "members", &members) ||
        i >= json_object_array_length(members))
        return err_set(e, 500, "model_invalid", "the model has no ensemble member %zu", i);
    if (!json_object_object_get_ex(json_object_array_get_idx(members, i), "linear", &lin))
        return ensemble_member(booster, booster_len, members, i, out, out_len, e);
    ml_model_t *m = ml_model_load(booster, booster_len, preprocess, e);
    if (m == NULL)
        return -1;
    int rc = linpart_member_file(m->linpart, m->task, m->k, out, out_len, e);
    ml_model_free(m);
    return rc;
}

size_t ml_model_size(const ml_model_t *m)
{
    return m ? m->bytes + contrib_cache_bytes(m->contrib) + treeshap_bytes(m->walker) : 0;
}

static void bad_value(err_t *e, size_t row, const char *field, const char *code, const char *msg)
{
    char path[ERR_FIELD_MAX] = "body/data";
    err_path_append_index(path, sizeof(path), (long)row);
    err_path_append(path, sizeof(path), field);
    err_add(e, 422, code, path, "%s", msg);
}

/* Why a JSON value does not fit its field: the 422 item's code and text. */
typedef struct value_fault {
    const char *code, *message;
} value_fault_t;

static const value_fault_t FAULT_NUMBER_TYPE = {"float_type", "a single value is required"},
                           FAULT_TEXT_TYPE = {"string_type", "a single value is required"},
                           FAULT_RANGE = {"finite_number", "number out of range"},
                           FAULT_NUMBER = {"float_parsing", "Input should be a valid number, "
                                                            "unable to parse string as a number"},
                           FAULT_BOOLEAN = {"bool_parsing", "Input should be a valid boolean"};

/* One JSON value -> field value: NULL, or why it does not fit. */
static const value_fault_t *value_parse(const enc_feature_t *f, json_object *v, float *out)
{
    *out = NAN;
    if (v == NULL)
        return NULL;
    json_type t = json_object_get_type(v);
    if (t == json_type_object || t == json_type_array)
        return f->kind == ENC_NUMBER ? &FAULT_NUMBER_TYPE : &FAULT_TEXT_TYPE;
    if (f->kind == ENC_NUMBER) {
        if (t == json_type_int || t == json_type_double) {
            double x = json_object_get_double(v);
            if (!isfinite(x) || fabs(x) > 3.0e38)
                return &FAULT_RANGE;
            *out = (float)x;
            return NULL;
        }
        if (t == json_type_string) {
            const char *s = json_object_get_string(v);
            if (enc_value_from_text(f, s, strlen(s), out) == 0)
                return NULL;
        }
        return &FAULT_NUMBER;
    }
    if (f->kind == ENC_BOOLEAN) {
        if (t == json_type_boolean) {
            *out = json_object_get_boolean(v) ? 1.0f : 0.0f;
            return NULL;
        }
        const char *s = json_object_get_string(v);
        if (s && enc_value_from_text(f, s, strlen(s), out) == 0)
            return NULL;
        return &FAULT_BOOLEAN;
    }
    const char *s = json_object_get_string(v); /* numbers and booleans as their text */
    enc_value_from_text(f, s ? s : "", s ? strlen(s) : 0, out); /* a category always fits */
    return NULL;
}

/* Row i's values, field by field in the model's order, every misfit
 * reported (path body/data/<i>/<field>); -1 if any. */
static int encode_row_reporting(const ml_model_t *m, json_object *row, size_t i, float *x,
                                err_t *e)
{
    int bad = 0;
    for (size_t j = 0; j < m->plan.n; j++) {
        json_object *v = NULL;
        json_object_object_get_ex(row, m->plan.f[j].name, &v);
        const value_fault_t *fault = value_parse(&m->plan.f[j], v, &x[j]);
        if (fault != NULL) {
            bad_value(e, i, m->plan.f[j].name, fault->code, fault->message);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* The same, the row's keys read in order (ml/keyorder.h): the common case,
 * a clean row, at a string compare per key. -1 at the first misfit,
 * reporting nothing: the caller then reads the row again with
 * encode_row_reporting, so that every misfit is reported in field order.
 * *plain: the row's keys are exactly the plan's fields (keys are unique in
 * a json-c object, so a count of known ones and no unknown one says so). */
static int encode_row(ml_model_t *m, json_object *row, float *x, int *plain)
{
    for (size_t j = 0; j < m->plan.n; j++)
        x[j] = NAN;
    size_t k = 0, known = 0;
    int unknown = 0;
    json_object_object_foreach(row, key, val) {
        long j = keyorder_find(m->keys, k++, key);
        if (j < 0 || (size_t)j >= m->plan.n) {
            unknown |= j < 0; /* else a dropped training column */
            continue;
        }
        known++;
        if (value_parse(&m->plan.f[j], val, &x[j]) != NULL)
            return -1;
    }
    *plain = !unknown && known == m->plan.n;
    return 0;
}

/* {"output":"margin","bias":b,"contributions":{field: c, ...}} for one
 * row-group of contrib_fields' output. */
static json_object *explain_group(const ml_model_t *m, const float *c)
{
    json_object *o = json_object_new_object();
    json_object *fields = json_object_new_object();
    for (size_t j = 0; j < m->plan.n; j++)
        json_object_object_add(fields, m->plan.f[j].name, json_object_new_double(c[j]));
    json_object_object_add(o, "bias", json_object_new_double(c[m->plan.n]));
    json_object_object_add(o, "contributions", fields);
    return o;
}

/* The explanation of row i (shape documented in model.h). */
static json_object *explain_row(const ml_model_t *m, const float *ct, size_t groups, size_t i)
{
    size_t stride = m->plan.n + 1;
    if (groups == 1) {
        json_object *o = explain_group(m, ct + i * stride);
        json_object_object_add(o, "output",
                               json_object_new_string(m->task == TASK_BINARY ? "log-odds"
                                                      : m->plan.target_log1p ? "log1p(value)"
                                                                             : "value"));
        if (m->task == TASK_BINARY)
            json_object_object_add(o, "class", json_object_new_string(m->classes[1]));
        return o;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "output", json_object_new_string("margin"));
    json_object *per = json_object_new_object();
    for (size_t c = 0; c < groups; c++)
        json_object_object_add(per, m->classes[c],
                               explain_group(m, ct + (i * groups + c) * stride));
    json_object_object_add(o, "classes", per);
    return o;
}

int ml_model_predict(ml_model_t *m, json_object *rows, json_object **out, err_t *e)
{
    return ml_model_predict_rows(m, rows, 0, NULL, out, e);
}

int ml_model_predict_explain(ml_model_t *m, json_object *rows, int explain, json_object **out,
                             err_t *e)
{
    return ml_model_predict_rows(m, rows, explain, NULL, out, e);
}

/* 413 when n rows (explained or not) pass ML_PREDICT_MAX_CELLS. */
static int batch_bounds(const ml_model_t *m, size_t n, int explain, err_t *e)
{
    size_t p = m->plan.n;
    /* The feature matrix and XGBoost's own copy of the margins grow with
     * rows x features: a batch is bounded by that product, not by its
     * bytes alone (a wide model turns a 32 MB body into gigabytes). */
    if (p > 0 && n > ML_PREDICT_MAX_CELLS / p)
        return err_set(e, 413, "too_large",
                       "this batch needs %zu rows x %zu model features = %zu cells; a request "
                       "takes at most %zu: send fewer rows per request",
                       n, p, n * p, (size_t)ML_PREDICT_MAX_CELLS);
    size_t groups = m->task == TASK_MULTICLASS ? m->k : 1;
    if (explain && n > ML_PREDICT_MAX_CELLS / (groups * (p + 1)))
        return err_set(e, 413, "too_large",
                       "explaining this batch needs %zu rows x %zu outputs x %zu model features "
                       "= %zu values; a request takes at most %zu: send fewer rows per request",
                       n, groups, p + 1, n * groups * (p + 1), (size_t)ML_PREDICT_MAX_CELLS);
    return 0;
}

int ml_model_read_text(ml_model_t *m, const char *text, size_t len, rowjson_rows_t *rows)
{
    rowjson_plan_t plan = {.plan = &m->plan, .keys = m->keys, .max_cells = ML_PREDICT_MAX_CELLS};
    return rowjson_read(&plan, text, len, rows);
}

static int predict_fields(ml_model_t *m, const float *F, size_t n, int explain,
                          json_object **out, err_t *e);

/* rows (a JSON array of objects) as field rows, *F malloc'd (n of them),
 * every misfit reported as ml_model_predict describes; unusual marked as
 * ml_model_predict_rows says. */
static int encode_rows(ml_model_t *m, json_object *rows, int explain, unsigned char *unusual,
                       float **F, size_t *n, err_t *e)
{
    *F = NULL;
    if (m == NULL)
        return err_set(e, 500, "internal", "no model");
    if (!json_object_is_type(rows, json_type_array))
        return err_add(e, 422, "list_type", "body/data", "Input should be a valid list");
    size_t p = m->plan.n;
    *n = json_object_array_length(rows);
    if (batch_bounds(m, *n, explain, e) < 0)
        return -1;
    float *X = malloc((*n * p + 1) * sizeof(*X));
    if (X == NULL)
        return err_set(e, 500, "internal", "out of memory");
    int bad = 0;
    for (size_t i = 0; i < *n; i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        if (!json_object_is_type(row, json_type_object)) {
            if (unusual != NULL)
                unusual[i] = 1;
            char path[ERR_FIELD_MAX] = "body/data";
            err_path_append_index(path, sizeof(path), (long)i);
            err_add(e, 422, "dict_type", path, "Input should be a valid dictionary");
            bad = 1;
            continue;
        }
        float *x = &X[i * p];
        int plain = 0;
        if (encode_row(m, row, x, &plain) < 0 && encode_row_reporting(m, row, i, x, e) < 0)
            bad = 1;
        if (unusual != NULL)
            unusual[i] = !plain || m->categories;
    }
    if (bad) {
        free(X);
        return -1;
    }
    *F = X;
    return 0;
}

int ml_model_predict_rows(ml_model_t *m, json_object *rows, int explain, unsigned char *unusual,
                          json_object **out, err_t *e)
{
    *out = NULL;
    float *F;
    size_t n;
    if (encode_rows(m, rows, explain, unusual, &F, &n, e) < 0)
        return -1;
    int rc = predict_fields(m, F, n, explain, out, e);
    free(F);
    return rc;
}

int ml_model_predict_rows_values(ml_model_t *m, json_object *rows, float **out, err_t *e)
{
    *out = NULL;
    float *F;
    size_t n;
    if (encode_rows(m, rows, 0, NULL, &F, &n, e) < 0)
        return -1;
    int rc = ml_model_predict_values(m, F, n, out, e);
    free(F);
    return rc;
}

int ml_model_predict_matrix(ml_model_t *m, const float *F, size_t n, int explain,
                            json_object **out, err_t *e)
{
    *out = NULL;
    return batch_bounds(m, n, explain, e) < 0 ? -1 : predict_fields(m, F, n, explain, out, e);
}

_Static_assert(ML_PREDICTION_TEXT_MAX >= NUM_FLOAT_TEXT_MAX + 2, "room for \".0\"");

int ml_prediction_text(float v, char *buf)
{
    if (!isfinite(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    int k = num_format_float(v, buf, NUM_FLOAT_TEXT_MAX);
    if (strpbrk(buf, ".e") == NULL) {
        memcpy(buf + k, ".0", 3);
        k += 2;
    }
    return k;
}

/* The same as a json-c number that serialises as that text. */
static json_object *prediction_number(float v)
{
    char text[ML_PREDICTION_TEXT_MAX];
    ml_prediction_text(v, text);
    return json_object_new_double_s((double)v, text);
}

size_t ml_model_best_class(const ml_model_t *m, const float *row)
{
    size_t best = 0;
    for (size_t c = 1; c < m->k; c++)
        if (row[c] > row[best])
            best = c;
    return best;
}

/* Writes the n rows of predictions pr as the JSON array predict_fields
 * builds, byte for byte as json-c would write that array. */
static int write_predictions(const ml_model_t *m, const float *pr, size_t n, textbuf_t *out,
                             err_t *e)
{
    const answer_text_t *t = m->texts;
    char num[ML_PREDICTION_TEXT_MAX];
    tb_addn(out, "[", 1);
    for (size_t i = 0; i < n; i++) {
        tb_addn(out, i ? ",{" : "{", i ? 2 : 1);
        tb_addn(out, t[0].p, t[0].n);
        if (m->task == TASK_REGRESSION) {
            tb_addn(out, num, (size_t)ml_prediction_text(pr[i], num));
        } else {
            const float *row = pr + i * m->k; /* k probabilities a row, binary too */
            const answer_text_t *label = &t[1 + 2 * ml_model_best_class(m, row)];
            tb_addn(out, label->p, label->n);
            for (size_t c = 0; c < m->k; c++) {
                tb_addn(out, ",", 1);
                tb_addn(out, t[2 + 2 * c].p, t[2 + 2 * c].n);
                tb_addn(out, num, (size_t)ml_prediction_text(row[c], num));
            }
        }
        tb_addn(out, "}", 1);
    }
    return tb_addn(out, "]", 1) < 0 ? err_set(e, 500, "internal", "out of memory") : 0;
}

/* Builds the walker from F's first rows (see the top). Whatever fails on
 * the way (the model's JSON form, memory, XGBoost's own prediction) leaves
 * the model to XGBoost, whose path then answers or reports the error. */
static void walker_try(ml_model_t *m, const float *F, size_t n)
{
    m->walker_state = -1;
    size_t groups = m->task == TASK_MULTICLASS ? m->k : 1;
    treeshap_t *w = NULL;
    err_t e;
    err_clear(&e);
    if (treeshap_walker_build(m->booster, m->plan.linear ? enc_linear_width(&m->plan) : m->plan.n,
                              groups, &w, &e) != 0)
        return;
    size_t k = n < WALK_PROBE_ROWS ? n : WALK_PROBE_ROWS, np = k + 1;
    float *X = malloc(np * m->plan.n * sizeof(*X) + 1), *theirs = NULL, *ours = NULL;
    if (X != NULL) {
        memcpy(X, F, k * m->plan.n * sizeof(*X));
        for (size_t j = 0; j < m->plan.n; j++)
            X[k * m->plan.n + j] = NAN;
    }
    if (X != NULL && threads_for(m, np, &e) == 0 &&
        scoring_predict(&m->plan, m->booster, m->linpart, m->task, m->k, X, np, &theirs, &e) ==
            0 &&
        scoring_predict_walked(&m->plan, w, m->linpart, m->task, m->k, X, np, &ours, &e) == 0 &&
        memcmp(theirs, ours, np * ml_model_outputs(m) * sizeof(float)) == 0) {
        m->walker = w;
        m->walker_state = 1;
        w = NULL;
    }
    treeshap_free(w);
    free(X);
    free(theirs);
    free(ours);
}

int ml_model_walks(const ml_model_t *m)
{
    return m->walker_state;
}

int ml_model_predict_values(ml_model_t *m, const float *F, size_t n, float **out, err_t *e)
{
    *out = NULL;
    if (batch_bounds(m, n, 0, e) < 0)
        return -1;
    if (n == 0)
        return 0;
    if (n <= WALK_ROWS && m->walker_state == 0)
        walker_try(m, F, n);
    if (n <= WALK_ROWS && m->walker != NULL)
        return scoring_predict_walked(&m->plan, m->walker, m->linpart, m->task, m->k, F, n, out,
                                      e);
    return threads_for(m, n, e) < 0 ||
                   scoring_predict(&m->plan, m->booster, m->linpart, m->task, m->k, F, n, out,
                                   e) < 0
               ? -1
               : 0;
}

size_t ml_model_outputs(const ml_model_t *m)
{
    return m->task == TASK_REGRESSION ? 1 : m->k;
}

int ml_model_predict_matrix_text(ml_model_t *m, const float *F, size_t n, textbuf_t *out,
                                 err_t *e)
{
    float *pr = NULL;
    if (ml_model_predict_values(m, F, n, &pr, e) < 0)
        return -1;
    int rc = write_predictions(m, pr, n, out, e);
    free(pr);
    return rc;
}

/* --- CSV records read straight into field rows --------------------------- */

rowcsv_map_t *ml_model_csv_map(const ml_model_t *m, char *const *names, size_t n)
{
    return rowcsv_map_new(&m->plan, m->keys, names, n);
}

/* The predictions of n field rows F already within batch_bounds. */
static int predict_fields(ml_model_t *m, const float *F, size_t n, int explain,
                          json_object **out, err_t *e)
{
    size_t groups = m->task == TASK_MULTICLASS ? m->k : 1;
    json_object *res = json_object_new_array();
    if (n == 0) {
        *out = res;
        return 0;
    }
    float *pr = NULL;
    if (ml_model_predict_values(m, F, n, &pr, e) < 0) {
        json_object_put(res);
        return -1;
    }
    float *ct = NULL;
    if (explain && (contrib_fields(&m->plan, m->booster, groups, &m->contrib, F, n, &ct, e) < 0 ||
                    (m->linpart && linpart_add_contrib(m->linpart, F, n, ct) < 0 &&
                     err_set(e, 500, "internal", "out of memory") < 0))) {
        free(pr);
        free(ct);
        json_object_put(res);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        if (m->task == TASK_REGRESSION) {
            json_object_object_add(o, m->target, prediction_number(pr[i]));
        } else {
            const float *row = pr + i * m->k;
            json_object_object_add(o, m->target,
                                   json_object_new_string(m->classes[ml_model_best_class(m, row)]));
            for (size_t c = 0; c < m->k; c++)
                json_object_object_add(o, m->prob_keys[c], prediction_number(row[c]));
        }
        if (ct != NULL)
            json_object_object_add(o, "explanation", explain_row(m, ct, groups, i));
        json_object_array_add(res, o);
    }
    free(ct);
    free(pr);
    *out = res;
    return 0;
}
