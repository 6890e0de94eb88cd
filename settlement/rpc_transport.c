/* JSON-RPC transport over libwebsockets client connections (HTTP POST per
 * request, or one persistent WebSocket), driven synchronously from the calling
 * thread with a private lws context and a 50 ms wake-up timer so deadlines are
 * honoured. A generation number in each connection's user pointer keeps a
 * late callback of an abandoned connection from touching the next request. */
#include "rpc_transport.h"
#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rpc_transport {
    char url[512];
    char host[256];
    char path[512];
    int port;
    bool tls, ws;
    char ca_file[1024];
    struct lws_context *ctx;
    struct lws *wsi;
    uintptr_t gen;           /* generation of the current connection */
    bool ws_open;            /* WebSocket established */
    /* request in progress */
    const char *body;
    size_t body_len;
    bool body_pending;       /* ws: text still to send */
    uint64_t want_id;
    int done;                /* 0 waiting, 1 answered, -1 failed */
    int http_status;
    char errmsg[160];
    char *ans;
    size_t ans_len, ans_cap;
    lws_sorted_usec_list_t sul;
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_fail(rpc_transport *t, const char *fmt, const char *arg) {
    if (t->done) return;
    snprintf(t->errmsg, sizeof t->errmsg, fmt, arg ? arg : "");
    t->done = -1;
}

static bool ans_append(rpc_transport *t, const void *p, size_t n) {
    if (t->ans_len + n + 1 > RPC_MAX_ANSWER) { set_fail(t, "answer larger than the limit%s", ""); return false; }
    if (t->ans_len + n + 1 > t->ans_cap) {
        size_t cap = t->ans_cap ? t->ans_cap : 4096;
        while (cap < t->ans_len + n + 1) cap *= 2;
        char *q = realloc(t->ans, cap);
        if (!q) { set_fail(t, "out of memory%s", ""); return false; }
        t->ans = q;
        t->ans_cap = cap;
    }
    memcpy(t->ans + t->ans_len, p, n);
    t->ans_len += n;
    t->ans[t->ans_len] = 0;
    return true;
}

/* A complete WebSocket message: is it the answer we wait for? */
static void ws_message(rpc_transport *t) {
    cJSON *j = cJSON_ParseWithLength(t->ans, t->ans_len);
    bool ours = false;
    if (j) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        ours = cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 18446744073709551616.0 &&
               (uint64_t)id->valuedouble == t->want_id; /* range first: the cast of a negative, NaN or huge double is undefined */
        cJSON_Delete(j);
    }
    if (ours && t->done == 0) t->done = 1;
    else t->ans_len = 0; /* notification or stale answer: drop it */
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct lws_context *cx = lws_get_context(wsi);
    rpc_transport *t = cx ? lws_context_user(cx) : NULL;
    if (!t) return 0;
    bool current = (uintptr_t)user == t->gen && t->gen != 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (current) {
            t->wsi = NULL;
            t->ws_open = false;
            set_fail(t, "cannot connect: %s", in ? (const char *)in : "connection error");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (!current) return -1;
        if (!t->ws) {
            unsigned char **p = (unsigned char **)in, *end = (*p) + len;
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)"application/json", 16, p, end) ||
                lws_add_http_header_content_length(wsi, t->body_len, p, end))
                return -1;
            lws_client_http_body_pending(wsi, 1);
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        if (!current || t->ws) return -1;
        unsigned char *buf = malloc(LWS_PRE + t->body_len);
        if (!buf) { set_fail(t, "out of memory%s", ""); return -1; }
        memcpy(buf + LWS_PRE, t->body, t->body_len);
        int n = lws_write(wsi, buf + LWS_PRE, t->body_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        lws_client_http_body_pending(wsi, 0);
        if (n < 0) { set_fail(t, "write failed%s", ""); return -1; }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        if (current) t->http_status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buffer[4096 + LWS_PRE];
        char *px = buffer + LWS_PRE;
        int lenx = (int)sizeof buffer - LWS_PRE;
        if (lws_http_client_read(wsi, &px, &lenx) < 0) return -1;
        return 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (!current) return -1;
        if (!ans_append(t, in, len)) return -1;
        return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        if (current && t->done == 0) {
            if (t->http_status != 200) {
                char s[16];
                snprintf(s, sizeof s, "%d", t->http_status);
                set_fail(t, "HTTP status %s", s);
            } else t->done = 1;
        }
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (current) {
            t->wsi = NULL;
            set_fail(t, "connection closed before the answer%s", "");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!current) return -1;
        t->ws_open = true;
        if (t->body_pending) lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!current) return -1;
        if (!t->body_pending) return 0;
        unsigned char *buf = malloc(LWS_PRE + t->body_len);
        if (!buf) { set_fail(t, "out of memory%s", ""); return -1; }
        memcpy(buf + LWS_PRE, t->body, t->body_len);
        int n = lws_write(wsi, buf + LWS_PRE, t->body_len, LWS_WRITE_TEXT);
        free(buf);
        t->body_pending = false;
        if (n < (int)t->body_len) { set_fail(t, "write failed%s", ""); return -1; }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!current) return -1;
        if (lws_is_first_fragment(wsi)) t->ans_len = 0;
        if (!ans_append(t, in, len)) return -1;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) ws_message(t);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (current) {
            t->wsi = NULL;
            t->ws_open = false;
            set_fail(t, "WebSocket closed%s", "");
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"g1rpc", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

rpc_transport *rpc_transport_new(const char *url, const char *tls_ca_file, char *err, size_t errlen) {
    if (!url || strlen(url) >= sizeof ((rpc_transport *)0)->url) { snprintf(err, errlen, "node URL too long"); return NULL; }
    rpc_transport *t = calloc(1, sizeof *t);
    if (!t) { snprintf(err, errlen, "out of memory"); return NULL; }
    snprintf(t->url, sizeof t->url, "%s", url);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", url);
    const char *prot, *ads, *path;
    int port;
    if (lws_parse_uri(copy, &prot, &ads, &port, &path) || !ads[0]) {
        snprintf(err, errlen, "bad node URL %s", url);
        free(t);
        return NULL;
    }
    if (strcmp(prot, "http") == 0) { t->tls = false; t->ws = false; }
    else if (strcmp(prot, "https") == 0) { t->tls = true; t->ws = false; }
    else if (strcmp(prot, "ws") == 0) { t->tls = false; t->ws = true; }
    else if (strcmp(prot, "wss") == 0) { t->tls = true; t->ws = true; }
    else {
        snprintf(err, errlen, "node URL %s: scheme must be http, https, ws or wss", url);
        free(t);
        return NULL;
    }
    /* lws_parse_uri gives the default port 80/443 when none is written */
    t->port = port;
    snprintf(t->host, sizeof t->host, "%s", ads);
    snprintf(t->path, sizeof t->path, "/%s", path);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = t;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 16;
    if (t->tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (t->tls && tls_ca_file && tls_ca_file[0]) {
        snprintf(t->ca_file, sizeof t->ca_file, "%s", tls_ca_file); /* lives as long as the context */
        info.client_ssl_ca_filepath = t->ca_file;
    }
    t->ctx = lws_create_context(&info);
    if (!t->ctx) {
        snprintf(err, errlen, "cannot create a client context for %s", url);
        free(t);
        return NULL;
    }
    return t;
}

static void drop_connection(rpc_transport *t) {
    if (t->wsi) lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    t->wsi = NULL;
    t->ws_open = false;
    t->gen++; /* late callbacks of that connection are now stale */
}

void rpc_transport_free(rpc_transport *t) {
    if (!t) return;
    if (t->ctx) {
        lws_sul_cancel(&t->sul);
        lws_context_destroy(t->ctx);
    }
    free(t->ans);
    free(t);
}

const char *rpc_transport_url(const rpc_transport *t) { return t->url; }

static void tick(lws_sorted_usec_list_t *sul) { (void)sul; }

static bool connect_now(rpc_transport *t) {
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    t->gen++;
    if (t->gen == 0) t->gen = 1;
    ci.context = t->ctx;
    ci.address = t->host;
    ci.port = t->port;
    ci.path = t->path;
    ci.host = t->host;
    ci.origin = t->host;
    ci.ssl_connection = t->tls ? LCCSCF_USE_SSL : 0;
    ci.userdata = (void *)t->gen;
    ci.pwsi = &t->wsi;
    ci.local_protocol_name = "g1rpc";
    if (t->ws) {
        ci.protocol = NULL;
    } else {
        ci.method = "POST";
        ci.alpn = "http/1.1";
    }
    if (!lws_client_connect_via_info(&ci)) {
        t->wsi = NULL;
        set_fail(t, "cannot connect%s", "");
        return false;
    }
    return true;
}

int rpc_transport_request(rpc_transport *t, const char *body, size_t body_len, uint64_t id, int timeout_ms,
                          char **answer, size_t *answer_len, char *err, size_t errlen) {
    *answer = NULL;
    *answer_len = 0;
    t->body = body;
    t->body_len = body_len;
    t->want_id = id;
    t->done = 0;
    t->http_status = 0;
    t->errmsg[0] = 0;
    t->ans_len = 0;
    if (t->ws) {
        t->body_pending = true;
        if (!t->wsi) {
            if (!connect_now(t)) goto failed;
        } else if (t->ws_open) {
            lws_callback_on_writable(t->wsi);
        }
    } else {
        if (t->wsi) drop_connection(t); /* never reuse an HTTP connection */
        if (!connect_now(t)) goto failed;
    }
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
    while (t->done == 0) {
        if (now_ms() >= deadline) { set_fail(t, "no answer within the timeout%s", ""); break; }
        lws_sul_schedule(t->ctx, 0, &t->sul, tick, 50 * LWS_US_PER_MS);
        if (lws_service(t->ctx, 0) < 0) { set_fail(t, "client service failed%s", ""); break; }
    }
    lws_sul_cancel(&t->sul);
    if (t->done < 0) goto failed;
    if (!t->ws) drop_connection(t);
    *answer = malloc(t->ans_len + 1);
    if (!*answer) { snprintf(err, errlen, "out of memory"); return -1; }
    memcpy(*answer, t->ans ? t->ans : "", t->ans_len);
    (*answer)[t->ans_len] = 0;
    *answer_len = t->ans_len;
    t->ans_len = 0;
    return 0;
failed:
    drop_connection(t);
    snprintf(err, errlen, "%s: %s", t->url, t->errmsg[0] ? t->errmsg : "request failed");
    t->body = NULL;
    t->body_pending = false;
    return -1;
}
