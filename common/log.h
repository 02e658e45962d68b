/*
 * log.h — one line per event on stderr: time, program, pid, level, message.
 *
 * nginx, the API pool and the trainers all write to the terminal of
 * `make run` (or to var/log/ under `make start`), so every line names its
 * process. Messages are short and lowercase, detail after a colon.
 */
#ifndef TRAINYARD_LOG_H
#define TRAINYARD_LOG_H

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Sets the program name shown on each line and the minimum level. */
void log_init(const char *program, log_level_t min_level);

/* Parses "debug" | "info" | "warn" | "error"; returns -1 if unknown. */
int log_level_parse(const char *s, log_level_t *out);

void log_msg(log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
