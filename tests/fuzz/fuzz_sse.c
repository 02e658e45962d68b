/*
 * fuzz_sse.c — the event-stream texts clients send back (common/sse.c):
 * Last-Event-ID values and stream tickets from hostile bytes.
 *
 * The input, cut at its first NUL, is offered as both. Whatever the bytes:
 * a cursor that parses is written back as exactly the input (one spelling
 * per value), and a ticket that splits is rebuilt byte for byte from its
 * parts, with the MAC's payload ending where its last dot is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    long long us, log;
    if (sse_cursor_parse(text, &us, &log) == 0) {
        char back[48];
        sse_cursor_format(us, log, back, sizeof(back));
        /* Leading zeros are another spelling of the same value: compare
         * the values, and the shape when there are none. */
        long long us2, log2;
        if (sse_cursor_parse(back, &us2, &log2) != 0 || us2 != us || log2 != log)
            abort();
        if (text[0] != '0' && strchr(text, '-')[1] != '0' && strcmp(back, text) != 0)
            abort();
    }
    sse_ticket_t t;
    if (sse_ticket_split(text, &t) == 0) {
        /* prefix "." workspace "." digits(expires) "." mac, nothing else. */
        size_t np = strlen(t.prefix), nw = strlen(t.workspace), head = np + 1 + nw + 1;
        if (np == 0 || nw == 0 || strncmp(text, t.prefix, np) != 0 || text[np] != '.' ||
            strncmp(text + np + 1, t.workspace, nw) != 0 || text[head - 1] != '.' ||
            t.payload_len <= head || text[t.payload_len] != '.')
            abort();
        long long v = 0;
        for (size_t i = head; i < t.payload_len; i++) {
            if (text[i] < '0' || text[i] > '9')
                abort();
            v = v * 10 + (text[i] - '0');
        }
        if (v != t.expires || strlen(t.mac) != SSE_TICKET_MAC_HEX ||
            strcmp(text + t.payload_len + 1, t.mac) != 0)
            abort();
    }
    free(text);
    return 0;
}
