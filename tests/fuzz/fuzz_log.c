/*
 * fuzz_log.c — log lines (common/log.c) from hostile messages and contexts.
 *
 * The first byte picks the format (text or json) and whether a context is
 * set; the rest is split at the first NUL into the context value and the
 * message (a request path or a client's value quoted into a message is
 * exactly this). Whatever the bytes: exactly one line comes out, ending in
 * '\n' with no other control byte, and in json mode it parses as one JSON
 * object whose "msg" is a string. stderr goes to a memfd that is read back,
 * only around the one log call: libFuzzer reports its progress and final
 * statistics on the same stderr, which must reach the run's log.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink = -1;
static int real_stderr = -1;

static void fail(const char *why, const char *out)
{
    fprintf(stderr, "fuzz_log: %s: %s\n", why, out ? out : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (sink < 0) {
        real_stderr = dup(STDERR_FILENO);
        sink = memfd_create("fuzz-log", 0);
        if (real_stderr < 0 || sink < 0)
            abort();
    }
    int json = data[0] & 1, with_ctx = (data[0] >> 1) & 1;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *ctx = text, *msg = text + strlen(text);
    if (msg < text + size - 1)
        msg++; /* past the NUL: the message */
    else
        msg = text;
    log_init("fuzz", LOG_DEBUG);
    log_set_format(json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    log_context_set("request_id", with_ctx ? ctx : NULL);
    if (ftruncate(sink, 0) != 0 || lseek(sink, 0, SEEK_SET) != 0 ||
        dup2(sink, STDERR_FILENO) < 0)
        abort();
    log_info("%s", msg);
    if (dup2(real_stderr, STDERR_FILENO) < 0)
        abort();
    off_t len = lseek(sink, 0, SEEK_CUR);
    char *out = malloc((size_t)len + 1);
    if (pread(sink, out, (size_t)len, 0) != len)
        abort();
    out[len] = '\0';
    if (len < 2 || out[len - 1] != '\n')
        fail("not one line", out);
    for (off_t i = 0; i < len - 1; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            fail("a control byte inside the line", out); /* one event, one line */
    if (json) {
        json_object *doc = json_tokener_parse(out);
        json_object *m = NULL;
        if (doc == NULL || !json_object_is_type(doc, json_type_object) ||
            !json_object_object_get_ex(doc, "msg", &m) || !json_object_is_type(m, json_type_string))
            fail("not one JSON object with a msg", out);
        json_object_put(doc);
    }
    log_context_set("request_id", NULL);
    free(out);
    free(text);
    return 0;
}
