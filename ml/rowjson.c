/*
 * rowjson.c — a plain prediction batch read from its JSON text (rowjson.h).
 *
 * yajl (Debian's libyajl) parses; the callbacks below follow the plain shape
 * and give up (return 0, which stops yajl) at the first thing outside it.
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

#include <yajl/yajl_parse.h>

#include "common/util.h"

#define KEY_MAX 256       /* longer keys are not plain: no field is named so */
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
    yajl_handle yajl;     /* the parser, for where the body's object ended */
    size_t end;           /* bytes up to the end of the body's object */
} reader_t;

static int on_null(void *ctx)
{
    reader_t *r = ctx;
    if (r->at != ROW_VALUE)
        return 0; /* "strict": null and "data": null are for the general path */
    r->at = IN_ROW; /* a missing value: the cell stays NaN */
    return 1;
}

static int on_boolean(void *ctx, int b)
{
    reader_t *r = ctx;
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
 * literal is not plain: not in JSON's own form (yajl checks it; this
 * checks again what json-c would read otherwise), or not read exactly.
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

static int on_number(void *ctx, const char *s, size_t n)
{
    reader_t *r = ctx;
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
static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    reader_t *r = ctx;
    /* yajl's own UTF-8 check passes overlong forms the body check refuses */
    if (r->at != ROW_VALUE || memchr(s, '\0', n) != NULL || !util_utf8_valid((const char *)s, n))
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

static int on_start_map(void *ctx)
{
    reader_t *r = ctx;
    if (r->at == AT_START) {
        r->at = IN_BODY;
        return 1;
    }
    return r->at == IN_DATA ? row_begin(r) : 0;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t n)
{
    reader_t *r = ctx;
    if (n >= KEY_MAX || memchr(key, '\0', n) != NULL || !util_utf8_valid((const char *)key, n))
        return 0;
    char k[KEY_MAX];
    memcpy(k, key, n);
    k[n] = '\0';
    if (r->at == IN_BODY) {
        if (strcmp(k, "data") == 0 && !r->seen_data) {
            r->seen_data = 1;
            r->at = BODY_DATA;
        } else if (strcmp(k, "strict") == 0) {
            r->at = BODY_STRICT;
        } else if (strcmp(k, "explain") == 0) {
            r->at = BODY_EXPLAIN;
        } else {
            return 0;
        }
        return 1;
    }
    if (r->at != IN_ROW)
        return 0;
    long j = keyorder_find(r->p->keys, r->key_pos++, k);
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

static int on_end_map(void *ctx)
{
    reader_t *r = ctx;
    if (r->at == IN_ROW) {
        if (r->known != r->p->plan->n)
            return 0; /* a field left out: the check tells of it */
        r->out->n++;
        r->at = IN_DATA;
        return 1;
    }
    if (r->at == IN_BODY && r->seen_data) {
        r->at = AT_END;
        r->end = yajl_get_bytes_consumed(r->yajl);
        return 1;
    }
    return 0;
}

static int on_start_array(void *ctx)
{
    reader_t *r = ctx;
    if (r->at != BODY_DATA)
        return 0;
    r->at = IN_DATA;
    return 1;
}

static int on_end_array(void *ctx)
{
    reader_t *r = ctx;
    if (r->at != IN_DATA)
        return 0;
    r->at = IN_BODY;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

int rowjson_read(const rowjson_plan_t *p, const char *text, size_t len, rowjson_rows_t *out)
{
    memset(out, 0, sizeof(*out));
    out->strict = out->explain = -1;
    /* Where yajl is more lenient than json-c's strict mode: it reads an
     * escaped lone surrogate as '?' (json-c produces bytes the body check
     * refuses), and takes form feed and vertical tab as white space. A body
     * with \u escapes (non-ASCII text from an ensure_ascii client) or
     * either byte takes the general path. */
    if (memchr(text, '\f', len) != NULL || memchr(text, '\v', len) != NULL)
        return 0;
    for (const char *b = memchr(text, '\\', len); b != NULL;
         b = memchr(b + 1, '\\', len - (size_t)(b + 1 - text)))
        if (b + 1 < text + len && b[1] == 'u')
            return 0;
    reader_t r = {.p = p, .out = out, .at = AT_START};
    r.named = malloc(p->plan->n + 1);
    yajl_handle h = r.named != NULL ? yajl_alloc(&callbacks, NULL, &r) : NULL;
    if (h == NULL) {
        free(r.named);
        return -1;
    }
    r.yajl = h;
    int ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok && r.at == AT_END;
    /* yajl lets an unfinished token after the value pass ({...} "): only
     * JSON's white space may follow the body's object. */
    for (size_t i = r.end; ok && i < len; i++)
        ok = text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
    yajl_free(h);
    free(r.named);
    if (!ok) {
        free(out->F);
        memset(out, 0, sizeof(*out));
        out->strict = out->explain = -1;
        return r.oom ? -1 : 0;
    }
    return 1;
}
