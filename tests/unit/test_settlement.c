/* Unit tests of the settlement engine's parts that need no node: submit error
 * classes, era expiry arithmetic, batch readiness/grouping/summing, remarks,
 * storage keys (twox128 vectors), AccountInfo and System.Events decoding
 * through the g1 metadata (bytes produced by the independent g1node stand-in),
 * dispatch error reasons, and the outbox state machine in a real LMDB store. */
#include "chain_state.h"
#include "hex.h"
#include "metadata.h"
#include "outbox.h"
#include "settle_plan.h"
#include "store.h"
#include "submit_error.h"
#include "unit.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void shared_path(char *out, size_t outlen, const char *file) {
    const char *dir = getenv("G1_SHARED");
    snprintf(out, outlen, "%s/g1/%s", dir && *dir ? dir : "../shared", file);
}

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
    if (h[0] == '0' && h[1] == 'x') h += 2;
    size_t n = strlen(h) / 2;
    if (n > cap || !hex_decode(h, 2 * n, out, n)) return 0;
    return n;
}

static void test_submit_errors(void) {
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Transaction is outdated"), SUBMIT_STALE);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Transaction has a bad signature"), SUBMIT_BAD_PROOF);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Transaction will be valid in the future"), SUBMIT_FUTURE);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Inability to pay some fees (e.g. account balance too low)"), SUBMIT_PAYMENT);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Transaction has an ancient birth block"), SUBMIT_ANCIENT_BIRTH);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Transaction would exhaust the block limits"), SUBMIT_EXHAUSTS);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", "Transaction call is not expected"), SUBMIT_INVALID_OTHER);
    CHECK_EQ_INT(submit_error_classify(1010, "Invalid Transaction", NULL), SUBMIT_INVALID_OTHER);
    CHECK_EQ_INT(submit_error_classify(1011, "Unknown Transaction Validity", ""), SUBMIT_UNKNOWN_VALIDITY);
    CHECK_EQ_INT(submit_error_classify(1012, "Transaction is temporarily banned", NULL), SUBMIT_BANNED);
    CHECK_EQ_INT(submit_error_classify(1013, "Transaction Already Imported", NULL), SUBMIT_ALREADY_IMPORTED);
    CHECK_EQ_INT(submit_error_classify(1014, "Priority is too low: (0 vs 0)", NULL), SUBMIT_PRIORITY);
    CHECK_EQ_INT(submit_error_classify(1016, "Immediately Dropped", NULL), SUBMIT_POOL_FULL);
    CHECK_EQ_INT(submit_error_classify(1001, "Extrinsic has invalid format", "x"), SUBMIT_BAD_FORMAT);
    CHECK_EQ_INT(submit_error_classify(-32602, "Invalid params", NULL), SUBMIT_BAD_FORMAT);
    CHECK_EQ_STR(submit_kind_name(SUBMIT_STALE), "stale");
    CHECK_EQ_STR(submit_kind_name(SUBMIT_ANCIENT_BIRTH), "ancient-birth-block");
}

static void test_era(void) {
    CHECK_EQ_INT(plan_era_last_block(100, 64), 163);
    /* not expired while the last block may still be finalized with it */
    CHECK(!plan_era_expired(100, 64, 163, 163));
    /* finalized past the last block, every block searched: expired */
    CHECK(plan_era_expired(100, 64, 164, 163));
    /* finalized past, but blocks not all searched yet: not proven */
    CHECK(!plan_era_expired(100, 64, 500, 162));
    CHECK(plan_era_expired(100, 64, 500, 500));
    CHECK(!plan_era_expired(100, 0, 500, 500));
    CHECK_EQ_INT(plan_era_period(64, 2400), 64);
    CHECK_EQ_INT(plan_era_period(4096, 2400), 2048);
    CHECK_EQ_INT(plan_era_period(64, 0), 64);
    CHECK_EQ_INT(plan_era_period(63, 2400), 0);
    CHECK_EQ_INT(plan_era_period(2, 2400), 0);
    CHECK_EQ_INT(plan_era_period(131072, 0), 0);
    CHECK_EQ_STR(plan_expired_failure("payment"), "insufficient-funds");
    CHECK(plan_expired_failure("stale") == NULL);
    CHECK(plan_expired_failure("bad-proof") == NULL);
    CHECK(plan_expired_failure("") == NULL);
}

static outbox_intent mk(const char *key, uint8_t to, uint64_t amount, uint8_t flags) {
    outbox_intent it;
    memset(&it, 0, sizeof it);
    snprintf(it.key, sizeof it.key, "%s", key);
    it.key_len = strlen(key);
    memset(it.to, to, 32);
    it.amount = amount;
    it.flags = flags;
    return it;
}

static void test_batching(void) {
    CHECK(!plan_ready(0, 0, 10000, 2000, 50, false));
    CHECK(!plan_ready(3, 9000, 10000, 2000, 50, false));
    CHECK(plan_ready(3, 8000, 10000, 2000, 50, false));
    CHECK(plan_ready(50, 9999, 10000, 2000, 50, false));
    CHECK(plan_ready(1, 9999, 10000, 2000, 50, true));

    static plan_batch_result r;
    outbox_intent p[6] = {mk("a", 1, 100, 0), mk("b", 2, 200, 0), mk("c", 1, 300, 0), mk("d", 3, 5, OUTBOX_FLAG_SOLO),
                          mk("e", 2, UINT64_MAX - 100, 0), mk("f", 4, 7, 0)};
    CHECK_EQ_INT(plan_batch(p, 6, 50, &r), 5);
    CHECK_EQ_INT(r.transfer_count, 4); /* 1: 400; 2: 200; 2: huge (no overflow); 4: 7 */
    CHECK_EQ_INT(r.transfers[0].dest[0], 1);
    CHECK_EQ_INT(r.transfers[0].amount, 400);
    CHECK_EQ_INT(r.transfers[1].amount, 200);
    CHECK_EQ_INT(r.transfers[2].amount, UINT64_MAX - 100);
    CHECK_EQ_INT(r.transfers[3].amount, 7);
    CHECK_EQ_INT(r.selected[3], 4); /* the SOLO one (index 3) is skipped */
    CHECK_EQ_INT(plan_batch(p, 6, 2, &r), 2);
    CHECK_EQ_INT(r.transfer_count, 2);
    /* a SOLO intent at the head goes alone */
    CHECK_EQ_INT(plan_batch(p + 3, 3, 50, &r), 1);
    CHECK_EQ_INT(r.selected[0], 0);
    CHECK_EQ_INT(r.transfers[0].amount, 5);
    CHECK_EQ_INT(plan_batch(p, 0, 50, &r), 0);

    char keys[3][OUTBOX_MAX_KEY + 1] = {"k1", "k2", "abc"};
    char out[1200];
    CHECK_EQ_INT(plan_remark((const char (*)[OUTBOX_MAX_KEY + 1])keys, 3, out, sizeof out), 15);
    CHECK_EQ_STR(out, "nostr:k1,k2,abc");
    static char many[20][OUTBOX_MAX_KEY + 1];
    for (int i = 0; i < 20; i++) { memset(many[i], 'a' + i, 100); many[i][100] = 0; }
    size_t n = plan_remark((const char (*)[OUTBOX_MAX_KEY + 1])many, 20, out, sizeof out);
    CHECK_EQ_INT(n, 6 + 7 + 64);
    CHECK(strncmp(out, "nostr:sha256:", 13) == 0);
}

static void test_keys_and_state(void) {
    uint8_t k[CHAIN_STORAGE_KEY_MAX], want[96];
    CHECK_EQ_INT(chain_storage_key_plain("System", "Events", k), 32);
    unhex("26aa394eea5630e07c48ae0c9558cef780d41e5e16056765bc8461851072c9d7", want, sizeof want);
    CHECK_EQ_MEM(k, want, 32);
    chain_storage_key_plain("System", "Account", k);
    unhex("26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9", want, sizeof want);
    CHECK_EQ_MEM(k, want, 32);

    char path[512], err[300];
    shared_path(path, sizeof path, "g1_metadata.scale");
    metadata *md = metadata_load_file(path, err, sizeof err);
    CHECK(md != NULL);
    if (!md) { printf("%s\n", err); return; }
    /* account key: the g1node computed it with @polkadot (blake2_128concat) */
    uint8_t account[32];
    unhex("c55efa9bf9336697e618f315b256dd4709995c3fdcd1b122b118ef9919719f19", account, 32);
    size_t klen = chain_account_storage_key(md, account, k);
    CHECK_EQ_INT(klen, 80);
    unhex("26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9627281873745cf1b6d6d2154a4a4c08a"
          "c55efa9bf9336697e618f315b256dd4709995c3fdcd1b122b118ef9919719f19", want, sizeof want);
    CHECK_EQ_MEM(k, want, 80);

    /* AccountInfo as the g1node encodes it: nonce 2, providers 1, free 99500 */
    uint8_t val[128];
    size_t vlen = unhex("02000000000000000100000000000000ac840100000000000000000000000000000000000000000000", val, sizeof val);
    chain_account acc;
    CHECK_EQ_INT(chain_account_decode(md, val, vlen, &acc, err, sizeof err), 0);
    CHECK_EQ_INT(acc.nonce, 2);
    CHECK_EQ_INT(acc.free, 99500);
    CHECK_EQ_INT(acc.reserved, 0);
    CHECK_EQ_INT(chain_account_decode(md, val, vlen - 1, &acc, err, sizeof err), -1);
    CHECK_EQ_INT(chain_account_decode(md, NULL, 0, &acc, err, sizeof err), 0);
    CHECK_EQ_INT(acc.free, 0);

    /* System.Events of a block: inherent (0) succeeded; extrinsic 1 a transfer that succeeded */
    static uint8_t ev[2048];
    size_t elen = unhex(
        "0x28000000000000000246c323253802000000010000000003070707070707070707070707070707070707070707070707070707070707070700000100000006000707070707070707070707070707070707070707070707070707070707070707f4010000000000000000010000000602c55efa9bf9336697e618f315b256dd4709995c3fdcd1b122b118ef9919719f190707070707070707070707070707070707070707070707070707070707070707f40100000000000000000100000036030000010000000005c55efa9bf9336697e618f315b256dd4709995c3fdcd1b122b118ef9919719f19ea397e7e47f28ab120c74afe8823fdfef6c5a608173857ce113e43307eaeeb21000001000000360300000100000036010000010000002000c55efa9bf9336697e618f315b256dd4709995c3fdcd1b122b118ef9919719f190000000000000000000000000000000000000100000000000246c3232538000000",
        ev, sizeof ev);
    chain_outcome oc;
    CHECK_EQ_INT(chain_extrinsic_outcome(md, ev, elen, 1, &oc, err, sizeof err), 0);
    CHECK(oc.found && oc.success);
    CHECK_EQ_INT(chain_extrinsic_outcome(md, ev, elen, 0, &oc, err, sizeof err), 0);
    CHECK(oc.found && oc.success);
    CHECK_EQ_INT(chain_extrinsic_outcome(md, ev, elen, 2, &oc, err, sizeof err), 0);
    CHECK(!oc.found);
    CHECK_EQ_INT(chain_extrinsic_outcome(md, ev, elen - 3, 1, &oc, err, sizeof err), -1);
    /* extrinsic 1 failed: Token(FundsUnavailable) */
    elen = unhex("0x0c000000000000000246c323253802000000010000002000c55efa9bf9336697e618f315b256dd4709995c3fdcd1b122b118ef9919719f1900000000000000000000000000000000000001000000000107000246c3232538000000",
                 ev, sizeof ev);
    CHECK_EQ_INT(chain_extrinsic_outcome(md, ev, elen, 1, &oc, err, sizeof err), 0);
    CHECK(oc.found && !oc.success);
    CHECK_EQ_STR(oc.reason, "insufficient-funds");
    CHECK_EQ_STR(oc.detail, "Token(FundsUnavailable)");
    /* variant field accessors agree (Balances.Transfer {from, to, amount} via RuntimeEvent) */
    uint32_t bal_event = UINT32_MAX;
    char pname[32];
    CHECK_EQ_INT(metadata_pallet_by_index(md, 6, pname, sizeof pname, &bal_event, NULL), 0);
    CHECK_EQ_STR(pname, "Balances");
    metadata_variant tv, tv2;
    CHECK_EQ_INT(metadata_find_variant(md, bal_event, "Transfer", &tv), 0);
    char vname[32];
    CHECK_EQ_INT(metadata_variant_by_index(md, bal_event, tv.index, vname, sizeof vname, &tv2), 0);
    CHECK_EQ_STR(vname, "Transfer");
    CHECK_EQ_INT(tv2.field_count, 3);
    for (size_t i = 0; i < tv.field_count; i++) {
        uint32_t ft;
        CHECK_EQ_INT(metadata_variant_field_type(md, bal_event, tv.index, i, &ft), 0);
        CHECK_EQ_INT(ft, tv.field_types[i]);
    }
    uint32_t ft;
    CHECK_EQ_INT(metadata_variant_field_type(md, bal_event, tv.index, 3, &ft), -1);
    metadata_storage se;
    CHECK_EQ_INT(metadata_storage_entry(md, "System", "Account", &se), 0);
    CHECK(se.is_map && se.hasher_count == 1 && se.hashers[0] == 2);
    CHECK_EQ_INT(metadata_storage_entry(md, "System", "Nope", &se), -1);
    metadata_free(md);

    CHECK_EQ_STR(chain_dispatch_reason("Token", NULL, "NotExpendable"), "keep-alive");
    CHECK_EQ_STR(chain_dispatch_reason("Token", NULL, "BelowMinimum"), "existential-deposit");
    CHECK_EQ_STR(chain_dispatch_reason("Module", "Balances", "InsufficientBalance"), "insufficient-funds");
    CHECK_EQ_STR(chain_dispatch_reason("Module", "Balances", "ExistentialDeposit"), "existential-deposit");
    CHECK_EQ_STR(chain_dispatch_reason("Module", "Balances", "Expendability"), "keep-alive");
    CHECK_EQ_STR(chain_dispatch_reason("Module", "Identity", "X"), "dispatch-error");
    CHECK_EQ_STR(chain_dispatch_reason("BadOrigin", NULL, ""), "dispatch-error");
}

/* ---- outbox state machine ---- */

static store *S;
static outbox *OB;

static MDB_txn *wtxn(void) {
    MDB_txn *t = NULL;
    mdb_txn_begin(store_env(S), NULL, 0, &t);
    return t;
}

static int state_of(const char *key) {
    MDB_txn *t;
    mdb_txn_begin(store_env(S), NULL, MDB_RDONLY, &t);
    outbox_intent it;
    int rc = outbox_get(OB, t, key, strlen(key), &it);
    mdb_txn_abort(t);
    return rc ? -1 : (int)it.state;
}

static outbox_intent get(const char *key) {
    MDB_txn *t;
    mdb_txn_begin(store_env(S), NULL, MDB_RDONLY, &t);
    outbox_intent it;
    memset(&it, 0, sizeof it);
    outbox_get(OB, t, key, strlen(key), &it);
    mdb_txn_abort(t);
    return it;
}

static uint64_t make_ext(const uint8_t wallet[32], const char *const *keys, size_t n) {
    outbox_ext x;
    memset(&x, 0, sizeof x);
    memcpy(x.from, wallet, 32);
    x.intent_count = n;
    x.keys = calloc(n, sizeof *x.keys);
    for (size_t i = 0; i < n; i++) snprintf(x.keys[i], sizeof x.keys[i], "%s", keys[i]);
    uint8_t bytes[3] = {1, 2, 3};
    x.bytes = bytes;
    x.bytes_len = 3;
    memset(x.hash, 0xab, 32);
    x.nonce = 7;
    x.era_birth = 100;
    x.era_period = 64;
    char err[200];
    MDB_txn *t = wtxn();
    int rc = outbox_ext_create(OB, t, &x, 1000, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) printf("%s\n", err);
    mdb_txn_commit(t);
    x.bytes = NULL;
    outbox_ext_free(&x);
    return x.id;
}

static void set_ext_state(uint64_t id, outbox_ext_state st, const char *reason) {
    MDB_txn *t = wtxn();
    outbox_ext x;
    CHECK_EQ_INT(outbox_ext_get(OB, t, id, &x), 0);
    x.state = st;
    x.block_number = 120;
    snprintf(x.reason, sizeof x.reason, "%s", reason);
    CHECK(outbox_ext_update(OB, t, &x, 2000, NULL) >= 0);
    outbox_ext_free(&x);
    mdb_txn_commit(t);
}

static int count_cb(void *ctx, const outbox_intent *it) { (void)it; (*(int *)ctx)++; return 0; }

static void test_outbox(void) {
    char dir[] = "/tmp/test_settlement_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[300];
    CHECK_EQ_INT(store_open(&S, dir, 1 << 26, false, err, sizeof err), 0);
    CHECK_EQ_INT(outbox_open(S, &OB, err, sizeof err), 0);
    uint8_t w1[32], w2[32], to[32], to2[32];
    memset(w1, 1, 32); memset(w2, 2, 32); memset(to, 9, 32); memset(to2, 8, 32);

    MDB_txn *t = wtxn();
    CHECK_EQ_INT(outbox_add_intent(OB, t, "a", 1, w1, to, 100, NULL, 0, err, sizeof err), OUTBOX_ADDED);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "a", 1, w1, to, 100, NULL, 0, err, sizeof err), OUTBOX_EXISTS);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "a", 1, w1, to, 101, NULL, 0, err, sizeof err), OUTBOX_CONFLICT);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "b", 1, w1, to2, 200, (const uint8_t *)"memo", 4, err, sizeof err), OUTBOX_ADDED);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "c", 1, w1, to, 300, NULL, 0, err, sizeof err), OUTBOX_ADDED);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "x", 1, w2, to, 5, NULL, 0, err, sizeof err), OUTBOX_ADDED);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "y", 1, w2, to, 0, NULL, 0, err, sizeof err), OUTBOX_ERROR);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "bad key", 7, w2, to, 1, NULL, 0, err, sizeof err), OUTBOX_ERROR);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "k,2", 3, w2, to, 1, NULL, 0, err, sizeof err), OUTBOX_ERROR);
    CHECK_EQ_INT(outbox_add_intent(OB, t, "z", 1, w2, to, 6, NULL, 0, err, sizeof err), OUTBOX_ADDED);
    mdb_txn_commit(t);
    /* an aborted transaction leaves nothing */
    t = wtxn();
    CHECK_EQ_INT(outbox_add_intent(OB, t, "gone", 4, w1, to, 1, NULL, 0, err, sizeof err), OUTBOX_ADDED);
    mdb_txn_abort(t);
    CHECK_EQ_INT(state_of("gone"), -1);
    CHECK_EQ_INT(get("b").memo_len, 4);

    t = wtxn();
    outbox_intent pend[8];
    CHECK_EQ_INT(outbox_wallet_pending(OB, t, w1, pend, 8), 3);
    CHECK_EQ_STR(pend[0].key, "a");
    CHECK_EQ_STR(pend[2].key, "c");
    CHECK_EQ_INT(outbox_wallet_pending(OB, t, w2, pend, 8), 2);
    /* cancel: only while pending */
    CHECK_EQ_INT(outbox_cancel(OB, t, "z", 1, "deleted"), 0);
    CHECK_EQ_INT(outbox_cancel(OB, t, "nope", 4, "deleted"), MDB_NOTFOUND);
    CHECK_EQ_INT(outbox_wallet_pending(OB, t, w2, pend, 8), 1);
    mdb_txn_commit(t);
    CHECK_EQ_INT(state_of("z"), OUTBOX_CANCELLED);

    /* sign a batch of a, b for w1 */
    const char *ab[] = {"a", "b"};
    uint64_t e1 = make_ext(w1, ab, 2);
    CHECK(e1 > 0);
    CHECK_EQ_INT(state_of("a"), OUTBOX_SIGNED);
    CHECK_EQ_INT(get("a").ext_id, e1);
    t = wtxn();
    CHECK_EQ_INT(outbox_wallet_inflight(OB, t, w1), e1);
    CHECK_EQ_INT(outbox_cancel(OB, t, "a", 1, "deleted"), 1); /* too late */
    CHECK_EQ_INT(outbox_wallet_pending(OB, t, w1, pend, 8), 1);
    /* a second extrinsic for a wallet in flight is refused */
    outbox_ext x2;
    memset(&x2, 0, sizeof x2);
    memcpy(x2.from, w1, 32);
    x2.intent_count = 1;
    char k2[1][OUTBOX_MAX_KEY + 1] = {"c"};
    x2.keys = k2;
    CHECK_EQ_INT(outbox_ext_create(OB, t, &x2, 1, err, sizeof err), -1);
    mdb_txn_abort(t);

    /* the stored extrinsic keeps its exact bytes and era */
    t = wtxn();
    outbox_ext x;
    CHECK_EQ_INT(outbox_ext_get(OB, t, e1, &x), 0);
    CHECK_EQ_INT(x.bytes_len, 3);
    CHECK_EQ_INT(x.bytes[2], 3);
    CHECK_EQ_INT(x.era_birth, 100);
    CHECK_EQ_INT(x.nonce, 7);
    CHECK_EQ_INT(x.intent_count, 2);
    CHECK_EQ_STR(x.keys[1], "b");
    outbox_ext_free(&x);
    mdb_txn_abort(t);

    set_ext_state(e1, EXT_SUBMITTED, "");
    CHECK_EQ_INT(state_of("b"), OUTBOX_SUBMITTED);
    set_ext_state(e1, EXT_INCLUDED, "");
    CHECK_EQ_INT(state_of("b"), OUTBOX_INCLUDED);
    CHECK_EQ_INT(get("b").block_number, 120);
    /* the batch failed on chain: nothing moved, both retried alone */
    set_ext_state(e1, EXT_FAILED, "keep-alive");
    CHECK_EQ_INT(state_of("a"), OUTBOX_PENDING);
    CHECK(get("a").flags & OUTBOX_FLAG_SOLO);
    CHECK_EQ_INT(get("a").ext_id, 0);
    t = wtxn();
    CHECK_EQ_INT(outbox_wallet_inflight(OB, t, w1), 0);
    CHECK_EQ_INT(outbox_wallet_pending(OB, t, w1, pend, 8), 3);
    CHECK_EQ_STR(pend[0].key, "a"); /* arrival order kept */
    mdb_txn_abort(t);

    /* alone, a fails for good */
    const char *a1[] = {"a"};
    uint64_t e2 = make_ext(w1, a1, 1);
    set_ext_state(e2, EXT_FAILED, "keep-alive");
    CHECK_EQ_INT(state_of("a"), OUTBOX_FAILED);
    CHECK_EQ_STR(get("a").reason, "keep-alive");
    /* b alone expires, comes back, then is finalized */
    const char *b1[] = {"b"};
    uint64_t e3 = make_ext(w1, b1, 1);
    set_ext_state(e3, EXT_EXPIRED, "era-expired");
    CHECK_EQ_INT(state_of("b"), OUTBOX_PENDING);
    CHECK_EQ_STR(get("b").reason, "era-expired");
    uint64_t e4 = make_ext(w1, b1, 1);
    CHECK(e4 > e3);
    set_ext_state(e4, EXT_FINALIZED, "");
    CHECK_EQ_INT(state_of("b"), OUTBOX_FINALIZED);
    outbox_intent b = get("b");
    CHECK_EQ_INT(b.ext_id, e4);
    CHECK(b.ts[OUTBOX_PENDING] > 0 && b.ts[OUTBOX_SIGNED] == 1000 && b.ts[OUTBOX_FINALIZED] == 2000);
    /* an old extrinsic's update no longer touches an intent that moved on */
    set_ext_state(e3, EXT_EXPIRED, "era-expired");
    CHECK_EQ_INT(state_of("b"), OUTBOX_FINALIZED);

    t = wtxn();
    CHECK_EQ_INT(outbox_fail_pending(OB, t, w2, "no-wallet", 3000), 1);
    mdb_txn_commit(t);
    CHECK_EQ_INT(state_of("x"), OUTBOX_FAILED);
    int all = 0, fin = 0;
    t = wtxn();
    outbox_list(OB, t, -1, count_cb, &all);
    outbox_list(OB, t, OUTBOX_FINALIZED, count_cb, &fin);
    mdb_txn_abort(t);
    CHECK_EQ_INT(all, 5);
    CHECK_EQ_INT(fin, 1);
    CHECK_EQ_INT(outbox_state_parse("finalized"), OUTBOX_FINALIZED);
    CHECK_EQ_INT(outbox_state_parse("nope"), -1);

    outbox_close(OB);
    store_close(S);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

UNIT_MAIN({
    test_submit_errors();
    test_era();
    test_batching();
    test_keys_and_state();
    test_outbox();
})
