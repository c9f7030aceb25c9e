/*  pool.h: a fixed pool of threads for the ML library's parallel steps.

    A fit starts one pool and runs many short jobs on it: pool_run hands out
    items 0..n-1 from an atomic counter to the pool's threads and the calling
    thread, and returns when every item is done. Items must write only to
    their own slots; callers reduce the slots in index order afterwards, so a
    result never depends on the thread count.

    Caveats:
    - pool_run is not reentrant: an item must not call pool_run on the same
      pool.
*/
#ifndef MLOPS_POOL_H
#define MLOPS_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_MAX_THREADS 256 //  threads beyond this are not started

typedef void (pool_item_fn)(void *arg, size_t item);

typedef struct {
    pthread_mutex_t mu;    //  guards everything below but next
    pthread_cond_t go;     //  a new job (gen changed) or stop
    pthread_cond_t done;   //  busy reached 0
    pthread_t th[POOL_MAX_THREADS]; //  workers
    int started;           //  workers running (the caller is not one)
    uint64_t gen;          //  job generation
    int stop;              //  workers must exit
    int busy;              //  workers still in the current job
    pool_item_fn *fn;         //  current job
    void *arg;             //  its argument
    size_t n_items;        //  its items
    atomic_size_t next;    //  next item to take
} pool_t;

//  Starts n_threads - 1 threads (the caller is the n-th); fewer when the
//  system refuses, which only makes jobs slower, never different.
void pool_init(pool_t *pool, int n_threads);

//  Stops and joins the threads. The pool may not be used again.
void pool_fini(pool_t *pool);

//  Runs fn(arg, i) for i in 0..n_items-1 and returns when all are done;
//  runs them in the caller when the pool has no threads or one item.
void pool_run(pool_t *pool, size_t n_items, pool_item_fn *fn, void *arg);

#endif
