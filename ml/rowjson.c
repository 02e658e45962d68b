/*
 * rowjson.c — a plain prediction batch read from its JSON text (rowjson.h).
 *
 * A small scanner (the end of this file) walks JSON's grammar and calls the
 * handlers below for each value; they follow the plain shape and give up
 * (return 0, which stops the scan) at the first thing outside it. The
 * scanner is written here rather than taken from a library because it only
 * needs the subset of JSON a plain batch uses and so can stop at anything
 * else, where a general parser (yajl, tried first: 55-90 ms for digits'
 * 11.7 MB, three places more lenient than json-c) reads it all;
 * tests/fuzz/fuzz_rowjson.c holds it to json-c on any input.
 * Each value is converted as the general path converts it: ml/model.c reads
 * json-c's number (an int64 for an integer literal, strtod's double for any
 * other) and stores it as a float; a literal either path could read another
 * way (a negative zero, an integer past 18 digits) is simply not plain.
 */
#include "ml/rowjson.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define NUMBER_MAX 64     /* longer number literals are not plain */

/* Where the parser is in the plain shape. */
typedef enum place {
    AT_START,             /* before the body's object */
    IN_BODY,              /* between its members */
    BODY_STRICT,          /* the value of "strict" is next */
    BODY_EXPLAIN,         /* the value of "explain" is next */
    BODY_DATA,            /* the value of "data" is next */
    IN_DATA,              /* between rows */
    IN_ROW,               /* between a row's members */
    ROW_VALUE,            /* a field's value is next */
    AT_END                /* after the body's object */
} place_t;

typedef struct reader {
    const rowjson_plan_t *p;
    rowjson_rows_t *out;
    size_t cap;           /* rows F has room for */
    place_t at;
    int seen_data;
    int oom;
    long field;           /* ROW_VALUE: the field's index (>= plan->n: not read) */
    size_t key_pos;       /* the next key's position in its row */
    size_t known;         /* plan fields the row named */
    unsigned char *named; /* per field: named in this row */
    float *row;           /* the row's cells in F */
} reader_t;

static int on_null(reader_t *r)
{
    if (r->at != ROW_VALUE)
        return 0; /* "strict": null and "data": null are for the general path */
    r->at = IN_ROW; /* a missing value: the cell stays NaN */
    return 1;
}

static int on_boolean(reader_t *r, int b)
{
    switch (r->at) {
    case BODY_STRICT:
    case BODY_EXPLAIN:
        if ((r->at == BODY_STRICT ? r->out->strict : r->out->explain) >= 0)
            return 0; /* given twice */
        *(r->at == BODY_STRICT ? &r->out->strict : &r->out->explain) = b != 0;
        r->at = IN_BODY;
        return 1;
    case ROW_VALUE:
        if ((size_t)r->field < r->p->plan->n) {
            if (r->p->plan->f[r->field].kind != ENC_BOOLEAN)
                return 0;
            r->row[r->field] = b ? 1.0f : 0.0f;
        }
        r->at = IN_ROW;
        return 1;
    default:
        return 0;
    }
}

/* Powers of ten a double holds exactly. */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The float the general path reads from a number literal, or -1 when the
 * literal is not plain: not in JSON's own form, or not read exactly.
 * json-c reads an integer literal as an int64 and any other with strtod,
 * correctly rounded. A literal of at most 15 significant digits and a
 * decimal exponent within +-22 is that double without strtod: its digits
 * and the power of ten are exact doubles, and one IEEE division or
 * multiplication of exact operands rounds correctly (Clinger's fast path).
 * Others go through strtod itself. */
static int number_value(const char *s, size_t n, float *out)
{
    if (n == 0 || n >= NUMBER_MAX)
        return -1;
    size_t i = s[0] == '-';
    int negative = (int)i;
    if (i == n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' &&
                                                s[i + 1] <= '9'))
        return -1;
    uint64_t digits = 0;
    int count = 0, exp10 = 0, integer = 1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, count++)
        digits = digits * 10 + (uint64_t)(s[i] - '0');
    if (i < n && s[i] == '.') {
        integer = 0;
        if (++i == n || s[i] < '0' || s[i] > '9')
            return -1;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, count++, exp10--)
            digits = digits * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integer = 0;
        int sign = 1, e = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            sign = s[i++] == '-' ? -1 : 1;
        if (i == n || s[i] < '0' || s[i] > '9')
            return -1;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            e = e < 10000 ? e * 10 + (s[i] - '0') : e;
        exp10 += sign * e;
    }
    if (i != n)
        return -1;
    if (integer) {
        if (count > 18 || (negative && digits == 0))
            return -1; /* past an int64's sure range; json-c's "-0" */
        int64_t v = negative ? -(int64_t)digits : (int64_t)digits;
        *out = (float)(double)v;
        return 0;
    }
    double x;
    if (count <= 15 && exp10 >= -22 && exp10 <= 22) {
        x = exp10 < 0 ? (double)digits / POW10[-exp10] : (double)digits * POW10[exp10];
        x = negative ? -x : x;
    } else {
        char buf[NUMBER_MAX];
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *end = NULL;
        errno = 0;
        x = strtod(buf, &end);
        if (errno != 0 || *end != '\0')
            return -1; /* out of range or underflowing: the general path decides */
    }
    if (!isfinite(x) || fabs(x) > 3.0e38)
        return -1;
    *out = (float)x;
    return 0;
}

static int on_number(reader_t *r, const char *s, size_t n)
{
    if (r->at != ROW_VALUE)
        return 0;
    float v;
    if (number_value(s, n, &v) != 0)
        return 0;
    if ((size_t)r->field < r->p->plan->n) {
        if (r->p->plan->f[r->field].kind != ENC_NUMBER)
            return 0;
        r->row[r->field] = v;
    }
    r->at = IN_ROW;
    return 1;
}

/* Text is read as the general path reads it, through enc_value_from_text:
 * a number or a boolean word ("29.85", "no", "" or "NA" for missing) as
 * such, which the input check never tells about. A category's text counts
 * only when it is one of its levels exactly: an unseen level, a missing
 * word or a padded text is the check's to tell about. */
static int on_string(reader_t *r, const unsigned char *s, size_t n)
{
    if (r->at != ROW_VALUE)
        return 0;
    if ((size_t)r->field < r->p->plan->n) {
        const enc_feature_t *f = &r->p->plan->f[r->field];
        float v;
        if (enc_value_from_text(f, (const char *)s, n, &v) != 0)
            return 0; /* not a number or boolean word: the general path's 422 */
        if (f->kind == ENC_CATEGORY &&
            (n == 0 || s[0] <= ' ' || s[n - 1] <= ' ' || !(v < (float)f->n_levels)))
            return 0; /* padded, missing, unseen (NaN or "other"): for the check */
        r->row[r->field] = v;
    }
    r->at = IN_ROW;
    return 1;
}

/* Room for one more row; 0 when the batch passes max_cells. */
static int row_begin(reader_t *r)
{
    size_t p = r->p->plan->n;
    rowjson_rows_t *o = r->out;
    if (p > 0 && o->n + 1 > r->p->max_cells / p)
        return 0;
    if (o->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16; /* one-row requests are the most common */
        if (p > 0 && cap > r->p->max_cells / p)
            cap = r->p->max_cells / p;
        float *F = realloc(o->F, (cap * p + 1) * sizeof(*F));
        if (F == NULL) {
            r->oom = 1;
            return 0;
        }
        o->F = F;
        r->cap = cap;
    }
    r->row = o->F + o->n * p;
    for (size_t j = 0; j < p; j++)
        r->row[j] = NAN;
    memset(r->named, 0, p);
    r->known = 0;
    r->key_pos = 0;
    r->at = IN_ROW;
    return 1;
}

static int on_start_map(reader_t *r)
{
    if (r->at == AT_START) {
        r->at = IN_BODY;
        return 1;
    }
    return r->at == IN_DATA ? row_begin(r) : 0;
}

static int key_is(const unsigned char *key, size_t n, const char *name)
{
    return strlen(name) == n && memcmp(key, name, n) == 0;
}

static int on_map_key(reader_t *r, const unsigned char *key, size_t n)
{
    if (r->at == IN_BODY) {
        if (key_is(key, n, "data") && !r->seen_data) {
            r->seen_data = 1;
            r->at = BODY_DATA;
        } else if (key_is(key, n, "strict")) {
            r->at = BODY_STRICT;
        } else if (key_is(key, n, "explain")) {
            r->at = BODY_EXPLAIN;
        } else {
            return 0;
        }
        return 1;
    }
    if (r->at != IN_ROW)
        return 0;
    long j = keyorder_find_n(r->p->keys, r->key_pos++, (const char *)key, n);
    if (j < 0)
        return 0; /* a key the model does not know: the check tells of it */
    if ((size_t)j < r->p->plan->n) {
        if (r->named[j])
            return 0; /* named twice: json-c keeps the last, the check counts once */
        r->named[j] = 1;
        r->known++;
    }
    r->field = j;
    r->at = ROW_VALUE;
    return 1;
}

static int on_end_map(reader_t *r)
{
    if (r->at == IN_ROW) {
        if (r->known != r->p->plan->n)
            return 0; /* a field left out: the check tells of it */
        r->out->n++;
        r->at = IN_DATA;
        return 1;
    }
    if (r->at == IN_BODY && r->seen_data) {
        r->at = AT_END;
        return 1;
    }
    return 0;
}

static int on_start_array(reader_t *r)
{
    if (r->at != BODY_DATA)
        return 0;
    r->at = IN_DATA;
    return 1;
}

static int on_end_array(reader_t *r)
{
    if (r->at != IN_DATA)
        return 0;
    r->at = IN_BODY;
    return 1;
}

/* --- the scanner ------------------------------------------------------
 * JSON's grammar over the text, calling the callbacks above for each value.
 * It accepts only what json-c's strict mode accepts too, and less: a string
 * with an escape or a control character, or nesting past the plain shape's
 * depth, is simply not plain. */

#define SCAN_DEPTH 4 /* body, data, row; a row's value one more */

typedef struct scan {
    const char *s, *end;
    reader_t *r;
} scan_t;

static void skip_space(scan_t *sc)
{
    while (sc->s < sc->end && (*sc->s == ' ' || *sc->s == '\t' || *sc->s == '\n' || *sc->s == '\r'))
        sc->s++;
}

/* The string at sc->s (its opening quote): its bytes in *str, *n. Only
 * text the body check passes (json-c's walk, fcgi/body_json.c): no
 * escape, no control character, UTF-8 (checked past ASCII only, in the
 * same pass). */
static int scan_string(scan_t *sc, const unsigned char **str, size_t *n)
{
    const unsigned char *p = (const unsigned char *)sc->s + 1, *q = p,
                        *end = (const unsigned char *)sc->end;
    unsigned char high = 0;
    while (q < end && *q != '"') {
        if (*q == '\\' || *q < 0x20)
            return 0;
        high |= *q++;
    }
    if (q == end || ((high & 0x80) && !util_utf8_valid((const char *)p, (size_t)(q - p))))
        return 0;
    *str = p;
    *n = (size_t)(q - p);
    sc->s = (const char *)q + 1;
    return 1;
}

/* A literal word: true, false or null. */
static int scan_word(scan_t *sc, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(sc->end - sc->s) < n || memcmp(sc->s, word, n) != 0)
        return 0;
    sc->s += n;
    return 1;
}

static int scan_value(scan_t *sc, int depth);

/* The members of an object or the items of an array, after its opening
 * bracket, up to and with its closing one. */
static int scan_members(scan_t *sc, int depth, int object)
{
    char close = object ? '}' : ']';
    skip_space(sc);
    if (sc->s < sc->end && *sc->s == close) {
        sc->s++;
        return object ? on_end_map(sc->r) : on_end_array(sc->r);
    }
    for (;;) {
        skip_space(sc);
        if (object) {
            const unsigned char *key;
            size_t n;
            if (sc->s == sc->end || *sc->s != '"' || !scan_string(sc, &key, &n) ||
                !on_map_key(sc->r, key, n))
                return 0;
            skip_space(sc);
            if (sc->s == sc->end || *sc->s != ':')
                return 0;
            sc->s++;
        }
        if (!scan_value(sc, depth + 1))
            return 0;
        skip_space(sc);
        if (sc->s == sc->end)
            return 0;
        if (*sc->s == ',') {
            sc->s++;
            continue;
        }
        if (*sc->s != close)
            return 0;
        sc->s++;
        return object ? on_end_map(sc->r) : on_end_array(sc->r);
    }
}

static int scan_value(scan_t *sc, int depth)
{
    skip_space(sc);
    if (sc->s == sc->end || depth >= SCAN_DEPTH)
        return 0;
    const char c = *sc->s;
    if (c == '{' || c == '[') {
        sc->s++;
        return (c == '{' ? on_start_map(sc->r) : on_start_array(sc->r)) &&
               scan_members(sc, depth, c == '{');
    }
    if (c == '"') {
        const unsigned char *str;
        size_t n;
        return scan_string(sc, &str, &n) && on_string(sc->r, str, n);
    }
    if (c == 't' || c == 'f')
        return scan_word(sc, c == 't' ? "true" : "false") && on_boolean(sc->r, c == 't');
    if (c == 'n')
        return scan_word(sc, "null") && on_null(sc->r);
    /* a number: the longest run of its characters, which number_value
     * then holds to JSON's grammar */
    const char *b = sc->s;
    while (sc->s < sc->end && ((*sc->s >= '0' && *sc->s <= '9') || *sc->s == '-' ||
                               *sc->s == '+' || *sc->s == '.' || *sc->s == 'e' || *sc->s == 'E'))
        sc->s++;
    return sc->s > b && on_number(sc->r, b, (size_t)(sc->s - b));
}

int rowjson_read(const rowjson_plan_t *p, const char *text, size_t len, rowjson_rows_t *out)
{
    memset(out, 0, sizeof(*out));
    out->strict = out->explain = -1;
    reader_t r = {.p = p, .out = out, .at = AT_START};
    r.named = malloc(p->plan->n + 1);
    if (r.named == NULL)
        return -1;
    scan_t sc = {.s = text, .end = text + len, .r = &r};
    int ok = scan_value(&sc, 0);
    skip_space(&sc);
    ok = ok && sc.s == sc.end && r.at == AT_END;
    free(r.named);
    if (!ok) {
        free(out->F);
        memset(out, 0, sizeof(*out));
        out->strict = out->explain = -1;
        return r.oom ? -1 : 0;
    }
    return 1;
}
