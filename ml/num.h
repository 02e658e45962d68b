/*
 * num.h — number parsing and the cell predicates shared by the CSV reader,
 * type inference, training and prediction, so that a cell is read the same
 * way everywhere.
 */
#ifndef TRAINYARD_ML_NUM_H
#define TRAINYARD_ML_NUM_H

#include <stddef.h>

/* True (1) if the n bytes at p, surrounding spaces ignored, are one finite
 * decimal number ("12", "-3.5e2", ".5"); fills *out. No hex, inf or nan. */
int num_parse_double(const char *p, size_t n, double *out);
int num_parse_float(const char *p, size_t n, float *out);

/* Trims ASCII spaces and tabs from both ends; returns the new start. */
const char *num_trim(const char *p, size_t n, size_t *out_len);

/* 1 for true/yes, 0 for false/no (case-insensitive), -1 otherwise. */
int num_bool_word(const char *p, size_t n);

/* The shortest "%g" text, at 6 to 9 significant digits, that reads back
 * (strtof) as the same float: "0.1", "3", "0.941176474", "1.5e-07".
 * snprintf's contract: the length it needed, buf cut short (and
 * terminated) when n is smaller than that. NUM_FLOAT_TEXT_MAX always
 * holds it (sign, 9 digits, point, e-XX, NUL: 16). */
#define NUM_FLOAT_TEXT_MAX 24
int num_format_float(float v, char *buf, size_t n);

/* qsort and bsearch order of floats (ascending; not for NaN). */
int num_cmp_float(const void *a, const void *b);

#endif
