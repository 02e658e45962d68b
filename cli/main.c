/*
 * cli/main.c — `trainyard`, the admin CLI (workspaces, keys, migrations, a
 * look at the queue).
 *
 * It finds the local stack's database without flags: TRAINYARD_DATABASE_URL
 * from the environment, else from $TRAINYARD_VAR/env, else from var/env in
 * the checkout (<exe dir>/.., walking up a level or two so build/<x>/trainyard
 * works too), a file of KEY=VALUE lines written by the stack script. `workspace create` and
 * `key create` print only the key on stdout so that scripts can capture it;
 * `limits show` prints KEY VALUE lines (limit and usage) for the same reason.
 *
 * The user commands (login, upload, train, ...) are cli/user.c's: they talk
 * HTTP to a server and are dispatched before any database is looked for.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/user.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "db/accounts.h"
#include "db/auth.h"
#include "db/db.h"
#include "db/limits.h"
#include "db/migrate.h"
#include "db/retention.h"
#include "db/roles.h"

static const char usage[] =
    "usage: trainyard COMMAND\n"
    "\n"
    "admin commands (talk to the database of a local stack):\n"
    "  migrate                     apply pending sql/ migrations\n"
    "  workspace create NAME       create an account NAME with a workspace NAME; prints\n"
    "                              its first API key\n"
    "  workspace create NAME --account ACCOUNT\n"
    "                              another workspace of an existing account (no key)\n"
    "  key create WORKSPACE        create another key; prints it\n"
    "  key create WORKSPACE --account ACCOUNT [--only]\n"
    "                              a key of ACCOUNT acting by default in its workspace\n"
    "                              WORKSPACE; --only: it may act there only\n"
    "  key revoke KEY_PREFIX       revoke a key (its prefix or the whole key)\n"
    "  jobs [LIMIT]                recent jobs as a table (default 20)\n"
    "  gc                          delete what retention no longer keeps, and\n"
    "                              artifacts nothing refers to; prints the counts\n"
    "  retention WORKSPACE DAYS MODELS\n"
    "                              keep that workspace's finished jobs DAYS days and\n"
    "                              MODELS models per dataset (0 = forever/all,\n"
    "                              default = the trainers' setting)\n"
    "  model pin|unpin MODEL_ID    a pinned model is never deleted by retention\n"
    "  limits show WORKSPACE       a workspace's limits and what it uses of them\n"
    "  limits set WORKSPACE [--queued N] [--running N] [--bytes SIZE] [--datasets N]\n"
    "                              change limits (SIZE: bytes, or with k/m/g/t suffix);\n"
    "                              the ones not named stay as they are\n"
    "  --help                      this text\n"
    "\n"
    "The database is TRAINYARD_DATABASE_URL, else the one named in\n"
    "$TRAINYARD_VAR/env, else in the checkout's var/env (written by `make start`).\n"
    "`migrate` connects as the owner: TRAINYARD_OWNER_DATABASE_URL if set (or in\n"
    "the env file); with TRAINYARD_APP_DB_PASSWORD (or _FILE) it then creates the\n"
    "application role " DB_APP_ROLE " if missing and sets its login password.\n"
    "`gc` reads TRAINYARD_RETENTION_DAYS (30), TRAINYARD_RETENTION_MODELS (10) and\n"
    "TRAINYARD_GC_ORPHAN_GRACE (3600 s), as the trainers do.\n";

/* Looks for key=value in one env file; 0 if found. */
static int cli_env_file_get(const char *path, const char *key, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[4096];
    size_t kl = strlen(key);
    int found = -1;
    while (found != 0 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, kl) != 0 || line[kl] != '=')
            continue;
        char *v = line + kl + 1;
        v[strcspn(v, "\r\n")] = '\0';
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            v[vl - 1] = '\0';
            v++;
        }
        snprintf(out, len, "%s", v);
        found = 0;
    }
    fclose(f);
    return found;
}

/* Reads key from the stack's env file: $TRAINYARD_VAR/env when that names a
 * state directory (and only there: another stack's settings must never be
 * picked up instead), else var/env in the checkout near the executable. */
static int cli_from_env_file(const char *key, char *out, size_t len)
{
    char path[PATH_MAX];
    const char *var = getenv("TRAINYARD_VAR");
    if (var != NULL && *var != '\0') {
        snprintf(path, sizeof(path), "%s/env", var);
        return cli_env_file_get(path, key, out, len);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *dir = dirname(exe);
    for (int up = 0; up < 4; up++) {
        dir = dirname(dir);
        snprintf(path, sizeof(path), "%s/var/env", dir);
        if (cli_env_file_get(path, key, out, len) == 0)
            return 0;
    }
    return -1;
}

/* The database URL for a command. Migrations run as the owner role
 * (TRAINYARD_OWNER_DATABASE_URL) when one is named; everything else as
 * the application role (TRAINYARD_DATABASE_URL). The environment wins over
 * the env file. */
static int cli_database_url(int owner, char *out, size_t len)
{
    static const char *const keys[2] = {"TRAINYARD_OWNER_DATABASE_URL", "TRAINYARD_DATABASE_URL"};
    for (int k = owner ? 0 : 1; k < 2; k++) {
        const char *env = getenv(keys[k]);
        if (env != NULL && *env != '\0') {
            snprintf(out, len, "%s", env);
            return 0;
        }
    }
    for (int k = owner ? 0 : 1; k < 2; k++)
        if (cli_from_env_file(keys[k], out, len) == 0)
            return 0;
    return -1;
}

/* The application role's password for `migrate` to set, if one is given:
 * TRAINYARD_APP_DB_PASSWORD, or the first line of TRAINYARD_APP_DB_PASSWORD_FILE. */
static int cli_app_password(char *out, size_t len)
{
    const char *pw = getenv("TRAINYARD_APP_DB_PASSWORD");
    if (pw != NULL && *pw != '\0') {
        snprintf(out, len, "%s", pw);
        return 0;
    }
    const char *file = getenv("TRAINYARD_APP_DB_PASSWORD_FILE");
    if (file == NULL || *file == '\0')
        return -1;
    FILE *f = fopen(file, "r");
    if (f == NULL || fgets(out, (int)len, f) == NULL) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return *out ? 0 : -1;
}

static double cli_env_number(const char *name, double dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end;
    double d = strtod(v, &end);
    return *end == '\0' && d >= 0 ? d : dflt;
}

/* "default" (or "-") = NULL in workspace_retention; else a count >= 0. */
static int cli_retention_value(const char *s, int *out)
{
    if (strcmp(s, "default") == 0 || strcmp(s, "-") == 0) {
        *out = -1;
        return 0;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

static int cli_fail(const err_t *e)
{
    fprintf(stderr, "trainyard: %s\n", err_message(e));
    return 1;
}

static int cli_jobs(db_t *db, int limit)
{
    static const db_stmt_t stmt = {
        "cli_jobs",
        "SELECT id, workspace, state, dialect, coalesce(dataset, '') AS dataset,"
        " coalesce(predict, '') AS predict, attempts, coalesce(trainer, '') AS trainer,"
        " progress, to_char(created, 'YYYY-MM-DD HH24:MI:SS') AS created,"
        " coalesce(ran::text, '') AS ran, coalesce(left(error, 60), '') AS error"
        " FROM trainyard_jobs LIMIT $1",
        1};
    arena_t *arena = arena_create(0);
    err_t e;
    err_clear(&e);
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[1] = {lim};
    PGresult *res;
    if (db_query(db, arena, &stmt, p, &res, &e) != 0) {
        arena_destroy(arena);
        return cli_fail(&e);
    }
    int cols = PQnfields(res), rows = PQntuples(res);
    int width[16] = {0};
    for (int c = 0; c < cols && c < 16; c++) {
        width[c] = (int)strlen(PQfname(res, c));
        for (int r = 0; r < rows; r++)
            if (PQgetlength(res, r, c) > width[c])
                width[c] = PQgetlength(res, r, c);
    }
    for (int c = 0; c < cols && c < 16; c++)
        printf("%-*s%s", width[c], PQfname(res, c), c + 1 < cols ? "  " : "\n");
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols && c < 16; c++)
            printf("%-*s%s", width[c], PQgetvalue(res, r, c), c + 1 < cols ? "  " : "\n");
    if (rows == 0)
        printf("(no jobs)\n");
    arena_destroy(arena);
    return 0;
}

/* Parses a positive count (N) or, with is_size, a size with an optional
 * k/m/g/t suffix (powers of 1024). */
static int cli_parse_limit(const char *flag, const char *v, int is_size, long long *out)
{
    char *end = NULL;
    unsigned long long n = 0;
    if (v != NULL && *v >= '0' && *v <= '9') {
        n = strtoull(v, &end, 10);
        if (is_size && end != NULL && *end != '\0' && end[1] == '\0') {
            static const char suffixes[] = "kmgt";
            const char *sfx = strchr(suffixes, *end | 0x20);
            for (const char *q = suffixes; sfx != NULL && q <= sfx; q++)
                n = n > (1ULL << 53) ? 0 : n * 1024ULL;
            end = sfx != NULL ? end + 1 : end;
        }
    }
    if (v == NULL || end == NULL || *end != '\0' || n == 0 || n > (unsigned long long)LLONG_MAX) {
        fprintf(stderr, "trainyard: %s wants a positive %s, not \"%s\"\n", flag,
                is_size ? "size (e.g. 500m, 10g)" : "whole number", v ? v : "");
        return -1;
    }
    *out = (long long)n;
    return 0;
}

static int cli_limits_set(db_t *db, arena_t *arena, const char *ws, int argc, char **argv)
{
    ws_limits_t set = {0, 0, 0, 0};
    for (int i = 0; i < argc; i += 2) {
        const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long *dst = strcmp(flag, "--queued") == 0     ? &set.max_queued
                         : strcmp(flag, "--running") == 0  ? &set.max_running
                         : strcmp(flag, "--bytes") == 0    ? &set.max_bytes
                         : strcmp(flag, "--datasets") == 0 ? &set.max_datasets
                                                           : NULL;
        if (dst == NULL) {
            fprintf(stderr, "trainyard: unknown option %s\n", flag);
            return 2;
        }
        if (cli_parse_limit(flag, v, dst == &set.max_bytes, dst) != 0)
            return 2;
    }
    err_t e;
    err_clear(&e);
    if (db_limits_set(db, arena, ws, &set, &e) != 0)
        return cli_fail(&e);
    fprintf(stderr, "trainyard: limits of %s updated\n", ws);
    return 0;
}

static int cli_limits_show(db_t *db, arena_t *arena, const char *ws)
{
    ws_limits_t l;
    ws_usage_t u;
    err_t e;
    err_clear(&e);
    if (db_limits_get(db, arena, ws, &l, &u, &e) != 0)
        return cli_fail(&e);
    printf("%-9s %15s %15s\n", "limit", "max", "used");
    printf("%-9s %15lld %15lld\n", "queued", l.max_queued, u.queued);
    printf("%-9s %15lld %15lld\n", "running", l.max_running, u.running);
    printf("%-9s %15lld %15lld\n", "bytes", l.max_bytes, u.bytes);
    printf("%-9s %15lld %15lld\n", "datasets", l.max_datasets, u.datasets);
    return 0;
}

int main(int argc, char **argv)
{
    log_init("trainyard", LOG_WARN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        fputs("\n", argc < 2 ? stderr : stdout);
        fputs(cli_user_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* User commands talk HTTP to a server and need no database. */
    if (cli_user_is_command(argv[1]))
        return cli_user_main(argc, argv);
    char url[4096];
    if (cli_database_url(strcmp(argv[1], "migrate") == 0, url, sizeof(url)) != 0) {
        fprintf(stderr, "trainyard: no database: set TRAINYARD_DATABASE_URL or start the "
                        "local stack (make start)\n");
        return 1;
    }
    err_t e;
    err_clear(&e);
    db_t *db = db_open(url, &e);
    if (db == NULL)
        return cli_fail(&e);
    int rc = 0;
    arena_t *arena = arena_create(0);
    const char *cmd = argv[1];
    const char *sub = argc > 2 ? argv[2] : "";
    const char *arg = argc > 3 ? argv[3] : NULL;
    if (strcmp(cmd, "migrate") == 0 && argc == 2) {
        char dir[PATH_MAX];
        int applied = 0;
        char pw[512];
        if (db_migrate_default_dir(dir, sizeof(dir), &e) != 0 ||
            db_migrate(db, dir, &applied, &e) != 0) {
            if (e.status == 500)
                fprintf(stderr, "trainyard: migrations run as the database owner: set "
                                "TRAINYARD_OWNER_DATABASE_URL\n");
            rc = cli_fail(&e);
        } else {
            fprintf(stderr, "trainyard: %d migration(s) applied from %s\n", applied, dir);
            if (cli_app_password(pw, sizeof(pw)) == 0) {
                if (db_role_set_login(db, DB_APP_ROLE, pw, &e) != 0)
                    rc = cli_fail(&e);
                else
                    fprintf(stderr, "trainyard: role %s may log in\n", DB_APP_ROLE);
            }
        }
    } else if (strcmp(cmd, "workspace") == 0 && strcmp(sub, "create") == 0 && argc == 6 &&
               strcmp(argv[4], "--account") == 0) {
        long long account;
        if (db_account_find(db, arena, argv[5], &account, &e) != 0 ||
            db_account_workspace_create(db, arena, account, arg, NULL, &e) != 0)
            rc = cli_fail(&e);
        else
            fprintf(stderr, "trainyard: workspace %s created in account %s\n", arg, argv[5]);
    } else if (strcmp(cmd, "workspace") == 0 && strcmp(sub, "create") == 0 && argc == 4) {
        char key[AUTH_KEY_MAX];
        if (db_begin(db, &e) != 0 || db_workspace_create(db, arena, arg, NULL, &e) != 0 ||
            db_key_create(db, arena, arg, key, &e) != 0 || db_commit(db, &e) != 0) {
            db_rollback(db);
            rc = cli_fail(&e);
        } else {
            printf("%s\n", key);
        }
    } else if (strcmp(cmd, "key") == 0 && strcmp(sub, "create") == 0 && argc >= 4) {
        /* key create WORKSPACE [--account ACCOUNT] [--only] */
        const char *account = NULL;
        int only = 0, bad = 0;
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--account") == 0 && i + 1 < argc)
                account = argv[++i];
            else if (strcmp(argv[i], "--only") == 0)
                only = 1;
            else
                bad = 1;
        }
        char key[AUTH_KEY_MAX];
        if (bad) {
            fputs(usage, stderr);
            rc = 2;
        } else if (db_key_create_in(db, arena, account ? account : arg, account ? arg : NULL,
                                    only, key, &e) != 0) {
            rc = cli_fail(&e);
        } else {
            printf("%s\n", key);
        }
    } else if (strcmp(cmd, "key") == 0 && strcmp(sub, "revoke") == 0 && argc == 4) {
        if (db_key_revoke(db, arena, arg, &e) != 0)
            rc = cli_fail(&e);
        else
            fprintf(stderr, "trainyard: key revoked\n");
    } else if (strcmp(cmd, "gc") == 0 && argc == 2) {
        gc_policy_t policy = {(int)cli_env_number("TRAINYARD_RETENTION_DAYS", 30),
                              (int)cli_env_number("TRAINYARD_RETENTION_MODELS", 10),
                              cli_env_number("TRAINYARD_GC_ORPHAN_GRACE", 3600), 0};
        gc_report_t rep;
        if (db_gc_run(db, &policy, &rep, &e) != 0)
            rc = cli_fail(&e);
        else if (!rep.ran)
            fprintf(stderr, "trainyard: another process is collecting; try again later\n");
        else
            printf("deleted %lld model(s), %lld job(s), %lld log line(s), %lld artifact(s) "
                   "(%lld bytes)\n",
                   rep.models, rep.jobs, rep.logs, rep.artifacts, rep.bytes);
    } else if (strcmp(cmd, "retention") == 0 && argc == 5) {
        int days, models;
        if (cli_retention_value(argv[3], &days) != 0 || cli_retention_value(argv[4], &models) != 0) {
            fputs(usage, stderr);
            rc = 2;
        } else if (db_retention_set(db, arena, argv[2], days, models, &e) != 0) {
            rc = cli_fail(&e);
        }
    } else if (strcmp(cmd, "model") == 0 && argc == 4 &&
               (strcmp(sub, "pin") == 0 || strcmp(sub, "unpin") == 0)) {
        if (db_model_pin(db, arena, arg, strcmp(sub, "pin") == 0, &e) != 0)
            rc = cli_fail(&e);
    } else if (strcmp(cmd, "limits") == 0 && strcmp(sub, "show") == 0 && argc == 4) {
        rc = cli_limits_show(db, arena, arg);
    } else if (strcmp(cmd, "limits") == 0 && strcmp(sub, "set") == 0 && argc >= 6) {
        rc = cli_limits_set(db, arena, arg, argc - 4, argv + 4);
    } else if (strcmp(cmd, "jobs") == 0 && argc <= 3) {
        int limit = argc == 3 ? atoi(argv[2]) : 20;
        rc = cli_jobs(db, limit > 0 ? limit : 20);
    } else {
        fputs(usage, stderr);
        rc = 2;
    }
    arena_destroy(arena);
    db_close(db);
    return rc;
}
