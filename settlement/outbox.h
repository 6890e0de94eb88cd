/* The settlement outbox: payment intents and the signed extrinsics that settle
 * them, kept in LMDB named databases of the relay's environment so that an
 * intent can be created in the same write transaction as the event causing it.
 *
 * Intent: keyed by an idempotency key (the causing event id, or the key given
 * to `g1relay pay`); adding the same key again changes nothing. States:
 *
 *   pending → signed → submitted → included → finalized
 *           ↘ cancelled (only while pending)      ↘ failed (reason)
 *
 * Each state records when it was entered (ms since the epoch). An intent
 * returns from signed/submitted/included to pending only when the engine has
 * proven that its extrinsic can never be included (era expired, or a failed
 * batch split into single transfers).
 *
 * Extrinsic: the exact signed bytes, hash, nonce and mortal era, written and
 * committed BEFORE anything is sent, so a restart re-sends the same bytes.
 * Each wallet (payer Nostr pubkey) has at most one extrinsic in flight.
 *
 * Databases: settlement.intents (key → intent), settlement.queue (wallet ‖
 * seq → key, pending intents in arrival order), settlement.extrinsics (id →
 * extrinsic), settlement.wallets (wallet → in-flight extrinsic id),
 * settlement.meta (counters). */
#ifndef G1_OUTBOX_H
#define G1_OUTBOX_H
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

typedef struct outbox outbox;

#define OUTBOX_MAX_KEY 128
#define OUTBOX_MAX_MEMO 256
#define OUTBOX_MAX_REASON 63
/* Most intents one extrinsic settles. */
#define OUTBOX_MAX_BATCH 500

typedef enum {
    OUTBOX_PENDING = 0,
    OUTBOX_SIGNED,
    OUTBOX_SUBMITTED,
    OUTBOX_INCLUDED,
    OUTBOX_FINALIZED,
    OUTBOX_FAILED,
    OUTBOX_CANCELLED,
    OUTBOX_STATE_COUNT
} outbox_state;

/* Intent flags */
#define OUTBOX_FLAG_SOLO 1u  /* settle alone (its batch failed once) */

typedef struct {
    char key[OUTBOX_MAX_KEY + 1];
    size_t key_len;
    outbox_state state;
    uint8_t flags;
    uint8_t from[32];        /* payer: Nostr pubkey of the wallet in the keystore */
    uint8_t to[32];          /* payee account id */
    uint64_t amount;         /* centimes */
    uint64_t seq;            /* arrival order */
    uint64_t ext_id;         /* extrinsic settling it (0 = none yet) */
    uint64_t ts[OUTBOX_STATE_COUNT]; /* ms when each state was (last) entered, 0 = never; ts[pending] = creation */
    uint64_t updated_ms;
    uint8_t tx_hash[32];     /* from signed on */
    uint64_t block_number;   /* from included on */
    uint8_t block_hash[32];
    char reason[OUTBOX_MAX_REASON + 1];
    uint8_t memo[OUTBOX_MAX_MEMO];
    size_t memo_len;
} outbox_intent;

typedef enum {
    EXT_SIGNED = 0,  /* durable, maybe not sent yet */
    EXT_SUBMITTED,   /* a node accepted it (or said it knows it) at least once */
    EXT_INCLUDED,    /* seen in a best-chain block */
    EXT_FINALIZED,   /* in a finalized block, dispatch succeeded */
    EXT_FAILED,      /* in a finalized block, dispatch failed (nothing moved); or expired
                        unincluded after the node refused it for fees (block_number 0) */
    EXT_EXPIRED,     /* era over without inclusion: provably never included */
    EXT_STATE_COUNT
} outbox_ext_state;

typedef struct {
    uint64_t id;
    outbox_ext_state state;
    uint8_t from[32];        /* wallet (Nostr pubkey) */
    uint8_t signer[32];      /* account id */
    uint64_t nonce;
    uint64_t era_birth;      /* block number the mortal era starts at */
    uint32_t era_period;
    uint8_t birth_hash[32];
    uint8_t hash[32];        /* blake2b-256 of bytes */
    uint32_t spec_version;
    uint64_t signed_ms, last_submit_ms;
    uint32_t submit_count;
    uint64_t block_number;   /* included/finalized */
    uint8_t block_hash[32];
    uint32_t ext_index;
    char reason[OUTBOX_MAX_REASON + 1];
    size_t intent_count;
    char (*keys)[OUTBOX_MAX_KEY + 1]; /* intent keys (owned; outbox_ext_free) */
    uint8_t *bytes;          /* the signed extrinsic (owned) */
    size_t bytes_len;
} outbox_ext;

/* Opens or creates the databases (at start-up, before other threads use the
 * store). Several handles on one store are fine. */
int outbox_open(store *st, outbox **out, char *err, size_t errlen);
void outbox_close(outbox *ob);
MDB_env *outbox_env(outbox *ob);

const char *outbox_state_name(outbox_state s);
/* -1 if unknown */
int outbox_state_parse(const char *name);
const char *outbox_ext_state_name(outbox_ext_state s);
bool outbox_state_is_final(outbox_state s);

/* Validates an idempotency key: 1..OUTBOX_MAX_KEY printable ASCII bytes without
 * spaces or commas. */
bool outbox_key_valid(const char *key, size_t len);

enum { OUTBOX_ADDED = 0, OUTBOX_EXISTS = 1, OUTBOX_CONFLICT = -2, OUTBOX_ERROR = -1 };
/* Adds a pending intent inside txn (e.g. the writer's transaction). Returns
 * OUTBOX_ADDED, OUTBOX_EXISTS (same key with the same payer, payee and amount:
 * nothing changes), OUTBOX_CONFLICT (same key, different payment), or
 * OUTBOX_ERROR with err. amount > 0. After the commit, call engine_wake() if an
 * engine runs in this process (others poll). */
int outbox_add_intent(outbox *ob, MDB_txn *txn, const char *key, size_t key_len, const uint8_t from_wallet[32],
                      const uint8_t to_account[32], uint64_t amount, const uint8_t *memo, size_t memo_len,
                      char *err, size_t errlen);
/* Cancels a pending intent (e.g. its reaction was deleted). 0 cancelled, 1 too
 * late (already signed or final), MDB_NOTFOUND, or an LMDB error. */
int outbox_cancel(outbox *ob, MDB_txn *txn, const char *key, size_t key_len, const char *reason);
/* 0, MDB_NOTFOUND or an LMDB error. */
int outbox_get(outbox *ob, MDB_txn *txn, const char *key, size_t key_len, outbox_intent *out);
/* Calls fn for every intent (state_filter < 0) or those in one state, in key
 * order; fn returns non-zero to stop. Returns 0 or an LMDB error. */
int outbox_list(outbox *ob, MDB_txn *txn, int state_filter, int (*fn)(void *ctx, const outbox_intent *it), void *ctx);

/* ---- for the engine (one engine per data directory, see engine.h) ---- */

/* Pending intents of one wallet in arrival order, at most max. Returns the
 * count (>= 0) or -1. */
int outbox_wallet_pending(outbox *ob, MDB_txn *txn, const uint8_t wallet[32], outbox_intent *out, size_t max);
/* Wallets that have pending intents: fn(wallet, oldest created ms, count capped at cap). */
int outbox_pending_wallets(outbox *ob, MDB_txn *txn, size_t cap,
                           void (*fn)(void *ctx, const uint8_t wallet[32], uint64_t oldest_ms, size_t count), void *ctx);
/* The wallet's in-flight extrinsic id (0 = none). */
uint64_t outbox_wallet_inflight(outbox *ob, MDB_txn *txn, const uint8_t wallet[32]);
/* Every in-flight extrinsic id, fn(id). */
int outbox_inflight_each(outbox *ob, MDB_txn *txn, void (*fn)(void *ctx, uint64_t ext_id), void *ctx);

/* Records a new signed extrinsic for ext->from settling the intents named in
 * ext->keys (which must be pending): assigns ext->id, moves the intents to
 * signed (tx hash set) and out of the queue, marks the wallet in flight. */
int outbox_ext_create(outbox *ob, MDB_txn *txn, outbox_ext *ext, uint64_t now_ms, char *err, size_t errlen);
/* 0, MDB_NOTFOUND, or an error. ext must be freed with outbox_ext_free. */
int outbox_ext_get(outbox *ob, MDB_txn *txn, uint64_t id, outbox_ext *ext);
void outbox_ext_free(outbox_ext *ext);
/* Writes ext back and moves its intents to the matching state:
 *   EXT_SUBMITTED → submitted, EXT_INCLUDED → included (block),
 *   EXT_FINALIZED → finalized (block), wallet no longer in flight,
 *   EXT_FAILED → failed with ext->reason when the extrinsic settled one
 *     transfer group; when it grouped several payees the intents go back to
 *     pending flagged SOLO (nothing moved: batch_all is atomic),
 *   EXT_EXPIRED → pending again (re-signed later with a new nonce).
 * changed_keys (optional) receives the keys whose state changed; returns how
 * many, or -1. */
int outbox_ext_update(outbox *ob, MDB_txn *txn, outbox_ext *ext, uint64_t now_ms, size_t *changed);
/* Fails the pending intents of a wallet (e.g. no wallet in the keystore, or
 * the account does not exist) with reason. Returns how many, or -1. */
int outbox_fail_pending(outbox *ob, MDB_txn *txn, const uint8_t wallet[32], const char *reason, uint64_t now_ms);
#endif
