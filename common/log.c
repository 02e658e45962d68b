/*
 * log.c — stderr logging (see log.h). Each line is formatted into one buffer
 * and written with a single write(2) so that lines from several processes
 * sharing the terminal do not interleave.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static const char *log_program = "trainyard";
static log_level_t log_min = LOG_INFO;
static log_format_t log_format = LOG_FORMAT_TEXT;
static const char *log_ctx_key;     /* NULL: no context */
static char log_ctx_value[129];

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *program, log_level_t min_level)
{
    log_program = program;
    log_min = min_level;
}

int log_level_parse(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, log_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_format_parse(const char *s, log_format_t *out)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

void log_set_format(log_format_t format)
{
    log_format = format;
}

void log_context_set(const char *key, const char *value)
{
    if (value == NULL || *value == '\0') {
        log_ctx_key = NULL;
        return;
    }
    log_ctx_key = key;
    snprintf(log_ctx_value, sizeof(log_ctx_value), "%s", value);
    /* Callers pass checked ids, but a line must stay one line whatever. */
    for (char *p = log_ctx_value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* Appends s to out[*n..cap) as the inside of a JSON string: quotes,
 * backslashes and control bytes escaped; other bytes as they are (a
 * message is ours, and quoted client text was made safe by its caller or
 * is replaced below). Leaves room for the closing of the line. */
static void log_json_str(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    /* A JSON reader rejects a line with invalid UTF-8 (a client's bytes
     * quoted into a message): such a message keeps its ASCII only. */
    int ascii_only = !util_utf8_valid(s, len);
    for (size_t i = 0; i < len && *n + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 && ascii_only) {
            out[(*n)++] = '?';
        } else if (c >= 0xc0 && *n + 12 >= cap) {
            break; /* no room for the whole character: stop before it */
        } else if (c == '"' || c == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            *n += (size_t)snprintf(out + *n, cap - *n, "\\u%04x", c);
        } else {
            out[(*n)++] = (char)c;
        }
    }
}

/* The JSON form of one event: {"time","program","pid","level",<ctx>,"msg"}. */
static size_t log_json_line(char *out, size_t cap, const char *stamp, log_level_t level,
                            const char *msg, size_t msg_len)
{
    size_t n = (size_t)snprintf(out, cap, "{\"time\":\"%s\",\"program\":\"%s\",\"pid\":%d,"
                                          "\"level\":\"%s\",",
                                stamp, log_program, (int)getpid(), log_names[level]);
    if (log_ctx_key != NULL && n < cap) {
        n += (size_t)snprintf(out + n, cap - n, "\"%s\":\"", log_ctx_key);
        if (n < cap)
            log_json_str(out, cap, &n, log_ctx_value, strlen(log_ctx_value));
        if (n + 2 < cap)
            out[n++] = '"', out[n++] = ',';
    }
    if (n + 8 < cap)
        n += (size_t)snprintf(out + n, cap - n, "\"msg\":\"");
    if (n < cap)
        log_json_str(out, cap, &n, msg, msg_len);
    if (n + 3 > cap)
        n = cap - 3;
    out[n++] = '"';
    out[n++] = '}';
    return n;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000), log_program,
                     (int)getpid(), log_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int head = n;
    if (n > 0 && (size_t)n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    /* One event, one line: a request path or a value quoted into a message
     * may hold newlines or terminal escapes (log injection); they show as
     * '?' instead. */
    for (int i = head > 0 ? head : 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    if (log_format == LOG_FORMAT_JSON) {
        char stamp[64];
        snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (long)(tv.tv_usec / 1000));
        char json[3072];
        size_t jn = log_json_line(json, sizeof(json) - 1, stamp, level, line + head,
                                  (size_t)(n - head));
        json[jn++] = '\n';
        ssize_t w = write(STDERR_FILENO, json, jn);
        (void)w; /* nowhere left to report a failed log write */
        return;
    }
    if (log_ctx_key != NULL && (size_t)n + 8 < sizeof(line)) {
        int k = snprintf(line + n, sizeof(line) - (size_t)n, " %s=%s", log_ctx_key, log_ctx_value);
        if (k > 0)
            n = (size_t)(n + k) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + k;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failed log write */
}
