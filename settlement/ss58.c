/* SS58 address encoding and decoding with the blake2b-512 "SS58PRE" checksum. */
#include "ss58.h"
#include "base58.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static size_t ss58_prefix_bytes(uint16_t prefix, uint8_t out[2]) {
    if (prefix < 64) { out[0] = (uint8_t)prefix; return 1; }
    out[0] = (uint8_t)(((prefix & 0xfc) >> 2) | 0x40);
    out[1] = (uint8_t)((prefix >> 8) | ((prefix & 0x03) << 6));
    return 2;
}

static void ss58_checksum(const uint8_t *body, size_t len, uint8_t out[2]) {
    uint8_t digest[64];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    crypto_generichash_update(&st, (const uint8_t *)"SS58PRE", 7);
    crypto_generichash_update(&st, body, len);
    crypto_generichash_final(&st, digest, sizeof digest);
    out[0] = digest[0];
    out[1] = digest[1];
}

int ss58_encode(const uint8_t account[32], uint16_t prefix, char *out, size_t outlen) {
    if (prefix > SS58_MAX_PREFIX) return -1;
    uint8_t raw[2 + 32 + 2];
    size_t n = ss58_prefix_bytes(prefix, raw);
    memcpy(raw + n, account, 32);
    n += 32;
    ss58_checksum(raw, n, raw + n);
    n += 2;
    return base58_encode(raw, n, out, outlen) < 0 ? -1 : 0;
}

int ss58_decode(const char *address, uint8_t account[32], uint16_t *prefix, char *err, size_t errlen) {
    uint8_t raw[40];
    size_t slen = strlen(address);
    if (slen < 40 || slen > 60) { snprintf(err, errlen, "not an SS58 address (length %zu)", slen); return -1; }
    int n = base58_decode(address, slen, raw, sizeof raw);
    if (n < 0) { snprintf(err, errlen, "not an SS58 address (bad base58)"); return -1; }
    size_t plen;
    uint16_t p;
    if (raw[0] < 64) { plen = 1; p = raw[0]; }
    else if (raw[0] < 128) {
        if (n < 2) { snprintf(err, errlen, "not an SS58 address (too short)"); return -1; }
        plen = 2;
        uint16_t lower = (uint16_t)(((raw[0] << 2) | (raw[1] >> 6)) & 0xff);
        uint16_t upper = raw[1] & 0x3f;
        p = (uint16_t)(lower | (upper << 8));
        if (p < 64) { snprintf(err, errlen, "not an SS58 address (non-canonical prefix)"); return -1; }
    } else { snprintf(err, errlen, "not an SS58 address (reserved prefix byte)"); return -1; }
    if ((size_t)n != plen + 32 + 2) {
        snprintf(err, errlen, "SS58 address does not hold a 32-byte account id (%d bytes)", n);
        return -1;
    }
    uint8_t sum[2];
    ss58_checksum(raw, plen + 32, sum);
    if (sum[0] != raw[plen + 32] || sum[1] != raw[plen + 33]) {
        snprintf(err, errlen, "SS58 address checksum mismatch");
        return -1;
    }
    memcpy(account, raw + plen, 32);
    *prefix = p;
    return 0;
}
