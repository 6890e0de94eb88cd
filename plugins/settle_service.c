/* The station service shared by the settlement plugins: settings, keystore, station
 * key, named databases, and the receipt publisher thread (see settle.h). */
#include "settle.h"
#include "hex.h"
#include "event.h"
#include "keystore.h"
#include "log.h"
#include "engine.h"
#include "outbox.h"
#include "relay_ctx.h"
#include "ss58.h"
#include "writer.h"
#include <errno.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUBLISH_INTERVAL_MS 200
#define INFLIGHT_SLOTS 8192
#define INFLIGHT_RETRY_MS 5000
#define PUBLISH_BATCH 512
#define KEYSTORE_RELOAD_MS 1000

typedef struct {
    uint8_t d[32];
    uint8_t status;
    uint8_t has_tx, has_block;
    int64_t created_at;
    uint64_t sent_ms;
} inflight_entry;

static struct {
    pthread_mutex_t lock; /* open/close refcount */
    int refs;
    store *st;
    keystore *ks;
    outbox *ob;
    uint8_t *station_sk; /* sodium_malloc'd 32 bytes */
    uint8_t station_pk[32];
    settle_settings settings;
    settle_dbis dbs;
    /* publisher */
    relay_ctx *ctx;
    pthread_t thread;
    bool running;
    pthread_mutex_t wake_lock;
    pthread_cond_t wake_cond;
    bool wake, stop;
    inflight_entry *inflight; /* publisher thread only */
} svc = {.lock = PTHREAD_MUTEX_INITIALIZER,
         .wake_lock = PTHREAD_MUTEX_INITIALIZER,
         .wake_cond = PTHREAD_COND_INITIALIZER};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *settle_status_name(settle_status s) {
    switch (s) {
    case SETTLE_PENDING: return "pending";
    case SETTLE_SUBMITTED: return "submitted";
    case SETTLE_INCLUDED: return "included";
    case SETTLE_FINALIZED: return "finalized";
    case SETTLE_FAILED: return "failed";
    case SETTLE_CANCELLED: return "cancelled";
    case SETTLE_DUPLICATE: return "duplicate";
    case SETTLE_REFUSED: return "refused";
    default: return "none";
    }
}

settle_status settle_status_parse(const char *s, size_t len) {
    for (int i = SETTLE_PENDING; i <= SETTLE_REFUSED; i++) {
        const char *n = settle_status_name((settle_status)i);
        if (strlen(n) == len && memcmp(n, s, len) == 0) return (settle_status)i;
    }
    return SETTLE_NONE;
}

bool settle_status_final(settle_status s) {
    return s == SETTLE_FINALIZED || s == SETTLE_FAILED || s == SETTLE_CANCELLED || s == SETTLE_DUPLICATE ||
           s == SETTLE_REFUSED;
}

const settle_settings *settle_settings_get(void) { return &svc.settings; }
const settle_dbis *settle_dbs(void) { return &svc.dbs; }
store *settle_store(void) { return svc.st; }
outbox *settle_outbox(void) { return svc.ob; }
bool settle_service_active(void) { return svc.refs > 0; }

bool settle_station_pubkey(uint8_t out[32]) {
    if (svc.refs <= 0) return false;
    memcpy(out, svc.station_pk, 32);
    return true;
}

int settle_wallet_of(const uint8_t pubkey[32], uint8_t account[32]) {
    if (!svc.ks) return -1;
    return keystore_find(svc.ks, pubkey, account);
}

int settle_station_key_ensure(keystore *ks, uint8_t sk[32], uint8_t pk[32], bool *created, char *err, size_t errlen) {
    if (created) *created = false;
    if (keystore_station_key(ks, sk) != 0) {
        secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        if (!c) { snprintf(err, errlen, "out of memory"); return -1; }
        do randombytes_buf(sk, 32);
        while (!secp256k1_ec_seckey_verify(c, sk));
        secp256k1_context_destroy(c);
        if (keystore_set_station_key(ks, sk, err, errlen) != 0) return -1;
        if (created) *created = true;
    }
    if (event_pubkey_of(sk, pk) != 0) {
        snprintf(err, errlen, "the station key in the keystore is not a valid secp256k1 key");
        return -1;
    }
    return 0;
}

/* Loads the station key from the keystore, creating it on first run. */
static int load_station_key(char *err, size_t errlen) {
    svc.station_sk = sodium_malloc(32);
    if (!svc.station_sk) { snprintf(err, errlen, "out of memory"); return -1; }
    bool created;
    if (settle_station_key_ensure(svc.ks, svc.station_sk, svc.station_pk, &created, err, errlen) != 0) return -1;
    if (created) log_info("settlement: created the station key");
    return 0;
}

static int open_dbis(char *err, size_t errlen) {
    struct { const char *name; MDB_dbi *dbi; } t[] = {
        {"g1s.settle", &svc.dbs.settle},       {"g1s.outq", &svc.dbs.outq},
        {"g1s.active", &svc.dbs.active},       {"g1s.reacted", &svc.dbs.reacted},
        {"g1s.daily", &svc.dbs.daily},         {"g1s.req_by_order", &svc.dbs.req_by_order},
        {"g1s.auth_by_req", &svc.dbs.auth_by_req},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = store_open_dbi(svc.st, t[i].name, MDB_CREATE, t[i].dbi);
        if (rc) { snprintf(err, errlen, "database %s: %s", t[i].name, mdb_strerror(rc)); return -1; }
    }
    return 0;
}

static void release(void) {
    if (svc.ob) outbox_close(svc.ob);
    svc.ob = NULL;
    if (svc.ks) keystore_close(svc.ks);
    svc.ks = NULL;
    if (svc.station_sk) sodium_free(svc.station_sk);
    svc.station_sk = NULL;
    svc.st = NULL;
}

int settle_service_open(const config *cfg, store *s, char *err, size_t errlen) {
    pthread_mutex_lock(&svc.lock);
    int rc = 0;
    if (svc.refs > 0) {
        if (svc.st != s) { snprintf(err, errlen, "settlement service already open on another store"); rc = -1; }
        else svc.refs++;
        goto out;
    }
    if (sodium_init() < 0) { snprintf(err, errlen, "libsodium init failed"); rc = -1; goto out; }
    svc.st = s;
    settle_settings *st = &svc.settings;
    st->zen_centimes = config_int(cfg, NULL, "zen_centimes", 10);
    st->max_zen_per_reaction = config_int(cfg, NULL, "max_zen_per_reaction", 1000);
    st->daily_limit_centimes = config_int(cfg, NULL, "daily_limit_centimes", 10000);
    long long prefix = config_int(cfg, NULL, "ss58_prefix", 4450);
    if (st->zen_centimes < 1 || st->zen_centimes > 100000000 || st->max_zen_per_reaction < 1 ||
        st->max_zen_per_reaction > 100000000 || st->daily_limit_centimes < 0 ||
        st->daily_limit_centimes > (int64_t)1 << 50 || prefix < 0 || prefix > 16383) {
        snprintf(err, errlen, "zen_centimes, max_zen_per_reaction, daily_limit_centimes or ss58_prefix out of range");
        rc = -1;
        goto out;
    }
    st->ss58_prefix = (uint16_t)prefix;
    char *pass = NULL;
    size_t plen = 0;
    if (keystore_passphrase_load(config_str(cfg, NULL, "passphrase_file", ""), &pass, &plen, err, errlen) < 0) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (the settlement plugins need the keystore)");
        rc = -1;
        goto out;
    }
    rc = keystore_open(config_str(cfg, NULL, "data_dir", "./data"), pass, plen, true, &svc.ks, err, errlen);
    keystore_passphrase_free(pass, plen);
    if (rc < 0 || load_station_key(err, errlen) < 0 || open_dbis(err, errlen) < 0 ||
        outbox_open(s, &svc.ob, err, errlen) != 0) {
        release();
        rc = -1;
        goto out;
    }
    svc.refs = 1;
    char hexpk[65];
    hex_encode(svc.station_pk, 32, hexpk);
    log_info("settlement: station pubkey %s", hexpk);
out:
    pthread_mutex_unlock(&svc.lock);
    return rc;
}

void settle_service_close(void) {
    pthread_mutex_lock(&svc.lock);
    if (svc.refs > 0 && --svc.refs == 0) release();
    pthread_mutex_unlock(&svc.lock);
}

/* ---- receipts ---- */

/* Appends one tag (its strings, NULL-terminated, at most 4) to a receipt's tag list. */
static void add_tag(const char *tags[][5], const char *const **tagp, uint32_t *n, const char *const *v) {
    size_t k = 0;
    for (; k < 4 && v[k]; k++) tags[*n][k] = v[k];
    tags[*n][k] = NULL;
    tagp[*n] = tags[*n];
    (*n)++;
}

/* Builds, signs and queues one receipt version. */
static int publish_receipt(const uint8_t d[32], const settle_record *rec, settle_status st, const char *reason,
                           const settle_intent_info *info, int64_t created_at) {
    char dhex[65], ehex[SETTLE_MAX_E][65], payer[65], payee[65], amount[24], from[80], to[80], tx[70];
    char bnum[24], bhash[70];
    hex_encode(d, 32, dhex);
    const char *tags[16][5];
    const char *const *tagp[16];
    uint32_t n = 0;
    add_tag(tags, tagp, &n, (const char *const[]){"d", dhex, NULL});
    for (uint32_t i = 0; i < rec->e_count && i < SETTLE_MAX_E; i++) {
        hex_encode(rec->e[i], 32, ehex[i]);
        add_tag(tags, tagp, &n, (const char *const[]){"e", ehex[i], NULL});
    }
    hex_encode(rec->payer, 32, payer);
    add_tag(tags, tagp, &n, (const char *const[]){"p", payer, "", "payer", NULL});
    if (rec->has_payee) {
        hex_encode(rec->payee, 32, payee);
        add_tag(tags, tagp, &n, (const char *const[]){"p", payee, "", "payee", NULL});
    }
    snprintf(amount, sizeof amount, "%llu", (unsigned long long)rec->amount);
    add_tag(tags, tagp, &n, (const char *const[]){"amount", amount, NULL});
    if (rec->has_from && ss58_encode(rec->from, svc.settings.ss58_prefix, from, sizeof from) == 0) add_tag(tags, tagp, &n, (const char *const[]){"from", from, NULL});
    if (rec->has_to && ss58_encode(rec->to, svc.settings.ss58_prefix, to, sizeof to) == 0) add_tag(tags, tagp, &n, (const char *const[]){"to", to, NULL});
    add_tag(tags, tagp, &n, (const char *const[]){"status", settle_status_name(st), NULL});
    bool has_tx = info ? info->has_tx : rec->has_tx;
    bool has_block = info ? info->has_block : rec->has_block;
    if (has_tx && st != SETTLE_PENDING) {
        tx[0] = '0', tx[1] = 'x';
        hex_encode(info ? info->tx : rec->tx, 32, tx + 2);
        add_tag(tags, tagp, &n, (const char *const[]){"tx", tx, NULL});
    }
    if (has_block && (st == SETTLE_INCLUDED || st == SETTLE_FINALIZED)) {
        snprintf(bnum, sizeof bnum, "%llu", (unsigned long long)(info ? info->block_num : rec->block_num));
        bhash[0] = '0', bhash[1] = 'x';
        hex_encode(info ? info->block_hash : rec->block_hash, 32, bhash + 2);
        add_tag(tags, tagp, &n, (const char *const[]){"block", bnum, bhash, NULL});
    }
    if (reason && reason[0] && (st == SETTLE_FAILED || st == SETTLE_REFUSED || st == SETTLE_CANCELLED))
        add_tag(tags, tagp, &n, (const char *const[]){"reason", reason, NULL});
    write_job *j = calloc(1, sizeof *j);
    if (!j) return -1;
    if (event_build_signed(&j->ev, svc.station_sk, created_at, SETTLE_RECEIPT_KIND, tagp, n, "", 0) != 0) {
        free(j);
        return -1;
    }
    j->conn = 0;
    writer_submit(svc.ctx->writer, j);
    return 0;
}

static inflight_entry *inflight_slot(const uint8_t d[32]) {
    uint64_t h;
    memcpy(&h, d, 8);
    return &svc.inflight[h % INFLIGHT_SLOTS];
}

typedef struct {
    uint8_t d[32];
    settle_record rec;
    settle_status st;
    bool use_info;
    settle_intent_info info;
} publish_item;

/* One pass: what needs a new receipt version, read in one read transaction. */
static void publish_round(publish_item *items) {
    MDB_env *env = store_env(svc.st);
    MDB_txn *txn;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0) return;
    size_t n = 0;
    bool new_intents = false;
    uint64_t now = now_ms();
    for (int pass = 0; pass < 2 && n < PUBLISH_BATCH; pass++) {
        MDB_cursor *cur;
        if (mdb_cursor_open(txn, pass == 0 ? svc.dbs.outq : svc.dbs.active, &cur) != 0) continue;
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < PUBLISH_BATCH;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size != 32) continue;
            publish_item *it = &items[n];
            memcpy(it->d, k.mv_data, 32);
            if (settle_record_get(txn, it->d, &it->rec) != 0) continue;
            it->use_info = false;
            if (pass == 0) {
                it->st = (settle_status)it->rec.status;
                if (it->st == SETTLE_PENDING && it->rec.published == SETTLE_NONE) new_intents = true;
            } else {
                MDB_val ok = {32, it->d}, ov;
                if (mdb_get(txn, svc.dbs.outq, &ok, &ov) == 0) continue; /* handled in pass 0 */
                if (settle_intent_get(txn, it->d, &it->info) != 0) continue;
                it->use_info = true;
                it->st = it->info.status;
                if (it->st == it->rec.published && (!it->info.has_tx || it->rec.has_tx) &&
                    (!it->info.has_block || it->rec.has_block))
                    continue;
            }
            inflight_entry *f = inflight_slot(it->d);
            if (memcmp(f->d, it->d, 32) == 0 && f->status == it->st && now - f->sent_ms < INFLIGHT_RETRY_MS &&
                (!it->use_info || (f->has_tx == it->info.has_tx && f->has_block == it->info.has_block)))
                continue;
            n++;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (new_intents) engine_wake_running(); /* committed intents: pay them now, not at the next poll */
    int64_t wall = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        publish_item *it = &items[i];
        inflight_entry *f = inflight_slot(it->d);
        int64_t created_at = wall;
        if (created_at <= it->rec.last_receipt_at) created_at = it->rec.last_receipt_at + 1;
        if (memcmp(f->d, it->d, 32) == 0 && created_at <= f->created_at) created_at = f->created_at + 1;
        const char *reason = it->use_info && it->info.reason[0] ? it->info.reason : it->rec.reason;
        if (publish_receipt(it->d, &it->rec, it->st, reason, it->use_info ? &it->info : NULL, created_at) != 0) {
            log_warn("settlement: could not build a receipt");
            continue;
        }
        memcpy(f->d, it->d, 32);
        f->status = (uint8_t)it->st;
        f->has_tx = it->use_info ? it->info.has_tx : 0;
        f->has_block = it->use_info ? it->info.has_block : 0;
        f->created_at = created_at;
        f->sent_ms = now_ms();
    }
}

static void *publisher_main(void *arg) {
    (void)arg;
    publish_item *items = calloc(PUBLISH_BATCH, sizeof *items);
    if (!items) return NULL;
    uint64_t last_reload = now_ms();
    for (;;) {
        pthread_mutex_lock(&svc.wake_lock);
        if (!svc.wake && !svc.stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + PUBLISH_INTERVAL_MS * 1000000ull;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&svc.wake_cond, &svc.wake_lock, &ts);
        }
        bool stop = svc.stop;
        svc.wake = false;
        pthread_mutex_unlock(&svc.wake_lock);
        if (stop) break;
        if (now_ms() - last_reload >= KEYSTORE_RELOAD_MS) {
            bool changed = false;
            char err[256];
            if (keystore_reload(svc.ks, &changed, err, sizeof err) != 0) log_warn("settlement: keystore reload: %s", err);
            else if (changed) log_info("settlement: keystore reloaded");
            last_reload = now_ms();
        }
        publish_round(items);
    }
    free(items);
    return NULL;
}

void settle_service_wake(void) {
    pthread_mutex_lock(&svc.wake_lock);
    svc.wake = true;
    pthread_cond_signal(&svc.wake_cond);
    pthread_mutex_unlock(&svc.wake_lock);
}

void settle_on_intent_status(void *ctx, const outbox_intent *it) {
    (void)ctx;
    (void)it;
    settle_service_wake();
}

void settle_service_attach(relay_ctx *ctx) {
    if (svc.refs <= 0 || svc.running || !ctx || !ctx->writer) return;
    svc.ctx = ctx;
    svc.inflight = calloc(INFLIGHT_SLOTS, sizeof *svc.inflight);
    if (!svc.inflight) { log_error("settlement: out of memory"); return; }
    svc.stop = false;
    if (pthread_create(&svc.thread, NULL, publisher_main, NULL) != 0) {
        log_error("settlement: cannot start the receipt publisher");
        free(svc.inflight);
        svc.inflight = NULL;
        return;
    }
    svc.running = true;
}

void settle_service_detach(void) {
    if (!svc.running) return;
    pthread_mutex_lock(&svc.wake_lock);
    svc.stop = true;
    pthread_cond_signal(&svc.wake_cond);
    pthread_mutex_unlock(&svc.wake_lock);
    pthread_join(svc.thread, NULL);
    svc.running = false;
    free(svc.inflight);
    svc.inflight = NULL;
    svc.ctx = NULL;
}
