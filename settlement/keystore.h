/* The station keystore: custodial Ğ1 wallets bound to Nostr pubkeys (one wallet
 * per pubkey), and later the station's own Nostr key. Lives in
 * DATA_DIR/keystore.g1ks, encrypted at rest:
 *
 *   "G1KS" ‖ u8 format 1 ‖ u8 kdf 1 (Argon2id) ‖ u32 opslimit ‖ u32 memlimit KiB
 *   ‖ salt16 ‖ nonce24 ‖ XChaCha20-Poly1305(plaintext, aad = the header before it)
 *
 * The key is Argon2id(passphrase, salt). A wrong passphrase is reported as such
 * (never a silent new keystore). Writes are atomic (temp file, fsync, rename,
 * fsync of the directory) under an exclusive lock on DATA_DIR/keystore.lock, and
 * refuse to overwrite a file changed by someone else since it was opened.
 * Seeds live in sodium_malloc'd (guarded, mlocked) memory and are wiped on close.
 * All functions on one keystore are serialised by an internal mutex. */
#ifndef G1_KEYSTORE_H
#define G1_KEYSTORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "g1keys.h"

typedef struct keystore keystore;

#define KEYSTORE_FILE "keystore.g1ks"
#define KEYSTORE_MAX_WALLETS 100000

/* Reads the passphrase: from passphrase_file if it is non-empty (one trailing
 * newline removed), else from the environment variable G1RELAY_PASSPHRASE.
 * Returns a sodium_malloc'd NUL-terminated copy in *out (free it with
 * keystore_passphrase_free), or -1 with err if none or empty. */
int keystore_passphrase_load(const char *passphrase_file, char **out, size_t *len, char *err, size_t errlen);
void keystore_passphrase_free(char *pass, size_t len);

/* Opens DATA_DIR/keystore.g1ks. If it does not exist: with create, makes the
 * directory (0700) and an empty keystore file; without, fails saying so.
 * Returns 0, or -1 with err ("wrong passphrase…", "not a g1relay keystore", …). */
int keystore_open(const char *data_dir, const char *passphrase, size_t passphrase_len, bool create,
                  keystore **out, char *err, size_t errlen);
void keystore_close(keystore *ks);
/* Picks up changes written by another process (e.g. `g1relay wallet create` while
 * the relay runs): re-reads the file if it changed, with the key already derived.
 * *changed tells whether anything was reloaded. On error the loaded state is kept. */
int keystore_reload(keystore *ks, bool *changed, char *err, size_t errlen);

size_t keystore_wallet_count(keystore *ks);
/* Wallet i (in insertion order): bound Nostr pubkey and account id. 0 or -1. */
int keystore_wallet_at(keystore *ks, size_t i, uint8_t nostr_pubkey[32], uint8_t account[32]);
/* The account bound to a Nostr pubkey. 0 if found, -1 if not. */
int keystore_find(keystore *ks, const uint8_t nostr_pubkey[32], uint8_t account[32]);
/* Binds a wallet (its 32-byte seed) to a Nostr pubkey and saves the file.
 * Returns 0, -2 if the pubkey already has a wallet, -1 on other errors (err). */
int keystore_add(keystore *ks, const uint8_t nostr_pubkey[32], const uint8_t seed[32], char *err, size_t errlen);
/* Signs msg with the wallet of nostr_pubkey (ed25519). 0, or -1 if no wallet. */
int keystore_sign(keystore *ks, const uint8_t nostr_pubkey[32], const uint8_t *msg, size_t len, uint8_t sig[64]);
/* Copies the key pair of a wallet out (for the explicit export command only). */
int keystore_export(keystore *ks, const uint8_t nostr_pubkey[32], g1_keypair *kp);

/* Station Nostr secret key (secp256k1, 32 bytes). set saves the file. */
int keystore_set_station_key(keystore *ks, const uint8_t secret[32], char *err, size_t errlen);
/* 0 and the key, or -1 if none set. */
int keystore_station_key(keystore *ks, uint8_t secret[32]);

/* extrinsic_sign_fn adapter: ctx is a keystore_signer. */
typedef struct {
    keystore *ks;
    uint8_t nostr_pubkey[32];
} keystore_signer;
int keystore_signer_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]);
#endif
