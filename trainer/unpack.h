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
 * The unpacker then installs a seccomp allow list (read, write, the *at
 * calls that create files and directories under descriptor 4, memory
 * management, exit: no socket, no exec, no fork, no ptrace, no link) before
 * it reads a byte of the archive, and extracts it with the same checks as
 * at upload (bundle/kaos.h: regular files and directories only, no
 * traversal, entries, bytes and ratio capped). Any other system call kills
 * it (SIGSYS).
 */
#ifndef TRAINYARD_TRAINER_UNPACK_H
#define TRAINYARD_TRAINER_UNPACK_H

#include <sys/types.h>

#include "common/err.h"
#include "common/runner.h"

#define UNPACK_ARG "--bundle-unpacker"
#define UNPACK_FD_ARCHIVE 3
#define UNPACK_FD_DIR 4
#define UNPACK_FD_REPORT 5

/* Who the unpacker runs as: drop = 1 switches to uid/gid (a root trainer). */
typedef struct unpack_ids {
    int drop;
    uid_t uid;
    gid_t gid;
} unpack_ids_t;

/* main() of the unpacker (the trainer's binary with UNPACK_ARG); returns its
 * exit status: 0 unpacked, 1 refused (the reason on UNPACK_FD_REPORT). */
int trainer_unpack_main(void);

/* Unpacks the bundle at archive_fd (any offset: it is read from 0) under
 * dir_fd through a confined unpacker (above), waiting for it. 0, or -1 with
 * e filled: a bundle the checks refuse is 400 "BUNDLE_INVALID" with the
 * unpacker's reason; an unpacker killed by a limit or its filter is 500
 * naming it. */
int trainer_unpack(int archive_fd, int dir_fd, const runner_cfg_t *cfg, const unpack_ids_t *ids,
                   err_t *e);

#endif
