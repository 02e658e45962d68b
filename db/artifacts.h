/*
 * artifacts.h — large blobs (datasets, bundles, models) stored in PostgreSQL.
 *
 * An artifact is a row in `artifacts` plus ordered chunks in
 * `artifact_chunks` (bytea, 64 KiB each, stored uncompressed). Writing
 * streams: the writer buffers one chunk and sends it with COPY, so neither
 * the API nor the trainer ever holds a whole file. Size and SHA-256 are
 * computed from the bytes actually written.
 *
 * The writer must run inside a transaction the caller opened (db_begin), so
 * that the artifact and the row that refers to it commit together or not at
 * all. No other statement may run on the connection between
 * db_artifact_begin and db_artifact_finish/abort (COPY is in progress).
 */
#ifndef TRAINYARD_DB_ARTIFACTS_H
#define TRAINYARD_DB_ARTIFACTS_H

#include <stddef.h>

#include "common/util.h"
#include "db/db.h"

typedef struct artifact_writer artifact_writer_t;

typedef struct artifact_info {
    char id[UUID_STR_LEN + 1];
    unsigned long long size;
    char sha256[SHA256_HEX_LEN + 1];
} artifact_info_t;

/* kind: "dataset", "bundle", "model". */
artifact_writer_t *db_artifact_begin(db_t *db, long long workspace_id, const char *kind,
                                     err_t *e);
int db_artifact_write(artifact_writer_t *w, const void *buf, size_t n, err_t *e);
/* Ends the COPY, records size and hash; frees w. */
int db_artifact_finish(artifact_writer_t *w, artifact_info_t *out, err_t *e);
/* Abandons the COPY (the caller then rolls back); frees w. */
void db_artifact_abort(artifact_writer_t *w);

/* Streams an artifact's bytes in order to sink. The workspace check is the
 * caller's (artifacts are reached through datasets/models/jobs). */
int db_artifact_read(db_t *db, const char *artifact_id,
                     int (*sink)(void *ctx, const void *buf, size_t n, err_t *e), void *ctx,
                     err_t *e);

/* Pull-style reading, for consumers that ask for bytes (libarchive via
 * bundle_extract): one chunk query at a time on db, so db must not be in a
 * COPY meanwhile (use a second connection to read while writing). */
typedef struct artifact_reader artifact_reader_t;
artifact_reader_t *db_artifact_open(db_t *db, const char *artifact_id, err_t *e);
/* Bytes placed in buf (up to n), 0 at the end, -1 with e filled. */
long db_artifact_pull(artifact_reader_t *r, void *buf, size_t n, err_t *e);
void db_artifact_close(artifact_reader_t *r);

/* Reads a whole (small) artifact into arena memory: models, specs. */
int db_artifact_load(db_t *db, arena_t *arena, const char *artifact_id, void **buf, size_t *n,
                     err_t *e);

/* Size and hash of an artifact (404 if missing). */
int db_artifact_stat(db_t *db, arena_t *arena, const char *artifact_id, artifact_info_t *out,
                     err_t *e);

#endif
