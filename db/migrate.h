/*
 * migrate.h — applies sql/NNNN_*.sql in order, once each.
 *
 * Each file runs in its own transaction and is recorded in
 * schema_migrations (version = the file name). A session advisory lock
 * serialises concurrent runners (two trainers starting at once), so every
 * file is applied exactly once.
 */
#ifndef TRAINYARD_DB_MIGRATE_H
#define TRAINYARD_DB_MIGRATE_H

#include <stddef.h>

#include "db/db.h"

/* Applies the pending migrations found in sql_dir. *applied (may be NULL)
 * receives how many were applied by this call. */
int db_migrate(db_t *db, const char *sql_dir, int *applied, err_t *e);

/* The default SQL directory: $TRAINYARD_SQL_DIR, else <exe dir>/../sql
 * (the checkout's sql/ when run from build/), written into out. */
int db_migrate_default_dir(char *out, size_t len, err_t *e);

#endif
