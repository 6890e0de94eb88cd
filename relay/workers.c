/* Worker pool over per-connection inboxes (see workers.h). */
#include "workers.h"
#include "ingest.h"
#include "log.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct worker_pool {
    relay_ctx *ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    conn *ready_head, *ready_tail;
    bool stop;
    int thread_count;
    pthread_t *threads;
};

job *job_new(job_kind kind, const char *data, size_t len) {
    job *j = malloc(sizeof *j + len + 1);
    if (!j) return NULL;
    j->next = NULL;
    j->kind = kind;
    j->sub = NULL;
    j->len = len;
    if (len) memcpy(j->data, data, len);
    j->data[len] = 0;
    return j;
}

static void ready_push(worker_pool *p, conn *c) {
    pthread_mutex_lock(&p->lock);
    c->ready_next = NULL;
    if (p->ready_tail) p->ready_tail->ready_next = c;
    else p->ready_head = c;
    p->ready_tail = c;
    pthread_mutex_unlock(&p->lock);
    pthread_cond_signal(&p->cond); /* after unlocking: the woken worker finds the lock free */
}

uint32_t worker_pool_push(worker_pool *p, conn *c, job *j) {
    pthread_mutex_lock(&c->lock);
    j->next = NULL;
    if (c->in_tail) c->in_tail->next = j;
    else c->in_head = j;
    c->in_tail = j;
    if (j->kind == JOB_MESSAGE) {
        c->queued++;
        c->queued_bytes += j->len;
    }
    uint32_t queued = c->queued;
    bool schedule = !c->scheduled;
    c->scheduled = true;
    pthread_mutex_unlock(&c->lock);
    if (schedule) ready_push(p, c);
    return queued;
}

static void *worker_main(void *arg) {
    worker_pool *p = arg;
    pthread_setname_np(pthread_self(), "g1-worker");
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stop && !p->ready_head) pthread_cond_wait(&p->cond, &p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        conn *c = p->ready_head;
        p->ready_head = c->ready_next;
        if (!p->ready_head) p->ready_tail = NULL;
        pthread_mutex_unlock(&p->lock);

        pthread_mutex_lock(&c->lock);
        job *j = c->in_head;
        if (j) {
            c->in_head = j->next;
            if (!c->in_head) c->in_tail = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        bool released = false;
        if (j) {
            bool is_close = j->kind == JOB_CLOSE;
            ingest_run_job(p->ctx, c, j); /* owns j */
            released = is_close;          /* the slot may already be reused */
        }
        if (released) continue;
        pthread_mutex_lock(&c->lock);
        bool more = c->in_head != NULL;
        if (!more) c->scheduled = false;
        pthread_mutex_unlock(&c->lock);
        if (more) ready_push(p, c);
    }
    ingest_thread_done();
    return NULL;
}

worker_pool *worker_pool_start(relay_ctx *ctx, int threads) {
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 2;
    }
    worker_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ctx = ctx;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = calloc((size_t)threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            log_error("worker pool: cannot start thread %d", i);
            break;
        }
        p->thread_count++;
    }
    if (p->thread_count == 0) {
        free(p->threads);
        free(p);
        return NULL;
    }
    return p;
}

void worker_pool_stop(worker_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->thread_count; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}
