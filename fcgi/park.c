/*
 * park.c — the parker process and the messages that carry parked requests
 * (park.h).
 *
 * The parker keeps its parked requests in one array and waits in poll() on
 * the park channel, on the application's wake-up descriptor (a LISTEN
 * connection) and on every parked connection (nginx closes one when its
 * client gives up: the entry is then dropped). The nearest deadline bounds
 * the wait. A request whose key fired or whose deadline passed goes back
 * to the workers with its reason; if the hand-off channel is full it stays
 * marked and is retried a few milliseconds later, so nothing is dropped.
 * The parker loads no application code but the waiter hooks: it holds no
 * models and touches no XGBoost.
 */
#include "fcgi/park.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "fcgi/request.h"

/* --- messages ---------------------------------------------------------------- */

int park_send(int sock, char tag, int fd, const park_ticket_t *t, const char *env,
              size_t env_len)
{
    if (t != NULL && 1 + sizeof(*t) + env_len > PARK_MESSAGE_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    park_ticket_t copy;
    struct iovec iov[3] = {{.iov_base = &tag, .iov_len = 1}};
    int n_iov = 1;
    if (t != NULL) {
        copy = *t;
        copy.env_len = (uint32_t)env_len;
        iov[1] = (struct iovec){.iov_base = &copy, .iov_len = sizeof(copy)};
        iov[2] = (struct iovec){.iov_base = (void *)env, .iov_len = env_len};
        n_iov = env_len > 0 ? 3 : 2;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov,
                         .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    ssize_t want = 1 + (t != NULL ? (ssize_t)(sizeof(copy) + env_len) : 0);
    ssize_t k = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return k == want ? 0 : -1;
}

int park_recv(int sock, char *buf, char *tag, int *fd, park_ticket_t *t, const char **env,
              size_t *env_len)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = PARK_MESSAGE_MAX};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    ssize_t k = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (k <= 0)
        return 0;
    *fd = -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(cm), sizeof(int));
    *tag = buf[0];
    int ok = *fd >= 0 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    if (ok && *tag != PARK_TAG_CONN) {
        ok = (size_t)k >= 1 + sizeof(*t);
        if (ok) {
            memcpy(t, buf + 1, sizeof(*t));
            ok = (size_t)k == 1 + sizeof(*t) + t->env_len;
            *env = buf + 1 + sizeof(*t);
            *env_len = t->env_len;
        }
    }
    if (!ok) {
        if (*fd >= 0)
            close(*fd);
        return -1;
    }
    return 1;
}

size_t park_env_pack(char *const *envp, char *out, size_t cap)
{
    size_t used = 0;
    for (char *const *p = envp; p != NULL && *p != NULL; p++) {
        size_t n = strlen(*p) + 1;
        if (used + n > cap)
            return 0;
        memcpy(out + used, *p, n);
        used += n;
    }
    return used;
}

char **park_env_unpack(arena_t *arena, const char *env, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += env[i] == '\0';
    char **envp = arena_calloc(arena, count + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < len && k < count;) {
        size_t n = strnlen(env + i, len - i);
        envp[k++] = arena_strndup(arena, env + i, n);
        i += n + 1;
    }
    return envp;
}

/* --- FastCGI records for resumed requests ---------------------------------- */

#define FCGI_END_REQUEST_TYPE 3
#define FCGI_STDOUT_TYPE 6

static int record_write(park_out_t *o, int type, const void *body, size_t n)
{
    unsigned char head[8] = {1, (unsigned char)type, (unsigned char)(o->request_id >> 8),
                             (unsigned char)o->request_id, (unsigned char)(n >> 8),
                             (unsigned char)n, 0, 0};
    if (o->failed || util_write_all(o->fd, head, sizeof(head)) != 0 ||
        (n > 0 && util_write_all(o->fd, body, n) != 0)) {
        o->failed = 1;
        return -1;
    }
    return 0;
}

static int out_flush(park_out_t *o)
{
    if (o->used == 0)
        return 0;
    int rc = record_write(o, FCGI_STDOUT_TYPE, o->buf, o->used);
    o->used = 0;
    return rc;
}

int park_out_flush(void *ctx)
{
    return out_flush(ctx);
}

int park_out_write(void *ctx, const void *buf, size_t n)
{
    park_out_t *o = ctx;
    const char *p = buf;
    while (n > 0) {
        if (o->used == sizeof(o->buf) && out_flush(o) != 0)
            return -1;
        size_t k = sizeof(o->buf) - o->used < n ? sizeof(o->buf) - o->used : n;
        memcpy(o->buf + o->used, p, k);
        o->used += k;
        p += k;
        n -= k;
    }
    return o->failed ? -1 : 0;
}

int park_out_end(park_out_t *o)
{
    /* appStatus 0, protocolStatus FCGI_REQUEST_COMPLETE */
    static const unsigned char end[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (out_flush(o) != 0 || record_write(o, FCGI_STDOUT_TYPE, NULL, 0) != 0 ||
        record_write(o, FCGI_END_REQUEST_TYPE, end, sizeof(end)) != 0)
        return -1;
    return 0;
}

/* --- the parker ----------------------------------------------------------------- */

typedef struct parked {
    int fd;
    int due;                 /* woken or timed out: to be handed back */
    park_ticket_t ticket;
    char *env;               /* malloc'd packed parameters */
} parked_t;

typedef struct parker {
    parked_t *items;
    size_t n, cap;
} parker_t;

static void parker_wake(void *ctx, const char *key)
{
    parker_t *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        if (p->items[i].due)
            continue;
        if (key == NULL || strcmp(p->items[i].ticket.wake_key, key) == 0) {
            p->items[i].due = 1;
            p->items[i].ticket.reason = REQ_RESUMED_WOKEN;
        }
    }
}

static void parker_remove(parker_t *p, size_t i)
{
    free(p->items[i].env);
    p->items[i] = p->items[--p->n];
}

static void parker_take(parker_t *p, int park_fd)
{
    static char buf[PARK_MESSAGE_MAX];
    for (;;) {
        char tag;
        int fd;
        park_ticket_t t;
        const char *env = NULL;
        size_t env_len = 0;
        int rc = park_recv(park_fd, buf, &tag, &fd, &t, &env, &env_len);
        if (rc == 0)
            return;
        if (rc < 0 || tag != PARK_TAG_PARK) {
            if (rc > 0)
                close(fd);
            log_warn("parker: a malformed message was dropped");
            continue;
        }
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 64;
            parked_t *items = realloc(p->items, cap * sizeof(*items));
            if (items == NULL) {
                close(fd); /* nginx answers 502; better than dying with all the others */
                log_error("parker: out of memory");
                continue;
            }
            p->items = items;
            p->cap = cap;
        }
        parked_t *it = &p->items[p->n];
        memset(it, 0, sizeof(*it));
        it->fd = fd;
        it->ticket = t;
        it->env = malloc(env_len ? env_len : 1);
        if (it->env == NULL) {
            close(fd);
            continue;
        }
        memcpy(it->env, env, env_len);
        p->n++;
    }
}

/* Hands due requests back; those the channel cannot take yet stay due. */
static void parker_hand_back(parker_t *p, int resume_fd)
{
    double now = util_now_monotonic();
    for (size_t i = 0; i < p->n;) {
        parked_t *it = &p->items[i];
        if (!it->due && now >= it->ticket.deadline) {
            it->due = 1;
            it->ticket.reason = REQ_RESUMED_TIMEOUT;
        }
        if (!it->due) {
            i++;
            continue;
        }
        if (park_send(resume_fd, PARK_TAG_RESUME, it->fd, &it->ticket, it->env,
                      it->ticket.env_len) != 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return; /* the workers are busy; try again shortly */
            log_warn("parker: could not hand a request back: %s", strerror(errno));
        }
        close(it->fd);
        parker_remove(p, i);
    }
}

void park_run(int park_fd, int resume_fd, const server_hooks_t *hooks, void *app_config,
              volatile sig_atomic_t *stop)
{
    /* One descriptor per parked request. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    void *waiter = hooks->waiter_init != NULL ? hooks->waiter_init(app_config) : NULL;
    parker_t p = {0};
    struct pollfd *pfd = NULL;
    size_t pfd_cap = 0;
    sigset_t none;
    sigemptyset(&none);
    log_info("parker: ready");
    while (!*stop) {
        if (p.n + 2 > pfd_cap) {
            pfd_cap = (p.n + 2) * 2;
            struct pollfd *np = realloc(pfd, pfd_cap * sizeof(*pfd));
            if (np == NULL) {
                log_error("parker: out of memory");
                break;
            }
            pfd = np;
        }
        int wfd = waiter != NULL && hooks->waiter_fd != NULL ? hooks->waiter_fd(waiter) : -1;
        pfd[0] = (struct pollfd){.fd = park_fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = wfd, .events = POLLIN};
        double next = util_now_monotonic() + 1.0;
        int any_due = 0;
        for (size_t i = 0; i < p.n; i++) {
            pfd[2 + i] = (struct pollfd){.fd = p.items[i].fd, .events = POLLRDHUP};
            if (p.items[i].ticket.deadline < next)
                next = p.items[i].ticket.deadline;
            any_due |= p.items[i].due;
        }
        double wait = any_due ? 0.005 : next - util_now_monotonic();
        if (wait < 0)
            wait = 0;
        struct timespec ts = {.tv_sec = (time_t)wait,
                              .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
        int rc = ppoll(pfd, 2 + p.n, &ts, &none);
        if (rc < 0 && errno != EINTR) {
            log_error("parker: poll: %s", strerror(errno));
            break;
        }
        if (*stop)
            break;
        /* Connections nginx gave up on (its client left): forget them. */
        for (size_t i = p.n; rc > 0 && i-- > 0;) {
            if (pfd[2 + i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                close(p.items[i].fd);
                parker_remove(&p, i);
            }
        }
        if (rc > 0 && (pfd[0].revents & POLLIN))
            parker_take(&p, park_fd);
        /* Wake-ups: when the descriptor says so, and once a second anyway
         * (a waiter that lost its database reconnects from here). */
        if (waiter != NULL && hooks->waiter_poll != NULL &&
            (rc == 0 || wfd < 0 || (pfd[1].revents & POLLIN)))
            hooks->waiter_poll(waiter, parker_wake, &p);
        parker_hand_back(&p, resume_fd);
    }
    /* Stopping: every parked request goes back now (the workers answer with
     * what they know), or is closed if nobody is left to take it. */
    for (size_t i = 0; i < p.n; i++) {
        p.items[i].due = 1;
        p.items[i].ticket.reason = REQ_RESUMED_TIMEOUT;
    }
    parker_hand_back(&p, resume_fd);
    for (size_t i = 0; i < p.n; i++)
        close(p.items[i].fd);
    _exit(0);
}
