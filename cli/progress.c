/*
 * progress.c — the terminal progress bar (see progress.h).
 *
 * A bar is one line redrawn in place with "\r" and cleared to the end
 * ("\033[K"), so a shorter redraw leaves no debris. Everything goes to
 * stderr, which is unbuffered, in one fputs per redraw.
 */
#include "cli/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MIN_REDRAW 0.1

static double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_progress_wanted(int json)
{
    const char *force = getenv("TRAINYARD_PROGRESS");
    if (force != NULL && strcmp(force, "0") == 0)
        return 0;
    if (force != NULL && strcmp(force, "1") == 0)
        return 1;
    const char *term = getenv("TERM");
    return !json && isatty(STDERR_FILENO) && !(term != NULL && strcmp(term, "dumb") == 0);
}

const char *cli_progress_size(double bytes, char *buf, unsigned n)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        u++;
    }
    snprintf(buf, n, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

void cli_progress_begin(cli_progress_t *p, const char *label, int enabled, int bytes)
{
    memset(p, 0, sizeof(*p));
    p->enabled = enabled;
    p->bytes = bytes;
    snprintf(p->label, sizeof(p->label), "%s", label);
    p->started = progress_now();
}

static int progress_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

void cli_progress_update(cli_progress_t *p, double done, double total, double eta,
                         const char *note)
{
    /* libcurl reports 0 of 0 before it knows the size: nothing to show yet. */
    if (!p->enabled || (p->bytes && done <= 0 && total <= 0))
        return;
    double now = progress_now();
    int final = total > 0 && done >= total;
    if ((p->drawn && !final && now - p->last_draw < PROGRESS_MIN_REDRAW) || p->finished)
        return;
    p->finished = final;
    p->last_draw = now;
    double elapsed = now - p->started;
    double frac = total > 0 ? done / total : 0;
    if (frac > 1)
        frac = 1;
    if (eta < 0 && total > 0 && done > 0 && elapsed > 0.5)
        eta = elapsed * (total - done) / done;
    /* The text after the bar: percent, amounts and rate, ETA. */
    char tail[160], a[24], b[24], r[24];
    int k = 0;
    tail[0] = '\0';
    if (total > 0)
        k = snprintf(tail, sizeof(tail), " %3.0f%%", frac * 100.0);
    if (p->bytes) {
        cli_progress_size(done, a, sizeof(a));
        cli_progress_size(elapsed > 0 ? done / elapsed : 0, r, sizeof(r));
        if (total > 0)
            k += snprintf(tail + k, sizeof(tail) - (size_t)k, "  %s/%s  %s/s", a,
                          cli_progress_size(total, b, sizeof(b)), r);
        else
            k += snprintf(tail + k, sizeof(tail) - (size_t)k, "  %s  %s/s", a, r);
    }
    if (note != NULL && *note)
        k += snprintf(tail + k, sizeof(tail) - (size_t)k, "  %s", note);
    if (final)
        k += snprintf(tail + k, sizeof(tail) - (size_t)k, "  %.0fs", elapsed);
    else if (eta >= 0)
        k += snprintf(tail + k, sizeof(tail) - (size_t)k, "  ETA %d:%02d", (int)eta / 60,
                      (int)eta % 60);
    (void)k;
    int width = progress_width() - 1;
    int bar = width - (int)strlen(p->label) - (int)strlen(tail) - 3;
    if (bar > 40)
        bar = 40;
    char line[512];
    int n = snprintf(line, sizeof(line), "\r%s ", p->label);
    if (bar >= 10 && total > 0) {
        int fill = (int)(frac * bar + 0.5);
        line[n++] = '[';
        for (int i = 0; i < bar; i++)
            line[n++] = i < fill ? '#' : '-';
        line[n++] = ']';
    }
    snprintf(line + n, sizeof(line) - (size_t)n, "%s\033[K", tail);
    fputs(line, stderr);
    p->drawn = 1;
}

void cli_progress_end(cli_progress_t *p)
{
    if (p->enabled && p->drawn)
        fputs("\n", stderr);
    p->drawn = 0;
}
