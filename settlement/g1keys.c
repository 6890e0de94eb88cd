/* Ğ1 key handling: ed25519 via libsodium, Cesium scrypt, v1 keys, .dunikey files. */
#include "g1keys.h"
#include "base58.h"
#include "ss58.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int g1_keypair_from_seed(const uint8_t seed[32], g1_keypair *kp) {
    if (sodium_init() < 0) return -1;
    memcpy(kp->seed, seed, 32);
    return crypto_sign_seed_keypair(kp->public_key, kp->secret, kp->seed) == 0 ? 0 : -1;
}

int g1_keypair_random(g1_keypair *kp) {
    if (sodium_init() < 0) return -1;
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    int rc = g1_keypair_from_seed(seed, kp);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void g1_keypair_wipe(g1_keypair *kp) { sodium_memzero(kp, sizeof *kp); }

int g1_derive_cesium(const char *identifier, size_t identifier_len, const char *password,
                     size_t password_len, g1_keypair *kp) {
    if (sodium_init() < 0) return -1;
    uint8_t seed[32];
    if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)password, password_len,
                                              (const uint8_t *)identifier, identifier_len,
                                              4096, 16, 1, seed, sizeof seed) != 0)
        return -1;
    int rc = g1_keypair_from_seed(seed, kp);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void g1_sign(const g1_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64]) {
    crypto_sign_detached(sig, NULL, msg, len, kp->secret);
}

int g1_v1_key_encode(const uint8_t public_key[32], char *out, size_t outlen) {
    return base58_encode(public_key, 32, out, outlen) < 0 ? -1 : 0;
}

void g1_v1_checksum(const uint8_t public_key[32], char out[4]) {
    uint8_t h1[32], h2[32];
    crypto_hash_sha256(h1, public_key, 32);
    crypto_hash_sha256(h2, h1, sizeof h1);
    char b58[64];
    base58_encode(h2, sizeof h2, b58, sizeof b58);
    memcpy(out, b58, 3);
    out[3] = 0;
}

int g1_v1_key_decode(const char *text, uint8_t public_key[32], char *err, size_t errlen) {
    const char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : strlen(text);
    if (klen < 40 || klen > 45) { snprintf(err, errlen, "not a v1 public key (length %zu)", klen); return -1; }
    uint8_t raw[40];
    int n = base58_decode(text, klen, raw, sizeof raw);
    if (n < 0) { snprintf(err, errlen, "not a v1 public key (bad base58)"); return -1; }
    if (n != 32) { snprintf(err, errlen, "v1 public key is %d bytes, not 32", n); return -1; }
    if (colon) {
        char expect[4];
        g1_v1_checksum(raw, expect);
        if (strcmp(colon + 1, expect) != 0) {
            snprintf(err, errlen, "v1 key checksum mismatch (got '%.8s', want '%s')", colon + 1, expect);
            return -1;
        }
    }
    memcpy(public_key, raw, 32);
    return 0;
}

int g1_address_parse(const char *text, uint16_t expected_prefix, uint8_t account[32],
                     char *err, size_t errlen) {
    size_t len = strlen(text);
    const char *colon = strchr(text, ':');
    size_t klen = colon ? (size_t)(colon - text) : len;
    if (klen >= 40 && klen <= 45) return g1_v1_key_decode(text, account, err, errlen);
    uint16_t prefix;
    if (ss58_decode(text, account, &prefix, err, errlen) < 0) return -1;
    if (prefix != expected_prefix) {
        snprintf(err, errlen, "address has SS58 prefix %u, this chain uses %u", prefix, expected_prefix);
        sodium_memzero(account, 32);
        return -1;
    }
    return 0;
}

/* Finds "Name: value" in text (case-insensitive name), copies the trimmed value
 * into out. Returns value length, -1 if absent, -2 if too long. */
static int dunikey_field(const char *text, size_t len, const char *name, char *out, size_t outlen) {
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n') i++;
        size_t end = i;
        if (i < len) i++;
        while (start < end && (text[start] == ' ' || text[start] == '\t')) start++;
        if (end - start > nlen && strncasecmp(text + start, name, nlen) == 0 && text[start + nlen] == ':') {
            size_t v = start + nlen + 1;
            while (v < end && (text[v] == ' ' || text[v] == '\t')) v++;
            while (end > v && (text[end - 1] == '\r' || text[end - 1] == ' ' || text[end - 1] == '\t')) end--;
            if (end - v + 1 > outlen) return -2;
            memcpy(out, text + v, end - v);
            out[end - v] = 0;
            return (int)(end - v);
        }
    }
    return -1;
}

int g1_dunikey_parse(const char *text, size_t len, g1_keypair *kp, char *err, size_t errlen) {
    char type[32], version[16], value[BASE58_MAX_CHARS];
    uint8_t raw[80];
    int rc = -1;
    if (memchr(text, 0, len)) { snprintf(err, errlen, ".dunikey: contains a NUL byte"); return -1; }
    if (dunikey_field(text, len, "Type", type, sizeof type) < 0) {
        snprintf(err, errlen, ".dunikey: no 'Type:' line");
        return -1;
    }
    if (dunikey_field(text, len, "Version", version, sizeof version) < 0 || strcmp(version, "1") != 0) {
        snprintf(err, errlen, ".dunikey: missing or unsupported 'Version:' (want 1)");
        return -1;
    }
    if (strcmp(type, "PubSec") == 0) {
        uint8_t pub[32];
        int vl = dunikey_field(text, len, "pub", value, sizeof value);
        if (vl < 0) { snprintf(err, errlen, ".dunikey: missing or overlong 'pub:' line"); goto out; }
        char why[160];
        if (g1_v1_key_decode(value, pub, why, sizeof why) < 0) {
            snprintf(err, errlen, ".dunikey: 'pub:' line: %s (truncated?)", why);
            goto out;
        }
        vl = dunikey_field(text, len, "sec", value, sizeof value);
        if (vl < 0) { snprintf(err, errlen, ".dunikey: missing or overlong 'sec:' line"); goto out; }
        int n = base58_decode(value, (size_t)vl, raw, sizeof raw);
        if (n != 64) { snprintf(err, errlen, ".dunikey: 'sec:' is not base58 of 64 bytes (truncated?)"); goto out; }
        if (g1_keypair_from_seed(raw, kp) < 0) { snprintf(err, errlen, ".dunikey: bad seed"); goto out; }
        if (sodium_memcmp(kp->public_key, raw + 32, 32) != 0 || sodium_memcmp(kp->public_key, pub, 32) != 0) {
            g1_keypair_wipe(kp);
            snprintf(err, errlen, ".dunikey: 'sec:' does not match 'pub:'");
            goto out;
        }
        rc = 0;
    } else if (strcmp(type, "WIF") == 0) {
        int vl = dunikey_field(text, len, "Data", value, sizeof value);
        if (vl < 0) { snprintf(err, errlen, ".dunikey: missing or overlong 'Data:' line"); goto out; }
        int n = base58_decode(value, (size_t)vl, raw, sizeof raw);
        if (n != 35 || raw[0] != 0x01) { snprintf(err, errlen, ".dunikey: WIF 'Data:' is not 01 ‖ seed ‖ checksum (truncated?)"); goto out; }
        uint8_t h1[32], h2[32];
        crypto_hash_sha256(h1, raw, 33);
        crypto_hash_sha256(h2, h1, 32);
        sodium_memzero(h1, sizeof h1);
        if (h2[0] != raw[33] || h2[1] != raw[34]) { snprintf(err, errlen, ".dunikey: WIF checksum mismatch"); goto out; }
        if (g1_keypair_from_seed(raw + 1, kp) < 0) { snprintf(err, errlen, ".dunikey: bad seed"); goto out; }
        rc = 0;
    } else if (strcmp(type, "EWIF") == 0) {
        snprintf(err, errlen, ".dunikey: encrypted EWIF files are not supported; export as PubSec or WIF");
    } else {
        snprintf(err, errlen, ".dunikey: unsupported type '%.20s' (want PubSec or WIF)", type);
    }
out:
    sodium_memzero(value, sizeof value);
    sodium_memzero(raw, sizeof raw);
    return rc;
}

int g1_dunikey_format(const g1_keypair *kp, char *out, size_t outlen) {
    char pub[G1_V1_KEY_MAX], sec[BASE58_MAX_CHARS];
    if (g1_v1_key_encode(kp->public_key, pub, sizeof pub) < 0) return -1;
    if (base58_encode(kp->secret, 64, sec, sizeof sec) < 0) return -1;
    int n = snprintf(out, outlen, "Type: PubSec\nVersion: 1\npub: %s\nsec: %s\n", pub, sec);
    sodium_memzero(sec, sizeof sec);
    return (n < 0 || (size_t)n >= outlen) ? -1 : n;
}
