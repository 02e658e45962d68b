/*
 * waiter.h — the API pool's wake-ups for parked requests (fcgi/park.h):
 * the parker process LISTENs on trainyard_job_done (sql/0020) and wakes the
 * key "job:<id>" when that job reaches a final state.
 */
#ifndef TRAINYARD_WAITER_H
#define TRAINYARD_WAITER_H

/* server_hooks_t.waiter_* (config is the app_config_t). */
void *app_waiter_init(void *config);
int app_waiter_fd(void *waiter);
void app_waiter_poll(void *waiter, void (*wake)(void *ctx, const char *key), void *ctx);

#endif
