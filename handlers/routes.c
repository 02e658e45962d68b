/*
 * routes.c — the one route table. 404 and 405 are decided from it by the
 * runtime (fcgi/router.h); /openapi.json is generated from it, so the
 * document can never drift from what is served.
 *
 * Order matters where a literal and a pattern overlap: /trainings/count
 * before /trainings/{id}, /train/{ws}/inspect before /train/{ws}/{job_id}.
 */
#include "handlers/handlers.h"

#include "handlers/events.h"
#include "handlers/spec.h"

#define KB (1024UL)
#define MB (1024UL * 1024UL)
/* Upload routes stream; their cap is the configured upload limit, checked
 * against this ceiling by the runtime (2 GiB). */
#define UPLOAD_LIMIT (2048UL * MB)

const route_t routes[] = {
    /* Akkio-compatible training API (seeds/002). */
    {"POST", "/api/v1/models/train/new", akkio_train_new, 64 * KB, DIALECT_AKKIO, ROUTE_AUTH,
     spec_fields_akkio, SPEC_FIELDS_AKKIO_COUNT},
    {"GET", "/api/v1/models/train/{task_id}/status", akkio_status, 0, DIALECT_AKKIO, ROUTE_AUTH,
     NULL, 0},
    {"GET", "/api/v1/models/train/{task_id}/result", akkio_result, 0, DIALECT_AKKIO, ROUTE_AUTH,
     NULL, 0},
    /* The status answer's location is relative to /api/v1, but the seed's
     * example shows it whole: a client joining it to the host lands here. */
    {"GET", "/models/train/{task_id}/result", akkio_result, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL,
     0},

    /* Datasets. */
    {"POST", "/api/v1/datasets", datasets_upload, UPLOAD_LIMIT, DIALECT_AKKIO,
     ROUTE_AUTH | ROUTE_STREAM_BODY, NULL, 0},
    {"GET", "/api/v1/datasets", datasets_list, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL, 0},
    {"GET", "/api/v1/datasets/{dataset_id}", datasets_show, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL,
     0},
    {"DELETE", "/api/v1/datasets/{dataset_id}", datasets_delete, 0, DIALECT_AKKIO, ROUTE_AUTH,
     NULL, 0},
    {"GET", "/api/v1/datasets/{dataset_id}/preview", datasets_preview, 0, DIALECT_AKKIO,
     ROUTE_AUTH, NULL, 0},

    /* Models. */
    {"GET", "/api/v1/models", models_list, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL, 0},
    {"GET", "/api/v1/models/{model_id}", models_show, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL, 0},
    {"PATCH", "/api/v1/models/{model_id}", models_update, 64 * KB, DIALECT_AKKIO, ROUTE_AUTH,
     models_update_fields, MODELS_UPDATE_FIELDS_COUNT},
    {"DELETE", "/api/v1/models/{model_id}", models_delete, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL,
     0},
    {"GET", "/api/v1/models/{model_id}/download", models_download, 0, DIALECT_AKKIO,
     ROUTE_AUTH | ROUTE_LONG, NULL, 0},
    /* JSON, XML or form up to 32 MB; text/csv streamed, as large as an upload;
     * a plain JSON batch read from its text (models_predict_plain). */
    {"POST", "/api/v1/models/{model_id}/predict", models_predict, 32 * MB, DIALECT_AKKIO,
     ROUTE_AUTH | ROUTE_STREAM_CSV | ROUTE_RAW_JSON, models_predict_fields,
     MODELS_PREDICT_FIELDS_COUNT},
    {"POST", "/api/v1/models/{model_id}/evaluate", models_evaluate, 64 * KB, DIALECT_AKKIO,
     ROUTE_AUTH | ROUTE_STREAM_CSV | ROUTE_LONG, models_evaluate_fields,
     MODELS_EVALUATE_FIELDS_COUNT},

    /* Live job updates (handlers/events.c): a stream holds a worker, so it
     * is capped pool-wide and short; ?ticket= for EventSource. */
    {"GET", "/api/v1/events", events_stream, 0, DIALECT_AKKIO,
     ROUTE_AUTH | ROUTE_LONG | ROUTE_TICKET, NULL, 0},
    {"POST", "/api/v1/events/ticket", events_ticket, 0, DIALECT_AKKIO, ROUTE_AUTH, NULL, 0},

    /* Akkio's legacy /v1 API (handlers/akkio_v1.c): the key may come as
     * api_key in the query or body; parameters from query, JSON or form,
     * validated by the handlers once merged. POST /v1/models both trains
     * (synchronously, parked) and predicts. */
    {"GET", "/v1/datasets", akkio_v1_datasets_get, 0, DIALECT_AKKIO_V1, ROUTE_KEY_IN_BODY, NULL,
     0},
    {"POST", "/v1/datasets", akkio_v1_datasets_post, 32 * MB, DIALECT_AKKIO_V1,
     ROUTE_KEY_IN_BODY, NULL, 0},
    {"DELETE", "/v1/datasets", akkio_v1_datasets_delete, 64 * KB, DIALECT_AKKIO_V1,
     ROUTE_KEY_IN_BODY, NULL, 0},
    {"GET", "/v1/models", akkio_v1_models_get, 0, DIALECT_AKKIO_V1, ROUTE_KEY_IN_BODY, NULL, 0},
    {"POST", "/v1/models", akkio_v1_models_post, 32 * MB, DIALECT_AKKIO_V1, ROUTE_KEY_IN_BODY,
     NULL, 0},
    {"DELETE", "/v1/models", akkio_v1_models_delete, 64 * KB, DIALECT_AKKIO_V1,
     ROUTE_KEY_IN_BODY, NULL, 0},

    /* Strapi-style trainings collection (seeds/000). */
    {"POST", "/trainings", trainings_create, 256 * KB, DIALECT_STRAPI, ROUTE_AUTH,
     trainings_fields, TRAININGS_FIELDS_COUNT},
    {"GET", "/trainings", trainings_list, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"GET", "/trainings/count", trainings_count, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"GET", "/trainings/{id}", trainings_show, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},
    {"PUT", "/trainings/{id}", trainings_update, 256 * KB, DIALECT_STRAPI, ROUTE_AUTH,
     trainings_fields, TRAININGS_FIELDS_COUNT},
    {"DELETE", "/trainings/{id}", trainings_delete, 0, DIALECT_STRAPI, ROUTE_AUTH, NULL, 0},

    /* Workspace jobs API (seeds/001). */
    {"GET", "/train/{workspace}", ws_list, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL, 0},
    {"POST", "/train/{workspace}", ws_submit, UPLOAD_LIMIT, DIALECT_WORKSPACE,
     ROUTE_AUTH | ROUTE_STREAM_BODY, NULL, 0},
    {"GET", "/train/{workspace}/inspect", ws_inspect, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL, 0},
    {"GET", "/train/{workspace}/build/{job_id}/logs", kaos_build_logs, 0, DIALECT_WORKSPACE,
     ROUTE_AUTH, NULL, 0},
    {"POST", "/train/{workspace}/{job_id}", ws_job_info, 64 * KB, DIALECT_WORKSPACE,
     ROUTE_AUTH, NULL, 0},
    {"GET", "/train/{workspace}/{job_id}", ws_job_info, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL,
     0},
    {"DELETE", "/train/{workspace}/{job_id}", ws_kill, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL,
     0},
    {"GET", "/train/{workspace}/{job_id}/bundle", ws_bundle, 0, DIALECT_WORKSPACE,
     ROUTE_AUTH | ROUTE_LONG, NULL, 0},
    {"GET", "/train/{workspace}/{model_id}/provenance", ws_provenance, 0, DIALECT_WORKSPACE,
     ROUTE_AUTH, NULL, 0},
    {"GET", "/train/{workspace}/{job_id}/logs", ws_logs, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL,
     0},

    /* KAOS: workspaces of the key's account, data and hyperparameter bundles. */
    {"GET", "/workspace", kaos_ws_list, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL, 0},
    {"POST", "/workspace/{name}", kaos_ws_create, 64 * KB, DIALECT_WORKSPACE, ROUTE_AUTH, NULL,
     0},
    {"GET", "/workspace/{name}", kaos_ws_show, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL, 0},
    {"DELETE", "/workspace/{name}", kaos_ws_delete, 0, DIALECT_WORKSPACE, ROUTE_AUTH, NULL, 0},
    {"POST", "/data/{workspace}/features", kaos_data_features, UPLOAD_LIMIT, DIALECT_WORKSPACE,
     ROUTE_AUTH | ROUTE_STREAM_BODY, NULL, 0},
    {"POST", "/data/{workspace}/params", kaos_data_params, UPLOAD_LIMIT, DIALECT_WORKSPACE,
     ROUTE_AUTH | ROUTE_STREAM_BODY, NULL, 0},
    {"GET", "/build/{workspace}/{job_id}/logs", kaos_build_logs, 0, DIALECT_WORKSPACE,
     ROUTE_AUTH, NULL, 0},

    /* trainyard's own. */
    {"GET", "/healthz", system_healthz, 0, DIALECT_PLAIN, ROUTE_NO_DB, NULL, 0},
    {"GET", "/metrics", system_metrics, 0, DIALECT_PLAIN, ROUTE_NO_DB, NULL, 0},
    {"GET", "/openapi.json", system_openapi, 0, DIALECT_PLAIN, ROUTE_NO_DB, NULL, 0},
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
