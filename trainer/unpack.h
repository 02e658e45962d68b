/*
 * unpack.h — unpacking a user's bundle for the sandbox runner, in a process
 * that can do nothing else.
 *
 * A KAOS job's code, data and hyperparameter bundles are the user's bytes
 * run through libarchive. The runner (trainer/sandbox.c) is root when the
 * trainer is, and holds the job's database connection, so it never parses
 * them itself: it starts an unpacker by exec'ing the trainer's binary afresh
 * as `trainyard-unpack --bundle-unpacker` (nothing of the runner's memory,
 * no database URL, an environment with nothing but sanitizer options),
 * after it
 *
 *   - moved the descriptors into place and closed every other one:
 *       3  the bundle (an unlinked spool file), read
 *       4  the directory to unpack into (owned by the unpacker's user)
 *       5  the report pipe: the reason of a failure, as one line of text
 *   - set rlimits: address space and CPU seconds (runner_cfg_t's unpack_*),
 *     file size (the bundle's total-bytes cap), 16 open files, no core
 *   - dropped to the sandbox user (nobody) when the trainer is root, with
 *     no supplementary groups and no way back, and set no_new_privs.
 *
 * The unpacker then, before it reads a byte of the archive, restricts its
 * own file access with Landlock where the kernel has it (create and write
 * only beneath descriptor 4, read only there and under /usr) and installs a
 * seccomp allow list (read, write, the *at calls that create files and
 * directories, memory management, exit: no socket, no exec, no fork, no
 * ptrace, no link), and extracts the archive with the same checks as at
 * upload (bundle/kaos.h: regular files and directories only, no traversal,
 * entries, bytes and ratio capped). Any other system call kills it (SIGSYS).
 *
 * A probe mode (UNPACK_PROBE_ARG) starts the same process, confined the
 * same way, to try what a hijacked unpacker would: the unit suite runs it
 * to prove the confinement is in force.
 */
#ifndef TRAINYARD_TRAINER_UNPACK_H
#define TRAINYARD_TRAINER_UNPACK_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/runner.h"

#define UNPACK_ARG "--bundle-unpacker"
#define UNPACK_PROBE_ARG "--bundle-unpacker-probe"
#define UNPACK_FD_ARCHIVE 3
#define UNPACK_FD_DIR 4
#define UNPACK_FD_REPORT 5

/* Who the unpacker runs as: drop = 1 switches to uid/gid (a root trainer). */
typedef struct unpack_ids {
    int drop;
    uid_t uid;
    gid_t gid;
} unpack_ids_t;

/* For a program's main(): when argv is an unpacker's (UNPACK_ARG or
 * UNPACK_PROBE_ARG alone), runs it and never returns (exit status 0
 * unpacked, 1 refused, the reason on UNPACK_FD_REPORT); otherwise -1. */
int trainer_unpack_main(int argc, char **argv);

/* Unpacks the bundle at archive_fd (any offset: it is read from 0) under
 * dir_fd through a confined unpacker (above), waiting for it. 0, or -1 with
 * e filled: a bundle the checks refuse is 400 "INVALID_BUNDLE" with the
 * unpacker's reason; an unpacker killed by a limit or its filter is 500
 * naming it. */
int trainer_unpack(int archive_fd, int dir_fd, const runner_cfg_t *cfg, const unpack_ids_t *ids,
                   err_t *e);

/* Runs the probe with dir_fd as its directory: report gets its lines
 * ("uid U euid E landlock L", then "create-inside allowed", "create-outside
 * denied", "read-etc denied", "socket"), *status its wait status (killed by
 * SIGSYS at the socket when the filter holds). 0, or -1 with e filled. */
int trainer_unpack_probe(int dir_fd, const runner_cfg_t *cfg, const unpack_ids_t *ids,
                         char *report, size_t cap, int *status, err_t *e);

#endif
