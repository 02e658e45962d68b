/*
 * body_internal.h — pieces shared by the body decoders (fcgi/body*.c only).
 *
 * Form, multipart and XML all build an object from (name, value) pairs where
 * a repeated name, or a name written "k[]", turns into an array. This is the
 * one place that rule lives.
 */
#ifndef TRAINYARD_BODY_INTERNAL_H
#define TRAINYARD_BODY_INTERNAL_H

#include <json-c/json.h>

#include "common/err.h"

/* Adds value (ownership taken) under name in obj. A name ending in "[]" is
 * stored without the brackets and always as an array; a repeated name turns
 * the existing value into an array. Counts one field per call in *fields and
 * fails with 413 "too_large" past max_fields (value is released then). */
int body_tree_add(json_object *obj, const char *name, json_object *value, int *fields,
                  int max_fields, const char *what, err_t *e);

#endif
