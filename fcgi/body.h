/*
 * body.h — request body decoders: JSON, XML, form and multipart into one tree.
 *
 * Every decoder produces a json_object tree (an object at the top) so that
 * validation and handlers see one shape whatever the client sent:
 *
 *   application/json                   parsed by json-c (depth capped)
 *   application/xml, text/xml          <item><field>value</field>...</item>
 *                                      (the root's name is free; a child with
 *                                      children becomes an object, repeated
 *                                      names or <x><item>..</item><item>..</item></x>
 *                                      become an array; all leaves are strings)
 *   application/x-www-form-urlencoded  a=1&b=2; repeated keys or "k[]" -> array;
 *                                      a body that starts with '{' is JSON (the
 *                                      Strapi seed's own curl example sends JSON
 *                                      under this content type)
 *   multipart/form-data                non-file parts as strings (file parts are
 *                                      refused here: routes that take files stream
 *                                      them with multipart.h)
 *
 * Limits are enforced while decoding; violations are 4xx errors naming the
 * limit. XML is parsed with no DTD, no entity substitution and no network:
 * any DOCTYPE is refused outright.
 */
#ifndef TRAINYARD_BODY_H
#define TRAINYARD_BODY_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/arena.h"
#include "common/err.h"

typedef struct body_limits {
    size_t max_bytes;   /* whole body */
    int max_depth;      /* nesting of objects/arrays/elements */
    int max_fields;     /* JSON: keys + array items; form/XML: name-value pairs
                           (a repeated name becomes one key and an array) */
} body_limits_t;

extern const body_limits_t body_limits_default; /* 1 MiB, depth 16, 10,000 fields */

typedef enum body_format {
    BODY_JSON,
    BODY_XML,
    BODY_FORM,
    BODY_MULTIPART,
    BODY_UNSUPPORTED
} body_format_t;

/* Maps a lowercased media type (without parameters) to a format. */
body_format_t body_format_of(const char *media_type);

/* Each decoder takes the complete body (buf, n) and returns a new tree in
 * *out (caller owns it: json_object_put, or arena_defer in a request).
 * Errors: 400 with code "json_invalid" / "xml_invalid" / "form_invalid" /
 * "multipart_invalid", 413 "too_large" for limit breaches. */
int body_decode_json(const char *buf, size_t n, const body_limits_t *lim, json_object **out,
                     err_t *e);
int body_decode_xml(const char *buf, size_t n, const body_limits_t *lim, json_object **out,
                    err_t *e);
int body_decode_form(const char *buf, size_t n, const body_limits_t *lim, json_object **out,
                     err_t *e);
/* content_type is the full header (the boundary is read from it). */
int body_decode_multipart(const char *buf, size_t n, const char *content_type,
                          const body_limits_t *lim, json_object **out, err_t *e);

/* Dispatches on media_type; 415 "unsupported_media_type" for anything else. */
int body_decode(const char *media_type, const char *content_type, const char *buf, size_t n,
                const body_limits_t *lim, json_object **out, int *untyped, err_t *e);

#endif
