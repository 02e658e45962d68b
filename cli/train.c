/*
 * train.c — submitting and following a training (see train.h).
 *
 * Waiting is a loop of long polls (the status route's ?wait=N answers as
 * soon as the task ends), each short enough that the bar moves. Ctrl-C
 * interrupts the poll in flight (libcurl's progress callback sees the
 * flag) and asks on the terminal whether to kill the task; a run without
 * a terminal to ask on leaves the task running and says how to find it.
 * Killing goes through the workspace route DELETE /train/{ws}/{id}, which
 * every job of a workspace answers to, whatever dialect submitted it.
 */
#include "cli/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/progress.h"
#include "cli/result.h"
#include "common/util.h"

#define TRAIN_POLL_SECONDS 2

/* The dataset to train on: uploads a file, takes an id as is, or looks a
 * name up in the workspace's datasets. */
static int train_dataset(cli_session_t *s, const cli_train_opts_t *o, char *id, size_t n,
                         err_t *e)
{
    struct stat st;
    json_object *doc = NULL;
    if (stat(o->source, &st) == 0 && S_ISREG(st.st_mode)) {
        if (cli_session_upload(s, o->source, o->name, &doc, e) != 0)
            return -1;
        snprintf(id, n, "%s", cli_json_str(doc, "dataset_id"));
        if (!s->json)
            fprintf(stderr, "trainyard: uploaded %s as dataset %s (%s rows)\n", o->source, id,
                    cli_json_str(doc, "rows"));
        json_object_put(doc);
        return 0;
    }
    if (util_is_uuid(o->source)) {
        snprintf(id, n, "%s", o->source);
        return 0;
    }
    if (cli_http_json(s->http, "GET", "/api/v1/datasets?limit=1000", NULL, &doc, e) != 0)
        return -1;
    json_object *list = NULL;
    json_object_object_get_ex(doc, "datasets", &list);
    id[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(list) && !id[0]; i++) {
        json_object *d = json_object_array_get_idx(list, i);
        if (strcmp(cli_json_str(d, "name"), o->source) == 0)
            snprintf(id, n, "%s", cli_json_str(d, "dataset_id"));
    }
    json_object_put(doc);
    if (!id[0])
        return err_set(e, 1, "usage", "\"%s\" is neither a file nor a dataset id or name: give a "
                       "CSV file, or see `trainyard ls datasets`", o->source);
    return 0;
}

/* Asks y/N on the terminal; -1 when there is no terminal to ask on. */
static int train_ask(const char *question)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    dprintf(fd, "\n%s [y/N] ", question);
    char buf[16] = "";
    ssize_t n;
    do {
        cli_session_interrupted = 0;
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n < 0 && errno == EINTR && !cli_session_interrupted);
    close(fd);
    return n > 0 && (buf[0] == 'y' || buf[0] == 'Y');
}

/* Kills the task through whichever of the account's workspaces holds it:
 * the configured one first. */
static int train_kill(cli_session_t *s, const char *task_id, err_t *e)
{
    json_object *doc = NULL, *names = NULL, *resp = NULL;
    if (cli_http_json(s->http, "GET", "/workspace", NULL, &doc, e) != 0)
        return -1;
    json_object_object_get_ex(doc, "response", &resp);
    json_object_object_get_ex(resp, "names", &names);
    size_t n = json_object_array_length(names);
    int rc = err_set(e, 404, "not_found", "task %s is in none of this key's workspaces", task_id);
    for (size_t i = 0; i <= n && rc != 0; i++) {
        const char *ws = i == 0 ? s->cfg.workspace
                                : json_object_get_string(json_object_array_get_idx(names, i - 1));
        if (ws == NULL || *ws == '\0' || (i > 0 && strcmp(ws, s->cfg.workspace) == 0))
            continue;
        char *w = cli_http_escape(ws), path[512];
        snprintf(path, sizeof(path), "/train/%s/%s", w ? w : "", task_id);
        free(w);
        err_t e2;
        err_clear(&e2);
        if (cli_http_json(s->http, "DELETE", path, NULL, NULL, &e2) == 0) {
            err_clear(e);
            rc = 0;
        } else if (e2.status != 404) {
            *e = e2;
            break;
        }
    }
    json_object_put(doc);
    return rc;
}

int cli_train_wait(cli_session_t *s, const char *task_id, json_object **doc, err_t *e)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/models/train/%s/status?wait=%d", task_id,
             TRAIN_POLL_SECONDS);
    cli_progress_t bar;
    cli_progress_begin(&bar, "training", s->progress, 0);
    cli_session_catch_sigint(s);
    int killing = 0;
    *doc = NULL;
    for (;;) {
        json_object *st = NULL;
        if (cli_http_json(s->http, "GET", path, NULL, &st, e) != 0) {
            if (e->status != 130)
                break;
            /* Ctrl-C: ask (once) whether to kill the task. */
            cli_progress_end(&bar);
            err_clear(e);
            char q[160];
            snprintf(q, sizeof(q), "trainyard: kill task %s?", task_id);
            int yes = killing ? 0 : train_ask(q);
            cli_session_interrupted = 0;
            if (yes < 0 || (killing && yes == 0)) {
                fprintf(stderr, "\ntrainyard: task %s keeps running; `trainyard result %s` "
                                "shows it when done\n", task_id, task_id);
                return err_set(e, 130, "interrupted", "interrupted");
            }
            if (yes == 1) {
                if (train_kill(s, task_id, e) != 0)
                    break;
                killing = 1;
                fprintf(stderr, "trainyard: kill requested for task %s\n", task_id);
            }
            continue;
        }
        json_object *meta = NULL;
        json_object_object_get_ex(st, "metadata", &meta);
        const char *status = cli_json_str(st, "status");
        if (strcmp(status, "SUCCEEDED") == 0) {
            cli_progress_update(&bar, 1, 1, 0, "done");
            cli_progress_end(&bar);
            json_object_put(st);
            char rpath[256];
            snprintf(rpath, sizeof(rpath), "/api/v1/models/train/%s/result", task_id);
            return cli_http_json(s->http, "GET", rpath, NULL, doc, e);
        }
        if (strcmp(status, "FAILED") == 0 || strcmp(status, "UNKNOWN_TIMEOUT") == 0) {
            cli_progress_end(&bar);
            err_set(e, 1, "failed", "task %s %s: %s", task_id,
                    killing ? "was killed" : "failed", cli_json_str(meta, "error"));
            json_object_put(st);
            return -1;
        }
        json_object *pv = NULL, *ev = NULL;
        json_object_object_get_ex(meta, "progress", &pv);
        json_object_object_get_ex(meta, "estimate_seconds", &ev);
        /* No estimate yet (null): the bar extrapolates from the progress. */
        double eta = json_object_is_type(ev, json_type_double) || json_object_is_type(ev, json_type_int)
                         ? json_object_get_double(ev)
                         : -1;
        cli_progress_update(&bar, pv != NULL ? json_object_get_double(pv) : 0, 1,
                            isnan(eta) ? -1 : eta,
                            strcmp(status, "PENDING") == 0 ? "queued" : "running");
        json_object_put(st);
    }
    cli_progress_end(&bar);
    return -1;
}

int cli_train_run(cli_session_t *s, const cli_train_opts_t *o, err_t *e)
{
    char dataset[128];
    if (train_dataset(s, o, dataset, sizeof(dataset), e) != 0)
        return 1;
    json_object *body = json_object_new_object(), *answer = NULL;
    json_object_object_add(body, "dataset_id", json_object_new_string(dataset));
    json_object_object_add(body, "predict_fields", json_object_get(o->targets));
    if (json_object_array_length(o->ignore) > 0)
        json_object_object_add(body, "ignore_fields", json_object_get(o->ignore));
    json_object_object_add(body, "duration", json_object_new_int64(o->duration));
    if (o->extra_attention)
        json_object_object_add(body, "extra_attention", json_object_new_boolean(1));
    if (o->force)
        json_object_object_add(body, "force", json_object_new_boolean(1));
    if (o->extra != NULL) { /* the server validates them like any other member */
        json_object_object_foreach(o->extra, k, v)
            json_object_object_add(body, k, json_object_get(v));
    }
    int rc = cli_http_json(s->http, "POST", "/api/v1/models/train/new", body, &answer, e);
    json_object_put(body);
    if (rc != 0)
        return 1;
    char task[128];
    snprintf(task, sizeof(task), "%s", cli_json_str(answer, "task_id"));
    json_object_put(answer);
    if (!o->wait) {
        if (s->json) {
            json_object *out = json_object_new_object();
            json_object_object_add(out, "task_id", json_object_new_string(task));
            json_object_object_add(out, "dataset_id", json_object_new_string(dataset));
            cli_session_print_json(out);
            json_object_put(out);
        } else {
            printf("%s\n", task);
            fprintf(stderr, "trainyard: task %s queued; `trainyard result %s` when it is done "
                            "(or train with --wait)\n", task, task);
        }
        return 0;
    }
    if (!s->json)
        fprintf(stderr, "trainyard: task %s\n", task);
    json_object *result = NULL;
    if (cli_train_wait(s, task, &result, e) != 0)
        return e->status == 130 ? 130 : 1;
    if (s->json) {
        json_object_object_add(result, "task_id", json_object_new_string(task));
        cli_session_print_json(result);
    } else {
        printf("task_id   %s\n", task);
        cli_result_print(stdout, result, 10);
    }
    json_object_put(result);
    return 0;
}
