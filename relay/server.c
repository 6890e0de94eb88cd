/* libwebsockets event loop: WebSocket Nostr connections and NIP-11 HTTP on one
 * port (see server.h). Runs on a single thread; everything else reaches it
 * through the connection table and relay_wake_network(). */
#include "server.h"
#include "auth.h"
#include "conn.h"
#include "log.h"
#include "workers.h"
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RX_BUFFER_SIZE 32768
#define WRITE_BATCH_BYTES (256 * 1024) /* bytes of frames written per writable callback */

typedef struct {
    bool has_conn;
    uint32_t conn_index;
    /* HTTP */
    const char *body;
    size_t body_len;
} session;

static relay_ctx *g_ctx;         /* the lws callback has no user pointer to spare */
static char *g_nip11;
static size_t g_nip11_len;
static unsigned char *g_scratch; /* lws thread: assembly of prefixed frames */
static size_t g_scratch_cap;

static const char plain_page[] =
    "g1relay: a Nostr relay for G1 stations.\n"
    "Connect with a Nostr client (WebSocket) to this address.\n"
    "Relay information (NIP-11): send Accept: application/nostr+json.\n";

void relay_wake_network(relay_ctx *ctx) {
    if (ctx->lws && !atomic_exchange(&ctx->wake_pending, true)) lws_cancel_service(ctx->lws);
}

/* ---- HTTP (NIP-11) ---- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end) {
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

static int http_respond(struct lws *wsi, session *ss, unsigned int status, const char *ctype,
                        const char *body, size_t len) {
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
        add_header(wsi, "Access-Control-Allow-Origin:", "*", &p, end) ||
        add_header(wsi, "Access-Control-Allow-Headers:", "*", &p, end) ||
        add_header(wsi, "Access-Control-Allow-Methods:", "GET, OPTIONS", &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    ss->body = body;
    ss->body_len = len;
    if (len == 0) return lws_http_transaction_completed(wsi) ? -1 : 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_http(struct lws *wsi, session *ss) {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
        return http_respond(wsi, ss, HTTP_STATUS_NO_CONTENT, "text/plain", "", 0);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return http_respond(wsi, ss, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n", 19);
    char accept[512] = "";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_ACCEPT) > 0)
        lws_hdr_copy(wsi, accept, sizeof accept, WSI_TOKEN_HTTP_ACCEPT);
    if (strstr(accept, "application/nostr+json"))
        return http_respond(wsi, ss, HTTP_STATUS_OK, "application/nostr+json", g_nip11, g_nip11_len);
    return http_respond(wsi, ss, HTTP_STATUS_OK, "text/plain; charset=utf-8", plain_page, sizeof plain_page - 1);
}

static int on_http_writeable(struct lws *wsi, session *ss) {
    if (!ss->body) return 0;
    unsigned char *buf = malloc(LWS_PRE + ss->body_len);
    if (!buf) return -1;
    memcpy(buf + LWS_PRE, ss->body, ss->body_len);
    int n = lws_write(wsi, buf + LWS_PRE, ss->body_len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    ss->body = NULL;
    if (n < 0) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- WebSocket ---- */

static void push_job(relay_ctx *ctx, conn *c, struct lws *wsi, job_kind kind, const char *data, size_t len) {
    job *j = job_new(kind, data, len);
    if (!j) {
        log_error("out of memory queuing a message");
        return;
    }
    worker_pool_push(ctx->workers, c, j);
    /* a client sending faster than the workers keep up: stop reading it */
    pthread_mutex_lock(&c->lock);
    if (!c->rx_paused && conn_input_full(c, ctx->lim.max_message_length)) {
        c->rx_paused = true;
        lws_rx_flow_control(wsi, 0);
        log_debug("pausing reads from %s: %u messages, %zu bytes queued", c->ip, c->queued, c->queued_bytes);
    }
    pthread_mutex_unlock(&c->lock);
}

static int on_established(relay_ctx *ctx, struct lws *wsi, session *ss) {
    conn *c = conn_open(ctx->conns);
    if (!c) {
        log_warn("connection refused: max_connections reached");
        return -1;
    }
    ss->has_conn = true;
    ss->conn_index = c->index;
    c->wsi = wsi;
    lws_get_peer_simple(wsi, c->ip, sizeof c->ip);
    c->ipv6 = strchr(c->ip, ':') != NULL && strncmp(c->ip, "::ffff:", 7) != 0;
    if (strncmp(c->ip, "::ffff:", 7) == 0) memmove(c->ip, c->ip + 7, strlen(c->ip + 7) + 1);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HOST) > 0) lws_hdr_copy(wsi, c->host, sizeof c->host, WSI_TOKEN_HOST);
    auth_new_challenge(c->challenge);
    char msg[64];
    int n = snprintf(msg, sizeof msg, "[\"AUTH\",\"%s\"]", c->challenge);
    pthread_mutex_lock(&c->lock);
    conn_id id = conn_get_id(c);
    pthread_mutex_unlock(&c->lock);
    conn_send_text(ctx->conns, id, msg, (size_t)n);
    return 0;
}

static void on_receive(relay_ctx *ctx, struct lws *wsi, session *ss, const char *in, size_t len) {
    conn *c = conn_at(ctx->conns, ss->conn_index);
    bool final = lws_is_final_fragment(wsi);
    if (!c->rx_active) { /* first piece of a new message */
        c->rx_active = true;
        c->rx_skip = false;
        c->rx_len = 0;
        if (lws_frame_is_binary(wsi)) {
            c->rx_skip = true;
            push_job(ctx, c, wsi, JOB_BINARY, NULL, 0);
        }
    }
    if (!c->rx_skip) {
        if (c->rx_len + len > ctx->lim.max_message_length) {
            c->rx_skip = true;
            c->rx_len = 0;
            push_job(ctx, c, wsi, JOB_TOO_BIG, NULL, 0);
        } else if (final && c->rx_len == 0) {
            push_job(ctx, c, wsi, JOB_MESSAGE, in, len); /* whole message in one piece */
        } else {
            if (c->rx_len + len > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 4096;
                while (cap < c->rx_len + len) cap *= 2;
                char *nb = realloc(c->rx_buf, cap);
                if (!nb) {
                    c->rx_skip = true;
                    push_job(ctx, c, wsi, JOB_TOO_BIG, NULL, 0);
                    goto done;
                }
                c->rx_buf = nb;
                c->rx_cap = cap;
            }
            memcpy(c->rx_buf + c->rx_len, in, len);
            c->rx_len += len;
            if (final) push_job(ctx, c, wsi, JOB_MESSAGE, c->rx_buf, c->rx_len);
        }
    }
done:
    if (final) {
        c->rx_active = false;
        c->rx_len = 0;
        if (c->rx_cap > 1 << 20) { /* do not keep a huge buffer around */
            free(c->rx_buf);
            c->rx_buf = NULL;
            c->rx_cap = 0;
        }
    }
}

static bool scratch_reserve(size_t need) {
    if (need <= g_scratch_cap) return true;
    size_t cap = g_scratch_cap ? g_scratch_cap : 65536;
    while (cap < need) cap *= 2;
    unsigned char *nb = realloc(g_scratch, cap);
    if (!nb) return false;
    g_scratch = nb;
    g_scratch_cap = cap;
    return true;
}

/* Appends one complete WebSocket text frame (server frames are not masked)
 * holding prefix + body (+ "]") at g_scratch[at]; returns the new end or 0. */
static size_t append_frame(size_t at, const out_item *it) {
    size_t plen = it->prefix ? it->prefix->len : 0;
    size_t len = plen + it->body->len + (it->close_bracket ? 1 : 0);
    if (!scratch_reserve(at + 10 + len)) return 0;
    unsigned char *p = g_scratch + at;
    *p++ = 0x81; /* FIN | text */
    if (len < 126) {
        *p++ = (unsigned char)len;
    } else if (len <= 0xffff) {
        *p++ = 126;
        *p++ = (unsigned char)(len >> 8);
        *p++ = (unsigned char)len;
    } else {
        *p++ = 127;
        for (int i = 7; i >= 0; i--) *p++ = (unsigned char)((uint64_t)len >> (8 * i));
    }
    if (plen) memcpy(p, it->prefix->data, plen);
    memcpy(p + plen, it->body->data, it->body->len);
    if (it->close_bracket) p[plen + it->body->len] = ']';
    return (size_t)(p - g_scratch) + len;
}

/* Writes queued messages. Several frames are built into one buffer and handed
 * to lws as raw bytes in a single write (lws frames each lws_write separately,
 * which costs one send(2) per message); lws keeps any unsent remainder and
 * flushes it before anything else, so frames are never interleaved. Returns -1
 * when the connection must close. */
static int write_queued(relay_ctx *ctx, struct lws *wsi, conn *c) {
    size_t at = LWS_PRE;
    if (!scratch_reserve(at)) return -1;
    while (at - LWS_PRE < WRITE_BATCH_BYTES) {
        out_item *it = conn_pop_output(c);
        if (!it) break;
        size_t end = append_frame(at, it);
        out_item_free(it);
        if (!end) return -1;
        at = end;
    }
    if (at > LWS_PRE && lws_write(wsi, g_scratch + LWS_PRE, at - LWS_PRE, LWS_WRITE_RAW) < 0) return -1;
    pthread_mutex_lock(&c->lock);
    bool more = c->out_head != NULL;
    bool parked = c->parked != NULL;
    pthread_mutex_unlock(&c->lock);
    if (parked) conn_unpark_if_drained(ctx->conns, c, ctx->workers);
    if (more) lws_callback_on_writable(wsi);
    return 0;
}

static int on_writeable(relay_ctx *ctx, struct lws *wsi, session *ss) {
    conn *c = conn_at(ctx->conns, ss->conn_index);
    pthread_mutex_lock(&c->lock);
    bool kill = c->kill;
    pthread_mutex_unlock(&c->lock);
    if (kill) return -1;
    return write_queued(ctx, wsi, c);
}

static void on_closed(relay_ctx *ctx, session *ss) {
    if (!ss->has_conn) return;
    ss->has_conn = false;
    conn *c = conn_at(ctx->conns, ss->conn_index);
    conn_mark_closed(ctx->conns, c);
    if (atomic_load(&ctx->stopping) || !ctx->workers) return; /* shutting down: nothing to clean */
    job *j = job_new(JOB_CLOSE, NULL, 0);
    if (j) worker_pool_push(ctx->workers, c, j);
}

static void on_wake(relay_ctx *ctx) {
    atomic_store(&ctx->wake_pending, false);
    for (conn *c = conn_take_wake_list(ctx->conns); c; c = c->taken_next) {
        pthread_mutex_lock(&c->lock);
        struct lws *wsi = c->state == CONN_OPEN ? c->wsi : NULL;
        bool kill = c->kill, resume = c->want_resume, out = c->out_head != NULL;
        if (resume) {
            c->want_resume = false;
            c->rx_paused = false;
        }
        pthread_mutex_unlock(&c->lock);
        if (!wsi) continue;
        if (kill) {
            log_info("closing connection from %s: output queue over max_output_bytes (slow reader)", c->ip);
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            continue;
        }
        if (resume) {
            lws_rx_flow_control(wsi, 1);
            log_debug("resuming reads from %s", c->ip);
        }
        /* Answers are written at once rather than after one more trip through
         * poll(2) for POLLOUT: a socket with nothing buffered in lws almost
         * always has room, and lws keeps whatever the kernel did not take. */
        if (out && lws_partial_buffered(wsi)) lws_callback_on_writable(wsi);
        else if (out && write_queued(ctx, wsi, c) < 0) lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    relay_ctx *ctx = g_ctx;
    session *ss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, ss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_http_writeable(wsi, ss);
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(ctx, wsi, ss);
    case LWS_CALLBACK_RECEIVE:
        if (ss && ss->has_conn) on_receive(ctx, wsi, ss, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ss && ss->has_conn ? on_writeable(ctx, wsi, ss) : 0;
    case LWS_CALLBACK_CLOSED:
        if (ss) on_closed(ctx, ss);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (ctx) on_wake(ctx);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static struct lws_protocols protocols[] = {
    {"nostr", callback, sizeof(session), RX_BUFFER_SIZE, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Idle connections are pinged after a minute of silence and dropped when the
 * peer does not answer (half-open sockets, vanished clients). */
static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 60,
    .secs_since_valid_hangup = 120,
};

static void lws_log_to_ours(int level, const char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (level & LLL_ERR) log_error("lws: %.*s", (int)n, line);
    else log_warn("lws: %.*s", (int)n, line);
}

int server_start(relay_ctx *ctx, const char *bind, int port, char *nip11_json, char *err, size_t errlen) {
    g_ctx = ctx;
    g_nip11 = nip11_json;
    g_nip11_len = strlen(nip11_json);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    bool any = !bind || !bind[0] || strcmp(bind, "0.0.0.0") == 0;
    info.iface = any ? NULL : bind;
    info.protocols = protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.count_threads = 1;
    info.timeout_secs = 30;
    info.retry_and_idle_policy = &idle_policy;
    long long maxc = config_int(ctx->cfg, NULL, "max_connections", 10000);
    info.fd_limit_per_thread = (unsigned int)(maxc + 128);
    if (bind && strchr(bind, '.') && !strchr(bind, ':')) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (any) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws) {
        snprintf(err, errlen, "cannot listen on %s:%d", bind && bind[0] ? bind : "*", port);
        return -1;
    }
    return 0;
}

void server_run(relay_ctx *ctx) {
    while (!atomic_load(&ctx->stopping)) {
        if (lws_service(ctx->lws, 0) < 0) break;
    }
}

void server_stop(relay_ctx *ctx) {
    if (!ctx->lws) return;
    struct lws_context *l = ctx->lws;
    lws_context_destroy(l);
    ctx->lws = NULL;
    free(g_scratch);
    g_scratch = NULL;
    g_scratch_cap = 0;
}
