/* Proof that the settlement state follows from the event log: copies the
 * environment, replays every stored event in arrival order (levid) through the
 * plugins' decision code into emptied settlement databases of the copy, and
 * compares the rebuilt records with the live ones (see settle.h). The intents
 * themselves are not re-added: each rebuilt pending settlement must find the live
 * intent with its key. The live environment is only read. */
#include "settle.h"
#include "hex.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    uint8_t d[32];
    settle_record rec;
} live_entry;

/* Status a record had when it was decided (later outbox states are not decisions). */
static settle_status decided(const settle_record *r) {
    switch ((settle_status)r->status) {
    case SETTLE_DUPLICATE:
    case SETTLE_REFUSED: return (settle_status)r->status;
    case SETTLE_FAILED: return strcmp(r->reason, "no-address") == 0 ? SETTLE_FAILED : SETTLE_PENDING;
    default: return SETTLE_PENDING;
    }
}

static bool all_events_held(MDB_txn *txn, const settle_record *r) {
    for (uint32_t i = 0; i < r->e_count && i < SETTLE_MAX_E; i++) {
        const char *json;
        size_t len;
        if (store_get_by_id(settle_store(), txn, r->e[i], &json, &len) != 0) return false;
    }
    return true;
}

static int cmp_entry(const void *a, const void *b) { return memcmp(a, b, 32); }

static bool dir_empty_or_absent(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return true;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
    closedir(d);
    return empty;
}

typedef struct {
    MDB_txn *txn;
    uint64_t count;
    int rc;
} replay_ctx;

static int replay_one(void *vctx, const char *json, size_t len, uint64_t levid) {
    (void)levid;
    replay_ctx *r = vctx;
    event ev;
    if (event_parse_trusted(&ev, json, len) != 0) return 0;
    int rc = ev.kind == 5 || ev.kind == 7 ? reactions_apply(r->txn, &ev) : orders_apply(r->txn, &ev);
    event_free(&ev);
    if (rc) { r->rc = rc; return 1; }
    r->count++;
    return 0;
}

static int replay(MDB_txn *txn, uint64_t *count) {
    static const uint32_t kinds[] = {5, 7, 9740, 9741, 9742};
    replay_ctx r = {txn, 0, 0};
    int rc = store_each_stored(settle_store(), txn, kinds, sizeof kinds / sizeof kinds[0], replay_one, &r);
    *count = r.count;
    return rc ? rc : r.rc;
}

static bool same_decision(const settle_record *a, const settle_record *b) {
    return decided(a) == decided(b) && a->amount == b->amount && memcmp(a->payer, b->payer, 32) == 0 &&
           a->has_payee == b->has_payee && (!a->has_payee || memcmp(a->payee, b->payee, 32) == 0) &&
           a->e_count == b->e_count &&
           memcmp(a->e, b->e, 32u * a->e_count) == 0;
}

int settle_rebuild_compare(const char *data_dir, const char *work_dir, const config *cfg, FILE *out, char *err,
                           size_t errlen) {
    if (!dir_empty_or_absent(work_dir)) {
        snprintf(err, errlen, "%s is not empty", work_dir);
        return -1;
    }
    mkdir(work_dir, 0700);
    long long map_mb = config_int(cfg, NULL, "map_size_mb", 65536);
    store *live = NULL, *copy = NULL;
    if (store_open(&live, data_dir, (uint64_t)map_mb << 20, true, err, errlen) != 0) return -1;
    int rc = store_compact_copy(live, work_dir, err, errlen);
    store_close(live);
    if (rc != 0) return -1;
    if (store_open(&copy, work_dir, (uint64_t)map_mb << 20, false, err, errlen) != 0) return -1;
    if (settle_service_open(cfg, copy, err, errlen) != 0) {
        store_close(copy);
        return -1;
    }
    const settle_dbis *db = settle_dbs();
    live_entry *entries = NULL;
    size_t n = 0, cap = 0;
    MDB_txn *txn = NULL;
    int result = -1;
    if ((rc = mdb_txn_begin(store_env(copy), NULL, 0, &txn)) != 0) goto fail;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, db->settle, &cur)) != 0) goto fail;
    MDB_val k, v;
    for (int c = mdb_cursor_get(cur, &k, &v, MDB_FIRST); c == 0; c = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 32 || v.mv_size != sizeof(settle_record)) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            live_entry *p = realloc(entries, nc * sizeof *p);
            if (!p) { mdb_cursor_close(cur); rc = ENOMEM; goto fail; }
            entries = p;
            cap = nc;
        }
        memcpy(entries[n].d, k.mv_data, 32);
        memcpy(&entries[n].rec, v.mv_data, sizeof(settle_record));
        n++;
    }
    mdb_cursor_close(cur);
    if (n) qsort(entries, n, sizeof *entries, cmp_entry); /* (already in key order; kept explicit) */
    MDB_dbi derived[] = {db->settle, db->outq, db->active, db->reacted, db->daily, db->req_by_order, db->auth_by_req};
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++)
        if ((rc = mdb_drop(txn, derived[i], 0)) != 0) goto fail;
    uint64_t replayed = 0;
    settle_replaying = true;
    rc = replay(txn, &replayed);
    settle_replaying = false;
    if (rc) goto fail;

    uint64_t agree = 0, explained = 0, differ = 0, rebuilt = 0, missing_intent = 0;
    char dhex[65];
    for (size_t i = 0; i < n; i++) {
        settle_record r;
        int g = settle_record_get(txn, entries[i].d, &r);
        hex_encode(entries[i].d, 32, dhex);
        if (g == MDB_NOTFOUND) {
            if (!all_events_held(txn, &entries[i].rec)) { explained++; continue; } /* deleted or expired since */
            fprintf(out, "differ %s: live %s, not rebuilt\n", dhex, settle_status_name(entries[i].rec.status));
            differ++;
            continue;
        }
        if (g) { rc = g; goto fail; }
        if (same_decision(&entries[i].rec, &r) &&
            (entries[i].rec.has_to != r.has_to || (r.has_to && memcmp(entries[i].rec.to, r.to, 32) != 0))) {
            /* the payee's address came from a kind 0 replaced since then: only the newest is kept */
            fprintf(out, "explained %s: payee address changed since (newer profile)\n", dhex);
            explained++;
        } else if (same_decision(&entries[i].rec, &r)) agree++;
        else {
            fprintf(out, "differ %s: live %s (%s) amount %llu, rebuilt %s (%s) amount %llu\n", dhex,
                    settle_status_name(decided(&entries[i].rec)), entries[i].rec.reason,
                    (unsigned long long)entries[i].rec.amount, settle_status_name(r.status), r.reason,
                    (unsigned long long)r.amount);
            differ++;
        }
    }
    /* every rebuilt record must exist live; every rebuilt pending one needs its intent */
    if ((rc = mdb_cursor_open(txn, db->settle, &cur)) != 0) goto fail;
    for (int c = mdb_cursor_get(cur, &k, &v, MDB_FIRST); c == 0; c = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 32 || v.mv_size != sizeof(settle_record)) continue;
        rebuilt++;
        settle_record r;
        memcpy(&r, v.mv_data, sizeof r);
        bool found = n && bsearch(k.mv_data, entries, n, sizeof *entries, cmp_entry) != NULL;
        hex_encode(k.mv_data, 32, dhex);
        if (!found) {
            fprintf(out, "differ %s: rebuilt %s, absent live\n", dhex, settle_status_name(r.status));
            differ++;
        }
        settle_intent_info info;
        if (r.status == SETTLE_PENDING && settle_intent_get(txn, k.mv_data, &info) != 0) {
            fprintf(out, "differ %s: rebuilt pending, no live intent\n", dhex);
            missing_intent++;
        }
    }
    mdb_cursor_close(cur);
    fprintf(out, "replayed %llu events: %zu live settlements, %llu rebuilt, %llu agree, %llu explained by deleted "
                 "or expired events or replaced profiles, %llu differ, %llu without intent\n",
            (unsigned long long)replayed, n, (unsigned long long)rebuilt, (unsigned long long)agree,
            (unsigned long long)explained, (unsigned long long)differ, (unsigned long long)missing_intent);
    result = differ || missing_intent ? 1 : 0;
    rc = 0;
fail:
    if (txn) mdb_txn_abort(txn);
    if (rc) snprintf(err, errlen, "%s", mdb_strerror(rc));
    free(entries);
    settle_service_close();
    store_close(copy);
    return rc ? -1 : result;
}
