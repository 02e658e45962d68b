/*
 * table.c — aligned text tables (see table.h).
 *
 * Cells live in one growing array of strdup'ed strings, row after row;
 * tables here are a few hundred rows at most (a leaderboard, a listing).
 */
#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

struct cli_table {
    size_t ncols;
    size_t nrows;      /* header row included */
    size_t cap;        /* cells allocated */
    char **cells;      /* nrows * ncols, owned */
};

static int table_push(cli_table_t *t, const char *const *cells)
{
    if ((t->nrows + 1) * t->ncols > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : t->ncols * 16;
        char **c = realloc(t->cells, cap * sizeof(*c));
        if (c == NULL)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = strdup(cells[i] != NULL ? cells[i] : "");
        if (s == NULL)
            return -1;
        /* Tabs and newlines would break the alignment of every later row. */
        for (char *q = s; *q; q++)
            if (*q == '\n' || *q == '\r' || *q == '\t')
                *q = ' ';
        t->cells[t->nrows * t->ncols + i] = s;
    }
    t->nrows++;
    return 0;
}

cli_table_t *cli_table_new(size_t ncols, const char *const *headers)
{
    cli_table_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    if (table_push(t, headers) != 0) {
        cli_table_free(t);
        return NULL;
    }
    return t;
}

int cli_table_add(cli_table_t *t, const char *const *cells)
{
    return table_push(t, cells);
}

/* A cell reads as a number: then it is right-aligned. */
static int table_numeric(const char *s)
{
    if (*s == '\0')
        return 0;
    char *end;
    strtod(s, &end);
    return *end == '\0' || (*end == '%' && end[1] == '\0');
}

void cli_table_print(const cli_table_t *t, FILE *out)
{
    size_t *w = calloc(t->ncols, sizeof(*w));
    if (w == NULL)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            int last = c + 1 == t->ncols;
            if (r > 0 && table_numeric(s))
                fprintf(out, "%*s%s", (int)w[c], s, last ? "\n" : "  ");
            else if (last)
                fprintf(out, "%s\n", s);
            else
                fprintf(out, "%-*s  ", (int)w[c], s);
        }
    }
    if (t->nrows == 1)
        fputs("(none)\n", out);
    free(w);
}

void cli_table_free(cli_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
