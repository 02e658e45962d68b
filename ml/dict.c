/*
 * dict.c — string interning (see dict.h). FNV-1a hashing, linear probing,
 * table kept at most half full; texts are NUL-terminated in the pool so
 * that callers can hand them to json-c directly.
 */
#include "ml/dict.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

void dict_init(dict_t *d)
{
    memset(d, 0, sizeof(*d));
}

void dict_free(dict_t *d)
{
    free(d->e);
    free(d->slots);
    free(d->pool);
    memset(d, 0, sizeof(*d));
}

static long lookup(const dict_t *d, const char *p, size_t n, uint32_t h, size_t *slot)
{
    if (d->n_slots == 0)
        return -1;
    size_t mask = d->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t s = d->slots[i];
        if (s == 0) {
            *slot = i;
            return -1;
        }
        const dict_entry_t *en = &d->e[s - 1];
        if (en->hash == h && en->len == n && memcmp(d->pool + en->off, p, n) == 0)
            return (long)(s - 1);
    }
}

static int grow_slots(dict_t *d)
{
    size_t ns = d->n_slots ? d->n_slots * 2 : 64;
    uint32_t *sl = calloc(ns, sizeof(*sl));
    if (sl == NULL)
        return -1;
    for (size_t id = 0; id < d->n; id++) {
        size_t i = d->e[id].hash & (ns - 1);
        while (sl[i] != 0)
            i = (i + 1) & (ns - 1);
        sl[i] = (uint32_t)id + 1;
    }
    free(d->slots);
    d->slots = sl;
    d->n_slots = ns;
    return 0;
}

long dict_find(const dict_t *d, const char *p, size_t n)
{
    size_t slot;
    return lookup(d, p, n, hash_bytes(p, n), &slot);
}

long dict_intern(dict_t *d, const char *p, size_t n, int flag)
{
    uint32_t h = hash_bytes(p, n);
    size_t slot = 0;
    long id = lookup(d, p, n, h, &slot);
    if (id >= 0) {
        d->e[id].count++;
        return id;
    }
    if ((d->n + 1) * 2 > d->n_slots) {
        if (grow_slots(d) < 0)
            return -1;
        lookup(d, p, n, h, &slot);
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        dict_entry_t *ne = realloc(d->e, cap * sizeof(*ne));
        if (ne == NULL)
            return -1;
        d->e = ne;
        d->cap = cap;
    }
    if (d->pool_len + n + 1 > d->pool_cap) {
        size_t cap = d->pool_cap ? d->pool_cap * 2 : 256;
        while (cap < d->pool_len + n + 1)
            cap *= 2;
        char *np = realloc(d->pool, cap);
        if (np == NULL)
            return -1;
        d->pool = np;
        d->pool_cap = cap;
    }
    memcpy(d->pool + d->pool_len, p, n);
    d->pool[d->pool_len + n] = '\0';
    d->e[d->n] = (dict_entry_t){.off = d->pool_len, .len = (uint32_t)n, .hash = h, .count = 1,
                                .flag = flag};
    d->pool_len += n + 1;
    d->slots[slot] = (uint32_t)d->n + 1;
    return (long)d->n++;
}
