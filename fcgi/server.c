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
 * Worker: one process serving one request at a time, over any number of
 * FastCGI connections. nginx keeps connections alive (fastcgi_keep_conn +
 * an upstream keepalive pool) and may open more of them than there are
 * workers, so a worker holds up to WORKER_MAX_CONNS and waits in one ppoll()
 * on all of them, on the listening socket and on the pool's hand-off
 * channel: whichever is ready is served, and an idle kept connection never
 * blocks the worker. A request that nginx sends on a connection held by a
 * busy worker waits only for that worker's current request; before a long
 * one (streamed uploads, downloads, big bodies: the dispatcher says so) the
 * worker passes its other idle connections through the hand-off channel (a
 * SOCK_SEQPACKET pair inherited by every worker, fds sent with SCM_RIGHTS)
 * to whichever worker is idle. Handing over never closes a connection, so
 * a request already in its socket buffer is not lost, which closing would
 * risk (nginx does not retry a POST on a failed kept connection). A worker
 * that retires (max_requests, or memory that stayed high after a large
 * request and malloc_trim) serves what is already waiting, hands its idle
 * connections over and exits; the master starts a fresh one.
 *
 * SIGTERM stays blocked except while the worker waits in ppoll(), so a
 * signal interrupts only the wait, never a read or write in the middle of a
 * request. The listening socket is non-blocking: when several idle workers
 * wake for one connection, the ones that lose the race get EAGAIN and go
 * back to waiting. PR_SET_PDEATHSIG makes workers drain if the master dies.
 */
#include "fcgi/server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
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
#include "fcgi/park.h"
#include "fcgi/runtime.h"

#define WORKER_EXIT_INIT 3        /* app_init failed */
#define QUICK_DEATH_SECONDS 1.0
#define BACKOFF_MAX_SECONDS 5.0
#define DRAIN_LEFTOVER_BYTES (256 * 1024)
#define WORKER_MAX_CONNS 64                    /* kept connections one worker holds */
#define WORKER_TRIM_AFTER_BYTES (1024 * 1024)  /* a request this large returns memory */

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

static int fcgx_flush(void *ctx)
{
    FCGX_Request *req = ctx;
    /* FCGX_FFlush reports a failed write through the stream's error. */
    return FCGX_FFlush(req->out) == 0 && FCGX_GetError(req->out) == 0 ? 0 : -1;
}

/* Whether nginx closed the connection while we answer. Only a hang-up
 * counts: the empty end of stdin nginx sent with the request may still be
 * unread in the socket, so readable alone proves nothing. */
static int fcgx_gone(void *ctx)
{
    FCGX_Request *req = ctx;
    struct pollfd p = {.fd = req->ipcFd, .events = POLLRDHUP};
    return req->ipcFd < 0 ||
           (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0);
}

/* --- worker -------------------------------------------------------------- */

/* One FastCGI connection a worker holds. nginx keeps connections alive
 * (fastcgi_keep_conn) and sends one request at a time on each. */
typedef struct conn {
    FCGX_Request req; /* ipcFd < 0: the slot is free */
} conn_t;

typedef struct worker_ctx {
    int listen_fd;
    int handoff_send; /* SOCK_SEQPACKET pair shared by the pool: idle */
    int handoff_recv; /* connections a worker gives up (and resumed requests), any worker takes */
    int park_send;    /* to the parker (fcgi/park.h); -1 when the pool has none */
    int park_recv;    /* the parker's end */
    const server_config_t *cfg;
    const route_t *routes;
    size_t n_routes;
    const server_hooks_t *hooks;
    void *app_config;
    pid_t master;
    void *master_mem; /* the master's slot table, freed in each worker */
} worker_ctx_t;

typedef struct worker {
    const worker_ctx_t *ctx;
    conn_t conns[WORKER_MAX_CONNS];
    int serving;      /* index of the connection being served, -1 when idle */
    long long rss_base;
} worker_t;

static worker_t *worker_self; /* the process's one worker, for the long-request hook */

static int worker_serve_resumed(worker_t *wk, conn_t *c, const park_ticket_t *t,
                                const char *env, size_t env_len, arena_t *arena, void *app);

/* A body the handler did not read would be taken for the next request on a
 * kept connection: read a little of it, or give up the connection. */
static void leftover_body(FCGX_Request *req, const req_impl_t *im)
{
    /* A body nginx handed over by path leaves only the end of an empty
     * stdin on the connection; read that too. */
    if ((im->body_eof && im->body_path == NULL) || !req->keepConnection)
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

/* Passes an idle connection to whichever worker takes it next. The fd
 * travels with SCM_RIGHTS, so the connection is never closed and a request
 * nginx already wrote on it waits, intact, in its socket buffer. Returns 0
 * once sent (the slot is then free), -1 if the channel is full. */
static int conn_hand_off(const worker_ctx_t *w, conn_t *c)
{
    int fd = c->req.ipcFd;
    if (park_send(w->handoff_send, PARK_TAG_CONN, fd, NULL, NULL, 0) != 0)
        return -1;
    /* Our copy only: the one in flight keeps the connection open. */
    close(fd);
    c->req.ipcFd = -1;
    return 0;
}

/* Takes one message from the hand-off channel: an idle connection another
 * worker gave up (kept here from now on), or a parked request coming back
 * (served at once). Returns 0 if the channel was empty (another worker was
 * quicker) or no slot is free, else what serving returned. */
static int conn_take_over(worker_t *wk, arena_t *arena, void *app)
{
    conn_t *slot = NULL;
    for (int i = 0; i < WORKER_MAX_CONNS && slot == NULL; i++)
        if (wk->conns[i].req.ipcFd < 0)
            slot = &wk->conns[i];
    if (slot == NULL)
        return 0;
    static char buf[PARK_MESSAGE_MAX];
    char tag;
    int fd;
    park_ticket_t t;
    const char *env = NULL;
    size_t env_len = 0;
    if (park_recv(wk->ctx->handoff_recv, buf, &tag, &fd, &t, &env, &env_len) != 1)
        return 0;
    slot->req.ipcFd = fd;
    /* libfcgi's next accept on this slot first "finishes" the previous
     * request and closes the connection unless it was kept. */
    slot->req.keepConnection = 1;
    if (tag == PARK_TAG_RESUME)
        return worker_serve_resumed(wk, slot, &t, env, env_len, arena, app);
    return 0;
}

/* True when nginx has closed an idle connection (nothing to read, EOF). */
static int conn_closed_by_peer(const conn_t *c)
{
    char b;
    ssize_t k = recv(c->req.ipcFd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void conn_close(conn_t *c)
{
    /* detached: close without libfcgi's shutdown-and-wait, nginx has gone. */
    c->req.detached = 1;
    FCGX_Free(&c->req, 1);
}

/* Gives every idle connection but the one being served to the pool, so that
 * a request nginx sends on one of them never waits behind a long request
 * here. Connections the channel cannot take stay. */
static void worker_release_idle(worker_t *wk)
{
    for (int i = 0; i < WORKER_MAX_CONNS; i++) {
        conn_t *c = &wk->conns[i];
        if (i == wk->serving || c->req.ipcFd < 0)
            continue;
        if (conn_closed_by_peer(c))
            conn_close(c);
        else if (conn_hand_off(wk->ctx, c) != 0)
            break;
    }
}

static void worker_on_long_request(void)
{
    if (worker_self != NULL)
        worker_release_idle(worker_self);
}

/* After a request: a large one's memory goes back to the system at once
 * (glibc keeps freed heap otherwise); a worker still far above its
 * baseline after that holds memory something leaked or fragmented, and
 * retires. Returns 1 to retire. */
static int worker_after(worker_t *wk, arena_t *arena, long long body_bytes)
{
    int big = arena_used(arena) > WORKER_TRIM_AFTER_BYTES || body_bytes > WORKER_TRIM_AFTER_BYTES;
    arena_reset(arena);
    wk->serving = -1;
    if (!big)
        return 0;
    malloc_trim(0);
    long long rss = util_rss_bytes();
    return wk->ctx->cfg->rss_slack > 0 &&
           rss > wk->rss_base + (long long)wk->ctx->cfg->rss_slack;
}

static void ticket_from(park_ticket_t *t, const request_t *r, const req_impl_t *im,
                        int request_id, int keep_conn)
{
    memset(t, 0, sizeof(*t));
    t->request_id = request_id;
    t->keep_conn = keep_conn;
    t->deadline = im->park_deadline;
    t->workspace_id = r->auth.workspace_id;
    snprintf(t->workspace_name, sizeof(t->workspace_name), "%s",
             r->auth.workspace_name ? r->auth.workspace_name : "");
    snprintf(t->key_prefix, sizeof(t->key_prefix), "%s",
             r->auth.key_prefix ? r->auth.key_prefix : "");
    snprintf(t->wake_key, sizeof(t->wake_key), "%s", im->park_key);
    snprintf(t->note, sizeof(t->note), "%s", im->park_note);
}

/* Sends connection fd with its ticket and parameters to the parker. */
static int park_hand_over(const worker_ctx_t *w, int fd, const park_ticket_t *t,
                          const char *env, size_t env_len)
{
    if (env_len == 0 || park_send(w->park_send, PARK_TAG_PARK, fd, t, env, env_len) != 0)
        return -1;
    return 0;
}

/* Hands a parked request's connection to the parker. Returns 0 once it is
 * gone from this worker, -1 if it must be answered here after all. */
static int worker_park(worker_t *wk, conn_t *c, const request_t *r, const req_impl_t *im)
{
    /* The end of stdin (an empty record) must not stay in the socket. */
    char sink[4096];
    while (FCGX_GetStr(sink, sizeof(sink), c->req.in) > 0) {
    }
    if (FCGX_GetError(c->req.in) != 0)
        return -1;
    static char env[PARK_MESSAGE_MAX];
    size_t env_len = park_env_pack(c->req.envp, env, sizeof(env) - sizeof(park_ticket_t) - 1);
    park_ticket_t t;
    ticket_from(&t, r, im, c->req.requestId, c->req.keepConnection);
    if (park_hand_over(wk->ctx, c->req.ipcFd, &t, env, env_len) != 0)
        return -1;
    /* libfcgi forgets the request without writing a byte; our copy of the
     * descriptor closes, the parker's keeps the connection open. */
    int fd = c->req.ipcFd;
    c->req.keepConnection = 1;
    FCGX_Free(&c->req, 0);
    close(fd);
    c->req.ipcFd = -1;
    return 0;
}

static void request_restore_auth(request_t *r, const park_ticket_t *t)
{
    r->auth.workspace_id = t->workspace_id;
    r->auth.workspace_name = arena_strdup(r->arena, t->workspace_name);
    r->auth.key_prefix = arena_strdup(r->arena, t->key_prefix);
}

/* Serves the request waiting on c (or on the listening socket, for a free
 * slot). Returns 1 if the worker should now retire (its memory stayed high
 * after a large request), 0 after a request, or libfcgi's negative errno
 * when no request could be read. */
static int worker_serve(worker_t *wk, conn_t *c, arena_t *arena, void *app)
{
    const worker_ctx_t *w = wk->ctx;
    /* On a held connection this reads the next request; on a free slot it
     * accepts from the non-blocking listening socket first (-EAGAIN when
     * another worker won the race). A held connection that nginx closed is
     * freed by libfcgi, which then tries the listening socket too. */
    int rc = FCGX_Accept_r(&c->req);
    if (rc < 0)
        return rc;
    wk->serving = (int)(c - wk->conns);
    request_t r;
    req_impl_t im;
    req_io_t io = {.read = fcgx_read, .write = fcgx_write, .flush = fcgx_flush,
                   .gone = fcgx_gone, .ctx = &c->req};
    request_init(&r, &im, arena, c->req.envp, &io, app);
    im.on_long_request = worker_on_long_request;
    im.upload_limit = w->cfg->upload_limit;
    im.body_dir = w->cfg->body_dir;
    im.can_park = w->park_send >= 0;
    request_dispatch(&r, w->routes, w->n_routes, w->hooks);
    if (im.parked) {
        if (worker_park(wk, c, &r, &im) == 0)
            return worker_after(wk, arena, im.body_read);
        /* Could not park: the handler answers now with what it knows. */
        auth_t auth = r.auth;
        long long body_read = im.body_read;
        request_init(&r, &im, arena, c->req.envp, &io, app);
        r.auth = auth;
        im.body_read = body_read;
        im.body_eof = 1;
        im.resumed = REQ_RESUMED_TIMEOUT;
        request_dispatch(&r, w->routes, w->n_routes, w->hooks);
    }
    leftover_body(&c->req, &im);
    if (im.write_failed)
        c->req.keepConnection = 0;
    FCGX_Finish_r(&c->req);
    return worker_after(wk, arena, im.body_read);
}

static ssize_t read_nothing(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

/* Serves a parked request that came back: the same route's handler runs
 * again, resumed, and its answer goes out as FastCGI records written here
 * (park_out_t). The connection stays with this worker if nginx keeps it. */
static int worker_serve_resumed(worker_t *wk, conn_t *c, const park_ticket_t *t,
                                const char *env, size_t env_len, arena_t *arena, void *app)
{
    const worker_ctx_t *w = wk->ctx;
    wk->serving = (int)(c - wk->conns);
    park_out_t *out = arena_calloc(arena, 1, sizeof(*out));
    out->fd = c->req.ipcFd;
    out->request_id = t->request_id;
    req_io_t io = {.read = read_nothing, .write = park_out_write, .flush = park_out_flush,
                   .ctx = out};
    char **envp = park_env_unpack(arena, env, env_len);
    request_t r;
    req_impl_t im;
    int reason = t->reason == REQ_RESUMED_WOKEN ? REQ_RESUMED_WOKEN : REQ_RESUMED_TIMEOUT;
    for (int attempt = 0; attempt < 2; attempt++) {
        request_init(&r, &im, arena, envp, &io, app);
        request_restore_auth(&r, t);
        im.body_eof = 1;
        im.resumed = reason;
        im.resume_note = arena_strdup(arena, t->note);
        /* Woken early (say, after the parker reconnected) with time left:
         * the handler may park again, within the first deadline. */
        im.can_park = attempt == 0 && reason == REQ_RESUMED_WOKEN && w->park_send >= 0;
        im.park_deadline_cap = t->deadline;
        request_dispatch(&r, w->routes, w->n_routes, w->hooks);
        if (!im.parked)
            break;
        park_ticket_t again;
        ticket_from(&again, &r, &im, t->request_id, t->keep_conn);
        if (park_hand_over(w, c->req.ipcFd, &again, env, env_len) == 0) {
            close(c->req.ipcFd);
            c->req.ipcFd = -1;
            return worker_after(wk, arena, 0);
        }
        reason = REQ_RESUMED_TIMEOUT; /* could not park: answer now */
    }
    if (park_out_end(out) != 0 || !t->keep_conn)
        conn_close(c);
    return worker_after(wk, arena, 0);
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

/* Before leaving: requests already written on held connections are served,
 * the idle connections go to the rest of the pool (a recycled worker drops
 * nothing); when the whole pool stops they are simply closed. */
static void worker_retire(worker_t *wk, arena_t *arena, void *app, int pool_stopping)
{
    for (int i = 0; i < WORKER_MAX_CONNS; i++) {
        conn_t *c = &wk->conns[i];
        if (c->req.ipcFd < 0)
            continue;
        struct pollfd p = {.fd = c->req.ipcFd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && !conn_closed_by_peer(c))
            (void)worker_serve(wk, c, arena, app);
        if (c->req.ipcFd < 0)
            continue;
        if (pool_stopping || conn_closed_by_peer(c) || conn_hand_off(wk->ctx, c) != 0)
            conn_close(c);
    }
}

static void worker_run(const worker_ctx_t *w)
{
    sigset_t wait_mask;
    free(w->master_mem);
    worker_signals(&wait_mask);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != w->master)
        _exit(0); /* the master died before prctl took effect */

    /* Blocks above 256 KiB (bodies, big arena blocks) come from mmap and go
     * back to the system when freed; a fixed threshold also stops glibc
     * from raising it after the first large free. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    void *app = NULL;
    if (w->hooks->app_init != NULL) {
        app = w->hooks->app_init(w->app_config);
        if (app == NULL) {
            log_error("worker: application init failed");
            exit(WORKER_EXIT_INIT);
        }
    }
    FCGX_Init();
    static worker_t wk;
    wk.ctx = w;
    wk.serving = -1;
    for (int i = 0; i < WORKER_MAX_CONNS; i++) {
        if (FCGX_InitRequest(&wk.conns[i].req, w->listen_fd, 0) != 0) {
            log_error("worker: cannot set up a FastCGI request");
            exit(1);
        }
    }
    worker_self = &wk;
    arena_t *arena = arena_create(64 * 1024);
    wk.rss_base = util_rss_bytes();
    long served = 0;
    int errors = 0, exit_code = 0, retire = 0;
    struct pollfd pfd[WORKER_MAX_CONNS + 2];
    int owner[WORKER_MAX_CONNS + 2];
    while (!worker_stop && !retire) {
        /* Wait on every held connection, the hand-off channel and, while a
         * slot is free, the listening socket: whichever is ready is served.
         * The worker never blocks on one idle connection. */
        nfds_t n = 0;
        int held = 0;
        for (int i = 0; i < WORKER_MAX_CONNS; i++) {
            if (wk.conns[i].req.ipcFd < 0)
                continue;
            pfd[n] = (struct pollfd){.fd = wk.conns[i].req.ipcFd, .events = POLLIN | POLLRDHUP};
            owner[n++] = i;
            held++;
        }
        if (held < WORKER_MAX_CONNS) {
            pfd[n] = (struct pollfd){.fd = w->listen_fd, .events = POLLIN};
            owner[n++] = -1;
            pfd[n] = (struct pollfd){.fd = w->handoff_recv, .events = POLLIN};
            owner[n++] = -2;
        }
        int rc = ppoll(pfd, n, NULL, &wait_mask);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_error("worker: poll: %s", strerror(errno));
            exit_code = 1;
            break;
        }
        if (worker_stop)
            break;
        /* Requests waiting on more than one held connection would be
         * served one after another here while another worker may sit idle
         * (nginx reuses whichever kept connection it has, so connections
         * and their load drift between workers). Keep the first, pass the
         * other ready ones to the pool: an idle worker takes each at once,
         * or the first worker to finish does. */
        int kept_ready = 0;
        for (nfds_t k = 0; k < n; k++) {
            if (owner[k] < 0 || !(pfd[k].revents & POLLIN) ||
                (pfd[k].revents & (POLLHUP | POLLERR | POLLRDHUP)))
                continue;
            if (kept_ready++ == 0)
                continue;
            if (conn_hand_off(w, &wk.conns[owner[k]]) == 0)
                pfd[k].revents = 0;
        }
        for (nfds_t k = 0; k < n && !retire; k++) {
            if (pfd[k].revents == 0)
                continue;
            if (owner[k] >= 0 && wk.conns[owner[k]].req.ipcFd < 0)
                continue; /* handed over while an earlier request was served */
            if (owner[k] == -2) {
                rc = conn_take_over(&wk, arena, app);
                retire = rc > 0;
                served += rc >= 0;
                continue;
            }
            conn_t *c = NULL;
            if (owner[k] >= 0) {
                c = &wk.conns[owner[k]];
                if (!(pfd[k].revents & POLLIN) || conn_closed_by_peer(c)) {
                    conn_close(c);
                    continue;
                }
            } else {
                for (int i = 0; i < WORKER_MAX_CONNS && c == NULL; i++)
                    if (wk.conns[i].req.ipcFd < 0)
                        c = &wk.conns[i];
                if (c == NULL)
                    continue;
            }
            rc = worker_serve(&wk, c, arena, app);
            if (rc >= 0) {
                errors = 0;
                retire = rc;
                served++;
            } else if (owner[k] < 0 && rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR &&
                       ++errors > 100) {
                log_error("worker: accept keeps failing: %s", strerror(-rc));
                exit_code = 1;
                retire = 1;
            }
        }
        if (w->cfg->max_requests > 0 && served >= w->cfg->max_requests)
            retire = 1;
    }
    worker_retire(&wk, arena, app, worker_stop);
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

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
}

/* The parker: no FastCGI, no application but its waiter hooks. */
static void parker_run(const worker_ctx_t *w)
{
    sigset_t wait_mask;
    free(w->master_mem);
    worker_signals(&wait_mask);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != w->master)
        _exit(0);
    close(w->listen_fd);
    sigprocmask(SIG_SETMASK, &wait_mask, NULL); /* SIGTERM ends its poll at any time */
    park_run(w->park_recv, w->handoff_send, w->hooks, w->app_config, &worker_stop);
}

static pid_t spawn(const worker_ctx_t *w, int parker)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("master: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (parker)
            parker_run(w);
        worker_run(w); /* never returns */
    }
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

    /* Two SOCK_SEQPACKET pairs: the hand-off channel every worker reads
     * (idle connections, resumed requests) and, when the app has waiter
     * hooks, the park channel to the parker. Sending ends are non-blocking
     * by MSG_DONTWAIT; receiving ends by O_NONBLOCK, since several
     * processes read them. */
    if (hooks == NULL)
        hooks = &no_hooks;
    int pair[2] = {-1, -1}, park[2] = {-1, -1};
    int has_parker = hooks->waiter_init != NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0 ||
        (has_parker && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, park) != 0)) {
        int saved = errno;
        close(fd);
        close_pair(pair);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return err_set(e, 500, "socket", "server: socketpair: %s", strerror(saved));
    }
    fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK);
    if (has_parker)
        fcntl(park[1], F_SETFL, fcntl(park[1], F_GETFL) | O_NONBLOCK);
    worker_ctx_t w = {.listen_fd = fd, .handoff_send = pair[0], .handoff_recv = pair[1],
                      .park_send = park[0], .park_recv = park[1],
                      .cfg = cfg, .routes = routes, .n_routes = n_routes,
                      .hooks = hooks, .app_config = app_config,
                      .master = getpid()};
    /* Slot n_slots - 1 is the parker's when there is one. */
    int n_slots = cfg->workers + has_parker;
    slot_t *slots = calloc((size_t)n_slots, sizeof(*slots));
    if (slots == NULL) {
        close(fd);
        close_pair(pair);
        close_pair(park);
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
            for (int i = 0; i < n_slots; i++) {
                if (slots[i].pid != 0)
                    continue;
                pid_t pid = spawn(&w, has_parker && i == n_slots - 1);
                if (pid < 0)
                    break;
                slots[i].pid = pid;
                slots[i].started = util_now_monotonic();
                if (quick_deaths > 0)
                    break; /* after failures, bring workers back one at a time */
            }
        }
        double wait = 1.0;
        if (live_workers(slots, n_slots) < n_slots && next_spawn > now)
            wait = next_spawn - now;
        wait_signal(&set, wait, &stop);
        int before = quick_deaths;
        reap(slots, n_slots, &quick_deaths, 0);
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
    drain(slots, n_slots, cfg->drain_seconds, &set);
    free(slots);
    close(fd);
    close_pair(pair);
    close_pair(park);
    unlink(cfg->socket_path);
    sigprocmask(SIG_SETMASK, &old, NULL);
    log_info("master: stopped");
    return 0;
}
