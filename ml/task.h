/*
 * task.h — what to learn for a predict field: binary, multiclass or
 * regression, why, and the target's labels per row.
 *
 * Rules: a boolean, category or string target is a class label (2 classes:
 * binary); a numeric target is a class label when it holds at most
 * TASK_MAX_INT_CLASSES distinct integer values (0/1, the digits 0-9), else
 * regression. The spec's "task" overrides, within reason (no regression
 * on text). Rows whose target is missing are left out.
 */
#ifndef TRAINYARD_ML_TASK_H
#define TRAINYARD_ML_TASK_H

#include <stddef.h>

#include "common/err.h"
#include "ml/data.h"
#include "ml/scoring.h"

#define TASK_MAX_INT_CLASSES 10
#define TASK_MAX_CLASSES 200

typedef struct task_info {
    ml_task_t task;
    size_t k;                  /* classes (1 for regression) */
    char **classes;            /* class names, index order (malloc'd) */
    char reason[200];
    size_t *rows;              /* dataset rows with a target value */
    float *y;                  /* per kept row: class index or value */
    size_t n;
} task_info_t;

/* override: NULL or "binary" | "multiclass" | "regression". */
int task_detect(const ml_data_t *d, size_t col, const char *override, task_info_t *t, err_t *e);
void task_info_free(task_info_t *t);

/* task_detect's rules in parts, for a target read from pages on disk
 * (ml/extmem.c), which finds its distinct values and counts itself:
 * - task_check_override: the spec's "task" value;
 * - task_numeric_rule: classes or regression from the sorted distinct
 *   values (nd of them; !exact: counting stopped past TASK_MAX_CLASSES);
 * - task_text_classes: a text target's classes in order, map[dict id] =
 *   class (c->dict.n entries);
 * - task_finish: binary or multiclass, and the checks on t->n rows.
 * Each sets t->reason and errors as task_detect does. */
int task_check_override(const char *override, err_t *e);
int task_numeric_rule(const char *field, const float *distinct, size_t nd, int exact,
                      int all_int, const char *override, task_info_t *t, err_t *e);
int task_text_classes(const ml_data_t *d, size_t col, const char *override, task_info_t *t,
                      size_t *map, err_t *e);
int task_finish(const ml_data_t *d, size_t col, const char *override, task_info_t *t, err_t *e);

#endif
