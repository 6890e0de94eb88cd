/* Client connections of the running relay: a fixed table of slots, each named
 * by an id (slot index + generation) so a worker or the writer can address a
 * connection that may have closed meanwhile without touching freed state.
 *
 * Each connection has:
 *   - an output queue (any thread appends, the lws thread writes it out); when
 *     its pending bytes exceed max_output_bytes the connection is cut off;
 *   - an inbox of jobs (messages, query slices, close) processed by the worker
 *     pool one at a time per connection, in order;
 *   - its NIP-42 state and the subscriptions it opened (worker side).
 * The lws thread is woken through relay_wake_network() and collects the
 * connections that need attention with conn_take_wake_list(). */
#ifndef G1_CONN_H
#define G1_CONN_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "msgbuf.h"
#include "relay_ctx.h"

typedef uint64_t conn_id; /* generation << 32 | slot index; 0 is never a live id */

typedef struct out_item {
    struct out_item *next;
    msgbuf *prefix; /* optional: sent before body in the same frame, e.g. ["EVENT","sub", */
    msgbuf *body;
    bool close_bracket; /* append "]" after body (events shared between subscriptions) */
} out_item;

struct job;
struct sub;

typedef enum { CONN_FREE = 0, CONN_OPEN, CONN_CLOSING } conn_state;

typedef struct conn {
    pthread_mutex_t lock;      /* guards everything below marked (L) */
    uint32_t index;
    uint32_t gen;              /* (L) bumped when the connection closes */
    conn_state state;          /* (L) */
    /* output (L) */
    out_item *out_head, *out_tail;
    size_t out_bytes;
    bool kill;                 /* cut off (slow reader); lws thread closes it */
    bool in_wake_list;
    struct conn *wake_next;
    struct conn *taken_next;   /* list returned by conn_take_wake_list (lws thread) */
    /* input scheduling (L) */
    struct job *in_head, *in_tail;
    struct job *parked;        /* query slices waiting for the output queue to drain */
    bool scheduled;            /* in the workers' ready queue or being processed */
    struct conn *ready_next;   /* (workers' queue lock) */
    uint32_t queued;           /* jobs in inbox + events waiting for their OK */
    size_t queued_bytes;       /* bytes of the messages in the inbox */
    bool rx_paused;            /* lws thread paused reading (flow control) */
    bool want_resume;
    /* identity, set at open (read-only afterwards) */
    struct lws *wsi;           /* lws thread only */
    char ip[64];
    bool ipv6;
    char host[256];            /* Host header */
    char challenge[33];        /* NIP-42 challenge */
    /* NIP-42 (L) */
    bool authed;
    uint8_t authed_pubkey[32];
    /* subscriptions: touched only by the worker processing this connection */
    struct sub *subs;
    uint32_t sub_count;
    /* message reassembly: lws thread only */
    char *rx_buf;
    size_t rx_len, rx_cap;
    bool rx_active;            /* inside a message (between its first and final fragment) */
    bool rx_skip;              /* discarding the rest of an oversize or binary message */
} conn;

typedef struct conn_table conn_table;

conn_table *conn_table_new(relay_ctx *ctx, uint32_t max_connections);
void conn_table_free(conn_table *t);

/* lws thread: takes a free slot (state OPEN, new generation); NULL if full. */
conn *conn_open(conn_table *t);
/* lws thread: the socket closed. Drops queued output, bumps the generation
 * (so sends to the old id are dropped) and marks it CLOSING; the caller then
 * queues the close job that lets a worker drop its subscriptions and call
 * conn_release. */
void conn_mark_closed(conn_table *t, conn *c);
/* worker: returns a CLOSING slot to the free list. */
void conn_release(conn_table *t, conn *c);

conn *conn_at(conn_table *t, uint32_t index);
uint32_t conn_table_size(const conn_table *t);
static inline conn_id conn_get_id(const conn *c) { return ((uint64_t)c->gen << 32) | c->index; }
/* Locks and returns the connection if id still names an open connection. */
conn *conn_lock_id(conn_table *t, conn_id id);

/* Queues output for a connection (any thread). Takes ownership of the references
 * to prefix/body (released if the connection is gone). Returns false if the
 * connection is gone or was just cut off for exceeding max_output_bytes. */
bool conn_send(conn_table *t, conn_id id, msgbuf *prefix, msgbuf *body, bool close_bracket);
/* Same, also reporting the bytes now queued for the connection in *pending. */
bool conn_send_pending(conn_table *t, conn_id id, msgbuf *prefix, msgbuf *body, bool close_bracket,
                       size_t *pending);
/* Same with a copy of a complete message. */
bool conn_send_text(conn_table *t, conn_id id, const char *text, size_t len);
bool conn_send_notice(conn_table *t, conn_id id, const char *text);
bool conn_send_ok(conn_table *t, conn_id id, const char *id_hex, bool ok, const char *msg);
bool conn_send_closed(conn_table *t, conn_id id, const char *subid, size_t subid_len, const char *msg);

/* Flow control: a worker finished `n` queued items (`bytes` of message text)
 * of this connection. */
void conn_done_queued(conn_table *t, conn_id id, uint32_t n, size_t bytes);
/* Adds a connection to the wake list (caller holds c->lock) and wakes lws. */
void conn_request_service_locked(conn_table *t, conn *c);
/* Between these two calls, the calling thread's sends only fill the wake list;
 * the network thread is woken once by conn_defer_wake_end (one wake-up for a
 * whole group of answers instead of one per connection). */
void conn_defer_wake_begin(void);
void conn_defer_wake_end(conn_table *t);

/* lws thread: takes the list of connections that need a writable callback, a
 * resume of reading, or closing. Walk it with c->taken_next (other threads may
 * already queue the same connection again through wake_next meanwhile). */
conn *conn_take_wake_list(conn_table *t);
/* lws thread: pops the next output item (NULL if none). */
out_item *conn_pop_output(conn *c);
void out_item_free(out_item *it);

/* Stored queries pause while a connection has more than max_output_bytes /
 * CONN_PARK_DIVISOR bytes queued, and resume below half of that. */
#define CONN_PARK_DIVISOR 4
/* lws thread: after writing, moves parked query slices back to the workers when
 * the output queue has drained enough. */
struct worker_pool;
void conn_unpark_if_drained(conn_table *t, conn *c, struct worker_pool *workers);

/* Thresholds of queued input items for pausing/resuming reading. */
#define CONN_QUEUE_PAUSE 512
#define CONN_QUEUE_RESUME 128
/* ... and of queued message bytes (beyond max_message_length). */
#define CONN_QUEUE_PAUSE_BYTES (1u << 20)
#define CONN_QUEUE_RESUME_BYTES (256u << 10)
/* True when reading from c should pause (caller holds c->lock). */
static inline bool conn_input_full(const conn *c, uint32_t max_message_length) {
    return c->queued >= CONN_QUEUE_PAUSE || c->queued_bytes >= CONN_QUEUE_PAUSE_BYTES + max_message_length;
}
#endif
