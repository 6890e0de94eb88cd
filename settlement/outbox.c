/* Outbox records in LMDB: versioned little-endian encodings of intents and
 * extrinsics, the pending queue, per-wallet in-flight markers and counters,
 * and the state transitions of outbox.h. Every decoder checks lengths. */
#include "outbox.h"
#include "scale.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INTENT_VERSION 1
#define EXT_VERSION 1

struct outbox {
    store *st;
    MDB_dbi intents, queue, exts, wallets, meta;
};

static const char *const state_names[OUTBOX_STATE_COUNT] = {"pending", "signed", "submitted", "included",
                                                             "finalized", "failed", "cancelled"};
static const char *const ext_state_names[EXT_STATE_COUNT] = {"signed", "submitted", "included",
                                                             "finalized", "failed", "expired"};

const char *outbox_state_name(outbox_state s) { return (unsigned)s < OUTBOX_STATE_COUNT ? state_names[s] : "?"; }
const char *outbox_ext_state_name(outbox_ext_state s) { return (unsigned)s < EXT_STATE_COUNT ? ext_state_names[s] : "?"; }

int outbox_state_parse(const char *name) {
    for (int i = 0; i < OUTBOX_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

bool outbox_state_is_final(outbox_state s) { return s == OUTBOX_FINALIZED || s == OUTBOX_FAILED || s == OUTBOX_CANCELLED; }

bool outbox_key_valid(const char *key, size_t len) {
    if (len == 0 || len > OUTBOX_MAX_KEY) return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] <= ' ' || key[i] > '~' || key[i] == ',') return false;
    return true;
}

int outbox_open(store *st, outbox **out, char *err, size_t errlen) {
    outbox *ob = calloc(1, sizeof *ob);
    if (!ob) { snprintf(err, errlen, "out of memory"); return -1; }
    ob->st = st;
    struct { const char *name; MDB_dbi *dbi; } dbs[] = {
        {"settlement.intents", &ob->intents}, {"settlement.queue", &ob->queue}, {"settlement.extrinsics", &ob->exts},
        {"settlement.wallets", &ob->wallets}, {"settlement.meta", &ob->meta}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = store_open_dbi(st, dbs[i].name, 0, dbs[i].dbi);
        if (rc) {
            snprintf(err, errlen, "outbox: cannot open %s: %s", dbs[i].name, mdb_strerror(rc));
            free(ob);
            return -1;
        }
    }
    *out = ob;
    return 0;
}

void outbox_close(outbox *ob) { free(ob); }
MDB_env *outbox_env(outbox *ob) { return store_env(ob->st); }

/* ---- encoding ---- */

static void put_fixed(scale_buf *b, const void *p, size_t n) { scale_put_raw(b, p, n); }

static void intent_encode(const outbox_intent *it, scale_buf *b) {
    scale_put_u8(b, INTENT_VERSION);
    scale_put_u8(b, (uint8_t)it->state);
    scale_put_u8(b, it->flags);
    put_fixed(b, it->from, 32);
    put_fixed(b, it->to, 32);
    scale_put_u64(b, it->amount);
    scale_put_u64(b, it->seq);
    scale_put_u64(b, it->ext_id);
    for (int i = 0; i < OUTBOX_STATE_COUNT; i++) scale_put_u64(b, it->ts[i]);
    scale_put_u64(b, it->updated_ms);
    put_fixed(b, it->tx_hash, 32);
    scale_put_u64(b, it->block_number);
    put_fixed(b, it->block_hash, 32);
    scale_put_bytes(b, it->reason, strlen(it->reason));
    scale_put_bytes(b, it->memo, it->memo_len);
}

static bool intent_decode(const MDB_val *k, const MDB_val *v, outbox_intent *it) {
    memset(it, 0, sizeof *it);
    if (k->mv_size == 0 || k->mv_size > OUTBOX_MAX_KEY) return false;
    memcpy(it->key, k->mv_data, k->mv_size);
    it->key[k->mv_size] = 0;
    it->key_len = k->mv_size;
    scale_reader r;
    scale_reader_init(&r, v->mv_data, v->mv_size);
    uint8_t ver, state;
    const uint8_t *p;
    size_t n;
    if (!scale_read_u8(&r, &ver) || ver != INTENT_VERSION || !scale_read_u8(&r, &state) || state >= OUTBOX_STATE_COUNT) return false;
    it->state = (outbox_state)state;
    scale_read_u8(&r, &it->flags);
    scale_read_raw(&r, it->from, 32);
    scale_read_raw(&r, it->to, 32);
    scale_read_u64(&r, &it->amount);
    scale_read_u64(&r, &it->seq);
    scale_read_u64(&r, &it->ext_id);
    for (int i = 0; i < OUTBOX_STATE_COUNT; i++) scale_read_u64(&r, &it->ts[i]);
    scale_read_u64(&r, &it->updated_ms);
    scale_read_raw(&r, it->tx_hash, 32);
    scale_read_u64(&r, &it->block_number);
    scale_read_raw(&r, it->block_hash, 32);
    if (!scale_read_bytes_view(&r, &p, &n, OUTBOX_MAX_REASON)) return false;
    memcpy(it->reason, p, n);
    it->reason[n] = 0;
    if (!scale_read_bytes_view(&r, &p, &n, OUTBOX_MAX_MEMO)) return false;
    memcpy(it->memo, p, n);
    it->memo_len = n;
    return !r.failed && scale_remaining(&r) == 0;
}

static int intent_put(outbox *ob, MDB_txn *txn, const outbox_intent *it) {
    scale_buf b;
    scale_buf_init(&b);
    intent_encode(it, &b);
    if (b.failed) { scale_buf_free(&b); return ENOMEM; }
    MDB_val k = {it->key_len, (void *)it->key}, v = {b.len, b.data};
    int rc = mdb_put(txn, ob->intents, &k, &v, 0);
    scale_buf_free(&b);
    return rc;
}

int outbox_get(outbox *ob, MDB_txn *txn, const char *key, size_t key_len, outbox_intent *out) {
    if (key_len == 0 || key_len > OUTBOX_MAX_KEY) return MDB_NOTFOUND;
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, ob->intents, &k, &v);
    if (rc) return rc;
    return intent_decode(&k, &v, out) ? 0 : MDB_CORRUPTED;
}

static void queue_key(uint8_t out[40], const uint8_t wallet[32], uint64_t seq) {
    memcpy(out, wallet, 32);
    for (int i = 0; i < 8; i++) out[32 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static int queue_put(outbox *ob, MDB_txn *txn, const outbox_intent *it) {
    uint8_t qk[40];
    queue_key(qk, it->from, it->seq);
    MDB_val k = {40, qk}, v = {it->key_len, (void *)it->key};
    return mdb_put(txn, ob->queue, &k, &v, 0);
}

static int queue_del(outbox *ob, MDB_txn *txn, const outbox_intent *it) {
    uint8_t qk[40];
    queue_key(qk, it->from, it->seq);
    MDB_val k = {40, qk};
    int rc = mdb_del(txn, ob->queue, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int counter_next(outbox *ob, MDB_txn *txn, const char *name, uint64_t *out) {
    MDB_val k = {strlen(name), (void *)name}, v;
    uint64_t next = 1;
    int rc = mdb_get(txn, ob->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8) memcpy(&next, v.mv_data, 8);
    else if (rc && rc != MDB_NOTFOUND) return rc;
    *out = next;
    next++;
    v.mv_size = 8;
    v.mv_data = &next;
    return mdb_put(txn, ob->meta, &k, &v, 0);
}

/* ts[PENDING] keeps the creation time; the others the last entry. */
static void set_state(outbox_intent *it, outbox_state s, uint64_t now) {
    it->state = s;
    if (s != OUTBOX_PENDING || !it->ts[s]) it->ts[s] = now;
    it->updated_ms = now;
}

/* ---- public intent operations ---- */

int outbox_add_intent(outbox *ob, MDB_txn *txn, const char *key, size_t key_len, const uint8_t from_wallet[32],
                      const uint8_t to_account[32], uint64_t amount, const uint8_t *memo, size_t memo_len,
                      char *err, size_t errlen) {
    if (!outbox_key_valid(key, key_len)) { snprintf(err, errlen, "invalid idempotency key (1..%d printable characters, no spaces or commas)", OUTBOX_MAX_KEY); return OUTBOX_ERROR; }
    if (amount == 0) { snprintf(err, errlen, "amount must be positive"); return OUTBOX_ERROR; }
    if (memo_len > OUTBOX_MAX_MEMO) { snprintf(err, errlen, "memo longer than %d bytes", OUTBOX_MAX_MEMO); return OUTBOX_ERROR; }
    outbox_intent it;
    int rc = outbox_get(ob, txn, key, key_len, &it);
    if (rc == 0) {
        if (memcmp(it.from, from_wallet, 32) == 0 && memcmp(it.to, to_account, 32) == 0 && it.amount == amount) return OUTBOX_EXISTS;
        snprintf(err, errlen, "key %.*s is already used by a different payment", (int)key_len, key);
        return OUTBOX_CONFLICT;
    }
    if (rc != MDB_NOTFOUND) { snprintf(err, errlen, "outbox: %s", mdb_strerror(rc)); return OUTBOX_ERROR; }
    memset(&it, 0, sizeof it);
    memcpy(it.key, key, key_len);
    it.key_len = key_len;
    memcpy(it.from, from_wallet, 32);
    memcpy(it.to, to_account, 32);
    it.amount = amount;
    if (memo_len) memcpy(it.memo, memo, memo_len);
    it.memo_len = memo_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    set_state(&it, OUTBOX_PENDING, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    if ((rc = counter_next(ob, txn, "seq", &it.seq)) || (rc = intent_put(ob, txn, &it)) || (rc = queue_put(ob, txn, &it))) {
        snprintf(err, errlen, "outbox: %s", mdb_strerror(rc));
        return OUTBOX_ERROR;
    }
    return OUTBOX_ADDED;
}

int outbox_cancel(outbox *ob, MDB_txn *txn, const char *key, size_t key_len, const char *reason) {
    outbox_intent it;
    int rc = outbox_get(ob, txn, key, key_len, &it);
    if (rc) return rc;
    if (it.state != OUTBOX_PENDING) return 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    set_state(&it, OUTBOX_CANCELLED, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
    snprintf(it.reason, sizeof it.reason, "%s", reason ? reason : "cancelled");
    if ((rc = queue_del(ob, txn, &it)) || (rc = intent_put(ob, txn, &it))) return rc;
    return 0;
}

int outbox_list(outbox *ob, MDB_txn *txn, int state_filter, int (*fn)(void *ctx, const outbox_intent *it), void *ctx) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ob->intents, &c);
    if (rc) return rc;
    MDB_val k, v;
    outbox_intent *it = malloc(sizeof *it);
    if (!it) { mdb_cursor_close(c); return ENOMEM; }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!intent_decode(&k, &v, it)) continue;
        if (state_filter >= 0 && (int)it->state != state_filter) continue;
        if (fn(ctx, it)) break;
    }
    free(it);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* ---- engine side ---- */

int outbox_wallet_pending(outbox *ob, MDB_txn *txn, const uint8_t wallet[32], outbox_intent *out, size_t max) {
    MDB_cursor *c;
    if (mdb_cursor_open(txn, ob->queue, &c)) return -1;
    uint8_t qk[40];
    queue_key(qk, wallet, 0);
    MDB_val k = {40, qk}, v;
    size_t n = 0;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < max && k.mv_size == 40 && memcmp(k.mv_data, wallet, 32) == 0) {
        if (outbox_get(ob, txn, v.mv_data, v.mv_size, &out[n]) == 0 && out[n].state == OUTBOX_PENDING) n++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return (int)n;
}

int outbox_pending_wallets(outbox *ob, MDB_txn *txn, size_t cap,
                           void (*fn)(void *ctx, const uint8_t wallet[32], uint64_t oldest_ms, size_t count), void *ctx) {
    MDB_cursor *c;
    if (mdb_cursor_open(txn, ob->queue, &c)) return -1;
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 40) { rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); continue; }
        uint8_t wallet[32];
        memcpy(wallet, k.mv_data, 32);
        outbox_intent first;
        uint64_t oldest = 0;
        if (outbox_get(ob, txn, v.mv_data, v.mv_size, &first) == 0) oldest = first.ts[OUTBOX_PENDING];
        size_t count = 0;
        while (rc == 0 && k.mv_size == 40 && memcmp(k.mv_data, wallet, 32) == 0) {
            if (count < cap) count++;
            else {
                /* jump to the next wallet */
                uint8_t next[40];
                queue_key(next, wallet, UINT64_MAX);
                k.mv_size = 40;
                k.mv_data = next;
                rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
                if (rc == 0 && k.mv_size == 40 && memcmp(k.mv_data, next, 40) == 0) rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
                break;
            }
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        fn(ctx, wallet, oldest, count);
    }
    mdb_cursor_close(c);
    return 0;
}

uint64_t outbox_wallet_inflight(outbox *ob, MDB_txn *txn, const uint8_t wallet[32]) {
    MDB_val k = {32, (void *)wallet}, v;
    uint64_t id = 0;
    if (mdb_get(txn, ob->wallets, &k, &v) == 0 && v.mv_size == 8) memcpy(&id, v.mv_data, 8);
    return id;
}

static int wallet_set_inflight(outbox *ob, MDB_txn *txn, const uint8_t wallet[32], uint64_t id) {
    MDB_val k = {32, (void *)wallet}, v = {8, &id};
    if (id == 0) {
        int rc = mdb_del(txn, ob->wallets, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return mdb_put(txn, ob->wallets, &k, &v, 0);
}

int outbox_inflight_each(outbox *ob, MDB_txn *txn, void (*fn)(void *ctx, uint64_t ext_id), void *ctx) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ob->wallets, &c);
    if (rc) return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t id = 0;
        if (v.mv_size == 8) memcpy(&id, v.mv_data, 8);
        if (id) fn(ctx, id);
    }
    mdb_cursor_close(c);
    return 0;
}

static void ext_key(uint8_t out[8], uint64_t id) {
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(id >> (56 - 8 * i));
}

static int ext_put(outbox *ob, MDB_txn *txn, const outbox_ext *e) {
    scale_buf b;
    scale_buf_init(&b);
    scale_put_u8(&b, EXT_VERSION);
    scale_put_u8(&b, (uint8_t)e->state);
    put_fixed(&b, e->from, 32);
    put_fixed(&b, e->signer, 32);
    scale_put_u64(&b, e->nonce);
    scale_put_u64(&b, e->era_birth);
    scale_put_u32(&b, e->era_period);
    put_fixed(&b, e->birth_hash, 32);
    put_fixed(&b, e->hash, 32);
    scale_put_u32(&b, e->spec_version);
    scale_put_u64(&b, e->signed_ms);
    scale_put_u64(&b, e->last_submit_ms);
    scale_put_u32(&b, e->submit_count);
    scale_put_u64(&b, e->block_number);
    put_fixed(&b, e->block_hash, 32);
    scale_put_u32(&b, e->ext_index);
    scale_put_bytes(&b, e->reason, strlen(e->reason));
    scale_put_compact(&b, e->intent_count);
    for (size_t i = 0; i < e->intent_count; i++) scale_put_bytes(&b, e->keys[i], strlen(e->keys[i]));
    scale_put_bytes(&b, e->bytes, e->bytes_len);
    if (b.failed) { scale_buf_free(&b); return ENOMEM; }
    uint8_t kb[8];
    ext_key(kb, e->id);
    MDB_val k = {8, kb}, v = {b.len, b.data};
    int rc = mdb_put(txn, ob->exts, &k, &v, 0);
    scale_buf_free(&b);
    return rc;
}

void outbox_ext_free(outbox_ext *e) {
    if (!e) return;
    free(e->keys);
    free(e->bytes);
    e->keys = NULL;
    e->bytes = NULL;
}

int outbox_ext_get(outbox *ob, MDB_txn *txn, uint64_t id, outbox_ext *e) {
    memset(e, 0, sizeof *e);
    uint8_t kb[8];
    ext_key(kb, id);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, ob->exts, &k, &v);
    if (rc) return rc;
    scale_reader r;
    scale_reader_init(&r, v.mv_data, v.mv_size);
    uint8_t ver, state;
    const uint8_t *p;
    size_t n;
    e->id = id;
    if (!scale_read_u8(&r, &ver) || ver != EXT_VERSION || !scale_read_u8(&r, &state) || state >= EXT_STATE_COUNT) return MDB_CORRUPTED;
    e->state = (outbox_ext_state)state;
    scale_read_raw(&r, e->from, 32);
    scale_read_raw(&r, e->signer, 32);
    scale_read_u64(&r, &e->nonce);
    scale_read_u64(&r, &e->era_birth);
    scale_read_u32(&r, &e->era_period);
    scale_read_raw(&r, e->birth_hash, 32);
    scale_read_raw(&r, e->hash, 32);
    scale_read_u32(&r, &e->spec_version);
    scale_read_u64(&r, &e->signed_ms);
    scale_read_u64(&r, &e->last_submit_ms);
    scale_read_u32(&r, &e->submit_count);
    scale_read_u64(&r, &e->block_number);
    scale_read_raw(&r, e->block_hash, 32);
    scale_read_u32(&r, &e->ext_index);
    if (!scale_read_bytes_view(&r, &p, &n, OUTBOX_MAX_REASON)) return MDB_CORRUPTED;
    memcpy(e->reason, p, n);
    e->reason[n] = 0;
    if (!scale_read_length(&r, 2, OUTBOX_MAX_BATCH, &n)) return MDB_CORRUPTED;
    e->intent_count = n;
    e->keys = calloc(n ? n : 1, sizeof *e->keys);
    if (!e->keys) return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t kl;
        if (!scale_read_bytes_view(&r, &p, &kl, OUTBOX_MAX_KEY)) { outbox_ext_free(e); return MDB_CORRUPTED; }
        memcpy(e->keys[i], p, kl);
        e->keys[i][kl] = 0;
    }
    if (!scale_read_bytes_view(&r, &p, &n, 16u * 1024 * 1024) || r.failed || scale_remaining(&r)) { outbox_ext_free(e); return MDB_CORRUPTED; }
    e->bytes = malloc(n ? n : 1);
    if (!e->bytes) { outbox_ext_free(e); return ENOMEM; }
    memcpy(e->bytes, p, n);
    e->bytes_len = n;
    return 0;
}

int outbox_ext_create(outbox *ob, MDB_txn *txn, outbox_ext *e, uint64_t now_ms, char *err, size_t errlen) {
    if (e->intent_count == 0 || e->intent_count > OUTBOX_MAX_BATCH) { snprintf(err, errlen, "bad intent count"); return -1; }
    if (outbox_wallet_inflight(ob, txn, e->from)) { snprintf(err, errlen, "wallet already has an extrinsic in flight"); return -1; }
    int rc = counter_next(ob, txn, "ext", &e->id);
    if (rc) { snprintf(err, errlen, "outbox: %s", mdb_strerror(rc)); return -1; }
    e->state = EXT_SIGNED;
    e->signed_ms = now_ms;
    for (size_t i = 0; i < e->intent_count; i++) {
        outbox_intent it;
        rc = outbox_get(ob, txn, e->keys[i], strlen(e->keys[i]), &it);
        if (rc || it.state != OUTBOX_PENDING || memcmp(it.from, e->from, 32) != 0) {
            snprintf(err, errlen, "intent %s is not pending for this wallet", e->keys[i]);
            return -1;
        }
        set_state(&it, OUTBOX_SIGNED, now_ms);
        it.ext_id = e->id;
        memcpy(it.tx_hash, e->hash, 32);
        it.reason[0] = 0;
        if ((rc = queue_del(ob, txn, &it)) || (rc = intent_put(ob, txn, &it))) { snprintf(err, errlen, "outbox: %s", mdb_strerror(rc)); return -1; }
    }
    if ((rc = ext_put(ob, txn, e)) || (rc = wallet_set_inflight(ob, txn, e->from, e->id))) {
        snprintf(err, errlen, "outbox: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

int outbox_ext_update(outbox *ob, MDB_txn *txn, outbox_ext *e, uint64_t now_ms, size_t *changed) {
    int rc = ext_put(ob, txn, e);
    if (rc) return -1;
    size_t n = 0;
    bool group_failed_batch = e->state == EXT_FAILED && e->intent_count > 1;
    for (size_t i = 0; i < e->intent_count; i++) {
        outbox_intent it;
        if (outbox_get(ob, txn, e->keys[i], strlen(e->keys[i]), &it) != 0) return -1;
        if (it.ext_id != e->id || outbox_state_is_final(it.state)) continue; /* already moved on */
        outbox_state target;
        switch (e->state) {
        case EXT_SIGNED: target = OUTBOX_SIGNED; break;
        case EXT_SUBMITTED: target = OUTBOX_SUBMITTED; break;
        case EXT_INCLUDED: target = OUTBOX_INCLUDED; break;
        case EXT_FINALIZED: target = OUTBOX_FINALIZED; break;
        case EXT_FAILED: target = group_failed_batch ? OUTBOX_PENDING : OUTBOX_FAILED; break;
        default: target = OUTBOX_PENDING; break;
        }
        if (target == it.state && target != OUTBOX_INCLUDED) continue;
        if (target == OUTBOX_INCLUDED || target == OUTBOX_FINALIZED || target == OUTBOX_FAILED) {
            it.block_number = e->block_number;
            memcpy(it.block_hash, e->block_hash, 32);
        }
        if (target == OUTBOX_FAILED) snprintf(it.reason, sizeof it.reason, "%s", e->reason);
        if (target == OUTBOX_PENDING) {
            it.ext_id = 0;
            if (e->state == EXT_FAILED) {
                it.flags |= OUTBOX_FLAG_SOLO;
                snprintf(it.reason, sizeof it.reason, "retry-alone:%.40s", e->reason);
            } else snprintf(it.reason, sizeof it.reason, "era-expired");
            it.reason[OUTBOX_MAX_REASON] = 0;
            if ((rc = queue_put(ob, txn, &it))) return -1;
        }
        set_state(&it, target, now_ms);
        if ((rc = intent_put(ob, txn, &it))) return -1;
        n++;
    }
    if (e->state == EXT_FINALIZED || e->state == EXT_FAILED || e->state == EXT_EXPIRED)
        if (outbox_wallet_inflight(ob, txn, e->from) == e->id && wallet_set_inflight(ob, txn, e->from, 0)) return -1;
    if (changed) *changed = n;
    return (int)n;
}

int outbox_fail_pending(outbox *ob, MDB_txn *txn, const uint8_t wallet[32], const char *reason, uint64_t now_ms) {
    int total = 0;
    outbox_intent *buf = malloc(64 * sizeof *buf);
    if (!buf) return -1;
    for (;;) {
        int n = outbox_wallet_pending(ob, txn, wallet, buf, 64);
        if (n <= 0) { free(buf); return n < 0 ? -1 : total; }
        for (int i = 0; i < n; i++) {
            set_state(&buf[i], OUTBOX_FAILED, now_ms);
            snprintf(buf[i].reason, sizeof buf[i].reason, "%s", reason);
            if (queue_del(ob, txn, &buf[i]) || intent_put(ob, txn, &buf[i])) { free(buf); return -1; }
            total++;
        }
    }
}
