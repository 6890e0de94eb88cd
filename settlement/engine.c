/* Settlement engine thread: chain context, inclusion search in finalized and
 * best blocks, era expiry, (re)submission of stored bytes, and signing of new
 * batches, all through short write transactions on the outbox. See engine.h. */
#include "engine.h"
#include "chain_state.h"
#include "extrinsic.h"
#include "hex.h"
#include "log.h"
#include "metadata.h"
#include "node_client.h"
#include "settle_plan.h"
#include "ss58.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* Most wallets with an extrinsic in flight at once: new ones wait (G1RELAY_MAX_INFLIGHT
 * lowers it, for tests). Every in-flight extrinsic is always loaded and searched,
 * whatever this limit: one left out could be included unseen, then "expire". */
#define MAX_INFLIGHT 4096
#define MAX_SCAN_PER_ROUND 256
#define MAX_BEST_PEEK 16
#define MAX_WALLETS_PER_ROUND 256

typedef struct {
    uint64_t id;
    uint8_t hash[32];
    outbox_ext_state state;
    uint64_t era_birth;
    uint32_t era_period;
    uint8_t from[32];
} inflight;

struct engine {
    store *st;
    outbox *ob;
    keystore *ks;
    engine_options o;
    int lock_fd;
    bool locked;             /* holds the settlement lock (rounds run only then) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool wake, stop;
    /* engine thread only */
    node_client *nc;
    metadata *md;
    bool chain_ready;
    uint8_t genesis[32];
    uint32_t spec_version, tx_version;
    uint16_t ss58_prefix;
    uint32_t era_period;
    uint64_t finalized;
    uint8_t finalized_hash[32];
    uint64_t best;
    uint64_t scanned;        /* highest finalized block searched */
    size_t heads_node;       /* node that gave the finalized head of this round */
    bool scanned_set;
    inflight *fl;
    size_t fl_count, fl_cap;
    bool fl_incomplete;      /* could not load every in-flight extrinsic this round */
    size_t max_inflight;
    uint64_t last_keystore_reload_ms;
    uint64_t last_version_check_ms;
    /* for relay mode */
    bool owns_ob_ks;
};

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static engine *running_engine;

/* ---- test crash points ---- */

static void crash_point(const char *name) {
    static int parsed = 0;
    static char point[32];
    static long target = 0, hits = 0;
    if (!parsed) {
        parsed = 1;
        const char *env = getenv("G1RELAY_CRASH_AT");
        if (env) {
            const char *colon = strchr(env, ':');
            size_t n = colon ? (size_t)(colon - env) : strlen(env);
            if (n < sizeof point) {
                memcpy(point, env, n);
                point[n] = 0;
                target = colon ? strtol(colon + 1, NULL, 10) : 1;
            }
        }
    }
    if (!point[0] || strcmp(point, name) != 0) return;
    if (++hits == target) {
        log_warn("G1RELAY_CRASH_AT=%s:%ld reached: killing the process", name, target);
        kill(getpid(), SIGKILL);
    }
}

/* ---- options ---- */

bool engine_wanted(const config *cfg) {
    const char *const *items;
    return config_bool(cfg, NULL, "settlement", false) || config_list(cfg, NULL, "g1_nodes", &items) > 0;
}

int engine_options_from_config(const config *cfg, engine_options *o, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    const char *const *items;
    size_t n = config_list(cfg, NULL, "g1_nodes", &items);
    if (n == 0) { snprintf(err, errlen, "no Ğ1 node configured (--g1-node URL or config g1_nodes)"); return -1; }
    if (n > 16) { snprintf(err, errlen, "at most 16 g1_nodes"); return -1; }
    for (size_t i = 0; i < n; i++) o->nodes[i] = items[i];
    o->node_count = n;
    long long w = config_int(cfg, NULL, "batch_window_ms", 2000), m = config_int(cfg, NULL, "batch_max", 50),
              e = config_int(cfg, NULL, "era_period", 64), p = config_int(cfg, NULL, "settlement_poll_ms", 1000),
              t = config_int(cfg, NULL, "g1_rpc_timeout_ms", 10000), r = config_int(cfg, NULL, "g1_resubmit_ms", 12000);
    if (w < 0 || w > 3600000) { snprintf(err, errlen, "batch_window_ms must be 0..3600000"); return -1; }
    if (m < 1 || m > OUTBOX_MAX_BATCH) { snprintf(err, errlen, "batch_max must be 1..%d", OUTBOX_MAX_BATCH); return -1; }
    if (plan_era_period((uint64_t)(e < 0 ? 0 : e), 0) == 0) { snprintf(err, errlen, "era_period must be a power of two 4..65536"); return -1; }
    if (p < 10 || p > 600000) { snprintf(err, errlen, "settlement_poll_ms must be 10..600000"); return -1; }
    if (t < 100 || t > 600000) { snprintf(err, errlen, "g1_rpc_timeout_ms must be 100..600000"); return -1; }
    if (r < 100 || r > 3600000) { snprintf(err, errlen, "g1_resubmit_ms must be 100..3600000"); return -1; }
    o->batch_window_ms = (uint32_t)w;
    o->batch_max = (uint32_t)m;
    o->era_period = (uint32_t)e;
    o->poll_ms = (uint32_t)p;
    o->rpc_timeout_ms = (uint32_t)t;
    o->resubmit_ms = (uint32_t)r;
    snprintf(o->data_dir, sizeof o->data_dir, "%s", config_str(cfg, NULL, "data_dir", "./data"));
    return config_file_path(cfg, "tls_ca_file", o->tls_ca_file, sizeof o->tls_ca_file, err, errlen);
}

/* ---- notifications ---- */

static void notify_keys(engine *e, char (*keys)[OUTBOX_MAX_KEY + 1], size_t n) {
    if (!e->o.on_status || n == 0) return;
    MDB_txn *txn;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, MDB_RDONLY, &txn)) return;
    outbox_intent *it = malloc(sizeof *it);
    if (it) {
        for (size_t i = 0; i < n; i++)
            if (outbox_get(e->ob, txn, keys[i], strlen(keys[i]), it) == 0) e->o.on_status(e->o.on_status_ctx, it);
        free(it);
    }
    mdb_txn_abort(txn);
}

/* Writes an extrinsic's new state (and its intents') in one transaction. */
static int ext_commit(engine *e, outbox_ext *x) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(outbox_env(e->ob), NULL, 0, &txn);
    if (rc) { log_error("settlement: cannot begin a transaction: %s", mdb_strerror(rc)); return -1; }
    size_t changed = 0;
    if (outbox_ext_update(e->ob, txn, x, wall_ms(), &changed) < 0) {
        mdb_txn_abort(txn);
        log_error("settlement: cannot record extrinsic %llu", (unsigned long long)x->id);
        return -1;
    }
    rc = mdb_txn_commit(txn);
    if (rc) { log_error("settlement: commit failed: %s", mdb_strerror(rc)); return -1; }
    notify_keys(e, x->keys, x->intent_count);
    return 0;
}

/* ---- chain context ---- */

static bool load_metadata(engine *e) {
    char err[300];
    char *hex = NULL;
    size_t len = 0;
    if (node_metadata_hex(e->nc, &hex, &len, err, sizeof err) != NODE_OK) { log_warn("settlement: metadata: %s", err); return false; }
    metadata *md = metadata_parse((const uint8_t *)hex, len, err, sizeof err);
    free(hex);
    if (!md) { log_error("settlement: node metadata unusable: %s", err); return false; }
    uint64_t prefix = 0, bhc = 0;
    if (metadata_constant_uint(md, "System", "SS58Prefix", &prefix) < 0 || prefix > SS58_MAX_PREFIX) {
        metadata_free(md);
        log_error("settlement: metadata has no System.SS58Prefix");
        return false;
    }
    metadata_constant_uint(md, "System", "BlockHashCount", &bhc);
    metadata_free(e->md);
    e->md = md;
    e->ss58_prefix = (uint16_t)prefix;
    e->era_period = plan_era_period(e->o.era_period, bhc);
    return true;
}

static bool chain_context(engine *e) {
    char err[300];
    uint64_t now = mono_ms();
    if (!e->chain_ready) {
        if (node_genesis_hash(e->nc, e->genesis, err, sizeof err) != NODE_OK) { log_warn("settlement: genesis: %s", err); return false; }
        if (node_runtime_version(e->nc, &e->spec_version, &e->tx_version, err, sizeof err) != NODE_OK) return false;
        if (!load_metadata(e)) return false;
        e->chain_ready = true;
        e->last_version_check_ms = now;
        log_info("settlement: connected to %s (spec %u, tx %u)", node_client_current_url(e->nc), e->spec_version, e->tx_version);
    } else if (now - e->last_version_check_ms >= 5000) {
        uint32_t spec, txv;
        if (node_runtime_version(e->nc, &spec, &txv, err, sizeof err) != NODE_OK) return false;
        e->last_version_check_ms = now;
        if (spec != e->spec_version || txv != e->tx_version) {
            log_info("settlement: runtime upgrade %u -> %u: reading the metadata again", e->spec_version, spec);
            uint32_t old_spec = e->spec_version, old_tx = e->tx_version;
            e->spec_version = spec;
            e->tx_version = txv;
            if (!load_metadata(e)) { e->spec_version = old_spec; e->tx_version = old_tx; return false; }
        }
    }
    uint8_t fh[32];
    uint64_t fnum, bnum;
    if (node_finalized_head(e->nc, fh, err, sizeof err) != NODE_OK) return false;
    if (node_header(e->nc, fh, &fnum, NULL, err, sizeof err) != NODE_OK) return false;
    if (node_header(e->nc, NULL, &bnum, NULL, err, sizeof err) != NODE_OK) return false;
    e->heads_node = node_client_current(e->nc);
    if (fnum < e->finalized) return false; /* a lagging node after failover: wait until it catches up */
    e->finalized = fnum;
    memcpy(e->finalized_hash, fh, 32);
    e->best = bnum < fnum ? fnum : bnum;
    return true;
}

/* ---- in-flight set ---- */

/* Room for one more in-flight entry. false when out of memory. */
static bool fl_reserve(engine *e) {
    if (e->fl_count < e->fl_cap) return true;
    size_t cap = e->fl_cap ? e->fl_cap * 2 : 64;
    inflight *n = realloc(e->fl, cap * sizeof *n);
    if (!n) return false;
    e->fl = n;
    e->fl_cap = cap;
    return true;
}

static void collect_inflight(void *ctx, uint64_t id) {
    engine *e = ctx;
    if (!fl_reserve(e)) { e->fl_incomplete = true; return; }
    e->fl[e->fl_count++].id = id;
}

static bool load_inflight(engine *e) {
    MDB_txn *txn;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, MDB_RDONLY, &txn)) return false;
    e->fl_count = 0;
    e->fl_incomplete = false;
    if (outbox_inflight_each(e->ob, txn, collect_inflight, e) != 0) e->fl_incomplete = true;
    size_t k = 0;
    for (size_t i = 0; i < e->fl_count; i++) {
        outbox_ext x;
        if (outbox_ext_get(e->ob, txn, e->fl[i].id, &x) != 0) { e->fl_incomplete = true; continue; }
        inflight f = {.id = x.id, .state = x.state, .era_birth = x.era_birth, .era_period = x.era_period};
        memcpy(f.hash, x.hash, 32);
        memcpy(f.from, x.from, 32);
        outbox_ext_free(&x);
        e->fl[k++] = f;
    }
    e->fl_count = k;
    mdb_txn_abort(txn);
    if (e->fl_incomplete) log_error("settlement: cannot load every in-flight extrinsic: nothing is searched, expired or signed this round");
    return !e->fl_incomplete; /* searching without all of them could miss an inclusion */
}

static int ext_load(engine *e, uint64_t id, outbox_ext *x) {
    MDB_txn *txn;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, MDB_RDONLY, &txn)) return -1;
    int rc = outbox_ext_get(e->ob, txn, id, x);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- inclusion ---- */

/* The extrinsic was found at index idx of finalized block n: read its outcome. */
static bool settle_found(engine *e, inflight *f, uint64_t n, const uint8_t bh[32], uint32_t idx) {
    char err[300];
    uint8_t key[32];
    chain_storage_key_plain("System", "Events", key);
    uint8_t *ev = NULL;
    size_t evlen = 0;
    bool present;
    if (node_storage(e->nc, key, 32, bh, &ev, &evlen, &present, err, sizeof err) != NODE_OK) {
        log_warn("settlement: events of block %llu: %s", (unsigned long long)n, err);
        return false;
    }
    /* The events of a block are laid out by the runtime in force at that block: a
     * block from before a runtime upgrade is read with its own metadata. */
    const metadata *md = e->md;
    metadata *md_at = NULL;
    uint32_t spec_at, tx_at;
    if (node_runtime_version_at(e->nc, bh, &spec_at, &tx_at, err, sizeof err) != NODE_OK) {
        log_warn("settlement: runtime version at block %llu: %s", (unsigned long long)n, err);
        free(ev);
        return false;
    }
    if (spec_at != e->spec_version) {
        char *hex = NULL;
        size_t hlen = 0;
        if (node_metadata_hex_at(e->nc, bh, &hex, &hlen, err, sizeof err) == NODE_OK)
            md_at = metadata_parse((const uint8_t *)hex, hlen, err, sizeof err);
        free(hex);
        if (!md_at) {
            log_warn("settlement: metadata of runtime %u at block %llu: %s", spec_at, (unsigned long long)n, err);
            free(ev);
            return false;
        }
        md = md_at;
    }
    chain_outcome oc;
    int r = chain_extrinsic_outcome(md, ev, evlen, idx, &oc, err, sizeof err);
    metadata_free(md_at);
    free(ev);
    if (r < 0 || !oc.found) {
        log_error("settlement: block %llu: cannot read the outcome of extrinsic %u: %s", (unsigned long long)n, idx,
                  r < 0 ? err : "no ExtrinsicSuccess/ExtrinsicFailed event");
        return false;
    }
    outbox_ext x;
    if (ext_load(e, f->id, &x) != 0) return false;
    x.block_number = n;
    memcpy(x.block_hash, bh, 32);
    x.ext_index = idx;
    if (oc.success) {
        x.state = EXT_FINALIZED;
        x.reason[0] = 0;
    } else {
        x.state = EXT_FAILED;
        snprintf(x.reason, sizeof x.reason, "%s", oc.reason);
        log_info("settlement: extrinsic %llu failed in block %llu: %s (%s)", (unsigned long long)x.id, (unsigned long long)n,
                 oc.reason, oc.detail);
    }
    int rc = ext_commit(e, &x);
    outbox_ext_free(&x);
    if (rc == 0) {
        f->state = oc.success ? EXT_FINALIZED : EXT_FAILED;
        crash_point("after-include");
    }
    return rc == 0;
}

static bool fl_active(const inflight *f) { return f->state <= EXT_INCLUDED; }

/* Searches finalized blocks scanned+1..finalized. false on a node error. */
static bool scan_finalized(engine *e) {
    size_t active = 0;
    uint64_t min_birth = UINT64_MAX;
    for (size_t i = 0; i < e->fl_count; i++)
        if (fl_active(&e->fl[i])) { active++; if (e->fl[i].era_birth < min_birth) min_birth = e->fl[i].era_birth; }
    if (!e->scanned_set) {
        e->scanned = active ? (min_birth < e->finalized ? min_birth : e->finalized) : e->finalized;
        e->scanned_set = true;
    }
    if (!active) { if (e->scanned < e->finalized) e->scanned = e->finalized; return true; }
    /* no active extrinsic can be in a block after the last block of its era */
    uint64_t max_last = 0;
    for (size_t i = 0; i < e->fl_count; i++)
        if (fl_active(&e->fl[i])) {
            uint64_t last = plan_era_last_block(e->fl[i].era_birth, e->fl[i].era_period);
            if (last > max_last) max_last = last;
        }
    char err[300];
    for (int k = 0; k < MAX_SCAN_PER_ROUND && e->scanned < e->finalized && e->scanned < max_last; k++) {
        uint64_t n = e->scanned + 1;
        uint8_t bh[32];
        bool found;
        if (node_block_hash(e->nc, n, bh, &found, err, sizeof err) != NODE_OK || !found) return false;
        uint8_t *hashes;
        size_t count;
        if (node_block_extrinsic_hashes(e->nc, bh, &hashes, &count, err, sizeof err) != NODE_OK) return false;
        if (node_client_current(e->nc) != e->heads_node) {
            /* failover mid-round: this node's block n may not be final; read again next round */
            free(hashes);
            return false;
        }
        bool ok = true;
        for (size_t i = 0; i < e->fl_count && ok; i++) {
            inflight *f = &e->fl[i];
            if (!fl_active(f)) continue;
            for (size_t j = 0; j < count; j++)
                if (memcmp(hashes + 32 * j, f->hash, 32) == 0) { ok = settle_found(e, f, n, bh, (uint32_t)j); break; }
        }
        free(hashes);
        if (!ok) return false; /* retry this block next round */
        e->scanned = n;
    }
    /* every active era searched to its end: nothing to find in later blocks */
    if (e->scanned >= max_last && e->scanned < e->finalized) e->scanned = e->finalized;
    return true;
}

/* Best blocks above the finalized head: only the `included` state. */
static void peek_best(engine *e) {
    char err[300];
    uint64_t from = e->finalized + 1, to = e->best;
    if (to >= from + MAX_BEST_PEEK) from = to - MAX_BEST_PEEK + 1;
    bool any = false;
    for (size_t i = 0; i < e->fl_count; i++) if (e->fl[i].state == EXT_SIGNED || e->fl[i].state == EXT_SUBMITTED) any = true;
    if (!any) return;
    for (uint64_t n = from; n <= to; n++) {
        uint8_t bh[32];
        bool found;
        if (node_block_hash(e->nc, n, bh, &found, err, sizeof err) != NODE_OK || !found) return;
        uint8_t *hashes;
        size_t count;
        if (node_block_extrinsic_hashes(e->nc, bh, &hashes, &count, err, sizeof err) != NODE_OK) return;
        for (size_t i = 0; i < e->fl_count; i++) {
            inflight *f = &e->fl[i];
            if (f->state != EXT_SIGNED && f->state != EXT_SUBMITTED) continue;
            for (size_t j = 0; j < count; j++) {
                if (memcmp(hashes + 32 * j, f->hash, 32) != 0) continue;
                outbox_ext x;
                if (ext_load(e, f->id, &x) == 0) {
                    x.state = EXT_INCLUDED;
                    x.block_number = n;
                    memcpy(x.block_hash, bh, 32);
                    x.ext_index = (uint32_t)j;
                    if (ext_commit(e, &x) == 0) f->state = EXT_INCLUDED;
                    outbox_ext_free(&x);
                }
                break;
            }
        }
        free(hashes);
    }
}

static void expire(engine *e) {
    for (size_t i = 0; i < e->fl_count; i++) {
        inflight *f = &e->fl[i];
        if (!fl_active(f) || !plan_era_expired(f->era_birth, f->era_period, e->finalized, e->scanned)) continue;
        outbox_ext x;
        if (ext_load(e, f->id, &x) != 0) continue;
        log_info("settlement: extrinsic %llu (nonce %llu) expired unincluded at block %llu: signing its intents again",
                 (unsigned long long)x.id, (unsigned long long)x.nonce, (unsigned long long)e->finalized);
        const char *fail = plan_expired_failure(x.reason);
        if (fail) {
            /* never included, and the node refused it for fees: end like a failed
             * dispatch (a batch is retried one transfer at a time, a single one fails) */
            x.state = EXT_FAILED;
            snprintf(x.reason, sizeof x.reason, "%s", fail);
        } else {
            x.state = EXT_EXPIRED;
            snprintf(x.reason, sizeof x.reason, "era-expired");
        }
        if (ext_commit(e, &x) == 0) f->state = x.state;
        outbox_ext_free(&x);
    }
}

/* ---- submission ---- */

static void submit_one(engine *e, inflight *f, bool force) {
    outbox_ext x;
    if (ext_load(e, f->id, &x) != 0) return;
    uint64_t now = wall_ms();
    /* first sending at once; later ones every resubmit_ms */
    if (!force && x.submit_count > 0 && now < x.last_submit_ms + e->o.resubmit_ms) { outbox_ext_free(&x); return; }
    if (x.state == EXT_INCLUDED && !force) { outbox_ext_free(&x); return; }
    crash_point("before-submit");
    submit_kind kind;
    node_rpc_error re;
    char err[300];
    node_status st = node_submit(e->nc, x.bytes, x.bytes_len, &kind, &re, err, sizeof err);
    if (st != NODE_OK && st != NODE_RPC_ERROR) {
        log_warn("settlement: submitting extrinsic %llu: %s", (unsigned long long)x.id, err);
        outbox_ext_free(&x);
        return;
    }
    crash_point("after-submit");
    bool known = kind == SUBMIT_ACCEPTED || kind == SUBMIT_ALREADY_IMPORTED || kind == SUBMIT_STALE ||
                 kind == SUBMIT_BANNED || kind == SUBMIT_PRIORITY || kind == SUBMIT_FUTURE;
    if (kind != SUBMIT_ACCEPTED)
        log_info("settlement: node answered %s to extrinsic %llu (nonce %llu)%s", submit_kind_name(kind), (unsigned long long)x.id,
                 (unsigned long long)x.nonce, known ? ": looking for it in blocks" : ": waiting for its era to end");
    x.last_submit_ms = now;
    x.submit_count++;
    if (kind != SUBMIT_ACCEPTED) snprintf(x.reason, sizeof x.reason, "%s", submit_kind_name(kind));
    else x.reason[0] = 0;
    if (x.state == EXT_SIGNED && known) x.state = EXT_SUBMITTED;
    if (ext_commit(e, &x) == 0) f->state = x.state;
    outbox_ext_free(&x);
}

static void submit_all(engine *e) {
    for (size_t i = 0; i < e->fl_count; i++)
        if (e->fl[i].state == EXT_SIGNED || e->fl[i].state == EXT_SUBMITTED) submit_one(e, &e->fl[i], false);
}

/* ---- new extrinsics ---- */

typedef struct {
    uint8_t wallet[32];
    uint64_t oldest_ms;
    size_t count;
} wallet_work;

typedef struct {
    wallet_work *w;
    size_t n;
} wallet_list;

static void collect_wallet(void *ctx, const uint8_t wallet[32], uint64_t oldest_ms, size_t count) {
    wallet_list *l = ctx;
    if (l->n >= MAX_WALLETS_PER_ROUND) return;
    memcpy(l->w[l->n].wallet, wallet, 32);
    l->w[l->n].oldest_ms = oldest_ms;
    l->w[l->n].count = count;
    l->n++;
}

static void fail_wallet(engine *e, const uint8_t wallet[32], const char *reason) {
    MDB_txn *txn;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, 0, &txn)) return;
    /* remember the keys to notify */
    outbox_intent *pend = malloc(OUTBOX_MAX_BATCH * sizeof *pend);
    char (*keys)[OUTBOX_MAX_KEY + 1] = calloc(OUTBOX_MAX_BATCH, sizeof *keys);
    int n = pend && keys ? outbox_wallet_pending(e->ob, txn, wallet, pend, OUTBOX_MAX_BATCH) : -1;
    for (int i = 0; i < n; i++) snprintf(keys[i], sizeof keys[i], "%s", pend[i].key);
    int failed = n > 0 ? outbox_fail_pending(e->ob, txn, wallet, reason, wall_ms()) : -1;
    if (failed < 0 || mdb_txn_commit(txn)) {
        if (failed < 0) mdb_txn_abort(txn);
    } else {
        log_info("settlement: %d intent(s) failed: %s", failed, reason);
        notify_keys(e, keys, (size_t)n);
    }
    free(pend);
    free(keys);
}

static int sign_cb(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]) { return keystore_signer_sign(ctx, msg, len, sig); }

static void build_for_wallet(engine *e, const wallet_work *w) {
    char err[300];
    uint8_t account[32];
    if (keystore_find(e->ks, w->wallet, account) < 0) {
        /* The plugins reload their own keystore instance on another schedule and may
         * have accepted a payer whose wallet was created (`g1relay wallet create`)
         * since this engine last looked: read the file again before failing. A
         * keystore that cannot be read fails nothing (tried again next round). */
        bool changed = false;
        char kerr[200];
        if (keystore_reload(e->ks, &changed, kerr, sizeof kerr) < 0) {
            log_warn("settlement: keystore: %s", kerr);
            return;
        }
        e->last_keystore_reload_ms = mono_ms();
        if (keystore_find(e->ks, w->wallet, account) < 0) { fail_wallet(e, w->wallet, "no-wallet"); return; }
    }
    char address[SS58_ADDRESS_MAX];
    if (ss58_encode(account, e->ss58_prefix, address, sizeof address) < 0) return;

    /* The account must exist on chain (else no transfer from it can be valid). */
    uint8_t key[CHAIN_STORAGE_KEY_MAX];
    size_t klen = chain_account_storage_key(e->md, account, key);
    if (klen) {
        uint8_t *val;
        size_t vlen;
        bool present;
        if (node_storage(e->nc, key, klen, NULL, &val, &vlen, &present, err, sizeof err) != NODE_OK) return;
        chain_account acc;
        int r = present ? chain_account_decode(e->md, val, vlen, &acc, err, sizeof err) : 0;
        free(val);
        if (!present || (r == 0 && acc.free == 0)) { fail_wallet(e, w->wallet, "insufficient-funds"); return; }
    }

    outbox_intent *pend = malloc(OUTBOX_MAX_BATCH * sizeof *pend);
    plan_batch_result *plan = malloc(sizeof *plan);
    outbox_ext x;
    memset(&x, 0, sizeof x);
    scale_buf call, out;
    scale_buf_init(&call);
    scale_buf_init(&out);
    MDB_txn *txn = NULL;
    if (!pend || !plan) goto done;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, MDB_RDONLY, &txn)) goto done;
    int n = outbox_wallet_pending(e->ob, txn, w->wallet, pend, e->o.batch_max < OUTBOX_MAX_BATCH ? e->o.batch_max * 2 : OUTBOX_MAX_BATCH);
    mdb_txn_abort(txn);
    txn = NULL;
    if (n <= 0) goto done;
    if (!plan_ready((size_t)w->count, w->oldest_ms, wall_ms(), e->o.batch_window_ms, e->o.batch_max, pend[0].flags & OUTBOX_FLAG_SOLO)) goto done;
    if (plan_batch(pend, (size_t)n, e->o.batch_max, plan) == 0) goto done;

    uint64_t nonce;
    if (node_account_next_index(e->nc, address, &nonce, err, sizeof err) != NODE_OK) goto done;

    x.intent_count = plan->selected_count;
    x.keys = calloc(x.intent_count, sizeof *x.keys);
    if (!x.keys) goto done;
    for (size_t i = 0; i < plan->selected_count; i++) snprintf(x.keys[i], sizeof x.keys[i], "%s", pend[plan->selected[i]].key);
    char remark[1200];
    size_t rlen = plan_remark((const char (*)[OUTBOX_MAX_KEY + 1])x.keys, x.intent_count, remark, sizeof remark);
    if (extrinsic_encode_call(e->md, plan->transfers, plan->transfer_count, (const uint8_t *)remark, rlen, &call, err, sizeof err) < 0) {
        log_error("settlement: cannot encode the call: %s", err);
        goto done;
    }
    extrinsic_params p;
    memset(&p, 0, sizeof p);
    p.spec_version = e->spec_version;
    p.tx_version = e->tx_version;
    memcpy(p.genesis_hash, e->genesis, 32);
    p.mortal = true;
    p.era_period = e->era_period;
    p.era_block_number = e->finalized;
    memcpy(p.era_block_hash, e->finalized_hash, 32);
    p.nonce = nonce;
    keystore_signer signer = {.ks = e->ks};
    memcpy(signer.nostr_pubkey, w->wallet, 32);
    if (extrinsic_sign(e->md, &p, call.data, call.len, account, sign_cb, &signer, &out, x.hash, err, sizeof err) < 0) {
        log_error("settlement: cannot sign: %s", err);
        goto done;
    }
    memcpy(x.from, w->wallet, 32);
    memcpy(x.signer, account, 32);
    x.nonce = nonce;
    x.era_birth = e->finalized;
    x.era_period = e->era_period;
    memcpy(x.birth_hash, e->finalized_hash, 32);
    x.spec_version = e->spec_version;
    x.bytes = out.data;
    x.bytes_len = out.len;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, 0, &txn)) goto done;
    if (outbox_ext_create(e->ob, txn, &x, wall_ms(), err, sizeof err) < 0) {
        log_error("settlement: %s", err);
        mdb_txn_abort(txn);
        txn = NULL;
        goto done;
    }
    int rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) { log_error("settlement: commit failed: %s", mdb_strerror(rc)); goto done; }
    char hx[65];
    hex_encode(x.hash, 32, hx);
    log_info("settlement: signed extrinsic %llu 0x%s: %zu intent(s), %zu transfer(s), nonce %llu, era %llu+%u",
             (unsigned long long)x.id, hx, x.intent_count, plan->transfer_count, (unsigned long long)nonce,
             (unsigned long long)x.era_birth, x.era_period);
    notify_keys(e, x.keys, x.intent_count);
    crash_point("after-sign");
    if (fl_reserve(e)) {
        inflight f = {.id = x.id, .state = EXT_SIGNED, .era_birth = x.era_birth, .era_period = x.era_period};
        memcpy(f.hash, x.hash, 32);
        memcpy(f.from, x.from, 32);
        e->fl[e->fl_count++] = f;
        submit_one(e, &e->fl[e->fl_count - 1], true);
    }
done:
    x.bytes = NULL; /* owned by out */
    outbox_ext_free(&x);
    scale_buf_free(&call);
    scale_buf_free(&out);
    free(pend);
    free(plan);
}

static void build_new(engine *e) {
    wallet_list l = {.w = malloc(MAX_WALLETS_PER_ROUND * sizeof(wallet_work)), .n = 0};
    if (!l.w) return;
    MDB_txn *txn;
    if (mdb_txn_begin(outbox_env(e->ob), NULL, MDB_RDONLY, &txn) == 0) {
        outbox_pending_wallets(e->ob, txn, e->o.batch_max, collect_wallet, &l);
        size_t k = 0;
        for (size_t i = 0; i < l.n; i++)
            if (outbox_wallet_inflight(e->ob, txn, l.w[i].wallet) == 0) l.w[k++] = l.w[i];
        l.n = k;
        mdb_txn_abort(txn);
    }
    for (size_t i = 0; i < l.n; i++) {
        pthread_mutex_lock(&e->mu);
        bool stop = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (stop || e->fl_count >= e->max_inflight) break; /* the others wait for a free slot */
        build_for_wallet(e, &l.w[i]);
    }
    free(l.w);
}

/* ---- the thread ---- */

static void round_once(engine *e) {
    uint64_t now = mono_ms();
    if (now - e->last_keystore_reload_ms >= 5000) {
        bool changed;
        char err[200];
        if (keystore_reload(e->ks, &changed, err, sizeof err) < 0) log_warn("settlement: keystore: %s", err);
        e->last_keystore_reload_ms = now;
    }
    if (!chain_context(e)) return;
    if (!load_inflight(e)) return;
    if (scan_finalized(e)) expire(e);
    peek_best(e);
    submit_all(e);
    build_new(e);
}

static void *engine_main(void *arg) {
    engine *e = arg;
    char err[300];
    e->nc = node_client_new(e->o.nodes, e->o.node_count, (int)e->o.rpc_timeout_ms, e->o.tls_ca_file, err, sizeof err);
    if (!e->nc) log_error("settlement: %s", err);
    for (;;) {
        pthread_mutex_lock(&e->mu);
        bool stop = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (stop) break;
        if (!e->locked && flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0) {
            /* whoever settled before (a `pay`, another relay) is gone: everything
             * about the chain is read afresh from the outbox (scan from the oldest
             * in-flight era birth), nothing is assumed from before */
            e->locked = true;
            log_info("settlement: the settlement lock of %s is free: settling payments", e->o.data_dir);
        }
        if (e->nc && e->locked) round_once(e);
        pthread_mutex_lock(&e->mu);
        if (!e->wake && !e->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)e->o.poll_ms * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        e->wake = false;
        pthread_mutex_unlock(&e->mu);
    }
    node_client_free(e->nc);
    e->nc = NULL;
    metadata_free(e->md);
    e->md = NULL;
    return NULL;
}

int engine_start(store *st, outbox *ob, keystore *ks, const engine_options *o, engine **out, char *err, size_t errlen) {
    *out = NULL;
    if (o->node_count == 0) { snprintf(err, errlen, "no Ğ1 node configured"); return -1; }
    char path[1100];
    snprintf(path, sizeof path, "%s/settlement.lock", o->data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    bool locked = true;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK && o->wait_for_lock) {
            log_warn("settlement: another g1relay process settles payments for %s: taking over when it stops", o->data_dir);
            locked = false;
        } else {
            close(fd);
            if (errno == EWOULDBLOCK) { snprintf(err, errlen, "another g1relay process settles payments for %s", o->data_dir); return 1; }
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
    }
    engine *e = calloc(1, sizeof *e);
    if (!e) { close(fd); snprintf(err, errlen, "out of memory"); return -1; }
    e->max_inflight = MAX_INFLIGHT;
    const char *mi = getenv("G1RELAY_MAX_INFLIGHT");
    if (mi && atol(mi) > 0 && atol(mi) < MAX_INFLIGHT) e->max_inflight = (size_t)atol(mi);
    e->st = st;
    e->ob = ob;
    e->ks = ks;
    e->o = *o;
    e->lock_fd = fd;
    e->locked = locked;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        close(fd);
        free(e->fl);
        free(e);
        snprintf(err, errlen, "cannot start the settlement thread");
        return -1;
    }
    pthread_mutex_lock(&running_mu);
    running_engine = e;
    pthread_mutex_unlock(&running_mu);
    *out = e;
    return 0;
}

bool engine_lock_held_elsewhere(const char *data_dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/settlement.lock", data_dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

void engine_wake_running(void) {
    pthread_mutex_lock(&running_mu);
    engine_wake(running_engine);
    pthread_mutex_unlock(&running_mu);
}

void engine_wake(engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->wake = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void engine_stop(engine *e) {
    if (!e) return;
    pthread_mutex_lock(&running_mu);
    if (running_engine == e) running_engine = NULL;
    pthread_mutex_unlock(&running_mu);
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    close(e->lock_fd);
    free(e->fl);
    free(e);
}

int engine_start_for_relay(store *st, const config *cfg, engine_status_fn on_status, void *on_status_ctx,
                           engine **out, char *err, size_t errlen) {
    *out = NULL;
    if (!engine_wanted(cfg)) return 0;
    engine_options o;
    if (engine_options_from_config(cfg, &o, err, errlen) < 0) return -1;
    o.on_status = on_status;
    o.on_status_ctx = on_status_ctx;
    o.wait_for_lock = true; /* a relay started while `pay` settles takes over after it */
    outbox *ob;
    if (outbox_open(st, &ob, err, errlen) < 0) return -1;
    char *pass = NULL;
    size_t plen = 0;
    keystore *ks;
    if (keystore_passphrase_load(config_str(cfg, NULL, "passphrase_file", ""), &pass, &plen, err, errlen) < 0) { outbox_close(ob); return -1; }
    int rc = keystore_open(o.data_dir, pass, plen, true, &ks, err, errlen);
    keystore_passphrase_free(pass, plen);
    if (rc < 0) { outbox_close(ob); return -1; }
    engine *e;
    rc = engine_start(st, ob, ks, &o, &e, err, errlen);
    if (rc == 1) log_warn("settlement: %s: this relay does not settle", err);
    if (rc != 0) {
        keystore_close(ks);
        outbox_close(ob);
        return rc == 1 ? 0 : -1;
    }
    e->owns_ob_ks = true;
    *out = e;
    return 0;
}

void engine_stop_for_relay(engine *e) {
    if (!e) return;
    outbox *ob = e->ob;
    keystore *ks = e->ks;
    bool owns = e->owns_ob_ks;
    engine_stop(e);
    if (owns) {
        keystore_close(ks);
        outbox_close(ob);
    }
}
