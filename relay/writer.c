/* The single writer thread: group commit, the write-ahead journal and crash
 * recovery (see writer.h).
 *
 * Each round the writer takes the queued events (a "group") and applies them
 * to the open LMDB write transaction (plain inserts: a nested transaction per
 * group or per event doubled the cost; an event whose kind has a plugin
 * committed hook gets its own). If LMDB fails outside a nested transaction,
 * the long transaction is aborted, the answered groups it held are applied
 * again from the journal (recover_ltxn) and the group is redone with every
 * event nested. Then:
 *
 *   journal = false  commits LMDB durably (two fdatasyncs of every page the
 *                    group dirtied) and answers.
 *   journal = true   appends the events the group added to data_dir/journal
 *                    with one sequential durable write, and answers:
 *                    the events are durable. LMDB is committed later, once for
 *                    many groups: when commit_interval_ms has passed, when no
 *                    event came for commit_idle_ms, when a query waits for
 *                    answered events (read-your-writes), when the journal is
 *                    full, and at shutdown. The commit stores the last journal
 *                    record it holds (store_set_journal_lsn), atomically with
 *                    the events; on start-up the records after it are applied
 *                    again, through the same code (plugins' committed hooks
 *                    included), before the relay listens.
 *
 * Why: an event dirties about ten random B-tree pages (id, author, tag
 * indexes and their branch pages), and a disk flush costs about 10 us per
 * scattered page here, so a durable LMDB commit per group of 16 events took
 * 2-4 ms. The journal flush of the same group is one contiguous write; the
 * LMDB commit of a second of events dirties each hot page once instead of once
 * per group. Nothing is answered before it is durable, and LMDB itself always
 * commits with its syncs on, so the database is consistent after any crash and
 * the journal holds exactly what it lacks. */
#include "writer.h"
#include "hex.h"
#include "journal.h"
#include "log.h"
#include "pending.h"
#include "subscriptions.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPIRE_INTERVAL_SECONDS 60
#define EXPIRE_MAX_PER_RUN 10000
#define GATHER_MIN_COMMIT_NS 300000u /* rounds slower than this are worth gathering for */
#define GATHER_MAX_NS 2000000u       /* longest wait for answered clients to come back */
#define JOURNAL_RECORD_OVERHEAD (JOURNAL_HEADER_SIZE + 8u) /* a record's header and padding, upper bound */
/* LMDB keeps a write transaction's dirty pages in memory until it commits
 * (about 4 KB per event once the hot pages are shared): commit at this many
 * events whatever the interval, so that memory stays near 100 MB at most. */
#define LTXN_MAX_EVENTS 25000u

struct writer {
    relay_ctx *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    write_job *head, *tail;
    size_t queued;
    size_t wake_at; /* writer_submit wakes the writer once queued reaches this */
    bool stop;
    /* Read-your-writes with the journal: an event is answered once its record
     * is durable and becomes visible to readers when the LMDB transaction
     * holding it commits. writer_wait_visible waits (vis_cond) for everything
     * answered before the call; vis_waiters asks the writer to commit now. */
    _Atomic uint64_t answered_lsn;
    _Atomic uint64_t visible_lsn;
    pending_set *pending; /* what answered, uncommitted events could change (pending.h) */
    uint32_t vis_waiters; /* under lock */
    pthread_cond_t vis_cond;
    atomic_bool stalled;  /* see stall() */
    uint64_t stall_retry_ns;
    char stall_reason[200];
    /* writer-thread only */
    write_job **batch;
    store_result *results;
    char (*msgs)[256];
    uint32_t batch_cap;
    time_t last_expire;
    journal *jr;                 /* NULL: journal = false */
    MDB_txn *ltxn;               /* the open write transaction (NULL between commits) */
    uint64_t ltxn_start_ns;      /* when it began */
    uint64_t ltxn_lsn;           /* last journal record whose event it holds */
    uint32_t ltxn_events;        /* events applied to it */
    uint64_t last_event_ns;      /* when the last group was applied */
    uint64_t commit_interval_ns;
    uint64_t commit_idle_ns;     /* commit once no event came for this long */
    size_t max_group_bytes;      /* journal: a group's records stay under half the journal */
    /* statistics, logged at debug level every few seconds */
    uint64_t stat_batches, stat_events, stat_store_ns, stat_commit_ns, stat_gather_ns, stat_gathers;
    uint64_t stat_lmdb_commits, stat_lmdb_ns;
    time_t stat_since;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Absolute CLOCK_REALTIME deadline ns from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(uint64_t ns) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_nsec + ns;
    ts.tv_sec += (time_t)(t / 1000000000u);
    ts.tv_nsec = (long)(t % 1000000000u);
    return ts;
}

static void log_stats(writer *w) {
    time_t now = time(NULL);
    if (now - w->stat_since < 5) return;
    if (w->stat_batches)
        log_debug("writer: %llu events in %llu groups (%.1f per group), store %.3f ms, %s %.3f ms per group; "
                  "%llu gathers of %.3f ms; %llu LMDB commits of %.3f ms",
                  (unsigned long long)w->stat_events, (unsigned long long)w->stat_batches,
                  (double)w->stat_events / (double)w->stat_batches,
                  (double)w->stat_store_ns / 1e6 / (double)w->stat_batches, w->jr ? "journal" : "commit",
                  (double)w->stat_commit_ns / 1e6 / (double)w->stat_batches, (unsigned long long)w->stat_gathers,
                  w->stat_gathers ? (double)w->stat_gather_ns / 1e6 / (double)w->stat_gathers : 0.0,
                  (unsigned long long)w->stat_lmdb_commits,
                  w->stat_lmdb_commits ? (double)w->stat_lmdb_ns / 1e6 / (double)w->stat_lmdb_commits : 0.0);
    w->stat_batches = w->stat_events = w->stat_store_ns = w->stat_commit_ns = 0;
    w->stat_gather_ns = w->stat_gathers = w->stat_lmdb_commits = w->stat_lmdb_ns = 0;
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
    bool wake = w->queued >= w->wake_at;
    pthread_mutex_unlock(&w->lock);
    /* signalled after unlocking: the writer wakes to a free lock instead of
     * blocking on it again at once */
    if (wake) pthread_cond_signal(&w->cond);
}

void writer_wait_visible(writer *w, const filter *filters, uint32_t count) {
    if (!w || !w->jr) return;
    uint64_t need = atomic_load(&w->answered_lsn);
    if (atomic_load(&w->visible_lsn) >= need) return;
    /* only when an answered event could change these results: a query that
     * no pending event concerns must not wait for (and force) a commit */
    if (!pending_may_match(w->pending, filters, count)) return;
    pthread_mutex_lock(&w->lock);
    w->vis_waiters++;
    pthread_cond_signal(&w->cond); /* commit now rather than at the interval */
    while (atomic_load(&w->visible_lsn) < need && !w->stop && !atomic_load(&w->stalled)) {
        struct timespec ts = deadline_in(100000000u);
        pthread_cond_timedwait(&w->vis_cond, &w->lock, &ts);
    }
    w->vis_waiters--;
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

/* Tells the job's submitter how it ended (write_job.done), once. */
static void finish(write_job *j, bool settled) {
    if (!j->done) return;
    void (*done)(write_job *, bool) = j->done;
    j->done = NULL;
    done(j, settled);
}

/* Ends a job of the group: the OK for a client's event, the completion
 * callback for every job (a database error is the only transient outcome). */
static void answer(relay_ctx *ctx, write_job *j, store_result r, const char *msg) {
    finish(j, r != STORE_ERROR);
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

/* Begins the long transaction if none is open. */
static int ensure_ltxn(writer *w) {
    if (w->ltxn) return 0;
    int rc = mdb_txn_begin(store_env(w->ctx->st), NULL, 0, &w->ltxn);
    if (rc) {
        w->ltxn = NULL;
        return rc;
    }
    w->ltxn_start_ns = now_ns();
    w->ltxn_events = 0;
    return 0;
}

/* Commits the long transaction (with the journal: recording the last record it
 * holds), makes its events visible to waiting queries and starts the journal
 * over. Returns 0 or an LMDB error (the transaction is gone either way). */
static int commit_ltxn(writer *w) {
    if (!w->ltxn) return 0;
    uint64_t t0 = now_ns();
    int rc = 0;
    if (w->jr) rc = store_set_journal_lsn(w->ctx->st, w->ltxn, w->ltxn_lsn);
    if (rc) mdb_txn_abort(w->ltxn);
    else rc = mdb_txn_commit(w->ltxn);
    w->ltxn = NULL;
    w->stat_lmdb_commits++;
    w->stat_lmdb_ns += now_ns() - t0;
    if (rc || !w->jr) return rc;
    journal_reset(w->jr);
    pthread_mutex_lock(&w->lock);
    pending_clear(w->pending);
    atomic_store(&w->visible_lsn, w->ltxn_lsn);
    pthread_cond_broadcast(&w->vis_cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* A journal write that failed cannot be trusted again (after a failed fsync
 * the kernel may have dropped the dirty pages): stop; the events answered so far
 * are in the journal and the next start applies them. */
static void fatal_journal(const char *what, const char *why) {
    log_error("writer: %s failed (%s); the journal keeps every answered event, and the next start applies them. "
              "Stopping.",
              what, why);
    _exit(75);
}

/* An LMDB failure with answered events not committed (map or disk full...):
 * they stay safe in the journal, which is no longer reset; new events are
 * refused with the reason, reads go on, and every STALL_RETRY_NS the writer
 * tries to apply the journal and commit again (or a restart does). */
#define STALL_RETRY_NS 10000000000ull

static void stall(writer *w, const char *what, const char *why) {
    snprintf(w->stall_reason, sizeof w->stall_reason, "error: database: %s (%s)", why, what);
    if (!atomic_load(&w->stalled))
        log_error("writer: %s failed (%s); answered events are safe in the journal; refusing new events until "
                  "the database takes them (retrying every %llu s, or at the next start)",
                  what, why, STALL_RETRY_NS / 1000000000ull);
    w->stall_retry_ns = now_ns() + STALL_RETRY_NS;
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stalled, true);
    pthread_cond_broadcast(&w->vis_cond);
    pthread_mutex_unlock(&w->lock);
}

/* A group being applied: the jobs and, per job, the result and message. */
typedef struct {
    write_job **jobs;
    store_result *results;
    char (*msgs)[256];
    uint32_t n;
} group;

static group current_group(writer *w, uint32_t n) { return (group){w->batch, w->results, w->msgs, n}; }

static void set_db_error(const group *g, uint32_t i, int rc) {
    g->results[i] = STORE_ERROR;
    snprintf(g->msgs[i], sizeof g->msgs[i], "error: database: %s", mdb_strerror(rc));
}

/* Every event of the group refused with msg. */
static void refuse_group(const group *g, const char *msg) {
    for (uint32_t i = 0; i < g->n; i++) {
        g->results[i] = STORE_ERROR;
        snprintf(g->msgs[i], sizeof g->msgs[i], "%s", msg);
    }
}

static void fail_group(const group *g, int rc) {
    char msg[256];
    snprintf(msg, sizeof msg, "error: database: %s", mdb_strerror(rc));
    refuse_group(g, msg);
}

/* Applies a group to the long transaction. all_nested: every event in its own
 * nested transaction, so an LMDB error aborts only that event (used to redo a
 * group after such an error). Returns 0 when applied, 1 when an event failed
 * outside a nested transaction (the long transaction is then aborted: the
 * caller applies the journal again and redoes the group with all_nested), -1
 * on failure (the results say why). Without the journal the long transaction
 * holds only this group and is committed here. */
static int store_batch(writer *w, const group *g, bool all_nested) {
    relay_ctx *ctx = w->ctx;
    MDB_env *env = store_env(ctx->st);
    uint64_t t0 = now_ns();
    int rc = ensure_ltxn(w);
    if (rc) {
        fail_group(g, rc);
        return -1;
    }
    MDB_txn *txn = w->ltxn;
    for (uint32_t i = 0; i < g->n; i++) {
        write_job *j = g->jobs[i];
        g->msgs[i][0] = 0;
        j->levid = 0;
        if (event_kind_class(j->ev.kind) == EVENT_CLASS_EPHEMERAL) { /* delivered live only */
            g->results[i] = STORE_EPHEMERAL;
            continue;
        }
        bool hook = ctx->plugins && plugin_chain_wants_committed(ctx->plugins, j->ev.kind);
        bool nested = all_nested || hook;
        MDB_txn *t = txn;
        if (nested && (rc = mdb_txn_begin(env, txn, 0, &t)) != 0) {
            set_db_error(g, i, rc);
            continue;
        }
        uint64_t levid = 0;
        store_result r = store_insert(ctx->st, t, &j->ev, &levid, g->msgs[i], sizeof g->msgs[i]);
        if (r == STORE_ADDED && hook) {
            char msg[256] = "";
            if (plugin_chain_committed(ctx->plugins, t, &j->ev, levid, msg, sizeof msg) != 0) {
                r = STORE_ERROR;
                snprintf(g->msgs[i], sizeof g->msgs[i], "%s", msg[0] ? msg : "error: a plugin refused to record the event");
            }
        }
        g->results[i] = r;
        j->levid = levid;
        if (nested) {
            if (r == STORE_ERROR) mdb_txn_abort(t);
            else if ((rc = mdb_txn_commit(t)) != 0) set_db_error(g, i, rc);
        } else if (r == STORE_ERROR) {
            /* the transaction may be unusable */
            mdb_txn_abort(w->ltxn);
            w->ltxn = NULL;
            return 1;
        }
    }
    w->stat_batches++;
    w->stat_events += g->n;
    w->ltxn_events += g->n;
    w->stat_store_ns += now_ns() - t0;
    if (w->jr) return 0;
    rc = commit_ltxn(w);
    if (rc) {
        log_error("writer: commit failed: %s", mdb_strerror(rc));
        fail_group(g, rc);
        return -1;
    }
    return 0;
}

/* Journal mode: appends the events the group added and makes them durable.
 * The caller made sure they fit. */
static void journal_group(writer *w, const group *g) {
    uint64_t lsn = 0; /* lsns start at 1: 0 = nothing added */
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->results[i] != STORE_ADDED) continue;
        const event *ev = &g->jobs[i]->ev;
        if (journal_add(w->jr, ev->json, ev->json_len, &lsn) != 0) fatal_journal("journal append", "no room");
    }
    if (!lsn) return;
    if (journal_sync(w->jr) != 0) fatal_journal("journal write", journal_error(w->jr));
    /* before answered_lsn moves: a query that sees the new lsn finds them here */
    for (uint32_t i = 0; i < g->n; i++)
        if (g->results[i] == STORE_ADDED) pending_add(w->pending, &g->jobs[i]->ev);
    w->ltxn_lsn = lsn;
    atomic_store(&w->answered_lsn, lsn);
}

static void expire_old(writer *w) {
    time_t now = time(NULL);
    if (w->ltxn || now - w->last_expire < EXPIRE_INTERVAL_SECONDS) return;
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

static void commit_or_stall(writer *w) {
    int rc = commit_ltxn(w);
    if (rc && w->jr) stall(w, "LMDB commit", mdb_strerror(rc));
    else if (rc) log_error("writer: commit failed: %s", mdb_strerror(rc));
}

static int replay_journal(writer *w, uint64_t after, uint64_t *events, uint64_t *added, char *err, size_t errlen);

/* Applies the answered, uncommitted events again from the journal into a new
 * long transaction (after an LMDB error lost the previous one); stalls when
 * that fails. Returns the number of events, or -1. */
static long long reapply_answered(writer *w, const char *what) {
    uint64_t events, added;
    char err[256];
    sub_index_levids_reassigned(w->ctx->subs); /* the replay numbers them anew */
    if (replay_journal(w, atomic_load(&w->visible_lsn), &events, &added, err, sizeof err) != 0) {
        stall(w, what, err);
        return -1;
    }
    return (long long)events;
}

/* Stalled: apply the journal's answered events again and commit them. */
static void try_unstall(writer *w) {
    if (now_ns() < w->stall_retry_ns) return;
    long long events = reapply_answered(w, "re-applying the journal");
    if (events < 0) return;
    int rc = commit_ltxn(w);
    if (rc) {
        stall(w, "LMDB commit", mdb_strerror(rc));
        return;
    }
    atomic_store(&w->stalled, false);
    log_info("writer: the database takes events again (%lld answered events committed from the journal)", events);
}

/* Journal mode: is it time to commit LMDB? (called after a group) */
static bool commit_due(writer *w, uint64_t now) {
    if (!w->ltxn) return false;
    if (now - w->ltxn_start_ns >= w->commit_interval_ns || w->ltxn_events >= LTXN_MAX_EVENTS) return true;
    pthread_mutex_lock(&w->lock);
    bool waiters = w->vis_waiters > 0;
    pthread_mutex_unlock(&w->lock);
    return waiters;
}

static void recover_ltxn(writer *w);

static void *writer_main(void *arg) {
    writer *w = arg;
    relay_ctx *ctx = w->ctx;
    pthread_setname_np(pthread_self(), "g1-writer");
    uint32_t max = ctx->lim.write_batch_max ? ctx->lim.write_batch_max : 4096;
    w->last_expire = time(NULL) - EXPIRE_INTERVAL_SECONDS + 5;
    /* Group commit gathering: when a round is slow (a disk flush), the clients
     * just answered usually send their next event within a fraction of that
     * time; waiting briefly for them lets one flush serve everyone instead of
     * alternating half-full rounds. */
    size_t gather_target = 0;
    uint64_t gather_until = 0, gather_start = 0;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        if (gather_target) w->wake_at = gather_target;
        while (gather_target && !w->stop && w->queued < gather_target && !w->vis_waiters) {
            uint64_t t = now_ns();
            if (t >= gather_until) break;
            struct timespec ts = deadline_in(gather_until - t);
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        if (gather_target) {
            w->stat_gathers++;
            w->stat_gather_ns += now_ns() - gather_start;
        }
        gather_target = 0;
        w->wake_at = 1;
        bool commit_now = false;
        while (!w->head && !w->stop) {
            if (w->ltxn) {
                /* answered events wait in the open transaction: commit when a
                 * query needs them, when idle, or at the interval */
                uint64_t t = now_ns();
                uint64_t idle_at = w->last_event_ns + w->commit_idle_ns;
                uint64_t due_at = w->ltxn_start_ns + w->commit_interval_ns;
                uint64_t until = idle_at < due_at ? idle_at : due_at;
                if (w->vis_waiters || t >= until) {
                    commit_now = true;
                    break;
                }
                struct timespec ts = deadline_in(until - t);
                pthread_cond_timedwait(&w->cond, &w->lock, &ts);
                continue;
            }
            struct timespec ts = deadline_in(1000000000u);
            if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT) break;
        }
        if (!w->head) {
            bool stop = w->stop;
            pthread_mutex_unlock(&w->lock);
            if (commit_now || stop) commit_or_stall(w);
            if (stop) break;
            expire_old(w);
            log_stats(w);
            continue;
        }
        uint32_t n = 0;
        if (!grow_batch(w, max < 64 ? max : 64)) {
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        size_t group_bytes = 0;
        while (w->head && n < max) {
            if (n == w->batch_cap && !grow_batch(w, w->batch_cap * 2 < max ? w->batch_cap * 2 : max)) break;
            if (w->jr) { /* the group's records, at most: they stay under half the journal */
                size_t rec = w->head->ev.json_len + JOURNAL_RECORD_OVERHEAD;
                if (n > 0 && group_bytes + rec > w->max_group_bytes) break;
                group_bytes += rec;
            }
            write_job *j = w->head;
            w->head = j->next;
            w->batch[n++] = j;
        }
        if (!w->head) w->tail = NULL;
        w->queued -= n;
        pthread_mutex_unlock(&w->lock);

        uint64_t round_start = now_ns();
        group g = current_group(w, n);
        if (atomic_load(&w->stalled)) try_unstall(w);
        if (!atomic_load(&w->stalled) && w->jr && !journal_fits(w->jr, group_bytes))
            commit_or_stall(w); /* frees the journal */
        int rc = -1;
        if (!atomic_load(&w->stalled)) {
            rc = store_batch(w, &g, false);
            if (rc == 1 && w->jr) recover_ltxn(w); /* the earlier, answered groups */
            if (rc == 1 && !atomic_load(&w->stalled)) rc = store_batch(w, &g, true);
        }
        if (atomic_load(&w->stalled) && rc != 0) {
            rc = -1;
            refuse_group(&g, w->stall_reason);
        }
        if (w->jr && rc == 0) journal_group(w, &g);
        uint64_t round_end = now_ns();
        uint64_t round_ns = round_end - round_start;
        w->stat_commit_ns += round_ns;
        w->last_event_ns = round_end;
        /* Live delivery of the whole group first, then the OKs: a client that
         * got its OK and then opens a REQ must not receive the same event
         * both from the stored query and live. */
        conn_defer_wake_begin();
        for (uint32_t i = 0; i < n; i++)
            if (w->results[i] == STORE_ADDED || w->results[i] == STORE_EPHEMERAL)
                sub_broadcast(ctx->subs, ctx->conns, &w->batch[i]->ev, w->batch[i]->levid);
        for (uint32_t i = 0; i < n; i++) answer(ctx, w->batch[i], w->results[i], w->msgs[i]);
        conn_defer_wake_end(ctx->conns);
        for (uint32_t i = 0; i < n; i++) write_job_free(w->batch[i]);
        if (w->jr && commit_due(w, now_ns())) commit_or_stall(w);
        if (round_ns > GATHER_MIN_COMMIT_NS) {
            /* gather only when the next group would be small next to this one
             * (its clients are all waiting for their answers); with half a
             * group already queued, waiting only delays it */
            pthread_mutex_lock(&w->lock);
            if (w->queued < n / 2) gather_target = w->queued + n < max ? w->queued + n : max;
            pthread_mutex_unlock(&w->lock);
            if (gather_target) {
                gather_start = now_ns();
                gather_until = gather_start + (round_ns < GATHER_MAX_NS ? round_ns : GATHER_MAX_NS);
            }
        }
        expire_old(w);
        log_stats(w);
    }
    return NULL;
}

/* ---- the journal's replay (start-up, and after an LMDB error) ---- */

#define REPLAY_GROUP 1024

typedef struct {
    writer *w;
    bool all_nested;
    group g;         /* its own arrays: a replay can run while w->batch holds a group */
    uint64_t lsn;    /* last record read */
    uint64_t events, added;
    bool redo;       /* store_batch asked for all_nested */
    bool db_error;   /* an event failed in LMDB: stop */
    char *err;
    size_t errlen;
} replay_ctx;

static int replay_flush(replay_ctx *r) {
    if (!r->g.n) return 0;
    int rc = store_batch(r->w, &r->g, r->all_nested);
    for (uint32_t i = 0; i < r->g.n; i++) {
        if (rc == 0 && r->g.results[i] == STORE_ADDED) r->added++;
        else if (rc == 0 && r->g.results[i] == STORE_ERROR) {
            /* answered OK once, so it must be applied again: a database error
             * stops the replay (committing past the record would lose it); a
             * plugin that now refuses is only reported */
            const char *m = r->g.msgs[i];
            char id_hex[65];
            hex_encode(r->g.jobs[i]->ev.id, 32, id_hex);
            if (!strncmp(m, "error: store ", 13) || !strncmp(m, "error: database", 15)) {
                if (!r->db_error) snprintf(r->err, r->errlen, "journal replay: event %s: %s", id_hex, m);
                r->db_error = true;
            } else {
                log_error("journal: event %s, answered OK before the restart, is now refused: %s", id_hex, m);
            }
        }
        write_job_free(r->g.jobs[i]);
    }
    if (r->db_error) {
        r->g.n = 0;
        return -1;
    }
    r->g.n = 0;
    if (rc == 1) {
        r->redo = true;
        return 1;
    }
    if (rc < 0) {
        snprintf(r->err, r->errlen, "journal replay: the database refused a group (%s)", r->g.msgs[0]);
        return -1;
    }
    r->w->ltxn_lsn = r->lsn;
    return 0;
}

static int replay_record(void *vctx, uint64_t lsn, const char *data, size_t len) {
    replay_ctx *r = vctx;
    write_job *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(r->err, r->errlen, "journal replay: out of memory");
        return -1;
    }
    if (event_parse_trusted(&j->ev, data, len) != 0) {
        free(j);
        snprintf(r->err, r->errlen, "journal replay: record %llu is not an event", (unsigned long long)lsn);
        return -1;
    }
    r->g.jobs[r->g.n++] = j;
    r->lsn = lsn;
    r->events++;
    return r->g.n >= REPLAY_GROUP ? replay_flush(r) : 0;
}

/* Applies the journal's records after `after` to a new long transaction (not
 * committed). First with plain inserts; if LMDB fails outside a nested
 * transaction, again from the start with every event nested. */
static int replay_journal(writer *w, uint64_t after, uint64_t *events, uint64_t *added, char *err, size_t errlen) {
    replay_ctx r = {.w = w, .err = err, .errlen = errlen};
    r.g.jobs = calloc(REPLAY_GROUP, sizeof *r.g.jobs);
    r.g.results = calloc(REPLAY_GROUP, sizeof *r.g.results);
    r.g.msgs = calloc(REPLAY_GROUP, sizeof *r.g.msgs);
    int rc = -1;
    if (!r.g.jobs || !r.g.results || !r.g.msgs) {
        snprintf(err, errlen, "journal replay: out of memory");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        r.all_nested = pass == 1;
        r.redo = r.db_error = false;
        r.lsn = after;
        r.events = r.added = 0;
        w->ltxn_lsn = after;
        err[0] = 0;
        uint64_t last = after;
        rc = journal_scan(w->jr, after, replay_record, &r, &last, err, errlen);
        if (rc == 0) rc = replay_flush(&r);
        for (uint32_t i = 0; i < r.g.n; i++) write_job_free(r.g.jobs[i]);
        r.g.n = 0;
        if (rc == 0 || !r.redo) break;
        /* store_batch aborted the long transaction: start over, all nested */
    }
    if (rc != 0 && !err[0]) snprintf(err, errlen, "journal replay failed");
    *events = r.events;
    *added = r.added;
out:
    if (rc != 0 && w->ltxn) {
        mdb_txn_abort(w->ltxn);
        w->ltxn = NULL;
    }
    free(r.g.jobs);
    free(r.g.results);
    free(r.g.msgs);
    return rc;
}

/* After an LMDB error outside a nested transaction the long transaction is
 * gone, with the answered groups it held: apply them again from the journal. */
static void recover_ltxn(writer *w) {
    long long events = reapply_answered(w, "re-applying the journal after an LMDB error");
    if (events >= 0) log_warn("writer: re-applied %lld answered events from the journal after an LMDB error", events);
}

int writer_journal_open(const config *cfg, journal **out, char *err, size_t errlen) {
    *out = NULL;
    if (!config_bool(cfg, NULL, "journal", true)) return 0;
    long long size_mb = config_int(cfg, NULL, "journal_size_mb", 64);
    long long interval_ms = config_int(cfg, NULL, "commit_interval_ms", 1000);
    long long idle_ms = config_int(cfg, NULL, "commit_idle_ms", 20);
    if (size_mb < 1 || size_mb > 65536 || interval_ms < 1 || interval_ms > 3600000 || idle_ms < 1 ||
        idle_ms > 3600000) {
        snprintf(err, errlen,
                 "config: journal_size_mb (1..65536), commit_interval_ms or commit_idle_ms (1..3600000) out of range");
        return -1;
    }
    const char *dir = config_str(cfg, NULL, "data_dir", "./data");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) { /* a first start: the store would create it next */
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return journal_open(dir, (size_t)size_mb << 20, out, err, errlen);
}

/* Applies the records the database does not hold yet, and commits them. */
static int journal_start(writer *w, char *err, size_t errlen) {
    const config *cfg = w->ctx->cfg;
    /* ranges checked by writer_journal_open */
    w->commit_interval_ns = (uint64_t)config_int(cfg, NULL, "commit_interval_ms", 1000) * 1000000u;
    w->commit_idle_ns = (uint64_t)config_int(cfg, NULL, "commit_idle_ms", 20) * 1000000u;
    w->max_group_bytes = journal_size(w->jr) / 2;
    uint64_t applied = 0;
    int rc = store_get_journal_lsn(w->ctx->st, NULL, &applied);
    if (rc) {
        snprintf(err, errlen, "journal: cannot read the applied position: %s", mdb_strerror(rc));
        return -1;
    }
    uint64_t t0 = now_ns(), events = 0, added = 0;
    if (replay_journal(w, applied, &events, &added, err, errlen) != 0) return -1;
    uint64_t last = w->ltxn_lsn;
    if (events) {
        if ((rc = commit_ltxn(w)) != 0) {
            snprintf(err, errlen, "journal replay: commit failed: %s", mdb_strerror(rc));
            return -1;
        }
        log_info("journal: applied %llu events from %s (%llu new to the database) in %.1f ms",
                 (unsigned long long)events, journal_path(w->jr), (unsigned long long)added,
                 (double)(now_ns() - t0) / 1e6);
    } else if (w->ltxn) {
        mdb_txn_abort(w->ltxn);
        w->ltxn = NULL;
    }
    journal_reset(w->jr);
    if (journal_next_lsn(w->jr) <= last) journal_set_next_lsn(w->jr, last + 1);
    atomic_store(&w->answered_lsn, last);
    atomic_store(&w->visible_lsn, last);
    w->ltxn_lsn = last;
    return 0;
}

/* Frees what writer_start allocated (the thread is not running). */
static void writer_free(writer *w) {
    journal_close(w->jr);
    pending_free(w->pending);
    free(w->batch);
    free(w->results);
    free(w->msgs);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->vis_cond);
    free(w);
}

writer *writer_start(relay_ctx *ctx, journal *jr, char *err, size_t errlen) {
    writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        journal_close(jr);
        return NULL;
    }
    w->ctx = ctx;
    w->jr = jr;
    w->pending = pending_new();
    if (!w->pending) {
        snprintf(err, errlen, "out of memory");
        writer_free(w);
        return NULL;
    }
    w->wake_at = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->vis_cond, NULL);
    if (w->jr && journal_start(w, err, errlen) != 0) {
        writer_free(w);
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        writer_free(w);
        return NULL;
    }
    return w;
}

void writer_stop(writer *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_cond_broadcast(&w->vis_cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    /* anything submitted after the thread ended (late policy answers): not
     * stored, so not settled (a synced event is fetched again next start) */
    write_job *j = w->head;
    while (j) {
        write_job *next = j->next;
        finish(j, false);
        write_job_free(j);
        j = next;
    }
    writer_free(w);
}
