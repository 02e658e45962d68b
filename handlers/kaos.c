/*
 * kaos.c — KAOS's routes (seeds/001; github.com/KI-labs/kaos) over the
 * account/workspace model and the sandbox runner.
 *
 *   GET    /workspace                          the account's workspaces
 *   POST   /workspace/{name}                   create one
 *   GET    /workspace/{name}                   one, with its latest bundles
 *   DELETE /workspace/{name}                   refused while jobs are live
 *   POST   /data/{ws}/features                 a data bundle (zip of one folder
 *                                              holding training/ validation/ test/)
 *   POST   /data/{ws}/params?parallelism=N     a hyperparameter bundle (JSON files)
 *   GET    /train/{ws}/build/{job_id}/logs     a job's build log (also /build/{ws}/…)
 *
 * plus the KAOS half of POST /train/{ws} (a source bundle: one folder with
 * a Dockerfile and model/{__init__.py, requirements.txt, train}) and of job
 * info, provenance and bundle download for the jobs it makes
 * (handlers/workspace.c calls in here).
 *
 * Pipeline (KAOS's): a workspace trains when it has code and data; new
 * code trains on the latest data, new data (or hyperparameters) retrains
 * the latest code. Every upload is an artifact plus a kaos_bundles row; a
 * job's spec names the three bundles it was made from, so that provenance
 * and downloads never depend on what was uploaded since.
 *
 * Answers are {"response": …}, as KAOS's backend wraps most of them; where
 * it answers bare, its client (KI-labs/kaos cli/kaos_cli/) reads the bare
 * shape, so those members also sit beside "response" (kaos_reply_beside),
 * and logs and provenance, bare strings there, are bare strings here.
 * Errors are err_t in the workspace dialect ({"error_code","message"}),
 * with KAOS's codes and messages. A params upload is a zip of JSON files
 * or KAOS's own grid (a JSON object of lists, bundle/kaos.h), stored as
 * the zip of its runs.
 */
#include "handlers/kaos.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/kaos.h"
#include "common/runner.h"
#include "common/util.h"
#include "db/accounts.h"
#include "db/models.h"
#include "fcgi/multipart.h"
#include "handlers/app.h"
#include "handlers/handlers.h"
#include "handlers/support.h"
#include "handlers/tarball.h"

#define KAOS_PAGE_SIZE 10 /* partitions per page of job info, as KAOS's TrainController */

/* name in lower case (arena), or NULL when it has no upper-case letter. */
static char *ws_lower(request_t *r, const char *name)
{
    int upper = 0;
    for (const char *p = name; *p; p++)
        upper |= isupper((unsigned char)*p) != 0;
    if (!upper)
        return NULL;
    char *low = arena_strdup(r->arena, name);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return low;
}

/* KAOS lowercases a workspace's name when it creates one (its backend's
 * routes/workspace.py, and its client before every use), so a name is
 * looked up as given, then in lower case: "Iris" finds the "iris" that
 * POST /workspace/Iris made, and names made before with capitals (by
 * `trainyard workspace create`) are still found as they are spelled. */
int kaos_workspace_enter(request_t *r, const char *name)
{
    /* The path's workspace wins over an X-Trainyard-Workspace header; a key
     * kept to its own workspace is refused others (handlers/app.c). */
    if (app_workspace_enter(r, name, &r->err) == 0)
        return 0;
    char *low = ws_lower(r, name);
    if (r->err.status != 404 || low == NULL)
        return -1;
    err_t again;
    err_clear(&again);
    if (app_workspace_enter(r, low, &again) != 0) {
        if (again.status != 404)
            r->err = again; /* found, but not this key's to use */
        return -1;          /* else r->err names the name as given */
    }
    err_clear(&r->err);
    return 0;
}

int kaos_reply(request_t *r, json_object *doc)
{
    json_object *w = support_own(r, json_object_new_object());
    json_object_object_add(w, "response", json_object_get(doc));
    return req_reply_json(r, 200, w);
}

int kaos_reply_beside(request_t *r, json_object *doc, json_object *top)
{
    support_own(r, top);
    json_object_object_add(top, "response", json_object_get(doc));
    return req_reply_json(r, 200, top);
}

int kaos_reply_bare(request_t *r, json_object *v)
{
    return req_reply_json(r, 200, v);
}

const char *kaos_state_name(job_state_t s)
{
    switch (s) {
    case JOB_QUEUED: return "JOB_STARTING";
    case JOB_BUILDING: return "JOB_RUNNING";
    case JOB_RUNNING: return "JOB_RUNNING";
    case JOB_SUCCEEDED: return "JOB_SUCCESS";
    case JOB_KILLED: return "JOB_KILLED";
    default: return "JOB_FAILURE";
    }
}

int kaos_job_is(const job_t *job)
{
    json_object *v;
    return job->spec != NULL && json_object_object_get_ex(job->spec, "runner", &v) &&
           strcmp(json_object_get_string(v), "sandbox") == 0;
}

/* --- workspaces ---------------------------------------------------------- */

int kaos_ws_list(request_t *r)
{
    json_object *list;
    if (db_account_workspace_list(app_of(r)->db, r->arena, r->auth.account_id, &list,
                                  &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object *names = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *n;
        json_object_object_get_ex(json_object_array_get_idx(list, i), "name", &n);
        json_object_array_add(names, json_object_get(n));
    }
    json_object_object_add(doc, "names", names);
    json_object_object_add(doc, "workspaces", list);
    /* The workspace this request acts in (the key's own, or the one
     * X-Trainyard-Workspace chose), for clients that must name it (the CLI,
     * the console's picker); a key kept to it sees no other. */
    json_object_object_add(doc, "current", json_object_new_string(r->auth.workspace_name));
    json_object_object_add(doc, "workspace_only", json_object_new_boolean(r->auth.workspace_only));
    if (r->auth.workspace_only) {
        json_object *own = json_object_new_array();
        names = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *w = json_object_array_get_idx(list, i), *n;
            if (json_object_object_get_ex(w, "name", &n) &&
                strcmp(json_object_get_string(n), r->auth.workspace_name) == 0) {
                json_object_array_add(own, json_object_get(w));
                json_object_array_add(names, json_object_get(n));
            }
        }
        json_object_object_add(doc, "names", names);
        json_object_object_add(doc, "workspaces", own);
    }
    /* KAOS's backend answers {"names": [...]} bare; its client reads
     * data['names'] (cli/kaos_cli/facades/workspace_facade.py, list). */
    json_object *top = json_object_new_object();
    json_object_object_add(top, "names", json_object_get(names));
    return kaos_reply_beside(r, doc, top);
}

/* KAOS's client refuses names outside [a-zA-Z0-9_] with "Invalid Workspace
 * name" and lowercases the rest; its backend lowercases what it is sent
 * (cli/kaos_cli/facades/workspace_facade.py, backend routes/workspace.py).
 * Here a name may also hold '-' (trainyard's own workspaces do), and is
 * stored in lower case. */
int kaos_ws_create(request_t *r)
{
    const char *given = r->params[0];
    char *low = ws_lower(r, given);
    const char *name = low ? low : given;
    if (!db_workspace_name_ok(name))
        return err_set(&r->err, 400, "INVALID_WORKSPACE_NAME",
                       "Invalid Workspace name: \"%.80s\" (use 1 to 64 of a-z 0-9 _ -)", given);
    long long id;
    if (db_account_workspace_create(app_of(r)->db, r->arena, r->auth.account_id, name, &id,
                                    &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "name", json_object_new_string(name));
    json_object_object_add(doc, "message",
                           json_object_new_string(arena_sprintf(r->arena, "Workspace %s created",
                                                                name)));
    return kaos_reply(r, doc);
}

static json_object *kaos_bundle_doc(const kaos_bundle_t *b)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bundle_id", json_object_new_string(b->id));
    json_object_object_add(o, "artifact_id", json_object_new_string(b->artifact_id));
    json_object_object_add(o, "sha256", json_object_new_string(b->sha256 ? b->sha256 : ""));
    json_object_object_add(o, "size", json_object_new_int64(b->size));
    json_object_object_add(o, "format", json_object_new_string(b->format));
    support_json_str(o, "root", b->root);
    if (strcmp(b->kind, "params") == 0) {
        json_object *names = json_object_new_array();
        for (size_t i = 0; b->files && i < json_object_array_length(b->files); i++) {
            json_object *f = json_object_array_get_idx(b->files, i), *v;
            json_object *one = json_object_new_object();
            if (json_object_object_get_ex(f, "name", &v))
                json_object_object_add(one, "name", json_object_get(v));
            if (json_object_object_get_ex(f, "path", &v))
                json_object_object_add(one, "path", json_object_get(v));
            json_object_array_add(names, one);
        }
        json_object_object_add(o, "files", names);
        json_object_object_add(o, "parallelism", json_object_new_int(b->parallelism));
    }
    support_json_str(o, "user", b->user_name);
    support_json_time(o, "created_at", b->created_at);
    return o;
}

int kaos_ws_show(request_t *r)
{
    if (kaos_workspace_enter(r, r->params[0]) != 0)
        return -1;
    app_t *app = app_of(r);
    json_object *doc = support_own(r, json_object_new_object());
    const char *ws = r->auth.workspace_name;
    json_object_object_add(doc, "name", json_object_new_string(ws));
    /* KAOS's WorkspaceInfo {name, pipelines, repos} (kaos_model/common.py):
     * its client prints both lists (commands/workspace.py, info). The
     * repos are where job info's descriptors point (kaos_descriptor), the
     * pipelines the two stages every job goes through. */
    json_object *pipes = json_object_new_array(), *repos = json_object_new_array();
    static const char *const pipe_names[] = {"build", "train"};
    static const char *const repo_names[] = {"code", "data", "hyper", "build", "model"};
    for (size_t i = 0; i < 2; i++)
        json_object_array_add(pipes, json_object_new_string(
                                         arena_sprintf(r->arena, "%s-%s", pipe_names[i], ws)));
    for (size_t i = 0; i < 5; i++)
        json_object_array_add(repos, json_object_new_string(
                                         arena_sprintf(r->arena, "%s-%s", repo_names[i], ws)));
    json_object_object_add(doc, "pipelines", pipes);
    json_object_object_add(doc, "repos", repos);
    static const char *const kinds[] = {"code", "data", "params"};
    for (size_t i = 0; i < 3; i++) {
        kaos_bundle_t b;
        int found;
        if (db_kaos_bundle_latest(app->db, r->arena, r->auth.workspace_id, kinds[i], &b, &found,
                                  &r->err) != 0)
            return -1;
        json_object_object_add(doc, kinds[i], found ? kaos_bundle_doc(&b) : NULL);
    }
    long long counts[7];
    if (db_job_counts(app->db, r->arena, r->auth.workspace_id, counts, &r->err) != 0)
        return -1;
    json_object *states = json_object_new_object();
    for (int s = JOB_QUEUED; s <= JOB_TIMED_OUT; s++)
        json_object_object_add(states, job_state_name((job_state_t)s),
                               json_object_new_int64(counts[s]));
    json_object_object_add(doc, "jobs", states);
    return kaos_reply(r, doc);
}

int kaos_ws_delete(request_t *r)
{
    if (kaos_workspace_enter(r, r->params[0]) != 0) /* the name as stored */
        return -1;
    const char *name = r->auth.workspace_name;
    if (db_account_workspace_delete(app_of(r)->db, r->arena, r->auth.account_id, name,
                                    &r->err) != 0)
        return -1;
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "name", json_object_new_string(name));
    json_object_object_add(doc, "message",
                           json_object_new_string(arena_sprintf(r->arena, "Workspace %s deleted",
                                                                name)));
    return kaos_reply(r, doc);
}

/* --- uploads --------------------------------------------------------------- */

typedef struct kaos_upload {
    artifact_writer_t *writer;
    FILE *spool;
    int in_data, saw_data, saw_part;
} kaos_upload_t;

static int up_tee(void *ctx, const char *buf, size_t n, err_t *e)
{
    kaos_upload_t *up = ctx;
    if (fwrite(buf, 1, n, up->spool) != n)
        return err_set(e, 500, "internal", "could not spool the bundle");
    return up->writer != NULL ? db_artifact_write(up->writer, buf, n, e) : 0;
}

static int up_begin(void *ctx, const char *name, const char *filename, const char *ctype,
                    err_t *e)
{
    (void)filename;
    (void)ctype;
    kaos_upload_t *up = ctx;
    up->saw_part = 1;
    up->in_data = name != NULL && strcmp(name, "data") == 0;
    if (up->in_data && up->saw_data++)
        return err_set(e, 400, "INVALID_BUNDLE", "send exactly one `data` part");
    return 0;
}

static int up_data(void *ctx, const char *buf, size_t n, err_t *e)
{
    kaos_upload_t *up = ctx;
    return up->in_data ? up_tee(up, buf, n, e) : 0;
}

static int up_end(void *ctx, err_t *e)
{
    (void)e;
    ((kaos_upload_t *)ctx)->in_data = 0;
    return 0;
}

static const multipart_callbacks_t up_multipart = {up_begin, up_data, up_end};

static ssize_t spool_read(void *ctx, void *buf, size_t n, err_t *e)
{
    FILE *f = ctx;
    size_t got = fread(buf, 1, n, f);
    if (got == 0 && ferror(f))
        return err_set(e, 500, "internal", "could not read the spooled bundle");
    return (ssize_t)got;
}

static void up_fclose(void *f)
{
    fclose(f);
}

/* Receives the body (multipart field `data`, or raw) into a rewound spool
 * and, when art is not NULL, at the same time into a new artifact, inside
 * a transaction the caller then commits. */
static int kaos_receive(request_t *r, kaos_upload_t *up, artifact_info_t *art, err_t *e)
{
    app_t *app = app_of(r);
    up->spool = tmpfile();
    if (up->spool == NULL)
        return err_set(e, 500, "internal", "could not create a spool file");
    arena_defer(r->arena, up_fclose, up->spool);
    if (db_begin(app->db, e) != 0)
        return -1;
    if (art != NULL) {
        up->writer = db_artifact_begin(app->db, r->auth.workspace_id, "bundle", e);
        if (up->writer == NULL)
            return -1;
    }
    int multipart = strcmp(r->media_type, "multipart/form-data") == 0;
    if (support_body_stream(r, multipart ? &up_multipart : NULL, up_tee, up, e) != 0)
        return -1;
    if (multipart && !up->saw_data)
        return err_set(e, 400, "INVALID_BUNDLE", "data: send the bundle as the `data` part");
    long size = ftell(up->spool);
    if (art != NULL) {
        artifact_writer_t *w = up->writer;
        up->writer = NULL;
        if (db_artifact_finish(w, art, e) != 0)
            return -1;
    }
    if (size <= 0)
        return err_set(e, 400, "INVALID_BUNDLE", "Bundle must be non-empty");
    rewind(up->spool);
    return 0;
}

/* Stores the whole of f (rewound after) as a new artifact, in the open
 * transaction. */
static int kaos_spool_store(request_t *r, kaos_upload_t *up, FILE *f, artifact_info_t *art,
                            err_t *e)
{
    rewind(f);
    up->writer = db_artifact_begin(app_of(r)->db, r->auth.workspace_id, "bundle", e);
    if (up->writer == NULL)
        return -1;
    char buf[64 * 1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (db_artifact_write(up->writer, buf, n, e) != 0)
            return -1;
    if (ferror(f))
        return err_set(e, 500, "internal", "could not read the spooled bundle");
    artifact_writer_t *w = up->writer;
    up->writer = NULL;
    if (db_artifact_finish(w, art, e) != 0)
        return -1;
    rewind(f);
    return 0;
}

/* A params upload that is KAOS's own grid (a JSON object of lists, as its
 * client sends `-h params.json`): up->spool becomes the zip of its runs
 * (*runs, arena-owned, the combinations), unless the grid is empty
 * (*runs = [{}], nothing to store: *empty = 1). An archive is left alone
 * (*runs = NULL). */
static int kaos_grid_receive(request_t *r, kaos_upload_t *up, json_object **runs, int *empty,
                             err_t *e)
{
    *runs = NULL;
    *empty = 0;
    char head[256];
    size_t n = fread(head, 1, sizeof(head), up->spool);
    rewind(up->spool);
    if (!kaos_params_is_grid(head, n))
        return 0;
    fseek(up->spool, 0, SEEK_END);
    long size = ftell(up->spool);
    rewind(up->spool);
    if (size > KAOS_GRID_MAX_BYTES)
        return err_set(e, 413, "INVALID_BUNDLE",
                       "data: a hyperparameter grid is at most %d bytes", KAOS_GRID_MAX_BYTES);
    char *json = arena_alloc(r->arena, (size_t)size + 1);
    if (fread(json, 1, (size_t)size, up->spool) != (size_t)size)
        return err_set(e, 500, "internal", "could not read the spooled bundle");
    FILE *zip = tmpfile();
    if (zip == NULL)
        return err_set(e, 500, "internal", "could not create a spool file");
    arena_defer(r->arena, up_fclose, zip);
    /* The runs' folder is the grid's short hash, as KAOS names it. */
    sha256_t *h = sha256_new();
    sha256_update(h, json, (size_t)size);
    char hex[65];
    sha256_finish_hex(h, hex);
    hex[10] = '\0';
    if (kaos_params_grid(json, (size_t)size, hex, zip, runs, e) != 0)
        return -1;
    support_own(r, *runs);
    json_object *first = json_object_array_get_idx(*runs, 0);
    *empty = json_object_object_length(first) == 0;
    if (!*empty)
        up->spool = zip;
    rewind(up->spool);
    return 0;
}

static void kaos_upload_abort(request_t *r, kaos_upload_t *up)
{
    if (up->writer != NULL)
        db_artifact_abort(up->writer);
    up->writer = NULL;
    db_rollback(app_of(r)->db);
}

/* KAOS's resource requests, as its backend checks them (util/validators.py):
 * memory a number with an SI suffix (k M G T P: powers of 1000; Ki Mi Gi
 * Ti Pi: powers of 1024), cpu a number of cores, gpu a count (no GPU
 * here: any is refused, as KAOS does when none are enabled). *memory in
 * bytes, 0 when not asked. The cpu request is checked only: the sandbox's
 * CPU-seconds limit stays the trainer's. */
static int kaos_resources(request_t *r, double *memory)
{
    static const struct { const char *suffix; double mult; } units[] = {
        {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
        {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
        {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"", 1.0}};
    *memory = 0;
    const char *mem = req_query(r, "memory");
    if (mem != NULL && *mem != '\0') {
        char *end;
        double m = strtod(mem, &end);
        double mult = -1;
        for (size_t i = 0; end != mem && i < sizeof(units) / sizeof(units[0]); i++)
            if (strcmp(end, units[i].suffix) == 0) {
                mult = units[i].mult;
                break;
            }
        if (mult < 0 || !(m > 0) || !isfinite(m * mult))
            return err_set(&r->err, 400, "MEMORY_REQUEST_ERROR",
                           "memory: Incorrect memory request %.40s (a number of bytes, "
                           "optionally with k M G T P or Ki Mi Gi Ti Pi, e.g. 512Mi)", mem);
        *memory = m * mult;
    }
    const char *cpu = req_query(r, "cpu");
    if (cpu != NULL && *cpu != '\0') {
        char *end;
        double c = strtod(cpu, &end);
        if (end == cpu || *end != '\0' || !(c > 0) || !isfinite(c))
            return err_set(&r->err, 400, "CPU_REQUEST_ERROR",
                           "cpu: Incorrect cpu request %.40s (a positive number of cores)", cpu);
    }
    long long gpu;
    if (support_query_int(r, "gpu", 0, 0, 1000000, &gpu, &r->err) != 0)
        return -1;
    if (gpu > 0)
        return err_set(&r->err, 400, "GPU_REQUEST_ERROR", "gpu: GPUs are not enabled");
    return 0;
}

/* The job for code x data (x params), in the open transaction. */
static int kaos_enqueue(request_t *r, const kaos_bundle_t *code, const kaos_bundle_t *data,
                        const kaos_bundle_t *params, const char *user, double timeout,
                        job_t *job)
{
    json_object *spec = support_own(r, json_object_new_object());
    json_object_object_add(spec, "runner", json_object_new_string("sandbox"));
    json_object_object_add(spec, "kaos", json_object_new_boolean(1));
    json_object_object_add(spec, "code", kaos_bundle_doc(code));
    json_object_object_add(spec, "data", kaos_bundle_doc(data));
    if (params != NULL) {
        json_object *p = kaos_bundle_doc(params);
        json_object_object_add(spec, "params", p);
    }
    json_object *folders = NULL;
    (void)folders;
    /* KAOS's optional resource requests: only lower the trainer's limits. */
    json_object *lim = json_object_new_object();
    if (timeout > 0)
        json_object_object_add(lim, "timeout", json_object_new_double(timeout));
    double mem;
    if (kaos_resources(r, &mem) != 0) {
        json_object_put(lim);
        return -1;
    }
    if (mem > 0)
        json_object_object_add(lim, "memory", json_object_new_double(mem));
    json_object_object_add(spec, "limits", lim);
    if (user != NULL)
        json_object_object_add(spec, "user", json_object_new_string(user));
    memset(job, 0, sizeof(*job));
    job->workspace_id = r->auth.workspace_id;
    job->dialect = "workspace";
    job->spec = spec;
    job->bundle_id = arena_strdup(r->arena, code->artifact_id);
    job->user_name = user;
    job->priority = 100;
    job->max_attempts = 1; /* user code is never run twice behind the user's back */
    int existing = 0;
    return db_job_enqueue_in_tx(app_of(r)->db, r->arena, job, &existing, &r->err);
}

/* KAOS strips dots from the user name; so do we. */
static const char *kaos_user(request_t *r, err_t *e)
{
    const char *user = req_query(r, "user");
    if (user == NULL)
        return NULL;
    if (strlen(user) > 200) {
        err_set(e, 400, "INVALID_REQUEST", "user: at most 200 characters");
        return NULL;
    }
    char *u = arena_strdup(r->arena, user), *o = u;
    for (const char *p = user; *p; p++)
        if (*p != '.')
            *o++ = *p;
    *o = '\0';
    return u;
}

static int kaos_timeout(request_t *r, double *timeout)
{
    long long t;
    if (support_query_int(r, "timeout", 0, 0, 86400, &t, &r->err) != 0)
        return -1;
    *timeout = (double)t;
    return 0;
}

/* After an upload: the latest of each kind, and a job when code and data
 * are both there. job_id (arena) or NULL. */
static int kaos_pipeline(request_t *r, const kaos_bundle_t *fresh, const char *user,
                         double timeout, const char **job_id)
{
    app_t *app = app_of(r);
    kaos_bundle_t b[3];
    int found[3];
    static const char *const kinds[] = {"code", "data", "params"};
    *job_id = NULL;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(fresh->kind, kinds[i]) == 0) {
            b[i] = *fresh;
            found[i] = 1;
            continue;
        }
        if (db_kaos_bundle_latest(app->db, r->arena, r->auth.workspace_id, kinds[i], &b[i],
                                  &found[i], &r->err) != 0)
            return -1;
    }
    if (!found[0] || !found[1])
        return 0;
    job_t job;
    if (user == NULL)
        user = b[0].user_name; /* the code's owner, when data triggered the job */
    if (kaos_enqueue(r, &b[0], &b[1], found[2] ? &b[2] : NULL, user, timeout, &job) != 0)
        return -1;
    *job_id = arena_strdup(r->arena, job.id);
    return 0;
}

static int kaos_store(request_t *r, const char *kind, const artifact_info_t *art,
                      const kaos_scan_t *scan, int parallelism, const char *user,
                      kaos_bundle_t *b)
{
    memset(b, 0, sizeof(*b));
    b->workspace_id = r->auth.workspace_id;
    b->kind = kind;
    snprintf(b->artifact_id, sizeof(b->artifact_id), "%s", art->id);
    b->format = scan->zip ? "zip" : "tar";
    b->size = (long long)art->size;
    b->sha256 = arena_strdup(r->arena, art->sha256);
    b->root = scan->root[0] ? arena_strdup(r->arena, scan->root) : NULL;
    b->files = scan->files;
    b->parallelism = parallelism;
    b->user_name = user;
    return db_kaos_bundle_insert(app_of(r)->db, r->arena, b, &r->err);
}

/* KAOS's name for an upload (its backend answers {"glob_name": ...}):
 * code and data "<root folder>:<hash>", hyperparameters "<hash>". */
static const char *kaos_glob_name(request_t *r, const kaos_bundle_t *b)
{
    const char *sha = b->sha256 ? b->sha256 : "";
    if (b->root == NULL)
        return arena_sprintf(r->arena, "%.10s", sha);
    return arena_sprintf(r->arena, "%s:%.10s", b->root, sha);
}

/* Each hyperparameter file's parameters, as KAOS's "params" list. */
static json_object *kaos_bundle_params(const kaos_bundle_t *b)
{
    json_object *list = json_object_new_array();
    for (size_t i = 0; b->files && i < json_object_array_length(b->files); i++) {
        json_object *v;
        if (json_object_object_get_ex(json_object_array_get_idx(b->files, i), "params", &v))
            json_object_array_add(list, json_object_get(v));
    }
    return list;
}

/* {"response": {...}} plus KAOS's bare answer beside it: "glob_name"
 * (code, data, params) and "params", the runs (params): its client reads
 * data['glob_name'] and data['params'] after each upload
 * (cli/kaos_cli/commands/train.py, deploy). */
static int kaos_upload_reply(request_t *r, const kaos_bundle_t *b, const kaos_scan_t *scan,
                             const char *job_id, const char *waiting)
{
    json_object *top = json_object_new_object();
    json_object_object_add(top, "glob_name", json_object_new_string(kaos_glob_name(r, b)));
    if (strcmp(b->kind, "params") == 0)
        json_object_object_add(top, "params", kaos_bundle_params(b));
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "workspace", json_object_new_string(r->auth.workspace_name));
    json_object_object_add(doc, "bundle", kaos_bundle_doc(b));
    json_object_object_add(doc, "entries", json_object_new_int64((int64_t)scan->entries));
    if (scan->folders != NULL)
        json_object_object_add(doc, "folders", json_object_get(scan->folders));
    support_json_str(doc, "job_id", job_id);
    json_object_object_add(doc, "message",
                           json_object_new_string(job_id ? "Training job queued" : waiting));
    return kaos_reply_beside(r, doc, top);
}

static int kaos_upload_common(request_t *r, kaos_kind_t kind, const char *kind_name,
                              int parallelism, const char *waiting)
{
    if (kaos_workspace_enter(r, r->params[0]) != 0)
        return -1;
    const char *user = NULL;
    double timeout = 0;
    err_t ue;
    err_clear(&ue);
    if ((user = kaos_user(r, &ue)) == NULL && ue.count > 0) {
        r->err = ue;
        return -1;
    }
    double mem;
    if (kaos_timeout(r, &timeout) != 0 || kaos_resources(r, &mem) != 0 ||
        support_upload_slot(r, &r->err) != 0)
        return -1;
    kaos_upload_t up = {0};
    artifact_info_t art;
    kaos_scan_t scan;
    memset(&scan, 0, sizeof(scan));
    kaos_bundle_t b;
    const char *job_id = NULL;
    if (kind == KAOS_PARAMS) {
        /* a zip of JSON files, or KAOS's own grid (a JSON object) */
        json_object *runs;
        int empty;
        if (kaos_receive(r, &up, NULL, &r->err) != 0 ||
            kaos_grid_receive(r, &up, &runs, &empty, &r->err) != 0)
            goto fail;
        if (empty) {
            /* KAOS's client sends {} when a deploy has no hyperparameters;
             * its backend then leaves the pipeline as it is. */
            db_rollback(app_of(r)->db);
            json_object *top = json_object_new_object();
            json_object_object_add(top, "glob_name", json_object_new_string(""));
            json_object_object_add(top, "params", json_object_get(runs));
            json_object *doc = support_own(r, json_object_new_object());
            json_object_object_add(doc, "workspace",
                                   json_object_new_string(r->auth.workspace_name));
            json_object_object_add(doc, "bundle", NULL);
            json_object_object_add(doc, "job_id", NULL);
            json_object_object_add(doc, "message",
                                   json_object_new_string("No hyperparameters: nothing changed"));
            return kaos_reply_beside(r, doc, top);
        }
        if (kaos_spool_store(r, &up, up.spool, &art, &r->err) != 0)
            goto fail;
    } else if (kaos_receive(r, &up, &art, &r->err) != 0) {
        goto fail;
    }
    if (kaos_bundle_scan(spool_read, up.spool, kind, &scan, &r->err) != 0)
        goto fail;
    support_own(r, scan.files);
    support_own(r, scan.folders);
    if (kaos_store(r, kind_name, &art, &scan, parallelism, user, &b) != 0 ||
        kaos_pipeline(r, &b, user, timeout, &job_id) != 0 ||
        db_commit(app_of(r)->db, &r->err) != 0)
        goto fail;
    return kaos_upload_reply(r, &b, &scan, job_id, waiting);
fail:
    kaos_upload_abort(r, &up);
    return -1;
}

int kaos_data_features(request_t *r)
{
    return kaos_upload_common(r, KAOS_DATA, "data", 1,
                              "Data stored; training starts once source code is uploaded");
}

int kaos_data_params(request_t *r)
{
    long long par;
    if (support_query_int(r, "parallelism", 1, 1, 64, &par, &r->err) != 0)
        return -1;
    return kaos_upload_common(r, KAOS_PARAMS, "params", (int)par,
                              "Hyperparameters stored; training starts once source code and "
                              "data are uploaded");
}

int kaos_submit_code(request_t *r, const artifact_info_t *art, FILE *spool, const char *user,
                     int *handled)
{
    *handled = 0;
    kaos_scan_t scan;
    if (kaos_bundle_scan(spool_read, spool, KAOS_CODE, &scan, &r->err) != 0)
        return -1;
    support_own(r, scan.files);
    support_own(r, scan.folders);
    rewind(spool);
    if (scan.spec_bundle)
        return 0; /* trainyard's own: handlers/workspace.c goes on */
    *handled = 1;
    char why[200];
    if (!runner_available(app_of(r)->config ? &app_of(r)->config->runner : &runner_cfg_default,
                          why, sizeof(why)))
        return err_set(&r->err, 422, "RUNNER_UNAVAILABLE",
                       "Source-code bundles cannot be trained here: %s", why);
    const char *u = NULL;
    if (user != NULL) {
        char *c = arena_strdup(r->arena, user), *o = c;
        for (const char *p = user; *p; p++)
            if (*p != '.')
                *o++ = *p;
        *o = '\0';
        u = c;
    }
    double timeout = 0, mem;
    if (kaos_timeout(r, &timeout) != 0 || kaos_resources(r, &mem) != 0)
        return -1;
    kaos_bundle_t b;
    const char *job_id = NULL;
    if (kaos_store(r, "code", art, &scan, 1, u, &b) != 0 ||
        kaos_pipeline(r, &b, u, timeout, &job_id) != 0 ||
        db_commit(app_of(r)->db, &r->err) != 0)
        return -1;
    return kaos_upload_reply(r, &b, &scan, job_id,
                             "Source code stored; training starts once data is uploaded");
}

/* --- build logs ------------------------------------------------------------- */

int kaos_build_logs(request_t *r)
{
    if (kaos_workspace_enter(r, r->params[0]) != 0)
        return -1;
    job_t job;
    const char *id = r->params[1];
    if (!util_is_uuid(id) ||
        db_job_get(app_of(r)->db, r->arena, r->auth.workspace_id, id, &job, &r->err) != 0) {
        if (r->err.status >= 500)
            return -1;
        err_clear(&r->err);
        return err_set(&r->err, 404, "JOB_NOT_FOUND", "There is no job with id: %s", id);
    }
    json_object *lines;
    if (db_job_logs(app_of(r)->db, r->arena, r->auth.workspace_id, job.id, 0, 10000, &lines,
                    &r->err) != 0)
        return -1;
    support_own(r, lines);
    size_t cap = 1 << 16, len = 0;
    char *text = arena_alloc(r->arena, cap);
    text[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *l;
        if (!json_object_object_get_ex(json_object_array_get_idx(lines, i), "line", &l))
            continue;
        const char *s = json_object_get_string(l);
        if (strncmp(s, "[build]", 7) != 0)
            continue;
        size_t n = strlen(s);
        if (len + n + 2 > cap) {
            size_t ncap = (len + n + 2) * 2;
            char *t = arena_alloc(r->arena, ncap);
            memcpy(t, text, len + 1);
            text = t;
            cap = ncap;
        }
        memcpy(text + len, s, n);
        len += n;
        text[len++] = '\n';
        text[len] = '\0';
    }
    /* bare, as KAOS answers it (its client writes it to build-train-<job>.log) */
    json_object *doc = support_own(r, json_object_new_string_len(text, (int)len));
    return kaos_reply_bare(r, doc);
}

/* --- job info ------------------------------------------------------------------ */

/* The job's hyperparameter files with their parameters ([{"name","path",
 * "params"}], arena-owned), from the params bundle it was made from (the
 * job's spec names it, without the parameters); NULL when it has none. */
static json_object *kaos_params_files(request_t *r, const job_t *job)
{
    json_object *p, *id;
    if (job->spec == NULL || !json_object_object_get_ex(job->spec, "params", &p) ||
        !json_object_object_get_ex(p, "bundle_id", &id))
        return NULL;
    kaos_bundle_t b;
    err_t e;
    err_clear(&e);
    if (db_kaos_bundle_get(app_of(r)->db, r->arena, r->auth.workspace_id,
                           json_object_get_string(id), &b, &e) != 0)
        return NULL; /* a convenience: the answer goes on without them */
    return b.files;
}

/* The parameters of the file named name in files, or NULL. */
static json_object *kaos_file_params(json_object *files, const char *name)
{
    json_object *v;
    for (size_t i = 0; name != NULL && files != NULL && i < json_object_array_length(files);
         i++) {
        json_object *f = json_object_array_get_idx(files, i);
        if (json_object_object_get_ex(f, "name", &v) && strcmp(json_object_get_string(v), name) == 0 &&
            json_object_object_get_ex(f, "params", &v))
            return v;
    }
    return NULL;
}

typedef struct partition {
    json_object *doc;
    int has;
    double score;
    const char *name;
} partition_t;

static int lower_is_better(const char *metric)
{
    static const char *const loss[] = {"loss", "error", "mse", "mae", "rmse", "logloss"};
    for (size_t i = 0; i < sizeof(loss) / sizeof(loss[0]); i++)
        if (strstr(metric, loss[i]) != NULL)
            return 1;
    return 0;
}

static int part_sign; /* 1: ascending scores first, -1: descending */

static int part_cmp(const void *a, const void *b)
{
    const partition_t *x = a, *y = b;
    if (x->has != y->has)
        return y->has - x->has; /* runs without the metric last */
    if (x->has && x->score != y->score)
        return part_sign * ((x->score > y->score) - (x->score < y->score));
    return strcmp(x->name, y->name);
}

/* KAOS's DataDescriptor (kaos_model/common.py): where a partition's code,
 * data, image, hyperparameters and output came from. KAOS names Pachyderm
 * repos and commits; here the repo is the kind and workspace, the commit
 * the bundle's SHA-256 (the job's id for outputs), the path the folder,
 * file or model id. */
static json_object *kaos_descriptor(request_t *r, const char *kind, const char *commit,
                                    const char *path, const char *author)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "repo", json_object_new_string(
                                          arena_sprintf(r->arena, "%s-%s", kind,
                                                        r->auth.workspace_name)));
    json_object_object_add(o, "commit", json_object_new_string(commit ? commit : ""));
    json_object_object_add(o, "path", json_object_new_string(path ? path : ""));
    json_object_object_add(o, "branch", json_object_new_string("master"));
    json_object_object_add(o, "author", author ? json_object_new_string(author) : NULL);
    return o;
}

static const char *spec_field(json_object *spec, const char *bundle, const char *key)
{
    json_object *b, *v;
    if (spec == NULL || !json_object_object_get_ex(spec, bundle, &b) ||
        !json_object_object_get_ex(b, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The path of the hyperparameter file named name in the job's params bundle. */
static const char *spec_hyper_path(json_object *spec, const char *name)
{
    json_object *b, *files, *v;
    if (name == NULL || spec == NULL || !json_object_object_get_ex(spec, "params", &b) ||
        !json_object_object_get_ex(b, "files", &files))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(files); i++) {
        json_object *f = json_object_array_get_idx(files, i);
        if (json_object_object_get_ex(f, "name", &v) &&
            strcmp(json_object_get_string(v), name) == 0 &&
            json_object_object_get_ex(f, "path", &v))
            return json_object_get_string(v);
    }
    return NULL;
}

/* KAOS's PartitionInfo fields beside ours: datum_id and the descriptors. */
static void kaos_partition_provenance(request_t *r, const job_t *job, json_object *p,
                                      const char *name, const char *model_id)
{
    json_object *spec = job->spec;
    const char *code_sha = spec_field(spec, "code", "sha256"),
               *code_root = spec_field(spec, "code", "root");
    json_object_object_add(p, "datum_id", json_object_new_string(name ? name : ""));
    json_object_object_add(p, "code", kaos_descriptor(r, "code", code_sha, code_root,
                                                      spec_field(spec, "code", "user")));
    json_object_object_add(p, "data",
                           kaos_descriptor(r, "data", spec_field(spec, "data", "sha256"),
                                           spec_field(spec, "data", "root"),
                                           spec_field(spec, "data", "user")));
    json_object_object_add(p, "image", kaos_descriptor(r, "build", code_sha, code_root, NULL));
    json_object_object_add(p, "output", kaos_descriptor(r, "model", job->id, model_id, NULL));
    const char *hp = spec_hyper_path(spec, name);
    json_object_object_add(p, "hyperparams",
                           hp ? kaos_descriptor(r, "hyper", spec_field(spec, "params", "sha256"),
                                                hp, spec_field(spec, "params", "user"))
                              : NULL);
}

int kaos_job_info(request_t *r, const job_t *job)
{
    long long page, size;
    if (support_query_int(r, "page_id", 0, 0, 1000000, &page, &r->err) != 0 ||
        support_query_int(r, "page_size", KAOS_PAGE_SIZE, 1, 100, &size, &r->err) != 0)
        return -1;
    const char *sort_by = req_query(r, "sort_by");
    if (sort_by != NULL && *sort_by == '\0')
        sort_by = NULL;
    model_rec_t *models;
    size_t n_models;
    if (db_model_list_for_job(app_of(r)->db, r->arena, r->auth.workspace_id, job->id, &models,
                              &n_models, &r->err) != 0)
        return -1;
    json_object *runs = NULL;
    if (job->result != NULL)
        json_object_object_get_ex(job->result, "runs", &runs);
    size_t n_runs = runs ? json_object_array_length(runs) : 0;
    size_t total = n_runs > n_models ? n_runs : n_models;
    partition_t *parts = arena_calloc(r->arena, total + 1, sizeof(*parts));
    json_object *available = support_own(r, json_object_new_object()); /* metric names, a set */
    json_object *pfiles = kaos_params_files(r, job);
    size_t k = 0;
    int any = 0;
    /* From the job's result when it has one (failed runs too), else from
     * the models (a job still storing). */
    for (size_t i = 0; i < total; i++) {
        json_object *run = i < n_runs ? json_object_array_get_idx(runs, i) : NULL, *v;
        json_object *p = json_object_new_object();
        support_own(r, p);
        const char *name = NULL, *mid = NULL;
        json_object *metrics = NULL, *hyper = NULL;
        if (run != NULL) {
            if (json_object_object_get_ex(run, "run", &v))
                name = json_object_get_string(v);
            if (json_object_object_get_ex(run, "model_id", &v))
                mid = json_object_get_string(v);
            json_object_object_get_ex(run, "metrics", &metrics);
            json_object_object_get_ex(run, "hyperparameters", &hyper);
            json_object_object_add(p, "status", json_object_get(
                json_object_object_get_ex(run, "status", &v) ? v : NULL));
            if (json_object_object_get_ex(run, "error", &v))
                json_object_object_add(p, "error", json_object_get(v));
            if (json_object_object_get_ex(run, "seconds", &v))
                json_object_object_add(p, "seconds", json_object_get(v));
        } else if (i < n_models) {
            name = models[i].predict_field;
            mid = models[i].id;
            metrics = models[i].metrics;
            json_object *c = models[i].candidates
                                 ? json_object_array_get_idx(models[i].candidates, 0)
                                 : NULL;
            if (c)
                json_object_object_get_ex(c, "hyperparameters", &hyper);
            json_object_object_add(p, "status", json_object_new_string("succeeded"));
        }
        support_json_str(p, "model_id", mid);
        support_json_str(p, "hyperparameters_file", name);
        if (hyper == NULL)
            hyper = kaos_file_params(pfiles, name);
        json_object_object_add(p, "hyperparameters", json_object_get(hyper));
        json_object_object_add(p, "metrics", json_object_get(metrics));
        kaos_partition_provenance(r, job, p, name, mid);
        if (metrics != NULL && json_object_is_type(metrics, json_type_object)) {
            json_object_object_foreach(metrics, mk, mv) {
                (void)mv;
                json_object_object_add(available, mk, NULL);
            }
        }
        parts[k].doc = p;
        parts[k].name = name ? name : "";
        if (sort_by != NULL && metrics != NULL &&
            json_object_object_get_ex(metrics, sort_by, &v)) {
            parts[k].has = 1;
            parts[k].score = json_object_get_double(v);
            any = 1;
        }
        /* KAOS formats the score as text, f"{value:0.4f}"
         * (backend services/job_service.py, get_training_info): its
         * PartitionInfo.score is a str. */
        json_object_object_add(p, "score",
                               parts[k].has ? json_object_new_string(arena_sprintf(
                                                  r->arena, "%0.4f", parts[k].score))
                                            : NULL);
        k++;
    }
    if (sort_by != NULL && !any && total > 0)
        return err_set(&r->err, 404, "METRIC_NOT_FOUND", "Metric %s not found", sort_by);
    part_sign = sort_by != NULL && lower_is_better(sort_by) ? 1 : -1;
    qsort(parts, total, sizeof(*parts), part_cmp);
    json_object *inner = support_own(r, json_object_new_object());
    json_object_object_add(inner, "job_id", json_object_new_string(job->id));
    json_object_object_add(inner, "state", json_object_new_string(kaos_state_name(job->state)));
    json_object_object_add(inner, "status", json_object_new_string(job_state_name(job->state)));
    json_object_object_add(inner, "workspace", json_object_new_string(r->auth.workspace_name));
    support_json_str(inner, "user", job->user_name);
    support_json_str(inner, "error", job->error);
    json_object_object_add(inner, "progress", json_object_new_double(job->progress));
    support_json_time(inner, "created_at", job->created_at);
    support_json_time(inner, "started_at", job->started_at);
    support_json_time(inner, "finished_at", job->finished_at);
    json_object *v;
    static const char *const keys[] = {"code", "data", "params"};
    for (size_t i = 0; i < 3; i++)
        json_object_object_add(inner, keys[i],
                               json_object_get(json_object_object_get_ex(job->spec, keys[i], &v)
                                                   ? v
                                                   : NULL));
    if (job->result && json_object_object_get_ex(job->result, "runtime", &v))
        json_object_object_add(inner, "runtime", json_object_get(v));
    support_json_str(inner, "sort_by", sort_by);
    /* KAOS's JobInfo has these two; its client reads them (JobInfo.from_dict). */
    json_object *names = json_object_new_array();
    json_object_object_foreach(available, an, av) {
        (void)av;
        json_object_array_add(names, json_object_new_string(an));
    }
    json_object_object_add(inner, "available_metrics", names);
    double until = job->finished_at > 0 ? job->finished_at : util_now_wall();
    json_object_object_add(inner, "process_time",
                           json_object_new_int64(job->started_at > 0 && until > job->started_at
                                                     ? (int64_t)(until - job->started_at)
                                                     : 0));
    json_object *items = json_object_new_array();
    for (size_t i = (size_t)(page * size); i < total && i < (size_t)((page + 1) * size); i++)
        json_object_array_add(items, json_object_get(parts[i].doc));
    json_object_object_add(inner, "partitions", items);
    json_object_object_add(inner, "runs_total", json_object_new_int64((int64_t)total));
    json_object *doc = support_own(r, json_object_new_object());
    json_object_object_add(doc, "page_id", json_object_new_int64(page));
    /* At least one page, as KAOS counts them (an empty job has page 0). */
    size_t pages = (total + (size_t)size - 1) / (size_t)size;
    json_object_object_add(doc, "page_count", json_object_new_int64(pages ? (long long)pages : 1));
    json_object_object_add(doc, "response", json_object_get(inner));
    return req_reply_json(r, 200, doc);
}

/* --- provenance -------------------------------------------------------------------- */

static void dot_quote(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 3 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            out[o++] = '\\';
        out[o++] = c < 0x20 ? ' ' : (char)c;
    }
    out[o] = '\0';
}

int kaos_provenance(request_t *r, const job_t *job, const char *model_id)
{
    model_rec_t m;
    if (db_model_get(app_of(r)->db, r->arena, r->auth.workspace_id, model_id, &m, &r->err) != 0)
        return -1;
    json_object *v, *code = NULL, *data = NULL, *params = NULL;
    json_object_object_get_ex(job->spec, "code", &code);
    json_object_object_get_ex(job->spec, "data", &data);
    json_object_object_get_ex(job->spec, "params", &params);
    char buf[8192], q[600];
    size_t o = 0;
#define DOT(...) (o += (size_t)snprintf(buf + o, o < sizeof(buf) ? sizeof(buf) - o : 0, __VA_ARGS__))
    DOT("digraph provenance {\n  rankdir=LR;\n  node [shape=box];\n");
    DOT("  \"model\" [label=\"model %s\"];\n", m.id);
    DOT("  \"job\" [label=\"job %s\"];\n", job->id);
    DOT("  \"job\" -> \"model\";\n");
    const char *sha;
    sha = code && json_object_object_get_ex(code, "sha256", &v) ? json_object_get_string(v) : "";
    dot_quote(q, sizeof(q), code && json_object_object_get_ex(code, "root", &v)
                                ? json_object_get_string(v) : "");
    DOT("  \"code\" [label=\"code %s\\nsha256 %s\"];\n  \"code\" -> \"job\";\n", q, sha);
    sha = data && json_object_object_get_ex(data, "sha256", &v) ? json_object_get_string(v) : "";
    dot_quote(q, sizeof(q), data && json_object_object_get_ex(data, "root", &v)
                                ? json_object_get_string(v) : "");
    DOT("  \"data\" [label=\"data %s\\nsha256 %s\"];\n  \"data\" -> \"job\";\n", q, sha);
    if (params != NULL) {
        sha = json_object_object_get_ex(params, "sha256", &v) ? json_object_get_string(v) : "";
        dot_quote(q, sizeof(q), m.predict_field);
        DOT("  \"hyper\" [label=\"hyperparameters %s\\nbundle sha256 %s\"];\n"
            "  \"hyper\" -> \"job\";\n", q, sha);
    }
    json_object *rt = NULL;
    if (job->result != NULL)
        json_object_object_get_ex(job->result, "runtime", &rt);
    if (rt != NULL) {
        char line[400] = "";
        size_t lo = 0;
        json_object_object_foreach(rt, key, val) {
            lo += (size_t)snprintf(line + lo, lo < sizeof(line) ? sizeof(line) - lo : 0,
                                   "%s%s %s", lo ? "\\n" : "", key, json_object_get_string(val));
        }
        dot_quote(q, sizeof(q), line);
        /* dot_quote escaped the \n separators: restore them */
        DOT("  \"runtime\" [label=\"runtime\\n%s\"];\n  \"runtime\" -> \"job\";\n", q);
    }
    DOT("}\n");
#undef DOT
    if (o >= sizeof(buf))
        o = sizeof(buf) - 1;
    /* bare, as KAOS answers it: its client renders Source(r.json())
     * (cli/kaos_cli/commands/train.py, provenance) */
    json_object *doc = support_own(r, json_object_new_string_len(buf, (int)o));
    return kaos_reply_bare(r, doc);
}

/* --- bundle download ------------------------------------------------------------ */

typedef struct copy_ctx {
    tarball_t *t;
    const char *prefix;     /* prepended to each path ("" for none) */
    request_t *r;
    FILE *f;                /* the current entry, spooled to learn its size */
    const char *path;
} copy_ctx_t;

static int copy_sink(void *p, const void *buf, size_t n, err_t *e)
{
    copy_ctx_t *c = p;
    if (buf != NULL)
        return fwrite(buf, 1, n, c->f) == n ? 0 : err_set(e, 500, "internal", "spool");
    long size = ftell(c->f);
    rewind(c->f);
    if (tarball_add_header(c->t, c->path, (size_t)size, e) != 0)
        return -1;
    char chunk[64 * 1024];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), c->f)) > 0)
        if (tarball_write(c->t, chunk, k, e) != 0)
            return -1;
    fclose(c->f);
    c->f = NULL;
    return 0;
}

static int copy_visit(void *p, const char *path, int is_dir,
                      int (**sink)(void *, const void *, size_t, err_t *), void **sink_ctx,
                      err_t *e)
{
    copy_ctx_t *c = p;
    if (is_dir)
        return 0;
    c->path = arena_sprintf(c->r->arena, "%s%s", c->prefix, path);
    c->f = tmpfile();
    if (c->f == NULL)
        return err_set(e, 500, "internal", "could not create a spool file");
    *sink = copy_sink;
    *sink_ctx = c;
    return 0;
}

static int spool_sink(void *ctx, const void *buf, size_t n, err_t *e)
{
    return fwrite(buf, 1, n, ctx) == n ? 0 : err_set(e, 500, "internal", "spool");
}

/* Copies the files of a stored archive (an artifact) into t under prefix. */
static int kaos_copy_archive(request_t *r, tarball_t *t, const char *artifact_id,
                             const char *prefix, err_t *e)
{
    FILE *f = tmpfile();
    if (f == NULL)
        return err_set(e, 500, "internal", "could not create a spool file");
    arena_defer(r->arena, up_fclose, f);
    if (db_artifact_read(app_of(r)->db, artifact_id, spool_sink, f, e) != 0)
        return -1;
    rewind(f);
    copy_ctx_t c = {t, prefix, r, NULL, NULL};
    int rc = bundle_walk(spool_read, f, &bundle_limits_default, copy_visit, &c, NULL, e);
    if (c.f != NULL)
        fclose(c.f);
    return rc;
}


int kaos_bundle_zip(request_t *r, const job_t *job, int code, int data, int model,
                    const char *model_id)
{
    app_t *app = app_of(r);
    model_rec_t *models = NULL;
    size_t n_models = 0;
    if (model_id != NULL) {
        model_rec_t *m = arena_calloc(r->arena, 1, sizeof(*m));
        if (!util_is_uuid(model_id) ||
            db_model_get(app->db, r->arena, r->auth.workspace_id, model_id, m, &r->err) != 0 ||
            strcmp(m->job_id, job->id) != 0) {
            if (r->err.status >= 500)
                return -1;
            err_clear(&r->err);
            return err_set(&r->err, 404, "MODEL_NOT_FOUND", "There is no model with id: %s",
                           model_id);
        }
        models = m;
        n_models = 1;
        model = 1;
    } else if (model && db_model_list_for_job(app->db, r->arena, r->auth.workspace_id, job->id,
                                              &models, &n_models, &r->err) != 0) {
        return -1;
    }
    json_object *c = NULL, *d = NULL, *v;
    json_object_object_get_ex(job->spec, "code", &c);
    json_object_object_get_ex(job->spec, "data", &d);
    json_object *pfiles = model ? kaos_params_files(r, job) : NULL;
    tarball_t *t = tarball_begin_as(r, arena_sprintf(r->arena, "bundle-%s.zip", job->id), 1,
                                    &r->err);
    if (t == NULL)
        return -1;
    err_t e;
    err_clear(&e);
    int rc = 0;
    /* KAOS's layout (backend controllers/train.py, get_bundle): code/<root>/,
     * data/<root>/, models/<model id>/ holding the run's output (model/,
     * metrics) and, for a grid, its hyperparameter file; its client
     * extracts the zip as it is. */
    if (code && c && json_object_object_get_ex(c, "artifact_id", &v))
        rc = kaos_copy_archive(r, t, json_object_get_string(v), "code/", &e);
    if (rc == 0 && data && d && json_object_object_get_ex(d, "artifact_id", &v))
        rc = kaos_copy_archive(r, t, json_object_get_string(v), "data/", &e);
    for (size_t i = 0; rc == 0 && model && i < n_models; i++) {
        const char *dir = arena_sprintf(r->arena, "models/%s/", models[i].id);
        rc = kaos_copy_archive(r, t, models[i].artifact_id, dir, &e);
        if (rc == 0 && models[i].metrics != NULL) {
            const char *m = json_object_to_json_string_ext(models[i].metrics,
                                                           JSON_C_TO_STRING_PRETTY);
            rc = tarball_add_bytes(t, arena_sprintf(r->arena, "%smetrics.json", dir), m,
                                   strlen(m), &e);
        }
        json_object *hp = kaos_file_params(pfiles, models[i].predict_field);
        if (rc == 0 && hp != NULL && models[i].predict_field != NULL) {
            const char *h = json_object_to_json_string_ext(hp, JSON_C_TO_STRING_PRETTY);
            rc = tarball_add_bytes(
                t, arena_sprintf(r->arena, "%s%s", dir,
                                 tarball_safe_name(r->arena, models[i].predict_field)),
                h, strlen(h), &e);
        }
    }
    tarball_end(t, &e);
    return 0;
}
