/* Unit tests of the settlement plugins' decisions (plugins/reactions.c, orders.c)
 * on a real store and keystore: amounts, duplicates, daily limit, cancellation,
 * the purchase set in any order, and atomicity — an event whose nested
 * transaction aborts leaves neither a settlement record nor an intent. */
#include "unit.h"
#include "keystore.h"
#include "settle.h"
#include "hex.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint8_t sk[32], pk[32];
} nkey;

static void new_key(nkey *k) {
    event ev;
    for (;;) {
        randombytes_buf(k->sk, 32);
        if (event_build_signed(&ev, k->sk, 1700000000, 1, NULL, 0, "", 0) == 0) break;
    }
    memcpy(k->pk, ev.pubkey, 32);
    event_free(&ev);
}

static store *st;
static int64_t clock_t0 = 1700000000;

/* Signs an event with up to 4 tags of 2..4 strings. */
static void build(event *ev, const nkey *k, uint32_t kind, const char *content, const char *const *const *tags,
                  uint32_t ntags) {
    CHECK(event_build_signed(ev, k->sk, clock_t0++, kind, tags, ntags, content, strlen(content)) == 0);
}

/* Stores ev and runs the plugins' hook in a nested transaction; abort_it aborts it. */
static int store_event(const event *ev, bool abort_it) {
    MDB_txn *parent, *txn;
    if (mdb_txn_begin(store_env(st), NULL, 0, &parent) != 0) return -1;
    mdb_txn_begin(store_env(st), parent, 0, &txn);
    char msg[256];
    uint64_t levid;
    store_result r = store_insert(st, txn, ev, &levid, msg, sizeof msg);
    int rc = -1;
    if (r == STORE_ADDED) {
        rc = ev->kind == 7 || ev->kind == 5 ? reactions_apply(txn, ev) : orders_apply(txn, ev);
        if (ev->kind == 5 && rc == 0) rc = orders_apply(txn, ev);
    }
    if (abort_it || rc != 0) mdb_txn_abort(txn);
    else mdb_txn_commit(txn);
    mdb_txn_commit(parent);
    return rc;
}

/* Status and amount of the settlement d (SETTLE_NONE when absent). */
static settle_status status_of(const uint8_t d[32], uint64_t *amount, char *reason) {
    MDB_txn *txn;
    mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn);
    settle_record rec;
    int rc = settle_record_get(txn, d, &rec);
    mdb_txn_abort(txn);
    if (rc) return SETTLE_NONE;
    if (amount) *amount = rec.amount;
    if (reason) strcpy(reason, rec.reason);
    return (settle_status)rec.status;
}

static bool has_intent(const uint8_t d[32]) {
    MDB_txn *txn;
    mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn);
    settle_intent_info info;
    int rc = settle_intent_get(txn, d, &info);
    mdb_txn_abort(txn);
    return rc == 0;
}

static void like(event *ev, const nkey *who, const event *target, const char *content) {
    char id[65], pk[65];
    hex_encode(target->id, 32, id);
    hex_encode(target->pubkey, 32, pk);
    const char *t1[] = {"e", id, NULL}, *t2[] = {"p", pk, NULL};
    const char *const *tags[] = {t1, t2};
    build(ev, who, 7, content, tags, 2);
}

static void run_tests(void) {
    if (sodium_init() < 0) { CHECK(0); return; }
    char dir[] = "/tmp/g1relay-unit-settle-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    setenv("G1RELAY_PASSPHRASE", "unit test passphrase", 1);
    char err[512];
    nkey alice, bob, carol, shop, nowallet;
    new_key(&alice), new_key(&bob), new_key(&carol), new_key(&shop), new_key(&nowallet);
    /* wallets before the service opens the keystore */
    keystore *ks;
    CHECK(keystore_open(dir, "unit test passphrase", 20, true, &ks, err, sizeof err) == 0);
    const nkey *with_wallet[] = {&alice, &bob, &carol, &shop};
    for (size_t i = 0; i < 4; i++) {
        uint8_t seed[32];
        randombytes_buf(seed, 32);
        CHECK(keystore_add(ks, with_wallet[i]->pk, seed, err, sizeof err) == 0);
    }
    keystore_close(ks);

    config *cfg = config_new();
    char quoted[300];
    snprintf(quoted, sizeof quoted, "\"%s\"", dir);
    CHECK(config_set(cfg, NULL, "data_dir", quoted, err, sizeof err) == 0);
    CHECK(config_set(cfg, NULL, "daily_limit_centimes", "100", err, sizeof err) == 0);
    CHECK(store_open(&st, dir, 64ull << 20, false, err, sizeof err) == 0);
    CHECK(settle_service_open(cfg, st, err, sizeof err) == 0);

    /* amounts */
    event post, l1, l2, l3, l4, l5;
    build(&post, &bob, 1, "hello", NULL, 0);
    CHECK_EQ_INT(store_event(&post, false), 0);
    like(&l1, &alice, &post, "+3");
    CHECK_EQ_INT(store_event(&l1, false), 0);
    uint64_t amount = 0;
    char reason[SETTLE_REASON_MAX] = "";
    CHECK_EQ_INT(status_of(l1.id, &amount, NULL), SETTLE_PENDING);
    CHECK_EQ_INT(amount, 30);
    CHECK(has_intent(l1.id));
    /* duplicate */
    like(&l2, &alice, &post, "+");
    store_event(&l2, false);
    CHECK_EQ_INT(status_of(l2.id, NULL, NULL), SETTLE_DUPLICATE);
    CHECK(!has_intent(l2.id));
    /* non-paying content, self-reaction, payer without wallet */
    like(&l3, &carol, &post, "-");
    store_event(&l3, false);
    CHECK_EQ_INT(status_of(l3.id, NULL, NULL), SETTLE_NONE);
    like(&l4, &bob, &post, "+");
    store_event(&l4, false);
    CHECK_EQ_INT(status_of(l4.id, NULL, NULL), SETTLE_NONE);
    like(&l5, &nowallet, &post, "+");
    store_event(&l5, false);
    CHECK_EQ_INT(status_of(l5.id, NULL, NULL), SETTLE_NONE);

    /* atomicity: the nested transaction aborts → no record, no intent, no marker */
    event post2, la, lb;
    build(&post2, &bob, 1, "second", NULL, 0);
    store_event(&post2, false);
    like(&la, &carol, &post2, "+2");
    store_event(&la, true);
    CHECK_EQ_INT(status_of(la.id, NULL, NULL), SETTLE_NONE);
    CHECK(!has_intent(la.id));
    like(&lb, &carol, &post2, "+2"); /* not a duplicate: the aborted one left no marker */
    store_event(&lb, false);
    CHECK_EQ_INT(status_of(lb.id, NULL, NULL), SETTLE_PENDING);

    /* daily limit (100 centimes): alice has 30 counted; +8 = 80 → over */
    event post3, lc, ld;
    build(&post3, &carol, 1, "third", NULL, 0);
    store_event(&post3, false);
    like(&lc, &alice, &post3, "+8");
    store_event(&lc, false);
    CHECK_EQ_INT(status_of(lc.id, NULL, reason), SETTLE_REFUSED);
    CHECK_EQ_STR(reason, "daily-limit");
    /* deletion of l1 cancels it and frees its 30 centimes */
    char l1hex[65];
    hex_encode(l1.id, 32, l1hex);
    const char *dt[] = {"e", l1hex, NULL};
    const char *const *dtags[] = {dt};
    event del;
    build(&del, &alice, 5, "", dtags, 1);
    CHECK_EQ_INT(store_event(&del, false), 0);
    CHECK_EQ_INT(status_of(l1.id, NULL, reason), SETTLE_CANCELLED);
    like(&ld, &alice, &post3, "+7");
    store_event(&ld, false);
    CHECK_EQ_INT(status_of(ld.id, &amount, NULL), SETTLE_PENDING);
    CHECK_EQ_INT(amount, 70);

    /* purchase: authorisation, request, then order (no max) */
    uint8_t station[32];
    CHECK(settle_station_pubkey(station));
    char stationhex[65], shophex[65], alicehex[65], ohex[65], rhex[65];
    hex_encode(station, 32, stationhex);
    hex_encode(shop.pk, 32, shophex);
    hex_encode(alice.pk, 32, alicehex);
    event ord, req, auth;
    const char *op[] = {"p", shophex, NULL};
    const char *const *otags[] = {op};
    build(&ord, &alice, 9740, "order", otags, 1);
    hex_encode(ord.id, 32, ohex);
    const char *re[] = {"e", ohex, NULL}, *rp[] = {"p", alicehex, NULL}, *ra[] = {"amount", "1234", NULL},
               *rr[] = {"ref", "INV-9", NULL};
    const char *const *rtags[] = {re, rp, ra, rr};
    build(&req, &shop, 9741, "request", rtags, 4);
    hex_encode(req.id, 32, rhex);
    const char *ae[] = {"e", rhex, NULL}, *aa[] = {"amount", "1234", NULL}, *ap[] = {"p", stationhex, NULL};
    const char *const *atags[] = {ae, aa, ap};
    build(&auth, &alice, 9742, "", atags, 3);
    store_event(&auth, false);
    store_event(&req, false);
    CHECK_EQ_INT(status_of(req.id, NULL, NULL), SETTLE_NONE);
    store_event(&ord, false);
    CHECK_EQ_INT(status_of(req.id, &amount, NULL), SETTLE_PENDING);
    CHECK_EQ_INT(amount, 1234);
    CHECK(has_intent(req.id));

    event *all[] = {&post, &l1, &l2, &l3, &l4, &l5, &post2, &la, &lb, &post3, &lc, &ld, &del, &ord, &req, &auth};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) event_free(all[i]);
    settle_service_close();
    store_close(st);
    config_free(cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

UNIT_MAIN(run_tests())
