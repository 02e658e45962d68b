/*
 * table.h — plain-text tables for the terminal client's human output.
 *
 * Rows are added as strings (copied); print aligns every column to its
 * widest cell, numbers right-aligned. Column count is fixed at creation.
 */
#ifndef TRAINYARD_CLI_TABLE_H
#define TRAINYARD_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct cli_table cli_table_t;

/* headers: ncols column titles (copied). NULL on out-of-memory. */
cli_table_t *cli_table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (NULL cells print as ""). */
int cli_table_add(cli_table_t *t, const char *const *cells);
/* Prints the table; "(none)" under the headers when it has no rows. */
void cli_table_print(const cli_table_t *t, FILE *out);
void cli_table_free(cli_table_t *t);

#endif
