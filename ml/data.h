/*
 * data.h — the inside of ml_data_t (train.h), for the engine's modules.
 *
 * Columns in file order, each typed by column_type() at finish. Numeric
 * columns hold floats (NaN = missing); the others hold dictionary codes.
 * A spilled dataset (ml_data_spill) holds them on disk instead: read them
 * with spill_read, group by group; the columns' arrays are then empty.
 */
#ifndef TRAINYARD_ML_DATA_H
#define TRAINYARD_ML_DATA_H

#include "ml/column.h"
#include "ml/spill.h"
#include "ml/train.h"

struct ml_data {
    csv_reader_t *rd;
    char **names;              /* column names, NUL-terminated */
    column_t *cols;
    csv_type_t *types;         /* decided at finish */
    size_t n_cols;
    size_t n_rows;
    int finished;
    char *spill_dir;           /* ml_data_spill: where the page file goes */
    spill_t *spill;            /* non-NULL: the values live on disk (spill.h); the
                                  columns hold counters and dictionaries only */
    size_t group_rows;         /* rows held in memory between spills */
};

/* Index of the column named name, or -1. */
long ml_data_find(const ml_data_t *d, const char *name);

#endif
