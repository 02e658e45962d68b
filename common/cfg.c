/*
 * cfg.c — configuration table loader (see cfg.h).
 */
#include "common/cfg.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cfg_parse_size(const char *s, size_t *out)
{
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *s == '-')
        return -1;
    unsigned long long mult = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = 1024ULL; end++; break;
    case 'm': case 'M': mult = 1024ULL * 1024; end++; break;
    case 'g': case 'G': mult = 1024ULL * 1024 * 1024; end++; break;
    default: return -1;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v > (unsigned long long)SIZE_MAX / mult)
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

static int cfg_apply(const cfg_entry_t *c, void *target, const char *value,
                     const char *source, err_t *e)
{
    char *field = (char *)target + c->offset;
    char *end;
    switch (c->type) {
    case CFG_STRING:
        *(const char **)field = value;
        return 0;
    case CFG_INT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < INT_MIN || v > INT_MAX)
            return err_add(e, 400, "value_error", c->name,
                           "%s: %s: not an integer: \"%s\"", source, c->name, value);
        *(int *)field = (int)v;
        return 0;
    }
    case CFG_SIZE:
        if (cfg_parse_size(value, (size_t *)field) != 0)
            return err_add(e, 400, "value_error", c->name,
                           "%s: %s: not a size (e.g. 64k, 16m): \"%s\"", source, c->name, value);
        return 0;
    case CFG_SECONDS: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno != 0 || end == value || *end != '\0' || v < 0)
            return err_add(e, 400, "value_error", c->name,
                           "%s: %s: not a number of seconds: \"%s\"", source, c->name, value);
        *(double *)field = v;
        return 0;
    }
    }
    return err_add(e, 500, "internal", c->name, "unknown setting type");
}

void cfg_print_help(const cfg_entry_t *table, size_t n, const char *usage)
{
    printf("usage: %s\n\nsettings (flag, environment variable, default):\n", usage);
    for (size_t i = 0; i < n; i++)
        printf("  --%-20s %-32s %-14s %s\n", table[i].name, table[i].env,
               table[i].def ? table[i].def : "(unset)", table[i].help);
}

int cfg_load(const cfg_entry_t *table, size_t n, void *target, int argc,
             char **argv, const char *usage, err_t *e)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].def != NULL) {
            if (cfg_apply(&table[i], target, table[i].def, "default", e) != 0)
                return -1;
        } else if (table[i].type == CFG_STRING) {
            *(const char **)((char *)target + table[i].offset) = NULL;
        }
        const char *env = table[i].env ? getenv(table[i].env) : NULL;
        if (env != NULL && *env != '\0' && cfg_apply(&table[i], target, env, table[i].env, e) != 0)
            return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cfg_print_help(table, n, usage);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return err_add(e, 400, "value_error", "", "unexpected argument \"%s\"", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const cfg_entry_t *c = NULL;
        for (size_t i = 0; i < n; i++)
            if (strlen(table[i].name) == name_len && strncmp(table[i].name, name, name_len) == 0)
                c = &table[i];
        if (c == NULL)
            return err_add(e, 400, "value_error", "", "unknown flag \"%s\" (see --help)", arg);
        const char *value = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (value == NULL)
            return err_add(e, 400, "value_error", c->name, "flag --%s needs a value", c->name);
        if (cfg_apply(c, target, value, "flag", e) != 0)
            return -1;
    }
    return 0;
}
