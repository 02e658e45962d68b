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

static const char *log_program = "trainyard";
static log_level_t log_min = LOG_INFO;

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
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failed log write */
}
