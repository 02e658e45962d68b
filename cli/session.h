/*
 * session.h — what every user command of the terminal client shares: the
 * settings, the HTTP handle, the output mode, and the calls more than one
 * command makes (uploading a dataset, printing JSON).
 */
#ifndef TRAINYARD_CLI_SESSION_H
#define TRAINYARD_CLI_SESSION_H

#include <signal.h>

#include <json-c/json.h>

#include "cli/config.h"
#include "cli/http.h"
#include "common/err.h"

#define CLI_VERSION "0.1.0" /* the API's version, as /openapi.json states it */

typedef struct cli_session {
    cli_config_t cfg;       /* url, key, workspace (see config.h) */
    cli_http_t *http;       /* NULL until cli_session_connect */
    int json;               /* --json: machine output on stdout, no bars */
    int progress;           /* bars wanted (cli_progress_wanted) */
} cli_session_t;

/* Set by SIGINT while a user command runs (see cli_session_catch_sigint). */
extern volatile sig_atomic_t cli_session_interrupted;

/* Installs the SIGINT handler that sets cli_session_interrupted (no
 * SA_RESTART, so a blocking read returns), and cancels transfers with it. */
void cli_session_catch_sigint(cli_session_t *s);

/* Loads the settings (done once by the dispatcher). */
int cli_session_init(cli_session_t *s, int json, err_t *e);

/* Opens the HTTP handle; an error names `trainyard login` when the URL or
 * key is missing. */
int cli_session_connect(cli_session_t *s, err_t *e);

void cli_session_close(cli_session_t *s);

/* Picks the workspace from GET /workspace's answer (doc): want when
 * given (an error if the account has none of that name), else the
 * account's default, else the first; into s->cfg.workspace. */
int cli_session_pick_workspace(cli_session_t *s, json_object *doc, const char *want, err_t *e);

/* Makes sure s->cfg.workspace names one (asking the server if it is
 * unknown, as with TRAINYARD_URL/KEY and no login). */
int cli_session_workspace(cli_session_t *s, err_t *e);

/* Prints doc on stdout, pretty, with a newline. */
void cli_session_print_json(json_object *doc);

/* Uploads the CSV file at path as a dataset called name (NULL: the file's
 * name without .csv), with a progress bar; *doc is the server's answer
 * (caller owns). */
int cli_session_upload(cli_session_t *s, const char *path, const char *name, json_object **doc,
                       err_t *e);

/* A string member of o, or "" (never NULL). */
const char *cli_json_str(json_object *o, const char *key);

#endif
