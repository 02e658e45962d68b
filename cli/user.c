/*
 * user.c — the user commands' dispatcher and the simple ones (see user.h):
 * options are parsed from a small table per command; each command maps to
 * one or two API calls and prints either a table for people or, with
 * --json, the server's own JSON for scripts. `train` lives in train.c,
 * batch prediction in predict.c.
 */
#include "cli/user.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/predict.h"
#include "cli/progress.h"
#include "cli/result.h"
#include "cli/session.h"
#include "cli/table.h"
#include "cli/train.h"

const char cli_user_usage[] =
    "user commands (talk to a server over HTTP; add --json for machine output):\n"
    "  login URL [--key KEY] [--workspace NAME]\n"
    "                              check the key against URL and store both in\n"
    "                              ~/.config/trainyard/config (0600); without --key\n"
    "                              the key is asked for (or read from stdin)\n"
    "  upload FILE.csv [--name NAME]\n"
    "                              upload a dataset (streamed); prints its id and schema\n"
    "  train DATASET|FILE.csv --target COL [--target COL2] [--duration 10|60|300|1800]\n"
    "        [--ignore COL[,COL]] [--extra-attention] [--force] [--name NAME] [--wait]\n"
    "        [--set NAME=VALUE]\n"
    "                              train (uploading a file first); --wait follows it\n"
    "                              with a progress bar and prints the result; Ctrl-C\n"
    "                              asks whether to kill the task. --set adds a member\n"
    "                              to the training spec (seed=7, max_models=3,\n"
    "                              task=regression; VALUE is JSON, else a string)\n"
    "  result TASK_ID [--top N]    leaderboard, metrics and field importance\n"
    "  predict MODEL_ID IN.csv [-o OUT.csv] [--batch ROWS]\n"
    "                              predictions for every row of IN.csv (- for stdin),\n"
    "                              as CSV on stdout or into OUT.csv\n"
    "  download MODEL_ID [-o FILE] the model as a tar.gz (model.ubj, preprocess.json)\n"
    "  ls datasets|models|jobs     what the workspace holds (--workspace NAME: another of\n"
    "                              the account's; default: the login's, else the key's own)\n"
    "  --version                   the client's version\n"
    "\n"
    "The server and key come from TRAINYARD_URL and TRAINYARD_KEY, else from the\n"
    "config file `trainyard login` wrote ($TRAINYARD_CONFIG overrides its path).\n"
    "Progress bars are drawn on stderr when it is a terminal and --json is not\n"
    "given (TRAINYARD_PROGRESS=0 turns them off).\n";

/* --- options ----------------------------------------------------------- */

typedef struct user_opt {
    const char *name;   /* "--name" */
    int value;          /* takes a value */
} user_opt_t;

typedef struct user_args {
    const char *pos[4]; /* positional arguments */
    int npos;
    const char *name, *workspace, *key, *output, *duration, *batch, *top;
    json_object *targets, *ignore; /* arrays of strings, owned */
    json_object *extra;            /* --set members, owned */
    int json, wait, extra_attention, force;
} user_args_t;

static const user_opt_t user_opts[] = {
    {"--json", 0},   {"--name", 1},   {"--workspace", 1}, {"--key", 1},
    {"-o", 1},       {"--output", 1}, {"--duration", 1},  {"--batch", 1},
    {"--top", 1},    {"--target", 1}, {"--ignore", 1},    {"--wait", 0},
    {"--extra-attention", 0},         {"--force", 0},     {"--set", 1},
};

/* Adds "a,b" to arr as separate names. */
static void user_add_list(json_object *arr, const char *v)
{
    while (*v) {
        size_t n = strcspn(v, ",");
        if (n > 0)
            json_object_array_add(arr, json_object_new_string_len(v, (int)n));
        v += n + (v[n] == ',');
    }
}

/* "name=value" into obj: the value as JSON when it parses, else a string. */
static int user_add_set(json_object *obj, const char *v, err_t *e)
{
    const char *eq = strchr(v, '=');
    if (eq == NULL || eq == v)
        return err_set(e, 2, "usage", "--set needs NAME=VALUE, not \"%s\"", v);
    char name[128];
    snprintf(name, sizeof(name), "%.*s", (int)(eq - v), v);
    json_object *val = json_tokener_parse(eq + 1);
    if (val == NULL && strcmp(eq + 1, "null") != 0)
        val = json_object_new_string(eq + 1);
    json_object_object_add(obj, name, val);
    return 0;
}

static int user_parse(int argc, char **argv, user_args_t *a, err_t *e)
{
    memset(a, 0, sizeof(*a));
    a->targets = json_object_new_array();
    a->ignore = json_object_new_array();
    a->extra = json_object_new_object();
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->npos == 4)
                return err_set(e, 2, "usage", "too many arguments: \"%s\"", arg);
            a->pos[a->npos++] = arg;
            continue;
        }
        char flag[64];
        const char *val = NULL, *eq = strchr(arg, '=');
        snprintf(flag, sizeof(flag), "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
        const user_opt_t *o = NULL;
        for (size_t k = 0; k < sizeof(user_opts) / sizeof(user_opts[0]) && !o; k++)
            if (strcmp(user_opts[k].name, flag) == 0)
                o = &user_opts[k];
        if (o == NULL)
            return err_set(e, 2, "usage", "unknown option %s (see `trainyard --help`)", flag);
        if (o->value) {
            val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (val == NULL)
                return err_set(e, 2, "usage", "%s needs a value", flag);
        } else if (eq) {
            return err_set(e, 2, "usage", "%s takes no value", flag);
        }
        if (strcmp(flag, "--json") == 0) a->json = 1;
        else if (strcmp(flag, "--wait") == 0) a->wait = 1;
        else if (strcmp(flag, "--extra-attention") == 0) a->extra_attention = 1;
        else if (strcmp(flag, "--force") == 0) a->force = 1;
        else if (strcmp(flag, "--name") == 0) a->name = val;
        else if (strcmp(flag, "--workspace") == 0) a->workspace = val;
        else if (strcmp(flag, "--key") == 0) a->key = val;
        else if (strcmp(flag, "-o") == 0 || strcmp(flag, "--output") == 0) a->output = val;
        else if (strcmp(flag, "--duration") == 0) a->duration = val;
        else if (strcmp(flag, "--batch") == 0) a->batch = val;
        else if (strcmp(flag, "--top") == 0) a->top = val;
        else if (strcmp(flag, "--target") == 0) user_add_list(a->targets, val);
        else if (strcmp(flag, "--ignore") == 0) user_add_list(a->ignore, val);
        else if (strcmp(flag, "--set") == 0 && user_add_set(a->extra, val, e) != 0) return -1;
    }
    return 0;
}

static int user_positive(const char *flag, const char *v, long dflt, long max, long *out, err_t *e)
{
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n <= 0 || n > max)
        return err_set(e, 2, "usage", "%s wants a whole number from 1 to %ld, not \"%s\"", flag,
                       max, v);
    *out = n;
    return 0;
}

/* --- login --------------------------------------------------------------- */

/* Reads the key from the terminal without echo, or a line of stdin. */
static int user_read_key(char *out, size_t n, err_t *e)
{
    FILE *in = stdin;
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("API key: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(out, (int)n, in);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputs("\n", stderr);
    }
    if (got != NULL)
        out[strcspn(out, "\r\n")] = '\0';
    if (got == NULL || out[0] == '\0')
        return err_set(e, 2, "usage", "no key given: `trainyard login URL --key KEY`, or type "
                       "it when asked (the dev stack's is in var/dev-api-key)");
    return 0;
}

static int user_login(cli_session_t *s, const user_args_t *a, err_t *e)
{
    if (a->npos != 1)
        return err_set(e, 2, "usage", "usage: trainyard login URL [--key KEY] [--workspace NAME]");
    snprintf(s->cfg.url, sizeof(s->cfg.url), "%s", a->pos[0]);
    if (cli_config_url_normalise(s->cfg.url, e) != 0)
        return -1;
    if (a->key != NULL)
        snprintf(s->cfg.key, sizeof(s->cfg.key), "%s", a->key);
    else if (getenv("TRAINYARD_KEY") == NULL && user_read_key(s->cfg.key, sizeof(s->cfg.key), e) != 0)
        return -1;
    /* The workspace asked for is sent with the check (the server refuses
     * one the key may not use); none: the server names the key's own. A
     * workspace saved by an earlier login is not sent. */
    snprintf(s->cfg.workspace, sizeof(s->cfg.workspace), "%s", a->workspace ? a->workspace : "");
    if (cli_session_connect(s, e) != 0)
        return -1;
    /* The key is checked by a call that needs it; its answer names the
     * account's workspaces, one of which the jobs listing will use. */
    json_object *doc = NULL;
    if (cli_http_json(s->http, "GET", "/workspace", NULL, &doc, e) != 0) {
        err_wrap(e, "login refused");
        return -1;
    }
    int rc = cli_session_pick_workspace(s, doc, a->workspace, e);
    if (rc == 0)
        rc = cli_config_save(&s->cfg, e);
    if (rc == 0) {
        if (s->json) {
            json_object *out = json_object_new_object();
            json_object_object_add(out, "url", json_object_new_string(s->cfg.url));
            json_object_object_add(out, "workspace", json_object_new_string(s->cfg.workspace));
            json_object_object_add(out, "config", json_object_new_string(s->cfg.path));
            cli_session_print_json(out);
            json_object_put(out);
        } else {
            fprintf(stderr, "trainyard: logged in to %s, workspace %s (saved in %s)\n",
                    s->cfg.url, s->cfg.workspace, s->cfg.path);
        }
    }
    json_object_put(doc);
    return rc;
}

/* --- upload, ls ------------------------------------------------------------ */

static void user_print_fields(json_object *fields)
{
    static const char *const head[] = {"field", "type", "missing"};
    cli_table_t *t = cli_table_new(3, head);
    for (size_t i = 0; t != NULL && i < json_object_array_length(fields); i++) {
        json_object *f = json_object_array_get_idx(fields, i);
        const char *row[] = {cli_json_str(f, "name"), cli_json_str(f, "type"),
                             cli_json_str(f, "missing")};
        cli_table_add(t, row);
    }
    if (t != NULL)
        cli_table_print(t, stdout);
    cli_table_free(t);
}

static int user_upload(cli_session_t *s, const user_args_t *a, err_t *e)
{
    if (a->npos != 1)
        return err_set(e, 2, "usage", "usage: trainyard upload FILE.csv [--name NAME]");
    if (cli_session_connect(s, e) != 0)
        return -1;
    json_object *doc = NULL, *fields = NULL;
    if (cli_session_upload(s, a->pos[0], a->name, &doc, e) != 0)
        return -1;
    if (s->json) {
        cli_session_print_json(doc);
    } else {
        json_object_object_get_ex(doc, "fields", &fields);
        char size[24];
        printf("dataset_id  %s\nname        %s\nrows        %s\nsize        %s\n\n",
               cli_json_str(doc, "dataset_id"), cli_json_str(doc, "name"),
               cli_json_str(doc, "rows"),
               cli_progress_size(json_object_get_double(json_object_object_get(doc, "size")),
                                 size, sizeof(size)));
        user_print_fields(fields);
    }
    json_object_put(doc);
    return 0;
}

static int user_ls(cli_session_t *s, const user_args_t *a, err_t *e)
{
    const char *what = a->npos == 1 ? a->pos[0] : "";
    if (strcmp(what, "datasets") != 0 && strcmp(what, "models") != 0 && strcmp(what, "jobs") != 0)
        return err_set(e, 2, "usage", "usage: trainyard ls datasets|models|jobs");
    if (cli_session_connect(s, e) != 0)
        return -1;
    json_object *doc = NULL, *items = NULL;
    cli_table_t *t = NULL;
    if (strcmp(what, "datasets") == 0) {
        if (cli_http_json(s->http, "GET", "/api/v1/datasets?limit=1000", NULL, &doc, e) != 0)
            return -1;
        json_object_object_get_ex(doc, "datasets", &items);
        static const char *const head[] = {"dataset_id", "name", "rows", "fields", "size",
                                           "created_at"};
        t = s->json ? NULL : cli_table_new(6, head);
        for (size_t i = 0; t != NULL && i < json_object_array_length(items); i++) {
            json_object *d = json_object_array_get_idx(items, i), *f = NULL;
            json_object_object_get_ex(d, "fields", &f);
            char nf[16], size[24];
            snprintf(nf, sizeof(nf), "%zu", json_object_array_length(f));
            const char *row[] = {cli_json_str(d, "dataset_id"), cli_json_str(d, "name"),
                                 cli_json_str(d, "rows"), nf,
                                 cli_progress_size(json_object_get_double(
                                                       json_object_object_get(d, "size")),
                                                   size, sizeof(size)),
                                 cli_json_str(d, "created_at")};
            cli_table_add(t, row);
        }
    } else if (strcmp(what, "models") == 0) {
        if (cli_http_json(s->http, "GET", "/v1/models", NULL, &doc, e) != 0)
            return -1;
        json_object_object_get_ex(doc, "models", &items);
        static const char *const head[] = {"model_id", "name", "task", "task_id", "created_at"};
        t = s->json ? NULL : cli_table_new(5, head);
        for (size_t i = 0; t != NULL && i < json_object_array_length(items); i++) {
            json_object *m = json_object_array_get_idx(items, i);
            const char *row[] = {cli_json_str(m, "id"), cli_json_str(m, "name"),
                                 cli_json_str(m, "task"), cli_json_str(m, "task_id"),
                                 cli_json_str(m, "created_at")};
            cli_table_add(t, row);
        }
    } else if (strcmp(what, "jobs") == 0) {
        if (a->workspace == NULL && cli_session_workspace(s, e) != 0)
            return -1;
        const char *ws = a->workspace ? a->workspace : s->cfg.workspace;
        char *w = cli_http_escape(ws), path[512];
        snprintf(path, sizeof(path), "/train/%s", w ? w : "");
        free(w);
        if (cli_http_json(s->http, "GET", path, NULL, &doc, e) != 0)
            return -1;
        json_object *resp = NULL;
        json_object_object_get_ex(doc, "response", &resp);
        json_object_object_get_ex(resp != NULL ? resp : doc, "jobs", &items);
        static const char *const head[] = {"job_id", "state", "dialect", "predict", "progress",
                                           "created_at", "seconds", "error"};
        t = s->json ? NULL : cli_table_new(8, head);
        for (size_t i = 0; t != NULL && i < json_object_array_length(items); i++) {
            json_object *j = json_object_array_get_idx(items, i), *pf = NULL;
            json_object_object_get_ex(j, "predict_fields", &pf);
            char predict[256] = "", prog[16], secs[24] = "";
            for (size_t k = 0; k < json_object_array_length(pf); k++)
                snprintf(predict + strlen(predict), sizeof(predict) - strlen(predict), "%s%s",
                         k ? "," : "", json_object_get_string(json_object_array_get_idx(pf, k)));
            snprintf(prog, sizeof(prog), "%.0f%%",
                     json_object_get_double(json_object_object_get(j, "progress")) * 100);
            json_object *d = json_object_object_get(j, "duration_seconds");
            if (d != NULL)
                snprintf(secs, sizeof(secs), "%.1f", json_object_get_double(d));
            char err[64];
            snprintf(err, sizeof(err), "%.60s", cli_json_str(j, "error"));
            const char *row[] = {cli_json_str(j, "job_id"), cli_json_str(j, "state"),
                                 cli_json_str(j, "dialect"), predict, prog,
                                 cli_json_str(j, "created_at"), secs, err};
            cli_table_add(t, row);
        }
    } else {
        return err_set(e, 2, "usage", "usage: trainyard ls datasets|models|jobs");
    }
    if (s->json)
        cli_session_print_json(doc);
    else if (t != NULL)
        cli_table_print(t, stdout);
    cli_table_free(t);
    json_object_put(doc);
    return 0;
}

/* --- result, predict, download -------------------------------------------- */

/* Adds where to look when the server did not know an id. */
static int user_hint_404(err_t *e, const char *hint)
{
    if (e->status == 404 && e->count > 0) {
        err_item_t *it = &e->items[0];
        size_t n = strlen(it->message);
        snprintf(it->message + n, sizeof(it->message) - n, " (%s)", hint);
    }
    return -1;
}

static int user_result(cli_session_t *s, const user_args_t *a, err_t *e)
{
    long top;
    if (a->npos != 1)
        return err_set(e, 2, "usage", "usage: trainyard result TASK_ID [--top N]");
    if (user_positive("--top", a->top, 10, 100000, &top, e) != 0)
        return -1;
    if (cli_session_connect(s, e) != 0)
        return -1;
    char *id = cli_http_escape(a->pos[0]), path[512];
    snprintf(path, sizeof(path), "/api/v1/models/train/%s/result", id ? id : "");
    free(id);
    json_object *doc = NULL;
    if (cli_http_json(s->http, "GET", path, NULL, &doc, e) != 0)
        return user_hint_404(e, "`trainyard ls jobs` lists the tasks");
    if (s->json)
        cli_session_print_json(doc);
    else
        cli_result_print(stdout, doc, (size_t)top);
    json_object_put(doc);
    return 0;
}

/* Opens path.part for writing: the real name appears only once complete. */
static FILE *user_open_part(const char *path, char *part, size_t n, err_t *e)
{
    snprintf(part, n, "%s.part", path);
    FILE *f = fopen(part, "wb");
    if (f == NULL)
        err_set(e, 1, "io", "could not create %s: %s", part, strerror(errno));
    return f;
}

static int user_close_part(FILE *f, const char *part, const char *path, int ok, err_t *e)
{
    int bad = fclose(f) != 0;
    if (ok && !bad && rename(part, path) == 0)
        return 0;
    unlink(part);
    if (ok)
        return err_set(e, 1, "io", "could not write %s: %s", path, strerror(errno));
    return -1;
}

static int user_predict(cli_session_t *s, const user_args_t *a, err_t *e)
{
    long batch;
    if (a->npos != 2)
        return err_set(e, 2, "usage", "usage: trainyard predict MODEL_ID IN.csv [-o OUT.csv]");
    if (user_positive("--batch", a->batch, 1000, 100000, &batch, e) != 0)
        return -1;
    if (s->json && a->output == NULL)
        return err_set(e, 2, "usage", "with --json the summary goes to stdout: name the "
                       "predictions' file with -o OUT.csv");
    if (cli_session_connect(s, e) != 0)
        return -1;
    /* An unknown model is said before a byte of the input is read. */
    char *id = cli_http_escape(a->pos[0]), mpath[512];
    snprintf(mpath, sizeof(mpath), "/api/v1/models/%s", id ? id : "");
    free(id);
    if (cli_http_json(s->http, "GET", mpath, NULL, NULL, e) != 0)
        return user_hint_404(e, "`trainyard ls models` lists the models");
    const char *inpath = a->pos[1];
    FILE *in = strcmp(inpath, "-") == 0 ? stdin : fopen(inpath, "rb");
    if (in == NULL)
        return err_set(e, 1, "io", "could not open %s: %s", inpath, strerror(errno));
    struct stat st;
    double size = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size : 0;
    char part[4096];
    FILE *out = a->output ? user_open_part(a->output, part, sizeof(part), e) : stdout;
    if (out == NULL) {
        if (in != stdin)
            fclose(in);
        return -1;
    }
    cli_progress_t bar;
    cli_progress_begin(&bar, "predict", s->progress, 1);
    cli_session_catch_sigint(s);
    cli_predict_opts_t o = {a->pos[0], inpath, (size_t)batch, &bar, size};
    unsigned long long rows = 0;
    int rc = cli_predict_csv(s->http, &o, in, out, &rows, e);
    cli_progress_end(&bar);
    if (in != stdin)
        fclose(in);
    if (a->output != NULL)
        rc = user_close_part(out, part, a->output, rc == 0, e);
    else if (fflush(stdout) != 0 && rc == 0)
        rc = err_set(e, 1, "io", "could not write the predictions to stdout");
    if (rc != 0)
        return user_hint_404(e, "`trainyard ls models` lists the models");
    if (s->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "model_id", json_object_new_string(a->pos[0]));
        json_object_object_add(doc, "rows", json_object_new_int64((int64_t)rows));
        json_object_object_add(doc, "output", json_object_new_string(a->output));
        cli_session_print_json(doc);
        json_object_put(doc);
    } else {
        fprintf(stderr, "trainyard: %llu row(s) predicted%s%s\n", rows,
                a->output ? " into " : "", a->output ? a->output : "");
    }
    return 0;
}

static void user_on_download(void *ctx, double now, double total)
{
    cli_progress_update(ctx, now, total, -1, NULL);
}

static int user_download(cli_session_t *s, const user_args_t *a, err_t *e)
{
    if (a->npos != 1)
        return err_set(e, 2, "usage", "usage: trainyard download MODEL_ID [-o FILE]");
    char dflt[256], part[4096];
    snprintf(dflt, sizeof(dflt), "model-%.200s.tar.gz", a->pos[0]);
    const char *path = a->output ? a->output : dflt;
    if (strchr(a->pos[0], '/') != NULL)
        return err_set(e, 2, "usage", "\"%s\" is not a model id (see `trainyard ls models`)",
                       a->pos[0]);
    if (cli_session_connect(s, e) != 0)
        return -1;
    FILE *f = user_open_part(path, part, sizeof(part), e);
    if (f == NULL)
        return -1;
    char *id = cli_http_escape(a->pos[0]), req[512];
    snprintf(req, sizeof(req), "/api/v1/models/%s/download", id ? id : "");
    free(id);
    cli_progress_t bar;
    cli_progress_begin(&bar, "download", s->progress, 1);
    cli_http_set_progress(s->http, user_on_download, &bar);
    cli_session_catch_sigint(s);
    long long bytes = 0;
    int rc = cli_http_download(s->http, req, f, &bytes, e);
    cli_http_set_progress(s->http, NULL, NULL);
    cli_progress_end(&bar);
    if (user_close_part(f, part, path, rc == 0, e) != 0)
        return user_hint_404(e, "`trainyard ls models` lists the models");
    if (s->json) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "model_id", json_object_new_string(a->pos[0]));
        json_object_object_add(doc, "output", json_object_new_string(path));
        json_object_object_add(doc, "bytes", json_object_new_int64(bytes));
        cli_session_print_json(doc);
        json_object_put(doc);
    } else {
        printf("%s\n", path);
        fprintf(stderr, "trainyard: model saved as %s (%lld bytes)\n", path, bytes);
    }
    return 0;
}

/* --- dispatch ---------------------------------------------------------------- */

static const char *const user_commands[] = {"login", "upload", "train", "result", "predict",
                                            "download", "ls", "--version", "version"};

int cli_user_is_command(const char *cmd)
{
    for (size_t i = 0; i < sizeof(user_commands) / sizeof(user_commands[0]); i++)
        if (strcmp(cmd, user_commands[i]) == 0)
            return 1;
    return 0;
}

static int user_train(cli_session_t *s, const user_args_t *a, err_t *e)
{
    long duration;
    if (a->npos != 1 || json_object_array_length(a->targets) == 0)
        return err_set(e, 2, "usage", "usage: trainyard train DATASET|FILE.csv --target COL "
                       "[--duration 60] [--ignore COL] [--wait]");
    if (user_positive("--duration", a->duration, 60, 86400, &duration, e) != 0)
        return -1;
    if (cli_session_connect(s, e) != 0)
        return -1;
    cli_train_opts_t o = {a->pos[0], a->name, a->targets, a->ignore, duration,
                          a->extra_attention, a->force, a->wait, a->extra};
    int rc = cli_train_run(s, &o, e);
    return rc == 0 ? 0 : rc == 130 ? -130 : -1;
}

int cli_user_main(int argc, char **argv)
{
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        printf("trainyard %s (libcurl %s, json-c %s)\n", CLI_VERSION, v->version,
               json_c_version());
        return 0;
    }
    err_t e;
    err_clear(&e);
    user_args_t a;
    cli_session_t s;
    int rc = user_parse(argc, argv, &a, &e);
    if (rc == 0)
        rc = cli_session_init(&s, a.json, &e);
    else
        memset(&s, 0, sizeof(s));
    /* A command's --workspace wins over the configured one, for this run. */
    if (rc == 0 && a.workspace != NULL)
        snprintf(s.cfg.workspace, sizeof(s.cfg.workspace), "%s", a.workspace);
    if (rc == 0 && strcmp(cmd, "login") == 0)
        rc = user_login(&s, &a, &e);
    else if (rc == 0) {
        if (strcmp(cmd, "upload") == 0) rc = user_upload(&s, &a, &e);
        else if (strcmp(cmd, "train") == 0) rc = user_train(&s, &a, &e);
        else if (strcmp(cmd, "result") == 0) rc = user_result(&s, &a, &e);
        else if (strcmp(cmd, "predict") == 0) rc = user_predict(&s, &a, &e);
        else if (strcmp(cmd, "download") == 0) rc = user_download(&s, &a, &e);
        else if (strcmp(cmd, "ls") == 0) rc = user_ls(&s, &a, &e);
    }
    cli_session_close(&s);
    json_object_put(a.targets);
    json_object_put(a.ignore);
    json_object_put(a.extra);
    if (rc == 0)
        return 0;
    if (e.status == 130 || rc == -130)
        return 130;
    fprintf(stderr, "trainyard: %s\n", err_message(&e));
    return e.status == 2 ? 2 : 1;
}
