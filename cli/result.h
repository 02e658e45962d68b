/*
 * result.h — a training result as tables on the terminal: per predicted
 * field, the task and why, the chosen model and its validation metrics,
 * the leaderboard of candidates (the chosen family marked), per-class or
 * regression statistics, and the most important fields.
 */
#ifndef TRAINYARD_CLI_RESULT_H
#define TRAINYARD_CLI_RESULT_H

#include <stdio.h>

#include <json-c/json.h>

/* doc: the answer of GET /api/v1/models/train/{task_id}/result. At most
 * top candidates are listed (0: all). */
void cli_result_print(FILE *out, json_object *doc, size_t top);

#endif
