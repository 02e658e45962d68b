/*
 * runner.c — the runner's settings and whether this host can sandbox user
 * code (see runner.h). Kept apart from trainer/ so that the API can answer
 * a submission without linking the trainer's runner.
 */
#include "common/runner.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const runner_cfg_t runner_cfg_default = {
    .mode = "sandbox",
    .bwrap = "/usr/bin/bwrap",
    .wall = 600,
    .memory = (size_t)3 << 30,
    .cpu = 0,
    .file = (size_t)256 << 20,
    .out = (size_t)512 << 20,
    .tmp = (size_t)64 << 20,
    .procs = 256,
    .dir = NULL,
    .unpack_cpu = 60,
    .unpack_memory = (size_t)512 << 20,
};

int runner_cfg_check(const runner_cfg_t *c, err_t *e)
{
    if (c->mode == NULL || (strcmp(c->mode, "sandbox") != 0 && strcmp(c->mode, "off") != 0))
        return err_add(e, 400, "value_error", "runner",
                       "TRAINYARD_RUNNER: must be sandbox or off, not \"%s\"",
                       c->mode ? c->mode : "");
    if (c->bwrap == NULL || c->bwrap[0] != '/')
        return err_add(e, 400, "value_error", "sandbox-bwrap",
                       "TRAINYARD_SANDBOX_BWRAP: must be an absolute path");
    if (c->wall <= 0)
        return err_add(e, 400, "value_error", "sandbox-wall", "TRAINYARD_SANDBOX_WALL: must be > 0");
    if (c->memory < ((size_t)64 << 20))
        return err_add(e, 400, "value_error", "sandbox-memory",
                       "TRAINYARD_SANDBOX_MEMORY: at least 64m");
    if (c->unpack_memory != 0 && c->unpack_memory < ((size_t)32 << 20))
        return err_add(e, 400, "value_error", "sandbox-unpack-memory",
                       "TRAINYARD_SANDBOX_UNPACK_MEMORY: at least 32m, or 0 for no limit");
    if (c->procs < 1 || c->file == 0 || c->out == 0 || c->tmp == 0 || c->unpack_cpu <= 0)
        return err_add(e, 400, "value_error", "sandbox",
                       "TRAINYARD_SANDBOX_PROCS, _FILE, _OUT, _TMP, _UNPACK_CPU: must be > 0");
    if (c->dir != NULL && (c->dir[0] != '/' || strlen(c->dir) > 900))
        return err_add(e, 400, "value_error", "sandbox-dir",
                       "TRAINYARD_SANDBOX_DIR: must be an absolute path under 900 bytes");
    return 0;
}

static long read_long(const char *path, long dflt)
{
    FILE *f = fopen(path, "r");
    long v = dflt;
    if (f == NULL)
        return dflt;
    if (fscanf(f, "%ld", &v) != 1)
        v = dflt;
    fclose(f);
    return v;
}

int runner_available(const runner_cfg_t *c, char *why, size_t n)
{
    const char *reason = NULL;
    if (c->mode != NULL && strcmp(c->mode, "off") == 0)
        reason = "the sandbox runner is off on this server (TRAINYARD_RUNNER=off)";
    else if (c->bwrap == NULL || access(c->bwrap, X_OK) != 0)
        reason = "this server has no sandbox for user code (bubblewrap missing)";
    else if (read_long("/proc/sys/user/max_user_namespaces", 0) <= 0 ||
             read_long("/proc/sys/kernel/unprivileged_userns_clone", 1) == 0) /* Debian's switch */
        reason = "this server cannot sandbox user code (user namespaces are disabled)";
    if (reason != NULL && why != NULL)
        snprintf(why, n, "%s", reason);
    return reason == NULL;
}
