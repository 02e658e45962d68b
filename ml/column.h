/*
 * column.h — one CSV column as it is read: counters that decide its type,
 * and (when storing) its values, typed.
 *
 * A column stores floats while every non-missing cell is a number. At its
 * first non-numeric cell it switches to dictionary codes: the floats read so
 * far are turned back into text (shortest round-trip form) and interned, so
 * "1.50" read before the switch becomes level "1.5". Type inference (csv.h)
 * runs the same counters without storing, so both see the same type.
 *
 * Distinct texts are counted exactly up to COL_EXACT_DISTINCT; past that
 * both modes switch to a HyperLogLog estimate (4 KiB per column) fed with
 * the same set of texts, so they still agree. Inference keeps no more than
 * COL_EXACT_DISTINCT texts in its dictionary: its memory does not grow with
 * the file, which the dataset upload streams through it.
 */
#ifndef TRAINYARD_ML_COLUMN_H
#define TRAINYARD_ML_COLUMN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "ml/csv.h"
#include "ml/dict.h"

#define COL_MISSING UINT32_MAX        /* code of a missing cell */
#define COL_OVERFLOW (UINT32_MAX - 1) /* code of a level past the dictionary cap */
#define COL_DICT_CAP 1000000          /* distinct levels kept per column */
#define COL_EXACT_DISTINCT 2048       /* exact distinct count up to here, estimate beyond */

typedef struct column {
    unsigned long long n_missing;
    unsigned long long n_numeric;   /* non-missing cells that are numbers */
    unsigned long long n_text;      /* non-missing cells that are not */
    unsigned long long n_overflow;  /* text cells past the dictionary cap (storing) */
    unsigned long long n_spilled;   /* text cells inference did not intern (not storing) */
    size_t n_texts;                 /* distinct non-numeric texts interned (flag 0) */
    uint8_t *hll;                   /* HyperLogLog registers once n_texts reached
                                       COL_EXACT_DISTINCT, else NULL */
    dict_t dict;                    /* non-numeric texts (flag 0); numeric texts after the switch (flag 1) */
    int store;                      /* keep values */
    int is_codes;                   /* storage switched to codes */
    float *vals;                    /* while numeric: value or NaN per row */
    void *codes;                    /* after the switch: dict id, COL_MISSING or COL_OVERFLOW,
                                       code_bytes each: read with column_code() */
    unsigned code_bytes;            /* 1, 2 or 4: widened as the dictionary grows */
    size_t n, cap;                  /* rows stored */
} column_t;

/* Row i's code (a dict id, COL_MISSING or COL_OVERFLOW) of a column that
 * switched to codes. Codes take 1 byte while the dictionary has fewer than
 * 254 entries and 2 below 65534 (the top two values of each width stand
 * for missing and overflow): categories with few levels cost a quarter of
 * 4-byte codes (the memory bar). */
static inline uint32_t column_code(const column_t *c, size_t i)
{
    if (c->code_bytes == 4)
        return ((const uint32_t *)c->codes)[i];
    uint32_t v = c->code_bytes == 1 ? ((const uint8_t *)c->codes)[i]
                                    : ((const uint16_t *)c->codes)[i];
    uint32_t top = c->code_bytes == 1 ? 0xFFu : 0xFFFFu;
    return v + 1 >= top ? COL_MISSING - (top - v) : v; /* top: missing, top - 1: overflow */
}

void column_init(column_t *c, int store);
void column_free(column_t *c);
int column_add(column_t *c, const char *p, size_t n, err_t *e);
/* A type set by the client rather than inferred (ml_data_retype): the
 * stored values turned into codes (numbers as their shortest text, as at
 * the first text cell), or into numbers (a text that is not one: missing).
 * No-ops when the column already stores that way or stores nothing. */
int column_to_codes(column_t *c, err_t *e);
int column_to_numbers(column_t *c, err_t *e);
/* The type the counters decide (same rule for inference and training). */
csv_type_t column_type(const column_t *c);
/* Distinct non-numeric texts: exact up to COL_EXACT_DISTINCT, estimated beyond. */
double column_distinct(const column_t *c);

#endif
