/*
 * session.c — the terminal client's shared state and shared calls (see
 * session.h).
 */
#include "cli/session.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/progress.h"

volatile sig_atomic_t cli_session_interrupted;

static void session_on_sigint(int sig)
{
    (void)sig;
    cli_session_interrupted = 1;
}

void cli_session_catch_sigint(cli_session_t *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = session_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    if (s->http != NULL)
        cli_http_set_cancel(s->http, &cli_session_interrupted);
}

int cli_session_init(cli_session_t *s, int json, err_t *e)
{
    memset(s, 0, sizeof(*s));
    s->json = json;
    s->progress = cli_progress_wanted(json);
    return cli_config_load(&s->cfg, e);
}

int cli_session_connect(cli_session_t *s, err_t *e)
{
    if (s->cfg.url[0] == '\0')
        return err_set(e, 1, "config", "no server: run `trainyard login URL` (or set TRAINYARD_URL "
                       "and TRAINYARD_KEY)");
    if (s->cfg.key[0] == '\0')
        return err_set(e, 1, "config", "no API key for %s: run `trainyard login %s` (or set "
                       "TRAINYARD_KEY)", s->cfg.url, s->cfg.url);
    s->http = cli_http_new(s->cfg.url, s->cfg.key, e);
    if (s->http == NULL)
        return -1;
    /* The configured workspace (login --workspace, TRAINYARD_WORKSPACE, a
     * command's --workspace) steers every route, not only the KAOS paths
     * that name one. */
    return cli_http_set_workspace(s->http, s->cfg.workspace, e);
}

void cli_session_close(cli_session_t *s)
{
    cli_http_free(s->http);
    s->http = NULL;
}

void cli_session_print_json(json_object *doc)
{
    puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *cli_json_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return "";
    return json_object_get_string(v);
}

static void session_on_progress(void *ctx, double now, double total)
{
    cli_progress_update(ctx, now, total, -1, NULL);
}

int cli_session_upload(cli_session_t *s, const char *path, const char *name, json_object **doc,
                       err_t *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_set(e, 1, "io", "could not open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(e, 2, "usage", "%s is not a regular file: upload a CSV file", path);
    }
    char base[512];
    if (name == NULL || *name == '\0') {
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", path);
        snprintf(base, sizeof(base), "%s", basename(copy));
        size_t n = strlen(base);
        if (n > 4 && strcasecmp(base + n - 4, ".csv") == 0)
            base[n - 4] = '\0';
        name = base;
    }
    char *esc = cli_http_escape(name);
    size_t plen = strlen(esc ? esc : "") + 32;
    char *req = malloc(plen);
    int rc;
    if (esc == NULL || req == NULL) {
        rc = err_set(e, 1, "memory", "out of memory");
    } else {
        snprintf(req, plen, "/api/v1/datasets?name=%s", esc);
        cli_progress_t bar;
        cli_progress_begin(&bar, "upload", s->progress, 1);
        cli_http_set_progress(s->http, session_on_progress, &bar);
        rc = cli_http_upload(s->http, req, f, (long long)st.st_size, "text/csv", doc, e);
        cli_http_set_progress(s->http, NULL, NULL);
        cli_progress_end(&bar);
        if (rc != 0)
            err_wrap(e, path);
    }
    free(req);
    free(esc);
    fclose(f);
    return rc;
}

int cli_session_pick_workspace(cli_session_t *s, json_object *doc, const char *want, err_t *e)
{
    json_object *resp = NULL, *list = NULL;
    json_object_object_get_ex(doc, "response", &resp);
    json_object_object_get_ex(resp, "workspaces", &list);
    const char *chosen = NULL;
    /* The server says which workspace the request acted in: the key's own
     * (which need not be the account's default: a key made for another of
     * its workspaces), or the one the request asked for. */
    json_object *cur = NULL;
    if (json_object_object_get_ex(resp, "current", &cur) &&
        json_object_is_type(cur, json_type_string) && (want == NULL || strcmp(
                                                           json_object_get_string(cur), want) == 0))
        chosen = json_object_get_string(cur);
    for (size_t i = 0; cur == NULL && i < json_object_array_length(list); i++) {
        /* A server without "current": the account's default, as before. */
        json_object *w = json_object_array_get_idx(list, i), *d;
        const char *name = cli_json_str(w, "name");
        if (want != NULL ? strcmp(name, want) == 0
                         : (chosen == NULL || (json_object_object_get_ex(w, "default", &d) &&
                                               json_object_get_boolean(d))))
            chosen = name;
    }
    if (chosen == NULL)
        return err_set(e, 1, "usage", "this key's account has no workspace \"%s\"",
                       want != NULL ? want : "");
    snprintf(s->cfg.workspace, sizeof(s->cfg.workspace), "%s", chosen);
    return 0;
}

int cli_session_workspace(cli_session_t *s, err_t *e)
{
    if (s->cfg.workspace[0] != '\0')
        return 0;
    json_object *doc = NULL;
    if (cli_http_json(s->http, "GET", "/workspace", NULL, &doc, e) != 0)
        return -1;
    int rc = cli_session_pick_workspace(s, doc, NULL, e);
    json_object_put(doc);
    return rc;
}
