/* Reference-counted output buffers (see msgbuf.h). */
#include "msgbuf.h"
#include <stdlib.h>
#include <string.h>

msgbuf *msgbuf_new(size_t len) {
    msgbuf *b = malloc(sizeof *b + len + 1);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data[len] = 0;
    return b;
}

msgbuf *msgbuf_copy(const char *s, size_t len) {
    msgbuf *b = msgbuf_new(len);
    if (b) memcpy(b->data, s, len);
    return b;
}

void msgbuf_unref(msgbuf *b) {
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}
