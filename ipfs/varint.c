/* Unsigned varint encoding and strict decoding (see varint.h). */
#include "varint.h"

size_t varint_encode(uint64_t v, uint8_t *out) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

int varint_decode(const uint8_t *in, size_t len, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < VARINT_MAX_BYTES; i++) {
        if (i >= len) return 0;
        uint8_t b = in[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0) return -1; /* a trailing zero group: not minimal */
            *out = v;
            return (int)i + 1;
        }
    }
    return -1;
}
