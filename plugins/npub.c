/* bech32 (BIP-173) decoding restricted to NIP-19 npub: hrp "npub", 32-byte payload. */
#include "npub.h"
#include <ctype.h>

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t chk, uint8_t v) {
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint8_t top = (uint8_t)(chk >> 25);
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1) chk ^= gen[i];
    return chk;
}

bool npub_decode(const char *s, size_t len, uint8_t out[32]) {
    /* "npub" + "1" + 52 data chars (256 bits -> 52 groups of 5, 4 padding bits) + 6 checksum */
    if (len != 4 + 1 + 52 + 6) return false;
    bool lower = false, upper = false;
    for (size_t i = 0; i < len; i++) {
        if (islower((unsigned char)s[i])) lower = true;
        if (isupper((unsigned char)s[i])) upper = true;
    }
    if (lower && upper) return false;
    const char hrp[] = "npub";
    for (size_t i = 0; i < 4; i++)
        if (tolower((unsigned char)s[i]) != hrp[i]) return false;
    if (s[4] != '1') return false;
    uint32_t chk = 1;
    for (size_t i = 0; i < 4; i++) chk = polymod_step(chk, (uint8_t)(hrp[i] >> 5));
    chk = polymod_step(chk, 0);
    for (size_t i = 0; i < 4; i++) chk = polymod_step(chk, (uint8_t)(hrp[i] & 31));
    uint8_t vals[58];
    for (size_t i = 0; i < 58; i++) {
        int c = tolower((unsigned char)s[5 + i]);
        int v = -1;
        for (int j = 0; j < 32; j++)
            if (charset[j] == c) { v = j; break; }
        if (v < 0) return false;
        vals[i] = (uint8_t)v;
        chk = polymod_step(chk, vals[i]);
    }
    if (chk != 1) return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 52; i++) {
        acc = (acc << 5) | vals[i];
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o == 32) return false;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (o != 32 || bits >= 5 || (acc & ((1u << bits) - 1))) return false; /* padding must be zero */
    return true;
}
