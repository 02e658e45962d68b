/*
 * fuzz_strapi_query.c — Strapi v3's list parameters (handlers/strapi_query.c)
 * on arbitrary bytes.
 *
 * The input is read as a raw query string: '&' separates parameters, the
 * first '=' a name from its value (no percent-decoding; the runtime does
 * that before the parser sees a name). Whatever comes in, the parser either
 * fails with a 400 or yields a tree within its caps: conditions, nesting,
 * values per condition, sort keys, and every condition with a field, an
 * operator and its values.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "handlers/strapi_query.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(const training_node_t *n, int depth, int *conds)
{
    FUZZ_CHECK(depth <= 2 * STRAPI_MAX_DEPTH + 4, "depth %d", depth);
    if (n->kind == TRAINING_COND) {
        (*conds)++;
        FUZZ_CHECK(n->field != NULL && n->op != NULL && n->param != NULL, "bare condition");
        FUZZ_CHECK(n->n_values >= 0 && n->n_values <= STRAPI_MAX_VALUES, "%d values",
                   n->n_values);
        FUZZ_CHECK(n->first == NULL, "condition with children");
        for (int i = 0; i < n->n_values; i++)
            FUZZ_CHECK(n->values[i] != NULL, "null value");
        return depth;
    }
    int deepest = depth;
    for (const training_node_t *k = n->first; k != NULL; k = k->next) {
        int d = walk(k, depth + 1, conds);
        if (d > deepest)
            deepest = d;
    }
    return deepest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    arena_t *a = arena_create(0);
    char *qs = arena_strndup(a, (const char *)data, size);
    strapi_query_t sq;
    strapi_query_init(&sq, a);
    err_t e;
    err_clear(&e);
    int rc = 0;
    char *save = NULL;
    for (char *pair = strtok_r(qs, "&", &save); pair != NULL && rc == 0;
         pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        const char *value = "";
        if (eq != NULL) {
            *eq = '\0';
            value = eq + 1;
        }
        rc = strapi_query_add(&sq, pair, value, &e);
    }
    training_query_t q;
    if (rc != 0) {
        fuzz_check_err(&e, "add");
        FUZZ_CHECK(e.status == 400, "status %d", e.status);
    } else if (strapi_query_finish(&sq, &q, &e) != 0) {
        fuzz_check_err(&e, "finish");
        FUZZ_CHECK(e.status == 400, "status %d", e.status);
    } else {
        FUZZ_CHECK(q.n_sorts >= 0 && q.n_sorts <= TRAINING_SORT_MAX, "%d sorts", q.n_sorts);
        for (int i = 0; i < q.n_sorts; i++)
            FUZZ_CHECK(q.sorts[i].field != NULL && q.sorts[i].field[0] != '\0', "empty sort");
        FUZZ_CHECK(q.limit >= -1 && q.start >= 0, "limit %d start %d", q.limit, q.start);
        int conds = 0;
        if (q.where != NULL)
            walk(q.where, 0, &conds);
        FUZZ_CHECK(conds <= STRAPI_MAX_CONDS, "%d conditions", conds);
    }
    arena_destroy(a);
    return 0;
}
