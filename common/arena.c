/*
 * arena.c — region allocator (see arena.h for the contract).
 *
 * Blocks form a singly linked list, newest first. The first block is kept
 * across resets; later blocks are freed, so a request that once needed a lot
 * of memory does not pin it for the worker's lifetime. Large requests get a
 * block of their own so that they do not waste the tail of the current one.
 */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_MIN_BLOCK 4096

struct arena_block {
    struct arena_block *next; /* older block, or NULL for the first one */
    size_t size;              /* usable bytes in data[] */
    size_t used;              /* bytes handed out from data[] */
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next; /* registered earlier */
    arena_cleanup_fn fn;
    void *ptr;
};

struct arena {
    struct arena_block *head;     /* block allocations come from */
    struct arena_block *first;    /* kept across resets */
    struct arena_cleanup *cleanups; /* newest first */
    size_t used;                  /* sum of handed-out bytes */
};

static void *arena_oom(size_t n)
{
    fprintf(stderr, "trainyard: out of memory allocating %zu bytes\n", n);
    abort();
}

static struct arena_block *arena_block_new(size_t size)
{
    struct arena_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return arena_oom(size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena_t *arena_create(size_t first_block)
{
    arena_t *a = malloc(sizeof(*a));
    if (a == NULL)
        return arena_oom(sizeof(*a));
    if (first_block < ARENA_MIN_BLOCK)
        first_block = ARENA_MIN_BLOCK;
    a->first = a->head = arena_block_new(first_block);
    a->cleanups = NULL;
    a->used = 0;
    return a;
}

static void arena_run_cleanups(arena_t *a)
{
    /* A cleanup may register another one (rare, but harmless): loop until empty. */
    while (a->cleanups != NULL) {
        struct arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->ptr);
    }
}

void arena_reset(arena_t *a)
{
    arena_run_cleanups(a);
    struct arena_block *b = a->head;
    while (b != NULL) {
        struct arena_block *older = b->next;
        if (b != a->first)
            free(b);
        b = older;
    }
    a->head = a->first;
    a->first->used = 0;
    a->first->next = NULL;
    a->used = 0;
}

void arena_destroy(arena_t *a)
{
    if (a == NULL)
        return;
    arena_reset(a);
    free(a->first);
    free(a);
}

void *arena_alloc(arena_t *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        return arena_oom(n);
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_block *b = a->head;
    if (b->size - b->used < rounded) {
        size_t size = a->first->size;
        if (rounded > size / 4) {
            /* A big allocation gets its own block, linked behind the head so
             * that the head's free tail stays usable. */
            struct arena_block *big = arena_block_new(rounded);
            big->used = rounded;
            big->next = b->next;
            b->next = big;
            a->used += rounded;
            return big->data;
        }
        b = arena_block_new(size);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += rounded;
    a->used += rounded;
    return p;
}

void *arena_calloc(arena_t *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return arena_oom(SIZE_MAX);
    void *p = arena_alloc(a, count * size);
    memset(p, 0, count * size);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

char *arena_vsprintf(arena_t *a, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_sprintf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void arena_defer(arena_t *a, arena_cleanup_fn fn, void *ptr)
{
    if (ptr == NULL)
        return;
    struct arena_cleanup *c = arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t arena_used(const arena_t *a)
{
    return a->used;
}
