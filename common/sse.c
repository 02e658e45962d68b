/*
 * sse.c — event ids and stream tickets, parsed strictly (see sse.h).
 *
 * Both come back from clients: an EventSource returns whatever id it last
 * saw, and a ticket travels in a query string. Every byte is checked
 * against the one shape we write; numbers are read digit by digit with an
 * overflow check (strtoll would accept signs, spaces and saturate).
 */
#include "common/sse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

void sse_cursor_format(long long us, long long log_after, char *out, size_t n)
{
    snprintf(out, n, "%lld-%lld", us < 0 ? 0 : us, log_after < 0 ? 0 : log_after);
}

/* Reads 1..18 decimal digits from *p (never more: no overflow). */
static int sse_number(const char **p, long long *out)
{
    long long v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9') {
        if (++digits > 18)
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    if (digits == 0)
        return -1;
    *out = v;
    return 0;
}

int sse_cursor_parse(const char *text, long long *us, long long *log_after)
{
    const char *p = text;
    long long a, b;
    if (text == NULL || sse_number(&p, &a) != 0 || *p++ != '-' || sse_number(&p, &b) != 0 ||
        *p != '\0')
        return -1;
    *us = a;
    *log_after = b;
    return 0;
}

static int sse_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int sse_is_name(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int sse_ticket_split(const char *ticket, sse_ticket_t *out)
{
    if (ticket == NULL || strlen(ticket) > SSE_TICKET_MAX)
        return -1;
    sse_ticket_t t;
    memset(&t, 0, sizeof(t));
    const char *p = ticket;
    size_t n = 0;
    while (sse_is_hex(*p) && n < sizeof(t.prefix) - 1)
        t.prefix[n++] = *p++;
    if (n == 0 || *p++ != '.')
        return -1;
    n = 0;
    while (sse_is_name(*p) && n < 64)
        t.workspace[n++] = *p++;
    if (n == 0 || *p++ != '.')
        return -1;
    if (sse_number(&p, &t.expires) != 0)
        return -1;
    t.payload_len = (size_t)(p - ticket);
    if (*p++ != '.')
        return -1;
    for (n = 0; n < SSE_TICKET_MAC_HEX; n++) {
        if (!sse_is_hex(p[n]))
            return -1;
        t.mac[n] = p[n];
    }
    if (p[SSE_TICKET_MAC_HEX] != '\0')
        return -1;
    *out = t;
    return 0;
}
