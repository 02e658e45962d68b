/*
 * textbuf.h — a growing text buffer for the model JSON the engine writes
 * (ml/ensemble.c's merged blend). Appends never fail loudly: the first
 * allocation failure sets oom and every later append is a no-op, so a
 * writer checks once at the end. p is always
 * NUL-terminated once anything was added; the owner frees p.
 */
#ifndef TRAINYARD_ML_TEXTBUF_H
#define TRAINYARD_ML_TEXTBUF_H

#include <stddef.h>

#include <json-c/json.h>

typedef struct textbuf {
    char *p;
    size_t n, cap;
    int oom;
} textbuf_t;

/* Appends n bytes of s; -1 when out of memory (now or before). */
int tb_addn(textbuf_t *b, const char *s, size_t n);
/* Appends printf-formatted text; -1 when out of memory. */
int tb_printf(textbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends o as compact JSON (no escaped slashes); -1 when out of memory. */
int tb_json(textbuf_t *b, json_object *o);

#endif
