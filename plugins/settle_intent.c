/* The bridge from settlement records to the outbox that pays (settlement/outbox.h):
 * the intent of a settlement is keyed by the hex of its d (reaction id or payment
 * request id), paid from the payer's station wallet. */
#include "settle.h"
#include "hex.h"
#include "log.h"
#include "outbox.h"
#include <stdio.h>
#include <string.h>

static void key_of(const uint8_t d[32], char key[65]) { hex_encode(d, 32, key); }

int settle_intent_add(MDB_txn *txn, const uint8_t key[32], const uint8_t payer_pubkey[32],
                      const uint8_t from[32], const uint8_t to[32], uint64_t amount) {
    (void)from;
    char k[65], err[200];
    key_of(key, k);
    int rc = outbox_add_intent(settle_outbox(), txn, k, 64, payer_pubkey, to, amount, (const uint8_t *)k, 64, err,
                               sizeof err);
    if (rc == OUTBOX_ADDED || rc == OUTBOX_EXISTS) return 0;
    log_error("settlement: intent %s: %s", k, rc == OUTBOX_CONFLICT ? "conflicts with another payment" : err);
    return MDB_CORRUPTED;
}

int settle_intent_cancel(MDB_txn *txn, const uint8_t key[32]) {
    char k[65];
    key_of(key, k);
    int rc = outbox_cancel(settle_outbox(), txn, k, 64, "deleted");
    if (rc == 0) return 1;
    if (rc == 1 || rc == MDB_NOTFOUND) return 0;
    return -1;
}

int settle_intent_get(MDB_txn *txn, const uint8_t key[32], settle_intent_info *info) {
    char k[65];
    key_of(key, k);
    outbox_intent it;
    int rc = outbox_get(settle_outbox(), txn, k, 64, &it);
    if (rc) return rc;
    memset(info, 0, sizeof *info);
    switch (it.state) {
    case OUTBOX_PENDING: info->status = SETTLE_PENDING; break;
    /* "submitted" in PROTOCOL.md's sense starts at the durable signed record: from
     * that commit on the engine may send the bytes at any moment (and after a crash
     * cannot prove it did not), so a deletion no longer cancels (outbox_cancel only
     * takes pending intents). The receipt says so at once, with the tx hash. */
    case OUTBOX_SIGNED:
    case OUTBOX_SUBMITTED: info->status = SETTLE_SUBMITTED; break;
    case OUTBOX_INCLUDED: info->status = SETTLE_INCLUDED; break;
    case OUTBOX_FINALIZED: info->status = SETTLE_FINALIZED; break;
    case OUTBOX_FAILED: info->status = SETTLE_FAILED; break;
    case OUTBOX_CANCELLED: info->status = SETTLE_CANCELLED; break;
    default: info->status = SETTLE_PENDING; break;
    }
    snprintf(info->reason, sizeof info->reason, "%s", it.reason);
    static const uint8_t zero[32];
    /* a tx only once an extrinsic was signed for it (an intent failed before
     * signing, e.g. no-wallet, names none) */
    if (info->status != SETTLE_PENDING && info->status != SETTLE_CANCELLED && memcmp(it.tx_hash, zero, 32) != 0) {
        info->has_tx = true;
        memcpy(info->tx, it.tx_hash, 32);
    }
    if (info->status == SETTLE_INCLUDED || info->status == SETTLE_FINALIZED) {
        info->has_block = true;
        info->block_num = it.block_number;
        memcpy(info->block_hash, it.block_hash, 32);
    }
    return 0;
}
