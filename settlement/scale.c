/* SCALE encoding into a growable buffer and bounds-checked decoding. */
#include "scale.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void scale_buf_init(scale_buf *b) { memset(b, 0, sizeof *b); }

void scale_buf_free(scale_buf *b) {
    if (b->data) sodium_memzero(b->data, b->cap);
    free(b->data);
    memset(b, 0, sizeof *b);
}

static bool scale_buf_reserve(scale_buf *b, size_t extra) {
    if (b->failed) return false;
    if (extra > SIZE_MAX / 2 - b->len) { b->failed = true; return false; }
    if (b->len + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) cap *= 2;
    /* no realloc: the old block may hold secret-derived bytes and is wiped */
    uint8_t *p = malloc(cap);
    if (!p) { b->failed = true; return false; }
    if (b->data) {
        memcpy(p, b->data, b->len);
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void scale_put_raw(scale_buf *b, const void *p, size_t n) {
    if (n == 0 || !scale_buf_reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void scale_put_le(scale_buf *b, uint64_t v, size_t n) {
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    scale_put_raw(b, tmp, n);
}

void scale_put_u8(scale_buf *b, uint8_t v) { scale_put_le(b, v, 1); }
void scale_put_u16(scale_buf *b, uint16_t v) { scale_put_le(b, v, 2); }
void scale_put_u32(scale_buf *b, uint32_t v) { scale_put_le(b, v, 4); }
void scale_put_u64(scale_buf *b, uint64_t v) { scale_put_le(b, v, 8); }
void scale_put_u128(scale_buf *b, uint64_t lo, uint64_t hi) { scale_put_le(b, lo, 8); scale_put_le(b, hi, 8); }
void scale_put_bool(scale_buf *b, bool v) { scale_put_u8(b, v ? 1 : 0); }

void scale_put_compact_u128(scale_buf *b, uint64_t lo, uint64_t hi) {
    if (hi == 0 && lo < (1u << 6)) { scale_put_u8(b, (uint8_t)(lo << 2)); return; }
    if (hi == 0 && lo < (1u << 14)) { scale_put_u16(b, (uint16_t)(lo << 2 | 1)); return; }
    if (hi == 0 && lo < (1u << 30)) { scale_put_u32(b, (uint32_t)(lo << 2 | 2)); return; }
    uint8_t bytes[16];
    for (int i = 0; i < 8; i++) { bytes[i] = (uint8_t)(lo >> (8 * i)); bytes[8 + i] = (uint8_t)(hi >> (8 * i)); }
    size_t n = 16;
    while (n > 4 && bytes[n - 1] == 0) n--;
    scale_put_u8(b, (uint8_t)(((n - 4) << 2) | 3));
    scale_put_raw(b, bytes, n);
}

void scale_put_compact(scale_buf *b, uint64_t v) { scale_put_compact_u128(b, v, 0); }

size_t scale_compact_size(uint64_t v) {
    if (v < (1u << 6)) return 1;
    if (v < (1u << 14)) return 2;
    if (v < (1u << 30)) return 4;
    size_t n = 8;
    while (n > 4 && !(v >> (8 * (n - 1)))) n--;
    return 1 + n;
}

void scale_put_bytes(scale_buf *b, const void *p, size_t n) {
    scale_put_compact(b, n);
    scale_put_raw(b, p, n);
}

void scale_reader_init(scale_reader *r, const uint8_t *data, size_t len) {
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->failed = false;
}

size_t scale_remaining(const scale_reader *r) { return r->failed ? 0 : r->len - r->pos; }

bool scale_read_view(scale_reader *r, const uint8_t **p, size_t n) {
    if (r->failed || n > r->len - r->pos) { r->failed = true; return false; }
    *p = r->data + r->pos;
    r->pos += n;
    return true;
}

bool scale_read_raw(scale_reader *r, void *out, size_t n) {
    const uint8_t *p;
    if (!scale_read_view(r, &p, n)) return false;
    if (n) memcpy(out, p, n);
    return true;
}

bool scale_skip(scale_reader *r, size_t n) {
    const uint8_t *p;
    return scale_read_view(r, &p, n);
}

static bool scale_read_le(scale_reader *r, uint64_t *v, size_t n) {
    const uint8_t *p;
    if (!scale_read_view(r, &p, n)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x |= (uint64_t)p[i] << (8 * i);
    *v = x;
    return true;
}

bool scale_read_u8(scale_reader *r, uint8_t *v) { uint64_t x; if (!scale_read_le(r, &x, 1)) return false; *v = (uint8_t)x; return true; }
bool scale_read_u16(scale_reader *r, uint16_t *v) { uint64_t x; if (!scale_read_le(r, &x, 2)) return false; *v = (uint16_t)x; return true; }
bool scale_read_u32(scale_reader *r, uint32_t *v) { uint64_t x; if (!scale_read_le(r, &x, 4)) return false; *v = (uint32_t)x; return true; }
bool scale_read_u64(scale_reader *r, uint64_t *v) { return scale_read_le(r, v, 8); }
bool scale_read_u128(scale_reader *r, uint64_t *lo, uint64_t *hi) {
    return scale_read_le(r, lo, 8) && scale_read_le(r, hi, 8);
}

bool scale_read_bool(scale_reader *r, bool *v) {
    uint8_t x;
    if (!scale_read_u8(r, &x)) return false;
    if (x > 1) { r->failed = true; return false; }
    *v = x == 1;
    return true;
}

bool scale_read_compact_u128(scale_reader *r, uint64_t *lo, uint64_t *hi) {
    uint8_t first;
    if (!scale_read_u8(r, &first)) return false;
    uint64_t x;
    *hi = 0;
    switch (first & 3) {
    case 0: *lo = first >> 2; return true;
    case 1: {
        uint8_t second;
        if (!scale_read_u8(r, &second)) return false;
        x = (uint64_t)(first | (uint16_t)second << 8) >> 2;
        if (x < (1u << 6)) break; /* non-canonical */
        *lo = x;
        return true;
    }
    case 2: {
        uint8_t rest[3];
        if (!scale_read_raw(r, rest, 3)) return false;
        x = ((uint64_t)first | (uint64_t)rest[0] << 8 | (uint64_t)rest[1] << 16 | (uint64_t)rest[2] << 24) >> 2;
        if (x < (1u << 14)) break;
        *lo = x;
        return true;
    }
    default: {
        size_t n = (size_t)(first >> 2) + 4;
        if (n > 16) break;
        const uint8_t *p;
        if (!scale_read_view(r, &p, n)) return false;
        if (p[n - 1] == 0) break; /* non-canonical: fewer bytes would do */
        uint64_t l = 0, h = 0;
        for (size_t i = 0; i < n; i++) {
            if (i < 8) l |= (uint64_t)p[i] << (8 * i);
            else h |= (uint64_t)p[i] << (8 * (i - 8));
        }
        if (h == 0 && l < (1u << 30)) break;
        *lo = l;
        *hi = h;
        return true;
    }
    }
    r->failed = true;
    return false;
}

bool scale_read_compact(scale_reader *r, uint64_t *v) {
    uint64_t lo, hi;
    if (!scale_read_compact_u128(r, &lo, &hi)) return false;
    if (hi) { r->failed = true; return false; }
    *v = lo;
    return true;
}

bool scale_read_length(scale_reader *r, size_t min_item_size, size_t max, size_t *n) {
    uint64_t v;
    if (!scale_read_compact(r, &v)) return false;
    if (v > max || (min_item_size && v > scale_remaining(r) / min_item_size)) { r->failed = true; return false; }
    *n = (size_t)v;
    return true;
}

bool scale_read_bytes_view(scale_reader *r, const uint8_t **p, size_t *n, size_t max) {
    size_t len;
    if (!scale_read_length(r, 1, max, &len)) return false;
    *n = len;
    return scale_read_view(r, p, len);
}

bool scale_read_option(scale_reader *r, bool *some) { return scale_read_bool(r, some); }
