/* Reference-counted output buffers with libwebsockets' LWS_PRE headroom, so one
 * buffer (an event's JSON, a whole message) can be queued to many connections
 * without copying, and written by lws_write without copying either. */
#ifndef G1_MSGBUF_H
#define G1_MSGBUF_H
#include <libwebsockets.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct msgbuf {
    atomic_uint refs;
    size_t len;
    unsigned char pre[LWS_PRE]; /* lws writes the frame header here */
    char data[];                /* len bytes, then a NUL */
} msgbuf;

/* New buffer with room for len bytes (contents uninitialised, data[len] = 0), refs 1. */
msgbuf *msgbuf_new(size_t len);
/* New buffer holding a copy of s[0..len). */
msgbuf *msgbuf_copy(const char *s, size_t len);
static inline msgbuf *msgbuf_ref(msgbuf *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}
void msgbuf_unref(msgbuf *b);
/* Shrinks a buffer filled with fewer bytes than allocated (keeps the NUL). */
static inline void msgbuf_set_len(msgbuf *b, size_t len) {
    b->len = len;
    b->data[len] = 0;
}
#endif
