/*
 * bodyscan.h — a body's shape counted as its bytes arrive, before any
 * parser builds a tree.
 *
 * json-c and libxml2 build the whole tree before anyone can count it: a
 * 32 MB array of zeros became a 1 GB tree in a worker. The dispatcher feeds
 * every chunk it reads through a bodyscan first, which counts fields (JSON:
 * object members and array items, as body_decode_json counts them; XML:
 * element start tags; form: name-value pairs) and nesting depth, and stops
 * the request at the route's limits while the body is still bytes.
 *
 * It also picks out one top-level member without building anything (Akkio
 * v1's api_key, in a JSON object or a form body), so that a request whose
 * key travels in its body is authenticated before that body is decoded.
 * The scanner never judges syntax: the decoder does that afterwards. It
 * holds no pointers into the chunks, so chunks may be reused at once.
 */
#ifndef TRAINYARD_BODYSCAN_H
#define TRAINYARD_BODYSCAN_H

#include <stddef.h>

#include "fcgi/body.h"

#define BODYSCAN_MAX_DEPTH 64
#define BODYSCAN_NAME_MAX 32
#define BODYSCAN_VALUE_MAX 256

typedef enum bodyscan_problem {
    BODYSCAN_OK = 0,
    BODYSCAN_TOO_DEEP,  /* nesting past the limit */
    BODYSCAN_TOO_MANY   /* fields past the limit */
} bodyscan_problem_t;

typedef struct bodyscan {
    body_format_t format;      /* BODY_FORM switches to BODY_JSON on a leading '{' */
    int started;               /* a non-blank byte has been seen */
    int max_depth;
    long max_fields;
    int depth;
    long fields;
    bodyscan_problem_t problem;
    char want[BODYSCAN_NAME_MAX]; /* member to pick out, "" for none */

    /* JSON */
    unsigned char stack[BODYSCAN_MAX_DEPTH]; /* '{' or '[' per open level */
    int in_string, escape, first_pending;
    int member_state;          /* at depth 1 of an object: 0 key next, 1 in key,
                                  2 colon next, 3 value next, 4 in value */
    /* XML */
    int after_lt;

    /* the member being read (JSON key/value at depth 1; form pair) */
    char name[BODYSCAN_NAME_MAX];
    size_t name_len;
    int name_long;             /* longer than the buffer: cannot match */
    int capturing;             /* the current value belongs to `want` */
    char value[BODYSCAN_VALUE_MAX];
    size_t value_len;
    int value_bad;             /* too long, escaped beyond \\ \" \/ or not a string */
    int form_in_value;         /* form: after '=' */
    int pct;                   /* form: hex digits of a %XX still to come */
    int pct_val;

    char found[BODYSCAN_VALUE_MAX]; /* the last complete value of `want` */
    int has_found;
} bodyscan_t;

/* Starts a scan of a body in format f under lim's depth and field caps.
 * want names a top-level member to pick out (JSON and form only), or NULL. */
void bodyscan_init(bodyscan_t *s, body_format_t f, const body_limits_t *lim, const char *want);

/* Feeds the next n bytes. Returns 0, or -1 once a limit is passed
 * (s->problem says which; later calls keep returning -1). */
int bodyscan_feed(bodyscan_t *s, const char *buf, size_t n);

/* Call after the last chunk: completes a form pair that ends the body. */
void bodyscan_finish(bodyscan_t *s);

/* The wanted member's value (a JSON string or a form value), NULL if the
 * body had none (or the last one was not a plain string). */
const char *bodyscan_found(const bodyscan_t *s);

/* Fills e with the 413 that describes s->problem. Returns -1. */
int bodyscan_error(const bodyscan_t *s, err_t *e);

#endif
