/* Reading Duniter v2s chain state through the runtime metadata: storage keys
 * (twox128 of pallet and item names, hashed map keys), System.Account
 * (AccountInfo: nonce and balances), and System.Events (the outcome of one
 * extrinsic of a block: ExtrinsicSuccess, or ExtrinsicFailed with its dispatch
 * error mapped to a short reason such as insufficient-funds).
 *
 * Pure functions over bytes: the node client fetches, this decodes. Every
 * decoder is bounded by its input and refuses what the metadata does not
 * describe. */
#ifndef G1_CHAIN_STATE_H
#define G1_CHAIN_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "metadata.h"
#include "scale.h"

/* twox128(data) = xxh64(data, seed 0) LE ‖ xxh64(data, seed 1) LE */
void chain_twox128(const void *data, size_t len, uint8_t out[16]);
/* twox64 = xxh64(seed 0), little endian */
void chain_twox64(const void *data, size_t len, uint8_t out[8]);

/* Largest storage key built here. */
#define CHAIN_STORAGE_KEY_MAX 128

/* Key of a plain storage value: twox128(pallet) ‖ twox128(item). Returns 32. */
size_t chain_storage_key_plain(const char *pallet, const char *item, uint8_t out[32]);
/* Key of a single-key map entry with the hasher named by the metadata (0..6, see
 * metadata_storage). Returns the key length, or 0 for an unknown hasher or a key
 * too long. */
size_t chain_storage_key_map(const char *pallet, const char *item, uint8_t hasher, const uint8_t *key,
                             size_t key_len, uint8_t out[CHAIN_STORAGE_KEY_MAX]);
/* Key of System.Account for a 32-byte account id, with the metadata's hasher.
 * Returns the key length, or 0 if the metadata has no usable System.Account. */
size_t chain_account_storage_key(const metadata *md, const uint8_t account[32], uint8_t out[CHAIN_STORAGE_KEY_MAX]);

typedef struct {
    uint64_t nonce;
    uint64_t free;       /* centimes */
    uint64_t reserved;
    uint64_t frozen;     /* frozen / fee_frozen / misc_frozen, whichever the runtime has (largest) */
} chain_account;

/* Decodes a System.Account value (AccountInfo of the runtime: fields found by
 * name: nonce, data.free, data.reserved, data.*frozen). present=false (no value
 * stored) gives all zeros. Returns 0, or -1 with err. */
int chain_account_decode(const metadata *md, const uint8_t *value, size_t len, chain_account *out,
                         char *err, size_t errlen);

/* Skips one SCALE value of a metadata type. false if malformed or too deep. */
bool chain_skip_value(const metadata *md, uint32_t type_id, scale_reader *r);

typedef struct {
    bool found;          /* an ExtrinsicSuccess/ExtrinsicFailed for that index was seen */
    bool success;
    char reason[40];     /* failed: insufficient-funds, keep-alive, existential-deposit, funds-frozen, dispatch-error */
    char detail[96];     /* failed: the error as the chain names it, e.g. Token(FundsUnavailable) */
} chain_outcome;

/* Finds the outcome of the extrinsic at ext_index in a block's System.Events
 * value. Returns 0 (out->found says whether it was there), or -1 with err when
 * the events cannot be decoded with this metadata. */
int chain_extrinsic_outcome(const metadata *md, const uint8_t *events, size_t len, uint32_t ext_index,
                            chain_outcome *out, char *err, size_t errlen);

/* Maps a dispatch error to the short reason: kind is the DispatchError variant
 * name ("Module", "Token", "Arithmetic", ...), inner the inner name (module error
 * variant, token error) or "". */
const char *chain_dispatch_reason(const char *kind, const char *pallet, const char *inner);
#endif
