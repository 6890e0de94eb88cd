/* NIP-19 npub (bech32, BIP-173 checksum) encoding and decoding, plus plain hex. */
#include "npub.h"
#include "hex.h"
#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod_step(uint32_t chk, uint8_t v) {
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1) chk ^= gen[i];
    return chk;
}

/* Checksum state after the hrp "npub" and the given 5-bit values. */
static uint32_t bech32_polymod(const uint8_t *values, size_t n) {
    static const char hrp[] = "npub";
    uint32_t chk = 1;
    for (size_t i = 0; i < 4; i++) chk = bech32_polymod_step(chk, (uint8_t)(hrp[i] >> 5));
    chk = bech32_polymod_step(chk, 0);
    for (size_t i = 0; i < 4; i++) chk = bech32_polymod_step(chk, (uint8_t)(hrp[i] & 31));
    for (size_t i = 0; i < n; i++) chk = bech32_polymod_step(chk, values[i]);
    return chk;
}

int npub_parse(const char *text, uint8_t pubkey[32], char *err, size_t errlen) {
    size_t len = strlen(text);
    if (len == 64) {
        if (!hex_decode(text, len, pubkey, 32)) { snprintf(err, errlen, "pubkey is not 64 hex characters"); return -1; }
        return 0;
    }
    /* npub1 + 52 data chars (256 bits -> 52 groups of 5) + 6 checksum chars */
    if (len != 63 || strncasecmp(text, "npub1", 5) != 0) {
        snprintf(err, errlen, "pubkey must be 64 hex characters or npub1...");
        return -1;
    }
    bool lower = false, upper = false;
    uint8_t values[58];
    for (size_t i = 0; i < 58; i++) {
        char c = text[5 + i];
        if (islower((unsigned char)c)) lower = true;
        if (isupper((unsigned char)c)) upper = true;
        const char *p = strchr(bech32_charset, tolower((unsigned char)c));
        if (!c || !p) { snprintf(err, errlen, "npub: bad bech32 character"); return -1; }
        values[i] = (uint8_t)(p - bech32_charset);
    }
    if (lower && upper) { snprintf(err, errlen, "npub: mixed case"); return -1; }
    if (bech32_polymod(values, 58) != 1) { snprintf(err, errlen, "npub: checksum mismatch"); return -1; }
    uint32_t acc = 0;
    int bits = 0;
    size_t out = 0;
    for (size_t i = 0; i < 52; i++) {
        acc = (acc << 5) | values[i];
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (out < 32) pubkey[out] = (uint8_t)(acc >> bits);
            out++;
        }
        acc &= (1u << bits) - 1;
    }
    if (out != 32 || acc != 0) { snprintf(err, errlen, "npub: bad padding"); return -1; }
    return 0;
}

int npub_encode(const uint8_t pubkey[32], char *out, size_t outlen) {
    if (outlen < 64) return -1;
    uint8_t values[58];
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < 32; i++) {
        acc = (acc << 8) | pubkey[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            values[n++] = (uint8_t)((acc >> bits) & 31);
        }
        acc &= (1u << bits) - 1;
    }
    if (bits) values[n++] = (uint8_t)((acc << (5 - bits)) & 31);
    memset(values + n, 0, 6);
    uint32_t chk = bech32_polymod(values, n + 6) ^ 1;
    for (size_t i = 0; i < 6; i++) values[n + i] = (uint8_t)((chk >> (5 * (5 - i))) & 31);
    memcpy(out, "npub1", 5);
    for (size_t i = 0; i < n + 6; i++) out[5 + i] = bech32_charset[values[i]];
    out[5 + n + 6] = 0;
    return 0;
}
