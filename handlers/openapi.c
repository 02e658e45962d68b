/*
 * openapi.c — /openapi.json, generated from the route table, the body field
 * tables and the dialects' error renderer, so that it cannot drift from what
 * is served.
 *
 * What the tables cannot say (an operation's name and summary, its query
 * parameters, the media types a streamed body takes, the shape of a good
 * answer) is kept here, in one row per route keyed by method and pattern.
 * openapi_check() (run by the unit tests) refuses a route without a row and
 * a row without a route, so a new route cannot be served undocumented. The
 * rest is derived: path parameters from the pattern; request schemas from
 * the field tables (type, required, enum, range, length, nullable); the
 * error answers each route can give from its flags (401/403 with a key, 404
 * with a path parameter, 413 with a body, 422 with fields, 503 with the
 * database), in its dialect's schema, with an example rendered by the very
 * function that renders real errors (fcgi/dialect.h).
 *
 * The generated document is validated by @apidevtools/swagger-parser and
 * Redocly, and a typed client generated from it calls the stack
 * (tests/e2e/test_openapi.py, tests/openapi/).
 */
#include "handlers/handlers.h"

#include <stdio.h>
#include <string.h>

#include "fcgi/dialect.h"
#include "handlers/support.h"

/* Request bodies a route takes, beyond its field table (which gives JSON,
 * XML and form with the table's schema). */
enum openapi_body {
    OA_CSV = 1 << 0,        /* text/csv upload */
    OA_MULTIPART = 1 << 1,  /* multipart/form-data with a file part */
    OA_BUNDLE = 1 << 2,     /* a tar.gz or zip bundle (application/gzip, application/zip) */
    OA_JSON_ANY = 1 << 3,   /* a JSON object checked by the handler itself */
    OA_FORM_ANY = 1 << 4,   /* ... also as form fields */
    /* not bodies: answers beyond what the route's flags imply */
    OA_ACCESS = 1 << 5,     /* refused by an access policy (/metrics: 401, 403) */
    OA_UNHEALTHY = 1 << 6   /* 503 with the route's own answer (/healthz) */
};

typedef struct openapi_param {
    const char *name;
    const char *type;   /* "string" | "integer" | "boolean" */
    long long min, max; /* integer range when min < max */
    const char *description;
} openapi_param_t;

typedef struct openapi_doc {
    const char *method, *pattern;
    const char *operation_id;
    const char *summary;
    const openapi_param_t *query; /* terminated by a NULL name; NULL = none */
    unsigned body;                /* openapi_body flags */
    int status;                   /* the success status */
    const char *media;            /* its content type; NULL = application/json */
    const char *schema;           /* components/schemas name of the answer; NULL = any object */
} openapi_doc_t;

#define Q_END {NULL, NULL, 0, 0, NULL}

static const openapi_param_t q_wait[] = {
    {"wait", "integer", 0, 240,
     "seconds to wait for a final state before answering (answers at once when it is final)"},
    Q_END};
static const openapi_param_t q_dataset_upload[] = {
    {"name", "string", 0, 0, "the dataset's name (default: the uploaded file's, or \"dataset\")"},
    Q_END};
static const openapi_param_t q_dataset_list[] = {
    {"limit", "integer", 1, 1000, "datasets per page (default 100)"},
    {"offset", "integer", 0, 1LL << 40, "datasets to skip"},
    Q_END};
static const openapi_param_t q_preview[] = {
    {"rows", "integer", 1, 200, "rows to show (default 20)"},
    Q_END};
static const openapi_param_t q_predict[] = {
    {"explain", "boolean", 0, 0, "add each field's contribution to every prediction"},
    {"strict", "boolean", 0, 0,
     "refuse (422) unknown fields, unseen category levels and absent fields instead of "
     "warning about them"},
    Q_END};
static const openapi_param_t q_model_list[] = {
    {"limit", "integer", 1, 1000, "models per page (default 100)"},
    {"offset", "integer", 0, 1LL << 40, "models to skip"},
    {"tag", "string", 0, 0, "only the models carrying this tag"},
    Q_END};
static const openapi_param_t q_v1_key[] = {
    {"api_key", "string", 0, 0, "the API key (Akkio's legacy clients send it here or in the body)"},
    {"id", "string", 0, 0, "a dataset or model id (show one instead of listing)"},
    Q_END};
static const openapi_param_t q_v1_key_only[] = {
    {"api_key", "string", 0, 0, "the API key (Akkio's legacy clients send it here or in the body)"},
    Q_END};
static const openapi_param_t q_strapi_list[] = {
    {"_sort", "string", 0, 0, "sort keys, e.g. accuracy:DESC,rmse:ASC"},
    {"_limit", "integer", -1, 1LL << 40, "documents per page (-1: all)"},
    {"_start", "integer", 0, 1LL << 40, "documents to skip"},
    {"_q", "string", 0, 0, "full-text search over the text fields"},
    {"_where", "string", 0, 0, "conditions as JSON text (or bracketed query keys)"},
    {"_publicationState", "string", 0, 0, "live (default) or preview (drafts too)"},
    Q_END};
static const openapi_param_t q_strapi_count[] = {
    {"_q", "string", 0, 0, "full-text search over the text fields"},
    {"_where", "string", 0, 0, "conditions as JSON text (or bracketed query keys)"},
    {"_publicationState", "string", 0, 0, "live (default) or preview (drafts too)"},
    Q_END};
static const openapi_param_t q_ws_list[] = {
    {"page_id", "integer", 0, 1000000, "page of jobs, newest first"},
    Q_END};
static const openapi_param_t q_ws_submit[] = {
    {"user", "string", 0, 0, "who submits (shown in job listings)"},
    {"memory", "string", 0, 0, "memory the job asks for (KAOS's client sends it; informative)"},
    {"timeout", "integer", 0, 86400, "seconds before a building or running job is killed"},
    Q_END};
static const openapi_param_t q_ws_job[] = {
    {"page_id", "integer", 0, 1000000, "page of the job's models"},
    {"page_size", "integer", 1, 1000, "models per page"},
    {"sort_by", "string", 0, 0, "a metric to order the models by, best first"},
    Q_END};
static const openapi_param_t q_ws_bundle[] = {
    {"model_id", "string", 0, 0, "the model to include (default: the job's best)"},
    {"include_code", "string", 0, 0, "True | False: the job's source bundle"},
    {"include_data", "string", 0, 0, "True | False: the dataset"},
    {"include_model", "string", 0, 0, "True | False: the model files"},
    Q_END};
static const openapi_param_t q_ws_logs[] = {
    {"after", "integer", 0, 1LL << 50, "only lines after this line id (for following)"},
    {"limit", "integer", 1, 10000, "lines at most"},
    {"format", "string", 0, 0, "json (default) or text"},
    Q_END};
static const openapi_param_t q_kaos_params[] = {
    {"parallelism", "integer", 1, 64, "runs trained at once"},
    Q_END};

static const openapi_param_t q_events[] = {
    {"job_id", "string", 0, 0, "one job's events, with its new log lines (default: every job of "
                               "the workspace, without logs)"},
    {"after", "integer", 0, 1LL << 50, "with job_id: log lines after this line id"},
    {"ticket", "string", 0, 0, "from POST /api/v1/events/ticket, instead of a key header "
                               "(EventSource cannot send headers)"},
    Q_END};

/* One row per route of routes.c, in its order. */
static const openapi_doc_t openapi_docs[] = {
    {"POST", "/api/v1/models/train/new", "trainTask", "Queue a training task", NULL, 0, 201,
     NULL, "TaskCreated"},
    {"GET", "/api/v1/models/train/{task_id}/status", "getTaskStatus", "A training task's state",
     q_wait, 0, 200, NULL, "TaskStatus"},
    {"GET", "/api/v1/models/train/{task_id}/result", "getTaskResult",
     "A succeeded task's result: stats, field importance, data story, model id", NULL, 0, 200,
     NULL, "TaskResult"},
    {"GET", "/models/train/{task_id}/result", "getTaskResultShort",
     "The task result at the location the status answer gives", NULL, 0, 200, NULL,
     "TaskResult"},
    {"GET", "/api/v1/events", "jobEvents",
     "Live job changes as server-sent events (event: job | log | end; id: resumes with "
     "Last-Event-ID); a stream lasts TRAINYARD_EVENT_STREAM_SECONDS, 503 past the pool's cap",
     q_events, 0, 200, "text/event-stream", NULL},
    {"POST", "/api/v1/events/ticket", "jobEventsTicket",
     "A ticket for GET /api/v1/events?ticket= (an hour; this key, this workspace)", NULL, 0,
     201, NULL, NULL},
    {"POST", "/api/v1/datasets", "uploadDataset", "Upload a CSV dataset", q_dataset_upload,
     OA_CSV | OA_MULTIPART, 201, NULL, "Dataset"},
    {"GET", "/api/v1/datasets", "listDatasets", "The workspace's datasets", q_dataset_list, 0,
     200, NULL, "DatasetList"},
    {"GET", "/api/v1/datasets/{dataset_id}", "getDataset", "One dataset and its fields", NULL, 0,
     200, NULL, "Dataset"},
    {"DELETE", "/api/v1/datasets/{dataset_id}", "deleteDataset", "Delete a dataset", NULL, 0,
     200, NULL, NULL},
    {"GET", "/api/v1/datasets/{dataset_id}/preview", "previewDataset",
     "The first rows of a dataset, as the CSV reader reads them", q_preview, 0, 200, NULL,
     "DatasetPreview"},
    {"GET", "/api/v1/models", "listModels",
     "The workspace's models, newest first (name, tags, pinned, metrics)", q_model_list, 0, 200,
     NULL, NULL},
    {"GET", "/api/v1/models/{model_id}", "getModel",
     "A model: task, features, metrics, labels and lineage", NULL, 0, 200, NULL, "Model"},
    {"PATCH", "/api/v1/models/{model_id}", "updateModel", "Rename, tag, pin or unpin a model",
     NULL, 0, 200, NULL, "Model"},
    {"DELETE", "/api/v1/models/{model_id}", "deleteModel",
     "Delete a model (409 while pinned or while an unfinished job depends on it)", NULL, 0, 200,
     NULL, NULL},
    {"POST", "/api/v1/models/{model_id}/evaluate", "evaluateModel",
     "Metrics of a model on labelled rows: text/csv, or a stored dataset {dataset_id}", NULL,
     OA_CSV, 200, NULL, NULL},
    {"GET", "/api/v1/models/{model_id}/download", "downloadModel",
     "The model as a tar.gz: model.ubj, preprocess.json, metrics.json", NULL, 0, 200,
     "application/gzip", NULL},
    {"POST", "/api/v1/models/{model_id}/predict", "predict",
     "Predict rows with a model (JSON rows; or text/csv in, text/csv out, streamed)", q_predict,
     OA_CSV, 200, NULL, "PredictResponse"},
    {"GET", "/v1/datasets", "v1ListDatasets", "Akkio v1: list datasets, or show one (?id=)",
     q_v1_key, 0, 200, NULL, "V1Answer"},
    {"POST", "/v1/datasets", "v1PostDataset",
     "Akkio v1: create a dataset {name}, add rows {id, rows}, set field types {id, fields}",
     q_v1_key_only, OA_JSON_ANY | OA_FORM_ANY, 200, NULL, "V1Answer"},
    {"DELETE", "/v1/datasets", "v1DeleteDataset", "Akkio v1: delete a dataset {id}",
     q_v1_key, OA_JSON_ANY | OA_FORM_ANY, 200, NULL, "V1Answer"},
    {"GET", "/v1/models", "v1ListModels", "Akkio v1: list models", q_v1_key_only, 0, 200, NULL,
     "V1Answer"},
    {"POST", "/v1/models", "v1PostModel",
     "Akkio v1: train {dataset_id, predict_fields} (answers when trained) or predict {id, data}",
     q_v1_key_only, OA_JSON_ANY | OA_FORM_ANY, 200, NULL, "V1Answer"},
    {"DELETE", "/v1/models", "v1DeleteModel", "Akkio v1: delete a model {id}", q_v1_key,
     OA_JSON_ANY | OA_FORM_ANY, 200, NULL, "V1Answer"},
    {"POST", "/trainings", "createTraining",
     "Create a training document (a training spec in meta queues a training)", NULL, 0, 200,
     NULL, "Training"},
    {"GET", "/trainings", "listTrainings", "Training documents (Strapi v3 list parameters)",
     q_strapi_list, 0, 200, NULL, "TrainingList"},
    {"GET", "/trainings/count", "countTrainings", "How many training documents match",
     q_strapi_count, 0, 200, NULL, "Count"},
    {"GET", "/trainings/{id}", "getTraining", "One training document", NULL, 0, 200, NULL,
     "Training"},
    {"PUT", "/trainings/{id}", "updateTraining", "Update a training document", NULL, 0, 200,
     NULL, "Training"},
    {"DELETE", "/trainings/{id}", "deleteTraining", "Delete a training document", NULL, 0, 200,
     NULL, "Training"},
    {"GET", "/train/{workspace}", "listWorkspaceJobs", "The workspace's jobs, newest first",
     q_ws_list, 0, 200, NULL, "KaosAnswer"},
    {"POST", "/train/{workspace}", "submitBundle",
     "Train from a bundle (spec bundle with trainyard.json, or a KAOS source bundle)",
     q_ws_submit, OA_BUNDLE | OA_MULTIPART, 200, NULL, "KaosAnswer"},
    {"GET", "/train/{workspace}/inspect", "inspectWorkspace",
     "The workspace's jobs, data and hyperparameter bundles", NULL, 0, 200, NULL, "KaosAnswer"},
    {"GET", "/train/{workspace}/build/{job_id}/logs", "getBuildLogs", "A job's build log", NULL,
     0, 200, NULL, "KaosAnswer"},
    {"POST", "/train/{workspace}/{job_id}", "getJobInfoPost",
     "A job's info and its models, page by page (KAOS's client posts)", q_ws_job, OA_JSON_ANY,
     200, NULL, "KaosAnswer"},
    {"GET", "/train/{workspace}/{job_id}", "getJobInfo", "A job's info and its models", q_ws_job,
     0, 200, NULL, "KaosAnswer"},
    {"DELETE", "/train/{workspace}/{job_id}", "killJob", "Kill a job (queued, building, running)",
     NULL, 0, 200, NULL, "KaosAnswer"},
    {"GET", "/train/{workspace}/{job_id}/bundle", "downloadJobBundle",
     "A zip of the job's code, data and model", q_ws_bundle, 0, 200, "application/zip", NULL},
    {"GET", "/train/{workspace}/{model_id}/provenance", "getProvenance",
     "Where a model comes from: code, data, parameters", NULL, 0, 200, NULL, "KaosAnswer"},
    {"GET", "/train/{workspace}/{job_id}/logs", "getJobLogs", "A job's log lines", q_ws_logs, 0,
     200, NULL, "KaosAnswer"},
    {"GET", "/workspace", "listWorkspaces", "The key's account's workspaces", NULL, 0, 200, NULL,
     "KaosAnswer"},
    {"POST", "/workspace/{name}", "createWorkspace", "Create a workspace", NULL, OA_JSON_ANY, 200,
     NULL, "KaosAnswer"},
    {"GET", "/workspace/{name}", "getWorkspace", "One workspace", NULL, 0, 200, NULL,
     "KaosAnswer"},
    {"DELETE", "/workspace/{name}", "deleteWorkspace", "Delete a workspace", NULL, 0, 200, NULL,
     "KaosAnswer"},
    {"POST", "/data/{workspace}/features", "uploadDataBundle",
     "A data bundle (training/ validation/ test/ CSV folders): trains the latest code", NULL,
     OA_BUNDLE | OA_MULTIPART, 200, NULL, "KaosAnswer"},
    {"POST", "/data/{workspace}/params", "uploadParamsBundle",
     "A hyperparameter bundle (one JSON file per run)", q_kaos_params, OA_BUNDLE | OA_MULTIPART,
     200, NULL, "KaosAnswer"},
    {"GET", "/build/{workspace}/{job_id}/logs", "getBuildLogsKaos",
     "A job's build log (KAOS's path)", NULL, 0, 200, NULL, "KaosAnswer"},
    {"GET", "/healthz", "health", "Database and trainer health", NULL, OA_UNHEALTHY, 200, NULL,
     "Health"},
    {"GET", "/metrics", "metrics", "Prometheus metrics of the whole API pool", NULL, OA_ACCESS,
     200, "text/plain; version=0.0.4", NULL},
    {"GET", "/openapi.json", "openapi", "This document", NULL, 0, 200, NULL, NULL},
};

/* Example request bodies (JSON), for the routes clients start with. */
static const char *const openapi_request_examples[][3] = {
    {"POST", "/api/v1/models/train/new",
     "{\"dataset_id\":\"7fad5514-1805-4a60-b3d5-695e7d2e607e\",\"predict_fields\":[\"churn\"],"
     "\"duration\":10}"},
    {"POST", "/api/v1/models/{model_id}/predict",
     "{\"data\":[{\"tenure\":3,\"contract\":\"Month-to-month\",\"monthly_charges\":80}]}"},
    {"POST", "/trainings",
     "{\"uuid\":\"run-42\",\"accuracy\":0.91,\"version\":\"v1\","
     "\"meta\":{\"dataset_id\":\"7fad5514-1805-4a60-b3d5-695e7d2e607e\","
     "\"predict_fields\":[\"churn\"]}}"},
    {"POST", "/v1/models",
     "{\"api_key\":\"ty_…\",\"id\":\"c813b3e8-f40a-455c-955c-540a25825282\","
     "\"data\":[{\"tenure\":3}]}"},
};

static json_object *openapi_request_example(const route_t *rt)
{
    for (size_t i = 0; i < sizeof(openapi_request_examples) / sizeof(openapi_request_examples[0]);
         i++)
        if (strcmp(openapi_request_examples[i][0], rt->method) == 0 &&
            strcmp(openapi_request_examples[i][1], rt->pattern) == 0)
            return json_tokener_parse(openapi_request_examples[i][2]);
    return NULL;
}

static const openapi_doc_t *openapi_doc_of(const route_t *rt)
{
    for (size_t i = 0; i < sizeof(openapi_docs) / sizeof(openapi_docs[0]); i++)
        if (strcmp(openapi_docs[i].method, rt->method) == 0 &&
            strcmp(openapi_docs[i].pattern, rt->pattern) == 0)
            return &openapi_docs[i];
    return NULL;
}

int openapi_check(const route_t *table, size_t n, char *why, size_t why_len)
{
    for (size_t i = 0; i < n; i++)
        if (openapi_doc_of(&table[i]) == NULL) {
            snprintf(why, why_len, "route %s %s has no row in handlers/openapi.c",
                     table[i].method, table[i].pattern);
            return -1;
        }
    for (size_t d = 0; d < sizeof(openapi_docs) / sizeof(openapi_docs[0]); d++) {
        size_t i = 0;
        while (i < n && !(strcmp(openapi_docs[d].method, table[i].method) == 0 &&
                          strcmp(openapi_docs[d].pattern, table[i].pattern) == 0))
            i++;
        if (i == n) {
            snprintf(why, why_len, "openapi row %s %s names no route", openapi_docs[d].method,
                     openapi_docs[d].pattern);
            return -1;
        }
        for (size_t k = 0; k < d; k++)
            if (strcmp(openapi_docs[k].operation_id, openapi_docs[d].operation_id) == 0) {
                snprintf(why, why_len, "operationId %s is used twice",
                         openapi_docs[d].operation_id);
                return -1;
            }
    }
    return 0;
}

/* --- schemas --------------------------------------------------------------- */

/* Fixed schemas, as JSON text: the answers' shapes and each dialect's
 * error. Answers list what clients rely on and allow more (the result
 * documents grow). */
static const char openapi_schemas_json[] =
    "{"
    "\"AkkioValidationError\":{\"type\":\"object\",\"required\":[\"detail\"],\"properties\":{"
    " \"detail\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "  \"required\":[\"loc\",\"msg\",\"type\"],\"properties\":{"
    "  \"loc\":{\"type\":\"array\",\"items\":{\"type\":[\"string\",\"integer\"]}},"
    "  \"msg\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},"
    "  \"ctx\":{\"type\":\"object\"}}}}}},"
    "\"AkkioError\":{\"type\":\"object\",\"required\":[\"detail\"],"
    " \"properties\":{\"detail\":{\"type\":\"string\"}}},"
    "\"AkkioV1Error\":{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{"
    " \"status\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"},"
    " \"field\":{\"type\":\"string\"}}},"
    "\"WorkspaceError\":{\"type\":\"object\",\"required\":[\"error_code\",\"message\"],"
    " \"properties\":{\"error_code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}},"
    "\"StrapiError\":{\"type\":\"object\",\"required\":[\"code\",\"message\"],"
    " \"properties\":{\"code\":{\"type\":\"integer\"},\"message\":{\"type\":\"string\"}}},"
    "\"PlainError\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{"
    " \"type\":\"object\",\"required\":[\"status\",\"code\",\"message\"],\"properties\":{"
    " \"status\":{\"type\":\"integer\"},\"code\":{\"type\":\"string\"},"
    " \"field\":{\"type\":[\"string\",\"null\"]},\"message\":{\"type\":\"string\"},"
    " \"details\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "  \"field\":{\"type\":\"string\"},\"code\":{\"type\":\"string\"},"
    "  \"message\":{\"type\":\"string\"}}}}}}}},"
    "\"TaskCreated\":{\"type\":\"object\",\"required\":[\"task_id\"],\"properties\":{"
    " \"task_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    " \"existing\":{\"type\":\"boolean\",\"description\":\"the same training was queued or done "
    "already: its task\"}}},"
    "\"TaskStatus\":{\"type\":\"object\",\"required\":[\"status\",\"metadata\"],\"properties\":{"
    " \"status\":{\"type\":\"string\",\"enum\":[\"PENDING\",\"IN_PROGRESS\",\"SUCCEEDED\","
    "  \"FAILED\",\"UNKNOWN_TIMEOUT\"]},"
    " \"metadata\":{\"type\":\"object\",\"required\":[\"type\"],\"properties\":{"
    "  \"type\":{\"type\":\"string\"},\"location\":{\"type\":\"string\"},"
    "  \"progress\":{\"type\":\"number\"},\"estimate_seconds\":{\"type\":[\"number\",\"null\"]},"
    "  \"error\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"},"
    "  \"request_id\":{\"type\":\"string\",\"description\":\"X-Request-Id of the request that "
    "created the task\"}}}},"
    " \"example\":{\"status\":\"SUCCEEDED\",\"metadata\":{\"type\":\"SUCCEEDED\","
    "  \"location\":\"/models/train/0b8e5f43-55b5-4c7d-9a55-2d4d3d1f3c11/result\"}}},"
    "\"TaskResult\":{\"type\":\"object\",\"required\":[\"status\",\"model_id\"],\"properties\":{"
    " \"status\":{\"type\":\"string\"},\"model_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    " \"model_ids\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    " \"stats\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    " \"field_importance\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}},"
    " \"data_story\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    " \"task\":{\"type\":\"array\",\"items\":{}},\"metric\":{\"type\":\"string\"},"
    " \"candidates\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    " \"models\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    " \"seconds\":{\"type\":\"number\"}}},"
    "\"DatasetField\":{\"type\":\"object\",\"required\":[\"name\",\"type\"],\"properties\":{"
    " \"name\":{\"type\":\"string\"},"
    " \"type\":{\"type\":\"string\",\"enum\":[\"number\",\"category\",\"boolean\",\"string\","
    "\"date\",\"text\"]},"
    " \"missing\":{\"type\":\"integer\"}}},"
    "\"Dataset\":{\"type\":\"object\",\"required\":[\"dataset_id\",\"name\",\"rows\",\"fields\"],"
    " \"properties\":{\"dataset_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    " \"name\":{\"type\":\"string\"},\"rows\":{\"type\":\"integer\"},"
    " \"fields\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/DatasetField\"}}},"
    " \"example\":{\"dataset_id\":\"7fad5514-1805-4a60-b3d5-695e7d2e607e\",\"name\":\"churn\","
    "  \"rows\":500,\"fields\":[{\"name\":\"churn\",\"type\":\"boolean\",\"missing\":0}]}},"
    "\"DatasetPreview\":{\"type\":\"object\",\"required\":[\"dataset_id\",\"fields\",\"rows\"],"
    " \"properties\":{\"dataset_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    " \"fields\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    " \"rows\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{}}},"
    " \"more\":{\"type\":\"boolean\"}}},"
    "\"DatasetList\":{\"type\":\"object\",\"required\":[\"datasets\"],\"properties\":{"
    " \"datasets\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Dataset\"}}}},"
    "\"Model\":{\"type\":\"object\",\"required\":[\"model_id\"],\"properties\":{"
    " \"model_id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    " \"task_id\":{\"type\":\"string\"},\"dataset_id\":{\"type\":\"string\"},"
    " \"predict_field\":{\"type\":\"string\"},\"task\":{\"type\":\"string\"},"
    " \"features\":{\"type\":\"array\",\"items\":{}},\"classes\":{\"type\":\"array\",\"items\":{}},"
    " \"metrics\":{\"type\":\"object\"},"
    " \"candidates\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    " \"created_at\":{\"type\":\"string\"},\"download\":{\"type\":\"string\"},"
    " \"lineage\":{\"$ref\":\"#/components/schemas/Lineage\"}}},"
    /* handlers/lineage.h: on the model view, the model lists, the Akkio
     * result, the workspace job's models and a Strapi training's models. */
    "\"Lineage\":{\"type\":\"object\",\"required\":[\"job\",\"spec\",\"dataset\",\"code\"],"
    " \"properties\":{"
    " \"job\":{\"type\":\"object\",\"properties\":{\"job_id\":{\"type\":\"string\"},"
    "  \"dialect\":{\"type\":\"string\"},\"state\":{\"type\":\"string\"},"
    "  \"user\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":\"string\"},"
    "  \"finished_at\":{\"type\":\"string\"}}},"
    " \"spec\":{\"type\":[\"object\",\"null\"]},"
    " \"dataset\":{\"type\":[\"object\",\"null\"],\"properties\":{"
    "  \"dataset_id\":{\"type\":\"string\"},\"name\":{\"type\":[\"string\",\"null\"]},"
    "  \"sha256\":{\"type\":[\"string\",\"null\"]},\"rows\":{\"type\":\"integer\"},"
    "  \"size\":{\"type\":\"integer\"},\"delimiter\":{\"type\":\"string\"},"
    "  \"deleted\":{\"type\":\"boolean\"}}},"
    " \"code\":{\"type\":[\"object\",\"null\"],\"properties\":{"
    "  \"bundle_id\":{\"type\":\"string\"},\"sha256\":{\"type\":[\"string\",\"null\"]},"
    "  \"size\":{\"type\":\"integer\"}}}}},"
    "\"PredictResponse\":{\"type\":\"object\",\"required\":[\"status\",\"predictions\"],"
    " \"properties\":{\"status\":{\"type\":\"string\"},"
    " \"predictions\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "  \"additionalProperties\":{}}}},"
    " \"example\":{\"status\":\"success\",\"predictions\":[{\"churn\":\"No\","
    "  \"Probability churn is No\":0.79,\"Probability churn is Yes\":0.21}]}},"
    "\"V1Answer\":{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{"
    " \"status\":{\"type\":\"string\"}},\"additionalProperties\":{}},"
    "\"TrainingList\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Training\"}},"
    "\"Count\":{\"type\":\"integer\",\"minimum\":0},"
    "\"KaosAnswer\":{\"type\":\"object\",\"required\":[\"response\"],\"properties\":{"
    " \"response\":{},\"page_id\":{\"type\":\"integer\"},\"page_count\":{\"type\":\"integer\"}}},"
    "\"Health\":{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{"
    " \"status\":{\"type\":\"string\",\"enum\":[\"ok\",\"unhealthy\"]},"
    " \"database\":{\"type\":\"object\"},\"trainers\":{\"type\":\"object\"}}}"
    "}";

static const char *const field_type_names[] = {"string", "integer", "number", "boolean",
                                               "array",  "object",  "array",  NULL};

/* One field of a table as a JSON Schema. */
static json_object *openapi_field_schema(const field_spec_t *f)
{
    json_object *p = json_object_new_object();
    const char *type = field_type_names[f->type];
    if (type != NULL) {
        if (f->flags & FIELD_NULLABLE) {
            json_object *t = json_object_new_array();
            json_object_array_add(t, json_object_new_string(type));
            json_object_array_add(t, json_object_new_string("null"));
            json_object_object_add(p, "type", t);
        } else {
            json_object_object_add(p, "type", json_object_new_string(type));
        }
    }
    if (f->type == FIELD_STRING_ARRAY) {
        json_object *items = json_object_new_object();
        json_object_object_add(items, "type", json_object_new_string("string"));
        json_object_object_add(p, "items", items);
    } else if (f->type == FIELD_ARRAY) {
        json_object_object_add(p, "items", json_object_new_object());
    }
    if (f->n_allowed_ints > 0) {
        json_object *en = json_object_new_array();
        for (size_t k = 0; k < f->n_allowed_ints; k++)
            json_object_array_add(en, json_object_new_int64(f->allowed_ints[k]));
        json_object_object_add(p, "enum", en);
    }
    if (f->n_allowed_strings > 0) {
        json_object *en = json_object_new_array();
        for (size_t k = 0; k < f->n_allowed_strings; k++)
            json_object_array_add(en, json_object_new_string(f->allowed_strings[k]));
        json_object_object_add(p, "enum", en);
    }
    if (f->min < f->max && (f->type == FIELD_INT || f->type == FIELD_NUMBER)) {
        json_object_object_add(p, "minimum", json_object_new_double(f->min));
        json_object_object_add(p, "maximum", json_object_new_double(f->max));
    }
    int is_array = f->type == FIELD_STRING_ARRAY || f->type == FIELD_ARRAY;
    if (f->max_len > 0 && (f->type == FIELD_STRING || is_array))
        json_object_object_add(p, is_array ? "maxItems" : "maxLength",
                               json_object_new_int64((int64_t)f->max_len));
    if ((f->flags & FIELD_NONEMPTY) && (f->type == FIELD_STRING || is_array))
        json_object_object_add(p, is_array ? "minItems" : "minLength", json_object_new_int(1));
    return p;
}

/* A route's body fields as an object schema; XML bodies are <item>s. */
static json_object *openapi_fields_schema(const field_spec_t *fields, size_t n, int xml)
{
    json_object *schema = json_object_new_object();
    json_object_object_add(schema, "type", json_object_new_string("object"));
    json_object *props = json_object_new_object();
    json_object *required = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_object_add(props, fields[i].name, openapi_field_schema(&fields[i]));
        if (fields[i].flags & FIELD_REQUIRED)
            json_object_array_add(required, json_object_new_string(fields[i].name));
    }
    json_object_object_add(schema, "properties", props);
    if (json_object_array_length(required) > 0)
        json_object_object_add(schema, "required", required);
    else
        json_object_put(required);
    if (xml) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "name", json_object_new_string("item"));
        json_object_object_add(schema, "xml", x);
    }
    return schema;
}

/* The Strapi document: the seed's fields (from the table) plus what the
 * server sets. */
static json_object *openapi_training_schema(void)
{
    json_object *s = openapi_fields_schema(trainings_fields, TRAININGS_FIELDS_COUNT, 0);
    json_object *props = json_object_object_get(s, "properties");
    /* meta is stored as its JSON text (the seed types it as a string). */
    json_object *meta = json_object_new_object();
    json_object *mt = json_object_new_array();
    json_object_array_add(mt, json_object_new_string("string"));
    json_object_array_add(mt, json_object_new_string("null"));
    json_object_object_add(meta, "type", mt);
    json_object_object_add(props, "meta", meta);
    static const char *const server_set[] = {"id", "created_by", "updated_by", "created_at",
                                             "updated_at"};
    for (size_t i = 0; i < sizeof(server_set) / sizeof(server_set[0]); i++) {
        json_object *p = json_object_new_object();
        json_object *t = json_object_new_array();
        json_object_array_add(t, json_object_new_string("string"));
        json_object_array_add(t, json_object_new_string("null"));
        json_object_object_add(p, "type", t);
        json_object_object_add(props, server_set[i], p);
    }
    /* Beside the seed's keys: the models the training's job trained, each
     * with its lineage (handlers/trainings.c). */
    json_object *models = json_tokener_parse(
        "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
        "\"id\":{\"type\":\"string\"},\"predict_field\":{\"type\":\"string\"},"
        "\"lineage\":{\"$ref\":\"#/components/schemas/Lineage\"}}}}");
    json_object_object_add(props, "models", models);
    json_object *required = json_object_new_array();
    json_object_array_add(required, json_object_new_string("id"));
    json_object_object_add(s, "required", required);
    return s;
}

static json_object *openapi_schema_ref(arena_t *arena, const char *name)
{
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "$ref", json_object_new_string(arena_sprintf(arena, "#/components/schemas/%s", name)));
    return o;
}

/* --- operations ------------------------------------------------------------ */

static const char *const dialect_tags[] = {"Training (Akkio-compatible)", "Workspace jobs",
                                           "Trainings collection", "System",
                                           "Akkio legacy (/v1)"};
/* One tag per dialect_t value, in its order: the /v1 routes once read past
 * the end of this table (found by make test-asan-e2e). */
_Static_assert(sizeof(dialect_tags) / sizeof(dialect_tags[0]) == DIALECT_AKKIO_V1 + 1,
               "dialect_tags must name every dialect_t");

static const char *openapi_error_schema(dialect_t d, int status)
{
    switch (d) {
    case DIALECT_AKKIO:
        return status == 422 ? "AkkioValidationError" : "AkkioError";
    case DIALECT_WORKSPACE:
        return "WorkspaceError";
    case DIALECT_STRAPI:
        return "StrapiError";
    case DIALECT_AKKIO_V1:
        return "AkkioV1Error";
    case DIALECT_PLAIN:
        break;
    }
    return "PlainError";
}

/* One error answer: the dialect's schema and an example rendered by the
 * runtime's own error renderer. */
static void openapi_add_error(arena_t *arena, json_object *responses, dialect_t d, int status,
                              const char *code, const char *field, const char *message)
{
    err_t e;
    err_clear(&e);
    if (field != NULL)
        err_add(&e, status, code, field, "%s", message);
    else
        err_set(&e, status, code, "%s", message);
    int shown = dialect_error_status(d, &e);
    char key[8];
    snprintf(key, sizeof(key), "%d", shown);
    if (json_object_object_get_ex(responses, key, NULL))
        return;
    json_object *resp = json_object_new_object();
    json_object_object_add(resp, "description",
                           json_object_new_string(req_reason_phrase(shown)));
    json_object *content = json_object_new_object();
    json_object *mt = json_object_new_object();
    json_object_object_add(mt, "schema", openapi_schema_ref(arena, openapi_error_schema(d, shown)));
    json_object_object_add(mt, "example", dialect_error_doc(d, &e));
    json_object_object_add(content, "application/json", mt);
    json_object_object_add(resp, "content", content);
    json_object_object_add(responses, key, resp);
}

static json_object *openapi_responses(arena_t *arena, const route_t *rt, const openapi_doc_t *d)
{
    json_object *responses = json_object_new_object();
    json_object *ok = json_object_new_object();
    json_object_object_add(ok, "description", json_object_new_string(d->summary));
    json_object *content = json_object_new_object();
    json_object *mt = json_object_new_object();
    const char *media = d->media ? d->media : "application/json";
    if (d->schema != NULL) {
        json_object_object_add(mt, "schema", openapi_schema_ref(arena, d->schema));
    } else if (d->media != NULL) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "type", json_object_new_string("string"));
        if (strncmp(d->media, "text/", 5) != 0)
            json_object_object_add(s, "contentMediaType", json_object_new_string(d->media));
        json_object_object_add(mt, "schema", s);
    } else {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "type", json_object_new_string("object"));
        json_object_object_add(mt, "schema", s);
    }
    json_object_object_add(content, media, mt);
    json_object_object_add(ok, "content", content);
    char key[8];
    snprintf(key, sizeof(key), "%d", d->status);
    json_object_object_add(responses, key, ok);

    if (d->body & OA_UNHEALTHY) {
        json_object *bad = json_object_new_object();
        json_object_object_add(bad, "description",
                               json_object_new_string("the database or every trainer is down"));
        json_object *bc = json_object_new_object();
        json_object *bm = json_object_new_object();
        json_object_object_add(bm, "schema", openapi_schema_ref(arena, d->schema));
        json_object_object_add(bc, "application/json", bm);
        json_object_object_add(bad, "content", bc);
        json_object_object_add(responses, "503", bad);
    }
    dialect_t dl = rt->dialect;
    int has_body = rt->body_limit > 0;
    if (d->body & OA_ACCESS) {
        openapi_add_error(arena, responses, dl, 401, "unauthorized", NULL,
                          "missing or invalid API key (TRAINYARD_METRICS=key)");
        openapi_add_error(arena, responses, dl, 403, "forbidden", NULL,
                          "/metrics answers local clients only (TRAINYARD_METRICS=local)");
    }
    if (rt->n_fields > 0 || has_body)
        openapi_add_error(arena, responses, dl, 400, "json_invalid", "body",
                          "Expecting value: line 1 column 1 (char 0)");
    if (rt->flags & (ROUTE_AUTH | ROUTE_KEY_IN_BODY)) {
        openapi_add_error(arena, responses, dl, 401, "unauthorized", NULL,
                          "missing or invalid API key");
        openapi_add_error(arena, responses, dl, 403, "forbidden", NULL,
                          "this key may not act in that workspace");
    }
    if (strchr(rt->pattern, '{') != NULL || dl == DIALECT_AKKIO_V1)
        openapi_add_error(arena, responses, dl, 404, "not_found", NULL, "Not Found");
    if (has_body)
        openapi_add_error(arena, responses, dl, 413, "too_large", NULL,
                          "body exceeds the limit for this route");
    if (rt->n_fields > 0)
        openapi_add_error(arena, responses, dl, 422, "missing",
                          arena_sprintf(arena, "body/%s", rt->fields[0].name),
                          "Field required");
    if (rt->flags & ROUTE_STREAM_BODY)
        openapi_add_error(arena, responses, dl, 429, "limit_exceeded", NULL,
                          "too many uploads in flight for this key");
    if (!(rt->flags & ROUTE_NO_DB))
        openapi_add_error(arena, responses, dl, 503, "unavailable", NULL,
                          "database unavailable: try again");
    return responses;
}

static json_object *openapi_parameters(const route_t *rt, const openapi_doc_t *d)
{
    json_object *params = json_object_new_array();
    for (const char *p = strchr(rt->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        json_object *param = json_object_new_object();
        json_object_object_add(param, "name",
                               json_object_new_string_len(p + 1, (int)(end - p - 1)));
        json_object_object_add(param, "in", json_object_new_string("path"));
        json_object_object_add(param, "required", json_object_new_boolean(1));
        json_object *schema = json_object_new_object();
        json_object_object_add(schema, "type", json_object_new_string("string"));
        json_object_object_add(param, "schema", schema);
        json_object_array_add(params, param);
    }
    /* Authenticated routes without a workspace in their path act in the
     * key's own workspace unless this header picks another of its
     * account's (handlers/app.c, "Workspace choice"). */
    if ((rt->flags & (ROUTE_AUTH | ROUTE_KEY_IN_BODY)) &&
        strstr(rt->pattern, "{workspace}") == NULL) {
        json_object *param = json_object_new_object();
        json_object_object_add(param, "name", json_object_new_string("X-Trainyard-Workspace"));
        json_object_object_add(param, "in", json_object_new_string("header"));
        json_object_object_add(param, "required", json_object_new_boolean(0));
        json_object_object_add(
            param, "description",
            json_object_new_string("one of the key's account's workspaces to act in (default: "
                                   "the key's own); 403 for a workspace the key may not use"));
        json_object *schema = json_object_new_object();
        json_object_object_add(schema, "type", json_object_new_string("string"));
        json_object_object_add(schema, "pattern", json_object_new_string("^[A-Za-z0-9_-]{1,64}$"));
        json_object_object_add(param, "schema", schema);
        json_object_array_add(params, param);
    }
    for (const openapi_param_t *q = d->query; q != NULL && q->name != NULL; q++) {
        json_object *param = json_object_new_object();
        json_object_object_add(param, "name", json_object_new_string(q->name));
        json_object_object_add(param, "in", json_object_new_string("query"));
        json_object_object_add(param, "required", json_object_new_boolean(0));
        json_object_object_add(param, "description", json_object_new_string(q->description));
        json_object *schema = json_object_new_object();
        json_object_object_add(schema, "type", json_object_new_string(q->type));
        if (q->min < q->max) {
            json_object_object_add(schema, "minimum", json_object_new_int64(q->min));
            json_object_object_add(schema, "maximum", json_object_new_int64(q->max));
        }
        json_object_object_add(param, "schema", schema);
        json_object_array_add(params, param);
    }
    return params;
}

static void openapi_media(json_object *content, const char *type, json_object *schema)
{
    json_object *mt = json_object_new_object();
    json_object_object_add(mt, "schema", schema);
    json_object_object_add(content, type, mt);
}

static json_object *openapi_binary(const char *media)
{
    json_object *s = json_object_new_object();
    json_object_object_add(s, "type", json_object_new_string("string"));
    json_object_object_add(s, "contentMediaType", json_object_new_string(media));
    return s;
}

static json_object *openapi_request_body(const route_t *rt, const openapi_doc_t *d)
{
    if (rt->n_fields == 0 && (d->body & (OA_CSV | OA_MULTIPART | OA_BUNDLE | OA_JSON_ANY |
                                          OA_FORM_ANY)) == 0)
        return NULL;
    json_object *content = json_object_new_object();
    if (rt->n_fields > 0) {
        openapi_media(content, "application/json",
                      openapi_fields_schema(rt->fields, rt->n_fields, 0));
        openapi_media(content, "application/xml",
                      openapi_fields_schema(rt->fields, rt->n_fields, 1));
        openapi_media(content, "application/x-www-form-urlencoded",
                      openapi_fields_schema(rt->fields, rt->n_fields, 0));
    }
    if (d->body & OA_JSON_ANY) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "type", json_object_new_string("object"));
        openapi_media(content, "application/json", s);
    }
    if (d->body & OA_FORM_ANY) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "type", json_object_new_string("object"));
        openapi_media(content, "application/x-www-form-urlencoded", s);
    }
    if (d->body & OA_CSV)
        openapi_media(content, "text/csv", openapi_binary("text/csv"));
    if (d->body & OA_BUNDLE) {
        openapi_media(content, "application/gzip", openapi_binary("application/gzip"));
        openapi_media(content, "application/zip", openapi_binary("application/zip"));
    }
    if (d->body & OA_MULTIPART) {
        /* One file part; KAOS's client names it "data", curl users "file". */
        json_object *s = json_object_new_object();
        json_object_object_add(s, "type", json_object_new_string("object"));
        json_object *props = json_object_new_object();
        const char *names[] = {"file", "data"};
        for (size_t i = 0; i < 2; i++)
            json_object_object_add(props, names[i],
                                   openapi_binary((d->body & OA_CSV) ? "text/csv"
                                                                     : "application/octet-stream"));
        json_object_object_add(s, "properties", props);
        openapi_media(content, "multipart/form-data", s);
    }
    json_object *example = openapi_request_example(rt);
    json_object *json_mt = NULL;
    if (example != NULL && json_object_object_get_ex(content, "application/json", &json_mt))
        json_object_object_add(json_mt, "example", example);
    else
        json_object_put(example);
    json_object *body = json_object_new_object();
    int required = rt->n_fields > 0 || (d->body & (OA_CSV | OA_BUNDLE)) != 0;
    json_object_object_add(body, "required", json_object_new_boolean(required));
    json_object_object_add(body, "content", content);
    return body;
}

static json_object *openapi_security(const route_t *rt)
{
    static const char *const schemes[] = {"ApiKey", "Bearer", "XToken", "ApiKeyQuery"};
    size_t n = (rt->flags & ROUTE_KEY_IN_BODY) ? 4 : 3;
    json_object *sec = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, schemes[i], json_object_new_array());
        json_object_array_add(sec, s);
    }
    return sec;
}

static json_object *openapi_components(void)
{
    json_object *components = json_object_new_object();
    json_object *schemas = json_tokener_parse(openapi_schemas_json);
    json_object_object_add(schemas, "Training", openapi_training_schema());
    json_object_object_add(components, "schemas", schemas);

    json_object *schemes = json_object_new_object();
    static const char *const keys[][3] = {{"ApiKey", "header", "X-API-Key"},
                                          {"XToken", "header", "X-Token"},
                                          {"ApiKeyQuery", "query", "api_key"}};
    for (size_t i = 0; i < 3; i++) {
        json_object *k = json_object_new_object();
        json_object_object_add(k, "type", json_object_new_string("apiKey"));
        json_object_object_add(k, "in", json_object_new_string(keys[i][1]));
        json_object_object_add(k, "name", json_object_new_string(keys[i][2]));
        json_object_object_add(schemes, keys[i][0], k);
    }
    json_object *bearer = json_object_new_object();
    json_object_object_add(bearer, "type", json_object_new_string("http"));
    json_object_object_add(bearer, "scheme", json_object_new_string("bearer"));
    json_object_object_add(schemes, "Bearer", bearer);
    json_object_object_add(components, "securitySchemes", schemes);
    return components;
}

json_object *openapi_document(arena_t *arena)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "openapi", json_object_new_string("3.1.0"));
    json_object *info = json_object_new_object();
    json_object_object_add(info, "title", json_object_new_string("trainyard"));
    json_object_object_add(info, "version", json_object_new_string("0.1.0"));
    json_object_object_add(
        info, "description",
        json_object_new_string("Self-hosted training service: three API dialects (Akkio-"
                               "compatible training tasks, KAOS workspace jobs, a Strapi v3 "
                               "trainings collection) over one job queue. Every answer carries "
                               "X-Request-Id."));
    json_object *license = json_object_new_object();
    json_object_object_add(license, "name", json_object_new_string("Proprietary"));
    json_object_object_add(license, "identifier", json_object_new_string("LicenseRef-trainyard"));
    json_object_object_add(info, "license", license);
    json_object_object_add(doc, "info", info);
    json_object *servers = json_object_new_array();
    json_object *server = json_object_new_object();
    json_object_object_add(server, "url", json_object_new_string("/"));
    json_object_object_add(server, "description",
                           json_object_new_string("the host serving this document"));
    json_object_array_add(servers, server);
    json_object_object_add(doc, "servers", servers);

    json_object *tags = json_object_new_array();
    for (size_t t = 0; t < sizeof(dialect_tags) / sizeof(dialect_tags[0]); t++) {
        json_object *tag = json_object_new_object();
        json_object_object_add(tag, "name", json_object_new_string(dialect_tags[t]));
        json_object_object_add(tag, "description",
                               json_object_new_string(t == DIALECT_PLAIN
                                                          ? "trainyard's own routes"
                                                          : "one of the API dialects"));
        json_object_array_add(tags, tag);
    }
    json_object_object_add(doc, "tags", tags);

    json_object *paths = json_object_new_object();
    for (size_t i = 0; i < routes_count; i++) {
        const route_t *rt = &routes[i];
        const openapi_doc_t *d = openapi_doc_of(rt);
        if (d == NULL)
            continue; /* refused by openapi_check in the unit tests */
        json_object *item;
        if (!json_object_object_get_ex(paths, rt->pattern, &item)) {
            item = json_object_new_object();
            json_object_object_add(paths, rt->pattern, item);
        }
        char method[8];
        size_t k;
        for (k = 0; rt->method[k] != '\0' && k < sizeof(method) - 1; k++)
            method[k] = (char)(rt->method[k] | 0x20);
        method[k] = '\0';
        json_object *op = json_object_new_object();
        json_object *optags = json_object_new_array();
        json_object_array_add(optags, json_object_new_string(dialect_tags[rt->dialect]));
        json_object_object_add(op, "tags", optags);
        json_object_object_add(op, "operationId", json_object_new_string(d->operation_id));
        json_object_object_add(op, "summary", json_object_new_string(d->summary));
        json_object *params = openapi_parameters(rt, d);
        if (json_object_array_length(params) > 0)
            json_object_object_add(op, "parameters", params);
        else
            json_object_put(params);
        json_object *body = openapi_request_body(rt, d);
        if (body != NULL)
            json_object_object_add(op, "requestBody", body);
        json_object_object_add(op, "responses", openapi_responses(arena, rt, d));
        if (rt->flags & (ROUTE_AUTH | ROUTE_KEY_IN_BODY))
            json_object_object_add(op, "security", openapi_security(rt));
        else
            json_object_object_add(op, "security", json_object_new_array());
        json_object_object_add(item, method, op);
    }
    json_object_object_add(doc, "paths", paths);
    json_object_object_add(doc, "components", openapi_components());
    return doc;
}

int system_openapi(request_t *r)
{
    json_object *doc = support_own(r, openapi_document(r->arena));
    return req_reply_json(r, 200, doc);
}
