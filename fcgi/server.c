/*
 * server.c — the prefork FastCGI runtime (server.h).
 *
 * Master: opens the unix socket itself (socket/bind/listen rather than
 * FCGX_OpenSocket, which unlinks whatever file is at the path, binds under
 * the caller's umask so the socket is briefly connectable by anyone, and
 * reports failures only through perror), creates it 0660 (and chgrps it to
 * socket_group); libfcgi then accepts on it as on its own. It forks the
 * workers and then only waits for signals with sigtimedwait: SIGCHLD →
 * reap and respawn, SIGTERM/SIGINT → drain. A worker that dies abnormally
 * within a second of its start doubles a respawn delay (up to 5 s), so a
 * worker that cannot start never spins the CPU. The master calls no app hook
 * and holds no database connection or XGBoost state: app_init runs in each
 * worker after fork.
 *
 * Worker: SIGTERM stays blocked except while the worker waits for work in
 * ppoll(), so a signal can interrupt only the wait, never a read or write in
 * the middle of a request; a worker that is busy finishes its request and
 * then sees the pending signal at its next wait. The listening socket is
 * non-blocking: when several idle workers wake for one connection, the ones
 * that lose the race get EAGAIN from accept and go back to waiting. With
 * nginx's fastcgi_keep_conn, an idle worker waits on its kept connection and
 * on the listening socket, and gives the kept one up when a new connection
 * is waiting (nginx retries a request that fails on a cached connection).
 * PR_SET_PDEATHSIG makes workers drain if the master dies.
 */
#include "fcgi/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "common/log.h"
#include "common/util.h"
#include "fcgi/runtime.h"

#define WORKER_EXIT_INIT 3        /* app_init failed */
#define QUICK_DEATH_SECONDS 1.0
#define BACKOFF_MAX_SECONDS 5.0
#define DRAIN_LEFTOVER_BYTES (256 * 1024)

static volatile sig_atomic_t worker_stop;

static void worker_on_term(int sig)
{
    (void)sig;
    worker_stop = 1;
}

/* --- FastCGI streams as req_io_t --------------------------------------- */

static ssize_t fcgx_read(void *ctx, void *buf, size_t n)
{
    FCGX_Request *req = ctx;
    size_t got = 0;
    while (got < n) {
        int want = n - got > (1u << 30) ? (1 << 30) : (int)(n - got);
        int k = FCGX_GetStr((char *)buf + got, want, req->in);
        if (k < 0)
            return -1;
        got += (size_t)k;
        if (k < want) {
            /* A short read is the end of the body or an error; only
             * FCGX_GetError tells them apart. */
            if (FCGX_GetError(req->in) != 0)
                return -1;
            break;
        }
    }
    return (ssize_t)got;
}

static int fcgx_write(void *ctx, const void *buf, size_t n)
{
    FCGX_Request *req = ctx;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        if (FCGX_PutStr(buf, chunk, req->out) != chunk)
            return -1;
        buf = (const char *)buf + chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

/* --- worker -------------------------------------------------------------- */

typedef struct worker_ctx {
    int listen_fd;
    const server_config_t *cfg;
    const route_t *routes;
    size_t n_routes;
    const server_hooks_t *hooks;
    void *app_config;
    pid_t master;
    void *master_mem; /* the master's slot table, freed in each worker */
} worker_ctx_t;

/* A body the handler did not read would be taken for the next request on a
 * kept connection: read a little of it, or give up the connection. */
static void leftover_body(FCGX_Request *req, const req_impl_t *im)
{
    if (im->body_eof || !req->keepConnection)
        return;
    char buf[8192];
    size_t total = 0;
    while (total < DRAIN_LEFTOVER_BYTES) {
        int k = FCGX_GetStr(buf, sizeof(buf), req->in);
        if (k <= 0 || k < (int)sizeof(buf)) {
            if (k < 0 || FCGX_GetError(req->in) != 0)
                req->keepConnection = 0;
            return;
        }
        total += (size_t)k;
    }
    req->keepConnection = 0;
}

static void worker_serve(FCGX_Request *req, arena_t *arena, void *app, const worker_ctx_t *w)
{
    request_t r;
    req_impl_t im;
    req_io_t io = {.read = fcgx_read, .write = fcgx_write, .ctx = req};
    request_init(&r, &im, arena, req->envp, &io, app);
    request_dispatch(&r, w->routes, w->n_routes, w->hooks);
    leftover_body(req, &im);
    if (im.write_failed)
        req->keepConnection = 0;
}

static void worker_signals(sigset_t *wait_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = worker_on_term; /* no SA_RESTART: it must end ppoll */
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);  /* a terminal's ^C reaches the master, which drains */
    sigaction(SIGPIPE, &sa, NULL); /* a client gone mid-write is an EPIPE, not a death */
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);

    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigprocmask(SIG_SETMASK, &blocked, NULL);
    sigemptyset(wait_mask);
}

static void worker_run(const worker_ctx_t *w)
{
    sigset_t wait_mask;
    free(w->master_mem);
    worker_signals(&wait_mask);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != w->master)
        _exit(0); /* the master died before prctl took effect */

    void *app = NULL;
    if (w->hooks->app_init != NULL) {
        app = w->hooks->app_init(w->app_config);
        if (app == NULL) {
            log_error("worker: application init failed");
            exit(WORKER_EXIT_INIT);
        }
    }
    FCGX_Init();
    FCGX_Request req;
    if (FCGX_InitRequest(&req, w->listen_fd, 0) != 0) {
        log_error("worker: cannot set up a FastCGI request");
        exit(1);
    }
    arena_t *arena = arena_create(64 * 1024);
    long served = 0;
    int errors = 0, exit_code = 0;
    while (!worker_stop) {
        /* On a kept connection, watch the listening socket too: nginx may
         * open a new connection while this one idles in its cache, and a
         * worker that only waited here would leave that request queued. */
        struct pollfd pfd[2] = {{.fd = w->listen_fd, .events = POLLIN},
                                {.fd = req.ipcFd, .events = POLLIN}};
        nfds_t nfds = req.ipcFd >= 0 ? 2 : 1;
        int rc = ppoll(pfd, nfds, NULL, &wait_mask);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("worker: poll: %s", strerror(errno));
            break;
        }
        if (worker_stop)
            break;
        if (nfds == 2 && pfd[1].revents == 0) {
            /* A short grace first: nginx usually reuses a kept connection
             * at once, and closing one it is about to write to costs it a
             * retry. */
            struct timespec grace = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
            rc = ppoll(&pfd[1], 1, &grace, &wait_mask);
            if (worker_stop)
                break;
            if (rc == 0)
                FCGX_Free(&req, 1); /* give up the idle kept connection, take the new one */
        }
        rc = FCGX_Accept_r(&req);
        if (rc < 0) {
            /* Lost the race for a connection (EAGAIN), or a kept connection
             * that nginx closed (libfcgi then tries the listening socket):
             * both normal. Anything else repeated is a broken socket, and
             * exiting lets the master see it. */
            if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
                continue;
            if (++errors > 100) {
                log_error("worker: accept keeps failing: %s", strerror(-rc));
                exit_code = 1;
                break;
            }
            continue;
        }
        errors = 0;
        worker_serve(&req, arena, app, w);
        FCGX_Finish_r(&req);
        arena_reset(arena);
        if (w->cfg->max_requests > 0 && ++served >= w->cfg->max_requests)
            break;
    }
    if (req.ipcFd >= 0)
        FCGX_Free(&req, 1);
    arena_destroy(arena);
    if (w->hooks->app_fini != NULL)
        w->hooks->app_fini(app);
    exit(exit_code);
}

/* --- master -------------------------------------------------------------- */

typedef struct slot {
    pid_t pid;      /* 0 when empty */
    double started; /* monotonic */
} slot_t;

static int socket_open(const server_config_t *cfg, err_t *e)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(cfg->socket_path) >= sizeof(sa.sun_path))
        return err_set(e, 500, "socket", "server: socket path too long: %s", cfg->socket_path);
    memcpy(sa.sun_path, cfg->socket_path, strlen(cfg->socket_path) + 1);

    struct stat st;
    if (lstat(cfg->socket_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return err_set(e, 500, "socket", "server: %s exists and is not a socket",
                           cfg->socket_path);
        unlink(cfg->socket_path); /* stale, from a previous run */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(e, 500, "socket", "server: socket: %s", strerror(errno));
    /* Created 0660 from the start: no window where anyone may connect. */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    int backlog = cfg->backlog > 0 ? cfg->backlog : 128;
    if (rc != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        return err_set(e, 500, "socket", "server: cannot listen on %s: %s", cfg->socket_path,
                       strerror(saved));
    }
    if (chmod(cfg->socket_path, 0660) != 0) {
        int saved = errno;
        close(fd);
        unlink(cfg->socket_path);
        return err_set(e, 500, "socket", "server: chmod %s: %s", cfg->socket_path,
                       strerror(saved));
    }
    if (cfg->socket_group != NULL && cfg->socket_group[0] != '\0') {
        struct group *g = getgrnam(cfg->socket_group);
        if (g == NULL || chown(cfg->socket_path, (uid_t)-1, g->gr_gid) != 0) {
            close(fd);
            unlink(cfg->socket_path);
            return err_set(e, 500, "socket", "server: cannot give %s to group %s",
                           cfg->socket_path, cfg->socket_group);
        }
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    return fd;
}

static pid_t spawn(const worker_ctx_t *w)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("master: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        worker_run(w); /* never returns */
    return pid;
}

static void describe_exit(pid_t pid, int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "worker %d exited with %d", (int)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "worker %d killed by signal %d", (int)pid, WTERMSIG(status));
    else
        snprintf(buf, n, "worker %d stopped", (int)pid);
}

/* Reaps every dead worker; returns how many slots were freed. */
static int reap(slot_t *slots, int n, int *quick_deaths, int stopping)
{
    int freed = 0, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < n; i++) {
            if (slots[i].pid != pid)
                continue;
            double lived = util_now_monotonic() - slots[i].started;
            int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            char what[96];
            describe_exit(pid, status, what, sizeof(what));
            if (!stopping) {
                if (clean)
                    log_info("master: %s (recycled)", what);
                else
                    log_warn("master: %s after %.1f s", what, lived);
            }
            if (!clean && lived < QUICK_DEATH_SECONDS)
                (*quick_deaths)++;
            else if (lived >= QUICK_DEATH_SECONDS)
                *quick_deaths = 0;
            slots[i].pid = 0;
            freed++;
        }
    }
    return freed;
}

static int live_workers(const slot_t *slots, int n)
{
    int live = 0;
    for (int i = 0; i < n; i++)
        live += slots[i].pid > 0;
    return live;
}

static void wait_signal(const sigset_t *set, double seconds, int *stop)
{
    if (seconds < 0)
        seconds = 0;
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    siginfo_t info;
    int sig = sigtimedwait(set, &info, &ts);
    if (sig == SIGTERM || sig == SIGINT)
        *stop = 1;
}

/* Stops the pool: SIGTERM, wait for in-flight requests up to drain_seconds,
 * then SIGKILL whoever is left. */
static void drain(slot_t *slots, int n, double drain_seconds, const sigset_t *set)
{
    int quick = 0;
    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0)
            kill(slots[i].pid, SIGTERM);
    double deadline = util_now_monotonic() + (drain_seconds > 0 ? drain_seconds : 0);
    int again = 0;
    reap(slots, n, &quick, 1);
    while (live_workers(slots, n) > 0) {
        double left = deadline - util_now_monotonic();
        if (left <= 0 || again)
            break;
        wait_signal(set, left < 0.2 ? left : 0.2, &again); /* a second ^C: no more waiting */
        reap(slots, n, &quick, 1);
    }
    for (int i = 0; i < n; i++) {
        if (slots[i].pid <= 0)
            continue;
        log_warn("master: worker %d still busy after the drain: killed", (int)slots[i].pid);
        kill(slots[i].pid, SIGKILL);
        waitpid(slots[i].pid, NULL, 0);
        slots[i].pid = 0;
    }
}

int server_run(const server_config_t *cfg, const route_t *routes, size_t n_routes,
               const server_hooks_t *hooks, void *app_config, err_t *e)
{
    static const server_hooks_t no_hooks = {0};
    if (cfg == NULL || cfg->socket_path == NULL || cfg->workers < 1)
        return err_set(e, 500, "config", "server: a socket path and at least one worker needed");
    int fd = socket_open(cfg, e);
    if (fd < 0)
        return -1;

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);

    worker_ctx_t w = {.listen_fd = fd, .cfg = cfg, .routes = routes, .n_routes = n_routes,
                      .hooks = hooks ? hooks : &no_hooks, .app_config = app_config,
                      .master = getpid()};
    slot_t *slots = calloc((size_t)cfg->workers, sizeof(*slots));
    if (slots == NULL) {
        close(fd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return err_set(e, 500, "internal_error", "server: out of memory");
    }
    w.master_mem = slots;
    log_info("master: listening on %s with %d workers", cfg->socket_path, cfg->workers);

    int stop = 0, quick_deaths = 0;
    double next_spawn = 0;
    while (!stop) {
        double now = util_now_monotonic();
        if (now >= next_spawn) {
            for (int i = 0; i < cfg->workers; i++) {
                if (slots[i].pid != 0)
                    continue;
                pid_t pid = spawn(&w);
                if (pid < 0)
                    break;
                slots[i].pid = pid;
                slots[i].started = util_now_monotonic();
                if (quick_deaths > 0)
                    break; /* after failures, bring workers back one at a time */
            }
        }
        double wait = 1.0;
        if (live_workers(slots, cfg->workers) < cfg->workers && next_spawn > now)
            wait = next_spawn - now;
        wait_signal(&set, wait, &stop);
        int before = quick_deaths;
        reap(slots, cfg->workers, &quick_deaths, 0);
        if (quick_deaths > before) {
            double delay = 0.05 * pow(2, quick_deaths - 1);
            if (delay > BACKOFF_MAX_SECONDS)
                delay = BACKOFF_MAX_SECONDS;
            next_spawn = util_now_monotonic() + delay;
            if (quick_deaths >= 3)
                log_warn("master: workers keep dying at start; next try in %.2f s", delay);
        }
    }
    log_info("master: stopping, draining for up to %.1f s", cfg->drain_seconds);
    drain(slots, cfg->workers, cfg->drain_seconds, &set);
    free(slots);
    close(fd);
    unlink(cfg->socket_path);
    sigprocmask(SIG_SETMASK, &old, NULL);
    log_info("master: stopped");
    return 0;
}
