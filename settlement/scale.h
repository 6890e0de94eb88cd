/* SCALE codec (Substrate's Simple Concatenated Aggregate Little-Endian).
 *
 * Writing: a growable byte buffer (scale_buf). Any allocation failure sets
 * buf->failed and later writes are ignored; check it once at the end.
 * Reading: a cursor over a bounded input (scale_reader). Every read checks the
 * remaining length; the first failure sets r->failed and every later read fails,
 * so a decoder may check once at the end.
 *
 * Mapping of SCALE shapes:
 *   fixed ints      scale_put_u8..u64 / scale_put_u128 (lo, hi halves), LE
 *   compact ints    scale_put_compact / scale_read_compact (u64), *_u128
 *   Vec<T>          compact length then the items (scale_put_bytes for Vec<u8>)
 *   [T; N]          the items only (scale_put_raw)
 *   enum            u8 variant index then the variant's fields
 *   Option<T>       0x00 (None) or 0x01 then T; bool 0x00/0x01
 */
#ifndef G1_SCALE_H
#define G1_SCALE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} scale_buf;

void scale_buf_init(scale_buf *b);
/* Wipes (the content may be secret-derived) and frees. */
void scale_buf_free(scale_buf *b);
void scale_put_raw(scale_buf *b, const void *p, size_t n);
void scale_put_u8(scale_buf *b, uint8_t v);
void scale_put_u16(scale_buf *b, uint16_t v);
void scale_put_u32(scale_buf *b, uint32_t v);
void scale_put_u64(scale_buf *b, uint64_t v);
void scale_put_u128(scale_buf *b, uint64_t lo, uint64_t hi);
void scale_put_bool(scale_buf *b, bool v);
void scale_put_compact(scale_buf *b, uint64_t v);
void scale_put_compact_u128(scale_buf *b, uint64_t lo, uint64_t hi);
/* Vec<u8> / String: compact length then the bytes. */
void scale_put_bytes(scale_buf *b, const void *p, size_t n);
/* Number of bytes scale_put_compact would write for v. */
size_t scale_compact_size(uint64_t v);

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    bool failed;
} scale_reader;

void scale_reader_init(scale_reader *r, const uint8_t *data, size_t len);
size_t scale_remaining(const scale_reader *r);
bool scale_read_raw(scale_reader *r, void *out, size_t n);
/* Points *p at the next n bytes without copying. */
bool scale_read_view(scale_reader *r, const uint8_t **p, size_t n);
bool scale_skip(scale_reader *r, size_t n);
bool scale_read_u8(scale_reader *r, uint8_t *v);
bool scale_read_u16(scale_reader *r, uint16_t *v);
bool scale_read_u32(scale_reader *r, uint32_t *v);
bool scale_read_u64(scale_reader *r, uint64_t *v);
bool scale_read_u128(scale_reader *r, uint64_t *lo, uint64_t *hi);
/* Only 0x00 and 0x01 are valid. */
bool scale_read_bool(scale_reader *r, bool *v);
/* Fails on values above UINT64_MAX and on non-canonical encodings. */
bool scale_read_compact(scale_reader *r, uint64_t *v);
bool scale_read_compact_u128(scale_reader *r, uint64_t *lo, uint64_t *hi);
/* A compact length that must not exceed max and, times min_item_size, the
 * remaining input (so hostile lengths cannot make callers allocate or loop). */
bool scale_read_length(scale_reader *r, size_t min_item_size, size_t max, size_t *n);
/* Vec<u8>/String: *p points into the input, *n bytes, n <= max. */
bool scale_read_bytes_view(scale_reader *r, const uint8_t **p, size_t *n, size_t max);
/* Option tag: *some = false for 0x00, true for 0x01; other bytes fail. */
bool scale_read_option(scale_reader *r, bool *some);
#endif
