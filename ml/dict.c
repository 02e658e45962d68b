/*
 * dict.c — string interning (see dict.h). Word-at-a-time hashing, linear probing,
 * table kept at most half full; texts are NUL-terminated in the pool so
 * that callers can hand them to json-c directly.
 */
#include "ml/dict.h"

#include <stdlib.h>
#include <string.h>

uint64_t dict_hash(const char *p, size_t n)
{
    const uint64_t k = 0xff51afd7ed558ccdULL;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    if (i < n) {
        /* The last 1..7 bytes in at most two fixed-size loads: a copy of a
         * variable length is a library call, and most texts are short. */
        uint64_t w;
        if (n >= 8) {
            memcpy(&w, p + n - 8, 8); /* overlaps bytes already mixed: harmless */
        } else if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + n - 4, 4);
            w = (uint64_t)a << 32 | b;
        } else {
            w = (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n / 2] << 8 |
                (unsigned char)p[n - 1];
        }
        h = (h ^ w) * k;
        h ^= h >> 32;
    }
    /* splitmix64's finaliser: every input bit reaches the top bits. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
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

long dict_find_hashed(const dict_t *d, const char *p, size_t n, uint64_t h)
{
    size_t slot;
    return lookup(d, p, n, (uint32_t)h, &slot);
}

long dict_find(const dict_t *d, const char *p, size_t n)
{
    return dict_find_hashed(d, p, n, dict_hash(p, n));
}

long dict_intern(dict_t *d, const char *p, size_t n, int flag)
{
    return dict_intern_hashed(d, p, n, dict_hash(p, n), flag);
}

long dict_intern_hashed(dict_t *d, const char *p, size_t n, uint64_t h64, int flag)
{
    uint32_t h = (uint32_t)h64;
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
