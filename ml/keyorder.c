/*
 * keyorder.c — name lookup by key position, then by hash (keyorder.h).
 */
#include "ml/keyorder.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/linkhash.h>

/* Key positions remembered: rows wider than this look the rest up. */
#define KEYORDER_POSITIONS 1024

struct keyorder {
    const char **names;         /* the array owned, the strings borrowed */
    size_t *lens;               /* strlen of each name */
    struct lh_table *index;     /* name -> its index + 1 (names borrowed) */
    uint32_t last[KEYORDER_POSITIONS]; /* name index + 1 at each position, 0 = none */
};

keyorder_t *keyorder_new(const char *const *names, size_t n)
{
    keyorder_t *ko = calloc(1, sizeof(*ko));
    if (ko == NULL || n > UINT32_MAX - 1)
        goto fail;
    ko->names = malloc((n + 1) * sizeof(*ko->names));
    if (ko->names == NULL)
        goto fail;
    memcpy(ko->names, names, n * sizeof(*names));
    ko->lens = malloc((n + 1) * sizeof(*ko->lens));
    if (ko->lens == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++)
        ko->lens[i] = strlen(names[i]);
    ko->index = lh_kchar_table_new(n < 16 ? 16 : (int)(n * 2), NULL);
    if (ko->index == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (lh_table_lookup_entry(ko->index, names[i]) == NULL &&
            lh_table_insert(ko->index, names[i], (const void *)(uintptr_t)(i + 1)) != 0)
            goto fail;
    return ko;
fail:
    keyorder_free(ko);
    return NULL;
}

void keyorder_free(keyorder_t *ko)
{
    if (ko == NULL)
        return;
    if (ko->index != NULL)
        lh_table_free(ko->index);
    free(ko->names);
    free(ko->lens);
    free(ko);
}

long keyorder_find_n(keyorder_t *ko, size_t k, const char *key, size_t n)
{
    if (k < KEYORDER_POSITIONS && ko->last[k] != 0) {
        size_t i = ko->last[k] - 1;
        if (ko->lens[i] == n && memcmp(ko->names[i], key, n) == 0)
            return (long)i;
    }
    char small[256];
    char *z = n < sizeof(small) ? small : malloc(n + 1);
    if (z == NULL || memchr(key, '\0', n) != NULL) {
        if (z != small)
            free(z);
        return -1;
    }
    memcpy(z, key, n);
    z[n] = '\0';
    long j = keyorder_find(ko, k, z);
    if (z != small)
        free(z);
    return j;
}

long keyorder_find(keyorder_t *ko, size_t k, const char *key)
{
    int remembered = k < KEYORDER_POSITIONS;
    if (remembered && ko->last[k] != 0 && strcmp(ko->names[ko->last[k] - 1], key) == 0)
        return (long)ko->last[k] - 1;
    struct lh_entry *en = lh_table_lookup_entry(ko->index, key);
    uint32_t idx = en == NULL ? 0 : (uint32_t)(uintptr_t)lh_entry_v(en);
    if (remembered)
        ko->last[k] = idx;
    return (long)idx - 1;
}
