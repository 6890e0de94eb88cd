/* Unit tests of what a receipt may claim about the outbox (plugins/settle_intent.c):
 * "submitted" (with the tx hash) from the durable signed record on, because from
 * then on a deletion no longer cancels the payment; no tx tag for an intent that
 * failed before any extrinsic was signed (e.g. no-wallet); a deletion arriving
 * while the intent is signed cancels nothing and leaves the extrinsic alone. */
#include "unit.h"
#include "keystore.h"
#include "outbox.h"
#include "settle.h"
#include "hex.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static store *st;
static int64_t clock_t0 = 1700000000;

static void new_key(uint8_t sk[32], uint8_t pk[32]) {
    event ev;
    for (;;) {
        randombytes_buf(sk, 32);
        if (event_build_signed(&ev, sk, 1700000000, 1, NULL, 0, "", 0) == 0) break;
    }
    memcpy(pk, ev.pubkey, 32);
    event_free(&ev);
}

static void build(event *ev, const uint8_t sk[32], uint32_t kind, const char *content,
                  const char *const *const *tags, uint32_t ntags) {
    CHECK(event_build_signed(ev, sk, clock_t0++, kind, tags, ntags, content, strlen(content)) == 0);
}

/* Stores ev and runs the reactions hook in the same transaction, committed. */
static int store_event(const event *ev) {
    MDB_txn *txn;
    if (mdb_txn_begin(store_env(st), NULL, 0, &txn) != 0) return -1;
    char msg[256];
    uint64_t levid;
    int rc = store_insert(st, txn, ev, &levid, msg, sizeof msg) == STORE_ADDED ? reactions_apply(txn, ev) : -1;
    if (rc) mdb_txn_abort(txn);
    else rc = mdb_txn_commit(txn);
    return rc;
}

static int info_of(const uint8_t d[32], settle_intent_info *info) {
    MDB_txn *txn;
    mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn);
    int rc = settle_intent_get(txn, d, info);
    mdb_txn_abort(txn);
    return rc;
}

static void like(event *ev, const uint8_t sk[32], const event *target, const char *content) {
    char id[65], pk[65];
    hex_encode(target->id, 32, id);
    hex_encode(target->pubkey, 32, pk);
    const char *t1[] = {"e", id, NULL}, *t2[] = {"p", pk, NULL};
    const char *const *tags[] = {t1, t2};
    build(ev, sk, 7, content, tags, 2);
}

static void run_tests(void) {
    if (sodium_init() < 0) { CHECK(0); return; }
    char dir[] = "/tmp/g1relay-unit-receipt-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    setenv("G1RELAY_PASSPHRASE", "unit test passphrase", 1);
    char err[512];
    uint8_t alice_sk[32], alice[32], bob_sk[32], bob[32];
    new_key(alice_sk, alice);
    new_key(bob_sk, bob);
    keystore *ks;
    CHECK(keystore_open(dir, "unit test passphrase", 20, true, &ks, err, sizeof err) == 0);
    uint8_t seed[32];
    randombytes_buf(seed, 32);
    CHECK(keystore_add(ks, alice, seed, err, sizeof err) == 0);
    randombytes_buf(seed, 32);
    CHECK(keystore_add(ks, bob, seed, err, sizeof err) == 0);
    keystore_close(ks);

    config *cfg = config_new();
    char quoted[300];
    snprintf(quoted, sizeof quoted, "\"%s\"", dir);
    CHECK(config_set(cfg, NULL, "data_dir", quoted, err, sizeof err) == 0);
    CHECK(store_open(&st, dir, 64ull << 20, false, err, sizeof err) == 0);
    CHECK(settle_service_open(cfg, st, err, sizeof err) == 0);
    outbox *ob = settle_outbox();

    event post, l1, l2, del;
    build(&post, bob_sk, 1, "hello", NULL, 0);
    CHECK_EQ_INT(store_event(&post), 0);
    like(&l1, alice_sk, &post, "+2");
    CHECK_EQ_INT(store_event(&l1), 0);
    like(&l2, bob_sk, &post, "+1"); /* self-like: no payment */
    CHECK_EQ_INT(store_event(&l2), 0);

    settle_intent_info info;
    CHECK_EQ_INT(info_of(l1.id, &info), 0);
    CHECK_EQ_INT(info.status, SETTLE_PENDING);
    CHECK(!info.has_tx);

    /* the engine signs l1's intent (durable record, nothing sent yet) */
    char key[65];
    hex_encode(l1.id, 32, key);
    outbox_ext x;
    memset(&x, 0, sizeof x);
    memcpy(x.from, alice, 32);
    x.intent_count = 1;
    x.keys = calloc(1, sizeof *x.keys);
    snprintf(x.keys[0], sizeof x.keys[0], "%s", key);
    static uint8_t bytes[] = {1, 2, 3};
    x.bytes = bytes;
    x.bytes_len = sizeof bytes;
    for (int i = 0; i < 32; i++) x.hash[i] = (uint8_t)(0xA0 + i);
    MDB_txn *txn;
    CHECK(mdb_txn_begin(store_env(st), NULL, 0, &txn) == 0);
    CHECK_EQ_INT(outbox_ext_create(ob, txn, &x, 1000, err, sizeof err), 0);
    CHECK(mdb_txn_commit(txn) == 0);

    CHECK_EQ_INT(info_of(l1.id, &info), 0);
    CHECK_EQ_INT(info.status, SETTLE_SUBMITTED); /* a receipt never says pending for what may be on its way */
    CHECK(info.has_tx);
    CHECK_EQ_MEM(info.tx, x.hash, 32);
    CHECK(!info.has_block);

    /* a deletion now cancels nothing: the intent stays with its extrinsic */
    char l1hex[65];
    hex_encode(l1.id, 32, l1hex);
    const char *dt[] = {"e", l1hex, NULL};
    const char *const *dtags[] = {dt};
    build(&del, alice_sk, 5, "", dtags, 1);
    CHECK_EQ_INT(store_event(&del), 0);
    outbox_intent it;
    CHECK(mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn) == 0);
    CHECK_EQ_INT(outbox_get(ob, txn, key, 64, &it), 0);
    CHECK_EQ_INT(it.state, OUTBOX_SIGNED);
    CHECK_EQ_INT(outbox_wallet_inflight(ob, txn, alice), (long long)x.id);
    settle_record rec;
    CHECK_EQ_INT(settle_record_get(txn, l1.id, &rec), 0);
    CHECK(rec.status != SETTLE_CANCELLED);
    mdb_txn_abort(txn);
    CHECK_EQ_INT(info_of(l1.id, &info), 0);
    CHECK_EQ_INT(info.status, SETTLE_SUBMITTED);
    x.bytes = NULL;
    outbox_ext_free(&x);

    /* an intent failed before signing (the engine found no wallet): failed, no tx */
    event post2, l3;
    build(&post2, alice_sk, 1, "other", NULL, 0);
    CHECK_EQ_INT(store_event(&post2), 0);
    like(&l3, bob_sk, &post2, "+1");
    CHECK_EQ_INT(store_event(&l3), 0);
    CHECK(mdb_txn_begin(store_env(st), NULL, 0, &txn) == 0);
    CHECK_EQ_INT(outbox_fail_pending(ob, txn, bob, "no-wallet", 2000), 1);
    CHECK(mdb_txn_commit(txn) == 0);
    CHECK_EQ_INT(info_of(l3.id, &info), 0);
    CHECK_EQ_INT(info.status, SETTLE_FAILED);
    CHECK_EQ_STR(info.reason, "no-wallet");
    CHECK(!info.has_tx);

    event *all[] = {&post, &l1, &l2, &del, &post2, &l3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) event_free(all[i]);
    settle_service_close();
    store_close(st);
    config_free(cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

UNIT_MAIN(run_tests())
