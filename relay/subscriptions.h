/* Subscriptions (REQ) and the live index that finds which of them a new event
 * matches without testing every one: each filter is filed under one key (its
 * ids, else its authors, else the values of one tag, else its kinds; filters
 * with none of these go to a match-all list), and an event looks up its own id,
 * pubkey, kind and tag values. Candidates get a final filter_match; each
 * subscription receives an event at most once.
 *
 * A sub belongs to its connection (touched only by the worker processing that
 * connection) and, while live, to the index (read by any thread delivering
 * events, under the index lock). */
#ifndef G1_SUBSCRIPTIONS_H
#define G1_SUBSCRIPTIONS_H
#include <stdatomic.h>
#include <stdbool.h>
#include "conn.h"
#include "message.h"
#include "msgbuf.h"
#include "store.h"

typedef struct sub {
    atomic_uint refs;
    conn_id conn;
    client_message *msg;   /* owns subid and filters */
    msgbuf *event_prefix;  /* ["EVENT","<subid>",  shared by every live delivery */
    store_query *query;    /* stored phase, NULL once EOSE was sent */
    /* levid of the first stored event delivered live (UINT64_MAX: none yet).
     * The writer stores and broadcasts in levid order, and the subscription is
     * indexed before its stored query starts, so every matching event from
     * this levid on reaches it live: the stored phase skips them, and no event
     * is sent twice. Set by the writer thread, read by the query's worker.
     * Valid only while the index's levid epoch is still levid_epoch (see
     * sub_index_levids_reassigned). */
    _Atomic uint64_t live_from_levid;
    uint32_t levid_epoch;
    bool cancelled;        /* closed or replaced (worker side) */
    bool indexed;
    struct sub *next_in_conn;
} sub;

typedef struct sub_index sub_index;

/* Takes ownership of msg (a parsed REQ). refs = 1. NULL on out of memory. */
sub *sub_new(conn_id owner, client_message *msg);
sub *sub_ref(sub *s);
void sub_unref(sub *s);

sub_index *sub_index_new(void);
void sub_index_free(sub_index *idx);
/* Files the sub's filters (takes a reference). */
int sub_index_add(sub_index *idx, sub *s);
/* Removes it (drops that reference). No-op if not indexed. */
void sub_index_remove(sub_index *idx, sub *s);
/* Calls deliver once for each live subscription that ev matches. Returns the
 * number of subscriptions delivered to. */
typedef void (*sub_deliver_fn)(void *ctx, sub *s);
size_t sub_index_match(sub_index *idx, const event *ev, sub_deliver_fn deliver, void *ctx);
size_t sub_index_count(sub_index *idx);
/* The writer re-applied events it had already broadcast (after an LMDB
 * error), under new serial numbers: subscriptions indexed before this call no
 * longer skip stored events by live_from_levid (a duplicate beats a loss). */
void sub_index_levids_reassigned(sub_index *idx);
/* True when the stored event levid already went to s live (live_from_levid). */
bool sub_sent_live(sub_index *idx, sub *s, uint64_t levid);

/* Delivers an event (its stored JSON) to every matching live subscription,
 * sharing one buffer of the JSON between them. levid: its serial number in the
 * store (0 for an ephemeral event, which is never stored). */
size_t sub_broadcast(sub_index *idx, conn_table *conns, const event *ev, uint64_t levid);
#endif
