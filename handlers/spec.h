/*
 * spec.h — turning what a client sent into a training spec.
 *
 * All three dialects reduce to one spec (DESIGN.md, "Training spec"):
 * {"dataset_id","predict_fields","ignore_fields","duration",
 *  "extra_attention","seed"?,"max_models"?,"task"?,"user"?}. Checking it
 * against the dataset's columns here, at submission, means a typo in a
 * field name is a 422 the client sees at once instead of a job that fails
 * a minute later.
 */
#ifndef TRAINYARD_SPEC_H
#define TRAINYARD_SPEC_H

#include <json-c/json.h>

#include "db/datasets.h"
#include "fcgi/request.h"
#include "fcgi/validate.h"

/* The spec's fields as a validator table; duration one of 10/60/300/1800.
 * duration_required distinguishes Akkio (required) from the others
 * (default 10). */
#define SPEC_FIELDS_AKKIO_COUNT 9 /* checked against the table in spec.c */
extern const field_spec_t spec_fields_akkio[];
extern const field_spec_t spec_fields_optional_duration[];
extern const size_t spec_fields_optional_duration_count;
/* trainyard.json in a workspace bundle: `dataset` names a CSV in the bundle. */
extern const field_spec_t spec_fields_bundle[];
extern const size_t spec_fields_bundle_count;

/* Builds a new spec from validated fields and checks it against the
 * workspace's dataset (loaded into *ds). where is the error path prefix
 * ("body", or "body/meta" for a spec carried inside a Strapi document).
 * Errors are 422 items naming the field. The returned spec is arena-owned. */
int spec_build(request_t *r, json_object *fields, const char *where, dataset_rec_t *ds,
               json_object **spec, err_t *e);

/* The Akkio "identical request" key: SHA-256 over the spec's canonical
 * form (fields sorted; force and user left out). Arena string. */
const char *spec_dedupe_key(request_t *r, json_object *spec);

/* Rewrites error paths that start with "body/" to start with prefix/
 * instead (validation of a nested document). */
void spec_rebase_errors(err_t *e, const char *prefix);

#endif
