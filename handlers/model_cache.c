/*
 * model_cache.c — LRU of loaded models (see model_cache.h).
 *
 * A worker holds a handful of models at most, so a doubly linked list
 * searched linearly is simpler than a hash table and just as fast.
 */
#include "handlers/model_cache.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "db/artifacts.h"

typedef struct cache_entry {
    struct cache_entry *prev, *next; /* most recently used first */
    char id[UUID_STR_LEN + 1];
    long long workspace_id;
    ml_model_t *model;               /* owned */
    size_t bytes;
} cache_entry_t;

struct model_cache {
    cache_entry_t *head, *tail;
    size_t count;
    size_t bytes;
    size_t max_bytes;
};

model_cache_t *model_cache_new(size_t max_bytes)
{
    model_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->max_bytes = max_bytes;
    return c;
}

static void cache_unlink(model_cache_t *c, cache_entry_t *en)
{
    if (en->prev)
        en->prev->next = en->next;
    else
        c->head = en->next;
    if (en->next)
        en->next->prev = en->prev;
    else
        c->tail = en->prev;
    en->prev = en->next = NULL;
}

static void cache_push_front(model_cache_t *c, cache_entry_t *en)
{
    en->next = c->head;
    en->prev = NULL;
    if (c->head)
        c->head->prev = en;
    c->head = en;
    if (c->tail == NULL)
        c->tail = en;
}

/* The worker's cache gauges for /metrics, kept current as they change (a
 * scrape served by another worker reads them too). */
static void cache_publish(const model_cache_t *c)
{
    stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_MODELS, (long long)c->count);
    stats_worker_gauge(STATS_GAUGE_MODEL_CACHE_BYTES, (long long)c->bytes);
}

static void cache_drop(model_cache_t *c, cache_entry_t *en)
{
    cache_unlink(c, en);
    c->count--;
    c->bytes -= en->bytes;
    ml_model_free(en->model);
    free(en);
    cache_publish(c);
}

void model_cache_free(model_cache_t *c)
{
    if (c == NULL)
        return;
    while (c->head)
        cache_drop(c, c->head);
    free(c);
}

ml_model_t *model_cache_get(model_cache_t *c, db_t *db, arena_t *arena, long long workspace_id,
                            const char *model_id, err_t *e)
{
    /* UUIDs compare in PostgreSQL's canonical (lower-case) form: an
     * upper-case id must hit the same cache entry. */
    char canon[40];
    if (model_id != NULL && strlen(model_id) < sizeof(canon)) {
        size_t i = 0;
        for (; model_id[i] != '\0'; i++)
            canon[i] = (char)tolower((unsigned char)model_id[i]);
        canon[i] = '\0';
        model_id = canon;
    }
    for (cache_entry_t *en = c->head; en != NULL; en = en->next) {
        if (en->workspace_id == workspace_id && strcmp(en->id, model_id) == 0) {
            cache_unlink(c, en);
            cache_push_front(c, en);
            stats_add(STATS_MODEL_CACHE_HITS, 1); /* the pool's count, for /metrics */
            /* A model grows after loading (its explanation tables, built
             * by the first explained batch): count what it holds now. */
            size_t now = ml_model_size(en->model);
            c->bytes = c->bytes - en->bytes + now;
            en->bytes = now;
            while (c->bytes > c->max_bytes && c->tail != en)
                cache_drop(c, c->tail);
            return en->model;
        }
    }
    stats_add(STATS_MODEL_CACHE_MISSES, 1);
    model_rec_t rec;
    if (!util_is_uuid(model_id)) {
        err_set(e, 404, "not_found", "There is no model with id: %s", model_id);
        return NULL;
    }
    if (db_model_get(db, arena, workspace_id, model_id, &rec, e) != 0)
        return NULL;
    void *booster;
    size_t len;
    if (db_artifact_load(db, arena, rec.artifact_id, &booster, &len, e) != 0)
        return NULL;
    ml_model_t *m = ml_model_load(booster, len, rec.preprocess, e);
    if (m == NULL)
        return NULL;
    cache_entry_t *en = calloc(1, sizeof(*en));
    if (en == NULL)
        abort();
    memcpy(en->id, rec.id, sizeof(en->id));
    en->workspace_id = workspace_id;
    en->model = m;
    en->bytes = ml_model_size(m);
    cache_push_front(c, en);
    c->count++;
    c->bytes += en->bytes;
    /* Evict from the cold end, but never the model just loaded. */
    while (c->bytes > c->max_bytes && c->tail != en)
        cache_drop(c, c->tail);
    cache_publish(c);
    return m;
}

int model_cache_forget(model_cache_t *c, const char *model_id)
{
    char canon[UUID_STR_LEN + 1];
    size_t i = 0;
    for (; model_id[i] != '\0' && i < UUID_STR_LEN; i++)
        canon[i] = (char)tolower((unsigned char)model_id[i]);
    canon[i] = '\0';
    for (cache_entry_t *en = c->head; en != NULL; en = en->next)
        if (strcmp(en->id, canon) == 0) {
            cache_drop(c, en);
            return 1;
        }
    return 0;
}

void model_cache_clear(model_cache_t *c)
{
    while (c->head)
        cache_drop(c, c->head);
}

size_t model_cache_count(const model_cache_t *c)
{
    return c->count;
}

size_t model_cache_bytes(const model_cache_t *c)
{
    return c->bytes;
}
