/*
 * roles.c — the application role's login (see roles.h).
 *
 * ALTER ROLE takes no bind parameters, so the role name and the verifier go
 * in as parameters of set_config() and a DO block formats the statement
 * with %I and %L from current_setting(): no value is ever spliced into SQL
 * text on this side. Everything happens in one transaction (set_config is
 * local to it).
 */
#include "db/roles.h"

#include <string.h>

static const db_stmt_t stmt_stage = {
    "role_stage",
    "SELECT set_config('trainyard.role', $1, true), set_config('trainyard.verifier', $2, true)",
    2};

static const char role_apply_sql[] =
    "DO $$\n"
    "DECLARE r text := current_setting('trainyard.role');\n"
    "BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN\n"
    "    EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);\n"
    "  END IF;\n"
    "  EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
    " NOBYPASSRLS PASSWORD %L', r, current_setting('trainyard.verifier'));\n"
    "END $$";

int db_role_set_login(db_t *db, const char *role, const char *password, err_t *e)
{
    if (role == NULL || *role == '\0' || password == NULL || strlen(password) < 12)
        return err_set(e, 400, "invalid", "the application role needs a password of at least "
                                          "12 characters");
    if (db_ensure(db, e) != 0)
        return -1;
    char *verifier = PQencryptPasswordConn(db_pg(db), password, role, "scram-sha-256");
    if (verifier == NULL)
        return err_set(e, 500, "internal", "could not hash the password: %s",
                       PQerrorMessage(db_pg(db)));
    int rc = -1;
    const char *params[2] = {role, verifier};
    if (db_begin(db, e) != 0)
        goto out;
    if (db_query(db, NULL, &stmt_stage, params, NULL, e) != 0 || db_exec(db, role_apply_sql, e) != 0 ||
        db_commit(db, e) != 0) {
        db_rollback(db);
        goto out;
    }
    rc = 0;
out:
    PQfreemem(verifier);
    return rc;
}
