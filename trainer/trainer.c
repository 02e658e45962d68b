/*
 * trainer.c — the supervisor loop (see trainer.h).
 *
 * State per slot: the child's pid, its three pipes (protocol, stdout,
 * stderr) with their line buffers, the latest progress, pending log lines,
 * and the kill/lease flags. The parent never touches XGBoost; it only
 * talks to PostgreSQL and to its children. Every database failure in the
 * loop is survivable: the connection is re-made by db_ensure() and LISTEN
 * re-issued when the connection generation changes; leases simply keep
 * ticking meanwhile (a long outage lets the reaper requeue the jobs), and
 * an outcome that could not be recorded stays on its slot until it can be.
 *
 * A child that dies by a signal nobody asked for (the OOM killer, an
 * operator's kill -9) gets its job retried while attempts remain; a child
 * that lost PostgreSQL hands its job back; only the job's own errors fail
 * it. Every write names the claim's attempt (db/jobs.h).
 */
#include "trainer/trainer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "db/jobs.h"
#include "trainer/child.h"
#include "trainer/proto.h"

#define SLOTS_MAX 64
#define LOG_PENDING_MAX 256

enum { FD_PROTO, FD_OUT, FD_ERR, FD_N };
static const char *const fd_stream[FD_N] = {"train", "stdout", "stderr"};

/* What a finished child leaves to record. Kept on the slot until it is
 * recorded, so that a database outage delays an outcome but never loses
 * it (and never turns it into a failure). */
typedef enum slot_action {
    ACT_NONE,
    ACT_FINISH,   /* failed / killed, with outcome_error */
    ACT_RELEASE,  /* hand back, the attempt not counted */
    ACT_RETRY     /* crashed: again while attempts remain */
} slot_action_t;

typedef struct slot {
    int used;
    arena_t *arena;                 /* job scope: the claimed job_t lives here */
    job_t job;
    pid_t pid;                      /* 0 once reaped */
    int fd[FD_N];                   /* read ends, -1 when closed */
    proto_linebuf_t lb[FD_N];
    double progress, estimate;
    char error[ERR_MESSAGE_MAX];    /* from an "E" line */
    int error_status;
    int kill_requested;
    double kill_sent;               /* monotonic time of SIGTERM, 0 if none */
    int sigkilled;
    int lease_lost;
    int release;                    /* shutting down: hand the job back */
    slot_action_t outcome;          /* what to record; kept while the db is away */
    job_state_t outcome_state;      /* for ACT_FINISH */
    char outcome_error[ERR_MESSAGE_MAX + 64]; /* for ACT_FINISH / ACT_RETRY */
    char *pending[LOG_PENDING_MAX]; /* log lines not yet stored (malloc'd) */
    const char *pending_stream[LOG_PENDING_MAX];
    size_t n_pending;
} slot_t;

typedef struct trainer {
    const trainer_config_t *cfg;
    db_t *db;
    unsigned listen_gen;            /* generation LISTEN was issued on */
    double reconnect_wait;          /* seconds until the next try while the db is down */
    int db_down;                    /* the last attempt to reach the db failed */
    slot_t slots[SLOTS_MAX];
    int n_slots;
    int wake[2];                    /* self-pipe written by signal handlers */
    char host[256];
    int want_claim;
    double next_claim, next_reap, next_heartbeat, next_seen;
    int stopping;
    double stop_deadline;
} trainer_t;

static volatile sig_atomic_t sig_stop;
static int sig_wake_fd = -1;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT)
        sig_stop = 1;
    if (sig_wake_fd >= 0) {
        char c = (char)sig;
        ssize_t ignored = write(sig_wake_fd, &c, 1);
        (void)ignored;
    }
    errno = saved;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- logs ----------------------------------------------------------------- */

static void slot_flush_logs(trainer_t *t, slot_t *s)
{
    if (s->n_pending == 0)
        return;
    err_t e;
    err_clear(&e);
    arena_t *a = arena_create(0);
    /* One insert per run of lines from the same stream keeps their order. */
    size_t i = 0;
    while (i < s->n_pending) {
        size_t j = i;
        while (j < s->n_pending && s->pending_stream[j] == s->pending_stream[i])
            j++;
        if (db_job_log_append(t->db, a, s->job.id, s->pending_stream[i],
                              (const char *const *)&s->pending[i], j - i, &e) != 0) {
            log_warn("job %s: could not store %zu log line(s): %s", s->job.id, j - i,
                     err_message(&e));
            err_clear(&e);
        }
        i = j;
    }
    arena_destroy(a);
    for (i = 0; i < s->n_pending; i++)
        free(s->pending[i]);
    s->n_pending = 0;
}

typedef struct line_ctx {
    trainer_t *t;
    slot_t *s;
    int which;
} line_ctx_t;

static void slot_add_log(trainer_t *t, slot_t *s, const char *stream, const char *line)
{
    if (s->n_pending == LOG_PENDING_MAX)
        slot_flush_logs(t, s);
    s->pending[s->n_pending] = strdup(line);
    if (s->pending[s->n_pending] == NULL)
        abort();
    s->pending_stream[s->n_pending++] = stream;
}

static void on_line(void *ctx, char *line)
{
    line_ctx_t *lc = ctx;
    slot_t *s = lc->s;
    if (lc->which != FD_PROTO) {
        slot_add_log(lc->t, s, fd_stream[lc->which], line);
        return;
    }
    proto_msg_t m;
    if (proto_parse(line, &m) != 0) {
        slot_add_log(lc->t, s, "train", line);
        return;
    }
    switch (m.kind) {
    case 'P':
        /* A job's first progress goes out at once, not at the next
         * heartbeat: a job that ends within a heartbeat (a 500-row table
         * converges in about a second) still shows it was under way. */
        if (s->progress <= 0 && m.fraction > 0)
            lc->t->next_heartbeat = 0;
        s->progress = m.fraction;
        s->estimate = m.estimate;
        break;
    case 'L':
        slot_add_log(lc->t, s, "train", m.text);
        break;
    case 'E':
        snprintf(s->error, sizeof(s->error), "%s", m.text);
        s->error_status = m.status;
        break;
    }
}

/* Reads what a pipe has; closes it at EOF. */
static void slot_read(trainer_t *t, slot_t *s, int which)
{
    char buf[16384];
    line_ctx_t lc = {t, s, which};
    for (;;) {
        ssize_t n = read(s->fd[which], buf, sizeof(buf));
        if (n > 0) {
            proto_linebuf_feed(&s->lb[which], buf, (size_t)n, on_line, &lc);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        proto_linebuf_flush(&s->lb[which], on_line, &lc);
        close(s->fd[which]);
        s->fd[which] = -1;
        return;
    }
}

/* --- children -------------------------------------------------------------- */

static void trainer_close_inherited(trainer_t *t, const slot_t *self)
{
    for (int i = 0; i < t->n_slots; i++) {
        const slot_t *o = &t->slots[i];
        if (!o->used || o == self)
            continue;
        for (int k = 0; k < FD_N; k++)
            if (o->fd[k] >= 0)
                close(o->fd[k]);
    }
    close(t->wake[0]);
    close(t->wake[1]);
    /* The parent's connection socket: close our copy without PQfinish,
     * which would send Terminate on the parent's session. */
    PGconn *pg = db_pg(t->db);
    if (pg != NULL && PQsocket(pg) >= 0)
        close(PQsocket(pg));
}

static int slot_spawn(trainer_t *t, slot_t *s)
{
    int p[FD_N][2];
    for (int k = 0; k < FD_N; k++) {
        if (pipe(p[k]) != 0) {
            log_error("pipe: %s", strerror(errno));
            for (int j = 0; j < k; j++)
                close(p[j][0]), close(p[j][1]);
            return -1;
        }
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        for (int k = 0; k < FD_N; k++)
            close(p[k][0]), close(p[k][1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(CHILD_EXIT_LOST);
        trainer_close_inherited(t, s);
        for (int k = 0; k < FD_N; k++)
            close(p[k][0]);
        dup2(p[FD_OUT][1], STDOUT_FILENO);
        dup2(p[FD_ERR][1], STDERR_FILENO);
        close(p[FD_OUT][1]);
        close(p[FD_ERR][1]);
        log_init("trainyard-job", LOG_INFO);
        /* Every line of the job's process names its job (the format,
         * text or json, is the trainer's, inherited). */
        log_context_set("job_id", s->job.id);
        if (s->job.request_id != NULL)
            log_info("created by request %s", s->job.request_id);
        child_args_t a = {t->cfg->database_url, t->cfg->trainer_id, &s->job, p[FD_PROTO][1],
                          t->cfg->store_margin, &t->cfg->child, &t->cfg->runner};
        int rc = trainer_child_run(&a);
        fflush(NULL);
        _exit(rc);
    }
    for (int k = 0; k < FD_N; k++) {
        close(p[k][1]);
        s->fd[k] = p[k][0];
        set_nonblock(s->fd[k]);
        s->lb[k].used = 0;
    }
    s->pid = pid;
    log_info("job %s: started (pid %d, attempt %d, %s)", s->job.id, (int)pid, s->job.attempts,
             job_state_name(s->job.state));
    return 0;
}

static void slot_free(slot_t *s)
{
    for (int k = 0; k < FD_N; k++)
        if (s->fd[k] >= 0)
            close(s->fd[k]);
    for (size_t i = 0; i < s->n_pending; i++)
        free(s->pending[i]);
    arena_destroy(s->arena);
    memset(s, 0, sizeof(*s));
    for (int k = 0; k < FD_N; k++)
        s->fd[k] = -1;
}

/* Records s->outcome. 0 when done (recorded, or refused because the claim
 * is no longer ours); -1 when the database could not be reached: keep the
 * slot and try again later. */
static int slot_record(trainer_t *t, slot_t *s)
{
    err_t e;
    err_clear(&e);
    const char *id = s->job.id, *me = t->cfg->trainer_id;
    int attempt = s->job.attempts, lost = 0, rc = 0;
    job_state_t after = s->outcome_state;
    switch (s->outcome) {
    case ACT_NONE:
        return 0;
    case ACT_FINISH:
        rc = db_job_finish(t->db, s->arena, id, me, attempt, s->outcome_state,
                           s->outcome_error, NULL, &lost, &e);
        break;
    case ACT_RELEASE:
        rc = db_job_release(t->db, s->arena, id, me, attempt, &e);
        after = JOB_QUEUED;
        break;
    case ACT_RETRY:
        rc = db_job_retry(t->db, s->arena, id, me, attempt, s->outcome_error, &after, &lost, &e);
        break;
    }
    if (rc != 0) {
        if (e.status == 503) {
            log_warn("job %s: could not record the outcome yet: %s (will retry)", id,
                     err_message(&e));
            return -1;
        }
        log_warn("job %s: could not record the outcome: %s (the reaper will see to it)", id,
                 err_message(&e));
    } else if (lost) {
        log_warn("job %s: claim no longer current (attempt %d); outcome not recorded", id,
                 attempt);
    } else if (s->outcome == ACT_RELEASE) {
        log_info("job %s: handed back", id);
    } else {
        log_info("job %s: %s%s%s", id, job_state_name(after),
                 after == JOB_QUEUED ? " again after: " : s->outcome_error[0] ? ": " : "",
                 s->outcome_error);
    }
    s->outcome = ACT_NONE;
    return 0;
}

static void slot_finish(slot_t *s, job_state_t state, const char *error)
{
    s->outcome = ACT_FINISH;
    s->outcome_state = state;
    snprintf(s->outcome_error, sizeof(s->outcome_error), "%s", error ? error : "");
}

/* The child has exited with status: decide what the job becomes, record
 * it (or keep it pending while the database is away), free the slot. */
static void slot_done(trainer_t *t, slot_t *s, int status)
{
    for (int k = 0; k < FD_N; k++)
        if (s->fd[k] >= 0)
            slot_read(t, s, k);
    slot_flush_logs(t, s);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == CHILD_EXIT_DONE) {
        log_info("job %s: succeeded", s->job.id);
    } else if (s->lease_lost) {
        log_warn("job %s: lease lost; result dropped", s->job.id);
    } else if (code == CHILD_EXIT_LOST) {
        log_warn("job %s: lease lost before the result was stored", s->job.id);
    } else if (s->kill_requested) {
        slot_finish(s, JOB_KILLED, "killed");
    } else if (s->release || code == CHILD_EXIT_RETRY) {
        /* Shutting down, or PostgreSQL went away under the child: not the
         * job's fault, so the attempt does not count. */
        s->outcome = ACT_RELEASE;
    } else if (WIFSIGNALED(status)) {
        /* Killed from outside (the OOM killer, an operator): the job may
         * well succeed on another try. A kill asked for through the API
         * arrives as kill_requested above, or wins inside db_job_retry. */
        s->outcome = ACT_RETRY;
        snprintf(s->outcome_error, sizeof(s->outcome_error),
                 "training process crashed (signal %d)", WTERMSIG(status));
    } else if (s->error[0] != '\0') {
        /* The child's own report ("E" line); the buffers are distinct
         * fields, copied whole (outcome_error is the larger). */
        slot_finish(s, JOB_FAILED, NULL);
        memcpy(s->outcome_error, s->error, sizeof(s->error));
    } else {
        char msg[64];
        snprintf(msg, sizeof(msg), "training process exited with status %d", code);
        slot_finish(s, JOB_FAILED, msg);
    }
    if (slot_record(t, s) == 0)
        slot_free(s);
    t->want_claim = 1;
}

/* Outcomes kept while the database was away: record them now. */
static void trainer_record_pending(trainer_t *t)
{
    for (int i = 0; i < t->n_slots; i++) {
        slot_t *s = &t->slots[i];
        if (s->used && s->pid == 0 && s->outcome != ACT_NONE && slot_record(t, s) == 0) {
            slot_free(s);
            t->want_claim = 1;
        }
    }
}

static void slot_kill(slot_t *s, const char *why)
{
    if (s->pid <= 0 || s->kill_sent > 0)
        return;
    log_info("job %s: stopping child %d (%s)", s->job.id, (int)s->pid, why);
    kill(s->pid, SIGTERM);
    s->kill_sent = util_now_monotonic();
}

static void trainer_reap_children(trainer_t *t)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (int i = 0; i < t->n_slots; i++) {
            if (t->slots[i].used && t->slots[i].pid == pid) {
                t->slots[i].pid = 0;
                slot_done(t, &t->slots[i], status);
                break;
            }
        }
    }
}

/* --- database side --------------------------------------------------------- */

static int trainer_listen(trainer_t *t, err_t *e)
{
    if (db_ensure(t->db, e) != 0)
        return -1;
    if (t->listen_gen == db_generation(t->db))
        return 0;
    if (db_exec(t->db, "LISTEN " JOBS_CHANNEL "; LISTEN " KILL_CHANNEL, e) != 0)
        return -1;
    t->listen_gen = db_generation(t->db);
    t->want_claim = 1; /* notifications may have been missed while away */
    /* Leases kept ticking while the database was away (a restart): give
     * every trainer one lease to renew its own before reaping any, so that
     * jobs whose trainer is alive carry on instead of being requeued. */
    double grace = util_now_monotonic() + t->cfg->lease;
    if (t->next_reap < grace)
        t->next_reap = grace;
    return 0;
}

static slot_t *trainer_free_slot(trainer_t *t)
{
    for (int i = 0; i < t->n_slots; i++)
        if (!t->slots[i].used)
            return &t->slots[i];
    return NULL;
}

static void trainer_claim(trainer_t *t)
{
    slot_t *s;
    while (!t->stopping && (s = trainer_free_slot(t)) != NULL) {
        err_t e;
        err_clear(&e);
        s->arena = arena_create(4096);
        int got = 0;
        if (db_job_claim(t->db, s->arena, t->cfg->trainer_id, t->cfg->lease, &s->job, &got,
                         &e) != 0) {
            log_warn("claim: %s", err_message(&e));
            arena_destroy(s->arena);
            s->arena = NULL;
            return;
        }
        if (!got) {
            arena_destroy(s->arena);
            s->arena = NULL;
            return;
        }
        s->used = 1;
        s->progress = 0;
        s->estimate = -1;
        if (slot_spawn(t, s) != 0) {
            slot_finish(s, JOB_FAILED, "could not start a training process");
            if (slot_record(t, s) == 0)
                slot_free(s);
            return;
        }
    }
}

static void trainer_heartbeat(trainer_t *t)
{
    for (int i = 0; i < t->n_slots; i++) {
        slot_t *s = &t->slots[i];
        if (!s->used || s->pid <= 0 || s->lease_lost)
            continue;
        slot_flush_logs(t, s);
        err_t e;
        err_clear(&e);
        int kill_req = 0, lost = 0;
        if (db_job_heartbeat(t->db, s->arena, s->job.id, t->cfg->trainer_id, s->job.attempts,
                             t->cfg->lease, s->progress, s->estimate, &kill_req, &lost,
                             &e) != 0) {
            log_warn("job %s: heartbeat failed: %s", s->job.id, err_message(&e));
            continue;
        }
        if (lost) {
            /* Someone else owns it now (reaped, or finished by our own
             * child a moment ago): stop working on it, write nothing. */
            s->lease_lost = 1;
            if (s->pid > 0) {
                kill(s->pid, SIGKILL);
                s->sigkilled = 1;
            }
        } else if (kill_req && !s->kill_requested) {
            s->kill_requested = 1;
            slot_kill(s, "kill requested");
        }
    }
}

static void trainer_on_notify(trainer_t *t, const char *channel, const char *payload)
{
    if (strcmp(channel, JOBS_CHANNEL) == 0) {
        t->want_claim = 1;
        return;
    }
    for (int i = 0; i < t->n_slots; i++) {
        slot_t *s = &t->slots[i];
        if (s->used && s->pid > 0 && strcmp(s->job.id, payload) == 0 && !s->kill_requested) {
            s->kill_requested = 1;
            slot_kill(s, "kill requested");
        }
    }
}

static void trainer_drain_notifies(trainer_t *t)
{
    PGconn *pg = db_pg(t->db);
    if (pg == NULL)
        return;
    if (PQconsumeInput(pg) == 0) {
        err_t e;
        err_clear(&e);
        log_warn("database connection lost; reconnecting");
        db_exec(t->db, "SELECT 1", &e); /* marks the connection dead */
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        trainer_on_notify(t, n->relname, n->extra);
        PQfreemem(n);
    }
}

static void trainer_periodic(trainer_t *t, double now)
{
    err_t e;
    err_clear(&e);
    if (now >= t->next_heartbeat) {
        trainer_heartbeat(t);
        t->next_heartbeat = now + t->cfg->heartbeat;
    }
    if (now >= t->next_seen) {
        arena_t *a = arena_create(0);
        if (db_trainer_seen(t->db, a, t->cfg->trainer_id, t->host, (int)getpid(),
                            t->n_slots, &e) != 0) {
            log_warn("could not check in: %s", err_message(&e));
            err_clear(&e);
        }
        arena_destroy(a);
        t->next_seen = now + 5;
    }
    if (now >= t->next_reap) {
        arena_t *a = arena_create(0);
        if (db_job_reap(t->db, a, NULL, NULL, &e) != 0)
            log_warn("reaper: %s", err_message(&e));
        arena_destroy(a);
        t->next_reap = now + t->cfg->reap_interval;
        trainer_housekeep(t->db, &t->cfg->housekeep, now);
    }
    if (now >= t->next_claim) {
        t->want_claim = 1;
        t->next_claim = now + t->cfg->poll_interval;
    }
    for (int i = 0; i < t->n_slots; i++) {
        slot_t *s = &t->slots[i];
        if (s->used && s->pid > 0 && s->kill_sent > 0 && !s->sigkilled &&
            now - s->kill_sent >= t->cfg->kill_grace) {
            log_warn("job %s: child %d ignored SIGTERM; killing", s->job.id, (int)s->pid);
            kill(s->pid, SIGKILL);
            s->sigkilled = 1;
        }
    }
}

static int trainer_busy(const trainer_t *t)
{
    for (int i = 0; i < t->n_slots; i++)
        if (t->slots[i].used)
            return 1;
    return 0;
}

static void trainer_begin_stop(trainer_t *t, double now)
{
    t->stopping = 1;
    t->stop_deadline = now + t->cfg->shutdown_grace;
    log_info("stopping: no new jobs; waiting up to %.0f s for running ones", t->cfg->shutdown_grace);
}

static void trainer_force_stop(trainer_t *t)
{
    for (int i = 0; i < t->n_slots; i++) {
        slot_t *s = &t->slots[i];
        if (s->used && s->pid == 0 && s->outcome != ACT_NONE) {
            /* Out of time with the database still away: the lease expires
             * and the reaper hands the job on. */
            log_warn("job %s: stopping with its outcome unrecorded", s->job.id);
            slot_free(s);
            continue;
        }
        if (s->used && s->pid > 0 && !s->release) {
            s->release = 1;
            kill(s->pid, SIGKILL);
            s->sigkilled = 1;
        }
    }
}

int trainer_run(const trainer_config_t *cfg)
{
    static trainer_t tr;
    trainer_t *t = &tr;
    memset(t, 0, sizeof(*t));
    t->cfg = cfg;
    t->n_slots = cfg->slots < 1 ? 1 : (cfg->slots > SLOTS_MAX ? SLOTS_MAX : cfg->slots);
    for (int i = 0; i < SLOTS_MAX; i++)
        for (int k = 0; k < FD_N; k++)
            t->slots[i].fd[k] = -1;
    gethostname(t->host, sizeof(t->host) - 1);
    if (pipe(t->wake) != 0)
        return 1;
    set_nonblock(t->wake[0]);
    set_nonblock(t->wake[1]);
    sig_wake_fd = t->wake[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    t->db = db_new(cfg->database_url);
    log_info("trainer %s: %d slot(s), lease %.1f s", cfg->trainer_id, t->n_slots, cfg->lease);
    t->want_claim = 1;
    for (;;) {
        double now = util_now_monotonic();
        if (sig_stop && !t->stopping)
            trainer_begin_stop(t, now);
        if (t->stopping && !trainer_busy(t))
            break;
        if (t->stopping && now >= t->stop_deadline)
            trainer_force_stop(t);

        err_t e;
        err_clear(&e);
        int connected = trainer_listen(t, &e) == 0;
        if (!connected && !t->db_down) {
            log_warn("database unavailable: %s; retrying with backoff", err_message(&e));
            t->db_down = 1;
            t->reconnect_wait = 0.25;
        } else if (connected && t->db_down) {
            log_info("database connection restored");
            t->db_down = 0;
        }
        if (connected) {
            trainer_record_pending(t);
            trainer_drain_notifies(t);
            if (t->want_claim && !t->stopping) {
                t->want_claim = 0;
                trainer_claim(t);
            }
            trainer_periodic(t, util_now_monotonic());
        }

        struct pollfd pfd[2 + SLOTS_MAX * FD_N];
        slot_t *owner[2 + SLOTS_MAX * FD_N];
        int which[2 + SLOTS_MAX * FD_N];
        int n = 0;
        pfd[n] = (struct pollfd){.fd = t->wake[0], .events = POLLIN};
        owner[n++] = NULL;
        PGconn *pg = db_pg(t->db);
        if (connected && pg != NULL) {
            pfd[n] = (struct pollfd){.fd = PQsocket(pg), .events = POLLIN};
            owner[n++] = NULL;
        }
        for (int i = 0; i < t->n_slots; i++) {
            for (int k = 0; k < FD_N; k++) {
                if (t->slots[i].used && t->slots[i].fd[k] >= 0) {
                    pfd[n] = (struct pollfd){.fd = t->slots[i].fd[k], .events = POLLIN};
                    owner[n] = &t->slots[i];
                    which[n++] = k;
                }
            }
        }
        double wait = t->cfg->heartbeat;
        if (connected) {
            double until_claim = t->next_claim - util_now_monotonic();
            if (until_claim < wait)
                wait = until_claim;
            if (t->want_claim && !t->stopping && trainer_free_slot(t))
                wait = 0;
        } else {
            /* Down: wake for children's output, but try the database only
             * with a growing pause (0.25 s doubling to 5 s), never in a spin. */
            wait = t->reconnect_wait;
            t->reconnect_wait = t->reconnect_wait * 2 > 5.0 ? 5.0 : t->reconnect_wait * 2;
        }
        if (wait < 0)
            wait = 0;
        int rc = poll(pfd, (nfds_t)n, (int)(wait * 1000.0));
        if (rc < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; rc > 0 && i < n; i++) {
            if (pfd[i].revents == 0)
                continue;
            if (pfd[i].fd == t->wake[0]) {
                char buf[64];
                while (read(t->wake[0], buf, sizeof(buf)) > 0)
                    ;
            } else if (owner[i] != NULL && owner[i]->used && owner[i]->fd[which[i]] == pfd[i].fd) {
                slot_read(t, owner[i], which[i]);
            }
        }
        trainer_reap_children(t);
    }
    db_close(t->db);
    log_info("trainer %s: stopped", cfg->trainer_id);
    return 0;
}
