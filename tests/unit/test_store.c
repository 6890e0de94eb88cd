/* Unit tests of the event store (relay/store.c, relay/query.c): insert and
 * duplicates, replaceable/addressable rules with the lowest-id tie-break, NIP-09
 * deletion by `e` and `a`, NIP-40 expiry, and queries on every index compared
 * with a brute-force evaluation of the same filters (limits, multi-range
 * merges, several filters, resumed time slices, counts). */
#include "unit.h"
#include "event.h"
#include "filter.h"
#include "hex.h"
#include "store.h"
#include "store_internal.h" /* record layout, to damage a record on purpose */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static store *S;
static uint8_t KEY_A[32], KEY_B[32], KEY_C[32];

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
}

/* Builds a signed event; tags given as a NULL-terminated list of NULL-terminated arrays. */
static event make(const uint8_t *key, int64_t ts, uint32_t kind, const char *const *const *tags, const char *content) {
    uint32_t n = 0;
    while (tags && tags[n]) n++;
    event ev;
    if (event_build_signed(&ev, key, ts, kind, tags, n, content, strlen(content)) != 0) {
        printf("FATAL: event_build_signed failed\n");
        exit(1);
    }
    return ev;
}

static store_result insert(const event *ev, uint64_t *levid) {
    MDB_txn *txn;
    if (mdb_txn_begin(store_env(S), NULL, 0, &txn)) return STORE_ERROR;
    char msg[256];
    store_result r = store_insert(S, txn, ev, levid, msg, sizeof msg);
    if (r == STORE_ERROR) { printf("store error: %s\n", msg); mdb_txn_abort(txn); }
    else if (mdb_txn_commit(txn)) return STORE_ERROR;
    return r;
}

static bool stored(const uint8_t id[32]) {
    MDB_txn *txn;
    mdb_txn_begin(store_env(S), NULL, MDB_RDONLY, &txn);
    const char *json;
    size_t len;
    int rc = store_get_by_id(S, txn, id, &json, &len);
    mdb_txn_abort(txn);
    return rc == 0;
}

static void hexof(const uint8_t *b, char out[65]) { hex_encode(b, 32, out); }

static int count_emit(void *ctx, const char *json, size_t len, uint64_t levid) {
    (*(int *)ctx)++;
    return 0;
}

/* ---------------------------------------------------------------- write rules */

static void test_basic_rules(void) {
    event e1 = make(KEY_A, 1000, 1, NULL, "hello");
    uint64_t lev = 0;
    CHECK_EQ_INT(insert(&e1, &lev), STORE_ADDED);
    CHECK(lev > 0);
    CHECK_EQ_INT(insert(&e1, NULL), STORE_DUPLICATE);
    CHECK(stored(e1.id));
    MDB_txn *txn;
    mdb_txn_begin(store_env(S), NULL, MDB_RDONLY, &txn);
    const char *json;
    size_t len;
    CHECK_EQ_INT(store_get_by_id(S, txn, e1.id, &json, &len), 0);
    CHECK_EQ_INT(len, e1.json_len);
    CHECK_EQ_MEM(json, e1.json, e1.json_len);
    mdb_txn_abort(txn);

    /* a JSON not in the packable form is stored and served verbatim */
    event odd = make(KEY_A, 1001, 1, NULL, "odd form");
    char *odd_json = malloc(odd.json_len + 2);
    odd_json[0] = ' ';
    memcpy(odd_json + 1, odd.json, odd.json_len + 1);
    event odd2 = odd;
    odd2.json = odd_json;
    odd2.json_len = odd.json_len + 1;
    CHECK_EQ_INT(insert(&odd2, NULL), STORE_ADDED);
    mdb_txn_begin(store_env(S), NULL, MDB_RDONLY, &txn);
    CHECK_EQ_INT(store_get_by_id(S, txn, odd.id, &json, &len), 0);
    CHECK_EQ_INT(len, odd2.json_len);
    CHECK_EQ_MEM(json, odd_json, odd2.json_len);
    CHECK_EQ_INT(store_get_by_id(S, txn, e1.id, &json, &len), 0); /* a packed one again */
    CHECK_EQ_INT(len, e1.json_len);
    CHECK_EQ_MEM(json, e1.json, e1.json_len);
    mdb_txn_abort(txn);
    free(odd_json);
    event_free(&odd);

    event eph = make(KEY_A, 1000, 20001, NULL, "ephemeral");
    CHECK_EQ_INT(insert(&eph, NULL), STORE_EPHEMERAL);
    CHECK(!stored(eph.id));

    const char *exp_past[] = {"expiration", "1000", NULL};
    const char *const *tp[] = {exp_past, NULL};
    event ex = make(KEY_A, 900, 1, tp, "expired");
    CHECK_EQ_INT(insert(&ex, NULL), STORE_EXPIRED);

    char future[32];
    snprintf(future, sizeof future, "%lld", (long long)time(NULL) + 100000);
    const char *exp_future[] = {"expiration", future, NULL};
    const char *const *tf[] = {exp_future, NULL};
    event ef = make(KEY_A, 900, 1, tf, "expires later");
    CHECK_EQ_INT(insert(&ef, NULL), STORE_ADDED);
    MDB_txn *w;
    mdb_txn_begin(store_env(S), NULL, 0, &w);
    CHECK_EQ_INT(store_delete_expired(S, w, time(NULL), 100), 0);
    CHECK_EQ_INT(store_delete_expired(S, w, time(NULL) + 200000, 100), 1);
    mdb_txn_commit(w);
    CHECK(!stored(ef.id));
    CHECK(stored(e1.id));

    /* an event that expires while stored: queries, counts and export skip it
       before the writer purges it */
    char soon[32];
    long long t_exp = (long long)time(NULL) + 1;
    snprintf(soon, sizeof soon, "%lld", t_exp);
    const char *exp_soon[] = {"expiration", soon, NULL}, *mark[] = {"t", "expiring-soon", NULL};
    const char *const *ts[] = {exp_soon, mark, NULL};
    event es = make(KEY_A, 950, 1, ts, "expires in a second");
    CHECK_EQ_INT(insert(&es, NULL), STORE_ADDED);
    filter f;
    char err[128];
    filter_limits lim = {0, 0, 0};
    const char *ftext = "{\"#t\":[\"expiring-soon\"]}";
    CHECK_EQ_INT(filter_parse(&f, ftext, strlen(ftext), &lim, err, sizeof err), 0);
    uint64_t n = 0;
    CHECK_EQ_INT(store_count(S, &f, 1, &n), 0);
    CHECK_EQ_INT(n, 1);
    while ((long long)time(NULL) < t_exp) usleep(50000);
    CHECK_EQ_INT(store_count(S, &f, 1, &n), 0);
    CHECK_EQ_INT(n, 0);
    int emitted = 0;
    store_query *q = store_query_new(S, &f, 1, 0, 0);
    CHECK_EQ_INT(store_query_run(q, 0, count_emit, &emitted), STORE_QUERY_DONE);
    store_query_free(q);
    CHECK_EQ_INT(emitted, 0);
    CHECK(stored(es.id)); /* still on disk until purged */
    emitted = 0;
    CHECK_EQ_INT(store_export(S, 950, 950, count_emit, &emitted), 0);
    CHECK_EQ_INT(emitted, 0);
    mdb_txn_begin(store_env(S), NULL, 0, &w);
    CHECK_EQ_INT(store_delete_expired(S, w, time(NULL), 100), 1);
    mdb_txn_commit(w);
    CHECK(!stored(es.id));
    filter_free(&f);
    event_free(&e1); event_free(&eph); event_free(&ex); event_free(&ef); event_free(&es);
}

static void test_replaceable(void) {
    event v100 = make(KEY_B, 100, 0, NULL, "profile 100");
    event v90 = make(KEY_B, 90, 0, NULL, "profile 90");
    event v110 = make(KEY_B, 110, 0, NULL, "profile 110");
    CHECK_EQ_INT(insert(&v100, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&v90, NULL), STORE_REPLACED);
    CHECK_EQ_INT(insert(&v110, NULL), STORE_ADDED);
    CHECK(!stored(v100.id));
    CHECK(stored(v110.id));
    CHECK_EQ_INT(insert(&v100, NULL), STORE_REPLACED);

    /* equal created_at: the lowest id wins, whatever the arrival order */
    event x = make(KEY_B, 200, 10002, NULL, "x"), y = make(KEY_B, 200, 10002, NULL, "y");
    event *lo = memcmp(x.id, y.id, 32) < 0 ? &x : &y, *hi = lo == &x ? &y : &x;
    CHECK_EQ_INT(insert(hi, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(lo, NULL), STORE_ADDED);
    CHECK(!stored(hi->id));
    CHECK_EQ_INT(insert(hi, NULL), STORE_REPLACED);
    CHECK(stored(lo->id));

    /* addressable: one per d tag */
    const char *da[] = {"d", "a", NULL}, *db[] = {"d", "b", NULL};
    const char *const *ta[] = {da, NULL}, *const *tb[] = {db, NULL};
    event a1 = make(KEY_B, 300, 30023, ta, "a1"), b1 = make(KEY_B, 300, 30023, tb, "b1");
    event a2 = make(KEY_B, 301, 30023, ta, "a2");
    event other = make(KEY_C, 250, 30023, ta, "same d, other author");
    CHECK_EQ_INT(insert(&a1, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&b1, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&other, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&a2, NULL), STORE_ADDED);
    CHECK(!stored(a1.id));
    CHECK(stored(b1.id));
    CHECK(stored(a2.id));
    CHECK(stored(other.id));
    /* a long d value (hashed in the address) behaves the same */
    char longd[400];
    memset(longd, 'z', sizeof longd - 1);
    longd[sizeof longd - 1] = 0;
    const char *dl[] = {"d", longd, NULL};
    const char *const *tl[] = {dl, NULL};
    event l1 = make(KEY_B, 10, 30001, tl, "l1"), l2 = make(KEY_B, 11, 30001, tl, "l2");
    CHECK_EQ_INT(insert(&l2, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&l1, NULL), STORE_REPLACED);
    /* a stored version whose JSON became unreadable is still replaced cleanly */
    event c1 = make(KEY_C, 100, 10001, NULL, "will be damaged"), c2 = make(KEY_C, 200, 10001, NULL, "replacement");
    uint64_t clev = 0;
    CHECK_EQ_INT(insert(&c1, &clev), STORE_ADDED);
    MDB_dbi events_dbi;
    CHECK_EQ_INT(store_open_dbi(S, "g1relay.events", MDB_INTEGERKEY, &events_dbi), 0);
    MDB_txn *w;
    mdb_txn_begin(store_env(S), NULL, 0, &w);
    MDB_val k = {8, &clev}, v;
    CHECK_EQ_INT(mdb_get(w, events_dbi, &k, &v), 0);
    uint8_t damaged[REC_HEADER_SIZE + 9];
    memcpy(damaged, v.mv_data, REC_HEADER_SIZE);
    memcpy(damaged + REC_HEADER_SIZE, "not json!", 9);
    v.mv_size = sizeof damaged;
    v.mv_data = damaged;
    CHECK_EQ_INT(mdb_put(w, events_dbi, &k, &v, 0), 0);
    mdb_txn_commit(w);
    CHECK_EQ_INT(insert(&c2, NULL), STORE_ADDED);
    CHECK(!stored(c1.id));
    CHECK(stored(c2.id));
    event_free(&c1); event_free(&c2);
    event_free(&v100); event_free(&v90); event_free(&v110); event_free(&x); event_free(&y);
    event_free(&a1); event_free(&b1); event_free(&a2); event_free(&other); event_free(&l1); event_free(&l2);
}

static void test_deletion(void) {
    char hex[65], pkhex[65], addr[200];
    event x = make(KEY_A, 500, 1, NULL, "to delete");
    event y = make(KEY_C, 500, 1, NULL, "someone else's");
    event z = make(KEY_A, 501, 1, NULL, "deleted before it arrives");
    CHECK_EQ_INT(insert(&x, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&y, NULL), STORE_ADDED);

    char hx[65], hy[65], hz[65];
    hexof(x.id, hx); hexof(y.id, hy); hexof(z.id, hz);
    const char *e1[] = {"e", hx, NULL}, *e2[] = {"e", hy, NULL}, *e3[] = {"e", hz, NULL};
    const char *const *tags[] = {e1, e2, e3, NULL};
    event del = make(KEY_A, 510, 5, tags, "delete");
    CHECK_EQ_INT(insert(&del, NULL), STORE_ADDED);
    CHECK(stored(del.id));
    CHECK(!stored(x.id));
    CHECK(stored(y.id));                              /* other author: ignored */
    CHECK_EQ_INT(insert(&x, NULL), STORE_DELETED);    /* re-insertion refused */
    CHECK_EQ_INT(insert(&z, NULL), STORE_DELETED);    /* tombstone before arrival */

    /* B deleting C's event does nothing, and C may still store events B "deleted" */
    event w = make(KEY_C, 520, 1, NULL, "C's");
    char hw[65];
    hexof(w.id, hw);
    const char *ew[] = {"e", hw, NULL};
    const char *const *tw[] = {ew, NULL};
    event bdel = make(KEY_B, 521, 5, tw, "");
    CHECK_EQ_INT(insert(&bdel, NULL), STORE_ADDED);
    CHECK_EQ_INT(insert(&w, NULL), STORE_ADDED);

    /* deleting a kind 5 does nothing */
    hexof(del.id, hex);
    const char *ed[] = {"e", hex, NULL};
    const char *const *td[] = {ed, NULL};
    event del2 = make(KEY_A, 530, 5, td, "");
    CHECK_EQ_INT(insert(&del2, NULL), STORE_ADDED);
    CHECK(stored(del.id));

    /* `a` deletion: versions up to the deletion's created_at */
    const char *dd[] = {"d", "art", NULL};
    const char *const *tart[] = {dd, NULL};
    event art = make(KEY_A, 600, 30023, tart, "article");
    CHECK_EQ_INT(insert(&art, NULL), STORE_ADDED);
    hexof(art.pubkey, pkhex);
    snprintf(addr, sizeof addr, "30023:%s:art", pkhex);
    const char *aa[] = {"a", addr, NULL};
    const char *const *taa[] = {aa, NULL};
    event cdel = make(KEY_C, 700, 5, taa, "not the author");
    CHECK_EQ_INT(insert(&cdel, NULL), STORE_ADDED);
    CHECK(stored(art.id));
    event adel = make(KEY_A, 610, 5, taa, "");
    CHECK_EQ_INT(insert(&adel, NULL), STORE_ADDED);
    CHECK(!stored(art.id));
    event art605 = make(KEY_A, 605, 30023, tart, "older than the deletion");
    CHECK_EQ_INT(insert(&art605, NULL), STORE_DELETED);
    event art620 = make(KEY_A, 620, 30023, tart, "newer than the deletion");
    CHECK_EQ_INT(insert(&art620, NULL), STORE_ADDED);
    /* `a` for a replaceable kind (empty d) */
    event prof = make(KEY_A, 640, 10000, NULL, "mute list");
    CHECK_EQ_INT(insert(&prof, NULL), STORE_ADDED);
    snprintf(addr, sizeof addr, "10000:%s:", pkhex);
    const char *ar[] = {"a", addr, NULL};
    const char *const *tar[] = {ar, NULL};
    event rdel = make(KEY_A, 650, 5, tar, "");
    CHECK_EQ_INT(insert(&rdel, NULL), STORE_ADDED);
    CHECK(!stored(prof.id));
    event *all[] = {&x, &y, &z, &del, &w, &bdel, &del2, &art, &cdel, &adel, &art605, &art620, &prof, &rdel};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) event_free(all[i]);
}

/* ---------------------------------------------------------------- queries */

#define NQ 4400     /* room for the many-kinds test */
#define NQ_MAIN 240 /* events of the main query data set */
static event QEV[NQ];
static uint64_t QLEV[NQ];
static uint32_t qn;

typedef struct {
    char **items;
    uint32_t n, cap;
} result_list;

static int collect(void *ctx, const char *json, size_t len, uint64_t levid) {
    result_list *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->items = realloc(r->items, r->cap * sizeof *r->items);
    }
    r->items[r->n] = strndup(json, len);
    r->n++;
    return 0;
}

/* Collects, asking for a pause after every 7th result. */
static int collect_pausing(void *ctx, const char *json, size_t len, uint64_t levid) {
    result_list *r = ctx;
    collect(ctx, json, len, levid);
    return r->n % 7 == 0 ? STORE_EMIT_PAUSE : 0;
}

static void list_free(result_list *r) {
    for (uint32_t i = 0; i < r->n; i++) free(r->items[i]);
    free(r->items);
    memset(r, 0, sizeof *r);
}

static int by_time_desc(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (QEV[x].created_at != QEV[y].created_at) return QEV[x].created_at < QEV[y].created_at ? 1 : -1;
    return memcmp(QEV[x].id, QEV[y].id, 32); /* NIP-01: lowest id first on ties */
}

/* Brute force: per filter its newest `limit` matches, concatenated without repeats. */
static void expected(const filter *fs, uint32_t nf, uint32_t default_limit, result_list *out) {
    uint32_t order[NQ];
    for (uint32_t i = 0; i < qn; i++) order[i] = i;
    qsort(order, qn, sizeof order[0], by_time_desc);
    bool used[NQ] = {0};
    for (uint32_t f = 0; f < nf; f++) {
        uint64_t limit = fs[f].has_limit ? fs[f].limit : default_limit ? default_limit : UINT64_MAX;
        uint64_t got = 0;
        for (uint32_t i = 0; i < qn && got < limit; i++) {
            uint32_t e = order[i];
            if (!filter_match(&fs[f], &QEV[e])) continue;
            got++;
            if (used[e]) continue;
            used[e] = true;
            collect(out, QEV[e].json, QEV[e].json_len, QLEV[e]);
        }
    }
}

static bool same(const result_list *a, const result_list *b) {
    if (a->n != b->n) { printf("  got %u results, expected %u\n", a->n, b->n); return false; }
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i], b->items[i]) != 0) { printf("  result %u differs\n", i); return false; }
    return true;
}

static uint32_t parse_filters(const char *const *texts, filter *fs) {
    uint32_t n = 0;
    for (; texts[n]; n++) {
        char err[256];
        filter_limits lim = {0, 0, 0};
        if (filter_parse(&fs[n], texts[n], strlen(texts[n]), &lim, err, sizeof err) != 0) {
            printf("FATAL: filter %s: %s\n", texts[n], err);
            exit(1);
        }
    }
    return n;
}

/* Runs the filters in one go, in tiny slices, and counts; compares with brute force. */
static void check_query(const char *label, const char *const *texts, uint32_t default_limit) {
    filter fs[8];
    uint32_t nf = parse_filters(texts, fs);
    result_list want = {0}, got = {0}, sliced = {0};
    expected(fs, nf, default_limit, &want);

    store_query *q = store_query_new(S, fs, nf, default_limit, 0);
    CHECK(q != NULL);
    CHECK_EQ_INT(store_query_run(q, 0, collect, &got), STORE_QUERY_DONE);
    store_query_free(q);
    bool ok = same(&got, &want);
    if (!ok) printf("  query %s (single run)\n", label);
    CHECK(ok);

    q = store_query_new(S, fs, nf, default_limit, 0);
    int slices = 0;
    store_query_status st;
    while ((st = store_query_run(q, 1, collect, &sliced)) == STORE_QUERY_MORE && slices < 100000) slices++;
    CHECK_EQ_INT(st, STORE_QUERY_DONE);
    store_query_free(q);
    ok = same(&sliced, &want);
    if (!ok) printf("  query %s (%d slices)\n", label, slices);
    CHECK(ok);

    /* the callback pausing the query every few results (a full output queue) */
    result_list paused = {0};
    q = store_query_new(S, fs, nf, default_limit, 0);
    slices = 0;
    while ((st = store_query_run(q, 0, collect_pausing, &paused)) == STORE_QUERY_MORE && slices < 100000) slices++;
    CHECK_EQ_INT(st, STORE_QUERY_DONE);
    store_query_free(q);
    ok = same(&paused, &want);
    if (!ok) printf("  query %s (paused %d times)\n", label, slices);
    CHECK(ok);
    list_free(&paused);

    /* count ignores limits */
    filter nolimit[8];
    memcpy(nolimit, fs, sizeof(filter) * nf);
    for (uint32_t i = 0; i < nf; i++) nolimit[i].has_limit = false;
    result_list all = {0};
    expected(nolimit, nf, 0, &all);
    uint64_t count = 0;
    CHECK_EQ_INT(store_count(S, fs, nf, &count), 0);
    CHECK_EQ_INT(count, all.n);
    list_free(&all);
    list_free(&want);
    list_free(&got);
    list_free(&sliced);
    for (uint32_t i = 0; i < nf; i++) filter_free(&fs[i]);
}

static int stop_after_3(void *ctx, const char *json, size_t len, uint64_t levid) {
    int *n = ctx;
    return ++*n >= 3;
}

static void test_queries(void) {
    /* a fresh store so the brute force sees every event */
    const uint8_t *keys[3] = {KEY_A, KEY_B, KEY_C};
    static const char *topics[] = {"nostr", "g1", "zen", "x"};
    char longval[120];
    memset(longval, 'L', sizeof longval - 1);
    longval[sizeof longval - 1] = 0;
    char ref_hex[65];
    for (qn = 0; qn < NQ_MAIN; qn++) {
        uint32_t i = qn;
        uint32_t kind = i % 5 == 0 ? 7 : i % 7 == 0 ? 30023 : 1;
        const char *t1[] = {"t", topics[i % 4], NULL};
        const char *t2[] = {"t", topics[(i / 4) % 4], NULL};
        const char *pt[] = {"p", ref_hex, NULL};
        const char *rt[] = {"r", longval, NULL};
        char dval[16];
        snprintf(dval, sizeof dval, "d%u", i);
        const char *dt[] = {"d", dval, NULL};
        const char *const *tags[6];
        uint32_t nt = 0;
        tags[nt++] = t1;
        if (i % 3 == 0) tags[nt++] = t2;
        if (i > 0 && i % 4 == 1) tags[nt++] = pt;
        if (i % 11 == 0) tags[nt++] = rt;
        if (kind == 30023) tags[nt++] = dt;
        tags[nt] = NULL;
        /* created_at repeats so ties are exercised */
        QEV[qn] = make(keys[i % 3], 5000 + (int64_t)(i % 37) * 10 + (i % 2), kind, tags, "query test");
        hexof(QEV[qn].id, ref_hex);
        if (insert(&QEV[qn], &QLEV[qn]) != STORE_ADDED) { printf("FATAL: insert %u\n", i); exit(1); }
    }
    char a[65], b[65], id1[65], id2[65], id3[65], f1[600], f2[600], f3[600], f4[600];
    hexof(QEV[0].pubkey, a);
    hexof(QEV[1].pubkey, b);
    hexof(QEV[3].id, id1);
    hexof(QEV[100].id, id2);
    hexof(QEV[77].id, id3);

    check_query("everything", (const char *[]){"{}", NULL}, 0);
    check_query("default limit", (const char *[]){"{}", NULL}, 17);
    check_query("time limit", (const char *[]){"{\"limit\":25,\"since\":5100,\"until\":5300}", NULL}, 0);
    snprintf(f1, sizeof f1, "{\"ids\":[\"%s\",\"%s\",\"%s\",\"%s\"]}", id1, id2, id3, id1);
    check_query("ids", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"ids\":[\"%s\",\"%s\"],\"kinds\":[1],\"limit\":1}", id1, id2);
    check_query("ids+kinds+limit", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\"],\"kinds\":[1],\"limit\":10}", a);
    check_query("author+kind", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\",\"%s\"],\"kinds\":[1,7,30023],\"limit\":33}", a, b);
    check_query("authors x kinds merge", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\",\"%s\"]}", b, a);
    check_query("authors", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\"],\"until\":5200,\"since\":5050,\"limit\":7}", a);
    check_query("author window", (const char *[]){f1, NULL}, 0);
    check_query("kinds", (const char *[]){"{\"kinds\":[7,30023],\"limit\":40}", NULL}, 0);
    check_query("kind unknown", (const char *[]){"{\"kinds\":[9999]}", NULL}, 0);
    check_query("tag", (const char *[]){"{\"#t\":[\"g1\"],\"limit\":30}", NULL}, 0);
    check_query("tag values merge", (const char *[]){"{\"#t\":[\"g1\",\"zen\"],\"limit\":50}", NULL}, 0);
    check_query("tag+kind", (const char *[]){"{\"#t\":[\"nostr\"],\"kinds\":[7]}", NULL}, 0);
    check_query("two tags", (const char *[]){"{\"#t\":[\"nostr\",\"x\"],\"#p\":[\"" "0000000000000000000000000000000000000000000000000000000000000000" "\"]}", NULL}, 0);
    snprintf(f1, sizeof f1, "{\"#p\":[\"%s\",\"%s\"]}", id1, id2);
    check_query("hex tag", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"#p\":[\"%s\"],\"#t\":[\"g1\",\"zen\",\"x\",\"nostr\"]}", id1);
    check_query("hex tag + tag", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"#p\":[\"%s\",\"%s\"],\"#t\":[\"g1\"]}", id1, id2);
    check_query("hex tags, residual tag", (const char *[]){f1, NULL}, 0);
    {
        char big[65 * 40 + 64] = "{\"#t\":[\"zen\"],\"#p\":[";
        for (uint32_t i = 0; i < 30; i++) {
            char h[65];
            hexof(QEV[i * 7].id, h);
            strcat(big, i ? ",\"" : "\"");
            strcat(big, h);
            strcat(big, "\"");
        }
        strcat(big, "]}");
        check_query("tag, residual hex tags", (const char *[]){big, NULL}, 0);
    }
    snprintf(f1, sizeof f1, "{\"#r\":[\"%s\"],\"limit\":5}", longval);
    check_query("long (hashed) tag value", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"#d\":[\"d7\",\"d14\",\"d21\"]}");
    check_query("d tag", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\"],\"#t\":[\"zen\"]}", b);
    check_query("authors+tag", (const char *[]){f1, NULL}, 0);
    check_query("empty arrays", (const char *[]){"{\"kinds\":[]}", "{\"#t\":[]}", NULL}, 0);
    check_query("limit 0", (const char *[]){"{\"limit\":0}", NULL}, 0);
    /* several filters: dedupe across them, each with its own limit */
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\"],\"limit\":12}", a);
    snprintf(f2, sizeof f2, "{\"kinds\":[1],\"limit\":20}");
    snprintf(f3, sizeof f3, "{\"#t\":[\"g1\"]}");
    snprintf(f4, sizeof f4, "{\"ids\":[\"%s\"]}", id3);
    check_query("four filters", (const char *[]){f1, f2, f3, f4, NULL}, 0);
    check_query("same filter twice", (const char *[]){f2, f2, NULL}, 0);

    /* an event with a (future) expiration: queries and counts read the records */
    {
        char future[32];
        snprintf(future, sizeof future, "%lld", (long long)time(NULL) + 100000);
        const char *ex[] = {"expiration", future, NULL}, *tg[] = {"t", "g1", NULL};
        const char *const *tags[] = {ex, tg, NULL};
        QEV[qn] = make(KEY_A, 5555, 1, tags, "expires later");
        CHECK_EQ_INT(insert(&QEV[qn], &QLEV[qn]), STORE_ADDED);
        qn++;
        check_query("with an expiring event", (const char *[]){"{\"#t\":[\"g1\"]}", NULL}, 0);
        check_query("with an expiring event, two filters", (const char *[]){"{\"kinds\":[1]}", "{\"#t\":[\"g1\"]}", NULL}, 0);
    }

    /* early stop from the callback */
    filter f;
    char err[128];
    filter_limits lim = {0, 0, 0};
    filter_parse(&f, "{}", 2, &lim, err, sizeof err);
    store_query *q = store_query_new(S, &f, 1, 0, 0);
    int calls = 0;
    CHECK_EQ_INT(store_query_run(q, 0, stop_after_3, &calls), STORE_QUERY_DONE);
    CHECK_EQ_INT(calls, 3);
    CHECK_EQ_INT(store_query_run(q, 0, stop_after_3, &calls), STORE_QUERY_DONE);
    CHECK_EQ_INT(calls, 3);
    store_query_free(q);
    filter_free(&f);
}

static void test_stats_export_reopen(const char *dir) {
    store_stats st;
    CHECK_EQ_INT(store_get_stats(S, &st), 0);
    CHECK_EQ_INT(st.events, qn);
    CHECK(st.db_count >= 10);
    CHECK(st.file_bytes > 0);
    result_list ex = {0};
    CHECK_EQ_INT(store_export(S, INT64_MIN, INT64_MAX, collect, &ex), 0);
    CHECK_EQ_INT(ex.n, qn);
    list_free(&ex);
    CHECK_EQ_INT(store_export(S, 5100, 5100, collect, &ex), 0);
    uint32_t n5100 = 0;
    for (uint32_t i = 0; i < qn; i++) n5100 += QEV[i].created_at == 5100;
    CHECK_EQ_INT(ex.n, n5100);
    list_free(&ex);

    char copy[600];
    snprintf(copy, sizeof copy, "%s-compact", dir);
    rm_rf(copy);
    char err[256];
    CHECK_EQ_INT(store_compact_copy(S, copy, err, sizeof err), 0);
    CHECK(store_compact_copy(S, copy, err, sizeof err) != 0); /* refuses to overwrite */
    store *c;
    CHECK_EQ_INT(store_open(&c, copy, 0, true, err, sizeof err), 0);
    store_stats cst;
    store_get_stats(c, &cst);
    CHECK_EQ_INT(cst.events, qn);
    store_close(c);
    rm_rf(copy);
}

typedef struct {
    uint64_t last_levid;
    uint32_t n;
    bool ordered;
    bool kinds_ok;
} each_ctx;

static int each_cb(void *vctx, const char *json, size_t len, uint64_t levid) {
    each_ctx *c = vctx;
    if (levid <= c->last_levid) c->ordered = false;
    c->last_levid = levid;
    event ev;
    if (event_parse_trusted(&ev, json, len) != 0 || (ev.kind != 7 && ev.kind != 30023)) c->kinds_ok = false;
    event_free(&ev);
    c->n++;
    return 0;
}

/* Replaying the log in storage order, filtered by kind. */
static void test_each_stored(void) {
    uint32_t want = 0;
    for (uint32_t i = 0; i < qn; i++) want += QEV[i].kind == 7 || QEV[i].kind == 30023;
    each_ctx c = {0, 0, true, true};
    const uint32_t kinds[] = {30023, 7};
    MDB_txn *txn;
    mdb_txn_begin(store_env(S), NULL, MDB_RDONLY, &txn);
    CHECK_EQ_INT(store_each_stored(S, txn, kinds, 2, each_cb, &c), 0);
    mdb_txn_abort(txn);
    CHECK_EQ_INT(c.n, want);
    CHECK(c.ordered);
    CHECK(c.kinds_ok);
    CHECK(want > 0);
}

static void test_reopen(const char *dir) {
    event last = make(KEY_C, 9000, 1, NULL, "newest");
    uint64_t lev1 = 0, lev2 = 0;
    CHECK_EQ_INT(insert(&last, &lev1), STORE_ADDED);
    char h[65];
    hexof(last.id, h);
    const char *et[] = {"e", h, NULL};
    const char *const *tt[] = {et, NULL};
    event del = make(KEY_C, 9001, 5, tt, "");
    CHECK_EQ_INT(insert(&del, &lev2), STORE_ADDED);
    /* the newest event was removed: after reopening, serials must not be reused */
    store_close(S);
    char err[256];
    CHECK_EQ_INT(store_open(&S, dir, 1 << 26, false, err, sizeof err), 0);
    event next = make(KEY_C, 9002, 1, NULL, "after reopen");
    uint64_t lev3 = 0;
    CHECK_EQ_INT(insert(&next, &lev3), STORE_ADDED);
    CHECK(lev3 > lev2 && lev2 > lev1);
    CHECK_EQ_INT(insert(&last, NULL), STORE_DELETED);
    event_free(&last); event_free(&del); event_free(&next);
}

/* An author with more kinds than the planner opens ranges for: the authors-only
 * plan falls back to the time index with an authors check. */
static void test_many_kinds(void) {
    const char *const *no_tags[] = {NULL};
    for (qn = 0; qn < 4100; qn++) {
        QEV[qn] = make(KEY_B, 7000 + (int64_t)(qn % 100), 40000 + qn, no_tags, "many kinds");
        if (insert(&QEV[qn], &QLEV[qn]) != STORE_ADDED) { printf("FATAL: insert %u\n", qn); exit(1); }
    }
    for (uint32_t i = 0; i < 50; i++, qn++) {
        QEV[qn] = make(KEY_A, 7090 + (int64_t)i, 1, no_tags, "other author");
        if (insert(&QEV[qn], &QLEV[qn]) != STORE_ADDED) { printf("FATAL: insert %u\n", qn); exit(1); }
    }
    char a[65], b[65], f1[300];
    hexof(QEV[4100].pubkey, a);
    hexof(QEV[0].pubkey, b);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\"],\"limit\":30}", b);
    check_query("author with 4100 kinds", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\",\"%s\"],\"limit\":120}", a, b);
    check_query("two authors, one with 4100 kinds", (const char *[]){f1, NULL}, 0);
    snprintf(f1, sizeof f1, "{\"authors\":[\"%s\"],\"kinds\":[40005,40077,1]}", b);
    check_query("author+kinds among many", (const char *[]){f1, NULL}, 0);
    for (uint32_t i = 0; i < qn; i++) event_free(&QEV[i]);
    qn = 0;
}

UNIT_MAIN({
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/g1relay-test-store-%d", (int)getpid());
    rm_rf(dir);
    for (int i = 0; i < 32; i++) { KEY_A[i] = (uint8_t)(i + 1); KEY_B[i] = (uint8_t)(i + 50); KEY_C[i] = (uint8_t)(i + 100); }
    char err[256];
    CHECK_EQ_INT(store_open(&S, dir, 1 << 26, false, err, sizeof err), 0);
    test_basic_rules();
    test_replaceable();
    test_deletion();
    store_close(S);
    rm_rf(dir);
    CHECK_EQ_INT(store_open(&S, dir, 1 << 26, false, err, sizeof err), 0);
    test_queries();
    test_each_stored();
    test_stats_export_reopen(dir);
    test_reopen(dir);
    store_close(S);
    for (uint32_t i = 0; i < qn; i++) event_free(&QEV[i]);
    rm_rf(dir);
    CHECK_EQ_INT(store_open(&S, dir, 1 << 27, false, err, sizeof err), 0);
    test_many_kinds();
    store_close(S);
    /* read-only open of a missing database fails with a message */
    CHECK(store_open(&S, "/tmp/g1relay-no-such-db-dir", 0, true, err, sizeof err) != 0);
    CHECK(strstr(err, "no database") != NULL);
    rm_rf(dir);
})
