/*  pool.c: a fixed pool of threads (see pool.h). The threads sleep on a
    condition variable between jobs; a job is announced by bumping a
    generation number, so a thread that wakes late never runs a job twice.
*/
#include "pool.h"

#include <string.h>

static void s_take(pool_t *pool)
{
    for (;;) {
        size_t i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->n_items)
            return;
        pool->fn(pool->arg, i);
    }
}

static void *s_worker_fn(void *arg)
{
    pool_t *pool = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->gen == seen)
            pthread_cond_wait(&pool->go, &pool->mu);
        if (pool->stop)
            break;
        seen = pool->gen;
        pthread_mutex_unlock(&pool->mu);
        s_take(pool);
        pthread_mutex_lock(&pool->mu);
        if (--pool->busy == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

//  Starts n_threads - 1 workers (fewer if the system refuses: the result
//  is the same, only slower).
void pool_init(pool_t *pool, int n_threads)
{
    memset(pool, 0, sizeof *pool);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->go, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->next, 0);
    for (int t = 1; t < n_threads && t < POOL_MAX_THREADS; t++)
        if (pthread_create(&pool->th[pool->started], NULL, s_worker_fn, pool) == 0)
            pool->started++;
}

void pool_fini(pool_t *pool)
{
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    for (int t = 0; t < pool->started; t++)
        pthread_join(pool->th[t], NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->go);
    pthread_mutex_destroy(&pool->mu);
}

void pool_run(pool_t *pool, size_t n_items, pool_item_fn *fn, void *arg)
{
    if (pool->started == 0 || n_items < 2) {
        for (size_t i = 0; i < n_items; i++)
            fn(arg, i);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn, pool->arg = arg, pool->n_items = n_items;
    atomic_store(&pool->next, 0);
    pool->busy = pool->started;
    pool->gen++;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    s_take(pool);
    pthread_mutex_lock(&pool->mu);
    while (pool->busy)
        pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}
