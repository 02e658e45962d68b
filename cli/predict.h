/*
 * predict.h — batch predictions from a CSV file, streamed.
 *
 * The input is read in chunks by the engine's own CSV reader (ml/csv.h, so
 * a file is parsed here exactly as the server would parse it), turned into
 * batches of rows posted as JSON to POST /api/v1/models/{id}/predict, and
 * each batch's answers are written out as CSV at once: the input columns,
 * then the prediction's (the predicted value and, for classes, one
 * probability column each). Memory is one batch, whatever the file's size.
 */
#ifndef TRAINYARD_CLI_PREDICT_H
#define TRAINYARD_CLI_PREDICT_H

#include <stdio.h>

#include "cli/http.h"
#include "cli/progress.h"
#include "common/err.h"

typedef struct cli_predict_opts {
    const char *model_id;     /* the model to ask */
    const char *input_name;   /* for messages: the file's name */
    size_t batch_rows;        /* rows per request (0: 1000) */
    cli_progress_t *progress; /* may be NULL; advanced by input bytes */
    double input_size;        /* bytes of input, for the bar (0: unknown) */
} cli_predict_opts_t;

/* Reads CSV from in, writes CSV to out; *rows counts the data rows
 * predicted. On error nothing more is written, and e says which lines of
 * the input the failing batch held. */
int cli_predict_csv(cli_http_t *h, const cli_predict_opts_t *o, FILE *in, FILE *out,
                    unsigned long long *rows, err_t *e);

/* Writes one CSV cell, quoted when it holds a comma, quote, CR or LF, or
 * starts or ends with a space (RFC 4180). */
void cli_csv_write_cell(FILE *out, const char *s, size_t n);

#endif
