/*
 * app.c — worker state and the runtime hooks (see app.h).
 *
 * Authentication lives here because every dialect shares it: the key comes
 * as `X-API-Key: <key>` or `Authorization: Bearer <key>`, is checked against
 * its stored hash, and a failure is rendered in the route's dialect — 401
 * everywhere except the Strapi collection, whose documented answer to a
 * missing or bad token is 403.
 */
#include "handlers/app.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "db/auth.h"
#include "fcgi/router.h"

void *app_init(void *config)
{
    const app_config_t *cfg = config;
    app_t *app = calloc(1, sizeof(*app));
    if (app == NULL)
        return NULL;
    app->config = cfg;
    app->db = db_new(cfg->database_url);
    app->models = model_cache_new(cfg->model_cache_bytes);
    err_t e;
    err_clear(&e);
    if (db_ensure(app->db, &e) != 0)
        log_warn("database not reachable yet: %s", err_message(&e));
    return app;
}

void app_fini(void *p)
{
    app_t *app = p;
    if (app == NULL)
        return;
    model_cache_free(app->models);
    db_close(app->db);
    free(app);
}

int app_ensure_db(request_t *r, err_t *e)
{
    app_t *app = app_of(r);
    if (db_ensure(app->db, e) == 0)
        return 0;
    app->metrics.db_unavailable++;
    if (e->retry_after[0] == '\0')
        memcpy(e->retry_after, "1", 2);
    return -1;
}

/* The status and wording of "who are you?" in the route's dialect. */
static int auth_fail(const request_t *r, err_t *e, const char *why)
{
    err_clear(e);
    if (r->route != NULL && r->route->dialect == DIALECT_STRAPI)
        return err_set(e, 403, "forbidden", "Forbidden: %s", why);
    return err_set(e, 401, "unauthorized", "%s", why);
}

int app_authenticate_key(request_t *r, const char *key, err_t *e)
{
    if (key == NULL || *key == '\0')
        return auth_fail(r, e, "missing API key: send it as X-API-Key or Authorization: Bearer");
    err_t check;
    err_clear(&check);
    if (db_key_check(app_of(r)->db, r->arena, key, &r->auth, &check) != 0) {
        if (check.status == 503 || check.status >= 500) {
            *e = check;
            return -1;
        }
        return auth_fail(r, e, "invalid or revoked API key");
    }
    return 0;
}

int app_authenticate(request_t *r, err_t *e)
{
    const char *key = req_header(r, "X-API-Key");
    if (key == NULL || *key == '\0') {
        const char *authz = req_header(r, "Authorization");
        if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
            key = authz + 7;
            while (*key == ' ')
                key++;
        }
    }
    if ((key == NULL || *key == '\0') && r->route != NULL &&
        (r->route->flags & ROUTE_KEY_IN_BODY))
        key = req_query(r, "api_key");
    return app_authenticate_key(r, key, e);
}

void app_after_request(request_t *r, int status, double seconds)
{
    app_t *app = app_of(r);
    if (app == NULL)
        return;
    app->metrics.requests++;
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        app->metrics.by_class[cls]++;
    app->metrics.seconds_total += seconds;
}
