/*
 * dict.h — string interning for categorical columns: text -> dense id.
 *
 * One open-addressing hash table over an append-only byte pool. Ids are
 * dense (0, 1, 2, ... in order of first sight) and stable; each entry keeps
 * a count and a flag. Used per column while parsing, so interning a cell
 * allocates only when a new level appears.
 */
#ifndef TRAINYARD_ML_DICT_H
#define TRAINYARD_ML_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dict_entry {
    uint64_t off;             /* text offset in the pool */
    uint32_t len;
    uint32_t hash;
    uint64_t count;           /* times interned */
    int flag;                 /* caller's marker (e.g. "text was numeric") */
} dict_entry_t;

typedef struct dict {
    dict_entry_t *e;          /* entries by id */
    size_t n, cap;
    uint32_t *slots;          /* id + 1, 0 = empty */
    size_t n_slots;           /* power of two */
    char *pool;
    size_t pool_len, pool_cap;
} dict_t;

/* A 64-bit hash of the text, eight bytes at a time, with its bits well
 * mixed: the table takes its low half, the distinct-count sketch (column.c)
 * its top bits, so a cell is hashed once for both. */
uint64_t dict_hash(const char *p, size_t n);

void dict_init(dict_t *d);
void dict_free(dict_t *d);
/* Returns the id of the text (adding it with flag if new; count += 1), or
 * -1 when out of memory. */
long dict_intern(dict_t *d, const char *p, size_t n, int flag);
/* Id of the text, or -1 if absent. Does not count. */
long dict_find(const dict_t *d, const char *p, size_t n);
/* The same two, given h = dict_hash(p, n). */
long dict_intern_hashed(dict_t *d, const char *p, size_t n, uint64_t h, int flag);
long dict_find_hashed(const dict_t *d, const char *p, size_t n, uint64_t h);
static inline const char *dict_text(const dict_t *d, size_t id) { return d->pool + d->e[id].off; }

#endif
