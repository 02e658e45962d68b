/*
 * rowcsv.c — CSV records read straight into field rows (see rowcsv.h).
 */
#include "ml/rowcsv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rowcsv_map {
    const enc_plan_t *plan;
    size_t ncols;
    long *field;               /* per column: the plan's field index, or -1 */
};

rowcsv_map_t *rowcsv_map_new(const enc_plan_t *plan, keyorder_t *keys, char *const *names,
                             size_t n)
{
    rowcsv_map_t *map = calloc(1, sizeof(*map));
    unsigned char *seen = calloc(plan->n + 1, 1);
    if (map == NULL || seen == NULL || (map->field = calloc(n + 1, sizeof(long))) == NULL)
        goto no;
    map->plan = plan;
    map->ncols = n;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        long j = keyorder_find(keys, i, names[i]);
        map->field[i] = j >= 0 && (size_t)j < plan->n ? j : -1;
        if (map->field[i] < 0)
            continue;
        if (seen[j]++)
            goto no;
        found++;
    }
    if (found != plan->n)
        goto no;
    free(seen);
    return map;
no:
    free(seen);
    rowcsv_map_free(map);
    return NULL;
}

void rowcsv_map_free(rowcsv_map_t *map)
{
    if (map == NULL)
        return;
    free(map->field);
    free(map);
}

size_t rowcsv_width(const rowcsv_map_t *map)
{
    return map->plan->n;
}

/* A cell as the general path reads its JSON string: a number or boolean
 * word through enc_value_from_text (as ml/model.c does), a category only
 * when the text is exactly one of its levels (an unseen level or a padded
 * text is the check's to tell of). A NUL inside a cell would end the
 * general path's C string there: not plain either. */
int rowcsv_read(const rowcsv_map_t *map, const csv_cell_t *cells, size_t n, float *x)
{
    if (n != map->ncols)
        return 0;
    for (size_t i = 0; i < n; i++) {
        long j = map->field[i];
        if (j < 0)
            continue;
        const char *p = cells[i].ptr;
        size_t len = cells[i].len;
        if (csv_cell_is_missing(p, len)) {
            x[j] = NAN;
            continue;
        }
        const enc_feature_t *f = &map->plan->f[j];
        if (memchr(p, '\0', len) != NULL || enc_value_from_text(f, p, len, &x[j]) != 0)
            return 0;
        if (f->kind == ENC_CATEGORY &&
            (p[0] == ' ' || p[0] == '\t' || p[len - 1] == ' ' || p[len - 1] == '\t' ||
             !(x[j] < (float)f->n_levels)))
            return 0;
    }
    return 1;
}
