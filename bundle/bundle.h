/*
 * bundle.h — source bundles of the workspace dialect (tar.gz or zip, via
 * libarchive).
 *
 * A bundle holds trainyard.json (the training spec, with "dataset" naming a
 * CSV inside the bundle) and optional code. It is untrusted input: only
 * regular files and directories are accepted (no links, devices, fifos),
 * no absolute paths or ".." segments, at most max_entries entries, and the
 * bytes actually read (not the headers' claims) are capped in total and
 * against the compressed size (bomb ratio).
 *
 * The API inspects a bundle while streaming it into PostgreSQL (the reader
 * pulls chunks from the request body); the trainer later extracts the one
 * CSV it needs, again from a stream.
 */
#ifndef TRAINYARD_BUNDLE_H
#define TRAINYARD_BUNDLE_H

#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "common/err.h"

struct archive;

/* Lets reader a open exactly what bundle uploads accept: tar, plain or
 * compressed with gzip or xz, decoded in-process (never a filter that runs
 * an external program, as libarchive's "all" would allow). 0, or -1. */
int bundle_archive_formats(struct archive *a);

typedef struct bundle_limits {
    size_t max_entries;          /* default 1000 */
    unsigned long long max_total;/* uncompressed bytes, default 2 GiB */
    double max_ratio;            /* uncompressed / compressed, default 200 */
    size_t max_spec_bytes;       /* trainyard.json, default 64 KiB */
} bundle_limits_t;

extern const bundle_limits_t bundle_limits_default;

/* Pulls the next compressed chunk: returns bytes placed in buf, 0 at EOF,
 * -1 with e filled. Used for both inspection and extraction. */
typedef ssize_t (*bundle_read_fn)(void *ctx, void *buf, size_t n, err_t *e);

typedef struct bundle_info {
    json_object *spec;           /* parsed trainyard.json (caller owns) */
    char dataset_path[512];      /* normalised path of the dataset named by spec */
    unsigned long long dataset_bytes;
    size_t entries;
    unsigned long long total_bytes;
    unsigned long long compressed_bytes;
} bundle_info_t;

/* Reads the whole bundle through read_fn, validating every entry, and parses
 * trainyard.json. Errors are 400 with code "bundle_invalid" and a message
 * naming the entry ("entry \"../x\": path escapes the bundle"), or 413
 * "too_large". */
int bundle_inspect(bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                   bundle_info_t *out, err_t *e);

/* Streams the content of the entry at path to sink (in chunks), enforcing
 * the same limits. -1 with e filled if the entry is missing or unsafe. */
int bundle_extract(bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                   const char *path,
                   int (*sink)(void *sink_ctx, const void *buf, size_t n, err_t *e),
                   void *sink_ctx, err_t *e);

/* Visits each entry of a bundle (after the same checks as inspection, in
 * archive order; the root "./" is not visited): path is normalised, is_dir
 * tells a directory. For a file, the visitor may set *sink (and *sink_ctx)
 * to receive its bytes as read; the sink is then called once more with
 * (NULL, 0) at the entry's end. Returning -1 (e filled) stops the walk. */
typedef int (*bundle_visit_fn)(void *ctx, const char *path, int is_dir,
                               int (**sink)(void *sink_ctx, const void *buf, size_t n, err_t *e),
                               void **sink_ctx, err_t *e);

typedef struct bundle_walk_stats {
    size_t entries;
    unsigned long long total_bytes;
    unsigned long long compressed_bytes;
    int zip;                     /* 1: the archive was a zip */
} bundle_walk_stats_t;

/* Walks the whole bundle (the source is read to its end). stats may be NULL. */
int bundle_walk(bundle_read_fn read_fn, void *ctx, const bundle_limits_t *lim,
                bundle_visit_fn visit, void *visit_ctx, bundle_walk_stats_t *stats, err_t *e);

#endif
