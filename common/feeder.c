/*
 * feeder.c — one producer, one consumer thread, a ring of slots (feeder.h).
 *
 * A mutex and two condition variables: the producer waits while every slot
 * is full, the consumer while every slot is empty. The consumer's error is
 * kept in the feeder and handed to the producer; after it, the consumer
 * only drains (marks slots free) so the producer never blocks for good.
 */
#include "common/feeder.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *buf;
    size_t len;
} slot_t;

struct feeder {
    pthread_mutex_t mu;
    pthread_cond_t filled;  /* a slot was filled, or done */
    pthread_cond_t emptied; /* a slot was consumed */
    pthread_t thread;
    feeder_consume_fn consume;
    void *ctx;
    slot_t *slots;
    int n_slots;
    size_t slot_size;
    int head, tail, count;  /* the ring: consumer reads head, producer writes tail */
    int done;               /* the producer has finished */
    int failed;             /* the consumer returned -1 */
    err_t err;              /* its error */
};

static void *feeder_main(void *p)
{
    feeder_t *f = p;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->count == 0 && !f->done)
            pthread_cond_wait(&f->filled, &f->mu);
        if (f->count == 0 && f->done)
            break;
        slot_t *s = &f->slots[f->head];
        int failed = f->failed;
        pthread_mutex_unlock(&f->mu);
        err_t e;
        err_clear(&e);
        int rc = failed ? 0 : f->consume(f->ctx, s->buf, s->len, &e);
        pthread_mutex_lock(&f->mu);
        if (rc != 0 && !f->failed) {
            f->failed = 1;
            f->err = e;
        }
        f->head = (f->head + 1) % f->n_slots;
        f->count--;
        pthread_cond_signal(&f->emptied);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void feeder_free(feeder_t *f)
{
    for (int i = 0; i < f->n_slots; i++)
        free(f->slots[i].buf);
    free(f->slots);
    pthread_cond_destroy(&f->filled);
    pthread_cond_destroy(&f->emptied);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

feeder_t *feeder_start(feeder_consume_fn consume, void *ctx, int slots, size_t slot_size,
                       err_t *e)
{
    feeder_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        err_set(e, 500, "internal_error", "feeder: out of memory");
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->filled, NULL);
    pthread_cond_init(&f->emptied, NULL);
    f->consume = consume;
    f->ctx = ctx;
    f->n_slots = slots > 1 ? slots : 2;
    f->slot_size = slot_size > 0 ? slot_size : 65536;
    f->slots = calloc((size_t)f->n_slots, sizeof(*f->slots));
    int ok = f->slots != NULL;
    for (int i = 0; ok && i < f->n_slots; i++)
        ok = (f->slots[i].buf = malloc(f->slot_size)) != NULL;
    if (!ok || pthread_create(&f->thread, NULL, feeder_main, f) != 0) {
        feeder_free(f);
        err_set(e, 500, "internal_error", "feeder: cannot start its thread");
        return NULL;
    }
    return f;
}

int feeder_put(feeder_t *f, const char *buf, size_t n, err_t *e)
{
    while (n > 0) {
        pthread_mutex_lock(&f->mu);
        while (f->count == f->n_slots && !f->failed)
            pthread_cond_wait(&f->emptied, &f->mu);
        if (f->failed) {
            *e = f->err;
            pthread_mutex_unlock(&f->mu);
            return -1;
        }
        slot_t *s = &f->slots[f->tail];
        pthread_mutex_unlock(&f->mu);
        /* The slot is the producer's until counted in. */
        size_t k = n < f->slot_size ? n : f->slot_size;
        memcpy(s->buf, buf, k);
        s->len = k;
        buf += k;
        n -= k;
        pthread_mutex_lock(&f->mu);
        f->tail = (f->tail + 1) % f->n_slots;
        f->count++;
        pthread_cond_signal(&f->filled);
        pthread_mutex_unlock(&f->mu);
    }
    return 0;
}

int feeder_finish(feeder_t *f, err_t *e)
{
    if (f == NULL)
        return 0;
    pthread_mutex_lock(&f->mu);
    f->done = 1;
    pthread_cond_signal(&f->filled);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    int rc = 0;
    if (f->failed) {
        if (e != NULL)
            *e = f->err;
        rc = -1;
    }
    feeder_free(f);
    return rc;
}
