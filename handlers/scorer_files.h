/*
 * scorer_files.h — the files of the official scorer that every model
 * download carries beside the booster (scorer/: trainyard_scorer.py and
 * its README, the preprocess.json schema). Built into the binary.
 */
#ifndef TRAINYARD_HANDLERS_SCORER_FILES_H
#define TRAINYARD_HANDLERS_SCORER_FILES_H

#include <stddef.h>

typedef struct scorer_file {
    const char *name;          /* the entry's name in the archive */
    const char *data;          /* static, read-only */
    size_t len;
} scorer_file_t;

#define SCORER_FILES_COUNT 2

/* Fills out[] with the scorer's files; returns SCORER_FILES_COUNT. */
size_t scorer_files_get(scorer_file_t out[SCORER_FILES_COUNT]);

#endif
