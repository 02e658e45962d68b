/*
 * roles.h — the application's database role, set up by whoever migrates.
 *
 * The API and the trainers connect as a role that owns nothing (the grants
 * are in sql/0010_least_privilege.sql). Where no administrator creates that
 * role by hand (the compose stack's migrate one-shot), `trainyard migrate`
 * gives it LOGIN and a password after the migrations ran. The password never
 * travels as SQL text: libpq turns it into a SCRAM verifier on the client,
 * and the verifier reaches the server as a query parameter.
 */
#ifndef TRAINYARD_DB_ROLES_H
#define TRAINYARD_DB_ROLES_H

#include "db/db.h"

#define DB_APP_ROLE "trainyard_app"

/* Creates role (NOLOGIN NOINHERIT, no other attribute) if missing, then
 * gives it LOGIN and password. Needs CREATEROLE (or superuser) on db. */
int db_role_set_login(db_t *db, const char *role, const char *password, err_t *e);

#endif
