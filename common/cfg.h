/*
 * cfg.h — configuration as one table of {name, env var, default, parser}.
 *
 * Each program declares a static const table describing its settings and
 * the offsets of the struct fields they fill. cfg_load() applies defaults,
 * then environment variables, then `--name=value` / `--name value` flags.
 * `--help` prints the table. Nothing else reads getenv() for settings.
 */
#ifndef TRAINYARD_CFG_H
#define TRAINYARD_CFG_H

#include <stddef.h>

#include "common/err.h"

typedef enum cfg_type {
    CFG_STRING, /* char * (points into argv/environ or the default) */
    CFG_INT,    /* int, decimal */
    CFG_SIZE,   /* size_t, with optional k/m/g suffix (powers of 1024) */
    CFG_SECONDS /* double, seconds, fractional allowed */
} cfg_type_t;

typedef struct cfg_entry {
    const char *name;     /* flag name without dashes, e.g. "workers" */
    const char *env;      /* environment variable, e.g. "TRAINYARD_WORKERS" */
    const char *def;      /* default as text; NULL means "unset" (strings only) */
    cfg_type_t type;
    size_t offset;        /* offsetof(the program's config struct, field) */
    const char *help;     /* one line */
} cfg_entry_t;

/* Fills the struct at target from defaults, environment and argv.
 * Returns 1 if --help was given (after printing help to stdout), 0 on
 * success, -1 with e filled on a bad value or an unknown flag. */
int cfg_load(const cfg_entry_t *table, size_t n, void *target, int argc,
             char **argv, const char *usage, err_t *e);

/* Prints the table: flag, env var, default, help. */
void cfg_print_help(const cfg_entry_t *table, size_t n, const char *usage);

/* Parses a size such as "512k", "16m", "2g". Returns -1 if malformed. */
int cfg_parse_size(const char *s, size_t *out);

#endif
