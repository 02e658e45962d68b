/*
 * task.c — task detection and target labels (see task.h).
 *
 * Class order: numbers ascending, booleans false before true, texts in
 * byte order; so "0" is class 0 and a model's classes read naturally.
 */
#include "ml/task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/num.h"

void task_info_free(task_info_t *t)
{
    if (t->classes)
        for (size_t i = 0; i < t->k; i++)
            free(t->classes[i]);
    free(t->classes);
    free(t->rows);
    free(t->y);
    memset(t, 0, sizeof(*t));
}

typedef struct text_ref {
    const char *s;
    size_t id;
    int b;
} text_ref_t;

static int cmp_text(const void *a, const void *b)
{
    const text_ref_t *x = a, *y = b;
    if (x->b != y->b)
        return x->b - y->b;
    return strcmp(x->s, y->s);
}

static int alloc_rows(task_info_t *t, size_t n, err_t *e)
{
    t->rows = malloc((n ? n : 1) * sizeof(*t->rows));
    t->y = malloc((n ? n : 1) * sizeof(*t->y));
    if (t->rows == NULL || t->y == NULL)
        return err_set(e, 500, "internal", "out of memory");
    return 0;
}

int task_numeric_rule(const char *field, const float *distinct, size_t nd, int exact,
                      int all_int, const char *override, task_info_t *t, err_t *e)
{
    /* Past TASK_MAX_CLASSES a caller may stop counting: "over 200". */
    const char *over = exact ? "" : "over ";
    int classify;
    if (override && strcmp(override, "regression") == 0) {
        classify = 0;
        snprintf(t->reason, sizeof(t->reason), "regression: set by the spec");
    } else if (override) {
        classify = 1;
        snprintf(t->reason, sizeof(t->reason), "%s: set by the spec", override);
    } else if (all_int && nd <= TASK_MAX_INT_CLASSES) {
        classify = 1;
        snprintf(t->reason, sizeof(t->reason),
                 "numeric field with %zu distinct integer values: treated as class labels", nd);
    } else {
        classify = 0;
        snprintf(t->reason, sizeof(t->reason), "numeric field with %s%zu distinct %svalues: "
                 "regression", over, exact ? nd : (size_t)TASK_MAX_CLASSES,
                 all_int ? "integer " : "");
    }
    if (!classify) {
        if (nd < 2)
            return err_set(e, 400, "training_invalid",
                           "predict field \"%s\" has fewer than 2 distinct values", field);
        t->task = TASK_REGRESSION;
        t->k = 1;
        return 0;
    }
    if (nd > TASK_MAX_CLASSES || nd < 2)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" has %s%zu distinct values: cannot classify", field,
                       over, exact ? nd : (size_t)TASK_MAX_CLASSES);
    t->k = nd;
    t->classes = calloc(nd, sizeof(*t->classes));
    if (t->classes == NULL)
        return err_set(e, 500, "internal", "out of memory");
    for (size_t j = 0; j < nd; j++) {
        char buf[32];
        num_format_float(distinct[j], buf, sizeof(buf));
        if ((t->classes[j] = strdup(buf)) == NULL)
            return err_set(e, 500, "internal", "out of memory");
    }
    /* Until task_finish: not regression. */
    t->task = TASK_MULTICLASS;
    return 0;
}

static int numeric_target(const ml_data_t *d, size_t col, const char *override, task_info_t *t,
                          err_t *e)
{
    const column_t *c = &d->cols[col];
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += !isnan(c->vals[i]);
    if (alloc_rows(t, n, e) < 0)
        return -1;
    float *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (sorted == NULL)
        return err_set(e, 500, "internal", "out of memory");
    size_t m = 0;
    int all_int = 1;
    for (size_t i = 0; i < c->n; i++) {
        float v = c->vals[i];
        if (isnan(v))
            continue;
        t->rows[m] = i;
        t->y[m] = v;
        sorted[m++] = v;
        if (v != floorf(v))
            all_int = 0;
    }
    t->n = m;
    qsort(sorted, m, sizeof(*sorted), num_cmp_float);
    size_t distinct = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || sorted[i] != sorted[i - 1])
            sorted[distinct++] = sorted[i];
    if (task_numeric_rule(d->names[col], sorted, distinct, 1, all_int, override, t, e) < 0) {
        free(sorted);
        return -1;
    }
    if (t->task == TASK_REGRESSION) {
        free(sorted);
        return 0;
    }
    for (size_t i = 0; i < m; i++) {
        float *hit = bsearch(&t->y[i], sorted, distinct, sizeof(*sorted), num_cmp_float);
        t->y[i] = (float)(hit - sorted);
    }
    free(sorted);
    return 0;
}

int task_check_override(const char *override, err_t *e)
{
    if (override && strcmp(override, "binary") != 0 && strcmp(override, "multiclass") != 0 &&
        strcmp(override, "regression") != 0)
        return err_add(e, 400, "literal_error", "task",
                       "task must be binary, multiclass or regression");
    return 0;
}

int task_text_classes(const ml_data_t *d, size_t col, const char *override, task_info_t *t,
                      size_t *map, err_t *e)
{
    csv_type_t type = d->types[col];
    if (override && strcmp(override, "regression") == 0)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" is a %s: regression needs numbers", d->names[col],
                       csv_type_name(type));
    const column_t *c = &d->cols[col];
    if (c->n_overflow > 0 || c->dict.n > TASK_MAX_CLASSES || c->dict.n < 2)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" has %zu distinct values: cannot classify",
                       d->names[col], c->dict.n + (c->n_overflow > 0));
    size_t nd = c->dict.n;
    text_ref_t *refs = malloc(nd * sizeof(*refs));
    t->classes = calloc(nd, sizeof(*t->classes));
    if (refs == NULL || t->classes == NULL) {
        free(refs);
        return err_set(e, 500, "internal", "out of memory");
    }
    for (size_t i = 0; i < nd; i++) {
        refs[i].s = dict_text(&c->dict, i);
        refs[i].id = i;
        refs[i].b = type == CSV_BOOLEAN ? num_bool_word(refs[i].s, strlen(refs[i].s)) : 0;
    }
    qsort(refs, nd, sizeof(*refs), cmp_text);
    t->k = nd;
    for (size_t j = 0; j < nd; j++) {
        map[refs[j].id] = j;
        if ((t->classes[j] = strdup(refs[j].s)) == NULL) {
            free(refs);
            return err_set(e, 500, "internal", "out of memory");
        }
    }
    free(refs);
    t->task = TASK_MULTICLASS;
    snprintf(t->reason, sizeof(t->reason), "%s field with %zu values: %s", csv_type_name(type),
             nd, override ? "set by the spec" : "class labels");
    return 0;
}

int task_finish(const ml_data_t *d, size_t col, const char *override, task_info_t *t, err_t *e)
{
    if (t->task != TASK_REGRESSION || t->k != 1)
        t->task = t->k == 2 ? TASK_BINARY : TASK_MULTICLASS;
    if (override && strcmp(override, "binary") == 0 && t->k != 2)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" has %zu classes: not binary", d->names[col], t->k);
    if (t->n < 2)
        return err_set(e, 400, "training_invalid",
                       "predict field \"%s\" has fewer than 2 rows with a value", d->names[col]);
    return 0;
}

int task_detect(const ml_data_t *d, size_t col, const char *override, task_info_t *t, err_t *e)
{
    memset(t, 0, sizeof(*t));
    if (task_check_override(override, e) < 0)
        return -1;
    if (d->types[col] == CSV_NUMBER) {
        if (numeric_target(d, col, override, t, e) < 0)
            return -1;
        return task_finish(d, col, override, t, e);
    }
    const column_t *c = &d->cols[col];
    size_t *map = malloc((c->dict.n + 1) * sizeof(*map));
    if (map == NULL)
        return err_set(e, 500, "internal", "out of memory");
    if (task_text_classes(d, col, override, t, map, e) < 0 ||
        alloc_rows(t, c->n - c->n_missing, e) < 0) {
        free(map);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        uint32_t code = column_code(c, i);
        if (code == COL_MISSING)
            continue;
        t->rows[t->n] = i;
        t->y[t->n++] = (float)map[code];
    }
    free(map);
    return task_finish(d, col, override, t, e);
}
