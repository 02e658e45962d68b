/*
 * proto.h — what a training child tells its trainer, one line at a time.
 *
 * The child writes lines on a pipe:
 *   "P <fraction> <estimate_seconds>"   progress (estimate < 0: unknown)
 *   "L <text>"                          a log line for the job's log
 *   "E <http status> <message>"         the error the job fails with
 * and its stdout/stderr go to two more pipes, stored as log lines too. The
 * line buffer splits any byte stream into lines, cutting overlong ones, so
 * a child printing garbage cannot make the parent hold unbounded memory.
 * Pure code: no I/O here, so it is unit-tested on its own.
 */
#ifndef TRAINYARD_TRAINER_PROTO_H
#define TRAINYARD_TRAINER_PROTO_H

#include <stddef.h>

#define PROTO_LINE_MAX 4096

typedef struct proto_msg {
    char kind;           /* 'P', 'L' or 'E' */
    double fraction;     /* P */
    double estimate;     /* P */
    int status;          /* E */
    const char *text;    /* L, E: points into the parsed line */
} proto_msg_t;

/* Parses one line (without its newline). -1 if malformed. */
int proto_parse(const char *line, proto_msg_t *out);

/* Formats a message with its trailing newline into buf; returns the length
 * (always < n; the text is cut to fit and its newlines become spaces). */
size_t proto_format_progress(char *buf, size_t n, double fraction, double estimate);
size_t proto_format_log(char *buf, size_t n, const char *text);
size_t proto_format_error(char *buf, size_t n, int status, const char *message);

/* Accumulates bytes and hands out complete lines. */
typedef struct proto_linebuf {
    char buf[PROTO_LINE_MAX + 1];
    size_t used;
} proto_linebuf_t;

/* Feeds n bytes, calling fn(ctx, line) for every complete line (NUL
 * terminated, newline and a trailing CR removed, invalid UTF-8 and control
 * characters replaced by '?'). Lines longer than PROTO_LINE_MAX are handed
 * out in pieces. */
void proto_linebuf_feed(proto_linebuf_t *lb, const char *data, size_t n,
                        void (*fn)(void *ctx, char *line), void *ctx);

/* Hands out what is left (a last line without newline), if anything. */
void proto_linebuf_flush(proto_linebuf_t *lb, void (*fn)(void *ctx, char *line), void *ctx);

/* Replaces control characters and bytes that are not valid UTF-8 by '?'. */
void proto_sanitize(char *s);

#endif
