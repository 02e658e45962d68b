/*
 * app.c — worker state and the runtime hooks (see app.h).
 *
 * Authentication lives here because every dialect shares it: the key comes
 * as `X-API-Key: <key>`, `X-Token: <key>` (KAOS's client; some of its
 * versions say `Token` or `X-Authorization-Token`) or
 * `Authorization: Bearer <key>`, or for KAOS's client in its endpoint's
 * path (`kaos init -e http://host/kaos/<key>`: the client's `train get`
 * sends no header at all, and nginx hands the key over apart from the
 * path, which the log never shows), is checked against its stored hash,
 * and a failure is rendered in the route's dialect — 401 everywhere
 * except the Strapi collection, whose documented answer to a missing or
 * bad token is 403.
 *
 * Key cache: checking a key costs a database round trip, as much as the
 * work of a status poll itself, so each worker remembers the keys it has
 * seen (by SHA-256, for a minute at most). Revocation must still be
 * immediate: the worker's connection LISTENs on trainyard_keys, revoking
 * sends NOTIFY there, and before every check the worker reads what has
 * arrived (a non-blocking poll) and forgets every cached key on any
 * notification. After a reconnect, notifications may have been missed, so
 * the cache is emptied too.
 *
 * Workspace choice: a key acts in its own workspace unless the request
 * names another of its account's, by path (KAOS's /train/{workspace}) or,
 * on every other route, by the X-Trainyard-Workspace header (the console's
 * picker and the CLI's --workspace send it). A key made --only (sql/0152)
 * cannot switch. A name the key may not use is refused with 403 in the
 * route's dialect whether it exists in another account or not at all, so
 * the answer says nothing about other tenants.
 *
 * The same connection LISTENs on trainyard_models, where a deleted model
 * is announced (sql/0032): the same poll drops it from the worker's model
 * cache, so a model deleted through one worker is not served by another
 * (handlers/model_cache.h). A reconnect empties the model cache as well.
 */
#include "handlers/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/stats.h"
#include "common/util.h"
#include "db/accounts.h"
#include "db/auth.h"
#include "fcgi/router.h"
#include "handlers/events.h"
#include "handlers/handlers.h"

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
    /* Jobs created while serving this request record its id. */
    db_set_request_id(app->db, r->request_id);
    if (db_ensure(app->db, e) == 0)
        return 0;
    stats_add(STATS_DB_UNAVAILABLE, 1);
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

#define APP_KEY_TTL 60.0

static void app_keys_forget(app_t *app)
{
    for (size_t i = 0; i < APP_KEY_SLOTS; i++)
        app->keys[i].expires = 0;
}

/* Brings the cache in step with revocations; see "Key cache" above. */
static void app_keys_sync(app_t *app)
{
    err_t e;
    err_clear(&e);
    unsigned gen = db_generation(app->db);
    if (gen != app->keys_generation) {
        app_keys_forget(app);
        model_cache_clear(app->models);
        if (gen != 0 &&
            db_exec(app->db, "LISTEN " AUTH_KEYS_CHANNEL "; LISTEN " MODEL_CACHE_CHANNEL,
                    &e) == 0)
            app->keys_generation = gen;
        return;
    }
    int rc;
    char channel[64], payload[64];
    while ((rc = db_wait_notify(app->db, 0, channel, sizeof(channel), payload,
                                sizeof(payload), &e)) == 1) {
        if (strcmp(channel, MODEL_CACHE_CHANNEL) == 0)
            model_cache_forget(app->models, payload);
        else
            app_keys_forget(app);
    }
    if (rc < 0) {
        app_keys_forget(app);
        model_cache_clear(app->models);
    }
}

static const app_key_entry_t *app_keys_find(app_t *app, const unsigned char digest[32])
{
    double now = util_now_monotonic();
    for (size_t i = 0; i < APP_KEY_SLOTS; i++) {
        const app_key_entry_t *k = &app->keys[i];
        if (k->expires > now && util_ct_memcmp(k->digest, digest, 32) == 0)
            return k;
    }
    return NULL;
}

static void app_keys_remember(app_t *app, const unsigned char digest[32], const auth_t *auth)
{
    if (app->keys_generation == 0 || app->keys_generation != db_generation(app->db))
        return; /* not listening for revocations: do not cache */
    app_key_entry_t *k = &app->keys[app->next_key_slot++ % APP_KEY_SLOTS];
    memcpy(k->digest, digest, 32);
    k->workspace_id = auth->workspace_id;
    k->account_id = auth->account_id;
    k->workspace_only = auth->workspace_only;
    snprintf(k->workspace_name, sizeof(k->workspace_name), "%s", auth->workspace_name);
    snprintf(k->key_prefix, sizeof(k->key_prefix), "%s",
             auth->key_prefix ? auth->key_prefix : "");
    k->expires = util_now_monotonic() + APP_KEY_TTL;
}

int app_workspace_enter(request_t *r, const char *name, err_t *e)
{
    if (r->auth.workspace_name != NULL && name != NULL &&
        strcmp(r->auth.workspace_name, name) == 0 && r->auth.workspace_id != 0)
        return 0; /* already there: no query */
    long long id;
    if (db_account_workspace_find(app_of(r)->db, r->arena, r->auth.account_id, name, &id, e) !=
        0)
        return -1;
    if (r->auth.workspace_only && id != r->auth.key_workspace_id) {
        err_clear(e);
        return err_set(e, 403, "forbidden",
                       "this API key may act in its own workspace only, not in \"%s\"", name);
    }
    r->auth.workspace_id = id;
    r->auth.workspace_name = arena_strdup(r->arena, name);
    return 0;
}

/* The workspace a request chose by header (see "Workspace choice"). */
static int app_workspace_choose(request_t *r, err_t *e)
{
    const char *want = req_header(r, APP_WORKSPACE_HEADER);
    if (want == NULL || *want == '\0')
        return 0;
    if (app_workspace_enter(r, want, e) == 0)
        return 0;
    if (e->status >= 500)
        return -1;
    int locked = e->status == 403;
    err_clear(e);
    err_add(e, 403, "forbidden", APP_WORKSPACE_HEADER,
            locked ? "this API key may act in its own workspace only, not in \"%s\""
                   : "this API key's account has no workspace \"%s\" (GET /workspace lists "
                     "them)",
            want);
    return -1;
}

int app_authenticate_key(request_t *r, const char *key, err_t *e)
{
    if (key == NULL || *key == '\0')
        return auth_fail(r, e,
                         "missing API key: send it as X-API-Key, X-Token or Authorization: Bearer");
    app_t *app = app_of(r);
    app_keys_sync(app);
    sha256_t *h = sha256_new();
    sha256_update(h, key, strlen(key));
    unsigned char digest[32];
    sha256_finish_raw(h, digest);
    const app_key_entry_t *hit = app_keys_find(app, digest);
    if (hit != NULL) {
        r->auth.workspace_id = hit->workspace_id;
        r->auth.account_id = hit->account_id;
        r->auth.workspace_name = arena_strdup(r->arena, hit->workspace_name);
        r->auth.key_prefix = arena_strdup(r->arena, hit->key_prefix);
        r->auth.key_workspace_id = hit->workspace_id;
        r->auth.workspace_only = hit->workspace_only;
        return app_workspace_choose(r, e);
    }
    err_t check;
    err_clear(&check);
    if (db_key_check(app->db, r->arena, key, &r->auth, &check) != 0) {
        if (check.status == 503 || check.status >= 500) {
            *e = check;
            return -1;
        }
        return auth_fail(r, e, "invalid or revoked API key");
    }
    app_keys_remember(app, digest, &r->auth);
    return app_workspace_choose(r, e);
}

int app_authenticate(request_t *r, err_t *e)
{
    const char *key = req_header(r, "X-API-Key");
    /* KAOS's client: X-Token; some of its versions send Token (job
     * listings and info) or X-Authorization-Token (uploads). */
    static const char *const kaos_headers[] = {"X-Token", "Token", "X-Authorization-Token"};
    for (size_t i = 0; i < 3 && (key == NULL || *key == '\0'); i++)
        key = req_header(r, kaos_headers[i]);
    if (key == NULL || *key == '\0') {
        const char *authz = req_header(r, "Authorization");
        if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
            key = authz + 7;
            while (*key == ' ')
                key++;
        }
    }
    if (key == NULL || *key == '\0')
        key = r->path_key;
    if ((key == NULL || *key == '\0') && r->route != NULL &&
        (r->route->flags & ROUTE_TICKET)) {
        const char *ticket = req_query(r, "ticket");
        if (ticket != NULL && *ticket != '\0')
            return events_ticket_check(r, ticket, e);
    }
    if ((key == NULL || *key == '\0') && r->route != NULL &&
        (r->route->flags & ROUTE_KEY_IN_BODY)) {
        key = req_query(r, "api_key");
        if (key == NULL || *key == '\0')
            key = r->body_key; /* picked out of the body by the runtime */
    }
    return app_authenticate_key(r, key, e);
}

void app_after_request(request_t *r, int status, double seconds)
{
    app_t *app = app_of(r);
    if (app == NULL)
        return;
    /* Counted in the pool's shared region (common/stats.h): a scrape sees
     * every worker's requests, not only its own. */
    size_t route = routes_count;
    if (r->route != NULL && r->route >= routes && r->route < routes + routes_count)
        route = (size_t)(r->route - routes);
    stats_request(route, status, seconds);
    stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_MODELS, (long long)model_cache_count(app->models));
    stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_BYTES, (long long)model_cache_bytes(app->models));
    long long body = req_body_bytes(r);
    if (body > 0) {
        stats_add(STATS_BODY_BYTES, (unsigned long long)body);
        if (r->route != NULL && (r->route->flags & ROUTE_STREAM_BODY))
            stats_add(STATS_UPLOAD_BYTES, (unsigned long long)body);
    }
}
