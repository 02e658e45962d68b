/*
 * unpack.c — the confined bundle unpacker and the runner's side of it (see
 * unpack.h).
 *
 * Why a fresh exec and not a plain fork: a forked child would carry the
 * runner's memory (the database URL and password, the connection's
 * buffers); if a bundle ever found a hole in libarchive, what it could
 * read there it could also write into the files it unpacks, which the
 * user's program then reads. An exec'd image holds none of it, and the
 * seccomp allow list leaves such a hole nothing but the descriptors it was
 * given.
 */
#include "trainer/unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/kaos.h"
#include "common/util.h"

#define UNPACK_REPORT_MAX 1024

/* --- the unpacker ------------------------------------------------------------ */

/* What extraction needs: reading the archive, creating files and
 * directories relative to descriptor 4 (openat with O_EXCL|O_NOFOLLOW,
 * mkdirat, fchmod), writing them, memory, the clock and leaving. abort()
 * (an assertion in a library) needs the signal calls, a sanitizer build
 * sigaltstack too. */
static const char *const unpack_allowed[] = {
    "read", "pread64", "readv", "write", "writev", "close", "lseek", "fstat", "newfstatat",
    "statx", "openat", "mkdirat", "fchmod", "fchmodat", "fcntl", "brk", "mmap", "munmap",
    "mremap", "mprotect", "madvise", "futex", "getrandom", "clock_gettime", "gettimeofday",
    "rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "getpid", "gettid",
    "tgkill", "exit", "exit_group",
};

static int unpack_seccomp(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < sizeof(unpack_allowed) / sizeof(unpack_allowed[0]) && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(unpack_allowed[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc;
}

static ssize_t unpack_read(void *ctx, void *buf, size_t n, err_t *e)
{
    (void)ctx;
    for (;;) {
        ssize_t k = read(UNPACK_FD_ARCHIVE, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return err_set(e, 500, "internal", "reading the bundle: %s", strerror(errno));
        return k;
    }
}

static void unpack_report(int status, const char *code, const char *msg)
{
    char line[UNPACK_REPORT_MAX];
    int n = snprintf(line, sizeof(line), "%d %s %s\n", status, code, msg);
    if (n > 0)
        (void)util_write_all(UNPACK_FD_REPORT, line,
                             (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Landlock (Linux 5.13 on): creating and writing files only beneath the
 * target directory, reading only there and under /usr (where libc may load
 * iconv modules from, and which the sandbox shows user code anyway). A
 * kernel without it answers ENOSYS or EOPNOTSUPP: the uid, the rlimits and
 * the seccomp filter still hold; 1 when the ruleset is in force. */
static int unpack_landlock(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return 0;
    const __u64 read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
    const __u64 make = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
                       LANDLOCK_ACCESS_FS_MAKE_REG;
    struct landlock_ruleset_attr attr = {
        .handled_access_fs = read | make | LANDLOCK_ACCESS_FS_EXECUTE |
                             LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                             LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_SOCK |
                             LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                             LANDLOCK_ACCESS_FS_MAKE_SYM | (abi >= 2 ? LANDLOCK_ACCESS_FS_REFER : 0),
    };
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (rs < 0)
        return -1;
    int usr = open("/usr", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct landlock_path_beneath_attr dir = {.allowed_access = read | make,
                                             .parent_fd = UNPACK_FD_DIR};
    struct landlock_path_beneath_attr lib = {.allowed_access = read, .parent_fd = usr};
    int rc = syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &dir, 0) == 0 &&
                     (usr < 0 ||
                      syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &lib, 0) == 0) &&
                     syscall(SYS_landlock_restrict_self, rs, 0) == 0
                 ? 1
                 : -1;
    if (usr >= 0)
        close(usr);
    close(rs);
    return rc;
}

/* Everything before the first byte of the archive: not dumpable, Landlock,
 * then the seccomp filter (which forbids the landlock calls themselves).
 * Exits on failure; returns whether Landlock is in force. */
static int unpack_confine(void)
{
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int ll = unpack_landlock();
    if (ll < 0) {
        unpack_report(500, "internal", "the unpacker could not apply its Landlock ruleset");
        _exit(1);
    }
    if (unpack_seccomp() != 0) {
        unpack_report(500, "internal", "the unpacker could not install its seccomp filter");
        _exit(1);
    }
    return ll;
}

static void unpack_extract(void)
{
    unpack_confine();
    err_t e;
    err_clear(&e);
    int rc = kaos_bundle_extract(unpack_read, NULL, UNPACK_FD_DIR, &e);
    if (rc != 0)
        unpack_report(e.status ? e.status : 500,
                      e.count > 0 && e.items[0].code[0] ? e.items[0].code : "internal",
                      err_message(&e));
    /* _exit: no atexit handlers (a sanitizer's leak check would need calls
     * the filter forbids), nothing buffered to flush. */
    _exit(rc == 0 ? 0 : 1);
}

static void probe_line(const char *what, int ok)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "%s %s\n", what, ok ? "allowed" : "denied");
    (void)util_write_all(UNPACK_FD_REPORT, line, (size_t)n);
}

/* The probe: the same confinement, then what a hijacked unpacker would try,
 * one line each on the report pipe, and last a socket, which the filter
 * answers by killing the process. */
static void unpack_probe(void)
{
    long uid = (long)getuid(), euid = (long)geteuid(); /* the filter forbids asking later */
    int ll = unpack_confine();
    char line[96];
    int n = snprintf(line, sizeof(line), "uid %ld euid %ld landlock %d\n", uid, euid, ll);
    (void)util_write_all(UNPACK_FD_REPORT, line, (size_t)n);
    int fd = openat(UNPACK_FD_DIR, "probe-inside", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    probe_line("create-inside", fd >= 0);
    if (fd >= 0)
        close(fd);
    snprintf(line, sizeof(line), "/tmp/trainyard-unpack-probe-%ld", (long)getpid());
    fd = open(line, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    probe_line("create-outside", fd >= 0);
    if (fd >= 0)
        close(fd);
    fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    probe_line("read-etc", fd >= 0);
    if (fd >= 0)
        close(fd);
    (void)util_write_all(UNPACK_FD_REPORT, "socket\n", 7);
    fd = socket(AF_INET, SOCK_STREAM, 0); /* SIGSYS: never returns */
    probe_line("socket-survived", fd >= 0);
    _exit(0);
}

int trainer_unpack_main(int argc, char **argv)
{
    if (argc != 2)
        return -1;
    if (strcmp(argv[1], UNPACK_ARG) == 0)
        unpack_extract();
    if (strcmp(argv[1], UNPACK_PROBE_ARG) == 0)
        unpack_probe();
    return -1;
}

/* --- the runner's side ---------------------------------------------------------- */

static void unpack_limit(int resource, rlim_t v)
{
    struct rlimit rl = {v, v}, cur;
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && v > cur.rlim_max)
        rl.rlim_cur = rl.rlim_max = cur.rlim_max;
    setrlimit(resource, &rl);
}

/* The sanitizers' options are all an unpacker's environment may hold
 * (meaningful only to a sanitizer build, as in make test-asan-e2e). */
static void unpack_env(char **out, size_t cap)
{
    extern char **environ;
    size_t k = 0;
    for (char **p = environ; *p && k + 1 < cap; p++)
        if (strncmp(*p, "ASAN_OPTIONS=", 13) == 0 || strncmp(*p, "UBSAN_OPTIONS=", 14) == 0 ||
            strncmp(*p, "LSAN_OPTIONS=", 13) == 0)
            out[k++] = *p;
    out[k] = NULL;
}

/* In the forked child: descriptors, limits, identity, exec. Never returns. */
static void unpack_exec(const char *mode, int archive_fd, int dir_fd, int report_fd, int exe_fd,
                        const runner_cfg_t *cfg, const unpack_ids_t *ids, char *const envp[],
                        pid_t runner)
{
    if (archive_fd < 0 && (archive_fd = open("/dev/null", O_RDONLY)) < 0)
        _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != runner)
        _exit(126);
    int hi[4] = {fcntl(archive_fd, F_DUPFD, 10), fcntl(dir_fd, F_DUPFD, 10),
                 fcntl(report_fd, F_DUPFD, 10), fcntl(exe_fd, F_DUPFD, 10)};
    if (hi[0] < 0 || hi[1] < 0 || hi[2] < 0 || hi[3] < 0 ||
        dup2(hi[0], UNPACK_FD_ARCHIVE) < 0 || dup2(hi[1], UNPACK_FD_DIR) < 0 ||
        dup2(hi[2], UNPACK_FD_REPORT) < 0 || dup2(hi[3], 6) < 0 ||
        dup2(UNPACK_FD_REPORT, STDERR_FILENO) < 0)
        _exit(126);
    fcntl(6, F_SETFD, FD_CLOEXEC);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
        _exit(126);
    if (close_range(7, ~0U, 0) != 0)
        for (int fd = 7; fd < 4096; fd++)
            close(fd);
    if (lseek(UNPACK_FD_ARCHIVE, 0, SEEK_SET) != 0)
        _exit(126);
    if (cfg->unpack_memory > 0) /* 0: none (a sanitizer build's shadow needs terabytes) */
        unpack_limit(RLIMIT_AS, (rlim_t)cfg->unpack_memory);
    unpack_limit(RLIMIT_CPU, (rlim_t)(cfg->unpack_cpu + 0.5));
    /* no single file past the cap of a whole bundle (the walk counts the total) */
    unpack_limit(RLIMIT_FSIZE, (rlim_t)bundle_limits_default.max_total);
    unpack_limit(RLIMIT_NOFILE, 16);
    unpack_limit(RLIMIT_CORE, 0);
    if (ids->drop) {
        if (setgroups(0, NULL) != 0 || setgid(ids->gid) != 0 || setuid(ids->uid) != 0)
            _exit(126);
        if (setuid(0) == 0)
            _exit(126); /* root could be regained: refuse to run */
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a change of credentials cleared it */
        if (getppid() != runner)
            _exit(126);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (chdir("/") != 0)
        _exit(126);
    char *argv[] = {"trainyard-unpack", (char *)mode, NULL};
    fexecve(6, argv, envp);
    _exit(127);
}

/* Starts an unpacker in mode with its descriptors, collects its report
 * (until it exits; what does not fit is drained and dropped, so that it
 * never blocks on a full pipe) and its wait status. */
static int unpack_run(const char *mode, int archive_fd, int dir_fd, const runner_cfg_t *cfg,
                      const unpack_ids_t *ids, char *report, size_t cap, int *st, err_t *e)
{
    int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (exe < 0)
        return err_set(e, 500, "internal", "open /proc/self/exe: %s", strerror(errno));
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) != 0) {
        close(exe);
        return err_set(e, 500, "internal", "pipe: %s", strerror(errno));
    }
    char *envp[8];
    unpack_env(envp, sizeof(envp) / sizeof(envp[0]));
    pid_t runner = getpid();
    pid_t pid = fork();
    if (pid == 0)
        unpack_exec(mode, archive_fd, dir_fd, rep[1], exe, cfg, ids, envp, runner);
    close(exe);
    close(rep[1]);
    if (pid < 0) {
        close(rep[0]);
        return err_set(e, 500, "internal", "fork: %s", strerror(errno));
    }
    size_t used = 0;
    for (;;) {
        char buf[512];
        ssize_t k = read(rep[0], buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t take = (size_t)k < cap - 1 - used ? (size_t)k : cap - 1 - used;
        memcpy(report + used, buf, take);
        used += take;
    }
    close(rep[0]);
    report[used] = '\0';
    while (waitpid(pid, st, 0) < 0)
        if (errno != EINTR)
            return err_set(e, 500, "internal", "waitpid: %s", strerror(errno));
    return 0;
}

int trainer_unpack_probe(int dir_fd, const runner_cfg_t *cfg, const unpack_ids_t *ids,
                         char *report, size_t cap, int *status, err_t *e)
{
    return unpack_run(UNPACK_PROBE_ARG, -1, dir_fd, cfg, ids, report, cap, status, e);
}

int trainer_unpack(int archive_fd, int dir_fd, const runner_cfg_t *cfg, const unpack_ids_t *ids,
                   err_t *e)
{
    char report[UNPACK_REPORT_MAX];
    int st;
    if (unpack_run(UNPACK_ARG, archive_fd, dir_fd, cfg, ids, report, sizeof(report), &st, e) != 0)
        return -1;
    size_t used = strlen(report);
    while (used > 0 && (report[used - 1] == '\n' || report[used - 1] == '\r'))
        report[--used] = '\0';
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        return err_set(e, 500, "UNPACK_FAILED", "unpacking a bundle: the unpacker was killed by "
                       "signal %d%s", sig,
                       sig == SIGSYS    ? " (a system call its seccomp filter forbids)"
                       : sig == SIGXCPU ? " (CPU time limit)"
                       : sig == SIGXFSZ ? " (file size limit)"
                       : sig == SIGKILL ? " (killed: CPU or memory limit, or the job stopped)"
                                        : "");
    }
    int status = 0, n = 0;
    char code[64];
    if (WEXITSTATUS(st) == 1 && sscanf(report, "%d %63s %n", &status, code, &n) == 2 && n > 0 &&
        status >= 400 && status < 600)
        return err_add(e, status, code, "", "%s", report + n);
    return err_set(e, 500, "UNPACK_FAILED", "unpacking a bundle: the unpacker exited with "
                   "status %d%s%s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, used ? ": " : "",
                   report);
}
