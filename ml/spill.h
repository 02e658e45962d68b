/*
 * spill.h — a dataset's columns on local disk, for data larger than the
 * training process's memory (ml/extmem.h).
 *
 * While the CSV streams in, the typed columns (column.h) fill as usual; in
 * spill mode ml/data.c hands them here every SPILL_GROUP_BYTES of values:
 * each column's values of those rows are appended to one page file (a row
 * group: for every column, its rows as floats or codes of the width it had
 * then) and the in-memory arrays start over. Memory stays one row group
 * plus the dictionaries, whatever the file's size. The column's counters
 * and dictionary are untouched, so types and levels are decided exactly as
 * in memory.
 *
 * A column may change representation after some of its groups were written
 * (a number column meeting its first text cell; a type the client set):
 * groups keep what they were written as and spill_read converts on the way
 * out (a float's shortest text looked up in the dictionary; a code's text
 * parsed as a number), so a reader always gets the column's current form.
 *
 * The file is unlinked as soon as it is open: nothing is left on disk when
 * the process ends, however it ends.
 */
#ifndef TRAINYARD_ML_SPILL_H
#define TRAINYARD_ML_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "ml/column.h"

#define SPILL_GROUP_BYTES ((size_t)8 << 20) /* values held in memory between writes */

typedef struct spill spill_t;

/* Number-column facts gathered as groups are written (what the in-memory
 * path computes from the whole column: constant and id-like checks). */
typedef struct spill_numstats {
    unsigned long long n;      /* non-missing values */
    float lo, hi;
    int all_int;
    int valid;                 /* 0: some group was written as codes */
} spill_numstats_t;

/* A page file in dir for n_cols columns. */
spill_t *spill_open(const char *dir, size_t n_cols, err_t *e);
void spill_free(spill_t *s);
/* Rows a group holds for n_cols columns (every column flushes together). */
size_t spill_group_rows(size_t n_cols);
/* Appends the in-memory values of every column (each holds the same n
 * rows) as one group and empties the columns. */
int spill_flush(spill_t *s, column_t *cols, err_t *e);
size_t spill_groups(const spill_t *s);
size_t spill_rows(const spill_t *s);
size_t spill_group_size(const spill_t *s, size_t g);      /* rows in group g */
unsigned long long spill_bytes(const spill_t *s);         /* page file size */
/* Column col's rows of group g in the column's current form: floats (NaN
 * missing) when !c->is_codes, else codes (COL_MISSING, COL_OVERFLOW) as
 * uint32_t. out holds spill_group_size(g) values. */
int spill_read(const spill_t *s, const column_t *c, size_t col, size_t g, void *out, err_t *e);
const spill_numstats_t *spill_numstats(const spill_t *s, size_t col);
/* 1 if number column col holds every integer of [lo, lo + rows) once (an
 * id: the in-memory path's "integer sequence" check), 0 if not, -1 on
 * error. One read of the column. */
int spill_is_sequence(const spill_t *s, const column_t *c, size_t col, err_t *e);
/* Every value written as a float of column col interned into c's
 * dictionary as a numeric text (flag 1), as column.c does with the floats
 * it holds when a column switches to codes. */
int spill_intern_floats(const spill_t *s, column_t *c, size_t col, err_t *e);

#endif
