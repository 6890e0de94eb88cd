/* The bridge from settlement records to the outbox that pays (settlement/outbox,
 * issue 5). Until the outbox is wired in, intents are kept in g1s.intents with
 * the same idempotency key (the settlement's d), so every rule and the atomicity
 * of "event + intent" can be exercised; they stay `pending`. */
#include "settle.h"
#include <string.h>

typedef struct {
    uint8_t state; /* settle_status */
    uint8_t pad[7];
    uint8_t payer[32], from[32], to[32];
    uint64_t amount;
} intent_rec;

int settle_intent_add(MDB_txn *txn, const uint8_t key[32], const uint8_t payer_pubkey[32],
                      const uint8_t from[32], const uint8_t to[32], uint64_t amount) {
    intent_rec r;
    memset(&r, 0, sizeof r);
    r.state = SETTLE_PENDING;
    memcpy(r.payer, payer_pubkey, 32);
    memcpy(r.from, from, 32);
    memcpy(r.to, to, 32);
    r.amount = amount;
    MDB_val k = {32, (void *)key}, v = {sizeof r, &r};
    int rc = mdb_put(txn, settle_dbs()->intents, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc; /* idempotent */
}

int settle_intent_cancel(MDB_txn *txn, const uint8_t key[32]) {
    MDB_val k = {32, (void *)key}, v;
    int rc = mdb_get(txn, settle_dbs()->intents, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return -1;
    if (v.mv_size != sizeof(intent_rec)) return -1;
    intent_rec r;
    memcpy(&r, v.mv_data, sizeof r);
    if (r.state != SETTLE_PENDING) return 0;
    r.state = SETTLE_CANCELLED;
    v.mv_data = &r;
    return mdb_put(txn, settle_dbs()->intents, &k, &v, 0) == 0 ? 1 : -1;
}

int settle_intent_get(MDB_txn *txn, const uint8_t key[32], settle_intent_info *info) {
    MDB_val k = {32, (void *)key}, v;
    int rc = mdb_get(txn, settle_dbs()->intents, &k, &v);
    if (rc) return rc;
    if (v.mv_size != sizeof(intent_rec)) return MDB_CORRUPTED;
    intent_rec r;
    memcpy(&r, v.mv_data, sizeof r);
    memset(info, 0, sizeof *info);
    info->status = (settle_status)r.state;
    return 0;
}
