/* Unit tests for relay/conn.c: connection ids survive slot reuse (a late send to
 * a closed connection is dropped), output queues and their byte accounting, the
 * slow-reader cut-off, and the wake list handed to the network thread. */
#include "conn.h"
#include "unit.h"

static relay_ctx ctx; /* lws == NULL: relay_wake_network does nothing */

static size_t pending_bytes(conn_table *t, conn_id id) {
    conn *c = conn_lock_id(t, id);
    if (!c) return (size_t)-1;
    size_t n = c->out_bytes;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void test_ids_and_output(void) {
    ctx.lim.max_output_bytes = 4096;
    conn_table *t = conn_table_new(&ctx, 2);
    conn *a = conn_open(t);
    conn *b = conn_open(t);
    CHECK(a && b && a != b);
    CHECK(conn_open(t) == NULL); /* table full */
    conn_id ida = conn_get_id(a), idb = conn_get_id(b);
    CHECK(ida != idb && ida != 0);

    CHECK(conn_send_text(t, ida, "hello", 5));
    CHECK(conn_send_ok(t, ida, "00ff", true, "duplicate: x"));
    CHECK(conn_send_closed(t, ida, "s\"1", 3, "error: y"));
    CHECK(conn_send_notice(t, ida, "bad \"input\""));
    out_item *it = conn_pop_output(a);
    CHECK(it && it->body->len == 5 && memcmp(it->body->data, "hello", 5) == 0);
    out_item_free(it);
    it = conn_pop_output(a);
    CHECK_EQ_STR(it->body->data, "[\"OK\",\"00ff\",true,\"duplicate: x\"]");
    out_item_free(it);
    it = conn_pop_output(a);
    CHECK_EQ_STR(it->body->data, "[\"CLOSED\",\"s\\\"1\",\"error: y\"]");
    out_item_free(it);
    it = conn_pop_output(a);
    CHECK_EQ_STR(it->body->data, "[\"NOTICE\",\"bad \\\"input\\\"\"]");
    out_item_free(it);
    CHECK(conn_pop_output(a) == NULL);
    CHECK_EQ_INT(pending_bytes(t, ida), 0);

    /* shared event body with a per-subscription prefix */
    msgbuf *prefix = msgbuf_copy("[\"EVENT\",\"s\",", 13);
    msgbuf *body = msgbuf_copy("{}", 2);
    CHECK(conn_send(t, idb, msgbuf_ref(prefix), msgbuf_ref(body), true));
    CHECK_EQ_INT(pending_bytes(t, idb), 13 + 2 + 1);
    it = conn_pop_output(b);
    CHECK(it && it->prefix == prefix && it->body == body && it->close_bracket);
    out_item_free(it);
    CHECK_EQ_INT(atomic_load(&body->refs), 1);
    msgbuf_unref(prefix);
    msgbuf_unref(body);

    /* wake list: each connection once, and re-queuing while walking is safe */
    conn *w = conn_take_wake_list(t);
    int n = 0;
    for (conn *c = w; c; c = c->taken_next) {
        n++;
        CHECK(conn_send_text(t, conn_get_id(c), "x", 1)); /* re-queues it */
    }
    CHECK_EQ_INT(n, 2);
    n = 0;
    for (conn *c = conn_take_wake_list(t); c; c = c->taken_next) n++;
    CHECK_EQ_INT(n, 2);
    CHECK(conn_take_wake_list(t) == NULL);

    /* close: late sends to the old id are dropped, the slot is reused under a new id */
    conn_mark_closed(t, a);
    CHECK(!conn_send_text(t, ida, "late", 4));
    conn_release(t, a);
    conn *a2 = conn_open(t);
    CHECK(a2 == a);
    CHECK(conn_get_id(a2) != ida);
    CHECK(!conn_send_text(t, ida, "late", 4));
    CHECK(conn_send_text(t, conn_get_id(a2), "new", 3));
    it = conn_pop_output(a2);
    CHECK(it && it->body->len == 3);
    out_item_free(it);

    /* slow reader: more than max_output_bytes queued cuts it off */
    char big[1000];
    memset(big, 'a', sizeof big);
    conn_id id2 = conn_get_id(a2);
    int sent = 0;
    while (sent < 10 && conn_send_text(t, id2, big, sizeof big)) sent++;
    CHECK_EQ_INT(sent, 4);
    conn *k = conn_lock_id(t, id2);
    CHECK(k && k->kill && k->out_head == NULL);
    if (k) pthread_mutex_unlock(&k->lock);
    CHECK(!conn_send_text(t, id2, "x", 1));
    conn_table_free(t);
}

UNIT_MAIN(test_ids_and_output())
