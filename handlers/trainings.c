/*
 * trainings.c — the Strapi v3-style /trainings collection (seeds/000).
 *
 *   POST   /trainings            create (JSON, XML or form body)    200 document
 *   GET    /trainings            list: Strapi v3's _sort, _limit, _start, _q, _where,
 *                                 _publicationState and f[_op]=v (strapi_query.h)
 *   GET    /trainings/count      a bare number
 *   GET    /trainings/{id}       one document
 *   PUT    /trainings/{id}       update the given fields
 *   DELETE /trainings/{id}       delete; answers the deleted document
 *
 * A document either records a training done elsewhere (the client sends
 * its metrics) or asks trainyard to train: when `meta` holds a training
 * spec (a JSON object with dataset_id and predict_fields) a job is queued
 * in the same transaction as the document, and the trainer fills in the
 * metrics, binaryPath and version when it finishes. `uuid` is unique per
 * workspace: the same body again returns the existing document, a
 * different body with that uuid is 409.
 *
 * Every answered document also carries `models`, beside the seed's keys:
 * the models its job trained, as a Strapi relation is shown (an array of
 * related entries, each with its own id): {"id": model id, "predict_field",
 * "lineage": {job, spec, dataset, code}} (handlers/lineage.h); [] for a
 * document without a job or whose job has no model yet. One query for a
 * whole list.
 */
#include "handlers/handlers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/jobs.h"
#include "db/trainings.h"
#include "handlers/app.h"
#include "handlers/lineage.h"
#include "handlers/spec.h"
#include "handlers/strapi_query.h"
#include "handlers/support.h"

const field_spec_t trainings_fields[] = {
    {.name = "uuid", .type = FIELD_STRING, .max_len = 200},
    {.name = "accuracy", .type = FIELD_NUMBER, .flags = FIELD_NULLABLE},
    {.name = "precission", .type = FIELD_NUMBER, .flags = FIELD_NULLABLE},
    {.name = "mae", .type = FIELD_NUMBER, .flags = FIELD_NULLABLE},
    {.name = "rmse", .type = FIELD_NUMBER, .flags = FIELD_NULLABLE},
    {.name = "binaryPath", .type = FIELD_STRING, .flags = FIELD_NULLABLE, .max_len = 2048},
    {.name = "version", .type = FIELD_STRING, .flags = FIELD_NULLABLE, .max_len = 200},
    {.name = "meta", .type = FIELD_ANY, .flags = FIELD_NULLABLE},
    /* Strapi's draft/publish: null on PUT unpublishes (a draft, shown only
     * with _publicationState=preview); absent on POST means now. */
    {.name = "published_at", .type = FIELD_STRING, .flags = FIELD_NULLABLE, .max_len = 64},
};
_Static_assert(sizeof(trainings_fields) / sizeof(trainings_fields[0]) == TRAININGS_FIELDS_COUNT,
               "TRAININGS_FIELDS_COUNT is out of date");

static const char *const trainings_known[] = {"uuid", "accuracy", "precission", "mae", "rmse",
                                              "binaryPath", "version", "meta", "published_at"};

/* Keeps only the seed's fields (others are ignored, as Strapi ignores
 * attributes a content type does not have) and turns an object `meta` into
 * its JSON text, since the seed types meta as a string. */
static json_object *trainings_fields_of(request_t *r, json_object *body)
{
    json_object *out = support_own(r, json_object_new_object());
    for (size_t i = 0; i < sizeof(trainings_known) / sizeof(trainings_known[0]); i++) {
        json_object *v;
        if (!json_object_object_get_ex(body, trainings_known[i], &v))
            continue;
        if (strcmp(trainings_known[i], "meta") == 0 && v != NULL &&
            !json_object_is_type(v, json_type_string))
            v = json_object_new_string(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        else
            v = json_object_get(v);
        json_object_object_add(out, trainings_known[i], v);
    }
    return out;
}

/* If meta holds a training spec, parses it into *spec_fields (arena-owned),
 * else leaves it NULL. A meta that looks like a spec but is malformed is an
 * error: the client clearly meant to start a training. */
static int trainings_meta_spec(request_t *r, json_object *fields, json_object **spec_fields)
{
    *spec_fields = NULL;
    json_object *meta;
    if (!json_object_object_get_ex(fields, "meta", &meta) || meta == NULL)
        return 0;
    const char *text = json_object_get_string(meta);
    json_object *parsed = json_tokener_parse(text);
    if (parsed == NULL)
        return 0;
    support_own(r, parsed);
    if (!json_object_is_type(parsed, json_type_object))
        return 0;
    if (!json_object_object_get_ex(parsed, "dataset_id", NULL) &&
        !json_object_object_get_ex(parsed, "predict_fields", NULL))
        return 0;
    err_t e;
    err_clear(&e);
    if (validate_body(parsed, spec_fields_optional_duration, spec_fields_optional_duration_count,
                      r->body_untyped, &e) != 0) {
        spec_rebase_errors(&e, "body/meta");
        r->err = e;
        return -1;
    }
    *spec_fields = parsed;
    return 0;
}

/* Adds `models` to a document, or to each document of a list (see the
 * top). The documents are the request's (arena-owned). */
static int trainings_add_models(request_t *r, json_object *docs)
{
    int list = json_object_is_type(docs, json_type_array);
    size_t n = list ? json_object_array_length(docs) : 1;
    const char **jobs = arena_calloc(r->arena, n + 1, sizeof(*jobs));
    json_object **models = arena_calloc(r->arena, n + 1, sizeof(*models));
    for (size_t i = 0; i < n; i++) {
        json_object *doc = list ? json_object_array_get_idx(docs, i) : docs, *job;
        if (json_object_object_get_ex(doc, "job_id", &job) &&
            json_object_is_type(job, json_type_string))
            jobs[i] = json_object_get_string(job);
    }
    if (lineage_of_jobs(r, jobs, n, models) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *doc = list ? json_object_array_get_idx(docs, i) : docs;
        json_object_object_add(doc, "models", models[i] ? models[i] : json_object_new_array());
    }
    return 0;
}

int trainings_create(request_t *r)
{
    app_t *app = app_of(r);
    json_object *fields = trainings_fields_of(r, r->body);
    json_object *spec_fields;
    if (trainings_meta_spec(r, fields, &spec_fields) != 0)
        return -1;
    json_object *spec = NULL;
    dataset_rec_t ds;
    if (spec_fields != NULL && spec_build(r, spec_fields, "body/meta", &ds, &spec, &r->err) != 0)
        return -1;
    if (db_begin(app->db, &r->err) != 0)
        return -1;
    const char *job_id = NULL;
    if (spec != NULL) {
        job_t job;
        memset(&job, 0, sizeof(job));
        job.workspace_id = r->auth.workspace_id;
        job.dialect = "strapi";
        job.spec = spec;
        job.dataset_id = ds.id;
        job.priority = 100;
        job.max_attempts = 3;
        int existing_job = 0;
        if (db_job_enqueue_in_tx(app->db, r->arena, &job, &existing_job, &r->err) != 0)
            goto fail;
        job_id = arena_strdup(r->arena, job.id);
    }
    json_object *doc;
    int existing = 0;
    if (db_training_create(app->db, r->arena, r->auth.workspace_id, fields, job_id,
                           r->auth.workspace_name, &doc, &existing, &r->err) != 0)
        goto fail;
    if (existing) {
        /* The same document was posted before: keep the first one and its job. */
        db_rollback(app->db);
        if (trainings_add_models(r, doc) != 0)
            return -1;
        return req_reply_json(r, 200, doc);
    }
    if (db_commit(app->db, &r->err) != 0)
        goto fail;
    if (trainings_add_models(r, doc) != 0)
        return -1;
    return req_reply_json(r, 200, doc);
fail:
    db_rollback(app->db);
    return -1;
}

typedef struct query_parse {
    strapi_query_t sq;
    err_t *e;
} query_parse_t;

static void trainings_query_param(const char *name, const char *value, void *ctx)
{
    query_parse_t *qp = ctx;
    if (!qp->sq.failed)
        (void)strapi_query_add(&qp->sq, name, value, qp->e);
}

/* Strapi v3's list parameters (handlers/strapi_query.h); the db layer
 * checks names against its allow-list. */
static int trainings_parse_query(request_t *r, training_query_t *q)
{
    query_parse_t qp = {.e = &r->err};
    strapi_query_init(&qp.sq, r->arena);
    req_query_each(r, trainings_query_param, &qp);
    return strapi_query_finish(&qp.sq, q, &r->err);
}

int trainings_list(request_t *r)
{
    training_query_t q;
    if (trainings_parse_query(r, &q) != 0)
        return -1;
    json_object *list;
    if (db_training_list(app_of(r)->db, r->arena, r->auth.workspace_id, &q, &list, &r->err) != 0 ||
        trainings_add_models(r, list) != 0)
        return -1;
    return req_reply_json(r, 200, list);
}

int trainings_count(request_t *r)
{
    training_query_t q;
    if (trainings_parse_query(r, &q) != 0)
        return -1;
    long long count;
    if (db_training_count(app_of(r)->db, r->arena, r->auth.workspace_id, &q, &count,
                          &r->err) != 0)
        return -1;
    const char *text = arena_sprintf(r->arena, "%lld", count);
    return req_reply_json_text(r, 200, text, strlen(text));
}

int trainings_show(request_t *r)
{
    json_object *doc;
    if (db_training_get(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], &doc,
                        &r->err) != 0 ||
        trainings_add_models(r, doc) != 0)
        return -1;
    return req_reply_json(r, 200, doc);
}

int trainings_update(request_t *r)
{
    json_object *fields = trainings_fields_of(r, r->body);
    json_object *doc;
    if (db_training_update(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], fields,
                           r->auth.workspace_name, &doc, &r->err) != 0 ||
        trainings_add_models(r, doc) != 0)
        return -1;
    return req_reply_json(r, 200, doc);
}

int trainings_delete(request_t *r)
{
    json_object *doc;
    if (db_training_delete(app_of(r)->db, r->arena, r->auth.workspace_id, r->params[0], &doc,
                           &r->err) != 0)
        return -1;
    return req_reply_json(r, 200, doc);
}
