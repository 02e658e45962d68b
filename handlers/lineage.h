/*
 * lineage.h — where a model came from, as every dialect's model view shows
 * it: the job (id, dialect, state, who, when, the training spec as stored),
 * the dataset (id, name, SHA-256, rows, bytes, delimiter; kept after the
 * dataset is deleted, marked so) and, for a user-code job, the code
 * bundle (id, SHA-256, bytes).
 */
#ifndef TRAINYARD_HANDLERS_LINEAGE_H
#define TRAINYARD_HANDLERS_LINEAGE_H

#include <json-c/json.h>

#include "fcgi/request.h"

/* The lineage of a model of the request's workspace, in *out (a new
 * object: the caller adds it to a document, which then owns it). 404
 * "not_found" in r->err when unknown. */
int lineage_of_model(request_t *r, const char *model_id, json_object **out);

/* The lineages of a listing's models in one query: out[i] (a new object,
 * or NULL when ids[i] is no model of the workspace) for each of the n
 * ids. The caller adds each to a document, which then owns it. */
int lineage_of_models(request_t *r, const char *const *ids, size_t n, json_object **out);

/* The same for a listing of n records of stride bytes whose model id is the
 * char array at id_offset in each (offsetof(model_rec_t, id)): the
 * lineages in an array from the request's arena, or NULL on error (in
 * r->err). */
json_object **lineage_of_listing(request_t *r, const void *records, size_t n, size_t stride,
                                 size_t id_offset);

/* For each of n jobs, the models it trained as an array of
 * {"id", "predict_field", "lineage"} (predict-field order), or NULL for a
 * job without models (yet) or none (NULL id). */
int lineage_of_jobs(request_t *r, const char *const *job_ids, size_t n, json_object **out);

#endif
