/*
 * park.h — long waits without a worker (runtime-private; handlers use
 * req_park in request.h).
 *
 * A request that must wait for something slow (a training to finish, new
 * log lines) is parked: its worker hands the FastCGI connection, with a
 * ticket saying how to resume it, to the parker, a process of the pool
 * that holds any number of parked connections in one poll() and a
 * database LISTEN (through the application's waiter hooks). When the wait
 * ends (the ticket's wake key is notified, or its deadline passes) the
 * parker hands connection and ticket back through the pool's hand-off
 * channel; whichever worker is idle runs the route's handler again, as a
 * resumed request, and answers by writing the FastCGI records itself (the
 * request's BEGIN and PARAMS were consumed by the first worker's libfcgi,
 * whose stream state cannot move between processes). A thousand waiting
 * clients so cost a thousand file descriptors in one process, not a
 * thousand workers.
 *
 * Messages on both channels (SOCK_SEQPACKET) are one tag byte, then for
 * tickets the park_ticket_t and the request's CGI parameters as
 * NUL-separated "NAME=value" strings; the connection travels as SCM_RIGHTS.
 */
#ifndef TRAINYARD_PARK_H
#define TRAINYARD_PARK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "fcgi/server.h"

#define PARK_TAG_CONN 'c'   /* an idle kept connection changing worker */
#define PARK_TAG_PARK 'p'   /* worker -> parker: a request to hold */
#define PARK_TAG_RESUME 'r' /* parker -> workers: a request to resume */
#define PARK_MESSAGE_MAX (64 * 1024)
/* Below nginx's fastcgi_read_timeout where a route parks that long: Akkio's
 * synchronous create_model waits for trainings of up to 1800 s (its
 * location sets 3700 s); shorter waits (?wait=) cap themselves. */
#define PARK_MAX_SECONDS 3600.0

typedef struct park_ticket {
    int request_id;           /* FastCGI request id (nginx: always 1) */
    int keep_conn;            /* the BEGIN_REQUEST's keep-connection flag */
    double deadline;          /* CLOCK_MONOTONIC seconds (shared by the pool) */
    int reason;               /* REQ_RESUMED_WOKEN or REQ_RESUMED_TIMEOUT */
    long long workspace_id;   /* the caller, as authenticated the first time */
    char workspace_name[72];
    char key_prefix[40];
    char wake_key[96];
    char note[256];           /* what the handler needs to carry on */
    uint32_t env_len;         /* bytes of packed CGI parameters that follow */
} park_ticket_t;

/* Sends tag (+ ticket and env when t is not NULL) with fd attached.
 * Returns 0, or -1 (errno EAGAIN when the channel is full, EMSGSIZE when
 * the parameters are too large). The caller still closes its own fd. */
int park_send(int sock, char tag, int fd, const park_ticket_t *t, const char *env,
              size_t env_len);

/* Receives one message into buf (PARK_MESSAGE_MAX bytes). Returns 1 with
 * *tag and *fd set (and *t, *env, *env_len for tickets), 0 when the channel
 * is empty, -1 on a malformed message (its fd, if any, is closed). */
int park_recv(int sock, char *buf, char *tag, int *fd, park_ticket_t *t, const char **env,
              size_t *env_len);

/* Packs envp into out as NUL-separated strings; returns the length, or 0
 * when it does not fit in cap. */
size_t park_env_pack(char *const *envp, char *out, size_t cap);

/* Unpacks into a NULL-terminated array in the arena (strings copied). */
char **park_env_unpack(arena_t *arena, const char *env, size_t len);

/* A resumed request's answer, as FastCGI records written by hand. */
typedef struct park_out {
    int fd;
    int request_id;
    int failed;               /* the connection broke */
    size_t used;
    char buf[8192];
} park_out_t;

/* req_io_t.write for a resumed request: buffered FCGI_STDOUT records. */
int park_out_write(void *ctx, const void *buf, size_t n);
/* req_io_t.flush for a resumed request: sends what is buffered as a record. */
int park_out_flush(void *ctx);
/* Flushes, closes the stdout stream and ends the request. 0 or -1. */
int park_out_end(park_out_t *o);

/* The parker's life: serves until *stop. park_fd receives tickets,
 * resume_fd sends them back to the workers. Never returns. */
void park_run(int park_fd, int resume_fd, const server_hooks_t *hooks, void *app_config,
              volatile sig_atomic_t *stop) __attribute__((noreturn));

#endif
