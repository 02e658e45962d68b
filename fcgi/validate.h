/*
 * validate.h — declarative field validation for decoded bodies.
 *
 * A route lists its fields as a static const table of field_spec_t. The
 * validator checks type, presence, allowed values, ranges and lengths, and
 * reports every problem at once as err_t items with pydantic v2 codes and
 * messages ("missing" / "Field required", "int_parsing" / "Input should be a
 * valid integer, unable to parse string as an integer", "literal_error" /
 * "Input should be 10, 60, 300 or 1800", ...) and paths "body/<field>[/i]".
 *
 * Scalars are converted in place as pydantic v2's lax mode does, for every
 * body ("10", 10.0 and true -> 10 for an integer; "yes", "on", 1 -> true
 * for a boolean; strings stay strict). Bodies decoded from XML or form data
 * carry only strings; with coerce set, a single value also becomes a
 * one-element array where an array is expected.
 */
#ifndef TRAINYARD_VALIDATE_H
#define TRAINYARD_VALIDATE_H

#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"

typedef enum field_type {
    FIELD_STRING,
    FIELD_INT,
    FIELD_NUMBER,
    FIELD_BOOL,
    FIELD_STRING_ARRAY,
    FIELD_OBJECT,
    FIELD_ARRAY,      /* array of anything (e.g. predict rows) */
    FIELD_ANY
} field_type_t;

enum field_flags {
    FIELD_REQUIRED = 1 << 0,
    FIELD_NULLABLE = 1 << 1,  /* JSON null accepted (and left as null) */
    FIELD_NONEMPTY = 1 << 2   /* strings/arrays must not be empty */
};

typedef struct field_spec {
    const char *name;
    field_type_t type;
    unsigned flags;
    double min, max;                   /* numeric range when min < max */
    const long long *allowed_ints;     /* FIELD_INT: the only values accepted */
    size_t n_allowed_ints;
    const char *const *allowed_strings;/* FIELD_STRING: the only values accepted */
    size_t n_allowed_strings;
    size_t max_len;                    /* strings: bytes; arrays: items; 0 = unlimited */
} field_spec_t;

/* Validates (and with coerce, converts) the fields of obj. Unknown fields
 * are left alone (the seeds' schemas allow additional properties). Returns 0
 * if valid, -1 with one item per problem added to e (status 422). A non-object
 * body is one error at path "body". */
int validate_body(json_object *obj, const field_spec_t *spec, size_t n, int coerce, err_t *e);

#endif
