/*
 * arena.h — region allocator with lifespans.
 *
 * One arena per request (and one per trainer job): everything a request
 * allocates comes from it and is released at once by arena_reset(). Objects
 * owned by foreign libraries (PGresult, json_object, xmlDoc, archive) are not
 * freed piece by piece either: register a cleanup with arena_defer() and it
 * runs, newest first, when the arena is reset or destroyed.
 *
 * Allocation failure aborts the process: a prefork worker that cannot get
 * memory is respawned by its master, which is safer than threading NULL
 * checks through every handler.
 */
#ifndef TRAINYARD_ARENA_H
#define TRAINYARD_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena_t;

typedef void (*arena_cleanup_fn)(void *ptr);

/* Creates an arena whose first block holds about first_block bytes. */
arena_t *arena_create(size_t first_block);

/* Runs the cleanups and frees every block; the arena pointer is invalid after. */
void arena_destroy(arena_t *a);

/* Runs the cleanups and forgets every allocation, keeping the first block for
 * reuse so that a steady request loop does not go back to malloc. */
void arena_reset(arena_t *a);

/* Returns n bytes aligned for any type; never NULL. */
void *arena_alloc(arena_t *a, size_t n);

/* Same as arena_alloc, zero-filled. */
void *arena_calloc(arena_t *a, size_t count, size_t size);

char *arena_strdup(arena_t *a, const char *s);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_sprintf(arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vsprintf(arena_t *a, const char *fmt, va_list ap);

/* Registers fn(ptr) to run when the arena is next reset or destroyed.
 * Cleanups run in reverse order of registration. A NULL ptr is ignored. */
void arena_defer(arena_t *a, arena_cleanup_fn fn, void *ptr);

/* Bytes currently handed out (for tests and memory figures). */
size_t arena_used(const arena_t *a);

#endif
