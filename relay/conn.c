/* Connection table, output queues and the wake list (see conn.h). */
#include "conn.h"
#include "message.h"
#include "workers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn_table {
    relay_ctx *ctx;
    conn *slots;
    uint32_t count;
    pthread_mutex_t free_lock;
    uint32_t *free_stack; /* indices of FREE slots */
    uint32_t free_top;
    pthread_mutex_t wake_lock;
    conn *wake_head;
};

conn_table *conn_table_new(relay_ctx *ctx, uint32_t max_connections) {
    if (max_connections == 0) max_connections = 1;
    conn_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ctx = ctx;
    t->count = max_connections;
    t->slots = calloc(max_connections, sizeof *t->slots);
    t->free_stack = calloc(max_connections, sizeof *t->free_stack);
    if (!t->slots || !t->free_stack) {
        free(t->slots);
        free(t->free_stack);
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->free_lock, NULL);
    pthread_mutex_init(&t->wake_lock, NULL);
    for (uint32_t i = 0; i < max_connections; i++) {
        conn *c = &t->slots[i];
        pthread_mutex_init(&c->lock, NULL);
        c->index = i;
        c->gen = 1;
        t->free_stack[max_connections - 1 - i] = i; /* slot 0 on top */
    }
    t->free_top = max_connections;
    return t;
}

static void drop_output(conn *c) {
    out_item *it = c->out_head;
    while (it) {
        out_item *next = it->next;
        out_item_free(it);
        it = next;
    }
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
}

void conn_table_free(conn_table *t) {
    if (!t) return;
    for (uint32_t i = 0; i < t->count; i++) {
        drop_output(&t->slots[i]);
        free(t->slots[i].rx_buf);
        pthread_mutex_destroy(&t->slots[i].lock);
    }
    pthread_mutex_destroy(&t->free_lock);
    pthread_mutex_destroy(&t->wake_lock);
    free(t->slots);
    free(t->free_stack);
    free(t);
}

uint32_t conn_table_size(const conn_table *t) { return t->count; }

conn *conn_at(conn_table *t, uint32_t index) { return index < t->count ? &t->slots[index] : NULL; }

conn *conn_open(conn_table *t) {
    pthread_mutex_lock(&t->free_lock);
    if (t->free_top == 0) {
        pthread_mutex_unlock(&t->free_lock);
        return NULL;
    }
    conn *c = &t->slots[t->free_stack[--t->free_top]];
    pthread_mutex_unlock(&t->free_lock);
    pthread_mutex_lock(&c->lock);
    c->state = CONN_OPEN;
    c->kill = false;
    c->in_wake_list = false;
    c->scheduled = false;
    c->queued = 0;
    c->queued_bytes = 0;
    c->rx_paused = c->want_resume = false;
    c->authed = false;
    memset(c->authed_pubkey, 0, sizeof c->authed_pubkey);
    c->ip[0] = c->host[0] = c->challenge[0] = 0;
    c->ipv6 = false;
    c->subs = NULL;
    c->sub_count = 0;
    c->parked = NULL;
    c->rx_len = 0;
    c->rx_skip = c->rx_active = false;
    c->wsi = NULL;
    pthread_mutex_unlock(&c->lock);
    return c;
}

void conn_mark_closed(conn_table *t, conn *c) {
    pthread_mutex_lock(&c->lock);
    c->state = CONN_CLOSING;
    c->gen++;
    if (c->gen == 0) c->gen = 1;
    drop_output(c);
    c->wsi = NULL;
    pthread_mutex_unlock(&c->lock);
    /* it may still sit in the wake list: the lws thread skips non-OPEN entries */
    free(c->rx_buf);
    c->rx_buf = NULL;
    c->rx_len = c->rx_cap = 0;
    (void)t;
}

void conn_release(conn_table *t, conn *c) {
    pthread_mutex_lock(&c->lock);
    bool listed = c->in_wake_list;
    c->state = CONN_FREE;
    pthread_mutex_unlock(&c->lock);
    if (listed) {
        /* still on the wake list: the lws thread returns it to the free list */
        return;
    }
    pthread_mutex_lock(&t->free_lock);
    t->free_stack[t->free_top++] = c->index;
    pthread_mutex_unlock(&t->free_lock);
}

conn *conn_lock_id(conn_table *t, conn_id id) {
    uint32_t index = (uint32_t)id, gen = (uint32_t)(id >> 32);
    if (index >= t->count) return NULL;
    conn *c = &t->slots[index];
    pthread_mutex_lock(&c->lock);
    if (c->gen != gen || c->state != CONN_OPEN) {
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    return c;
}

/* Set while a thread queues output for many connections at once (the writer
 * answering a committed group): the network thread is woken once at the end. */
static _Thread_local bool defer_wake, wake_deferred;

void conn_defer_wake_begin(void) { defer_wake = true; }

void conn_defer_wake_end(conn_table *t) {
    defer_wake = false;
    if (wake_deferred) {
        wake_deferred = false;
        relay_wake_network(t->ctx);
    }
}

void conn_request_service_locked(conn_table *t, conn *c) {
    if (c->in_wake_list) return;
    c->in_wake_list = true;
    pthread_mutex_lock(&t->wake_lock);
    c->wake_next = t->wake_head;
    t->wake_head = c;
    pthread_mutex_unlock(&t->wake_lock);
    if (defer_wake) wake_deferred = true;
    else relay_wake_network(t->ctx);
}

conn *conn_take_wake_list(conn_table *t) {
    pthread_mutex_lock(&t->wake_lock);
    conn *head = t->wake_head;
    t->wake_head = NULL;
    pthread_mutex_unlock(&t->wake_lock);
    /* clear the flags; a slot released meanwhile goes back to the free list */
    conn *out = NULL;
    while (head) {
        conn *next = head->wake_next;
        pthread_mutex_lock(&head->lock);
        head->in_wake_list = false;
        bool freed = head->state == CONN_FREE;
        pthread_mutex_unlock(&head->lock);
        if (freed) {
            pthread_mutex_lock(&t->free_lock);
            t->free_stack[t->free_top++] = head->index;
            pthread_mutex_unlock(&t->free_lock);
        } else {
            head->taken_next = out;
            out = head;
        }
        head = next;
    }
    return out;
}

void out_item_free(out_item *it) {
    msgbuf_unref(it->prefix);
    msgbuf_unref(it->body);
    free(it);
}

out_item *conn_pop_output(conn *c) {
    pthread_mutex_lock(&c->lock);
    out_item *it = c->out_head;
    if (it) {
        c->out_head = it->next;
        if (!c->out_head) c->out_tail = NULL;
        size_t n = it->body->len + (it->prefix ? it->prefix->len : 0) + (it->close_bracket ? 1 : 0);
        c->out_bytes -= n < c->out_bytes ? n : c->out_bytes;
    }
    pthread_mutex_unlock(&c->lock);
    return it;
}

bool conn_send(conn_table *t, conn_id id, msgbuf *prefix, msgbuf *body, bool close_bracket) {
    return conn_send_pending(t, id, prefix, body, close_bracket, NULL);
}

bool conn_send_pending(conn_table *t, conn_id id, msgbuf *prefix, msgbuf *body, bool close_bracket,
                       size_t *pending) {
    if (!body) {
        msgbuf_unref(prefix);
        return false;
    }
    out_item *it = malloc(sizeof *it);
    conn *c = it ? conn_lock_id(t, id) : NULL;
    if (!c) {
        free(it);
        msgbuf_unref(prefix);
        msgbuf_unref(body);
        return false;
    }
    if (c->kill) {
        pthread_mutex_unlock(&c->lock);
        free(it);
        msgbuf_unref(prefix);
        msgbuf_unref(body);
        return false;
    }
    size_t n = body->len + (prefix ? prefix->len : 0) + (close_bracket ? 1 : 0);
    if (c->out_bytes + n > t->ctx->lim.max_output_bytes && c->out_head) {
        /* slow reader: drop what is queued and cut it off */
        drop_output(c);
        c->kill = true;
        conn_request_service_locked(t, c);
        pthread_mutex_unlock(&c->lock);
        free(it);
        msgbuf_unref(prefix);
        msgbuf_unref(body);
        return false;
    }
    it->next = NULL;
    it->prefix = prefix;
    it->body = body;
    it->close_bracket = close_bracket;
    if (c->out_tail) c->out_tail->next = it;
    else c->out_head = it;
    c->out_tail = it;
    c->out_bytes += n;
    if (pending) *pending = c->out_bytes;
    conn_request_service_locked(t, c);
    pthread_mutex_unlock(&c->lock);
    return true;
}

bool conn_send_text(conn_table *t, conn_id id, const char *text, size_t len) {
    return conn_send(t, id, NULL, msgbuf_copy(text, len), false);
}

bool conn_send_notice(conn_table *t, conn_id id, const char *text) {
    size_t tl = strlen(text);
    msgbuf *b = msgbuf_new(tl * 6 + 16);
    if (!b) return false;
    size_t n = 0;
    memcpy(b->data, "[\"NOTICE\",", 10);
    n = 10;
    n += json_write_string(b->data + n, b->len - n, text, tl);
    b->data[n++] = ']';
    msgbuf_set_len(b, n);
    return conn_send(t, id, NULL, b, false);
}

bool conn_send_ok(conn_table *t, conn_id id, const char *id_hex, bool ok, const char *msg) {
    size_t ml = strlen(msg);
    msgbuf *b = msgbuf_new(ml * 6 + 100);
    if (!b) return false;
    int n = snprintf(b->data, b->len, "[\"OK\",\"%.64s\",%s,", id_hex, ok ? "true" : "false");
    size_t len = (size_t)n;
    len += json_write_string(b->data + len, b->len - len, msg, ml);
    b->data[len++] = ']';
    msgbuf_set_len(b, len);
    return conn_send(t, id, NULL, b, false);
}

bool conn_send_closed(conn_table *t, conn_id id, const char *subid, size_t subid_len, const char *msg) {
    size_t ml = strlen(msg);
    msgbuf *b = msgbuf_new(ml * 6 + subid_len * 6 + 32);
    if (!b) return false;
    size_t len = 0;
    memcpy(b->data, "[\"CLOSED\",", 10);
    len = 10;
    len += json_write_string(b->data + len, b->len - len, subid, subid_len);
    b->data[len++] = ',';
    len += json_write_string(b->data + len, b->len - len, msg, ml);
    b->data[len++] = ']';
    msgbuf_set_len(b, len);
    return conn_send(t, id, NULL, b, false);
}

void conn_done_queued(conn_table *t, conn_id id, uint32_t n, size_t bytes) {
    conn *c = conn_lock_id(t, id);
    if (!c) return;
    c->queued -= n < c->queued ? n : c->queued;
    c->queued_bytes -= bytes < c->queued_bytes ? bytes : c->queued_bytes;
    if (c->rx_paused && c->queued <= CONN_QUEUE_RESUME && c->queued_bytes <= CONN_QUEUE_RESUME_BYTES &&
        !c->want_resume) {
        c->want_resume = true;
        conn_request_service_locked(t, c);
    }
    pthread_mutex_unlock(&c->lock);
}

void conn_unpark_if_drained(conn_table *t, conn *c, struct worker_pool *workers) {
    pthread_mutex_lock(&c->lock);
    job *list = NULL;
    if (c->parked && c->out_bytes <= t->ctx->lim.max_output_bytes / CONN_PARK_DIVISOR / 2) {
        list = c->parked;
        c->parked = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    while (list) {
        job *next = list->next;
        worker_pool_push(workers, c, list);
        list = next;
    }
}
