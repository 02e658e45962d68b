/*
 * train.h — `trainyard train`: submit a training, optionally wait for it
 * with a progress bar and ETA, and on Ctrl-C ask whether to kill it.
 */
#ifndef TRAINYARD_CLI_TRAIN_H
#define TRAINYARD_CLI_TRAIN_H

#include "cli/session.h"

typedef struct cli_train_opts {
    const char *source;        /* a CSV file, a dataset id or a dataset name */
    const char *name;          /* dataset name when source is a file (NULL: file name) */
    json_object *targets;      /* array of field names (borrowed) */
    json_object *ignore;       /* array of field names (borrowed) */
    long duration;             /* seconds of budget */
    int extra_attention, force, wait;
    json_object *extra;        /* more members of the spec, from --set (borrowed) */
} cli_train_opts_t;

/* Returns the exit code (0, 1, or 130 when interrupted and left running). */
int cli_train_run(cli_session_t *s, const cli_train_opts_t *o, err_t *e);

/* Waits for task_id to end (bar on the terminal, Ctrl-C asks to kill);
 * *doc is its result when it succeeded (caller owns). */
int cli_train_wait(cli_session_t *s, const char *task_id, json_object **doc, err_t *e);

#endif
