/* Worker-side handling of client messages and query slices (see ingest.h).
 *
 * EVENT: parse → cheap relay rules (auth, NIP-70, created_at, expiration, PoW)
 * → duplicate check by id → signature → in-process plugins → external policy
 * (asynchronous) → writer (or, for ephemeral kinds, straight to live
 * subscriptions). REQ: register the live subscription, then stream stored
 * matches in time slices, EOSE. */
#include "ingest.h"
#include "auth.h"
#include "event_rules.h"
#include "hex.h"
#include "hll.h"
#include "log.h"
#include "subscriptions.h"
#include "writer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static relay_ctx *policy_ctx; /* the one relay of this process, for policy callbacks */

/* ---- EVENT ---- */

/* Each thread keeps one read transaction for the duplicate check, reset
 * between events (no snapshot held) and renewed for the next: a fresh
 * transaction per event would allocate it and lock the reader table every
 * time (the environment is opened MDB_NOTLS). */
static _Thread_local MDB_txn *dup_check_txn;
static _Thread_local MDB_env *dup_check_env;

void ingest_thread_done(void) {
    if (dup_check_txn) mdb_txn_abort(dup_check_txn);
    dup_check_txn = NULL;
    dup_check_env = NULL;
}

bool ingest_already_stored(relay_ctx *ctx, const uint8_t id[32]) {
    MDB_env *env = store_env(ctx->st);
    if (dup_check_txn && dup_check_env != env) ingest_thread_done();
    int rc = dup_check_txn ? mdb_txn_renew(dup_check_txn) : mdb_txn_begin(env, NULL, MDB_RDONLY, &dup_check_txn);
    if (rc != 0) {
        ingest_thread_done();
        return false;
    }
    dup_check_env = env;
    const char *json;
    size_t len;
    rc = store_get_by_id(ctx->st, dup_check_txn, id, &json, &len);
    mdb_txn_reset(dup_check_txn);
    return rc == 0;
}

static void policy_done(void *vjob, plugin_verdict verdict, const char *msg) {
    write_job *wj = vjob;
    relay_ctx *ctx = policy_ctx;
    bool ephemeral = event_kind_class(wj->ev.kind) == EVENT_CLASS_EPHEMERAL;
    if (verdict == PLUGIN_ACCEPT && !ephemeral) {
        /* the writer outlives the policy runner (cmd_run stops them in that order) */
        writer_submit(ctx->writer, wj);
        return;
    }
    char id_hex[65];
    hex_encode(wj->ev.id, 32, id_hex);
    if (verdict == PLUGIN_ACCEPT) { /* ephemeral: never stored, answer and deliver now */
        sub_broadcast(ctx->subs, ctx->conns, &wj->ev, 0);
        conn_send_ok(ctx->conns, wj->conn, id_hex, true, "");
    } else if (verdict == PLUGIN_SHADOW_REJECT) conn_send_ok(ctx->conns, wj->conn, id_hex, true, "");
    else conn_send_ok(ctx->conns, wj->conn, id_hex, false, msg && msg[0] ? msg : "blocked: refused by the write policy");
    conn_done_queued(ctx->conns, wj->conn, 1, 0);
    write_job_free(wj);
}

static void conn_auth_state(conn *c, bool *authed, uint8_t pubkey[32]) {
    pthread_mutex_lock(&c->lock);
    *authed = c->authed;
    memcpy(pubkey, c->authed_pubkey, 32);
    pthread_mutex_unlock(&c->lock);
}

static void handle_event(relay_ctx *ctx, conn *c, conn_id id, client_message *m) {
    event *ev = &m->ev;
    const char *hexid = m->id_hex;
    char msg[256];
    bool authed;
    uint8_t authed_pk[32];
    conn_auth_state(c, &authed, authed_pk);

    if (ev->kind == AUTH_KIND) {
        conn_send_ok(ctx->conns, id, hexid, false, "invalid: kind 22242 is only accepted in AUTH messages");
        return;
    }
    if (ctx->lim.auth_required && !authed) {
        conn_send_ok(ctx->conns, id, hexid, false, "auth-required: this relay requires authentication (NIP-42)");
        return;
    }
    if (ev->is_protected) {
        if (!authed) {
            conn_send_ok(ctx->conns, id, hexid, false,
                         "auth-required: this event is protected (NIP-70): authenticate as its author");
            return;
        }
        if (memcmp(authed_pk, ev->pubkey, 32) != 0) {
            conn_send_ok(ctx->conns, id, hexid, false,
                         "restricted: this event is protected (NIP-70) and may only be published by its author");
            return;
        }
    }
    int64_t now = (int64_t)time(NULL);
    if (!event_rules_check(&ctx->lim, ev, now, msg, sizeof msg)) {
        conn_send_ok(ctx->conns, id, hexid, false, msg);
        return;
    }
    event_class cls = event_kind_class(ev->kind);
    if (cls != EVENT_CLASS_EPHEMERAL && ingest_already_stored(ctx, ev->id)) {
        conn_send_ok(ctx->conns, id, hexid, true, "duplicate: already have this event");
        return;
    }
    if (!event_verify_sig(ev)) {
        conn_send_ok(ctx->conns, id, hexid, false, "invalid: bad signature");
        return;
    }
    plugin_source src = {
        .source_type = c->ipv6 ? "IP6" : "IP4",
        .source_info = c->ip,
        .authed = authed,
        .received_at = now,
    };
    memcpy(src.authed_pubkey, authed_pk, 32);
    if (ctx->plugins) {
        msg[0] = 0;
        plugin_verdict v = plugin_chain_decide(ctx->plugins, ev, &src, msg, sizeof msg);
        if (v == PLUGIN_REJECT) {
            conn_send_ok(ctx->conns, id, hexid, false, msg[0] ? msg : "blocked: refused by a plugin");
            return;
        }
        if (v == PLUGIN_SHADOW_REJECT) {
            conn_send_ok(ctx->conns, id, hexid, true, "");
            return;
        }
    }
    if (cls == EVENT_CLASS_EPHEMERAL && !ctx->policy) {
        sub_broadcast(ctx->subs, ctx->conns, ev, 0);
        conn_send_ok(ctx->conns, id, hexid, true, "");
        return;
    }
    write_job *wj = malloc(sizeof *wj);
    if (!wj) {
        conn_send_ok(ctx->conns, id, hexid, false, "error: out of memory");
        return;
    }
    wj->next = NULL;
    wj->done = NULL;
    wj->conn = id;
    wj->ev = *ev; /* the job takes the event's arena */
    memset(ev, 0, sizeof *ev);
    pthread_mutex_lock(&c->lock);
    c->queued++;
    pthread_mutex_unlock(&c->lock);
    if (ctx->policy) {
        policy_ctx = ctx;
        policy_runner_submit(ctx->policy, &wj->ev, &src, wj, policy_done);
    } else {
        writer_submit(ctx->writer, wj);
    }
}

/* ---- AUTH ---- */

static void handle_auth(relay_ctx *ctx, conn *c, conn_id id, client_message *m) {
    char msg[256];
    if (!event_verify_sig(&m->ev)) {
        conn_send_ok(ctx->conns, id, m->id_hex, false, "invalid: bad signature");
        return;
    }
    if (!auth_check_event(&m->ev, c->challenge, ctx->relay_url, c->host, (int64_t)time(NULL), msg, sizeof msg)) {
        conn_send_ok(ctx->conns, id, m->id_hex, false, msg);
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->authed = true;
    memcpy(c->authed_pubkey, m->ev.pubkey, 32);
    pthread_mutex_unlock(&c->lock);
    conn_send_ok(ctx->conns, id, m->id_hex, true, "");
}

/* ---- REQ / CLOSE / COUNT ---- */

static sub *find_sub(conn *c, const char *subid, size_t len, sub ***link_out) {
    sub **link = &c->subs;
    for (sub *s = c->subs; s; link = &s->next_in_conn, s = s->next_in_conn) {
        if (s->msg->subid_len == len && memcmp(s->msg->subid, subid, len) == 0) {
            if (link_out) *link_out = link;
            return s;
        }
    }
    return NULL;
}

static void drop_sub(relay_ctx *ctx, conn *c, sub **link, sub *s) {
    *link = s->next_in_conn;
    c->sub_count--;
    s->cancelled = true;
    sub_index_remove(ctx->subs, s);
    sub_unref(s);
}

typedef struct {
    relay_ctx *ctx;
    sub *s;
    bool failed;
} emit_ctx;

static int emit_stored(void *vctx, const char *json, size_t len, uint64_t levid) {
    emit_ctx *e = vctx;
    if (sub_sent_live(e->ctx->subs, e->s, levid)) return 0; /* counted, not sent twice */
    msgbuf *pre = e->s->event_prefix;
    msgbuf *b = msgbuf_new(pre->len + len + 1);
    if (!b) {
        e->failed = true;
        return 1;
    }
    memcpy(b->data, pre->data, pre->len);
    memcpy(b->data + pre->len, json, len);
    b->data[pre->len + len] = ']';
    size_t pending = 0;
    if (!conn_send_pending(e->ctx->conns, e->s->conn, NULL, b, false, &pending)) {
        e->failed = true;
        return 1;
    }
    /* the client has enough to read for now: end the slice, keep the position */
    if (pending > e->ctx->lim.max_output_bytes / CONN_PARK_DIVISOR) return STORE_EMIT_PAUSE;
    return 0;
}

static void send_eose(relay_ctx *ctx, sub *s) {
    msgbuf *b = msgbuf_new(s->msg->subid_len * 6 + 16);
    if (!b) return;
    size_t n = 8;
    memcpy(b->data, "[\"EOSE\",", 8);
    n += json_write_string(b->data + n, b->len - n, s->msg->subid, s->msg->subid_len);
    b->data[n++] = ']';
    msgbuf_set_len(b, n);
    conn_send(ctx->conns, s->conn, NULL, b, false);
}

/* Runs one slice of s's stored query; requeues itself or sends EOSE. */
static void run_query_slice(relay_ctx *ctx, conn *c, sub *s) {
    emit_ctx e = {ctx, s, false};
    store_query_status st = store_query_run(s->query, INGEST_QUERY_SLICE_US, emit_stored, &e);
    if (e.failed) return; /* connection gone or cut off */
    if (st == STORE_QUERY_MORE) {
        job *j = job_new(JOB_QUERY, NULL, 0);
        if (j) {
            j->sub = sub_ref(s);
            worker_pool_push(ctx->workers, c, j);
            return;
        }
        st = STORE_QUERY_ERROR;
    }
    store_query_free(s->query);
    s->query = NULL;
    if (st == STORE_QUERY_ERROR) {
        conn_send_closed(ctx->conns, s->conn, s->msg->subid, s->msg->subid_len, "error: the query failed");
        sub **link;
        if (find_sub(c, s->msg->subid, s->msg->subid_len, &link) == s) drop_sub(ctx, c, link, s);
        return;
    }
    send_eose(ctx, s);
}

static void handle_req(relay_ctx *ctx, conn *c, conn_id id, client_message *m) {
    if (ctx->lim.auth_required) {
        bool authed;
        uint8_t pk[32];
        conn_auth_state(c, &authed, pk);
        if (!authed) {
            conn_send_closed(ctx->conns, id, m->subid, m->subid_len,
                             "auth-required: this relay requires authentication (NIP-42)");
            message_free(m);
            free(m);
            return;
        }
    }
    sub **link;
    sub *old = find_sub(c, m->subid, m->subid_len, &link);
    if (old) drop_sub(ctx, c, link, old);
    else if (c->sub_count >= ctx->lim.max_subscriptions) {
        char msg[96];
        snprintf(msg, sizeof msg, "error: too many subscriptions (max %u)", ctx->lim.max_subscriptions);
        conn_send_closed(ctx->conns, id, m->subid, m->subid_len, msg);
        message_free(m);
        free(m);
        return;
    }
    sub *s = sub_new(id, m);
    if (!s) {
        conn_send_closed(ctx->conns, id, m->subid, m->subid_len, "error: out of memory");
        message_free(m);
        free(m);
        return;
    }
    s->query = store_query_new(ctx->st, m->filters, m->filter_count, ctx->lim.default_limit, ctx->lim.max_limit);
    if (!s->query || sub_index_add(ctx->subs, s) < 0) {
        conn_send_closed(ctx->conns, id, m->subid, m->subid_len, "error: out of memory");
        sub_unref(s);
        return;
    }
    s->next_in_conn = c->subs;
    c->subs = s;
    c->sub_count++;
    writer_wait_visible(ctx->writer, m->filters, m->filter_count); /* events answered OK before this REQ are found */
    run_query_slice(ctx, c, s);
}

static void handle_close(relay_ctx *ctx, conn *c, client_message *m) {
    sub **link;
    sub *s = find_sub(c, m->subid, m->subid_len, &link);
    if (s) drop_sub(ctx, c, link, s);
}

typedef struct {
    uint8_t registers[HLL_REGISTERS];
    unsigned offset;
} hll_ctx;

static void count_into_hll(void *vctx, const uint8_t pubkey[32]) {
    hll_ctx *h = vctx;
    hll_add(h->registers, h->offset, pubkey);
}

static void handle_count(relay_ctx *ctx, conn *c, conn_id id, client_message *m) {
    if (ctx->lim.auth_required) {
        bool authed;
        uint8_t pk[32];
        conn_auth_state(c, &authed, pk);
        if (!authed) {
            conn_send_closed(ctx->conns, id, m->subid, m->subid_len,
                             "auth-required: this relay requires authentication (NIP-42)");
            return;
        }
    }
    uint64_t count = 0;
    writer_wait_visible(ctx->writer, m->filters, m->filter_count);
    hll_ctx hll = {{0}, 0};
    bool with_hll = hll_offset_for(m->filters, m->filter_count, &hll.offset);
    if (store_count_each(ctx->st, m->filters, m->filter_count, with_hll ? count_into_hll : NULL, &hll, &count) != 0) {
        conn_send_closed(ctx->conns, id, m->subid, m->subid_len, "error: count failed");
        return;
    }
    msgbuf *b = msgbuf_new(m->subid_len * 6 + 64 + (with_hll ? 2 * HLL_REGISTERS + 10 : 0));
    if (!b) return;
    size_t n = 9;
    memcpy(b->data, "[\"COUNT\",", 9);
    n += json_write_string(b->data + n, b->len - n, m->subid, m->subid_len);
    n += (size_t)snprintf(b->data + n, b->len - n, ",{\"count\":%llu", (unsigned long long)count);
    if (with_hll) { /* NIP-45: the registers, hex */
        memcpy(b->data + n, ",\"hll\":\"", 8);
        n += 8;
        hex_encode(hll.registers, HLL_REGISTERS, b->data + n);
        n += 2 * HLL_REGISTERS;
        b->data[n++] = '"';
    }
    b->data[n++] = '}';
    b->data[n++] = ']';
    msgbuf_set_len(b, n);
    conn_send(ctx->conns, id, NULL, b, false);
}

/* ---- dispatch ---- */

static void handle_message(relay_ctx *ctx, conn *c, conn_id id, const char *data, size_t len) {
    client_message *m = calloc(1, sizeof *m);
    if (!m) {
        conn_send_notice(ctx->conns, id, "error: out of memory");
        return;
    }
    char err[256] = "";
    message_error rc = message_parse(m, data, len, &ctx->lim.msg, err, sizeof err);
    if (rc != MSG_OK) {
        if (!err[0]) snprintf(err, sizeof err, "invalid: malformed message");
        if (rc == MSG_ERR_OK_FALSE && m->id_hex[0]) conn_send_ok(ctx->conns, id, m->id_hex, false, err);
        else if (rc == MSG_ERR_CLOSED && m->subid_len > 0) conn_send_closed(ctx->conns, id, m->subid, m->subid_len, err);
        else conn_send_notice(ctx->conns, id, err);
        message_free(m);
        free(m);
        return;
    }
    switch (m->type) {
    case MSG_EVENT: handle_event(ctx, c, id, m); break;
    case MSG_AUTH: handle_auth(ctx, c, id, m); break;
    case MSG_REQ: handle_req(ctx, c, id, m); return; /* m handed over */
    case MSG_CLOSE: handle_close(ctx, c, m); break;
    case MSG_COUNT: handle_count(ctx, c, id, m); break;
    }
    message_free(m);
    free(m);
}

static void free_jobs(job *rest) {
    while (rest) {
        job *next = rest->next;
        if (rest->sub) sub_unref(rest->sub);
        free(rest);
        rest = next;
    }
}

static void handle_close_conn(relay_ctx *ctx, conn *c) {
    pthread_mutex_lock(&c->lock);
    job *rest = c->in_head;
    job *parked = c->parked;
    c->parked = NULL;
    c->in_head = c->in_tail = NULL;
    c->scheduled = false;
    c->queued = 0;
    c->queued_bytes = 0;
    pthread_mutex_unlock(&c->lock);
    free_jobs(rest);
    free_jobs(parked);
    while (c->subs) drop_sub(ctx, c, &c->subs, c->subs);
    conn_release(ctx->conns, c);
}

void ingest_release_all(relay_ctx *ctx) {
    for (uint32_t i = 0; i < conn_table_size(ctx->conns); i++) {
        conn *c = conn_at(ctx->conns, i);
        pthread_mutex_lock(&c->lock);
        bool used = c->state != CONN_FREE;
        pthread_mutex_unlock(&c->lock);
        if (used) handle_close_conn(ctx, c);
    }
}

void ingest_run_job(relay_ctx *ctx, conn *c, job *j) {
    if (j->kind == JOB_CLOSE) {
        free(j);
        handle_close_conn(ctx, c);
        return;
    }
    pthread_mutex_lock(&c->lock);
    conn_id id = conn_get_id(c);
    bool open = c->state == CONN_OPEN;
    pthread_mutex_unlock(&c->lock);
    if (open) {
        switch (j->kind) {
        case JOB_MESSAGE:
            handle_message(ctx, c, id, j->data, j->len);
            break;
        case JOB_BINARY:
            conn_send_notice(ctx->conns, id, "invalid: binary frames are not supported, send JSON text");
            break;
        case JOB_TOO_BIG: {
            char msg[96];
            snprintf(msg, sizeof msg, "invalid: message too large (max %u bytes)", ctx->lim.max_message_length);
            conn_send_notice(ctx->conns, id, msg);
            break;
        }
        case JOB_QUERY:
            if (!j->sub->cancelled && j->sub->query) {
                /* a client that reads slower than its results come: wait for
                 * its output queue to drain instead of cutting it off */
                pthread_mutex_lock(&c->lock);
                bool park = c->out_bytes > ctx->lim.max_output_bytes / CONN_PARK_DIVISOR;
                if (park) {
                    j->next = c->parked;
                    c->parked = j;
                }
                pthread_mutex_unlock(&c->lock);
                if (park) return;
                run_query_slice(ctx, c, j->sub);
            }
            break;
        case JOB_CLOSE:
            break;
        }
    }
    if (j->kind == JOB_MESSAGE) conn_done_queued(ctx->conns, id, 1, j->len);
    if (j->sub) sub_unref(j->sub);
    free(j);
}
