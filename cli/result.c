/*
 * result.c — training results as text (see result.h).
 *
 * Reads the result document's "models" (one entry per predicted field,
 * with its candidates and validation metrics) and Akkio's "stats" (one
 * list per field, a row per class, or the regression errors), and prints
 * whatever of them is present: an older server's document without
 * "models" still shows its stats and importance.
 */
#include "cli/result.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "cli/table.h"

/* A number member with the given decimals, or its text, or "". */
static const char *result_num(json_object *o, const char *key, int decimals, char *buf,
                              size_t n)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return "";
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
        double d = json_object_get_double(v);
        if (isnan(d))
            return "";
        snprintf(buf, n, "%.*f", decimals, d);
        return buf;
    }
    return json_object_get_string(v);
}

/* The hyperparameters that tell candidates apart, compactly. */
static void result_params(json_object *params, char *buf, size_t n)
{
    static const char *const keys[] = {"booster", "eta", "max_depth", "lambda", "alpha",
                                       "subsample"};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && used + 1 < n; i++) {
        json_object *v;
        if (!json_object_object_get_ex(params, keys[i], &v) || v == NULL)
            continue;
        char val[32];
        if (json_object_is_type(v, json_type_double))
            snprintf(val, sizeof(val), "%.3g", json_object_get_double(v));
        else
            snprintf(val, sizeof(val), "%s", json_object_get_string(v));
        int k = snprintf(buf + used, n - used, "%s%s=%s", used ? " " : "", keys[i], val);
        used += k > 0 ? (size_t)k : 0;
    }
}

static void result_leaderboard(FILE *out, json_object *m, size_t top)
{
    json_object *cands;
    if (!json_object_object_get_ex(m, "candidates", &cands) ||
        !json_object_is_type(cands, json_type_array))
        return;
    const char *chosen = cli_json_str(m, "model");
    double chosen_value = json_object_get_double(json_object_object_get(m, "value"));
    static const char *const head[] = {"", "rank", "family", "metric", "value", "trees",
                                       "seconds", "parameters"};
    cli_table_t *t = cli_table_new(8, head);
    size_t n = json_object_array_length(cands);
    int marked = 0, blend = 0;
    for (size_t i = 0; t != NULL && i < n; i++) {
        json_object *c = json_object_array_get_idx(cands, i), *params = NULL;
        char rank[16], value[32], trees[16], secs[16], p[256];
        json_object_object_get_ex(c, "params", &params);
        result_params(params, p, sizeof(p));
        /* The server flags the chosen candidate; a blend flags none and
         * gives its members a weight. Documents from before the flag: the
         * chosen model is the best candidate of its family (refit on all
         * rows), found by family and value. */
        json_object *flag = NULL, *weight = NULL;
        int is_chosen = json_object_object_get_ex(c, "chosen", &flag)
                            ? json_object_get_boolean(flag)
                            : !marked && strcmp(cli_json_str(c, "model"), chosen) == 0 &&
                                  fabs(json_object_get_double(json_object_object_get(c, "value")) -
                                       chosen_value) < 1e-9;
        int in_blend = json_object_object_get_ex(c, "blend_weight", &weight);
        blend |= in_blend;
        marked |= is_chosen;
        /* Past the top rows only the chosen one (or the blend's members)
         * is shown, so that it is always on the board. */
        if (top != 0 && i >= top && !is_chosen && !in_blend)
            continue;
        const char *row[] = {is_chosen ? "*" : in_blend ? "+" : "",
                             result_num(c, "rank", 0, rank, sizeof(rank)),
                             cli_json_str(c, "model"), cli_json_str(c, "metric"),
                             result_num(c, "value", 4, value, sizeof(value)),
                             result_num(c, "trees", 0, trees, sizeof(trees)),
                             result_num(c, "seconds", 2, secs, sizeof(secs)), p};
        cli_table_add(t, row);
    }
    if (t != NULL) {
        fprintf(out, "\nleaderboard (%zu candidates%s; %s)\n", n,
                top && n > top ? ", best shown" : "",
                blend ? "+ = in the chosen blend" : "* = chosen");
        cli_table_print(t, out);
    }
    cli_table_free(t);
}

static void result_metrics(FILE *out, json_object *m)
{
    json_object *vm;
    if (!json_object_object_get_ex(m, "validation_metrics", &vm) ||
        !json_object_is_type(vm, json_type_object))
        return;
    static const char *const head[] = {"metric", "value"};
    cli_table_t *t = cli_table_new(2, head);
    json_object_object_foreach(vm, key, val) {
        if (strcmp(key, "metric") == 0 || strcmp(key, "value") == 0 || t == NULL)
            continue;
        char buf[32];
        const char *text = json_object_is_type(val, json_type_double)
                               ? (snprintf(buf, sizeof(buf), "%.4f", json_object_get_double(val)), buf)
                               : json_object_get_string(val);
        const char *row[] = {key, text};
        cli_table_add(t, row);
    }
    if (t != NULL) {
        fprintf(out, "\nvalidation metrics (%s)\n", cli_json_str(m, "validation"));
        cli_table_print(t, out);
    }
    cli_table_free(t);
}

/* Akkio's stats for one field: rows per class, or regression errors. */
static void result_stats(FILE *out, json_object *field_stats)
{
    size_t n = json_object_array_length(field_stats);
    if (n == 0)
        return;
    json_object *first = json_object_array_get_idx(field_stats, 0), *v;
    if (json_object_object_get_ex(first, "class_name", &v)) {
        static const char *const head[] = {"class", "count", "precision", "recall", "f1",
                                           "frequency"};
        cli_table_t *t = cli_table_new(6, head);
        for (size_t i = 0; t != NULL && i < n; i++) {
            json_object *s = json_object_array_get_idx(field_stats, i);
            char c[24], p[24], r[24], f[24], q[24];
            const char *row[] = {cli_json_str(s, "class_name"),
                                 result_num(s, "count", 0, c, sizeof(c)),
                                 result_num(s, "precision", 3, p, sizeof(p)),
                                 result_num(s, "recall", 3, r, sizeof(r)),
                                 result_num(s, "f1", 3, f, sizeof(f)),
                                 result_num(s, "frequency", 3, q, sizeof(q))};
            cli_table_add(t, row);
        }
        fprintf(out, "\nper class (out-of-sample)\n");
        if (t != NULL)
            cli_table_print(t, out);
        cli_table_free(t);
        return;
    }
    static const char *const head[] = {"statistic", "value"};
    cli_table_t *t = cli_table_new(2, head);
    json_object_object_foreach(first, key, val) {
        if (t == NULL || !(json_object_is_type(val, json_type_double) ||
                           json_object_is_type(val, json_type_int)) ||
            strcmp(key, "field") == 0)
            continue;
        char buf[32];
        snprintf(buf, sizeof(buf), "%.4g", json_object_get_double(val));
        const char *row[] = {key, buf};
        cli_table_add(t, row);
    }
    fprintf(out, "\nstatistics (out-of-sample)\n");
    if (t != NULL)
        cli_table_print(t, out);
    cli_table_free(t);
}

typedef struct result_imp {
    const char *name;
    double value;
} result_imp_t;

static int result_imp_cmp(const void *a, const void *b)
{
    double x = ((const result_imp_t *)a)->value, y = ((const result_imp_t *)b)->value;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void result_importance(FILE *out, json_object *imp)
{
    if (!json_object_is_type(imp, json_type_object) || json_object_object_length(imp) == 0)
        return;
    size_t n = (size_t)json_object_object_length(imp), i = 0;
    result_imp_t *list = calloc(n, sizeof(*list));
    if (list == NULL)
        return;
    json_object_object_foreach(imp, key, val) {
        list[i].name = key;
        list[i++].value = json_object_get_double(val);
    }
    qsort(list, n, sizeof(*list), result_imp_cmp);
    fprintf(out, "\nfield importance\n");
    static const char *const head[] = {"field", "share", ""};
    cli_table_t *t = cli_table_new(3, head);
    for (i = 0; t != NULL && i < n && i < 10; i++) {
        char share[16], bar[32];
        snprintf(share, sizeof(share), "%.1f%%", list[i].value * 100.0);
        int len = (int)(list[i].value / (list[0].value > 0 ? list[0].value : 1) * 20 + 0.5);
        memset(bar, '#', (size_t)(len > 20 ? 20 : len < 0 ? 0 : len));
        bar[len > 20 ? 20 : len < 0 ? 0 : len] = '\0';
        const char *row[] = {list[i].name, share, bar};
        cli_table_add(t, row);
    }
    if (t != NULL)
        cli_table_print(t, out);
    if (n > 10)
        fprintf(out, "(%zu more)\n", n - 10);
    cli_table_free(t);
    free(list);
}

void cli_result_print(FILE *out, json_object *doc, size_t top)
{
    json_object *models = NULL, *stats = NULL, *imp = NULL;
    json_object_object_get_ex(doc, "models", &models);
    json_object_object_get_ex(doc, "stats", &stats);
    json_object_object_get_ex(doc, "field_importance", &imp);
    fprintf(out, "model_id  %s\n", cli_json_str(doc, "model_id"));
    size_t nm = json_object_is_type(models, json_type_array) ? json_object_array_length(models) : 0;
    for (size_t i = 0; i < nm; i++) {
        json_object *m = json_object_array_get_idx(models, i), *mimp = NULL;
        char v[32];
        fprintf(out, "\n== %s: %s (%s)\n", cli_json_str(m, "predict_field"), cli_json_str(m, "task"),
                cli_json_str(m, "reason"));
        fprintf(out, "chosen: %s, validation %s %s on %s rows\n", cli_json_str(m, "model"),
                cli_json_str(m, "metric"), result_num(m, "value", 4, v, sizeof(v)),
                cli_json_str(m, "rows"));
        result_metrics(out, m);
        result_leaderboard(out, m, top);
        if (json_object_is_type(stats, json_type_array) && i < json_object_array_length(stats))
            result_stats(out, json_object_array_get_idx(stats, i));
        json_object_object_get_ex(m, "field_importance", &mimp);
        result_importance(out, mimp != NULL ? mimp : imp);
    }
    if (nm == 0) {
        for (size_t i = 0; json_object_is_type(stats, json_type_array) &&
                           i < json_object_array_length(stats); i++)
            result_stats(out, json_object_array_get_idx(stats, i));
        result_importance(out, imp);
    }
}
