/* CIDv1 with sha2-256 multihashes: computing, binary and base32 text forms. */
#include "cid.h"
#include "varint.h"
#include <sodium.h>
#include <string.h>

void cid_of(cid *out, uint32_t codec, const uint8_t *data, size_t len) {
    out->codec = codec;
    crypto_hash_sha256(out->digest, data, len);
}

size_t cid_to_bytes(const cid *c, uint8_t *out) {
    size_t n = varint_encode(1, out);
    n += varint_encode(c->codec, out + n);
    n += varint_encode(CID_MH_SHA2_256, out + n);
    n += varint_encode(32, out + n);
    memcpy(out + n, c->digest, 32);
    return n + 32;
}

int cid_from_bytes(cid *out, const uint8_t *in, size_t len) {
    uint64_t v[4];
    size_t pos = 0;
    for (int i = 0; i < 4; i++) {
        int k = varint_decode(in + pos, len - pos, &v[i]);
        if (k <= 0) return -1;
        pos += (size_t)k;
    }
    if (v[0] != 1 || v[1] > 0xffffffffu || v[2] != CID_MH_SHA2_256 || v[3] != 32 || len - pos < 32) return -1;
    out->codec = (uint32_t)v[1];
    memcpy(out->digest, in + pos, 32);
    return (int)(pos + 32);
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

size_t base32_lower_encode(const uint8_t *in, size_t len, char *out) {
    size_t n = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = b32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out[n++] = b32[(buf << (5 - bits)) & 31];
    out[n] = 0;
    return n;
}

int base32_lower_decode(const char *in, size_t len, uint8_t *out, size_t outcap) {
    uint32_t buf = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = in[i] ? strchr(b32, in[i]) : NULL;
        if (!p) return -1;
        buf = (buf << 5) | (uint32_t)(p - b32);
        bits += 5;
        if (bits >= 8) {
            if (n >= outcap) return -1;
            out[n++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
        buf &= (1u << bits) - 1;
    }
    if (bits >= 5 || buf != 0) return -1; /* leftover must be padding zeros, shorter than a symbol */
    return (int)n;
}

void cid_to_string(const cid *c, char *out) {
    uint8_t bin[CID_MAX_BYTES];
    size_t n = cid_to_bytes(c, bin);
    out[0] = 'b';
    base32_lower_encode(bin, n, out + 1);
}

int cid_parse(cid *out, const char *text) {
    size_t len = strlen(text);
    if (len < 2 || len > CID_MAX_TEXT - 1 || text[0] != 'b') return -1;
    uint8_t bin[CID_MAX_BYTES];
    int n = base32_lower_decode(text + 1, len - 1, bin, sizeof bin);
    if (n < 0) return -1;
    int used = cid_from_bytes(out, bin, (size_t)n);
    return used == n ? 0 : -1;
}

bool cid_equal(const cid *a, const cid *b) {
    return a->codec == b->codec && memcmp(a->digest, b->digest, 32) == 0;
}
