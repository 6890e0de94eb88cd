/* Ğ1 keys: ed25519 key pairs (libsodium), Cesium scrypt derivation, Duniter v1
 * base58 public keys with their checksum, .dunikey files (PubSec v1, WIF v1),
 * and parsing of any accepted address form (SS58 or v1 key) into 32 bytes.
 *
 * A g1_keypair holds secrets: wipe it with g1_keypair_wipe when done, and keep
 * it in sodium_malloc'd memory when it lives long. */
#ifndef G1_G1KEYS_H
#define G1_G1KEYS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t seed[32];      /* secret */
    uint8_t secret[64];    /* libsodium ed25519 secret key = seed ‖ public; secret */
    uint8_t public_key[32];
} g1_keypair;

/* Longest v1 key (base58 of 32 bytes) plus NUL. */
#define G1_V1_KEY_MAX 48

/* Computes the key pair of a 32-byte seed. Returns 0, -1 on failure. */
int g1_keypair_from_seed(const uint8_t seed[32], g1_keypair *kp);
/* A fresh random key pair. */
int g1_keypair_random(g1_keypair *kp);
void g1_keypair_wipe(g1_keypair *kp);

/* Cesium login: seed = scrypt(password, salt = identifier, N 4096, r 16, p 1, 32 B).
 * Returns 0, -1 on failure (out of memory). */
int g1_derive_cesium(const char *identifier, size_t identifier_len, const char *password,
                     size_t password_len, g1_keypair *kp);

/* Detached ed25519 signature of msg. */
void g1_sign(const g1_keypair *kp, const uint8_t *msg, size_t len, uint8_t sig[64]);

/* v1 public key: base58 of the 32 bytes. out >= G1_V1_KEY_MAX. Returns 0 or -1. */
int g1_v1_key_encode(const uint8_t public_key[32], char *out, size_t outlen);
/* v1 checksum: first 3 chars of base58(sha256(sha256(pk))), written with a NUL. */
void g1_v1_checksum(const uint8_t public_key[32], char out[4]);
/* Parses "KEY" or "KEY:CHK" (checksum verified). Returns 0, or -1 with a reason in err. */
int g1_v1_key_decode(const char *text, uint8_t public_key[32], char *err, size_t errlen);

/* Parses an address as accepted on input: an SS58 address whose prefix must equal
 * expected_prefix, or a v1 key (optional :checksum). Returns 0 or -1 with err. */
int g1_address_parse(const char *text, uint16_t expected_prefix, uint8_t account[32],
                     char *err, size_t errlen);

/* Parses the text of a .dunikey file: PubSec v1 (pub/sec lines, checked against
 * each other) or WIF v1 (Data line with its checksum). EWIF and other types are
 * refused. Returns 0 or -1 with a reason in err (never echoing secret text). */
int g1_dunikey_parse(const char *text, size_t len, g1_keypair *kp, char *err, size_t errlen);
/* Writes a PubSec v1 .dunikey text for kp into out (>= 256 bytes). Returns length or -1.
 * The output holds the secret key: wipe it after use. */
int g1_dunikey_format(const g1_keypair *kp, char *out, size_t outlen);
#endif
