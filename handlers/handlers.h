/*
 * handlers.h — every route handler and body field table, for the route
 * table (handlers/routes.c). One file per resource family implements them.
 * All handlers share route_fn's signature: 0 after replying, -1 with r->err.
 */
#ifndef TRAINYARD_HANDLERS_H
#define TRAINYARD_HANDLERS_H

#include <stddef.h>

#include "db/jobs.h"
#include "fcgi/request.h"
#include "fcgi/router.h"
#include "fcgi/validate.h"

/* routes.c */
extern const route_t routes[];
extern const size_t routes_count;

/* akkio.c — seeds/002 */
int akkio_train_new(request_t *r);
int akkio_status(request_t *r);
int akkio_result(request_t *r);
/* Shared with akkio_v1.c: the result document of a succeeded job (the
 * seed's key order; arena-owned), and the text saying why a job failed. */
json_object *akkio_result_doc(request_t *r, const job_t *job);
const char *akkio_failure_text(const job_t *job);

/* akkio_v1.c — Akkio's legacy /v1 API (datasets and models) */
int akkio_v1_datasets_get(request_t *r);
int akkio_v1_datasets_post(request_t *r);
int akkio_v1_datasets_delete(request_t *r);
int akkio_v1_models_get(request_t *r);
int akkio_v1_models_post(request_t *r);
int akkio_v1_models_delete(request_t *r);

/* datasets.c */
int datasets_upload(request_t *r);
int datasets_list(request_t *r);
int datasets_show(request_t *r);
int datasets_delete(request_t *r);
int datasets_preview(request_t *r); /* dataset_preview.c */

/* models.c */
/* Table sizes are macros so that the static route table can use them;
 * models.c and trainings.c check them with _Static_assert. */
#define MODELS_PREDICT_FIELDS_COUNT 3
#define MODELS_LEGACY_FIELDS_COUNT 5
#define MODELS_UPDATE_FIELDS_COUNT 3
#define MODELS_EVALUATE_FIELDS_COUNT 1
#define TRAININGS_FIELDS_COUNT 9
extern const field_spec_t models_predict_fields[];
extern const field_spec_t models_legacy_fields[];
extern const field_spec_t models_update_fields[];
extern const field_spec_t models_evaluate_fields[];
int models_evaluate(request_t *r);
int models_list(request_t *r);
int models_show(request_t *r);
int models_update(request_t *r);
int models_delete(request_t *r);
int models_download(request_t *r);
int models_predict(request_t *r);
int models_predict_legacy(request_t *r);

/* trainings.c — seeds/000 */
extern const field_spec_t trainings_fields[];
int trainings_create(request_t *r);
int trainings_list(request_t *r);
int trainings_count(request_t *r);
int trainings_show(request_t *r);
int trainings_update(request_t *r);
int trainings_delete(request_t *r);

/* workspace.c — seeds/001 */
int ws_list(request_t *r);
int ws_inspect(request_t *r);
int ws_submit(request_t *r);
int ws_job_info(request_t *r);
int ws_bundle(request_t *r);
int ws_provenance(request_t *r);
int ws_logs(request_t *r);
int ws_kill(request_t *r);

/* KAOS's workspaces, data and hyperparameter bundles, build logs
 * (handlers/kaos.c). */
int kaos_ws_list(request_t *r);
int kaos_ws_create(request_t *r);
int kaos_ws_show(request_t *r);
int kaos_ws_delete(request_t *r);
int kaos_data_features(request_t *r);
int kaos_data_params(request_t *r);
int kaos_build_logs(request_t *r);

/* system.c */
int system_healthz(request_t *r);
int system_metrics(request_t *r);
/* openapi.c — the document, generated from routes[] and the field tables */
int system_openapi(request_t *r);
json_object *openapi_document(arena_t *arena); /* caller owns the result */
/* 0 when every route of table has a documentation row and every row a
 * route (operationIds unique); -1 with why filled otherwise. */
int openapi_check(const route_t *table, size_t n, char *why, size_t why_len);

#endif
