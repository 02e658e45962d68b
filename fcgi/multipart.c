/*
 * multipart.c — streaming multipart/form-data parser (RFC 7578, RFC 2046).
 *
 * Input arrives in chunks of any size. Bytes are copied into one fixed
 * window, and each state consumes from its front:
 *
 *   PREAMBLE     skip to the first delimiter (the window starts with a
 *                virtual CRLF so that a body opening with "--b" matches)
 *   AFTER_DELIM  "--" closes the body; else optional blanks and CRLF
 *   HEADERS      up to the blank line, bounded by max_header_bytes
 *   DATA         everything up to the next "\r\n--boundary"; all but the
 *                last (delimiter length - 1) bytes are handed on at once,
 *                since those could be the start of a delimiter split
 *                across chunks
 *   EPILOGUE     ignored
 *
 * So memory is the window (tens of kilobytes) whatever the part sizes.
 */
#include "fcgi/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MP_BOUNDARY_MAX 70
#define MP_DATA_WINDOW 16384
#define MP_PARAM_MAX 256

typedef enum mp_state {
    MP_PREAMBLE,
    MP_AFTER_DELIM,
    MP_HEADERS,
    MP_DATA,
    MP_EPILOGUE,
    MP_FAILED
} mp_state_t;

struct multipart {
    multipart_callbacks_t cb;
    void *ctx;
    char delim[MP_BOUNDARY_MAX + 5]; /* "\r\n--" + boundary */
    size_t dlen;
    size_t max_parts;
    size_t max_header_bytes;
    size_t parts;
    char *buf;       /* the window */
    size_t cap;
    size_t len;
    mp_state_t state;
};

static int mp_fail(multipart_t *mp, err_t *e, int status, const char *code, const char *msg)
{
    mp->state = MP_FAILED;
    return err_set(e, status, code, "multipart: %s", msg);
}

static int is_bchar(char c)
{
    return isalnum((unsigned char)c) || strchr("'()+_,-./:=? ", c) != NULL;
}

/* Reads one parameter value (token or quoted-string) at *p into out.
 * Returns -1 if malformed. */
static int param_value(const char **p, char *out, size_t n)
{
    const char *s = *p;
    size_t len = 0;
    if (*s == '"') {
        s++;
        while (*s != '"') {
            if (*s == '\0')
                return -1;
            if (*s == '\\' && s[1] != '\0')
                s++;
            if (len + 1 >= n)
                return -1;
            out[len++] = *s++;
        }
        s++;
    } else {
        while (*s != '\0' && *s != ';' && !isspace((unsigned char)*s)) {
            if (len + 1 >= n)
                return -1;
            out[len++] = *s++;
        }
    }
    out[len] = '\0';
    *p = s;
    return 0;
}

typedef struct mp_param {
    const char *key;
    char *value;
    size_t size;
    int seen;
} mp_param_t;

/* Parses "; k=v; k2="v2"" after a leading value into the listed params.
 * Unknown parameters are skipped; a listed one seen twice is an error. */
static int params_parse(const char *s, mp_param_t *params, size_t n_params)
{
    char key[64], scratch[MP_PARAM_MAX];
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return 0;
        if (*s != ';')
            return -1;
        s++;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return 0; /* a trailing ';' */
        size_t klen = 0;
        while (*s != '\0' && *s != '=' && *s != ';' && !isspace((unsigned char)*s)) {
            if (klen + 1 >= sizeof(key))
                return -1;
            key[klen++] = *s++;
        }
        key[klen] = '\0';
        while (isspace((unsigned char)*s))
            s++;
        if (*s != '=')
            return -1;
        s++;
        while (isspace((unsigned char)*s))
            s++;
        mp_param_t *hit = NULL;
        for (size_t i = 0; i < n_params; i++)
            if (strcasecmp(key, params[i].key) == 0)
                hit = &params[i];
        if (hit != NULL && hit->seen)
            return -1;
        if (hit != NULL)
            hit->seen = 1;
        if (param_value(&s, hit ? hit->value : scratch, hit ? hit->size : sizeof(scratch)) != 0)
            return -1;
    }
}

multipart_t *multipart_new(const char *content_type, const multipart_callbacks_t *cb,
                           void *ctx, size_t max_parts, size_t max_header_bytes, err_t *e)
{
    if (content_type == NULL || strncasecmp(content_type, "multipart/", 10) != 0) {
        err_set(e, 400, "multipart_invalid", "multipart: content type is not multipart");
        return NULL;
    }
    const char *semi = strchr(content_type, ';');
    char boundary[MP_BOUNDARY_MAX + 2] = "";
    mp_param_t p = {.key = "boundary", .value = boundary, .size = sizeof(boundary), .seen = 0};
    if (semi == NULL || params_parse(semi, &p, 1) != 0 || !p.seen) {
        err_set(e, 400, "multipart_invalid",
                "multipart: missing or malformed boundary in Content-Type");
        return NULL;
    }
    size_t blen = strlen(boundary);
    int ok = blen >= 1 && blen <= MP_BOUNDARY_MAX && boundary[blen - 1] != ' ';
    for (size_t i = 0; ok && i < blen; i++)
        ok = is_bchar(boundary[i]);
    if (!ok) {
        err_set(e, 400, "multipart_invalid",
                "multipart: boundary must be 1 to 70 characters of RFC 2046's set");
        return NULL;
    }
    multipart_t *mp = calloc(1, sizeof(*mp));
    if (mp == NULL) {
        err_set(e, 500, "internal_error", "multipart: out of memory");
        return NULL;
    }
    if (cb != NULL)
        mp->cb = *cb;
    mp->ctx = ctx;
    mp->dlen = (size_t)snprintf(mp->delim, sizeof(mp->delim), "\r\n--%s", boundary);
    mp->max_parts = max_parts;
    mp->max_header_bytes = max_header_bytes > 0 ? max_header_bytes : 8192;
    size_t window = mp->max_header_bytes + 4 > MP_DATA_WINDOW ? mp->max_header_bytes + 4
                                                               : MP_DATA_WINDOW;
    mp->cap = window + mp->dlen + 8;
    mp->buf = malloc(mp->cap);
    if (mp->buf == NULL) {
        free(mp);
        err_set(e, 500, "internal_error", "multipart: out of memory");
        return NULL;
    }
    memcpy(mp->buf, "\r\n", 2);
    mp->len = 2;
    mp->state = MP_PREAMBLE;
    return mp;
}

static void consume(multipart_t *mp, size_t n)
{
    memmove(mp->buf, mp->buf + n, mp->len - n);
    mp->len -= n;
}

/* Parses the header block (lines ending CRLF, without the blank line) and
 * starts the part. */
static int part_start(multipart_t *mp, const char *block, size_t n, err_t *e)
{
    char name[MP_PARAM_MAX] = "", filename[MP_PARAM_MAX] = "", ctype[MP_PARAM_MAX] = "";
    int have_disposition = 0;
    char line[1024];
    size_t i = 0;
    while (i < n) {
        const char *eol = memchr(block + i, '\r', n - i);
        size_t len = eol ? (size_t)(eol - (block + i)) : n - i;
        if (len >= sizeof(line))
            return mp_fail(mp, e, 400, "multipart_invalid", "part header line too long");
        if (eol != NULL && (size_t)(eol - block) + 1 < n && eol[1] != '\n')
            return mp_fail(mp, e, 400, "multipart_invalid", "bare CR in part header");
        memcpy(line, block + i, len);
        line[len] = '\0';
        i += len + 2;
        if (memchr(line, '\0', len) != NULL || line[0] == ' ' || line[0] == '\t')
            return mp_fail(mp, e, 400, "multipart_invalid", "malformed part header");
        char *colon = strchr(line, ':');
        if (colon == NULL)
            return mp_fail(mp, e, 400, "multipart_invalid", "malformed part header");
        *colon = '\0';
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (have_disposition)
                return mp_fail(mp, e, 400, "multipart_invalid",
                               "part has two Content-Disposition headers");
            have_disposition = 1;
            if (strncasecmp(value, "form-data", 9) != 0 ||
                (value[9] != '\0' && value[9] != ';' && value[9] != ' '))
                return mp_fail(mp, e, 400, "multipart_invalid",
                               "part disposition is not form-data");
            mp_param_t params[] = {
                {.key = "name", .value = name, .size = sizeof(name), .seen = 0},
                {.key = "filename", .value = filename, .size = sizeof(filename), .seen = 0},
            };
            if (params_parse(value + 9, params, 2) != 0)
                return mp_fail(mp, e, 400, "multipart_invalid",
                               "malformed Content-Disposition parameters");
        } else if (strcasecmp(line, "Content-Type") == 0) {
            snprintf(ctype, sizeof(ctype), "%s", value);
        }
    }
    if (!have_disposition || name[0] == '\0')
        return mp_fail(mp, e, 400, "multipart_invalid", "part without a form-data name");
    if (mp->max_parts > 0 && ++mp->parts > mp->max_parts) {
        mp->state = MP_FAILED;
        return err_set(e, 413, "too_large", "multipart: more than %zu parts", mp->max_parts);
    }
    if (mp->cb.part_begin != NULL &&
        mp->cb.part_begin(mp->ctx, name, filename[0] ? filename : NULL, ctype, e) != 0) {
        mp->state = MP_FAILED;
        return -1;
    }
    return 0;
}

static int emit_data(multipart_t *mp, size_t n, err_t *e)
{
    if (n > 0 && mp->cb.part_data != NULL && mp->cb.part_data(mp->ctx, mp->buf, n, e) != 0) {
        mp->state = MP_FAILED;
        return -1;
    }
    consume(mp, n);
    return 0;
}

/* Runs the state machine over the window until it needs more input. */
static int process(multipart_t *mp, err_t *e)
{
    for (;;) {
        switch (mp->state) {
        case MP_PREAMBLE: {
            char *p = memmem(mp->buf, mp->len, mp->delim, mp->dlen);
            if (p == NULL) {
                if (mp->len >= mp->dlen)
                    consume(mp, mp->len - (mp->dlen - 1));
                return 0;
            }
            consume(mp, (size_t)(p - mp->buf) + mp->dlen);
            mp->state = MP_AFTER_DELIM;
            break;
        }
        case MP_AFTER_DELIM: {
            if (mp->len < 2)
                return 0;
            if (mp->buf[0] == '-' && mp->buf[1] == '-') {
                consume(mp, 2);
                mp->state = MP_EPILOGUE;
                break;
            }
            size_t j = 0;
            while (j < mp->len && (mp->buf[j] == ' ' || mp->buf[j] == '\t'))
                j++;
            if (j > 64)
                return mp_fail(mp, e, 400, "multipart_invalid", "malformed boundary line");
            if (mp->len < j + 2)
                return 0;
            if (mp->buf[j] != '\r' || mp->buf[j + 1] != '\n')
                return mp_fail(mp, e, 400, "multipart_invalid", "malformed boundary line");
            consume(mp, j + 2);
            mp->state = MP_HEADERS;
            break;
        }
        case MP_HEADERS: {
            size_t block_len, skip;
            if (mp->len >= 2 && mp->buf[0] == '\r' && mp->buf[1] == '\n') {
                block_len = 0;
                skip = 2;
            } else {
                char *p = memmem(mp->buf, mp->len, "\r\n\r\n", 4);
                if (p == NULL) {
                    if (mp->len > mp->max_header_bytes) {
                        mp->state = MP_FAILED;
                        return err_set(e, 413, "too_large",
                                       "multipart: part headers larger than %zu bytes",
                                       mp->max_header_bytes);
                    }
                    return 0;
                }
                block_len = (size_t)(p - mp->buf) + 2;
                skip = block_len + 2;
            }
            if (block_len > mp->max_header_bytes) {
                mp->state = MP_FAILED;
                return err_set(e, 413, "too_large", "multipart: part headers larger than %zu bytes",
                               mp->max_header_bytes);
            }
            if (part_start(mp, mp->buf, block_len, e) != 0)
                return -1;
            consume(mp, skip);
            mp->state = MP_DATA;
            break;
        }
        case MP_DATA: {
            char *p = memmem(mp->buf, mp->len, mp->delim, mp->dlen);
            if (p == NULL) {
                if (mp->len >= mp->dlen)
                    return emit_data(mp, mp->len - (mp->dlen - 1), e);
                return 0;
            }
            if (emit_data(mp, (size_t)(p - mp->buf), e) != 0)
                return -1;
            consume(mp, mp->dlen);
            if (mp->cb.part_end != NULL && mp->cb.part_end(mp->ctx, e) != 0) {
                mp->state = MP_FAILED;
                return -1;
            }
            mp->state = MP_AFTER_DELIM;
            break;
        }
        case MP_EPILOGUE:
            mp->len = 0;
            return 0;
        case MP_FAILED:
            return -1;
        }
    }
}

int multipart_feed(multipart_t *mp, const char *buf, size_t n, err_t *e)
{
    if (mp->state == MP_FAILED)
        return err_set(e, 400, "multipart_invalid", "multipart: parser already failed");
    while (n > 0) {
        if (mp->state == MP_EPILOGUE)
            return 0;
        size_t room = mp->cap - mp->len;
        size_t take = n < room ? n : room;
        if (take == 0)
            return mp_fail(mp, e, 500, "internal_error", "window full");
        memcpy(mp->buf + mp->len, buf, take);
        mp->len += take;
        buf += take;
        n -= take;
        if (process(mp, e) != 0)
            return -1;
    }
    return 0;
}

int multipart_finish(multipart_t *mp, err_t *e)
{
    switch (mp->state) {
    case MP_EPILOGUE:
        return 0;
    case MP_FAILED:
        return err_set(e, 400, "multipart_invalid", "multipart: parser already failed");
    case MP_PREAMBLE:
        return mp_fail(mp, e, 400, "multipart_invalid", "no boundary found in the body");
    default:
        return mp_fail(mp, e, 400, "multipart_invalid",
                       "body ended before the closing boundary");
    }
}

void multipart_free(multipart_t *mp)
{
    if (mp == NULL)
        return;
    free(mp->buf);
    free(mp);
}
