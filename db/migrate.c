/*
 * migrate.c — the migrations runner (see migrate.h).
 *
 * Files are taken from the directory sorted by name; only names made of
 * four digits, '_' and ending in ".sql" count, so editor backups are
 * ignored. The advisory lock is taken before schema_migrations is even
 * created, so that two first-time runners cannot both create it.
 */
#include "db/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Any constant will do; it only has to be the same in every process. */
#define MIGRATE_LOCK_KEY "7311955001"

static const db_stmt_t stmt_applied = {
    "migrate_applied", "SELECT 1 FROM schema_migrations WHERE version = $1", 1};
static const db_stmt_t stmt_record = {
    "migrate_record", "INSERT INTO schema_migrations (version) VALUES ($1)", 1};

static int migrate_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
        return 0;
    for (int i = 0; i < 4; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return 1;
}

static int migrate_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *migrate_read_file(const char *path, err_t *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        err_set(e, 500, "internal", "could not open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            abort();
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        err_set(e, 500, "internal", "could not read \"%s\"", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Applies one file unless recorded. 1 = applied, 0 = already there. */
static int migrate_one(db_t *db, const char *dir, const char *name, err_t *e)
{
    if (db_begin(db, e) != 0)
        return -1;
    PGresult *res = NULL;
    const char *params[1] = {name};
    if (db_query(db, NULL, &stmt_applied, params, &res, e) != 0)
        goto fail;
    int done = PQntuples(res) > 0;
    PQclear(res);
    if (done) {
        db_rollback(db);
        return 0;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *sql = migrate_read_file(path, e);
    if (sql == NULL)
        goto fail;
    int rc = db_exec(db, sql, e);
    free(sql);
    if (rc != 0) {
        err_wrap(e, name);
        goto fail;
    }
    if (db_query(db, NULL, &stmt_record, params, NULL, e) != 0 || db_commit(db, e) != 0)
        goto fail;
    log_info("migrate: applied %s", name);
    return 1;
fail:
    db_rollback(db);
    return -1;
}

int db_migrate(db_t *db, const char *sql_dir, int *applied, err_t *e)
{
    if (applied)
        *applied = 0;
    DIR *d = opendir(sql_dir);
    if (d == NULL)
        return err_set(e, 500, "internal", "could not open sql dir \"%s\": %s", sql_dir,
                       strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!migrate_name_ok(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof(*names));
            if (names == NULL)
                abort();
        }
        names[n] = strdup(de->d_name);
        if (names[n++] == NULL)
            abort();
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), migrate_cmp);

    int rc = -1;
    if (db_exec(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", e) != 0)
        goto out;
    if (db_exec(db,
                "SET client_min_messages = warning;"
                /* Only when missing: CREATE ... IF NOT EXISTS still needs the
                 * CREATE privilege, and the application role (which may run
                 * an up-to-date migrate as a no-op) has none. */
                "DO $$ BEGIN IF to_regclass('schema_migrations') IS NULL THEN"
                " CREATE TABLE schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now()); END IF; END $$",
                e) != 0)
        goto unlock;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int one = migrate_one(db, sql_dir, names[i], e);
        if (one < 0)
            rc = -1;
        else if (applied)
            *applied += one;
    }
unlock:;
    err_t ignore;
    err_clear(&ignore);
    db_exec(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", &ignore);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int db_migrate_default_dir(char *out, size_t len, err_t *e)
{
    const char *env = getenv("TRAINYARD_SQL_DIR");
    if (env != NULL && *env != '\0') {
        snprintf(out, len, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return err_set(e, 500, "internal", "could not find the executable: %s", strerror(errno));
    exe[n] = '\0';
    /* build/x and build/db/x both live under the checkout: walk up until a
     * directory holding sql/ appears (at most three levels). */
    char *dir = dirname(exe);
    for (int up = 0; up < 4; up++) {
        char probe[PATH_MAX];
        snprintf(probe, sizeof(probe), "%s/sql", dir);
        if (access(probe, R_OK | X_OK) == 0) {
            snprintf(out, len, "%s", probe);
            return 0;
        }
        dir = dirname(dir);
    }
    return err_set(e, 500, "internal", "no sql/ directory near the executable; "
                   "set TRAINYARD_SQL_DIR");
}
