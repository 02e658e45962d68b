/*
 * sandbox.c — runs a KAOS job's own training program (see sandbox.h).
 *
 * The runner is the trainer's forked child for this job, as for built-in
 * jobs (trainer/child.c), and keeps the job's database connection to
 * itself. It never runs user code directly: every step that executes
 * something from the bundle goes through bubblewrap, started as the
 * unprivileged sandbox user (nobody when the trainer is root), with
 *
 *   --unshare-all          new user, PID, IPC, UTS, cgroup and network
 *                          namespaces: no network at all (a loopback that is
 *                          down), no other process visible
 *   --ro-bind /usr         the host's interpreters and libraries, read-only
 *                          (/bin, /lib, /lib64, /sbin as symlinks into it;
 *                          /etc/alternatives for Debian's BLAS links)
 *   --ro-bind code /code   the bundle's root folder; cwd /code/model
 *   --ro-bind data /pfs/data/<folder>, --ro-bind hyper /pfs/hyper/<file>.json
 *   --bind out /out        the only writable host path; --tmpfs /tmp capped
 *   --uid/--gid 65534, --cap-drop ALL, --new-session, --die-with-parent,
 *   --seccomp FD           an allow list built with libseccomp (below)
 *
 * and rlimits set before exec (address space, CPU seconds, file size,
 * processes, open files, no core), an empty environment, stdin /dev/null,
 * stdout and stderr into a pipe whose lines become the job's log. bwrap
 * runs in a process group of its own: the wall clock, a kill request or
 * the out-size watchdog send SIGKILL to the group; bwrap's PID-namespace
 * init dying takes every process left inside with it, daemons included.
 *
 * Steps: unpack code, data and hyperparameters into a private directory,
 * each through a confined unpacker (trainer/unpack.h: exec'd afresh as the
 * sandbox user, rlimits, a seccomp allow list; the same checked walk as at
 * upload, bundle/kaos.h): the runner never parses an archive; build (the bundle's
 * requirements.txt checked as installed distributions, inside the sandbox);
 * building -> running; one run per hyperparameter file, up to the params
 * bundle's parallelism at once; store each succeeded run's <out>/model (as
 * a zip) and <out>/metrics as a model row, and finish the job, in one
 * transaction. A run's outputs are read without following links (the user
 * owns that tree). A job with any failed run fails, naming the first.
 */
#include "trainer/sandbox.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/kaos.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include "db/artifacts.h"
#include "db/models.h"
#include "trainer/proto.h"
#include "trainer/unpack.h"

#define SBX_MAX_RUNS 1000
#define SBX_LOG_CAP (1 << 20)       /* log bytes kept per run */
#define SBX_METRICS_MAX (64 * 1024) /* one metrics file */
#define SBX_MODEL_FILES 10000       /* files under <out>/model */
#define SBX_OUT_FILES 20000         /* entries under <out> (the watchdog) */
#define SBX_GRACE_FD 10             /* where the seccomp program sits for bwrap */

typedef struct sbx_run {
    const char *name;           /* the hyperparameter file, or "default" */
    char hyper[PATH_MAX];       /* its host path, "" for none */
    json_object *params;        /* borrowed */
    char out[PATH_MAX];
    pid_t pid;                  /* bwrap, 0 before start / after reaping */
    int fd;                     /* its stdout+stderr, -1 when closed */
    double started, ended;
    int started_ok, done, status;
    int wall_killed, out_killed;
    char error[300];
    char line[2048];
    size_t used;
    size_t logged;
    json_object *metrics;       /* owned */
    double next_watch;
} sbx_run_t;

typedef struct sbx {
    const child_args_t *a;
    runner_cfg_t cfg;           /* the settings, this job's memory cap applied */
    const char *tmpdir;         /* cfg.dir, else $TMPDIR, else /tmp */
    db_t *db;
    arena_t *arena;
    char dir[1024];              /* the job's private directory */
    char code[PATH_MAX];        /* host path of the code's root folder */
    char data[PATH_MAX];        /* host path of the data's root folder, "" if none */
    const char *data_name;
    int seccomp_fd;
    int drop;
    uid_t uid;
    gid_t gid;
    json_object *runtime;       /* versions the build found (owned) */
} sbx_t;

static volatile sig_atomic_t sbx_stop;

static void sbx_on_term(int sig)
{
    (void)sig;
    sbx_stop = 1;
}

int sandbox_job_is(const job_t *job)
{
    json_object *v;
    return job->spec != NULL && json_object_object_get_ex(job->spec, "runner", &v) &&
           strcmp(json_object_get_string(v), "sandbox") == 0;
}

/* --- seccomp -------------------------------------------------------------- */

/* What a training program may call: an allow list, everything else
 * answers EPERM (not a kill, so that a library probing for a feature falls
 * back). Files, memory, threads and processes, signals, time, polling,
 * System V IPC (private: own IPC namespace) and sockets (the network
 * namespace has nothing but a loopback that is down; multiprocessing and
 * joblib use AF_UNIX pairs). Left out on purpose: ptrace and
 * process_vm_*, mount and the new mount API, pivot_root, chroot, unshare,
 * setns, keyctl and friends, bpf, modules, kexec, reboot, swap,
 * perf_event_open, userfaultfd, io_uring, clock setting, iopl/ioperm,
 * open_by_handle_at, syslog, personality, acct, quotactl, mknod, the
 * set*id calls, capset, vmsplice. Names unknown on this architecture are
 * skipped. Measured against examples/kaos (python3, pandas, scikit-learn):
 * nothing it needs is missing. */
static const char *const sandbox_allowed[] = {
    /* files */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range", "lseek", "stat",
    "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "mkdir", "mkdirat", "rmdir",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
    "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
    "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "sync_file_range", "utime",
    "utimes", "utimensat", "futimesat", "getcwd", "chdir", "fchdir", "dup", "dup2", "dup3",
    "fcntl", "flock", "ioctl", "pipe", "pipe2", "umask", "sendfile", "copy_file_range", "splice",
    "tee", "fadvise64", "readahead", "memfd_create", "getxattr", "lgetxattr", "fgetxattr",
    "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
    "lremovexattr", "fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch",
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mlock", "mlock2",
    "munlock", "mincore", "membarrier", "get_mempolicy", "set_mempolicy", "mbind",
    /* processes and threads (clone: below, without CLONE_NEWUSER) */
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "kill",
    "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid",
    "setsid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex",
    "futex_waitv", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
    "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "sched_rr_get_interval", "getpriority", "setpriority", "prctl",
    "arch_prctl", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo", "uname",
    "capget", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
    "getcpu", "ioprio_get", "restart_syscall",
    /* signals and time */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "signalfd",
    "signalfd4", "pause", "alarm", "setitimer", "getitimer", "timer_create", "timer_settime",
    "timer_gettime", "timer_getoverrun", "timer_delete", "clock_gettime", "clock_getres",
    "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    /* waiting on descriptors */
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create",
    "timerfd_settime", "timerfd_gettime",
    /* IPC and sockets, inside the sandbox's own namespaces */
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semctl", "semtimedop", "msgget",
    "msgsnd", "msgrcv", "msgctl", "socket", "socketpair", "connect", "bind", "listen", "accept",
    "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
    "getsockname", "getpeername", "getsockopt", "setsockopt",
    /* randomness */
    "getrandom",
};

int sandbox_seccomp_fd(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (ctx == NULL)
        return -1;
    /* A binary tree, not a list of ~250 comparisons run on every call:
     * Python's imports alone make tens of thousands of calls. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* libseccomp < 2.5: a list */
    int rc = 0;
    for (size_t i = 0; i < sizeof(sandbox_allowed) / sizeof(sandbox_allowed[0]) && rc == 0;
         i++) {
        int nr = seccomp_syscall_resolve_name(sandbox_allowed[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    /* clone, but never into a new user namespace (the door to the calls
     * above that a namespace's root could make); clone3, whose flags a
     * filter cannot read, answers ENOSYS so that libc falls back to clone. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    int fd = rc == 0 ? memfd_create("trainyard-seccomp", MFD_CLOEXEC) : -1;
    if (fd >= 0 && (seccomp_export_bpf(ctx, fd) != 0 || lseek(fd, 0, SEEK_SET) != 0)) {
        close(fd);
        fd = -1;
    }
    seccomp_release(ctx);
    return fd;
}

/* --- logging ---------------------------------------------------------------- */

static void sbx_log(const sbx_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sbx_log(const sbx_t *s, const char *fmt, ...)
{
    char text[PROTO_LINE_MAX - 16], line[PROTO_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t n = proto_format_log(line, sizeof(line), text);
    (void)util_write_all(s->a->proto_fd, line, n); /* a lost log line is no reason to stop */
}

static void sbx_progress(const sbx_t *s, double fraction)
{
    char line[64];
    size_t n = proto_format_progress(line, sizeof(line), fraction, -1);
    if (write(s->a->proto_fd, line, n) < 0) {
        /* the parent is gone: PDEATHSIG ends us */
    }
}

/* --- files ------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void sbx_cleanup(sbx_t *s)
{
    if (s->dir[0] != '\0')
        nftw(s->dir, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Job directories of runners that died without cleaning up (SIGKILL):
 * each live runner holds an flock on its directory's .lock, so a directory
 * whose lock can be taken belongs to nobody and goes. */
static void sbx_sweep(const sbx_t *s)
{
    DIR *d = opendir(s->tmpdir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "trainyard-sbx-", 14) != 0)
            continue;
        char path[PATH_MAX], lock[PATH_MAX + 8];
        snprintf(path, sizeof(path), "%s/%s", s->tmpdir, de->d_name);
        snprintf(lock, sizeof(lock), "%s/.lock", path);
        int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0) { /* not yet locked: only if it is old (a runner between mkdtemp and lock) */
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
                time(NULL) - st.st_mtime > 3600)
                nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
            continue;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid())
            nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        close(fd);
    }
    closedir(d);
}

static int sink_fd(void *ctx, const void *buf, size_t n, err_t *e)
{
    if (util_write_all(*(int *)ctx, buf, n) != 0)
        return err_set(e, 500, "internal", "spooling a bundle: %s", strerror(errno));
    return 0;
}

/* Fetches an artifact into a spool file and has a confined unpacker
 * (trainer/unpack.h: exec'd afresh, the sandbox user, rlimits, a seccomp
 * allow list) extract it, checked again, into dir/sub, a directory that
 * user owns. The runner itself never parses the user's archive. */
static int sbx_unpack(sbx_t *s, const char *artifact_id, const char *sub, err_t *e)
{
    int fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fd = memfd_create("trainyard-bundle", MFD_CLOEXEC);
    if (fd < 0)
        return err_set(e, 500, "internal", "no spool file: %s", strerror(errno));
    int rc = db_artifact_read(s->db, artifact_id, sink_fd, &fd, e);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", s->dir, sub);
    int dfd = -1;
    if (rc == 0 && (mkdir(path, 0755) != 0 || chmod(path, 0755) != 0 ||
                    (s->drop && chown(path, s->uid, s->gid) != 0) ||
                    (dfd = open(path, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0))
        rc = err_set(e, 500, "internal", "mkdir %s: %s", path, strerror(errno));
    unpack_ids_t ids = {s->drop, s->uid, s->gid};
    if (rc == 0)
        rc = trainer_unpack(fd, dfd, &s->cfg, &ids, e);
    if (dfd >= 0)
        close(dfd);
    close(fd);
    if (rc != 0)
        err_wrap(e, sub);
    return rc;
}

/* --- one sandboxed process ---------------------------------------------------- */

static void set_limit(int resource, rlim_t v)
{
    struct rlimit rl = {v, v}, cur;
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && v > cur.rlim_max)
        rl.rlim_cur = rl.rlim_max = cur.rlim_max;
    setrlimit(resource, &rl);
}

typedef struct sbx_argv {
    const char *v[96];
    int n;
} sbx_argv_t;

static void av(sbx_argv_t *a, const char *x)
{
    if (a->n < 95)
        a->v[a->n++] = x;
    a->v[a->n] = NULL;
}

static double sbx_cpu(const sbx_t *s, double wall)
{
    return s->cfg.cpu > 0 ? s->cfg.cpu : wall * 2 + 5;
}

/* Starts bwrap for run (argv after "--" in cmd); the run's pid and pipe. */
static int sbx_spawn(sbx_t *s, sbx_run_t *run, const char *const *cmd, double wall, err_t *e)
{
    sbx_argv_t a = {{0}, 0};
    char tmpsize[32], fdbuf[16];
    snprintf(tmpsize, sizeof(tmpsize), "%zu", s->cfg.tmp);
    snprintf(fdbuf, sizeof(fdbuf), "%d", SBX_GRACE_FD);
    av(&a, s->cfg.bwrap);
    av(&a, "--unshare-all");
    av(&a, "--die-with-parent");
    av(&a, "--new-session");
    av(&a, "--cap-drop"), av(&a, "ALL");
    av(&a, "--uid"), av(&a, "65534");
    av(&a, "--gid"), av(&a, "65534");
    av(&a, "--hostname"), av(&a, "sandbox");
    av(&a, "--ro-bind"), av(&a, "/usr"), av(&a, "/usr");
    av(&a, "--symlink"), av(&a, "usr/bin"), av(&a, "/bin");
    av(&a, "--symlink"), av(&a, "usr/sbin"), av(&a, "/sbin");
    av(&a, "--symlink"), av(&a, "usr/lib"), av(&a, "/lib");
    av(&a, "--symlink"), av(&a, "usr/lib64"), av(&a, "/lib64");
    if (access("/etc/alternatives", F_OK) == 0)
        av(&a, "--ro-bind"), av(&a, "/etc/alternatives"), av(&a, "/etc/alternatives");
    if (access("/etc/ld.so.cache", F_OK) == 0)
        av(&a, "--ro-bind"), av(&a, "/etc/ld.so.cache"), av(&a, "/etc/ld.so.cache");
    av(&a, "--proc"), av(&a, "/proc");
    av(&a, "--dev"), av(&a, "/dev");
    av(&a, "--size"), av(&a, tmpsize), av(&a, "--tmpfs"), av(&a, "/tmp");
    av(&a, "--ro-bind"), av(&a, s->code), av(&a, "/code");
    char data_dst[PATH_MAX + 16], hyper_dst[PATH_MAX + 16];
    if (s->data[0] != '\0') {
        snprintf(data_dst, sizeof(data_dst), "/pfs/data/%s", s->data_name);
        av(&a, "--ro-bind"), av(&a, s->data), av(&a, data_dst);
    }
    if (run->hyper[0] != '\0') {
        snprintf(hyper_dst, sizeof(hyper_dst), "/pfs/hyper/%s", run->name);
        av(&a, "--ro-bind"), av(&a, run->hyper), av(&a, hyper_dst);
    }
    if (run->out[0] != '\0')
        av(&a, "--bind"), av(&a, run->out), av(&a, "/out");
    av(&a, "--remount-ro"), av(&a, "/"); /* the sandbox's own root: nothing to write there */
    av(&a, "--chdir"), av(&a, "/code/model");
    if (s->seccomp_fd >= 0)
        av(&a, "--seccomp"), av(&a, fdbuf);
    av(&a, "--");
    for (size_t i = 0; cmd[i] != NULL; i++)
        av(&a, cmd[i]);

    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return err_set(e, 500, "internal", "pipe: %s", strerror(errno));
    rlim_t cpu = (rlim_t)sbx_cpu(s, wall);
    pid_t runner = getpid();
    static char *const envp[] = {NULL}; /* empty: no URL, key or path of ours */
    /* Each bwrap reads the filter from its own open file description: a
     * shared one would leave the offset at the end for the next run. */
    char sec_path[64];
    snprintf(sec_path, sizeof(sec_path), "/proc/self/fd/%d", s->seccomp_fd);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return err_set(e, 500, "internal", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != runner)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(126);
        if (s->seccomp_fd >= 0) {
            int sec = open(sec_path, O_RDONLY);
            if (sec < 0 || dup2(sec, SBX_GRACE_FD) < 0)
                _exit(126);
        }
        if (close_range(SBX_GRACE_FD + 1, ~0U, 0) != 0)
            for (int fd = SBX_GRACE_FD + 1; fd < 4096; fd++)
                close(fd);
        for (int fd = 3; fd < SBX_GRACE_FD; fd++)
            close(fd);
        set_limit(RLIMIT_AS, (rlim_t)s->cfg.memory);
        set_limit(RLIMIT_CPU, cpu);
        set_limit(RLIMIT_FSIZE, (rlim_t)s->cfg.file);
        set_limit(RLIMIT_NPROC, (rlim_t)s->cfg.procs);
        set_limit(RLIMIT_NOFILE, 256);
        set_limit(RLIMIT_CORE, 0);
        if (s->drop) {
            if (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0)
                _exit(126);
            if (setuid(0) == 0)
                _exit(126);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != runner)
                _exit(127);
        }
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (chdir("/") != 0)
            _exit(126);
        execve(s->cfg.bwrap, (char *const *)a.v, envp);
        _exit(127);
    }
    close(p[1]);
    run->pid = pid;
    run->fd = p[0];
    fcntl(run->fd, F_SETFL, O_NONBLOCK);
    run->started = util_now_monotonic();
    run->started_ok = 1;
    run->next_watch = run->started + 0.5;
    return 0;
}

int sandbox_exec_once(const runner_cfg_t *cfg, const sandbox_mounts_t *m,
                      const char *const *cmd, int *status, err_t *e)
{
    sbx_t s;
    memset(&s, 0, sizeof(s));
    s.cfg = *cfg;
    s.tmpdir = "/tmp";
    if (strlen(m->code) >= sizeof(s.code) || (m->data && strlen(m->data) >= sizeof(s.data)))
        return err_set(e, 400, "value_error", "sandbox_exec_once: path too long");
    snprintf(s.code, sizeof(s.code), "%s", m->code);
    if (m->data != NULL) {
        snprintf(s.data, sizeof(s.data), "%s", m->data);
        s.data_name = m->data_name;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        if (pw == NULL || pw->pw_uid == 0)
            return err_set(e, 500, "internal", "no unprivileged user \"nobody\"");
        s.drop = 1;
        s.uid = pw->pw_uid;
        s.gid = pw->pw_gid;
    }
    sbx_run_t run;
    memset(&run, 0, sizeof(run));
    run.fd = -1;
    run.name = m->hyper_name ? m->hyper_name : "default";
    if (m->hyper != NULL)
        snprintf(run.hyper, sizeof(run.hyper), "%s", m->hyper);
    if (m->out != NULL)
        snprintf(run.out, sizeof(run.out), "%s", m->out);
    s.seccomp_fd = sandbox_seccomp_fd();
    if (s.seccomp_fd < 0)
        return err_set(e, 500, "internal", "could not build the seccomp filter");
    int rc = sbx_spawn(&s, &run, cmd, cfg->wall, e);
    close(s.seccomp_fd);
    if (rc != 0)
        return -1;
    /* Its output is not wanted: drained until it closes, then reaped. */
    struct pollfd pf = {run.fd, POLLIN, 0};
    char buf[4096];
    for (;;) {
        ssize_t k = read(run.fd, buf, sizeof(buf));
        if (k > 0 || (k < 0 && errno == EINTR))
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            poll(&pf, 1, -1);
            continue;
        }
        break;
    }
    close(run.fd);
    while (waitpid(run.pid, status, 0) < 0)
        if (errno != EINTR)
            return err_set(e, 500, "internal", "waitpid: %s", strerror(errno));
    kill(-run.pid, SIGKILL); /* anything left in its group */
    return 0;
}

/* Lines of a run's output into the log, prefixed, capped. */
static void sbx_drain(sbx_t *s, sbx_run_t *run, const char *tag, int final)
{
    for (;;) {
        if (run->fd < 0)
            break;
        ssize_t k = read(run->fd, run->line + run->used, sizeof(run->line) - 1 - run->used);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(run->fd);
                run->fd = -1;
                final = 1;
            }
            break;
        }
        run->used += (size_t)k;
        char *start = run->line, *nl;
        while ((nl = memchr(start, '\n', run->used - (size_t)(start - run->line))) != NULL ||
               run->used == sizeof(run->line) - 1) {
            if (nl == NULL)
                nl = run->line + run->used; /* a line longer than the buffer: cut */
            *nl = '\0';
            if (run->logged < SBX_LOG_CAP)
                sbx_log(s, "[%s] %s", tag, start);
            else if (run->logged - (size_t)(nl - start) < SBX_LOG_CAP)
                sbx_log(s, "[%s] (output past %d bytes not kept)", tag, SBX_LOG_CAP);
            run->logged += (size_t)(nl - start) + 1;
            size_t rest = run->used - (size_t)(nl - run->line) - (nl < run->line + run->used);
            memmove(run->line, nl + (nl < run->line + run->used), rest);
            run->used = rest;
            start = run->line;
            if (run->used == 0)
                break;
        }
    }
    if (final && run->used > 0) {
        run->line[run->used] = '\0';
        if (run->logged < SBX_LOG_CAP)
            sbx_log(s, "[%s] %s", tag, run->line);
        run->used = 0;
    }
}

typedef struct out_count {
    unsigned long long bytes;
    size_t entries;
} out_count_t;

static __thread out_count_t *walk_count;

static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    walk_count->entries++;
    if (S_ISREG(st->st_mode))
        walk_count->bytes += (unsigned long long)st->st_blocks * 512;
    return walk_count->entries > SBX_OUT_FILES ? 1 : 0;
}

/* The out-size watchdog: 1 if the run's <out> is past its caps. */
static int sbx_out_over(const sbx_t *s, const sbx_run_t *run)
{
    if (run->out[0] == '\0')
        return 0;
    out_count_t c = {0, 0};
    walk_count = &c;
    nftw(run->out, count_one, 16, FTW_PHYS | FTW_MOUNT);
    return c.bytes > s->cfg.out || c.entries > SBX_OUT_FILES;
}

static void sbx_kill(sbx_run_t *run)
{
    if (run->pid > 0) {
        kill(-run->pid, SIGKILL);
        kill(run->pid, SIGKILL);
    }
}

/* Runs runs[0..n) with at most parallel at once, until all have ended (or a
 * stop). cmd_for builds each run's command. Returns 0, or -1 when stopped. */
static int sbx_supervise(sbx_t *s, sbx_run_t *runs, size_t n, int parallel, double wall,
                         const char *const *(*cmd_for)(sbx_run_t *), const char *kind,
                         int progress, err_t *e)
{
    size_t next = 0, live = 0, ended = 0;
    while (ended < n) {
        while (!sbx_stop && live < (size_t)parallel && next < n) {
            sbx_run_t *r = &runs[next++];
            if (sbx_spawn(s, r, cmd_for(r), wall, e) != 0)
                return -1;
            if (strcmp(kind, "run") == 0)
                sbx_log(s, "[run %s] started (limits: wall %.0f s, cpu %.0f s, memory %zu MiB, "
                        "file %zu MiB, out %zu MiB, processes %d)", r->name, wall,
                        sbx_cpu(s, wall), s->cfg.memory >> 20, s->cfg.file >> 20,
                        s->cfg.out >> 20, s->cfg.procs);
            live++;
        }
        struct pollfd pf[SBX_MAX_RUNS];
        sbx_run_t *who[SBX_MAX_RUNS];
        nfds_t np = 0;
        for (size_t i = 0; i < next; i++)
            if (runs[i].fd >= 0) {
                pf[np].fd = runs[i].fd;
                pf[np].events = POLLIN;
                who[np++] = &runs[i];
            }
        poll(pf, np, 200);
        double now = util_now_monotonic();
        for (size_t i = 0; i < next; i++) {
            sbx_run_t *r = &runs[i];
            if (r->done)
                continue;
            char tag[300];
            snprintf(tag, sizeof(tag), "%s %s", kind, r->name);
            sbx_drain(s, r, strcmp(kind, "build") == 0 ? "build" : tag, 0);
            if (sbx_stop)
                sbx_kill(r);
            if (r->pid > 0 && !r->wall_killed && now - r->started > wall) {
                r->wall_killed = 1;
                sbx_kill(r);
            }
            if (r->pid > 0 && !r->out_killed && now >= r->next_watch) {
                r->next_watch = now + 0.5;
                if (sbx_out_over(s, r)) {
                    r->out_killed = 1;
                    sbx_kill(r);
                }
            }
            int st;
            pid_t w = r->pid > 0 ? waitpid(r->pid, &st, WNOHANG) : 0;
            if (w == r->pid) {
                kill(-r->pid, SIGKILL); /* anything left in its group */
                r->pid = 0;
                r->status = st;
                r->ended = now;
            }
            if (r->pid == 0 && r->started_ok) {
                sbx_drain(s, r, strcmp(kind, "build") == 0 ? "build" : tag, 1);
                if (r->fd >= 0)
                    close(r->fd), r->fd = -1;
                r->done = 1;
                ended++;
                live--;
                if (progress)
                    sbx_progress(s, 0.05 + 0.9 * (double)ended / (double)n);
            }
        }
        (void)who;
        if (sbx_stop && live == 0)
            return err_set(e, 499, "killed", "killed");
    }
    return 0;
}

/* Why a run failed, in its error; 0 if it succeeded. */
static int sbx_verdict(const sbx_t *s, sbx_run_t *r, double wall)
{
    int st = r->status;
    if (r->wall_killed)
        snprintf(r->error, sizeof(r->error),
                 "run %s exceeded its wall-clock limit of %.0f s and was killed", r->name, wall);
    else if (r->out_killed)
        snprintf(r->error, sizeof(r->error),
                 "run %s wrote more than %zu MiB or %d files to its output and was killed",
                 r->name, s->cfg.out >> 20, SBX_OUT_FILES);
    else if (WIFSIGNALED(st))
        snprintf(r->error, sizeof(r->error), "run %s: the sandbox ended by signal %d", r->name,
                 WTERMSIG(st));
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    else if (WIFEXITED(st) && WEXITSTATUS(st) > 128) {
        int sig = WEXITSTATUS(st) - 128;
        snprintf(r->error, sizeof(r->error), "run %s: train was killed by signal %d%s", r->name,
                 sig,
                 sig == SIGXCPU   ? " (CPU time limit)"
                 : sig == SIGXFSZ ? " (file size limit)"
                 : sig == SIGSYS  ? " (a forbidden system call)"
                                  : "");
    } else
        snprintf(r->error, sizeof(r->error), "run %s: train exited with status %d", r->name,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return -1;
}

/* --- reading what a run wrote (never following the user's links) ------------ */

static int read_small(int dirfd, const char *name, char *buf, size_t cap, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > cap) {
        close(fd);
        return -1;
    }
    ssize_t k = read(fd, buf, cap);
    close(fd);
    if (k < 0)
        return -1;
    *len = (size_t)k;
    return 0;
}

/* <out>/metrics/NAME.json: objects of named numbers (or a bare number, named
 * after its file), merged into one object. */
static json_object *sbx_metrics(const sbx_run_t *r)
{
    json_object *m = json_object_new_object();
    int out = open(r->out, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int mdir = out >= 0 ? openat(out, "metrics", O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                        : -1;
    if (out >= 0)
        close(out);
    if (mdir < 0)
        return m;
    DIR *d = fdopendir(mdir);
    if (d == NULL) {
        close(mdir);
        return m;
    }
    char *buf = malloc(SBX_METRICS_MAX + 1);
    struct dirent *de;
    size_t files = 0;
    while ((de = readdir(d)) != NULL && files < 100) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".json") != 0)
            continue;
        size_t len;
        if (read_small(dirfd(d), de->d_name, buf, SBX_METRICS_MAX, &len) != 0)
            continue;
        files++;
        buf[len] = '\0';
        json_object *doc = json_tokener_parse(buf);
        if (doc == NULL)
            continue;
        if (json_object_is_type(doc, json_type_object)) {
            json_object_object_foreach(doc, k, v) {
                if ((json_object_is_type(v, json_type_double) ||
                     json_object_is_type(v, json_type_int)) && strlen(k) <= 100)
                    json_object_object_add(m, k, json_object_new_double(json_object_get_double(v)));
            }
        } else if (json_object_is_type(doc, json_type_double) ||
                   json_object_is_type(doc, json_type_int)) {
            de->d_name[nl - 5] = '\0';
            json_object_object_add(m, de->d_name,
                                   json_object_new_double(json_object_get_double(doc)));
        }
        json_object_put(doc);
    }
    free(buf);
    closedir(d);
    return m;
}

typedef struct zip_ctx {
    struct archive *a;
    size_t files;
    unsigned long long bytes;
    unsigned long long cap;
} zip_ctx_t;

/* Adds the tree at dirfd (path prefix rel) to the zip: regular files and
 * directories only, links skipped. */
static int zip_tree(zip_ctx_t *z, int dir, const char *rel, int depth)
{
    if (depth > 32) {
        close(dir);
        return 0;
    }
    DIR *d = fdopendir(dir);
    if (d == NULL) {
        close(dir);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    char buf[64 * 1024];
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (++z->files > SBX_MODEL_FILES)
            return closedir(d), -1;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", rel, de->d_name);
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                rc = zip_tree(z, sub, path, depth + 1);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
            z->bytes + (unsigned long long)st.st_size > z->cap) {
            close(fd);
            rc = -1;
            break;
        }
        struct archive_entry *en = archive_entry_new();
        archive_entry_set_pathname(en, path);
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_perm(en, 0644);
        archive_entry_set_size(en, st.st_size);
        archive_entry_set_mtime(en, st.st_mtime, 0);
        if (archive_write_header(z->a, en) != ARCHIVE_OK)
            rc = -1;
        archive_entry_free(en);
        ssize_t k;
        off_t left = st.st_size;
        while (rc == 0 && left > 0 && (k = read(fd, buf, sizeof(buf))) > 0) {
            if (k > left)
                k = (ssize_t)left;
            if (archive_write_data(z->a, buf, (size_t)k) != k)
                rc = -1;
            left -= k;
            z->bytes += (unsigned long long)k;
        }
        close(fd);
    }
    closedir(d);
    return rc;
}

/* <out>/model as a zip in a fresh unlinked file (offset 0), or -1. */
static int sbx_model_zip(const sbx_t *s, const sbx_run_t *r, size_t *files)
{
    int out = open(r->out, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int mfd = out >= 0 ? openat(out, "model", O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                       : -1;
    if (out >= 0)
        close(out);
    int fd = open(s->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fd = memfd_create("trainyard-model", MFD_CLOEXEC);
    if (fd < 0) {
        if (mfd >= 0)
            close(mfd);
        return -1;
    }
    zip_ctx_t z = {archive_write_new(), 0, 0, s->cfg.out};
    int rc = archive_write_set_format_zip(z.a) == ARCHIVE_OK &&
                     archive_write_open_fd(z.a, fd) == ARCHIVE_OK
                 ? 0
                 : -1;
    if (rc == 0 && mfd >= 0)
        rc = zip_tree(&z, mfd, "model", 0);
    else if (mfd >= 0)
        close(mfd);
    if (archive_write_close(z.a) != ARCHIVE_OK)
        rc = -1;
    archive_write_free(z.a);
    *files = z.files;
    if (rc != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --- the job ------------------------------------------------------------------ */

static const char sbx_build_script[] =
    "import json, re, sys, platform, importlib.metadata as md\n"
    "missing = []\n"
    "try:\n"
    "    lines = open(sys.argv[1], encoding='utf-8', errors='replace').read().splitlines()\n"
    "except OSError as e:\n"
    "    print('build failed: cannot read model/requirements.txt: %s' % e.strerror); sys.exit(1)\n"
    "for raw in lines[:500]:\n"
    "    line = raw.split('#', 1)[0].strip()\n"
    "    if not line:\n"
    "        continue\n"
    "    if line.startswith('-'):\n"
    "        print('ignored (trainer hosts install nothing): %s' % line); continue\n"
    "    m = re.match(r'([A-Za-z0-9][A-Za-z0-9._-]*)\\s*(\\[[^\\]]*\\])?\\s*(.*)$', line)\n"
    "    if not m:\n"
    "        print('unreadable requirement: %s' % line); continue\n"
    "    name, want = m.group(1), m.group(3).split(';')[0].strip()\n"
    "    try:\n"
    "        have = md.version(name)\n"
    "    except md.PackageNotFoundError:\n"
    "        missing.append(name); print('missing distribution: %s (from \"%s\")' % (name, line)); continue\n"
    "    pin = re.match(r'^==\\s*([^\\s,]+)$', want)\n"
    "    if pin and pin.group(1) != have:\n"
    "        print('version differs: %s %s wanted, %s installed (not fatal)' % (name, want, have))\n"
    "    else:\n"
    "        print('ok: %s %s%s' % (name, have, (' (wanted %s)' % want) if want else ''))\n"
    "rt = {'python': platform.python_version()}\n"
    "for d in ('numpy', 'pandas', 'scikit-learn', 'xgboost'):\n"
    "    try: rt[d] = md.version(d)\n"
    "    except md.PackageNotFoundError: pass\n"
    "print('runtime ' + json.dumps(rt, sort_keys=True))\n"
    "if missing:\n"
    "    print('build failed: not installed on this trainer: ' + ', '.join(missing)); sys.exit(1)\n";

static const char *const *build_cmd(sbx_run_t *r)
{
    (void)r;
    static const char *const cmd[] = {"/usr/bin/python3", "-I", "-c", sbx_build_script,
                                      "/code/model/requirements.txt", NULL};
    return cmd;
}

static const char *const *train_cmd(sbx_run_t *r)
{
    (void)r;
    static const char *const cmd[] = {"./train", "/out", NULL};
    return cmd;
}

static void json_put(void *p)
{
    json_object_put(p);
}

static const char *spec_str(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static json_object *spec_obj(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object)
               ? v
               : NULL;
}

/* The build: requirements checked inside the sandbox; the runtime's
 * versions picked from its last lines. */
static int sbx_build(sbx_t *s, err_t *e)
{
    sbx_run_t *b = arena_calloc(s->arena, 1, sizeof(*b));
    b->name = "build";
    b->fd = -1;
    sbx_log(s, "[build] checking model/requirements.txt against what this trainer has installed");
    if (sbx_supervise(s, b, 1, 1, 120, build_cmd, "build", 0, e) != 0)
        return -1;
    if (sbx_verdict(s, b, 120) != 0)
        return err_set(e, 400, "BUILD_FAILED",
                       "build failed: requirements not satisfied on this trainer (see the build "
                       "logs)");
    return 0;
}

/* The logged "runtime {...}" line never reaches us but through the log
 * pipe: sbx_drain hands lines to the log only, so the runner asks the
 * interpreter again for the versions it records in provenance. */
static json_object *sbx_runtime_versions(void)
{
    json_object *rt = json_object_new_object();
    FILE *f = popen("/usr/bin/python3 -I -c \"import json, platform, importlib.metadata as md\n"
                    "rt = {'python': platform.python_version()}\n"
                    "for d in ('numpy', 'pandas', 'scikit-learn', 'xgboost'):\n"
                    "    try: rt[d] = md.version(d)\n"
                    "    except Exception: pass\n"
                    "print(json.dumps(rt))\" 2>/dev/null",
                    "r");
    if (f == NULL)
        return rt;
    char line[1024];
    if (fgets(line, sizeof(line), f) != NULL) {
        json_object *doc = json_tokener_parse(line);
        if (doc != NULL && json_object_is_type(doc, json_type_object)) {
            json_object_put(rt);
            rt = doc;
        } else {
            json_object_put(doc);
        }
    }
    pclose(f);
    return rt;
}

static int sbx_store(sbx_t *s, sbx_run_t *runs, size_t n, json_object *spec, int *lost,
                     err_t *e)
{
    const job_t *job = s->a->job;
    *lost = 0;
    const char *first_error = NULL;
    size_t ok = 0;
    if (db_begin(s->db, e) != 0)
        return -1;
    json_object *result = json_object_new_object();
    arena_defer(s->arena, json_put, result);
    json_object *list = json_object_new_array();
    json_object_object_add(result, "runs", list);
    for (size_t i = 0; i < n; i++) {
        sbx_run_t *r = &runs[i];
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "run", json_object_new_string(r->name));
        json_object_object_add(doc, "hyperparameters", json_object_get(r->params));
        json_object_object_add(doc, "seconds",
                               json_object_new_double(r->ended > 0 ? r->ended - r->started : 0));
        json_object_array_add(list, doc);
        if (r->error[0] != '\0') {
            json_object_object_add(doc, "status", json_object_new_string("failed"));
            json_object_object_add(doc, "error", json_object_new_string(r->error));
            if (first_error == NULL)
                first_error = r->error;
            continue;
        }
        size_t files = 0;
        int zfd = sbx_model_zip(s, r, &files);
        if (zfd < 0) {
            snprintf(r->error, sizeof(r->error), "run %s: its model could not be packed "
                     "(over %zu MiB or %d files)", r->name, s->cfg.out >> 20, SBX_MODEL_FILES);
            json_object_object_add(doc, "status", json_object_new_string("failed"));
            json_object_object_add(doc, "error", json_object_new_string(r->error));
            if (first_error == NULL)
                first_error = r->error;
            continue;
        }
        artifact_writer_t *w = db_artifact_begin(s->db, job->workspace_id, "model", e);
        char buf[64 * 1024];
        ssize_t k;
        int rc = w ? 0 : -1;
        while (rc == 0 && (k = read(zfd, buf, sizeof(buf))) > 0)
            rc = db_artifact_write(w, buf, (size_t)k, e);
        close(zfd);
        artifact_info_t ai;
        if (rc != 0) {
            if (w)
                db_artifact_abort(w);
            goto fail;
        }
        if (db_artifact_finish(w, &ai, e) != 0)
            goto fail;
        json_object *cand = json_object_new_array();
        arena_defer(s->arena, json_put, cand);
        json_object *c = json_object_new_object();
        json_object_object_add(c, "run", json_object_new_string(r->name));
        json_object_object_add(c, "hyperparameters", json_object_get(r->params));
        json_object_object_add(c, "seconds",
                               json_object_new_double(r->ended - r->started));
        json_object_object_add(c, "model_files", json_object_new_int64((int64_t)files));
        json_object_array_add(cand, c);
        json_object *pre = json_object_new_object();
        arena_defer(s->arena, json_put, pre);
        json_object_object_add(pre, "format", json_object_new_string("zip"));
        json_object_object_add(pre, "runtime", json_object_get(s->runtime));
        model_rec_t rec;
        memset(&rec, 0, sizeof(rec));
        rec.workspace_id = job->workspace_id;
        memcpy(rec.job_id, job->id, sizeof(rec.job_id));
        rec.predict_field = r->name;
        rec.task = "kaos";
        rec.metrics = r->metrics;
        rec.candidates = cand;
        rec.preprocess = pre;
        memcpy(rec.artifact_id, ai.id, sizeof(rec.artifact_id));
        if (db_model_insert(s->db, s->arena, &rec, e) != 0)
            goto fail;
        json_object_object_add(doc, "status", json_object_new_string("succeeded"));
        json_object_object_add(doc, "model_id", json_object_new_string(rec.id));
        json_object_object_add(doc, "metrics", json_object_get(r->metrics));
        ok++;
    }
    json_object_object_add(result, "runtime", json_object_get(s->runtime));
    json_object_object_add(result, "code", json_object_get(spec_obj(spec, "code")));
    json_object_object_add(result, "data", json_object_get(spec_obj(spec, "data")));
    json_object_object_add(result, "params", json_object_get(spec_obj(spec, "params")));
    json_object_object_add(result, "runs_succeeded", json_object_new_int64((int64_t)ok));
    char msg[400];
    if (first_error != NULL)
        snprintf(msg, sizeof(msg), "%zu of %zu runs failed; first: %s", n - ok, n, first_error);
    if (db_job_finish(s->db, s->arena, job->id, s->a->trainer_id, job->attempts,
                      first_error ? JOB_FAILED : JOB_SUCCEEDED, first_error ? msg : NULL, result,
                      lost, e) != 0)
        goto fail;
    if (*lost) {
        db_rollback(s->db);
        return 0;
    }
    if (db_commit(s->db, e) != 0)
        return -1;
    sbx_log(s, "stored %zu model%s; %s", ok, ok == 1 ? "" : "s",
            first_error ? msg : "all runs succeeded");
    return 0;
fail:
    db_rollback(s->db);
    return -1;
}

static int sbx_work(sbx_t *s, int *lost, err_t *e)
{
    const job_t *job = s->a->job;
    json_object *spec = job->spec;
    json_object *code = spec_obj(spec, "code"), *data = spec_obj(spec, "data"),
                *params = spec_obj(spec, "params");
    const char *code_art = spec_str(code, "artifact_id"), *code_root = spec_str(code, "root");
    if (code_art == NULL || code_root == NULL)
        return err_set(e, 400, "INVALID_JOB", "the job names no code bundle");
    s->db = db_open(s->a->conninfo, e);
    if (s->db == NULL)
        return -1;
    if (geteuid() == 0) {
        const char *name = s->a->limits && s->a->limits->user ? s->a->limits->user : "nobody";
        struct passwd *pw = getpwnam(name);
        if (pw == NULL || pw->pw_uid == 0)
            return err_set(e, 500, "internal", "no unprivileged user \"%s\" for the sandbox", name);
        s->drop = 1;
        s->uid = pw->pw_uid;
        s->gid = pw->pw_gid;
    }
    if (strlen(s->tmpdir) > 900)
        return err_set(e, 500, "internal", "TRAINYARD_SANDBOX_DIR is too long");
    snprintf(s->dir, sizeof(s->dir), "%s/trainyard-sbx-XXXXXX", s->tmpdir);
    if (mkdtemp(s->dir) == NULL) {
        s->dir[0] = '\0';
        return err_set(e, 500, "internal", "mkdtemp: %s", strerror(errno));
    }
    chmod(s->dir, 0711); /* the sandbox user passes through, lists nothing */
    char lock[PATH_MAX];
    snprintf(lock, sizeof(lock), "%s/.lock", s->dir);
    int lfd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0)
        return err_set(e, 500, "internal", "locking %s: %s", lock, strerror(errno));
    /* held (never closed) until this runner exits */
    if (sbx_unpack(s, code_art, "code", e) != 0)
        return -1;
    if (strlen(code_root) >= KAOS_NAME_MAX)
        return err_set(e, 400, "INVALID_JOB", "code bundle root too long");
    snprintf(s->code, sizeof(s->code), "%s/code/%.255s", s->dir, code_root);
    const char *data_art = spec_str(data, "artifact_id");
    if (data_art != NULL) {
        s->data_name = spec_str(data, "root");
        if (s->data_name == NULL || sbx_unpack(s, data_art, "data", e) != 0)
            return s->data_name ? -1 : err_set(e, 400, "INVALID_JOB", "data bundle has no root");
        snprintf(s->data, sizeof(s->data), "%s/data/%.255s", s->dir, s->data_name);
    }
    const char *params_art = spec_str(params, "artifact_id");
    if (params_art != NULL && sbx_unpack(s, params_art, "hyper", e) != 0)
        return -1;
    /* Who wrote the files, as the kernel saw it (not as the unpacker says). */
    struct stat cst;
    long owner = lstat(s->code, &cst) == 0 ? (long)cst.st_uid : -1;
    sbx_log(s, "[build] unpacked code %.12s, data %.12s, hyperparameters %.12s "
            "(by a confined unpacker, uid %ld)",
            spec_str(code, "sha256") ? spec_str(code, "sha256") : "-",
            spec_str(data, "sha256") ? spec_str(data, "sha256") : "-",
            spec_str(params, "sha256") ? spec_str(params, "sha256") : "-", owner);

    s->seccomp_fd = sandbox_seccomp_fd();
    if (s->seccomp_fd < 0)
        return err_set(e, 500, "internal", "could not build the seccomp filter");
    if (job->state == JOB_BUILDING) {
        if (sbx_build(s, e) != 0)
            return -1;
        if (db_job_built(s->db, s->arena, job->id, s->a->trainer_id, job->attempts, NULL, e) != 0)
            return -1;
        sbx_log(s, "[build] done");
    }
    s->runtime = sbx_runtime_versions();
    sbx_progress(s, 0.05);

    /* One run per hyperparameter file (or one without any). */
    json_object *files = NULL;
    if (params != NULL)
        json_object_object_get_ex(params, "files", &files);
    size_t n = files ? json_object_array_length(files) : 0;
    if (n > SBX_MAX_RUNS)
        return err_set(e, 400, "INVALID_JOB", "more than %d hyperparameter files", SBX_MAX_RUNS);
    size_t n_runs = n ? n : 1;
    sbx_run_t *runs = arena_calloc(s->arena, n_runs, sizeof(*runs));
    for (size_t i = 0; i < n_runs; i++) {
        sbx_run_t *r = &runs[i];
        r->fd = -1;
        json_object *f = n ? json_object_array_get_idx(files, i) : NULL;
        r->name = f ? spec_str(f, "name") : "default";
        const char *path = f ? spec_str(f, "path") : NULL;
        if (r->name == NULL || (f && path == NULL))
            return err_set(e, 400, "INVALID_JOB", "hyperparameter file %zu has no name", i);
        json_object *pv = NULL;
        if (f)
            json_object_object_get_ex(f, "params", &pv);
        r->params = pv;
        if (path)
            snprintf(r->hyper, sizeof(r->hyper), "%s/hyper/%.2000s", s->dir, path);
        snprintf(r->out, sizeof(r->out), "%s/out-%zu", s->dir, i);
        if (mkdir(r->out, 0700) != 0 ||
            (s->drop && chown(r->out, s->uid, s->gid) != 0))
            return err_set(e, 500, "internal", "mkdir %s: %s", r->out, strerror(errno));
    }
    json_object *lim = spec_obj(spec, "limits"), *v;
    double wall = s->cfg.wall;
    if (lim && json_object_object_get_ex(lim, "timeout", &v) && json_object_get_double(v) > 0 &&
        json_object_get_double(v) < wall)
        wall = json_object_get_double(v);
    if (lim && json_object_object_get_ex(lim, "memory", &v) && json_object_get_double(v) > 0 &&
        json_object_get_double(v) < (double)s->cfg.memory)
        s->cfg.memory = (size_t)json_object_get_double(v);
    int parallel = 1;
    if (params && json_object_object_get_ex(params, "parallelism", &v))
        parallel = json_object_get_int(v);
    if (parallel < 1)
        parallel = 1;
    sbx_log(s, "training: %zu run%s, %d at once", n_runs, n_runs == 1 ? "" : "s", parallel);
    if (sbx_supervise(s, runs, n_runs, parallel, wall, train_cmd, "run", 1, e) != 0)
        return -1;
    for (size_t i = 0; i < n_runs; i++) {
        sbx_run_t *r = &runs[i];
        if (sbx_verdict(s, r, wall) == 0) {
            r->metrics = sbx_metrics(r);
            arena_defer(s->arena, json_put, r->metrics);
            sbx_log(s, "[run %s] succeeded in %.1f s: %s", r->name, r->ended - r->started,
                    json_object_to_json_string_ext(r->metrics, JSON_C_TO_STRING_PLAIN));
        } else {
            sbx_log(s, "[run %s] failed: %s", r->name, r->error);
        }
    }
    return sbx_store(s, runs, n_runs, spec, lost, e);
}

static void db_free(void *p)
{
    db_close(p);
}

int sandbox_job_run(const child_args_t *a)
{
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sbx_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    sbx_t s;
    memset(&s, 0, sizeof(s));
    s.a = a;
    s.seccomp_fd = -1;
    s.arena = arena_create(1 << 16);
    s.cfg = a->runner ? *a->runner : runner_cfg_default;
    const char *tmp = getenv("TMPDIR"); /* the system's convention, not a setting of ours */
    s.tmpdir = s.cfg.dir ? s.cfg.dir : tmp && *tmp == '/' ? tmp : "/tmp";
    sbx_sweep(&s);
    err_t e;
    err_clear(&e);
    int lost = 0;
    int rc = sbx_work(&s, &lost, &e);
    if (s.db != NULL)
        arena_defer(s.arena, db_free, s.db);
    sbx_cleanup(&s);
    if (s.seccomp_fd >= 0)
        close(s.seccomp_fd);
    json_object_put(s.runtime);
    if (rc != 0) {
        char line[PROTO_LINE_MAX];
        size_t n = proto_format_error(line, sizeof(line), e.status, err_message(&e));
        if (write(a->proto_fd, line, n) < 0) {
            /* the parent is gone */
        }
    }
    arena_destroy(s.arena);
    if (rc != 0)
        return CHILD_EXIT_FAILED;
    return lost ? CHILD_EXIT_LOST : CHILD_EXIT_DONE;
}
