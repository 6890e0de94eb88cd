/* Plugin `reactions`: NIP-25 likes become Ğ1 payments (PROTOCOL.md §A).
 *
 * Everything happens in the committed hook, inside the writer's transaction of the
 * reaction: the decision, the settlement record, the intent, the once-per-target
 * marker and the daily total commit with the event or not at all. The reaction is
 * never refused because of its payment. Kind 5 (NIP-09) cancels a pending payment
 * of the deleted reaction; kind 39743 acknowledges the station's receipts. */
#include "plugin.h"
#include "hex.h"
#include "settle.h"
#include <stdio.h>
#include <string.h>

#define DAY_SECONDS 86400

static const uint32_t reaction_kinds[] = {5, 7, SETTLE_RECEIPT_KIND};

/* Ẑen paid by a reaction's content, 0 when it pays nothing (before the clamp). */
static uint64_t paying_zen(const event_str *c) {
    static const char *const one[] = {"", "+", "\xF0\x9F\x91\x8D" /* 👍 */, "\xE2\x9D\xA4\xEF\xB8\x8F" /* ❤️ */,
                                      "\xE2\x99\xA5\xEF\xB8\x8F" /* ♥️ */};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (c->len == strlen(one[i]) && memcmp(c->ptr, one[i], c->len) == 0) return 1;
    if (c->len < 2 || c->ptr[0] != '+') return 0;
    uint64_t n = 0;
    for (uint32_t i = 1; i < c->len; i++) {
        if (c->ptr[i] < '0' || c->ptr[i] > '9') return 0;
        if (n < UINT64_MAX / 100) n = n * 10 + (uint64_t)(c->ptr[i] - '0'); /* huge N: clamped anyway */
    }
    return n;
}

/* Value of the last tag `name` whose value is 64 lower-case hex. */
static bool last_hex_tag(const event *ev, char name, uint8_t out[32]) {
    for (uint32_t t = ev->tag_count; t-- > 0;) {
        const event_str *n = event_tag_str(ev, t, 0), *v = event_tag_str(ev, t, 1);
        if (n && v && n->len == 1 && n->ptr[0] == name && v->len == 64 && hex_is_lower(v->ptr, 64) &&
            hex_decode(v->ptr, 64, out, 32))
            return true;
    }
    return false;
}

static void be64(uint8_t *p, uint64_t x) {
    for (int i = 7; i >= 0; i--, x >>= 8) p[i] = (uint8_t)x;
}
static uint64_t rd_be64(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = x << 8 | p[i];
    return x;
}
/* Time as an order-preserving unsigned number (created_at may be any i64). */
static uint64_t tkey(int64_t t) { return (uint64_t)t ^ (1ull << 63); }

/* Newest t_eff of the payer's counted reactions (INT64_MIN if none), and the sum of
 * the amounts counted in the window ending at t. Old entries are pruned. */
static int daily_scan(MDB_txn *txn, const uint8_t payer[32], int64_t *last, int64_t t, uint64_t *sum) {
    const settle_dbis *db = settle_dbs();
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, db->daily, &cur);
    if (rc) return rc;
    uint8_t key[72];
    memcpy(key, payer, 32);
    memset(key + 32, 0, 40);
    MDB_val k = {72, key}, v;
    *last = INT64_MIN;
    *sum = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 72 || memcmp(k.mv_data, payer, 32) != 0) break;
        int64_t et = (int64_t)(rd_be64((const uint8_t *)k.mv_data + 32) ^ (1ull << 63));
        if (et > *last) *last = et;
        if (v.mv_size == 8) {
            uint64_t a;
            memcpy(&a, v.mv_data, 8);
            if (t == INT64_MIN || et > t - DAY_SECONDS) *sum += a;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int daily_prune(MDB_txn *txn, const uint8_t payer[32], int64_t t) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, settle_dbs()->daily, &cur);
    if (rc) return rc;
    uint8_t key[72];
    memcpy(key, payer, 32);
    memset(key + 32, 0, 40);
    MDB_val k = {72, key}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 72 || memcmp(k.mv_data, payer, 32) != 0) break;
        int64_t et = (int64_t)(rd_be64((const uint8_t *)k.mv_data + 32) ^ (1ull << 63));
        if (et > t - DAY_SECONDS) break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static void daily_key(uint8_t key[72], const uint8_t payer[32], int64_t t, const uint8_t id[32]) {
    memcpy(key, payer, 32);
    be64(key + 32, tkey(t));
    memcpy(key + 40, id, 32);
}

static int on_reaction(MDB_txn *txn, const event *ev) {
    const settle_settings *set = settle_settings_get();
    uint64_t zen = paying_zen(&ev->content);
    if (zen == 0) return 0;
    uint8_t target[32], payee[32];
    if (!last_hex_tag(ev, 'e', target)) return 0;
    event tev;
    int rc = settle_load_event(txn, target, &tev);
    if (rc == 0) {
        memcpy(payee, tev.pubkey, 32);
        event_free(&tev);
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    } else if (!last_hex_tag(ev, 'p', payee)) {
        return 0; /* nobody to pay */
    }
    if (memcmp(payee, ev->pubkey, 32) == 0) return 0; /* self-reaction */
    settle_record rec;
    memset(&rec, 0, sizeof rec);
    if (settle_wallet_of(ev->pubkey, rec.from) != 0) return 0; /* cannot pay */
    if (zen > (uint64_t)set->max_zen_per_reaction) zen = (uint64_t)set->max_zen_per_reaction;
    rec.origin = SETTLE_ORIGIN_REACTION;
    rec.has_from = 1;
    rec.e_count = 1;
    memcpy(rec.e[0], ev->id, 32);
    memcpy(rec.e[1], target, 32); /* kept (not published) to undo the marker on cancel */
    memcpy(rec.payer, ev->pubkey, 32);
    memcpy(rec.payee, payee, 32);
    rec.has_payee = 1;
    rec.amount = zen * (uint64_t)set->zen_centimes;

    const settle_dbis *db = settle_dbs();
    uint8_t mk[64];
    memcpy(mk, ev->pubkey, 32);
    memcpy(mk + 32, target, 32);
    MDB_val k = {64, mk}, v;
    rc = mdb_get(txn, db->reacted, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    if (rc == 0) {
        rec.status = SETTLE_DUPLICATE;
        return settle_record_create(txn, ev->id, &rec);
    }
    int64_t last;
    uint64_t sum;
    if ((rc = daily_scan(txn, ev->pubkey, &last, INT64_MIN, &sum)) != 0) return rc;
    /* Time counted for the window never goes back for a payer, so back-dated
     * reactions cannot escape the limit. */
    rec.t_eff = ev->created_at > last ? ev->created_at : last;
    if ((rc = daily_prune(txn, ev->pubkey, rec.t_eff)) != 0) return rc;
    if ((rc = daily_scan(txn, ev->pubkey, &last, rec.t_eff, &sum)) != 0) return rc;
    if (sum + rec.amount > (uint64_t)set->daily_limit_centimes) {
        rec.status = SETTLE_REFUSED;
        snprintf(rec.reason, sizeof rec.reason, "daily-limit");
        return settle_record_create(txn, ev->id, &rec);
    }
    if (settle_payee_address(txn, payee, rec.to) != 0) {
        rec.status = SETTLE_FAILED;
        snprintf(rec.reason, sizeof rec.reason, "no-address");
        return settle_record_create(txn, ev->id, &rec);
    }
    rec.has_to = 1;
    rec.status = SETTLE_PENDING;
    v.mv_size = 32;
    v.mv_data = (void *)ev->id;
    if ((rc = mdb_put(txn, db->reacted, &k, &v, 0)) != 0) return rc;
    uint8_t dk[72];
    daily_key(dk, ev->pubkey, rec.t_eff, ev->id);
    MDB_val dkv = {72, dk}, av = {8, &rec.amount};
    if ((rc = mdb_put(txn, db->daily, &dkv, &av, 0)) != 0) return rc;
    return settle_record_create(txn, ev->id, &rec);
}

/* NIP-09: a deletion by the reactor cancels its payment if not yet submitted. */
static int on_deletion(MDB_txn *txn, const event *ev) {
    const settle_dbis *db = settle_dbs();
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        const event_str *n = event_tag_str(ev, t, 0), *v = event_tag_str(ev, t, 1);
        uint8_t id[32];
        if (!n || !v || n->len != 1 || n->ptr[0] != 'e' || v->len != 64 || !hex_decode(v->ptr, 64, id, 32)) continue;
        settle_record rec;
        int rc = settle_record_get(txn, id, &rec);
        if (rc == MDB_NOTFOUND) continue;
        if (rc) return rc;
        if (rec.origin != SETTLE_ORIGIN_REACTION || rec.status != SETTLE_PENDING ||
            memcmp(rec.payer, ev->pubkey, 32) != 0)
            continue;
        int c = settle_replaying ? 1 : settle_intent_cancel(txn, id);
        if (c < 0) return MDB_CORRUPTED;
        if (c == 0) continue; /* already on its way to the chain */
        uint8_t mk[64];
        memcpy(mk, rec.payer, 32);
        memcpy(mk + 32, rec.e[1], 32);
        MDB_val k = {64, mk};
        if ((rc = mdb_del(txn, db->reacted, &k, NULL)) != 0 && rc != MDB_NOTFOUND) return rc;
        uint8_t dk[72];
        daily_key(dk, rec.payer, rec.t_eff, id);
        MDB_val dkv = {72, dk};
        if ((rc = mdb_del(txn, db->daily, &dkv, NULL)) != 0 && rc != MDB_NOTFOUND) return rc;
        if ((rc = settle_record_set_status(txn, id, SETTLE_CANCELLED, "deleted")) != 0) return rc;
    }
    return 0;
}

int reactions_apply(MDB_txn *txn, const event *ev) {
    switch (ev->kind) {
    case 7: return on_reaction(txn, ev);
    case 5: return on_deletion(txn, ev);
    case SETTLE_RECEIPT_KIND: return settle_receipt_committed(txn, ev);
    default: return 0;
    }
}

static int reactions_init(void **state, const config *cfg, const char *section, store *s, char *err, size_t errlen) {
    *state = NULL;
    return settle_service_open(cfg, s, err, errlen);
}

static void reactions_teardown(void *state) {
    (void)state;
    settle_service_close();
}

static int reactions_committed(void *state, MDB_txn *txn, const event *ev, uint64_t levid, char *msg,
                               size_t msglen) {
    (void)state;
    (void)levid;
    int rc = reactions_apply(txn, ev);
    if (rc) snprintf(msg, msglen, "error: could not record the settlement (%s)", mdb_strerror(rc));
    return rc;
}

const plugin_def plugin_reactions = {
    .name = "reactions",
    .kinds = reaction_kinds,
    .kind_count = sizeof reaction_kinds / sizeof reaction_kinds[0],
    .init = reactions_init,
    .teardown = reactions_teardown,
    .decide = NULL,
    .committed = reactions_committed,
};
