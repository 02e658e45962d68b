/*
 * sse.h — the texts of the live event stream (handlers/events.c) that
 * come back from clients and so are parsed here, by hand: the event id a
 * reconnecting EventSource returns in Last-Event-ID, and the parts of a
 * stream ticket. Pure functions, no I/O (fuzzed by tests/fuzz/fuzz_sse.c).
 */
#ifndef TRAINYARD_SSE_H
#define TRAINYARD_SSE_H

#include <stddef.h>

/* An event id: "<microseconds of the last change seen>-<last log line>",
 * two non-negative decimal integers. Writes at most n bytes (n >= 48
 * always fits). */
void sse_cursor_format(long long us, long long log_after, char *out, size_t n);

/* Parses an id sse_cursor_format wrote: 0, or -1 for anything else
 * (nothing is written then). */
int sse_cursor_parse(const char *text, long long *us, long long *log_after);

#define SSE_TICKET_MAX 256
#define SSE_TICKET_MAC_HEX 64

/* A ticket: "<key prefix>.<workspace>.<expiry epoch s>.<64 hex of MAC>";
 * the prefix is [0-9a-f]{1,31}, the workspace [A-Za-z0-9_-]{1,64}. */
typedef struct sse_ticket {
    char prefix[32];
    char workspace[72];
    long long expires;
    char mac[SSE_TICKET_MAC_HEX + 1];
    size_t payload_len;       /* bytes before the last '.': what the MAC covers */
} sse_ticket_t;

/* Splits and checks the shape of a ticket: 0 with *out, or -1. */
int sse_ticket_split(const char *ticket, sse_ticket_t *out);

#endif
