/*
 * fuzz_util.h — small helpers shared by the libFuzzer targets.
 *
 * Streaming parsers must give the same answer however their input is cut,
 * so several targets feed the same bytes twice: whole, and in chunks whose
 * sizes come from a tiny generator seeded by the input's first bytes (the
 * fuzzer then explores cut points as well as content). A target aborts on
 * any broken invariant, which libFuzzer reports as a crash with the input.
 */
#ifndef TRAINYARD_FUZZ_UTIL_H
#define TRAINYARD_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Chunk sizes from a 16-bit seed: mostly 1..16 bytes, now and then up to 4 KiB. */
typedef struct fuzz_chunker {
    uint32_t state;
} fuzz_chunker_t;

static inline size_t fuzz_chunk_next(fuzz_chunker_t *c, size_t left)
{
    c->state = c->state * 1103515245u + 12345u;
    uint32_t r = c->state >> 16;
    size_t n = (r & 7) == 0 ? (size_t)(r % 4096) + 1 : (size_t)(r % 16) + 1;
    return n < left ? n : left;
}

/* Aborts with a message: libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz invariant broken: %s: ", #cond);             \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* An error must say something, with a 4xx/5xx status. */
static inline void fuzz_check_err(const err_t *e, const char *where)
{
    FUZZ_CHECK(e->status >= 400 && e->status < 600, "%s: status %d", where, e->status);
    FUZZ_CHECK(e->count >= 1 && e->count <= ERR_MAX_ITEMS, "%s: %d items", where, e->count);
    for (int i = 0; i < e->count; i++) {
        FUZZ_CHECK(memchr(e->items[i].message, '\0', ERR_MESSAGE_MAX) != NULL, "%s", where);
        FUZZ_CHECK(e->items[i].code[0] != '\0', "%s: empty code", where);
    }
}

/* A growable byte log for comparing two runs. */
typedef struct fuzz_log {
    unsigned char *buf;
    size_t len, cap;
} fuzz_log_t;

static inline void fuzz_log_put(fuzz_log_t *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        size_t cap = (l->len + n) * 2 + 64;
        unsigned char *b = realloc(l->buf, cap);
        if (b == NULL)
            abort();
        l->buf = b;
        l->cap = cap;
    }
    if (n > 0)
        memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static inline void fuzz_log_str(fuzz_log_t *l, const char *s)
{
    if (s == NULL)
        s = "(null)";
    fuzz_log_put(l, s, strlen(s) + 1);
}

static inline int fuzz_log_eq(const fuzz_log_t *a, const fuzz_log_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static inline void fuzz_log_free(fuzz_log_t *l)
{
    free(l->buf);
    l->buf = NULL;
    l->len = l->cap = 0;
}

/* Nesting depth (a scalar is 0) and number of keys + items of a tree. */
#include <json-c/json.h>
static inline int fuzz_tree_measure(json_object *o, long *fields)
{
    int depth = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v) {
            (void)k;
            (*fields)++;
            int d = fuzz_tree_measure(v, fields);
            depth = d > depth ? d : depth;
        }
        return depth + 1;
    }
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            (*fields)++;
            int d = fuzz_tree_measure(json_object_array_get_idx(o, i), fields);
            depth = d > depth ? d : depth;
        }
        return depth + 1;
    }
    return 0;
}

#endif
