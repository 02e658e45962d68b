/*
 * csv.h — streaming CSV reader and type inference (RFC 4180 + common practice).
 *
 * Fed chunks of any size, the reader hands complete records to a callback as
 * arrays of (pointer, length) cells pointing into its own buffer, valid only
 * during the call: no per-cell allocation. Quoted fields may hold commas,
 * doubled quotes and newlines. CRLF and LF line ends are both accepted; a
 * UTF-8 BOM at the start is skipped.
 *
 * The delimiter is sniffed from the header line: of ',' ';' tab '|', the
 * one that occurs most often outside quotes; a tie goes to the earlier in
 * that list, a header with none of them (one column) reads as ','. Data
 * rows do not vote: in a ';' file with decimal commas ("1,5;2") the rows
 * would, the header does not. csv_infer reports the choice.
 *
 * Refused, with the 1-based line number in the message and code
 * "csv_invalid" (400): a ragged row, a quote in an unquoted field or text
 * after a closing quote, an unterminated quote at EOF, no header, an empty
 * or duplicate column name, bytes that are not UTF-8, and limit breaches
 * (columns, line length: code "too_large", 413). A first row made only of
 * numbers counts as no header: a header names columns, and a row that
 * parses as numbers in every cell is far more often data (a headerless
 * export) than names; guessing would silently train on a misread file.
 * The error says so and how to fix it (a name with a letter: "y2019").
 *
 * csv_infer_* builds the dataset summary the API reports on upload:
 * row count and, per column, the type (number, category, boolean, string)
 * and the number of missing (empty, "NA", "NaN", "null") cells. The same
 * rules decide column types in the training engine, so a dataset is typed
 * the same everywhere.
 */
#ifndef TRAINYARD_CSV_H
#define TRAINYARD_CSV_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

typedef struct csv_limits {
    size_t max_columns;       /* default 4096 */
    size_t max_line_bytes;    /* one record, quotes included; default 1 MiB */
    unsigned long long max_rows; /* default 50,000,000 */
} csv_limits_t;

extern const csv_limits_t csv_limits_default;

typedef struct csv_cell {
    const char *ptr;          /* unquoted, unescaped content (not NUL-terminated) */
    size_t len;
} csv_cell_t;

/* Called once per record, header included (line = 1 for the header, the
 * physical line where the record starts otherwise). Return 0 to go on, -1
 * (with e filled) to stop. */
typedef int (*csv_record_fn)(void *ctx, const csv_cell_t *cells, size_t n, unsigned long long line,
                             err_t *e);

typedef struct csv_reader csv_reader_t;

csv_reader_t *csv_reader_new(const csv_limits_t *lim, csv_record_fn fn, void *ctx);
int csv_reader_feed(csv_reader_t *r, const char *buf, size_t n, err_t *e);
/* The delimiter sniffed from the header line (',' ';' '\t' '|'), or 0
 * while the header line is still incomplete. */
char csv_reader_delimiter(const csv_reader_t *r);
/* Fixes the delimiter (',' ';' '\t' '|') instead of sniffing it: for text
 * that must be read the way a stored dataset was (an append). Only before
 * the first byte is fed; -1 otherwise or for another character. */
int csv_reader_set_delimiter(csv_reader_t *r, char d);
/* The sniffing rule on its own, over the text of a header line (stops at
 * the first line end outside quotes). */
char csv_sniff_delimiter(const char *line, size_t n);
/* Flushes the last record (a missing final newline is fine). */
int csv_reader_finish(csv_reader_t *r, err_t *e);
void csv_reader_free(csv_reader_t *r);

/* --- inference -------------------------------------------------------- */

typedef enum csv_type { CSV_NUMBER, CSV_CATEGORY, CSV_BOOLEAN, CSV_STRING } csv_type_t;

const char *csv_type_name(csv_type_t t); /* "number", "category", "boolean", "string" */
/* The type as Akkio names it in stats[].field_type: boolean is "category". */
const char *csv_type_akkio_name(csv_type_t t);

/* True if the cell counts as missing (empty, NA, N/A, NaN, null, None,
 * case-insensitive, surrounding spaces ignored). */
int csv_cell_is_missing(const char *p, size_t n);

typedef struct csv_infer csv_infer_t;

csv_infer_t *csv_infer_new(const csv_limits_t *lim);
int csv_infer_feed(csv_infer_t *ci, const char *buf, size_t n, err_t *e);
/* Finishes and returns {"rows": N, "delimiter": ",", "fields":
 * [{"name","type","missing"}]} (text columns also "distinct", and
 * "distinct_estimated" past COL_EXACT_DISTINCT values)
 * (caller owns it). A CSV with a header but no data rows is refused. */
int csv_infer_finish(csv_infer_t *ci, json_object **summary, err_t *e);
void csv_infer_free(csv_infer_t *ci);

#endif
