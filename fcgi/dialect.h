/*
 * dialect.h — rendering an err_t in each API dialect's error shape.
 *
 *   DIALECT_AKKIO      422 -> {"detail":[{"loc":["body","duration"],"msg":"...","type":"..."}]}
 *                      other statuses -> {"detail":"<first message>"} (FastAPI's HTTPException)
 *   DIALECT_WORKSPACE  {"error_code":"<CODE>","message":"..."}; codes that are not already
 *                      upper case are mapped (404 -> "NOT_FOUND", 422 -> "INVALID_REQUEST", ...)
 *   DIALECT_STRAPI     {"code":<status>,"message":"..."}
 *   DIALECT_PLAIN      {"error":{"status":..,"code":"..","field":"..","message":"..",
 *                                "details":[...]}}
 *   DIALECT_AKKIO_V1   401 -> {"status":"missing or invalid API key"} (Akkio's legacy text);
 *                      else {"status":"error","message":"...","field":"rows.3.age"}
 *                      ("field" only when an item names one)
 *
 * For the dialects with one message, the message names the field:
 * "duration: Input should be 10, 60, 300 or 1800"; several items are joined
 * with "; ". Numeric path segments render as JSON integers in Akkio's loc.
 */
#ifndef TRAINYARD_DIALECT_H
#define TRAINYARD_DIALECT_H

#include <json-c/json.h>

#include "common/err.h"
#include "fcgi/request.h"

/* Returns a new JSON document (caller owns it) for e in dialect d. */
json_object *dialect_error_doc(dialect_t d, const err_t *e);

/* The HTTP status to send for e in dialect d (e.g. Akkio validation is 422
 * whatever status the validator chose; a bad JSON body is 422 for Akkio as
 * FastAPI does, and 400 elsewhere). */
int dialect_error_status(dialect_t d, const err_t *e);

#endif
