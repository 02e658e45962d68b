/*
 * fuzz_cli.c — what the terminal client writes and reads by hand: the CSV
 * cells `trainyard predict` writes out, and the config file it reads back.
 *
 * The input's first byte picks the part. CSV (even): the rest is split at
 * 0x00 bytes into cells (at most 16), written as one data row under a
 * header with cli_csv_write_cell, plus a last fixed cell (a row of one
 * empty cell would be a blank line, which no writer of ours produces);
 * read back with the engine's CSV reader (ml/csv.h), the cells must come
 * back byte for byte, unless they are not UTF-8 (which the reader refuses,
 * and then it must say so). Config (odd): cli_config_parse on the rest;
 * every field stays NUL-terminated within its size, and a line "key=V"
 * that fits is read back as V.
 */
#include <stddef.h>
#include <stdint.h>

#include "cli/config.h"
#include "cli/predict.h"
#include "ml/csv.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CELLS 16

typedef struct back {
    int records;
    size_t n;
    fuzz_log_t cells; /* the data row's cells, length-prefixed */
} back_t;

static int on_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                     err_t *e)
{
    (void)line;
    (void)e;
    back_t *b = ctx;
    if (b->records++ == 0)
        return 0;
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        fuzz_log_put(&b->cells, &cells[i].len, sizeof(cells[i].len));
        fuzz_log_put(&b->cells, cells[i].ptr, cells[i].len);
    }
    return 0;
}

static void fuzz_csv_roundtrip(const uint8_t *data, size_t size)
{
    const char *cell[MAX_CELLS + 1];
    size_t len[MAX_CELLS + 1], n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (n < MAX_CELLS) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        cell[n] = p;
        len[n++] = (size_t)((z ? z : end) - p);
        if (z == NULL)
            break;
        p = z + 1;
    }
    cell[n] = "end";
    len[n++] = 3;
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "c%zu%c", i, i + 1 < n ? ',' : '\n');
    for (size_t i = 0; i < n; i++) {
        cli_csv_write_cell(f, cell[i], len[i]);
        fputc(i + 1 < n ? ',' : '\n', f);
    }
    fclose(f);

    static const csv_limits_t lim = {.max_columns = 64, .max_line_bytes = 1 << 20, .max_rows = 10};
    back_t b = {0};
    err_t e;
    err_clear(&e);
    csv_reader_t *r = csv_reader_new(&lim, on_record, &b);
    int rc = csv_reader_feed(r, text, tlen, &e);
    if (rc == 0)
        rc = csv_reader_finish(r, &e);
    csv_reader_free(r);
    if (rc != 0) {
        fuzz_check_err(&e, "reading our own CSV back");
        FUZZ_CHECK(strstr(err_message(&e), "UTF-8") != NULL, "refused for another reason: %s",
                   err_message(&e));
    } else {
        FUZZ_CHECK(b.records == 2, "%d records", b.records);
        FUZZ_CHECK(b.n == n, "%zu cells came back, %zu written", b.n, n);
        fuzz_log_t want = {0};
        for (size_t i = 0; i < n; i++) {
            fuzz_log_put(&want, &len[i], sizeof(len[i]));
            fuzz_log_put(&want, cell[i], len[i]);
        }
        FUZZ_CHECK(want.len == b.cells.len && memcmp(want.buf, b.cells.buf, want.len) == 0,
                   "cells changed on the way through CSV");
        free(want.buf);
    }
    free(b.cells.buf);
    free(text);
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    cli_config_t c;
    memset(&c, 0, sizeof(c));
    cli_config_parse(&c, (const char *)data, size);
    FUZZ_CHECK(memchr(c.url, '\0', sizeof(c.url)) != NULL, "url unterminated");
    FUZZ_CHECK(memchr(c.key, '\0', sizeof(c.key)) != NULL, "key unterminated");
    FUZZ_CHECK(memchr(c.workspace, '\0', sizeof(c.workspace)) != NULL, "workspace unterminated");
    /* The last "key=" line that fits wins: find it by hand. */
    const char *p = (const char *)data, *end = p + size, *want = NULL;
    size_t wlen = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n >= 4 && memcmp(p, "key=", 4) == 0) {
            size_t v = n - 4;
            if (v > 0 && p[3 + v] == '\r')
                v--;
            if (v < CLI_CONFIG_VALUE_MAX && memchr(p + 4, '\0', v) == NULL) {
                want = p + 4;
                wlen = v;
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (want != NULL)
        FUZZ_CHECK(strlen(c.key) == wlen && memcmp(c.key, want, wlen) == 0, "key misread");
    else
        FUZZ_CHECK(c.key[0] == '\0', "a key from nowhere");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_config(data + 1, size - 1);
    else
        fuzz_csv_roundtrip(data + 1, size - 1);
    return 0;
}
