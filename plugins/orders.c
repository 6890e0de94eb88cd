/* Plugin `orders`: the purchase conversation of PROTOCOL.md §B.
 *
 *   9740 order (customer): p merchant; optional a, max, expiration
 *   9741 payment request (merchant): e order, p customer, amount, ref; optional payto, expiration
 *   9742 payment authorisation (customer): e request, amount, p station
 *
 * The pieces may arrive in any order: each one is remembered (requests by order
 * id, authorisations by request id) and every arrival re-evaluates the requests it
 * may complete, inside the writer's transaction of that arrival. A request is
 * settled (or refused) once: its settlement record, keyed by the request id, is
 * the guard, so replays and duplicate deliveries settle nothing more.
 * Expiry is judged against the newest created_at of the pieces, so the outcome
 * depends only on the signed events (and replaying the log gives the same). */
#include "plugin.h"
#include "g1keys.h"
#include "hex.h"
#include "settle.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND_ORDER 9740u
#define KIND_REQUEST 9741u
#define KIND_AUTH 9742u
#define MAX_AMOUNT 1000000000000000ull /* 10^13 Ğ1: beyond any real supply */
#define MAX_AUTHS_PER_REQUEST 64

static const uint32_t order_kinds[] = {KIND_ORDER, KIND_REQUEST, KIND_AUTH, SETTLE_RECEIPT_KIND};

/* First value of tag `name`, or NULL. */
static const event_str *tag_value(const event *ev, const char *name) {
    size_t nl = strlen(name);
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        const event_str *n = event_tag_str(ev, t, 0), *v = event_tag_str(ev, t, 1);
        if (n && v && n->len == nl && memcmp(n->ptr, name, nl) == 0) return v;
    }
    return NULL;
}

static bool hex32(const event_str *v, uint8_t out[32]) {
    return v && v->len == 64 && hex_is_lower(v->ptr, 64) && hex_decode(v->ptr, 64, out, 32);
}

/* Positive decimal integer of at most MAX_AMOUNT, no sign, no leading zero. */
static bool amount_of(const event_str *v, uint64_t *out) {
    if (!v || v->len == 0 || v->len > 16 || v->ptr[0] == '0') return false;
    uint64_t n = 0;
    for (uint32_t i = 0; i < v->len; i++) {
        if (v->ptr[i] < '0' || v->ptr[i] > '9') return false;
        n = n * 10 + (uint64_t)(v->ptr[i] - '0');
    }
    if (n > MAX_AMOUNT) return false;
    *out = n;
    return true;
}

static int put_pair(MDB_txn *txn, MDB_dbi dbi, const uint8_t a[32], const uint8_t b[32]) {
    uint8_t key[64];
    memcpy(key, a, 32);
    memcpy(key + 32, b, 32);
    MDB_val k = {64, key}, v = {0, (void *)""};
    return mdb_put(txn, dbi, &k, &v, 0);
}

static int refuse(MDB_txn *txn, settle_record *rec, const uint8_t req_id[32], settle_status st, const char *reason) {
    rec->status = (uint8_t)st;
    snprintf(rec->reason, sizeof rec->reason, "%s", reason);
    return settle_record_create(txn, req_id, rec);
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Settles the request if its set is complete. Takes ownership of nothing. */
static int evaluate(MDB_txn *txn, const uint8_t order_id[32], const uint8_t req_id[32]) {
    settle_record rec;
    int rc = settle_record_get(txn, req_id, &rec);
    if (rc == 0) return 0; /* one settlement per request */
    if (rc != MDB_NOTFOUND) return rc;
    event o, r;
    if ((rc = settle_load_event(txn, order_id, &o)) != 0) return rc == MDB_NOTFOUND ? 0 : rc;
    if ((rc = settle_load_event(txn, req_id, &r)) != 0) {
        event_free(&o);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    rc = 0;
    if (o.kind != KIND_ORDER || r.kind != KIND_REQUEST) goto out;

    memset(&rec, 0, sizeof rec);
    rec.origin = SETTLE_ORIGIN_ORDER;
    memcpy(rec.e[0], o.id, 32);
    memcpy(rec.e[1], r.id, 32);
    rec.e_count = 2;
    memcpy(rec.payer, o.pubkey, 32);
    memcpy(rec.payee, r.pubkey, 32);
    rec.has_payee = 1;

    uint8_t merchant[32], customer[32];
    uint64_t amount;
    const event_str *ref = tag_value(&r, "ref");
    if (!amount_of(tag_value(&r, "amount"), &amount) || !ref || ref->len > 64 || !hex32(tag_value(&r, "p"), customer)) {
        rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "invalid-request");
        goto out;
    }
    rec.amount = amount;
    if (!hex32(tag_value(&o, "p"), merchant) || memcmp(merchant, r.pubkey, 32) != 0) {
        rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "wrong-merchant");
        goto out;
    }
    if (memcmp(customer, o.pubkey, 32) != 0) {
        rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "wrong-customer");
        goto out;
    }

    /* authorisation: the order's cap, else a 9742 for this request */
    uint64_t max = 0;
    bool authorised = amount_of(tag_value(&o, "max"), &max) && max >= amount;
    bool mismatch = false;
    int64_t t_ref = max64(o.created_at, r.created_at);
    if (!authorised) {
        uint8_t station[32];
        settle_station_pubkey(station);
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, settle_dbs()->auth_by_req, &cur)) != 0) goto out;
        uint8_t key[64];
        memcpy(key, req_id, 32);
        memset(key + 32, 0, 32);
        MDB_val k = {64, key}, v;
        int n = 0;
        for (int c = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); c == 0 && n < MAX_AUTHS_PER_REQUEST && !authorised;
             c = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
            if (k.mv_size != 64 || memcmp(k.mv_data, req_id, 32) != 0) break;
            event a;
            if (settle_load_event(txn, (const uint8_t *)k.mv_data + 32, &a) != 0) continue;
            uint8_t to_station[32];
            uint64_t aamount = 0;
            if (a.kind == KIND_AUTH && memcmp(a.pubkey, o.pubkey, 32) == 0 && hex32(tag_value(&a, "p"), to_station) &&
                memcmp(to_station, station, 32) == 0) {
                if (amount_of(tag_value(&a, "amount"), &aamount) && aamount == amount) {
                    authorised = true;
                    memcpy(rec.e[2], a.id, 32);
                    rec.e_count = 3;
                    t_ref = max64(t_ref, a.created_at);
                } else if (!mismatch) {
                    mismatch = true;
                    memcpy(rec.e[2], a.id, 32);
                    t_ref = max64(t_ref, a.created_at);
                }
            }
            event_free(&a);
        }
        mdb_cursor_close(cur);
        if (!authorised && mismatch) rec.e_count = 3;
    }
    if (!authorised && !mismatch) goto out; /* wait for an authorisation */
    if ((o.expiration && o.expiration <= t_ref) || (r.expiration && r.expiration <= t_ref)) {
        rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "expired");
        goto out;
    }
    if (!authorised) {
        rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "amount-mismatch");
        goto out;
    }
    if (settle_wallet_of(o.pubkey, rec.from) != 0) {
        rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "no-wallet");
        goto out;
    }
    rec.has_from = 1;
    const event_str *payto = tag_value(&r, "payto");
    if (payto) {
        char text[96], err[128];
        if (payto->len >= sizeof text) {
            rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "bad-payto");
            goto out;
        }
        memcpy(text, payto->ptr, payto->len);
        text[payto->len] = 0;
        if (g1_address_parse(text, settle_settings_get()->ss58_prefix, rec.to, err, sizeof err) != 0) {
            rc = refuse(txn, &rec, req_id, SETTLE_REFUSED, "bad-payto");
            goto out;
        }
    } else if (settle_payee_address(txn, r.pubkey, rec.to) != 0) {
        rc = refuse(txn, &rec, req_id, SETTLE_FAILED, "no-address");
        goto out;
    }
    rec.has_to = 1;
    rec.status = SETTLE_PENDING;
    rc = settle_record_create(txn, req_id, &rec);
out:
    event_free(&o);
    event_free(&r);
    return rc;
}

static int on_order(MDB_txn *txn, const event *ev) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, settle_dbs()->req_by_order, &cur);
    if (rc) return rc;
    /* collect first: evaluate writes to other databases, the cursor stays valid */
    uint8_t (*reqs)[32] = NULL;
    size_t n = 0, cap = 0;
    uint8_t key[64];
    memcpy(key, ev->id, 32);
    memset(key + 32, 0, 32);
    MDB_val k = {64, key}, v;
    for (int c = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); c == 0; c = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 64 || memcmp(k.mv_data, ev->id, 32) != 0) break;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            void *p = realloc(reqs, nc * 32);
            if (!p) { rc = ENOMEM; break; }
            reqs = p;
            cap = nc;
        }
        memcpy(reqs[n++], (const uint8_t *)k.mv_data + 32, 32);
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n && !rc; i++) rc = evaluate(txn, ev->id, reqs[i]);
    free(reqs);
    return rc;
}

static int on_request(MDB_txn *txn, const event *ev) {
    uint8_t order_id[32];
    if (!hex32(tag_value(ev, "e"), order_id)) return 0;
    int rc = put_pair(txn, settle_dbs()->req_by_order, order_id, ev->id);
    return rc ? rc : evaluate(txn, order_id, ev->id);
}

static int on_auth(MDB_txn *txn, const event *ev) {
    uint8_t req_id[32];
    if (!hex32(tag_value(ev, "e"), req_id)) return 0;
    int rc = put_pair(txn, settle_dbs()->auth_by_req, req_id, ev->id);
    if (rc) return rc;
    event r;
    if ((rc = settle_load_event(txn, req_id, &r)) != 0) return rc == MDB_NOTFOUND ? 0 : rc;
    uint8_t order_id[32];
    bool ok = r.kind == KIND_REQUEST && hex32(tag_value(&r, "e"), order_id);
    event_free(&r);
    return ok ? evaluate(txn, order_id, req_id) : 0;
}

int orders_apply(MDB_txn *txn, const event *ev) {
    switch (ev->kind) {
    case KIND_ORDER: return on_order(txn, ev);
    case KIND_REQUEST: return on_request(txn, ev);
    case KIND_AUTH: return on_auth(txn, ev);
    case SETTLE_RECEIPT_KIND: return settle_receipt_committed(txn, ev);
    default: return 0;
    }
}

static int orders_init(void **state, const config *cfg, const char *section, store *s, char *err, size_t errlen) {
    *state = NULL;
    return settle_service_open(cfg, s, err, errlen);
}

static void orders_teardown(void *state) {
    (void)state;
    settle_service_close();
}

static int orders_committed(void *state, MDB_txn *txn, const event *ev, uint64_t levid, char *msg, size_t msglen) {
    (void)state;
    (void)levid;
    int rc = orders_apply(txn, ev);
    if (rc) snprintf(msg, msglen, "error: could not record the settlement (%s)", mdb_strerror(rc));
    return rc;
}

const plugin_def plugin_orders = {
    .name = "orders",
    .kinds = order_kinds,
    .kind_count = sizeof order_kinds / sizeof order_kinds[0],
    .init = orders_init,
    .teardown = orders_teardown,
    .decide = NULL,
    .committed = orders_committed,
};
