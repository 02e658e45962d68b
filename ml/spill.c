/*
 * spill.c — row groups of typed columns in one unlinked page file (see
 * spill.h).
 *
 * Layout: groups one after the other; inside a group, column after column,
 * each as its rows' floats (4 bytes) or codes (1, 2 or 4 bytes, the width
 * the column had when the group was written). The index (per group: its
 * rows and, per column, offset and width) is the only thing kept in
 * memory: a few bytes per column per SPILL_GROUP_BYTES of data.
 *
 * Reads are pread()s of one column of one group: the consumer (extmem.c)
 * walks the groups in order, so the kernel's read-ahead and page cache do
 * the rest.
 */
#include "ml/spill.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "ml/num.h"

typedef struct group {
    size_t rows;
    uint64_t *off;             /* per column: byte offset in the file */
    uint8_t *width;            /* per column: 0 = floats, else code bytes */
} group_t;

struct spill {
    int fd;
    size_t n_cols;
    group_t *g;
    size_t n_groups, cap;
    size_t rows;               /* rows in all groups */
    uint64_t end;              /* file size */
    spill_numstats_t *num;     /* per column */
};

spill_t *spill_open(const char *dir, size_t n_cols, err_t *e)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/columns.XXXXXX", dir);
    spill_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->num = calloc(n_cols ? n_cols : 1, sizeof(*s->num))) == NULL) {
        free(s);
        err_set(e, 500, "internal", "out of memory");
        return NULL;
    }
    s->fd = mkostemp(path, O_CLOEXEC);
    if (s->fd < 0) {
        err_set(e, 500, "internal", "could not create a page file in \"%s\": %s", dir,
                strerror(errno));
        free(s->num);
        free(s);
        return NULL;
    }
    unlink(path); /* gone with the last descriptor, whatever ends the process */
    s->n_cols = n_cols;
    for (size_t i = 0; i < n_cols; i++)
        s->num[i] = (spill_numstats_t){0, INFINITY, -INFINITY, 1, 1};
    return s;
}

void spill_free(spill_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_groups; i++) {
        free(s->g[i].off);
        free(s->g[i].width);
    }
    free(s->g);
    free(s->num);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

size_t spill_group_rows(size_t n_cols)
{
    size_t r = SPILL_GROUP_BYTES / (4 * (n_cols ? n_cols : 1));
    return r < 1024 ? 1024 : r;
}

static int write_at(spill_t *s, const void *buf, size_t n, err_t *e)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(s->fd, p, n, (off_t)s->end);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, 507, "disk_full", "writing the dataset's pages to disk: %s",
                           k < 0 ? strerror(errno) : "short write");
        p += k;
        n -= (size_t)k;
        s->end += (uint64_t)k;
    }
    return 0;
}

static void note_floats(spill_numstats_t *st, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (isnan(x))
            continue;
        st->n++;
        if (x < st->lo)
            st->lo = x;
        if (x > st->hi)
            st->hi = x;
        if (st->all_int && x != floorf(x))
            st->all_int = 0;
    }
}

int spill_flush(spill_t *s, column_t *cols, err_t *e)
{
    size_t rows = s->n_cols ? cols[0].n : 0;
    if (rows == 0)
        return 0;
    if (s->n_groups == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        group_t *ng = realloc(s->g, cap * sizeof(*ng));
        if (ng == NULL)
            return err_set(e, 500, "internal", "out of memory");
        s->g = ng;
        s->cap = cap;
    }
    group_t *g = &s->g[s->n_groups];
    g->rows = rows;
    g->off = malloc(s->n_cols * sizeof(*g->off));
    g->width = malloc(s->n_cols);
    if (g->off == NULL || g->width == NULL) {
        free(g->off);
        free(g->width);
        return err_set(e, 500, "internal", "out of memory");
    }
    s->n_groups++;
    for (size_t i = 0; i < s->n_cols; i++) {
        column_t *c = &cols[i];
        g->off[i] = s->end;
        g->width[i] = c->is_codes ? (uint8_t)c->code_bytes : 0;
        if (c->is_codes) {
            s->num[i].valid = 0;
            if (write_at(s, c->codes, rows * c->code_bytes, e) < 0)
                return -1;
        } else {
            note_floats(&s->num[i], c->vals, rows);
            if (write_at(s, c->vals, rows * sizeof(float), e) < 0)
                return -1;
        }
        c->n = 0; /* the arrays keep their capacity for the next group */
    }
    s->rows += rows;
    return 0;
}

size_t spill_groups(const spill_t *s)
{
    return s->n_groups;
}

size_t spill_rows(const spill_t *s)
{
    return s->rows;
}

size_t spill_group_size(const spill_t *s, size_t g)
{
    return g < s->n_groups ? s->g[g].rows : 0;
}

unsigned long long spill_bytes(const spill_t *s)
{
    return s->end;
}

const spill_numstats_t *spill_numstats(const spill_t *s, size_t col)
{
    return &s->num[col];
}

static int read_at(const spill_t *s, void *buf, size_t n, uint64_t off, err_t *e)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = pread(s->fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(e, 500, "internal", "reading the dataset's pages: %s",
                           k < 0 ? strerror(errno) : "short read");
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* A stored code of width w as column_code() reads it. */
static uint32_t code_at(const void *buf, unsigned w, size_t i)
{
    column_t c;
    c.codes = (void *)buf;
    c.code_bytes = w;
    return column_code(&c, i);
}

int spill_read(const spill_t *s, const column_t *c, size_t col, size_t gi, void *out, err_t *e)
{
    if (gi >= s->n_groups)
        return err_set(e, 500, "internal", "page group %zu of %zu", gi, s->n_groups);
    const group_t *g = &s->g[gi];
    size_t n = g->rows;
    unsigned w = g->width[col];
    if (!c->is_codes && w == 0)
        return read_at(s, out, n * sizeof(float), g->off[col], e);
    void *tmp = malloc(n * (w ? w : sizeof(float)) + 1);
    if (tmp == NULL)
        return err_set(e, 500, "internal", "out of memory");
    if (read_at(s, tmp, n * (w ? w : sizeof(float)), g->off[col], e) < 0) {
        free(tmp);
        return -1;
    }
    if (c->is_codes && w != 0) {
        uint32_t *o = out;
        for (size_t i = 0; i < n; i++)
            o[i] = code_at(tmp, w, i);
    } else if (c->is_codes) { /* written as numbers, read as levels */
        const float *v = tmp;
        uint32_t *o = out;
        for (size_t i = 0; i < n; i++) {
            if (isnan(v[i])) {
                o[i] = COL_MISSING;
                continue;
            }
            char buf[32];
            int k = num_format_float(v[i], buf, sizeof(buf));
            long id = dict_find(&c->dict, buf, (size_t)k);
            o[i] = id < 0 ? COL_OVERFLOW : (uint32_t)id;
        }
    } else { /* written as levels, read as numbers */
        float *o = out;
        for (size_t i = 0; i < n; i++) {
            uint32_t code = code_at(tmp, w, i);
            float v = NAN;
            if (code < COL_OVERFLOW &&
                !num_parse_float(dict_text(&c->dict, code), c->dict.e[code].len, &v))
                v = NAN;
            o[i] = v;
        }
    }
    free(tmp);
    return 0;
}

int spill_intern_floats(const spill_t *s, column_t *c, size_t col, err_t *e)
{
    float *v = NULL;
    size_t cap = 0;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const group_t *g = &s->g[gi];
        if (g->width[col] != 0)
            continue;
        if (g->rows > cap) {
            free(v);
            cap = g->rows;
            if ((v = malloc(cap * sizeof(*v))) == NULL)
                return err_set(e, 500, "internal", "out of memory");
        }
        if (read_at(s, v, g->rows * sizeof(*v), g->off[col], e) < 0) {
            free(v);
            return -1;
        }
        for (size_t i = 0; i < g->rows; i++) {
            if (isnan(v[i]))
                continue;
            char buf[32];
            int k = num_format_float(v[i], buf, sizeof(buf));
            if (c->dict.n >= COL_DICT_CAP && dict_find(&c->dict, buf, (size_t)k) < 0)
                continue; /* past the cap: read back as overflow */
            if (dict_intern(&c->dict, buf, (size_t)k, 1) < 0) {
                free(v);
                return err_set(e, 500, "internal", "out of memory");
            }
        }
    }
    free(v);
    return 0;
}

int spill_is_sequence(const spill_t *s, const column_t *c, size_t col, err_t *e)
{
    const spill_numstats_t *st = &s->num[col];
    if (c->is_codes || !st->valid || !st->all_int || st->n != s->rows || s->rows < 3 ||
        (double)st->hi - (double)st->lo != (double)(s->rows - 1))
        return 0;
    uint8_t *seen = calloc(s->rows / 8 + 1, 1);
    float *v = NULL;
    int rc = 1;
    for (size_t gi = 0; gi < s->n_groups && rc == 1; gi++) {
        size_t n = s->g[gi].rows;
        free(v);
        if (seen == NULL || (v = malloc(n * sizeof(*v))) == NULL) {
            rc = err_set(e, 500, "internal", "out of memory");
            break;
        }
        if (read_at(s, v, n * sizeof(*v), s->g[gi].off[col], e) < 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)((double)v[i] - (double)st->lo);
            if (k >= s->rows || (seen[k / 8] & (1u << (k % 8)))) {
                rc = 0;
                break;
            }
            seen[k / 8] |= (uint8_t)(1u << (k % 8));
        }
    }
    free(v);
    free(seen);
    return rc;
}
