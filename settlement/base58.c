/* Base58 (Bitcoin alphabet): simple big-number conversion over bounded inputs. */
#include "base58.h"
#include <string.h>
#include <sodium.h>

static const char base58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

int base58_encode(const uint8_t *in, size_t len, char *out, size_t outlen) {
    if (len > BASE58_MAX_BYTES) return -1;
    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0) zeros++;
    uint8_t digits[BASE58_MAX_CHARS]; /* base-58 digits, least significant first */
    size_t ndigits = 0;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = in[i];
        for (size_t j = 0; j < ndigits; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[ndigits++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    size_t total = zeros + ndigits;
    if (total + 1 > outlen) return -1;
    size_t k = 0;
    for (size_t i = 0; i < zeros; i++) out[k++] = '1';
    for (size_t j = ndigits; j > 0; j--) out[k++] = base58_alphabet[digits[j - 1]];
    out[k] = 0;
    sodium_memzero(digits, sizeof digits);
    return (int)k;
}

static int base58_value(char c) {
    const char *p = c ? strchr(base58_alphabet, c) : NULL;
    return p ? (int)(p - base58_alphabet) : -1;
}

int base58_decode(const char *s, size_t slen, uint8_t *out, size_t outlen) {
    if (slen == 0 || slen >= BASE58_MAX_CHARS) return -1;
    size_t zeros = 0;
    while (zeros < slen && s[zeros] == '1') zeros++;
    uint8_t bytes[BASE58_MAX_BYTES + 8]; /* least significant first */
    size_t nbytes = 0;
    int rc = -1;
    for (size_t i = zeros; i < slen; i++) {
        int v = base58_value(s[i]);
        if (v < 0) goto done;
        unsigned carry = (unsigned)v;
        for (size_t j = 0; j < nbytes; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            if (nbytes >= sizeof bytes) goto done;
            bytes[nbytes++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    size_t total = zeros + nbytes;
    if (total > outlen || total > BASE58_MAX_BYTES) goto done;
    memset(out, 0, zeros);
    for (size_t j = 0; j < nbytes; j++) out[zeros + j] = bytes[nbytes - 1 - j];
    rc = (int)total;
done:
    sodium_memzero(bytes, sizeof bytes);
    return rc;
}
