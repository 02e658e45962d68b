/*
 * kaos.h — KAOS's bundles: source code, data and hyperparameters.
 *
 * KAOS (seeds/001) sends each as a zip of a folder. The same walk as
 * trainyard's own bundles (bundle.h: only regular files and directories,
 * no traversal, entries, bytes and ratio capped) reads them; this module
 * checks their layout with KAOS's own messages and extracts them into a
 * directory for the sandbox runner.
 *
 *   code    one root folder: Dockerfile, model/{__init__.py, requirements.txt,
 *           train}
 *   data    one root folder: training/ (required), validation/, test/ of CSVs
 *   params  JSON files (objects), one run each, anywhere in the archive;
 *           their base names must differ
 */
#ifndef TRAINYARD_BUNDLE_KAOS_H
#define TRAINYARD_BUNDLE_KAOS_H

#include <stdio.h>

#include <json-c/json.h>

#include "bundle/bundle.h"

typedef enum { KAOS_CODE, KAOS_DATA, KAOS_PARAMS } kaos_kind_t;

#define KAOS_NAME_MAX 256
#define KAOS_PARAM_MAX (64 * 1024)   /* one hyperparameter file */

typedef struct kaos_scan {
    int zip;                         /* the archive was a zip */
    int spec_bundle;                 /* trainyard.json at the root: not KAOS's */
    char root[KAOS_NAME_MAX];        /* code, data: the root folder */
    json_object *files;              /* params: [{"name","path","params"}] (caller owns) */
    json_object *folders;            /* data: the subfolders present, e.g. ["training"] */
    size_t entries;
    unsigned long long total_bytes;
} kaos_scan_t;

/* Reads a whole bundle and checks it as kind. For KAOS_CODE, a bundle with
 * trainyard.json at its root is not checked further: spec_bundle = 1 (the
 * caller treats it as trainyard's own). Errors: 400 "INVALID_BUNDLE" with
 * KAOS's messages ("Bundle must be non-empty", "Too many directories in
 * source-code bundle", "Missing Dockerfile in source-code bundle", "Missing
 * model directory in source-code bundle", ...), or the walk's own. */
int kaos_bundle_scan(bundle_read_fn read_fn, void *ctx, kaos_kind_t kind, kaos_scan_t *out,
                     err_t *e);

#define KAOS_GRID_MAX_RUNS 1000        /* combinations of one grid */
#define KAOS_GRID_MAX_BYTES (1 << 20)  /* the grid document */

/* KAOS's own hyperparameter upload: its client sends a JSON object of
 * parameter -> list of values (`kaos train deploy -h params.json`), and
 * its backend makes one run of every combination, each a file named
 * "k1=v1_k2=v2.json" (backend controllers/data.py, util/helpers.py
 * product_dict). Expands json (len bytes) into *runs (caller owns), an
 * array of the combinations' objects in KAOS's order (the last parameter
 * varies fastest), and, when zip is not NULL and the grid is not empty, a
 * zip of them under the folder `folder` written to zip (a params bundle
 * kaos_bundle_scan reads; a name KAOS's way would not be safe or unique
 * gets "~<run>" added). A scalar counts as a list of one value. `{}` is
 * the empty grid: *runs = [{}] and nothing is written (KAOS's client sends
 * it when a deploy has no hyperparameters). Errors: 400 "INVALID_BUNDLE"
 * naming the parameter (an empty list, not a JSON object, more than
 * KAOS_GRID_MAX_RUNS runs), 413 beyond KAOS_GRID_MAX_BYTES. */
int kaos_params_grid(const char *json, size_t len, const char *folder, FILE *zip,
                     json_object **runs, err_t *e);

/* 1 when the bytes (a prefix of an upload) begin a JSON document rather
 * than an archive: the first non-blank byte is '{'. */
int kaos_params_is_grid(const char *buf, size_t n);

/* Extracts every entry under the directory dirfd (created files are new:
 * O_EXCL, never following a link; directories 0755, files 0644, and
 * <root>/model/train 0755). Same checks as the scan. */
int kaos_bundle_extract(bundle_read_fn read_fn, void *ctx, int dirfd, err_t *e);

#endif
