/*
 * kaos.h — what the workspace dialect's handlers share with KAOS's routes
 * (handlers/kaos.c).
 */
#ifndef TRAINYARD_HANDLERS_KAOS_H
#define TRAINYARD_HANDLERS_KAOS_H

#include <stdio.h>

#include <json-c/json.h>

#include "db/artifacts.h"
#include "db/jobs.h"
#include "fcgi/request.h"

/* Makes the key's account's workspace named `name` the request's workspace
 * (r->auth.workspace_id and _name): every later lookup then acts in it.
 * -1 with 404 WORKSPACE_NOT_FOUND otherwise, for another account's too. */
int kaos_workspace_enter(request_t *r, const char *name);

/* Replies 200 {"response": doc} (doc: arena-owned through support_own). */
int kaos_reply(request_t *r, json_object *doc);

/* Replies 200 {"response": doc, <top's members>}: where KAOS's backend
 * answers a bare object (workspace list, uploads, inspect), its client
 * reads the members at the top level, while trainyard's own clients read
 * "response". top is consumed (its members move); doc as for kaos_reply. */
int kaos_reply_beside(request_t *r, json_object *doc, json_object *top);

/* Replies 200 with v itself as the body: KAOS answers logs and provenance
 * as a bare JSON string, which its client writes to a file or renders. */
int kaos_reply_bare(request_t *r, json_object *v);

/* A code bundle that arrived on POST /train/{ws} (in the open transaction,
 * its bytes in art and in spool, rewound). When it is not trainyard's own
 * (no trainyard.json at its root), handles it as a KAOS source bundle:
 * checks it, stores it, enqueues a job when the workspace has data,
 * commits and replies; *handled = 1. Otherwise *handled = 0 and nothing is
 * consumed but the spool's position. */
int kaos_submit_code(request_t *r, const artifact_info_t *art, FILE *spool, const char *user,
                     int *handled);

/* KAOS's name for a job state (JOB_RUNNING, JOB_SUCCESS, ...). */
const char *kaos_state_name(job_state_t s);

/* 1 for a job run by the sandbox runner (a KAOS source bundle). */
int kaos_job_is(const job_t *job);

/* Job info of a KAOS job: {"page_id","page_count","response":{..,
 * "partitions":[...]}}, sorted by the metric sort_by. Replies. */
int kaos_job_info(request_t *r, const job_t *job);

/* Provenance of a KAOS model as a Graphviz DOT string. Replies. */
int kaos_provenance(request_t *r, const job_t *job, const char *model_id);

/* The job's bundle as a zip: code (include_code), data, model(s). Replies. */
int kaos_bundle_zip(request_t *r, const job_t *job, int code, int data, int model,
                    const char *model_id);

#endif
