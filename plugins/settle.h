/* Shared settlement state of the `reactions` and `orders` plugins (PROTOCOL.md §A–C):
 * the station (key, keystore, money settings), the settlement records kept in the
 * relay's LMDB environment, the receipts (kind 39743) published at each status change,
 * payee address resolution, and the bridge to the outbox that pays.
 *
 * Every decision is taken inside the writer's transaction of the event that
 * completes it (a plugin's `committed` hook), so a settlement record, its intent and
 * its event commit or vanish together. Receipts are published afterwards by a
 * publisher thread through the writer (so they are stored and broadcast like any
 * event); which receipt versions still have to be published is itself durable
 * (g1s.outq, g1s.active), so a crash only delays a receipt.
 *
 * Named databases (all written inside the writer's transaction):
 *   g1s.settle        d[32] -> settle_record          (d = reaction id or request id)
 *   g1s.outq          d[32] -> ""   the record's status has no committed receipt yet
 *   g1s.active        d[32] -> ""   published, not final: follows the outbox
 *   g1s.reacted       reactor[32] ‖ target[32] -> reaction id[32]  (once per target)
 *   g1s.daily         payer[32] ‖ t_eff be64 ‖ reaction id[32] -> amount u64
 *   g1s.req_by_order  order id[32] ‖ request id[32] -> ""   (requests seen before their order)
 *   g1s.auth_by_req   request id[32] ‖ authorisation id[32] -> ""
 */
#ifndef G1_SETTLE_H
#define G1_SETTLE_H
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "event.h"
#include "outbox.h"
#include "store.h"

#define SETTLE_RECEIPT_KIND 39743u

typedef enum {
    SETTLE_NONE = 0,
    SETTLE_PENDING,
    SETTLE_SUBMITTED,
    SETTLE_INCLUDED,
    SETTLE_FINALIZED,
    SETTLE_FAILED,
    SETTLE_CANCELLED,
    SETTLE_DUPLICATE,
    SETTLE_REFUSED,
} settle_status;

const char *settle_status_name(settle_status s);
settle_status settle_status_parse(const char *s, size_t len);
bool settle_status_final(settle_status s);

enum { SETTLE_ORIGIN_REACTION = 1, SETTLE_ORIGIN_ORDER = 2 };

#define SETTLE_MAX_E 3
#define SETTLE_REASON_MAX 64
#define SETTLE_RECORD_FORMAT 1

/* One settlement (stored as is, host byte order). */
typedef struct {
    uint8_t format;            /* SETTLE_RECORD_FORMAT */
    uint8_t origin;            /* SETTLE_ORIGIN_* */
    uint8_t status;            /* latest known status (settle_status) */
    uint8_t published;         /* status of the newest committed receipt (SETTLE_NONE: none) */
    uint8_t e_count;
    uint8_t has_from, has_to, has_payee, has_tx, has_block;
    uint8_t pad[6];
    char reason[SETTLE_REASON_MAX]; /* NUL-terminated machine word, "" if none */
    uint8_t e[SETTLE_MAX_E][32];
    uint8_t payer[32], payee[32];
    uint8_t from[32], to[32];  /* account ids */
    uint64_t amount;           /* centimes */
    int64_t t_eff;             /* reactions: time counted in the payer's daily window */
    int64_t last_receipt_at;   /* created_at of the newest committed receipt */
    uint8_t tx[32];
    uint64_t block_num;
    uint8_t block_hash[32];
} settle_record;

/* ---- the station service (one per process, shared by the plugins) ---- */

/* Opens the service once (refcounted): reads the money settings, opens the
 * keystore (passphrase_file or G1RELAY_PASSPHRASE; created if absent), creates the
 * station key on first run, opens the named databases. Call from plugin init. */
int settle_service_open(const config *cfg, store *s, char *err, size_t errlen);
void settle_service_close(void);
bool settle_service_active(void);

struct relay_ctx;
/* Starts the receipt publisher on the running relay (after writer_start); does
 * nothing when no settlement plugin is enabled. detach stops it (before writer_stop). */
void settle_service_attach(struct relay_ctx *ctx);
void settle_service_detach(void);
/* Wakes the publisher (e.g. from the outbox's status-change callback). Any thread. */
void settle_service_wake(void);
/* engine_status_fn for the settlement engine: an intent changed state, publish its receipt. */
void settle_on_intent_status(void *ctx, const outbox_intent *it);

struct keystore;
/* The station key of a keystore, created (and saved) when it has none. sk must be
 * guarded memory; *created (may be NULL) tells whether it was made now. */
int settle_station_key_ensure(struct keystore *ks, uint8_t sk[32], uint8_t pk[32], bool *created, char *err,
                              size_t errlen);

/* The station's Nostr public key; false when the service is not open. */
bool settle_station_pubkey(uint8_t out[32]);

typedef struct {
    int64_t zen_centimes;
    int64_t max_zen_per_reaction;
    int64_t daily_limit_centimes;
    uint16_t ss58_prefix;
} settle_settings;
const settle_settings *settle_settings_get(void);

typedef struct {
    MDB_dbi settle, outq, active, reacted, daily, req_by_order, auth_by_req;
} settle_dbis;
const settle_dbis *settle_dbs(void);
store *settle_store(void);
struct outbox;
struct outbox *settle_outbox(void);

/* Account of the station wallet bound to a Nostr pubkey. 0 found, -1 none. */
int settle_wallet_of(const uint8_t pubkey[32], uint8_t account[32]);

/* ---- records (inside a write transaction unless said otherwise) ---- */

/* 0 found, MDB_NOTFOUND, or an LMDB error. */
int settle_record_get(MDB_txn *txn, const uint8_t d[32], settle_record *out);
/* Writes the record and queues its receipt (g1s.outq). For status PENDING also adds
 * the intent to the outbox (idempotency key d). Returns 0 or an LMDB error. */
int settle_record_create(MDB_txn *txn, const uint8_t d[32], settle_record *rec);
/* Changes the status of an existing record and queues its receipt. */
int settle_record_set_status(MDB_txn *txn, const uint8_t d[32], settle_status st, const char *reason);

/* committed hook part for kind 39743 events of the station: marks that receipt
 * version as published. Safe to call for any event (ignores the others). */
int settle_receipt_committed(MDB_txn *txn, const event *ev);

/* Payee address of a pubkey (PROTOCOL "Who can be paid"): station wallet, else
 * g1v2 of its newest kind 0, else g1pub. 0 found, -1 none. */
int settle_payee_address(MDB_txn *txn, const uint8_t pubkey[32], uint8_t account[32]);

/* Reads a stored event by id inside txn into ev (trusted parse). 0, MDB_NOTFOUND, or error. */
int settle_load_event(MDB_txn *txn, const uint8_t id[32], event *ev);

/* ---- intents (the bridge to the outbox) ---- */

typedef struct {
    settle_status status;      /* mapped onto receipt statuses */
    char reason[SETTLE_REASON_MAX];
    bool has_tx, has_block;
    uint8_t tx[32];
    uint64_t block_num;
    uint8_t block_hash[32];
} settle_intent_info;

int settle_intent_add(MDB_txn *txn, const uint8_t key[32], const uint8_t payer_pubkey[32],
                      const uint8_t from[32], const uint8_t to[32], uint64_t amount);
/* 1 cancelled, 0 too late (already submitted) or unknown, <0 error. */
int settle_intent_cancel(MDB_txn *txn, const uint8_t key[32]);
/* 0 with info, MDB_NOTFOUND, or an error. Any transaction. */
int settle_intent_get(MDB_txn *txn, const uint8_t key[32], settle_intent_info *info);

/* True while settle_rebuild replays the log: decisions are taken, no intent is added. */
extern bool settle_replaying;

/* ---- the plugins' hooks, also used to replay the log (settle_rebuild) ---- */
int reactions_apply(MDB_txn *txn, const event *ev);
int orders_apply(MDB_txn *txn, const event *ev);

/* Replays the stored event log of the environment in data_dir into fresh
 * settlement state (in a compacted copy under work_dir) and compares it with the
 * live records. Prints a report to out; returns 0 when they agree, 1 when they
 * differ, -1 on error (err). */
#include <stdio.h>
int settle_rebuild_compare(const char *data_dir, const char *work_dir, const config *cfg, FILE *out,
                           char *err, size_t errlen);
#endif
