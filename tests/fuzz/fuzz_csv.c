/*
 * fuzz_csv.c — the streaming CSV reader and type inference, chunked.
 *
 * The input is the CSV; its first two bytes seed the chunk sizes. The
 * reader runs fed whole, fed in chunks and fed one byte at a time (which
 * never takes the reader's sixteen-byte fast path): outcomes and error
 * messages must agree, and on success so must every record (cells hashed
 * into a log), since a quote or CRLF cut between two chunks, or a record
 * taken by the fast path rather than the state machine, must not change a
 * record. Each record must
 * have as many cells as the header and every cell must be readable (ASan
 * checks the pointers). Inference then runs on the same chunks with the
 * same limits, and on success must count the same data rows. A delimiter
 * fixed in advance (csv_reader_set_delimiter, as an Akkio v1 append reads
 * with the dataset's) must read exactly as sniffing that delimiter did, and
 * a fixed ';' must read the same whole and byte by byte.
 */
#include <stddef.h>
#include <stdint.h>

#include "ml/csv.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const csv_limits_t limits = {.max_columns = 64, .max_line_bytes = 4096, .max_rows = 5000};

typedef struct run {
    fuzz_log_t log;
    size_t columns;
    unsigned long long records;
    unsigned long long last_line;
    char delim;                /* the reader's delimiter at the end, 0 if none */
} run_t;

static int on_record(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                     err_t *e)
{
    (void)e;
    run_t *r = ctx;
    FUZZ_CHECK(n >= 1 && n <= limits.max_columns, "%zu cells", n);
    if (r->records == 0) {
        FUZZ_CHECK(line >= 1, "header on line %llu", line); /* blank lines may precede it */
        r->columns = n;
    } else {
        FUZZ_CHECK(n == r->columns, "ragged record of %zu cells accepted (header %zu)", n,
                   r->columns);
        FUZZ_CHECK(line > r->last_line, "line %llu after %llu", line, r->last_line);
    }
    r->last_line = line;
    r->records++;
    FUZZ_CHECK(r->records <= limits.max_rows + 1, "%llu records", r->records);
    fuzz_log_put(&r->log, &line, sizeof(line));
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(cells[i].len <= limits.max_line_bytes, "cell of %zu bytes", cells[i].len);
        fuzz_log_put(&r->log, &cells[i].len, sizeof(cells[i].len));
        fuzz_log_put(&r->log, cells[i].ptr, cells[i].len);
    }
    return 0;
}

/* Feeds data whole (chunks NULL, bytewise 0), in the chunker's sizes, or one
 * byte at a time; the error, if any, is left in *e. */
static int run_reader(const uint8_t *data, size_t size, fuzz_chunker_t *chunks, int bytewise,
                      char force, run_t *r, err_t *e_out)
{
    err_t e;
    err_clear(&e);
    memset(r, 0, sizeof(*r));
    csv_reader_t *rd = csv_reader_new(&limits, on_record, r);
    FUZZ_CHECK(rd != NULL, "csv_reader_new failed");
    if (force != 0)
        FUZZ_CHECK(csv_reader_set_delimiter(rd, force) == 0, "delimiter %d refused", force);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = bytewise ? 1 : chunks ? fuzz_chunk_next(chunks, size - off) : size - off;
        rc = csv_reader_feed(rd, (const char *)data + off, n, &e);
        off += n;
    }
    if (rc == 0)
        rc = csv_reader_finish(rd, &e);
    if (rc < 0)
        fuzz_check_err(&e, "csv reader");
    r->delim = csv_reader_delimiter(rd);
    csv_reader_free(rd);
    *e_out = e;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    uint32_t seed = size >= 2 ? (uint32_t)(data[0] | data[1] << 8) : 7;
    fuzz_chunker_t chunks = {seed};
    run_t whole, cut, bytes;
    err_t e_whole, e_cut, e_bytes;
    int rc_whole = run_reader(data, size, NULL, 0, 0, &whole, &e_whole);
    int rc_cut = run_reader(data, size, &chunks, 0, 0, &cut, &e_cut);
    int rc_bytes = run_reader(data, size, NULL, 1, 0, &bytes, &e_bytes);
    FUZZ_CHECK(rc_whole == rc_cut, "whole %d, chunked %d", rc_whole, rc_cut);
    FUZZ_CHECK(rc_whole == rc_bytes, "whole %d, bytewise %d", rc_whole, rc_bytes);
    if (rc_whole == 0) {
        FUZZ_CHECK(fuzz_log_eq(&whole.log, &cut.log), "chunking changed the records");
        FUZZ_CHECK(fuzz_log_eq(&whole.log, &bytes.log), "the fast path changed the records");
    } else {
        FUZZ_CHECK(e_whole.status == e_bytes.status &&
                       strcmp(e_whole.items[0].message, e_bytes.items[0].message) == 0,
                   "whole: %d %s; bytewise: %d %s", e_whole.status, e_whole.items[0].message,
                   e_bytes.status, e_bytes.items[0].message);
    }
    if (rc_whole == 0 && whole.delim != 0) {
        run_t forced;
        err_t e_forced;
        fuzz_chunker_t chunks3 = {seed ^ 0x3c3c};
        int rc_forced = run_reader(data, size, &chunks3, 0, whole.delim, &forced, &e_forced);
        FUZZ_CHECK(rc_forced == 0 && fuzz_log_eq(&whole.log, &forced.log),
                   "the sniffed delimiter, fixed in advance, read otherwise (rc %d)", rc_forced);
        fuzz_log_free(&forced.log);
    }
    {
        run_t semi_whole, semi_bytes;
        err_t e_sw, e_sb;
        int rc_sw = run_reader(data, size, NULL, 0, ';', &semi_whole, &e_sw);
        int rc_sb = run_reader(data, size, NULL, 1, ';', &semi_bytes, &e_sb);
        FUZZ_CHECK(rc_sw == rc_sb, "fixed ';': whole %d, bytewise %d", rc_sw, rc_sb);
        FUZZ_CHECK(rc_sw != 0 || fuzz_log_eq(&semi_whole.log, &semi_bytes.log),
                   "fixed ';': the fast path changed the records");
        fuzz_log_free(&semi_whole.log);
        fuzz_log_free(&semi_bytes.log);
    }
    fuzz_log_free(&whole.log);
    fuzz_log_free(&cut.log);
    fuzz_log_free(&bytes.log);

    err_t e;
    err_clear(&e);
    csv_infer_t *ci = csv_infer_new(&limits);
    FUZZ_CHECK(ci != NULL, "csv_infer_new failed");
    fuzz_chunker_t chunks2 = {seed ^ 0x5a5a};
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = fuzz_chunk_next(&chunks2, size - off);
        rc = csv_infer_feed(ci, (const char *)data + off, n, &e);
        off += n;
    }
    json_object *summary = NULL;
    if (rc == 0)
        rc = csv_infer_finish(ci, &summary, &e);
    csv_infer_free(ci);
    if (rc < 0) {
        fuzz_check_err(&e, "csv infer");
        return 0;
    }
    FUZZ_CHECK(rc_whole == 0, "inference accepted what the reader refused");
    json_object *rows = NULL, *fields = NULL;
    FUZZ_CHECK(json_object_object_get_ex(summary, "rows", &rows), "no rows");
    FUZZ_CHECK(json_object_object_get_ex(summary, "fields", &fields), "no fields");
    FUZZ_CHECK((unsigned long long)json_object_get_int64(rows) == whole.records - 1,
               "infer counted %lld rows, reader %llu", (long long)json_object_get_int64(rows),
               whole.records - 1);
    FUZZ_CHECK(json_object_array_length(fields) == whole.columns, "%zu fields for %zu columns",
               json_object_array_length(fields), whole.columns);
    for (size_t i = 0; i < json_object_array_length(fields); i++) {
        json_object *f = json_object_array_get_idx(fields, i), *missing = NULL;
        FUZZ_CHECK(json_object_object_get_ex(f, "missing", &missing), "no missing count");
        FUZZ_CHECK(json_object_get_int64(missing) >= 0 &&
                       (unsigned long long)json_object_get_int64(missing) <= whole.records - 1,
                   "missing %lld", (long long)json_object_get_int64(missing));
    }
    json_object_put(summary);
    return 0;
}
