/*
 * log.h — one line per event on stderr: time, program, pid, level, message.
 *
 * nginx, the API pool and the trainers all write to the terminal of
 * `make run` (or to var/log/ under `make start`), so every line names its
 * process. Messages are short and lowercase, detail after a colon.
 *
 * Two formats (TRAINYARD_LOG_FORMAT): text, as above, and json, one object
 * per line ({"time","program","pid","level","msg"} plus the context) for log
 * shippers. A context (the request id while a request is served, the job
 * id in a job's process) is added to every line until cleared, so a line
 * can be tied to nginx's access line or to a job without guessing by time.
 */
#ifndef TRAINYARD_LOG_H
#define TRAINYARD_LOG_H

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;
typedef enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format_t;

/* Sets the program name shown on each line and the minimum level. */
void log_init(const char *program, log_level_t min_level);

/* Parses "debug" | "info" | "warn" | "error"; returns -1 if unknown. */
int log_level_parse(const char *s, log_level_t *out);

/* Parses "text" | "json"; returns -1 if unknown. */
int log_format_parse(const char *s, log_format_t *out);
void log_set_format(log_format_t format);

/* Attaches key=value (e.g. "request_id") to every following line; a NULL
 * or empty value clears it. key must be a static string; value is copied
 * (up to 128 bytes). One context at a time: a process serves one request
 * or runs one job. */
void log_context_set(const char *key, const char *value);

void log_msg(log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
