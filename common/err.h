/*
 * err.h — the one error type.
 *
 * Every function that can fail returns int (0 on success, -1 on failure) and
 * fills an err_t. An err_t carries an HTTP status and one or more items, each
 * naming the field at fault, a machine code and a human message. Handlers
 * never format error JSON: each API dialect renders an err_t in its own shape
 * (fcgi/reply.c).
 *
 * Field paths are JSON Pointer-like, '/'-separated, with the location first:
 * "body/predict_fields/0", "query/name", "path/task_id". Segment text is
 * escaped as in RFC 6901 ("~1" for '/', "~0" for '~') because dataset column
 * names may contain '/'. Use err_path_append() to build them.
 *
 * Codes follow pydantic v2's error types where one fits ("missing",
 * "int_parsing", "literal_error", "json_invalid", ...) because the Akkio
 * dialect shows them verbatim; the workspace dialect has its own upper-case
 * codes ("JOB_NOT_FOUND"), which callers pass explicitly.
 */
#ifndef TRAINYARD_ERR_H
#define TRAINYARD_ERR_H

#include <stddef.h>

#define ERR_MAX_ITEMS 16
#define ERR_FIELD_MAX 160
#define ERR_CODE_MAX 48
#define ERR_MESSAGE_MAX 400

typedef struct err_item {
    char field[ERR_FIELD_MAX];     /* path as described above, "" if none */
    char code[ERR_CODE_MAX];       /* machine-readable type */
    char message[ERR_MESSAGE_MAX]; /* short, human, no trailing period */
} err_item_t;

typedef struct err {
    int status;                    /* HTTP status; 0 while no error */
    int count;                     /* items used (at most ERR_MAX_ITEMS) */
    int dropped;                   /* items that did not fit */
    char retry_after[16];          /* Retry-After header value, "" if none */
    err_item_t items[ERR_MAX_ITEMS];
} err_t;

/* Clears e to "no error". */
void err_clear(err_t *e);

/* Adds an item. The first call decides e->status (later calls keep it unless
 * it is still 0). Returns -1 so that callers can write `return err_add(...)`. */
int err_add(err_t *e, int status, const char *code, const char *field,
            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Convenience for the common single-item error without a field. */
int err_set(err_t *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes every item's message with "context: " (for errors crossing a
 * module boundary, e.g. "dataset upload: line 7: ragged row"). */
void err_wrap(err_t *e, const char *context);

/* Appends one escaped segment to a path held in buf (size n). */
void err_path_append(char *buf, size_t n, const char *segment);

/* Appends an integer segment. */
void err_path_append_index(char *buf, size_t n, long index);

/* Splits a path into its unescaped segments, calling fn for each one. */
void err_path_each(const char *path, void (*fn)(const char *seg, void *ctx),
                   void *ctx);

/* The first item's message, or "" when e holds no error. */
const char *err_message(const err_t *e);

#endif
