/*
 * csv.c — the streaming CSV reader (see csv.h).
 *
 * One byte-level state machine fed chunks of any size. The current record's
 * unescaped bytes accumulate in one growable buffer with a parallel array of
 * cell end offsets; when the record ends, cells are built as (ptr, len)
 * pairs into that buffer and handed to the callback. Both buffers are reused
 * for every record, so a steady parse allocates nothing per cell or row.
 * Runs of ordinary bytes are copied with memcpy, not byte by byte: most of a
 * numeric CSV is such runs.
 *
 * The fast path: a record that starts at a record boundary, lies wholly in
 * the chunk and holds no quote, NUL or over-long line is not copied at all.
 * Its delimiters are found sixteen bytes at a time (SSE2 where the compiler
 * has it, a table otherwise) and its cells point into the caller's chunk.
 * Anything unusual sends the record back to the state machine from its
 * first byte, so every error and every quoted record has a single owner.
 *
 * The delimiter is sniffed from the header (see csv_sniff_delimiter): the
 * reader holds back the input until the header line is complete, picks the
 * delimiter from it, then replays those bytes through the state machine.
 * Every reader of a stored dataset (upload check, trainer, evaluation) runs
 * the same sniff on the same bytes, so a file is split the same everywhere
 * without storing the choice anywhere.
 *
 * Assumes: '"' quote; the first record is the header; blank lines are
 * skipped (as pandas does).
 */
#include "ml/csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/util.h"
#include "ml/num.h"

const csv_limits_t csv_limits_default = {
    .max_columns = 4096,
    .max_line_bytes = 1u << 20,
    .max_rows = 50000000ULL,
};

typedef enum state {
    ST_FIELD_START, /* at the beginning of a field */
    ST_UNQUOTED,    /* inside an unquoted field */
    ST_QUOTED,      /* inside quotes */
    ST_QUOTE_SEEN,  /* a quote inside quotes: doubled quote or closing quote */
} state_t;

struct csv_reader {
    csv_limits_t lim;
    csv_record_fn fn;
    void *ctx;
    state_t st;
    char *buf;                 /* unescaped bytes of the current record */
    size_t len, cap;
    size_t *ends;              /* end offset of each finished cell */
    size_t n_cells, cap_cells;
    csv_cell_t *cells;         /* built per record from buf + ends */
    size_t cap_out;
    size_t raw_bytes;          /* bytes of the current record as read */
    unsigned long long line;   /* current physical line (1-based) */
    unsigned long long rec_line; /* line where the current record started */
    unsigned long long records;
    size_t header_cols;
    int in_record;             /* any byte of the current record seen */
    int skip_lf;               /* previous byte was a CR ending a record */
    int bom_pos;               /* bytes of a leading BOM matched so far, -1 done */
    int failed;                /* an error was returned; refuse further input */
    int ascii_only;            /* current record held only bytes < 0x80 */
    int has_nul;               /* current record held a NUL byte */
    char delim;                /* the delimiter; 0 until sniffed */
    unsigned char special[256]; /* bytes that end a plain run: delim '\n' '\r' '"' */
    char *pending;             /* input held back until the header line is whole */
    size_t pending_len, pending_cap;
    size_t pending_scanned;    /* bytes of pending already searched for the line end */
    int pending_quoted;        /* the search is inside quotes at pending_scanned */
    int pending_text;          /* pending holds a byte other than a line end */
};

csv_reader_t *csv_reader_new(const csv_limits_t *lim, csv_record_fn fn, void *ctx)
{
    csv_reader_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->lim = lim ? *lim : csv_limits_default;
    if (r->lim.max_columns == 0)
        r->lim.max_columns = csv_limits_default.max_columns;
    if (r->lim.max_line_bytes == 0)
        r->lim.max_line_bytes = csv_limits_default.max_line_bytes;
    if (r->lim.max_rows == 0)
        r->lim.max_rows = csv_limits_default.max_rows;
    r->fn = fn;
    r->ctx = ctx;
    r->line = 1;
    r->rec_line = 1;
    r->ascii_only = 1;
    return r;
}

void csv_reader_free(csv_reader_t *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r->ends);
    free(r->cells);
    free(r->pending);
    free(r);
}

static int fail(csv_reader_t *r, err_t *e, int status, const char *code, unsigned long long line,
                const char *what)
{
    r->failed = 1;
    return err_set(e, status, code, "line %llu: %s", line, what);
}

static int buf_reserve(csv_reader_t *r, size_t extra)
{
    if (r->len + extra <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap * 2 : 4096;
    while (cap < r->len + extra)
        cap *= 2;
    char *nb = realloc(r->buf, cap);
    if (nb == NULL)
        return -1;
    r->buf = nb;
    r->cap = cap;
    return 0;
}

static int end_cell(csv_reader_t *r, err_t *e)
{
    if (r->n_cells >= r->lim.max_columns) {
        char msg[96];
        snprintf(msg, sizeof(msg), "more than %zu columns", r->lim.max_columns);
        return fail(r, e, 413, "too_large", r->rec_line, msg);
    }
    if (r->n_cells == r->cap_cells) {
        size_t cap = r->cap_cells ? r->cap_cells * 2 : 64;
        size_t *ne = realloc(r->ends, cap * sizeof(*ne));
        if (ne == NULL)
            return fail(r, e, 500, "internal", r->rec_line, "out of memory");
        r->ends = ne;
        r->cap_cells = cap;
    }
    r->ends[r->n_cells++] = r->len;
    return 0;
}

static int header_check(csv_reader_t *r, const csv_cell_t *c, size_t n, err_t *e)
{
    int all_numeric = 1;
    for (size_t i = 0; i < n; i++) {
        if (c[i].len == 0) {
            char msg[64];
            snprintf(msg, sizeof(msg), "empty column name (column %zu)", i + 1);
            return fail(r, e, 400, "csv_invalid", 1, msg);
        }
        float v;
        if (!num_parse_float(c[i].ptr, c[i].len, &v))
            all_numeric = 0;
    }
    if (all_numeric)
        return fail(r, e, 400, "csv_invalid", 1,
                    "no header: the first row holds only numbers, so it is data; put a row of "
                    "column names first (a name may contain digits: \"y2019\", not \"2019\")");
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (c[i].len == c[j].len && memcmp(c[i].ptr, c[j].ptr, c[i].len) == 0) {
                char msg[ERR_MESSAGE_MAX - 40];
                snprintf(msg, sizeof(msg), "duplicate column name \"%.*s\"",
                         (int)(c[i].len > 100 ? 100 : c[i].len), c[i].ptr);
                return fail(r, e, 400, "csv_invalid", 1, msg);
            }
    return 0;
}

/* Hands a data record (or the checked header) to the callback; both paths
 * end here. */
static int emit_record(csv_reader_t *r, const csv_cell_t *cells, size_t n, err_t *e)
{
    if (r->records > 0 && n != r->header_cols) {
        char msg[96];
        snprintf(msg, sizeof(msg), "ragged row: %zu fields, expected %zu", n, r->header_cols);
        return fail(r, e, 400, "csv_invalid", r->rec_line, msg);
    }
    if (r->records > r->lim.max_rows) {
        char msg[64];
        snprintf(msg, sizeof(msg), "more than %llu rows", r->lim.max_rows);
        return fail(r, e, 413, "too_large", r->rec_line, msg);
    }
    if (r->fn(r->ctx, cells, n, r->rec_line, e) < 0) {
        r->failed = 1;
        return -1;
    }
    r->records++;
    return 0;
}

static int end_record(csv_reader_t *r, err_t *e)
{
    if (end_cell(r, e) < 0)
        return -1;
    /* A blank line: one empty cell and no byte seen. */
    if (r->n_cells == 1 && r->len == 0 && r->raw_bytes == 0) {
        r->n_cells = 0;
        r->in_record = 0;
        return 0;
    }
    /* A NUL would cut a name or level short downstream (C strings): two
     * distinct headers could become one. */
    if (r->has_nul)
        return fail(r, e, 400, "csv_invalid", r->rec_line, "a NUL byte is not allowed");
    if (!r->ascii_only && !util_utf8_valid(r->buf, r->len))
        return fail(r, e, 400, "csv_invalid", r->rec_line, "not valid UTF-8");
    if (r->n_cells > r->cap_out) {
        csv_cell_t *nc = realloc(r->cells, r->n_cells * sizeof(*nc));
        if (nc == NULL)
            return fail(r, e, 500, "internal", r->rec_line, "out of memory");
        r->cells = nc;
        r->cap_out = r->n_cells;
    }
    size_t start = 0;
    for (size_t i = 0; i < r->n_cells; i++) {
        r->cells[i].ptr = r->buf ? r->buf + start : "";
        r->cells[i].len = r->ends[i] - start;
        start = r->ends[i];
    }
    if (r->records == 0) {
        if (header_check(r, r->cells, r->n_cells, e) < 0)
            return -1;
        r->header_cols = r->n_cells;
    }
    if (emit_record(r, r->cells, r->n_cells, e) < 0)
        return -1;
    r->len = 0;
    r->n_cells = 0;
    r->raw_bytes = 0;
    r->in_record = 0;
    r->ascii_only = 1;
    r->has_nul = 0;
    return 0;
}

/* Length of the run of bytes with no special meaning in an unquoted field.
 * csv_special is the reader's table (delimiter, '\n' '\r' '"'): a table
 * rather than four comparisons per byte, as this loop sees every byte of an
 * upload. */
static size_t plain_run(const unsigned char *csv_special, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i + 4 <= n && !(csv_special[u[i]] | csv_special[u[i + 1]] | csv_special[u[i + 2]] |
                           csv_special[u[i + 3]]))
        i += 4;
    while (i < n && !csv_special[u[i]])
        i++;
    return i;
}

static size_t quoted_run(const char *p, size_t n)
{
    const char *q = memchr(p, '"', n);
    size_t k = q ? (size_t)(q - p) : n;
    /* Stop at a newline too, to keep the line count right. */
    const char *nl = memchr(p, '\n', k);
    return nl ? (size_t)(nl - p) : k;
}

/* Notes, eight bytes at a time, whether p holds a byte >= 0x80 (then the
 * record needs a UTF-8 check) or a NUL (refused): one pass over every byte
 * of an upload, so it is worth the word arithmetic. */
static void scan_bytes(csv_reader_t *r, const char *p, size_t k)
{
    const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
    size_t i = 0;
    for (; i + 8 <= k && (r->ascii_only || !r->has_nul); i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & high)
            r->ascii_only = 0;
        if ((w - ones) & ~w & high)
            r->has_nul = 1;
    }
    for (; i < k && (r->ascii_only || !r->has_nul); i++) {
        if ((unsigned char)p[i] >= 0x80)
            r->ascii_only = 0;
        else if (p[i] == '\0')
            r->has_nul = 1;
    }
}

static int append(csv_reader_t *r, const char *p, size_t k, err_t *e)
{
    if (buf_reserve(r, k) < 0)
        return fail(r, e, 500, "internal", r->rec_line, "out of memory");
    memcpy(r->buf + r->len, p, k);
    scan_bytes(r, p, k);
    r->len += k;
    return 0;
}

/* The delimiter of the first line of text in line[0..n), a BOM already
 * removed. */
static char sniff_line(const char *line, size_t n)
{
    static const char candidates[] = {',', ';', '\t', '|'};
    size_t count[sizeof(candidates)] = {0};
    int quoted = 0;
    size_t i = 0;
    while (i < n && (line[i] == '\n' || line[i] == '\r'))
        i++; /* blank lines before the header */
    for (; i < n; i++) {
        char c = line[i];
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted)
            continue;
        if (c == '\n' || c == '\r')
            break;
        for (size_t k = 0; k < sizeof(candidates); k++)
            count[k] += c == candidates[k];
    }
    size_t best = 0;
    for (size_t k = 1; k < sizeof(candidates); k++)
        if (count[k] > count[best])
            best = k;
    return candidates[best];
}

char csv_sniff_delimiter(const char *line, size_t n)
{
    if (n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
        return sniff_line(line + 3, n - 3); /* a UTF-8 BOM */
    return sniff_line(line, n);
}

char csv_reader_delimiter(const csv_reader_t *r)
{
    return r->delim;
}

static void set_delimiter(csv_reader_t *r, char d)
{
    r->delim = d;
    memset(r->special, 0, sizeof(r->special));
    r->special['\n'] = r->special['\r'] = r->special['"'] = 1;
    r->special[(unsigned char)d] = 1;
}

int csv_reader_set_delimiter(csv_reader_t *r, char d)
{
    if ((d != ',' && d != ';' && d != '\t' && d != '|') || r->delim != 0 || r->pending_len > 0 ||
        r->records > 0)
        return -1;
    set_delimiter(r, d);
    return 0;
}

static int feed_core(csv_reader_t *r, const char *data, size_t n, err_t *e);

/* Settles the delimiter on what is held back and replays it. The reader
 * has already taken the BOM off (a second one is text), and looks at no
 * more than feed_sniff holds when fed byte by byte (one byte past the line
 * limit), so the delimiter never depends on how the input was cut (found
 * by fuzz_csv). */
static int sniff_and_replay(csv_reader_t *r, err_t *e)
{
    size_t look = r->pending_len;
    if (look > r->lim.max_line_bytes + 1)
        look = r->lim.max_line_bytes + 1;
    set_delimiter(r, sniff_line(r->pending, look));
    char *held = r->pending;
    size_t len = r->pending_len;
    r->pending = NULL;
    r->pending_len = r->pending_cap = 0;
    int rc = len > 0 ? feed_core(r, held, len, e) : 0;
    free(held);
    return rc;
}

/* Before the delimiter is known: holds the input back until the header
 * line ends (a line end outside quotes) or is longer than a line may be,
 * then sniffs. Holds at most one line plus one chunk. */
static int feed_sniff(csv_reader_t *r, const char *data, size_t n, err_t *e)
{
    if (r->pending_len + n > r->pending_cap) {
        size_t cap = r->pending_cap ? r->pending_cap : 4096;
        while (cap < r->pending_len + n)
            cap *= 2;
        char *nb = realloc(r->pending, cap);
        if (nb == NULL)
            return fail(r, e, 500, "internal", 1, "out of memory");
        r->pending = nb;
        r->pending_cap = cap;
    }
    memcpy(r->pending + r->pending_len, data, n);
    r->pending_len += n;
    size_t i = r->pending_scanned;
    int line_end = 0;
    for (; i < r->pending_len; i++) {
        char c = r->pending[i];
        if (c == '"')
            r->pending_quoted = !r->pending_quoted;
        if (c != '\n' && c != '\r') {
            r->pending_text = 1;
        } else if (!r->pending_quoted && r->pending_text) {
            /* Blank lines before the header end nothing (they are skipped). */
            line_end = 1;
            break;
        }
    }
    r->pending_scanned = i;
    if (line_end || r->pending_len > r->lim.max_line_bytes)
        return sniff_and_replay(r, e);
    return 0;
}


/* Bit i set if p[i] is a byte the fast path must stop at: a line end, the
 * reader's (sniffed) delimiter, a quote or a NUL. *high gets the bytes >= 0x80 likewise. */
static inline unsigned block_stops(const csv_reader_t *r, const unsigned char *p,
                                   unsigned *high)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(r->delim)),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
                             _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_setzero_si128()));
    *high = (unsigned)_mm_movemask_epi8(v);
    return (unsigned)_mm_movemask_epi8(m);
#else
    unsigned m = 0, h = 0;
    for (unsigned i = 0; i < 16; i++) {
        m |= (unsigned)(r->special[p[i]] | (p[i] == 0)) << i;
        h |= (unsigned)(p[i] >> 7) << i;
    }
    *high = h;
    return m;
#endif
}

static int cells_reserve(csv_reader_t *r, size_t n)
{
    if (n <= r->cap_out)
        return 0;
    size_t cap = r->cap_out ? r->cap_out * 2 : 64;
    while (cap < n)
        cap *= 2;
    csv_cell_t *nc = realloc(r->cells, cap * sizeof(*nc));
    if (nc == NULL)
        return -1;
    r->cells = nc;
    r->cap_out = cap;
    return 0;
}

/* Parses whole plain records at the start of p (see the file comment) and
 * returns the bytes consumed: always a record boundary, 0 when the first
 * record needs the state machine. -1 (e set) when the callback or a limit
 * stopped the reader. Precondition: at a record boundary, past the header. */
static long fast_records(csv_reader_t *r, const char *p, size_t n, err_t *e)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t rec = 0;          /* start of the record being parsed */
    size_t cell = 0;         /* start of its current cell */
    size_t n_cells = 0;
    unsigned any_high = 0;   /* a byte >= 0x80 in a block the record touched */
    for (size_t b = 0; b + 16 <= n; b += 16) {
        unsigned high;
        unsigned stops = block_stops(r, u + b, &high);
        any_high |= high;
        while (stops != 0) {
            size_t j = b + (size_t)__builtin_ctz(stops);
            stops &= stops - 1;
            unsigned char c = u[j];
            if (c == '"' || c == 0)
                return (long)rec;
            if (n_cells >= r->lim.max_columns || cells_reserve(r, n_cells + 1) < 0)
                return (long)rec;
            r->cells[n_cells].ptr = p + cell;
            r->cells[n_cells].len = j - cell;
            n_cells++;
            cell = j + 1;
            if (c == (unsigned char)r->delim)
                continue;
            /* '\n' or '\r': the record ends at j. */
            if (j - rec > r->lim.max_line_bytes ||
                (any_high && !util_utf8_valid(p + rec, j - rec)))
                return (long)rec;
            size_t next = j + 1;
            int cr_at_end = 0;
            if (c == '\r') {
                if (next < n && u[next] == '\n')
                    next++;
                else if (next == n)
                    cr_at_end = 1;
            }
            if (!(n_cells == 1 && j == rec)) { /* a blank line is skipped */
                r->rec_line = r->line;
                if (emit_record(r, r->cells, n_cells, e) < 0)
                    return -1;
            }
            r->line++;
            r->skip_lf = cr_at_end;
            rec = cell = next;
            n_cells = 0;
            if (next >= b + 16) {
                /* The block is used up (or a CRLF's LF opened the next one):
                 * the loop's += 16 resumes at next. */
                any_high = 0;
                b = next - 16;
                break;
            }
            any_high = high;
            stops &= ~0u << (next - b); /* drop a CRLF's LF */
        }
    }
    return (long)rec;
}

int csv_reader_feed(csv_reader_t *r, const char *data, size_t n, err_t *e)
{
    if (r->failed)
        return err_set(e, 400, "csv_invalid", "csv reader already failed");
    size_t i = 0;
    while (i < n && r->bom_pos >= 0) {
        static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};
        if ((unsigned char)data[i] == bom[r->bom_pos]) {
            i++;
            if (++r->bom_pos == 3)
                r->bom_pos = -1;
        } else {
            if (r->bom_pos > 0)
                return fail(r, e, 400, "csv_invalid", 1, "not valid UTF-8");
            r->bom_pos = -1;
        }
    }
    if (i == n)
        return 0;
    if (r->delim == 0)
        return feed_sniff(r, data + i, n - i, e);
    return feed_core(r, data + i, n - i, e);
}

static int feed_core(csv_reader_t *r, const char *data, size_t n, err_t *e)
{
    size_t i = 0;
    while (i < n) {
        if (r->st == ST_FIELD_START && !r->in_record && !r->skip_lf && r->records > 0 &&
            n - i >= 16) {
            long k = fast_records(r, data + i, n - i, e);
            if (k < 0)
                return -1;
            i += (size_t)k;
            if (i >= n || r->skip_lf)
                continue;
        }
        char c = data[i];
        if (r->skip_lf) {
            r->skip_lf = 0;
            if (c == '\n') {
                i++;
                continue;
            }
        }
        if (!r->in_record) {
            r->in_record = 1;
            r->rec_line = r->line;
        }
        size_t k;
        switch (r->st) {
        case ST_FIELD_START:
            if (c == '"') {
                r->st = ST_QUOTED;
                r->raw_bytes++;
                i++;
                break;
            }
            r->st = ST_UNQUOTED;
            /* fall through */
        case ST_UNQUOTED:
            k = plain_run(r->special, data + i, n - i);
            if (k > 0) {
                if (append(r, data + i, k, e) < 0)
                    return -1;
                r->raw_bytes += k;
                i += k;
                break;
            }
            if (c == '"')
                return fail(r, e, 400, "csv_invalid", r->line, "quote in an unquoted field");
            i++;
            if (c == r->delim) {
                r->raw_bytes++;
                if (end_cell(r, e) < 0)
                    return -1;
                r->st = ST_FIELD_START;
                break;
            }
            /* '\n' or '\r': end of record */
            r->st = ST_FIELD_START;
            if (end_record(r, e) < 0)
                return -1;
            r->line++;
            if (c == '\r')
                r->skip_lf = 1;
            break;
        case ST_QUOTED:
            k = quoted_run(data + i, n - i);
            if (k > 0) {
                if (append(r, data + i, k, e) < 0)
                    return -1;
                r->raw_bytes += k;
                i += k;
                break;
            }
            i++;
            r->raw_bytes++;
            if (c == '"') {
                r->st = ST_QUOTE_SEEN;
            } else { /* '\n' inside quotes is data */
                if (append(r, &c, 1, e) < 0)
                    return -1;
                r->line++;
            }
            break;
        case ST_QUOTE_SEEN:
            if (c == '"') {
                if (append(r, &c, 1, e) < 0)
                    return -1;
                r->raw_bytes++;
                r->st = ST_QUOTED;
                i++;
            } else if (c == r->delim || c == '\n' || c == '\r') {
                r->st = ST_UNQUOTED; /* handled as the delimiter of an unquoted field */
            } else {
                return fail(r, e, 400, "csv_invalid", r->line, "text after a closing quote");
            }
            break;
        }
        if (r->raw_bytes > r->lim.max_line_bytes) {
            char msg[96];
            snprintf(msg, sizeof(msg), "line longer than %zu bytes", r->lim.max_line_bytes);
            return fail(r, e, 413, "too_large", r->rec_line, msg);
        }
    }
    return 0;
}

int csv_reader_finish(csv_reader_t *r, err_t *e)
{
    if (r->failed)
        return err_set(e, 400, "csv_invalid", "csv reader already failed");
    if (r->delim == 0 && sniff_and_replay(r, e) < 0)
        return -1;
    if (r->st == ST_QUOTED)
        return fail(r, e, 400, "csv_invalid", r->rec_line, "unterminated quote");
    if (r->in_record) {
        r->st = ST_FIELD_START;
        if (end_record(r, e) < 0)
            return -1;
    }
    if (r->records == 0)
        return fail(r, e, 400, "csv_invalid", 1, "no header (empty input)");
    return 0;
}
