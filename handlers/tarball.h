/*
 * tarball.h — a tar.gz written straight into the HTTP response.
 *
 * Model downloads and workspace bundle downloads are archives of
 * artifacts that may be large (a dataset); libarchive writes through a
 * callback into req_reply_write, so entries stream from PostgreSQL to the
 * client chunk by chunk. Entry sizes must be known up front (tar headers),
 * which they are: artifacts record their size.
 */
#ifndef TRAINYARD_TARBALL_H
#define TRAINYARD_TARBALL_H

#include <stddef.h>

#include "db/db.h"
#include "fcgi/request.h"

typedef struct tarball tarball_t;

/* Starts a 200 response of type application/gzip with a
 * Content-Disposition naming filename. NULL with e filled on failure
 * (nothing sent yet). */
tarball_t *tarball_begin(request_t *r, const char *filename, err_t *e);

/* name (a column name, say) made fit for one path segment: letters,
 * digits, '-', '_' and '.' kept, anything else '_', never "." or "..";
 * at most 100 bytes. In arena. */
/* The same as a zip (application/zip) when zip is 1: what KAOS's client
 * unpacks. Entries stream the same way. */
tarball_t *tarball_begin_as(request_t *r, const char *filename, int zip, err_t *e);

const char *tarball_safe_name(arena_t *arena, const char *name);

/* Adds a file from memory. */
int tarball_add_bytes(tarball_t *t, const char *path, const void *buf, size_t n, err_t *e);

/* Adds a file of a known size whose bytes the caller then writes with
 * tarball_write (exactly size bytes in all). */
/* Paths are relative, without "." or ".." segments or empty ones (else a
 * 500: the caller built a bad path). */
int tarball_add_header(tarball_t *t, const char *path, size_t size, err_t *e);
int tarball_write(tarball_t *t, const void *buf, size_t n, err_t *e);

/* Adds a file whose bytes are an artifact (streamed). */
int tarball_add_artifact(tarball_t *t, db_t *db, const char *path, const char *artifact_id,
                         err_t *e);

/* Finishes the archive and the response; frees t. After an error mid-way
 * the response is already started: the archive is cut short, and the
 * client sees a truncated gzip stream rather than a valid partial file. */
int tarball_end(tarball_t *t, err_t *e);

#endif
