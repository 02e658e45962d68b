/*
 * progress.h — a one-line progress bar on the terminal, with rate and ETA.
 *
 * Drawn on stderr, and only when stderr is a terminal and the output was
 * not asked for as JSON: a script reading our output, or a log file, must
 * never receive carriage returns and half-drawn bars. Redraws are limited
 * to ten a second; the bar fits the terminal's width.
 */
#ifndef TRAINYARD_CLI_PROGRESS_H
#define TRAINYARD_CLI_PROGRESS_H

typedef struct cli_progress {
    int enabled;          /* 0: every call is a no-op */
    int bytes;            /* amounts are bytes: show sizes and a rate */
    char label[32];       /* what is moving: "upload", "training" */
    double started;       /* monotonic seconds at begin */
    double last_draw;     /* monotonic seconds of the last redraw */
    int drawn;            /* a line is on screen that end must finish */
    int finished;         /* 100% was drawn: later updates change nothing */
} cli_progress_t;

/* Whether bars are wanted: stderr is a terminal, TERM is not "dumb", the
 * output is not JSON. TRAINYARD_PROGRESS=0 turns them off, =1 forces them
 * (for tests that look at the bar through a pipe). */
int cli_progress_wanted(int json);

void cli_progress_begin(cli_progress_t *p, const char *label, int enabled, int bytes);

/* done of total (total <= 0: unknown, no percentage); eta in seconds, or
 * < 0 to compute it from the rate so far; note: a short word ("queued",
 * "running") or NULL. */
void cli_progress_update(cli_progress_t *p, double done, double total, double eta,
                         const char *note);

/* Finishes the line (a newline after the last draw), if one was drawn. */
void cli_progress_end(cli_progress_t *p);

/* "1.5 MB" style, into buf. */
const char *cli_progress_size(double bytes, char *buf, unsigned n);

#endif
