/* settle_bench: the settlement engine's local work per intent, without a node:
 * intents added to the outbox (one LMDB transaction per add, as the writer
 * would), then grouped per wallet (plan_batch), encoded as batch_all +
 * remark, signed through the keystore and written durably as extrinsics,
 * exactly as the engine does before sending. Prints RESULT lines.
 *
 *   settle_bench METADATA_FILE [INTENTS [WALLETS [BATCH_MAX]]]
 */
#include "extrinsic.h"
#include "keystore.h"
#include "metadata.h"
#include "outbox.h"
#include "settle_plan.h"
#include "store.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sign_cb(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]) { return keystore_signer_sign(ctx, msg, len, sig); }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: settle_bench METADATA_FILE [INTENTS [WALLETS [BATCH_MAX]]]\n"); return 2; }
    size_t intents = argc > 2 ? (size_t)atol(argv[2]) : 10000;
    size_t wallets = argc > 3 ? (size_t)atol(argv[3]) : 10;
    size_t batch_max = argc > 4 ? (size_t)atol(argv[4]) : 50;
    if (!intents || !wallets || !batch_max || batch_max > OUTBOX_MAX_BATCH || wallets > 1000) { fprintf(stderr, "bad sizes\n"); return 2; }
    if (sodium_init() < 0) return 1;
    char err[300];
    metadata *md = metadata_load_file(argv[1], err, sizeof err);
    if (!md) { fprintf(stderr, "%s\n", err); return 1; }
    char dir[] = "/tmp/settle_bench_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    store *st;
    outbox *ob;
    keystore *ks;
    if (store_open(&st, dir, 1ull << 30, false, err, sizeof err) < 0 || outbox_open(st, &ob, err, sizeof err) < 0 ||
        keystore_open(dir, "bench", 5, true, &ks, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    uint8_t (*npub)[32] = calloc(wallets, 32), (*acct)[32] = calloc(wallets, 32);
    for (size_t w = 0; w < wallets; w++) {
        uint8_t seed[32];
        randombytes_buf(npub[w], 32);
        randombytes_buf(seed, 32);
        if (keystore_add(ks, npub[w], seed, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); return 1; }
        keystore_find(ks, npub[w], acct[w]);
    }
    /* 1. intents in, one transaction each */
    double t0 = now_s();
    for (size_t i = 0; i < intents; i++) {
        MDB_txn *txn;
        mdb_txn_begin(store_env(st), NULL, 0, &txn);
        char key[64];
        int kl = snprintf(key, sizeof key, "bench-%zu", i);
        uint8_t to[32];
        memset(to, 0, 32);
        to[0] = (uint8_t)(i % 20);
        if (outbox_add_intent(ob, txn, key, (size_t)kl, npub[i % wallets], to, 100 + i % 50, NULL, 0, err, sizeof err) != OUTBOX_ADDED) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        mdb_txn_commit(txn);
    }
    double t1 = now_s();
    /* 2. batching, encoding, signing, durable extrinsics (each finalized at once so the wallet is free) */
    outbox_intent *pend = malloc(OUTBOX_MAX_BATCH * 2 * sizeof *pend);
    plan_batch_result *plan = malloc(sizeof *plan);
    size_t extrinsics = 0, signed_intents = 0;
    uint64_t nonce = 0;
    for (bool any = true; any;) {
        any = false;
        for (size_t w = 0; w < wallets; w++) {
            MDB_txn *txn;
            mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn);
            int n = outbox_wallet_pending(ob, txn, npub[w], pend, batch_max);
            mdb_txn_abort(txn);
            if (n <= 0) continue;
            any = true;
            plan_batch(pend, (size_t)n, batch_max, plan);
            outbox_ext x;
            memset(&x, 0, sizeof x);
            x.intent_count = plan->selected_count;
            x.keys = calloc(x.intent_count, sizeof *x.keys);
            for (size_t i = 0; i < x.intent_count; i++) snprintf(x.keys[i], sizeof x.keys[i], "%s", pend[plan->selected[i]].key);
            char remark[1200];
            size_t rl = plan_remark((const char (*)[OUTBOX_MAX_KEY + 1])x.keys, x.intent_count, remark, sizeof remark);
            scale_buf call, out;
            scale_buf_init(&call);
            scale_buf_init(&out);
            extrinsic_params p;
            memset(&p, 0, sizeof p);
            p.spec_version = 1000;
            p.tx_version = 1;
            p.mortal = true;
            p.era_period = 64;
            p.era_block_number = 100;
            p.nonce = nonce++;
            keystore_signer signer = {.ks = ks};
            memcpy(signer.nostr_pubkey, npub[w], 32);
            if (extrinsic_encode_call(md, plan->transfers, plan->transfer_count, (const uint8_t *)remark, rl, &call, err, sizeof err) < 0 ||
                extrinsic_sign(md, &p, call.data, call.len, acct[w], sign_cb, &signer, &out, x.hash, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            memcpy(x.from, npub[w], 32);
            x.bytes = out.data;
            x.bytes_len = out.len;
            x.era_birth = 100;
            x.era_period = 64;
            mdb_txn_begin(store_env(st), NULL, 0, &txn);
            if (outbox_ext_create(ob, txn, &x, 1, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); return 1; }
            mdb_txn_commit(txn);
            mdb_txn_begin(store_env(st), NULL, 0, &txn);
            x.state = EXT_FINALIZED;
            outbox_ext_update(ob, txn, &x, 2, NULL);
            mdb_txn_commit(txn);
            extrinsics++;
            signed_intents += x.intent_count;
            x.bytes = NULL;
            outbox_ext_free(&x);
            scale_buf_free(&call);
            scale_buf_free(&out);
        }
    }
    double t2 = now_s();
    printf("RESULT settle_add_intents_per_s %.0f\n", (double)intents / (t1 - t0));
    printf("RESULT settle_sign_batch_intents_per_s %.0f\n", (double)signed_intents / (t2 - t1));
    printf("RESULT settle_extrinsics_per_1000_intents %.1f\n", 1000.0 * (double)extrinsics / (double)signed_intents);
    printf("RESULT settle_signed_extrinsics_per_s %.0f\n", (double)extrinsics / (t2 - t1));
    free(pend);
    free(plan);
    free(npub);
    free(acct);
    keystore_close(ks);
    outbox_close(ob);
    store_close(st);
    metadata_free(md);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
