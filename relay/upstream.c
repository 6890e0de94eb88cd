/* Upstream sync: following trusted relays as a client (see upstream.h). Synced
 * events go through the same external write policy as client events.
 *
 * The cursor and durability: every synced event handed to the write policy or
 * the writer counts in its link's `outstanding` until it is settled (the
 * writer's completion callback: stored durably, or a final refusal such as a
 * duplicate) or refused by the policy. The cursor is saved only while nothing
 * is outstanding and no refetch is pending, so a saved cursor never passes an
 * event this relay received and has not stored yet: a kill -9 between the
 * handing over and the journal write leaves a saved cursor that predates the
 * event's arrival. An event that comes back unsettled (database error, stalled
 * writer) or undecided by the policy lowers `retry_from` to its created_at; the
 * link then lowers its cursor there and reconnects to fetch again from it.
 * What the counting cannot do: a cursor saved before an event arrived may
 * already be past its created_at (the live subscription takes old events); such
 * an event lost in a crash before it was durable (or published upstream while
 * this station was down) is not fetched again, as upstream.h says. */
#include "event_rules.h"
#include "upstream.h"
#include "hex.h"
#include "ingest.h"
#include "json.h"
#include "log.h"
#include "writer.h"
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UPSTREAM_MAX 16
#define PAGE_LIMIT 500
#define CURSOR_MARGIN_S 60     /* catch-up starts this long before the cursor */
#define LIVE_OVERLAP_S 5       /* the cursor after a catch-up: this long before connecting */
#define LIVE_LAG_S 10          /* while connected, the cursor trails now by this */
#define SAVE_INTERVAL_MS 3000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define MAX_MESSAGE (4u << 20)
#define MAX_PAGES 100000

typedef struct upstream_link {
    struct upstream_set *set;
    char url[512], host[256], path[512];
    int port;
    bool tls;
    pthread_t thread;
    bool started;
    struct lws_context *lws;
    struct lws *wsi;
    uintptr_t gen;
    bool open;
    lws_sorted_usec_list_t sul;
    /* outgoing messages (a few at most) */
    char *txq[8];
    size_t txlen[8];
    int txn;
    /* incoming message assembly */
    char *rx;
    size_t rxlen, rxcap;
    bool rx_overflow;
    /* sync state */
    int64_t cursor;          /* persisted: everything created before it was fetched */
    int64_t saved_cursor;
    int64_t connect_time;
    int64_t cu_until;        /* current catch-up page's until */
    uint32_t cu_count;       /* events in the current page */
    int64_t cu_oldest;
    uint32_t cu_pages;
    uint32_t cu_page_max;    /* largest page of this catch-up (the upstream's limit, maybe) */
    bool cu_done;
    uint64_t next_connect_ms, backoff_ms, last_save_ms;
    uint64_t received, submitted;
    uint32_t failures;       /* connection attempts failed in a row (logged once) */
    /* external write policy (shared with the runner thread's callbacks) */
    uintptr_t hold_gen;      /* connection whose cursor advances are void (a refetch is due) */
    atomic_long outstanding; /* events handed to the policy or the writer, not settled yet */
    atomic_llong retry_from; /* oldest created_at refused for a passing reason (INT64_MAX: none) */
} upstream_link;

/* An event waiting for the external write policy. */
typedef struct {
    write_job *wj;
    upstream_link *l;
} sync_job;

struct upstream_set {
    relay_ctx *ctx;
    MDB_dbi cursors;
    size_t n;
    upstream_link links[UPSTREAM_MAX];
    atomic_bool stop;
    char ca_file[1024]; /* tls_ca_file ("" = the system's authorities) */
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- cursor persistence ---- */

static int64_t load_cursor(upstream_set *u, const char *url) {
    MDB_txn *txn;
    int64_t c = 0;
    if (mdb_txn_begin(store_env(u->ctx->st), NULL, MDB_RDONLY, &txn) != 0) return 0;
    MDB_val k = {strlen(url), (void *)url}, v;
    if (mdb_get(txn, u->cursors, &k, &v) == 0 && v.mv_size == 8) memcpy(&c, v.mv_data, 8);
    mdb_txn_abort(txn);
    return c;
}

static void save_cursor(upstream_link *l) {
    if (l->cursor == l->saved_cursor) return;
    /* Events still waiting for the write policy or the writer are not stored
     * yet: a cursor saved past them would lose them in a crash. Saved once they
     * are settled, and once the link applied a refetch they asked for (read
     * after outstanding: the callbacks lower retry_from before they count down) */
    if (atomic_load(&l->outstanding) > 0) return;
    if (atomic_load(&l->retry_from) != INT64_MAX) return;
    MDB_txn *txn;
    if (mdb_txn_begin(store_env(l->set->ctx->st), NULL, 0, &txn) != 0) return;
    MDB_val k = {strlen(l->url), l->url}, v = {8, &l->cursor};
    if (mdb_put(txn, l->set->cursors, &k, &v, 0) == 0 && mdb_txn_commit(txn) == 0) {
        l->saved_cursor = l->cursor;
        log_debug("upstream %s: cursor %lld", l->url, (long long)l->cursor);
    } else {
        log_warn("upstream %s: cannot save the cursor", l->url);
    }
}

/* ---- sending ---- */

static void queue_text(upstream_link *l, const char *text) {
    if (l->txn >= 8) return;
    size_t n = strlen(text);
    char *b = malloc(LWS_PRE + n);
    if (!b) return;
    memcpy(b + LWS_PRE, text, n);
    l->txq[l->txn] = b;
    l->txlen[l->txn] = n;
    l->txn++;
    if (l->wsi) lws_callback_on_writable(l->wsi);
}

static void clear_queue(upstream_link *l) {
    for (int i = 0; i < l->txn; i++) free(l->txq[i]);
    l->txn = 0;
}

static void request_page(upstream_link *l) {
    char msg[256];
    int64_t since = l->cursor > CURSOR_MARGIN_S ? l->cursor - CURSOR_MARGIN_S : 0;
    if (l->cu_until == INT64_MAX) /* first page: up to the newest, future created_at included */
        snprintf(msg, sizeof msg, "[\"REQ\",\"cu\",{\"since\":%lld,\"limit\":%d}]", (long long)since, PAGE_LIMIT);
    else
        snprintf(msg, sizeof msg, "[\"REQ\",\"cu\",{\"since\":%lld,\"until\":%lld,\"limit\":%d}]", (long long)since,
                 (long long)l->cu_until, PAGE_LIMIT);
    l->cu_count = 0;
    l->cu_oldest = INT64_MAX;
    queue_text(l, msg);
}

static void on_open(upstream_link *l) {
    l->connect_time = (int64_t)time(NULL);
    /* live: every event the upstream stores from now on, whatever its created_at
     * (a `since` here would drop an event signed earlier but published now, and no
     * later catch-up would fetch it once the cursor passed it); opened before the
     * catch-up, so whatever the catch-up's query does not see arrives here */
    queue_text(l, "[\"REQ\",\"live\",{\"limit\":0}]");
    l->cu_until = INT64_MAX;
    l->cu_pages = 0;
    l->cu_page_max = 0;
    l->cu_done = false;
    request_page(l);
    log_info("upstream %s: connected, catching up since %lld", l->url,
             (long long)(l->cursor > CURSOR_MARGIN_S ? l->cursor - CURSOR_MARGIN_S : 0));
}

/* ---- receiving ---- */

/* A refusal that says nothing about the event (the policy was busy, timed out,
 * crashed, or its queue was full): the event must be fetched again later rather
 * than lost, since nobody would resend it as a client would. */
static bool passing_refusal(const char *msg) {
    if (!msg) return false;
    if (strncmp(msg, "rate-limited:", 13) == 0) return true;
    if (strncmp(msg, "error:", 6) != 0) return false;
    return strstr(msg, "timed out") || strstr(msg, "busy") || strstr(msg, "crashed") || strstr(msg, "unavailable") ||
           strstr(msg, "shutting down");
}

/* The event must be fetched again from its created_at (any thread: atomics only). */
static void refetch_from(upstream_link *l, int64_t created_at) {
    long long t = created_at, cur = atomic_load(&l->retry_from);
    while (t < cur && !atomic_compare_exchange_weak(&l->retry_from, &cur, t)) {}
}

/* The writer finished a synced event (writer thread): stored or finally
 * refused, or refused for now (then fetched again). Atomics on the link only. */
static void sync_write_done(write_job *wj, bool settled) {
    upstream_link *l = wj->done_arg;
    if (!settled) refetch_from(l, wj->ev.created_at); /* before the count down: see save_cursor */
    atomic_fetch_sub(&l->outstanding, 1);
}

/* The policy runner's answer for a synced event (runner thread). */
static void sync_policy_done(void *vjob, plugin_verdict verdict, const char *msg) {
    sync_job *sj = vjob;
    upstream_link *l = sj->l;
    write_job *wj = sj->wj;
    free(sj);
    if (verdict == PLUGIN_ACCEPT) {
        /* the writer outlives the policy runner; still outstanding until its callback */
        writer_submit(l->set->ctx->writer, wj);
        return;
    }
    if (verdict == PLUGIN_REJECT && passing_refusal(msg)) {
        refetch_from(l, wj->ev.created_at); /* before the count down: see save_cursor */
    } else {
        char idhex[65];
        hex_encode(wj->ev.id, 32, idhex);
        log_debug("upstream %s: event %s refused by the write policy: %s", l->url, idhex, msg ? msg : "");
    }
    write_job_free(wj); /* never submitted: done is not called */
    atomic_fetch_sub(&l->outstanding, 1);
}

static void take_event(upstream_link *l, const char *text, size_t len, bool catchup) {
    relay_ctx *ctx = l->set->ctx;
    event ev;
    char err[200];
    size_t used;
    if (event_parse_prefix(&ev, text, len, &used, &ctx->lim.msg.event, err, sizeof err, NULL) != 0) {
        log_debug("upstream %s: bad event: %s", l->url, err);
        return;
    }
    l->received++;
    if (catchup) {
        l->cu_count++;
        if (ev.created_at < l->cu_oldest) l->cu_oldest = ev.created_at;
    }
    event_class cls = event_kind_class(ev.kind);
    if (ev.kind == 22242 || cls == EVENT_CLASS_EPHEMERAL) goto drop;
    /* NIP-70: only its author, authenticated on this relay, may publish a
     * protected event; nobody authenticated for a sync */
    if (ev.is_protected) {
        log_debug("upstream %s: protected (NIP-70) event dropped", l->url);
        goto drop;
    }
    /* the relay's own rules as for a client's event (created_at window as
     * configured, expiration, NIP-13 minimum PoW), before the write policy */
    char rule_msg[256];
    if (!event_rules_check(&ctx->lim, &ev, (int64_t)time(NULL), rule_msg, sizeof rule_msg)) {
        log_debug("upstream %s: event refused by the relay's rules: %s", l->url, rule_msg);
        goto drop;
    }
    if (ingest_already_stored(ctx, ev.id)) goto drop;
    if (!event_verify_sig(&ev)) {
        log_warn("upstream %s: event with a bad signature dropped", l->url);
        goto drop;
    }
    if (ctx->plugins) {
        plugin_source src = {.source_type = "Sync", .source_info = l->url, .received_at = (int64_t)time(NULL)};
        char msg[256] = "";
        if (plugin_chain_decide(ctx->plugins, &ev, &src, msg, sizeof msg) != PLUGIN_ACCEPT) goto drop;
    }
    write_job *wj = calloc(1, sizeof *wj);
    if (!wj) { /* out of memory: fetched again rather than lost */
        refetch_from(l, ev.created_at);
        goto drop;
    }
    wj->conn = 0;
    wj->ev = ev; /* the job takes the event */
    wj->done = sync_write_done;
    wj->done_arg = l;
    l->submitted++;
    atomic_fetch_add(&l->outstanding, 1); /* from here until settled: the cursor is not saved meanwhile */
    if (ctx->policy) {
        /* the same external write policy as a client's event (strfry does the same
         * for its sync), told where it comes from */
        sync_job *sj = malloc(sizeof *sj);
        if (!sj) { /* out of memory: fetched again rather than lost */
            refetch_from(l, wj->ev.created_at); /* before the count down: see save_cursor */
            write_job_free(wj);
            atomic_fetch_sub(&l->outstanding, 1);
            return;
        }
        sj->wj = wj;
        sj->l = l;
        plugin_source src = {.source_type = "Sync", .source_info = l->url, .received_at = (int64_t)time(NULL)};
        policy_runner_submit(ctx->policy, &wj->ev, &src, sj, sync_policy_done);
        return;
    }
    writer_submit(ctx->writer, wj);
    return;
drop:
    event_free(&ev);
}

static void on_message(upstream_link *l, const char *buf, size_t len) {
    json_reader r;
    json_reader_init(&r, buf, len, JSON_DEFAULT_MAX_DEPTH);
    json_string type, sub;
    uint32_t idx = 0;
    if (!json_array_begin(&r) || json_array_next(&r, &idx) != 1 || !json_read_string(&r, &type)) return;
    if (json_string_is(&type, "EVENT")) {
        if (json_array_next(&r, &idx) != 1 || !json_read_string(&r, &sub)) return;
        if (json_array_next(&r, &idx) != 1) return;
        take_event(l, r.p, (size_t)(r.end - r.p), json_string_is(&sub, "cu"));
    } else if (json_string_is(&type, "EOSE")) {
        if (json_array_next(&r, &idx) != 1 || !json_read_string(&r, &sub) || !json_string_is(&sub, "cu")) return;
        queue_text(l, "[\"CLOSE\",\"cu\"]");
        l->cu_pages++;
        if (l->cu_count > l->cu_page_max) l->cu_page_max = l->cu_count;
        /* Paging goes on until a page brings nothing older than its until: a
         * page shorter than PAGE_LIMIT does not mean the end, since the upstream
         * may cut every page at its own limit (NIP-11 max_limit, often 100-500).
         * The next page repeats the oldest second (the store drops repeats):
         * events of that second beyond the page may remain. A page of a single
         * second as large as the largest page so far may have been cut there:
         * paging continues before that second (NIP-01 filters cannot page
         * within one second). */
        bool progress = l->cu_count > 0 && l->cu_oldest < l->cu_until;
        bool maybe_cut = l->cu_count > 0 && l->cu_count >= l->cu_page_max;
        if ((progress || maybe_cut) && l->cu_pages < MAX_PAGES) {
            if (progress) {
                l->cu_until = l->cu_oldest;
            } else {
                log_debug("upstream %s: a page of %u events all created at %lld; continuing before that second",
                          l->url, l->cu_count, (long long)l->cu_until);
                l->cu_until--;
            }
            request_page(l);
            return;
        }
        if (l->gen == l->hold_gen) return; /* a refetch is due: this catch-up does not count */
        l->cu_done = true;
        l->backoff_ms = BACKOFF_MIN_MS;
        int64_t c = l->connect_time - LIVE_OVERLAP_S;
        if (c > l->cursor) l->cursor = c;
        log_info("upstream %s: caught up (%u pages, %llu events received, %llu new)", l->url, l->cu_pages,
                 (unsigned long long)l->received, (unsigned long long)l->submitted);
    } else if (json_string_is(&type, "CLOSED")) {
        if (json_array_next(&r, &idx) != 1 || !json_read_string(&r, &sub)) return;
        log_warn("upstream %s: subscription closed by the relay", l->url);
        if (l->wsi) lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC); /* reconnect */
    }
}

static void link_closed(upstream_link *l, const char *why) {
    if (l->open) log_info("upstream %s: disconnected (%s)", l->url, why);
    else if (l->failures++ == 0) log_warn("upstream %s: cannot connect (%s), retrying", l->url, why);
    else log_debug("upstream %s: cannot connect (%s)", l->url, why);
    l->wsi = NULL;
    l->open = false;
    clear_queue(l);
    l->rxlen = 0;
    l->next_connect_ms = now_ms() + l->backoff_ms;
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
    save_cursor(l);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct lws_context *cx = lws_get_context(wsi);
    upstream_link *l = cx ? lws_context_user(cx) : NULL;
    if (!l) return 0;
    bool current = (uintptr_t)user == l->gen && l->gen != 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (current) link_closed(l, in ? (const char *)in : "connection error");
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!current) return -1;
        l->open = true;
        l->failures = 0;
        on_open(l);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!current) return -1;
        if (l->txn > 0) {
            int n = lws_write(wsi, (unsigned char *)l->txq[0] + LWS_PRE, l->txlen[0], LWS_WRITE_TEXT);
            free(l->txq[0]);
            memmove(l->txq, l->txq + 1, (size_t)(l->txn - 1) * sizeof l->txq[0]);
            memmove(l->txlen, l->txlen + 1, (size_t)(l->txn - 1) * sizeof l->txlen[0]);
            l->txn--;
            if (n < 0) return -1;
            if (l->txn > 0) lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!current) return -1;
        if (lws_is_first_fragment(wsi)) {
            l->rxlen = 0;
            l->rx_overflow = false;
        }
        if (!l->rx_overflow) {
            if (l->rxlen + len > MAX_MESSAGE) l->rx_overflow = true;
            else {
                if (l->rxlen + len > l->rxcap) {
                    size_t cap = l->rxcap ? l->rxcap : 65536;
                    while (cap < l->rxlen + len) cap *= 2;
                    char *p = realloc(l->rx, cap);
                    if (!p) return -1;
                    l->rx = p;
                    l->rxcap = cap;
                }
                memcpy(l->rx + l->rxlen, in, len);
                l->rxlen += len;
            }
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            if (!l->rx_overflow) on_message(l, l->rx, l->rxlen);
            l->rxlen = 0;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (current) link_closed(l, "closed");
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"g1sync", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void tick(lws_sorted_usec_list_t *sul) { (void)sul; }

static void connect_now(upstream_link *l) {
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    l->gen++;
    if (l->gen == 0) l->gen = 1;
    ci.context = l->lws;
    ci.address = l->host;
    ci.port = l->port;
    ci.path = l->path;
    ci.host = l->host;
    ci.origin = l->host;
    ci.ssl_connection = l->tls ? LCCSCF_USE_SSL : 0;
    ci.userdata = (void *)l->gen;
    ci.pwsi = &l->wsi;
    ci.local_protocol_name = "g1sync";
    if (!lws_client_connect_via_info(&ci)) link_closed(l, "cannot connect");
}

static void *link_main(void *arg) {
    upstream_link *l = arg;
    while (!atomic_load(&l->set->stop)) {
        uint64_t t = now_ms();
        if (!l->wsi && t >= l->next_connect_ms) connect_now(l);
        long long retry = atomic_exchange(&l->retry_from, INT64_MAX);
        if (retry != INT64_MAX) {
            /* the write policy could not decide some events, or the writer could
             * not store them: fetch them again */
            if (retry < l->cursor) l->cursor = retry;
            l->hold_gen = l->gen; /* this connection no longer moves the cursor */
            l->cu_done = false;
            log_info("upstream %s: some events were not decided or not stored; fetching again since %lld", l->url,
                     retry);
            if (l->wsi) lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC); /* reconnect: catch-up */
        }
        if (l->open && l->cu_done && l->gen != l->hold_gen) {
            int64_t c = (int64_t)time(NULL) - LIVE_LAG_S;
            if (c > l->cursor) l->cursor = c;
        }
        if (t - l->last_save_ms >= SAVE_INTERVAL_MS) {
            save_cursor(l);
            l->last_save_ms = t;
        }
        lws_sul_schedule(l->lws, 0, &l->sul, tick, 50 * LWS_US_PER_MS);
        if (lws_service(l->lws, 0) < 0) break;
    }
    lws_sul_cancel(&l->sul);
    ingest_thread_done();
    return NULL;
}

static int parse_url(upstream_link *l, const char *url, char *err, size_t errlen) {
    if (strlen(url) >= sizeof l->url) { snprintf(err, errlen, "upstream URL too long"); return -1; }
    snprintf(l->url, sizeof l->url, "%s", url);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", url);
    const char *prot, *ads, *path;
    int port;
    if (lws_parse_uri(copy, &prot, &ads, &port, &path) || !ads[0]) {
        snprintf(err, errlen, "bad upstream URL %s", url);
        return -1;
    }
    if (strcmp(prot, "ws") == 0) l->tls = false;
    else if (strcmp(prot, "wss") == 0) l->tls = true;
    else { snprintf(err, errlen, "upstream URL %s: scheme must be ws or wss", url); return -1; }
    l->port = port;
    snprintf(l->host, sizeof l->host, "%s", ads);
    snprintf(l->path, sizeof l->path, "/%s", path);
    return 0;
}

upstream_set *upstream_new(relay_ctx *ctx, char *err, size_t errlen) {
    err[0] = 0;
    const char *const *urls;
    size_t n = config_list(ctx->cfg, NULL, "upstreams", &urls);
    if (n == 0) return NULL;
    if (n > UPSTREAM_MAX) { snprintf(err, errlen, "at most %d upstreams", UPSTREAM_MAX); return NULL; }
    upstream_set *u = calloc(1, sizeof *u);
    if (!u) { snprintf(err, errlen, "out of memory"); return NULL; }
    u->ctx = ctx;
    atomic_init(&u->stop, false);
    int rc = store_open_dbi(ctx->st, "sync.cursors", MDB_CREATE, &u->cursors);
    if (rc) {
        snprintf(err, errlen, "cursor database: %s", mdb_strerror(rc));
        free(u);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        upstream_link *l = &u->links[i];
        l->set = u;
        if (parse_url(l, urls[i], err, errlen) < 0) { free(u); return NULL; }
        l->cursor = l->saved_cursor = load_cursor(u, l->url);
        l->backoff_ms = BACKOFF_MIN_MS;
        atomic_init(&l->outstanding, 0);
        atomic_init(&l->retry_from, INT64_MAX);
    }
    u->n = n;
    return u;
}

int upstream_start(upstream_set *u, char *err, size_t errlen) {
    if (!u) return 0;
    if (config_file_path(u->ctx->cfg, "tls_ca_file", u->ca_file, sizeof u->ca_file, err, errlen) != 0) return -1;
    for (size_t i = 0; i < u->n; i++) {
        upstream_link *l = &u->links[i];
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = protocols;
        info.user = l;
        info.gid = -1;
        info.uid = -1;
        info.fd_limit_per_thread = 16;
        if (l->tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        if (l->tls && u->ca_file[0]) info.client_ssl_ca_filepath = u->ca_file; /* lives as long as the contexts */
        l->lws = lws_create_context(&info);
        if (!l->lws) { snprintf(err, errlen, "cannot create a client context for %s", l->url); return -1; }
        if (pthread_create(&l->thread, NULL, link_main, l) != 0) {
            snprintf(err, errlen, "cannot start the thread for %s", l->url);
            return -1;
        }
        l->started = true;
        log_info("upstream %s: following (cursor %lld)", l->url, (long long)l->cursor);
    }
    return 0;
}

/* Waits (bounded) until the policy runner and the writer finished every synced
 * event: their callbacks use the links (the writer is stopped after this, so
 * it answers them). true when none is left. */
static bool drain_outstanding(upstream_set *u) {
    for (int waited = 0; waited < 2 * 60 * 100; waited++) { /* 2 min: decisions have their own timeout */
        long left = 0;
        for (size_t i = 0; i < u->n; i++) left += atomic_load(&u->links[i].outstanding);
        if (left == 0) return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

void upstream_free(upstream_set *u) {
    if (!u) return;
    atomic_store(&u->stop, true);
    for (size_t i = 0; i < u->n; i++) {
        upstream_link *l = &u->links[i];
        if (l->started) {
            lws_cancel_service(l->lws);
            pthread_join(l->thread, NULL);
        }
    }
    bool drained = drain_outstanding(u);
    for (size_t i = 0; i < u->n; i++) {
        upstream_link *l = &u->links[i];
        if (l->started && drained) {
            /* a refetch the link had no time to do: the next start does it */
            long long retry = atomic_exchange(&l->retry_from, INT64_MAX);
            if (retry < l->cursor) l->cursor = retry;
            save_cursor(l);
        }
        if (l->lws) lws_context_destroy(l->lws);
        clear_queue(l);
        free(l->rx);
    }
    if (!drained) {
        log_warn("upstream: the write policy or the writer still holds synced events; their cursors were not saved");
        return; /* left allocated: late policy callbacks still point into it */
    }
    free(u);
}
