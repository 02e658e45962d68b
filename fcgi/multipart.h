/*
 * multipart.h — streaming multipart/form-data parser.
 *
 * Fed the body in chunks of any size (a boundary may straddle two chunks),
 * it calls back at each part's start with the part's name, filename and
 * content type, with the part's data in pieces, and at each part's end. No
 * part is ever held whole, so a 500 MB file part costs a few kilobytes.
 */
#ifndef TRAINYARD_MULTIPART_H
#define TRAINYARD_MULTIPART_H

#include <stddef.h>

#include "common/err.h"

typedef struct multipart_callbacks {
    /* A new part. Strings are valid only during the call. Return -1 (with e
     * filled) to stop parsing. */
    int (*part_begin)(void *ctx, const char *name, const char *filename,
                      const char *content_type, err_t *e);
    int (*part_data)(void *ctx, const char *buf, size_t n, err_t *e);
    int (*part_end)(void *ctx, err_t *e);
} multipart_callbacks_t;

typedef struct multipart multipart_t;

/* Reads the boundary from a full Content-Type header. NULL with e filled
 * (400 "multipart_invalid") if there is none or it is malformed. Free with
 * multipart_free. */
multipart_t *multipart_new(const char *content_type, const multipart_callbacks_t *cb,
                           void *ctx, size_t max_parts, size_t max_header_bytes, err_t *e);

/* Feeds the next chunk. Returns 0, or -1 with e filled (malformed input or a
 * callback's error). */
int multipart_feed(multipart_t *mp, const char *buf, size_t n, err_t *e);

/* Call at the end of the body: -1 unless the closing boundary was seen. */
int multipart_finish(multipart_t *mp, err_t *e);

void multipart_free(multipart_t *mp);

#endif
