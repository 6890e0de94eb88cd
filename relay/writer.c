/* The single writer thread with group commit (see writer.h). */
#include "writer.h"
#include "log.h"
#include "hex.h"
#include "subscriptions.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPIRE_INTERVAL_SECONDS 60
#define EXPIRE_MAX_PER_RUN 10000
#define GATHER_MIN_COMMIT_NS 300000u /* commits slower than this are worth gathering for */
#define GATHER_MAX_NS 2000000u       /* longest wait for answered clients to come back */

struct writer {
    relay_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    write_job *head, *tail;
    size_t queued;
    size_t wake_at; /* writer_submit wakes the writer once queued reaches this */
    bool stop;
    /* writer-thread only */
    write_job **batch;
    store_result *results;
    char (*msgs)[256];
    uint32_t batch_cap;
    time_t last_expire;
    /* statistics, logged at debug level every few seconds */
    uint64_t stat_batches, stat_events, stat_store_ns, stat_commit_ns, stat_gather_ns, stat_gathers;
    time_t stat_since;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void log_stats(writer *w) {
    time_t now = time(NULL);
    if (now - w->stat_since < 5) return;
    if (w->stat_batches)
        log_debug("writer: %llu events in %llu commits (%.1f per commit), store %.3f ms, commit %.3f ms per commit; "
                  "%llu gathers of %.3f ms",
                  (unsigned long long)w->stat_events, (unsigned long long)w->stat_batches,
                  (double)w->stat_events / (double)w->stat_batches,
                  (double)w->stat_store_ns / 1e6 / (double)w->stat_batches,
                  (double)w->stat_commit_ns / 1e6 / (double)w->stat_batches, (unsigned long long)w->stat_gathers,
                  w->stat_gathers ? (double)w->stat_gather_ns / 1e6 / (double)w->stat_gathers : 0.0);
    w->stat_batches = w->stat_events = w->stat_store_ns = w->stat_commit_ns = 0;
    w->stat_gather_ns = w->stat_gathers = 0;
    w->stat_since = now;
}

void write_job_free(write_job *j) {
    if (!j) return;
    event_free(&j->ev);
    free(j);
}

void writer_submit(writer *w, write_job *j) {
    j->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail) w->tail->next = j;
    else w->head = j;
    w->tail = j;
    w->queued++;
    /* while the writer gathers a group, wake it once for the whole group rather
     * than once per event (each wake-up is a context switch on a busy core) */
    if (w->queued >= w->wake_at) pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* True if msg already starts with a NIP-01 machine-readable prefix. */
static bool has_prefix(const char *msg) {
    static const char *const prefixes[] = {"duplicate:", "pow:", "blocked:", "rate-limited:", "invalid:",
                                           "restricted:", "auth-required:", "error:", "mute:"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0) return true;
    return false;
}

static void answer(relay_ctx *ctx, write_job *j, store_result r, const char *msg) {
    if (!j->conn) return;
    char id_hex[65];
    hex_encode(j->ev.id, 32, id_hex);
    char text[320];
    bool ok;
    const char *prefix = "";
    switch (r) {
    case STORE_ADDED: ok = true; msg = ""; break;
    case STORE_EPHEMERAL: ok = true; msg = ""; break;
    case STORE_DUPLICATE: ok = true; prefix = "duplicate: "; if (!*msg) msg = "already have this event"; break;
    case STORE_REPLACED: ok = true; prefix = "duplicate: "; if (!*msg) msg = "have a newer version of this event"; break;
    case STORE_DELETED: ok = false; prefix = "blocked: "; if (!*msg) msg = "this event was deleted"; break;
    case STORE_EXPIRED: ok = false; prefix = "invalid: "; if (!*msg) msg = "event has expired"; break;
    default: ok = false; prefix = "error: "; if (!*msg) msg = "could not store the event"; break;
    }
    if (has_prefix(msg)) prefix = "";
    snprintf(text, sizeof text, "%s%s", prefix, msg);
    conn_send_ok(ctx->conns, j->conn, id_hex, ok, text);
    conn_done_queued(ctx->conns, j->conn, 1, 0);
}

static bool grow_batch(writer *w, uint32_t n) {
    if (n <= w->batch_cap) return true;
    write_job **b = realloc(w->batch, n * sizeof *b);
    if (!b) return false;
    w->batch = b;
    store_result *r = realloc(w->results, n * sizeof *r);
    if (!r) return false;
    w->results = r;
    char(*m)[256] = realloc(w->msgs, n * sizeof *m);
    if (!m) return false;
    w->msgs = m;
    w->batch_cap = n;
    return true;
}

/* Stores the batch in one transaction. all_nested: every event in its own
 * nested transaction (used to redo a batch after an LMDB error). Returns 0 when
 * committed, 1 when the batch must be redone with all_nested, -1 on failure. */
static int store_batch(writer *w, uint32_t n, bool all_nested) {
    relay_ctx *ctx = w->ctx;
    MDB_env *env = store_env(ctx->st);
    MDB_txn *txn;
    uint64_t t0 = now_ns();
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc) {
        for (uint32_t i = 0; i < n; i++) {
            w->results[i] = STORE_ERROR;
            snprintf(w->msgs[i], sizeof w->msgs[i], "error: database: %s", mdb_strerror(rc));
        }
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        write_job *j = w->batch[i];
        w->msgs[i][0] = 0;
        if (event_kind_class(j->ev.kind) == EVENT_CLASS_EPHEMERAL) { /* delivered live only */
            w->results[i] = STORE_EPHEMERAL;
            continue;
        }
        bool hook = ctx->plugins && plugin_chain_wants_committed(ctx->plugins, j->ev.kind);
        bool nested = all_nested || hook;
        MDB_txn *t = txn;
        if (nested && (rc = mdb_txn_begin(env, txn, 0, &t)) != 0) {
            w->results[i] = STORE_ERROR;
            snprintf(w->msgs[i], sizeof w->msgs[i], "error: database: %s", mdb_strerror(rc));
            continue;
        }
        uint64_t levid = 0;
        store_result r = store_insert(ctx->st, t, &j->ev, &levid, w->msgs[i], sizeof w->msgs[i]);
        if (r == STORE_ADDED && hook) {
            char msg[256] = "";
            if (plugin_chain_committed(ctx->plugins, t, &j->ev, levid, msg, sizeof msg) != 0) {
                r = STORE_ERROR;
                snprintf(w->msgs[i], sizeof w->msgs[i], "%s", msg[0] ? msg : "error: a plugin refused to record the event");
            }
        }
        w->results[i] = r;
        if (nested) {
            if (r == STORE_ERROR) mdb_txn_abort(t);
            else if ((rc = mdb_txn_commit(t)) != 0) {
                w->results[i] = STORE_ERROR;
                snprintf(w->msgs[i], sizeof w->msgs[i], "error: database: %s", mdb_strerror(rc));
            }
        } else if (r == STORE_ERROR) {
            /* the parent transaction may be unusable: redo with nested transactions */
            mdb_txn_abort(txn);
            return 1;
        }
    }
    uint64_t t1 = now_ns();
    rc = mdb_txn_commit(txn);
    uint64_t t2 = now_ns();
    w->stat_batches++;
    w->stat_events += n;
    w->stat_store_ns += t1 - t0;
    w->stat_commit_ns += t2 - t1;
    if (rc) {
        log_error("writer: commit failed: %s", mdb_strerror(rc));
        for (uint32_t i = 0; i < n; i++) {
            w->results[i] = STORE_ERROR;
            snprintf(w->msgs[i], sizeof w->msgs[i], "error: database: %s", mdb_strerror(rc));
        }
        return -1;
    }
    return 0;
}

static void expire_old(writer *w) {
    time_t now = time(NULL);
    if (now - w->last_expire < EXPIRE_INTERVAL_SECONDS) return;
    w->last_expire = now;
    MDB_txn *txn;
    if (mdb_txn_begin(store_env(w->ctx->st), NULL, 0, &txn) != 0) return;
    int n = store_delete_expired(w->ctx->st, txn, (int64_t)now, EXPIRE_MAX_PER_RUN);
    if (n < 0 || mdb_txn_commit(txn) != 0) {
        if (n < 0) mdb_txn_abort(txn);
        log_warn("writer: removing expired events failed");
        return;
    }
    if (n > 0) log_info("writer: removed %d expired events", n);
}

static void *writer_main(void *arg) {
    writer *w = arg;
    relay_ctx *ctx = w->ctx;
    pthread_setname_np(pthread_self(), "g1-writer");
    uint32_t max = ctx->lim.write_batch_max ? ctx->lim.write_batch_max : 4096;
    w->last_expire = time(NULL) - EXPIRE_INTERVAL_SECONDS + 5;
    /* Group commit gathering: when commits are slow (a disk flush), the clients
     * just answered usually send their next event within a fraction of that
     * time; waiting briefly for them lets one flush serve everyone instead of
     * alternating half-full commits. */
    size_t gather_target = 0;
    uint64_t gather_until = 0, gather_start = 0;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        if (gather_target) w->wake_at = gather_target;
        while (gather_target && !w->stop && w->queued < gather_target) {
            uint64_t t = now_ns();
            if (t >= gather_until) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (gather_until - t);
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        if (gather_target) {
            w->stat_gathers++;
            w->stat_gather_ns += now_ns() - gather_start;
        }
        gather_target = 0;
        w->wake_at = 1;
        while (!w->head && !w->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT) break;
        }
        if (!w->head) {
            bool stop = w->stop;
            pthread_mutex_unlock(&w->lock);
            if (stop) break;
            expire_old(w);
            continue;
        }
        uint32_t n = 0;
        if (!grow_batch(w, max < 64 ? max : 64)) {
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        while (w->head && n < max) {
            if (n == w->batch_cap && !grow_batch(w, w->batch_cap * 2 < max ? w->batch_cap * 2 : max)) break;
            write_job *j = w->head;
            w->head = j->next;
            w->batch[n++] = j;
        }
        if (!w->head) w->tail = NULL;
        w->queued -= n;
        pthread_mutex_unlock(&w->lock);

        uint64_t commit_start = now_ns();
        int rc = store_batch(w, n, false);
        if (rc == 1) rc = store_batch(w, n, true);
        uint64_t commit_ns = now_ns() - commit_start;
        /* Live delivery of the whole group first, then the OKs: a client that
         * got its OK and then opens a REQ must not receive the same event
         * both from the stored query and live. */
        conn_defer_wake_begin();
        for (uint32_t i = 0; i < n; i++)
            if (w->results[i] == STORE_ADDED || w->results[i] == STORE_EPHEMERAL)
                sub_broadcast(ctx->subs, ctx->conns, &w->batch[i]->ev);
        for (uint32_t i = 0; i < n; i++) answer(ctx, w->batch[i], w->results[i], w->msgs[i]);
        conn_defer_wake_end(ctx->conns);
        for (uint32_t i = 0; i < n; i++) write_job_free(w->batch[i]);
        if (commit_ns > GATHER_MIN_COMMIT_NS) {
            pthread_mutex_lock(&w->lock);
            gather_target = w->queued + n < max ? w->queued + n : max;
            pthread_mutex_unlock(&w->lock);
            gather_start = now_ns();
            gather_until = gather_start + (commit_ns < GATHER_MAX_NS ? commit_ns : GATHER_MAX_NS);
        }
        expire_old(w);
        log_stats(w);
    }
    return NULL;
}

writer *writer_start(relay_ctx *ctx) {
    writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->ctx = ctx;
    w->wake_at = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void writer_stop(writer *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    /* anything submitted after the thread ended (late policy answers) */
    write_job *j = w->head;
    while (j) {
        write_job *next = j->next;
        write_job_free(j);
        j = next;
    }
    free(w->batch);
    free(w->results);
    free(w->msgs);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
