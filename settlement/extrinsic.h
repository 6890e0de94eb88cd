/* Signed extrinsics (format v4) for Duniter v2s: calls Balances.transfer_keep_alive,
 * Utility.batch_all of transfers plus System.remark_with_event; ed25519
 * MultiSignature; immortal or mortal era; signed extensions encoded from the
 * runtime metadata's ordered list (an unknown extension refuses to sign).
 *
 *   extrinsic = Compact(len) ‖ 0x84 ‖ 0x00 signer32 ‖ 0x00 sig64 ‖ extra ‖ call
 *   signed payload = call ‖ extra ‖ additional, blake2b-256 of it if > 256 bytes
 *   hash = blake2b-256(extrinsic)
 *
 * Nothing here touches the network; pallet/call indices come from metadata. */
#ifndef G1_EXTRINSIC_H
#define G1_EXTRINSIC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "metadata.h"
#include "scale.h"

typedef struct {
    uint32_t spec_version;     /* state_getRuntimeVersion specVersion */
    uint32_t tx_version;       /* ... transactionVersion */
    uint8_t genesis_hash[32];
    bool mortal;               /* false: immortal era */
    uint32_t era_period;       /* mortal: power of two, 4..65536 */
    uint64_t era_block_number; /* mortal: the block the era starts at... */
    uint8_t era_block_hash[32];/* ...and its hash */
    uint64_t nonce;            /* account nonce (must fit the runtime's nonce type) */
    uint64_t tip;              /* centimes, usually 0 */
} extrinsic_params;

typedef struct {
    uint8_t dest[32];  /* account id */
    uint64_t amount;   /* centimes, > 0 */
} extrinsic_transfer;

/* Most transfers in one batch built here. */
#define EXTRINSIC_MAX_TRANSFERS 1000
/* Longest remark accepted. */
#define EXTRINSIC_MAX_REMARK 4096

/* Encodes the call: a single transfer_keep_alive when n == 1 and there is no
 * remark (remark == NULL), else Utility.batch_all(transfers…, remark_with_event).
 * Checks the call shapes against the metadata. Returns 0, or -1 with err. */
int extrinsic_encode_call(const metadata *md, const extrinsic_transfer *transfers, size_t n,
                          const uint8_t *remark, size_t remark_len, scale_buf *call,
                          char *err, size_t errlen);

/* Produces the detached ed25519 signature of msg; returns 0 on success. */
typedef int (*extrinsic_sign_fn)(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]);
/* extrinsic_sign_fn for a g1_keypair passed as ctx. */
int extrinsic_keypair_signer(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]);

/* Builds the signed payload (call ‖ extra ‖ additional, not yet hashed) and the
 * extra bytes, following the metadata's extension list. Returns 0, or -1 with
 * err (unknown extension named, bad parameters). */
int extrinsic_signing_payload(const metadata *md, const extrinsic_params *p, const uint8_t *call,
                              size_t call_len, scale_buf *payload, scale_buf *extra,
                              char *err, size_t errlen);

/* Signs and assembles the extrinsic into out (fresh, caller frees) and writes its
 * hash. Returns 0, or -1 with err; on failure out is left empty. */
int extrinsic_sign(const metadata *md, const extrinsic_params *p, const uint8_t *call, size_t call_len,
                   const uint8_t signer[32], extrinsic_sign_fn sign, void *sign_ctx,
                   scale_buf *out, uint8_t hash[32], char *err, size_t errlen);

/* Era encoding for a mortal period (power of two 4..65536) starting at block:
 * min(15, max(1, log2(P) - 1)) | ((block % P) / max(P >> 12, 1)) << 4, as u16. */
uint16_t extrinsic_mortal_era(uint32_t period, uint64_t block);
/* blake2b-256 */
void extrinsic_blake2_256(const uint8_t *data, size_t len, uint8_t out[32]);
#endif
