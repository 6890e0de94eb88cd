/* Pure decisions of the settlement engine, kept apart so they can be unit
 * tested: when a wallet's pending intents are ready to be signed, which of
 * them go into one extrinsic and how transfers to the same payee are summed,
 * the remark naming what is settled, and the mortal-era arithmetic that
 * proves an extrinsic can never be included any more. */
#ifndef G1_SETTLE_PLAN_H
#define G1_SETTLE_PLAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "extrinsic.h"
#include "outbox.h"

/* Last block number an extrinsic with a mortal era born at `birth` can be in. */
uint64_t plan_era_last_block(uint64_t birth, uint32_t period);
/* True when it provably never will be: the finalized head is past its last
 * block and every finalized block up to that last block was searched without
 * finding it (scanned = highest finalized block number searched). */
bool plan_era_expired(uint64_t birth, uint32_t period, uint64_t finalized, uint64_t scanned);
/* The mortal era period to use: the configured one (power of two, 4..65536),
 * lowered to 4096 at most (above it the runtime quantizes the birth block) and to
 * the largest power of two <= the chain's BlockHashCount. 0 if the configuration
 * is invalid. */
uint32_t plan_era_period(uint64_t configured, uint64_t block_hash_count);

/* What an extrinsic that expired unincluded means for its intents, given the
 * node's last answer to it (submit_kind_name): NULL = sign them again; else the
 * failure reason (the node refused it because the payer cannot pay the fees:
 * retrying the same payment would only repeat that). */
const char *plan_expired_failure(const char *last_answer);

/* Ready to sign: the batch is full, or the oldest intent waited the window,
 * or the first pending intent must settle alone. */
bool plan_ready(size_t count, uint64_t oldest_ms, uint64_t now_ms, uint64_t window_ms, size_t batch_max, bool head_solo);

typedef struct {
    size_t selected[OUTBOX_MAX_BATCH];   /* indices into the pending list */
    size_t selected_count;
    extrinsic_transfer transfers[OUTBOX_MAX_BATCH];
    size_t transfer_count;
} plan_batch_result;

/* Chooses the intents for one extrinsic from a wallet's pending list (arrival
 * order): a SOLO intent at the head goes alone; otherwise up to batch_max
 * non-SOLO intents in order, transfers to the same payee summed (unless the sum
 * would overflow). Returns the number selected (0 if none). */
size_t plan_batch(const outbox_intent *pending, size_t n, size_t batch_max, plan_batch_result *out);

/* Remark text for System.remark_with_event: "nostr:" + the keys joined by ","
 * when that fits in 1024 bytes, else "nostr:sha256:" + hex sha256 of the
 * joined keys. Returns the length written (out >= 1100 bytes). */
size_t plan_remark(const char (*keys)[OUTBOX_MAX_KEY + 1], size_t n, char *out, size_t outlen);
#endif
