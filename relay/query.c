/* The query engine of the event store: plans each filter onto one index, merges
 * the index ranges newest first, checks what the index does not guarantee, and
 * runs in time slices that can be resumed in a later read transaction.
 *
 * Plan (most selective first): ids -> direct lookups; authors+kinds -> one
 * pubkey_kind range per (author, kind); a tag filter -> one tag range per value
 * (the tag with the fewest values); authors -> one pubkey_kind range per kind the
 * author has (found at the first slice by skipping from kind to kind); kinds ->
 * kind ranges; else the ts index. Every range is a run of keys prefix ‖ ts ‖ levid;
 * a max-heap on (ts, levid) of the ranges' heads yields candidates newest first
 * (k-way merge). An event present in several ranges comes out twice in a row
 * and is skipped the second time. Between slices a range keeps only its head
 * (ts, rank, levid) and re-seeks to the greatest key <= prefix ‖ head.
 *
 * Per candidate: one lookup of the record (for the expiration and the header
 * fields; the JSON is rebuilt from the packed record into a buffer of the
 * query that only grows), header checks for authors/kinds the plan did not use,
 * and only when tag conditions remain (or a long tag value was hashed in the
 * index) a parse of the stored JSON and filter_match. Nothing is allocated per
 * candidate except in that last case. */
#include "store.h"
#include "store_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { PLAN_IDS, PLAN_PUBKEY_KIND, PLAN_PUBKEY, PLAN_TAG, PLAN_KIND, PLAN_TS } plan_type;

#define MAX_RANGES_PER_FILTER 4096

typedef struct {
    uint8_t prefix[TAG_KEY_MAX];
    uint8_t plen;
    bool exhausted;
    int64_t head_ts;
    uint64_t head_rank; /* complement of the id's first 8 bytes */
    uint64_t head_levid;
    MDB_cursor *cur;
    const uint8_t *id; /* PLAN_IDS */
} qrange;

typedef struct {
    const filter *f;
    plan_type type;
    int dbi_index;
    qrange *ranges;
    uint32_t nranges;
    uint32_t *heap;
    uint32_t heap_n;
    uint64_t limit; /* UINT64_MAX: unlimited */
    uint64_t matched;
    bool check_authors, check_kinds, need_match;
    uint8_t (*authors)[32]; /* sorted copy, for header checks */
    int64_t since, until;
    bool has_last;
    int64_t last_ts;
    uint64_t last_levid;
    bool positioned;
    bool done;
} qplan;

struct store_query {
    store *s;
    qplan *plans;
    uint32_t nplans, cur_plan;
    bool count_mode;
    bool no_expiry; /* no event has a NIP-40 expiration (checked per slice) */
    uint64_t count;
    bool use_set;
    uint64_t *set;
    size_t set_cap, set_n;
    bool finished;
    rec_buf buf; /* rebuilt JSON of the current candidate */
    store_count_fn count_each; /* count mode: also called with each counted event's pubkey */
    void *count_each_ctx;
};

/* ---------------------------------------------------------------- helpers */

static int cmp_pubkey(const void *a, const void *b) { return memcmp(a, b, 32); }
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Set of emitted levids (only when several filters could yield the same event). */
static bool set_insert(store_query *q, uint64_t levid) {
    if (q->set_n * 2 >= q->set_cap) {
        size_t ncap = q->set_cap ? q->set_cap * 2 : 1024;
        uint64_t *n = calloc(ncap, sizeof *n);
        if (!n) return true; /* out of memory: may emit a duplicate, never lose one */
        for (size_t i = 0; i < q->set_cap; i++) {
            if (!q->set[i]) continue;
            size_t h = (size_t)(q->set[i] * 0x9E3779B97F4A7C15ull) & (ncap - 1);
            while (n[h]) h = (h + 1) & (ncap - 1);
            n[h] = q->set[i];
        }
        free(q->set);
        q->set = n;
        q->set_cap = ncap;
    }
    size_t h = (size_t)(levid * 0x9E3779B97F4A7C15ull) & (q->set_cap - 1);
    while (q->set[h]) {
        if (q->set[h] == levid) return false;
        h = (h + 1) & (q->set_cap - 1);
    }
    q->set[h] = levid;
    q->set_n++;
    return true;
}

static bool head_greater(const qrange *a, const qrange *b) {
    if (a->head_ts != b->head_ts) return a->head_ts > b->head_ts;
    if (a->head_rank != b->head_rank) return a->head_rank > b->head_rank;
    return a->head_levid > b->head_levid;
}

static void heap_down(qplan *p, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->heap_n && head_greater(&p->ranges[p->heap[l]], &p->ranges[p->heap[m]])) m = l;
        if (r < p->heap_n && head_greater(&p->ranges[p->heap[r]], &p->ranges[p->heap[m]])) m = r;
        if (m == i) return;
        uint32_t t = p->heap[i];
        p->heap[i] = p->heap[m];
        p->heap[m] = t;
        i = m;
    }
}

static bool filter_empty(const filter *f) {
    if ((f->has_ids && !f->id_count) || (f->has_authors && !f->author_count) || (f->has_kinds && !f->kind_count))
        return true;
    for (uint32_t i = 0; i < f->tag_count; i++)
        if (!f->tags[i].value_count) return true;
    if (f->has_since && f->has_until && f->since > f->until) return true;
    return false;
}

/* ---------------------------------------------------------------- planning */

static int plan_filter(qplan *p, const filter *f, uint64_t limit) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->limit = limit;
    p->since = f->has_since ? f->since : INT64_MIN;
    p->until = f->has_until ? f->until : INT64_MAX;
    if (filter_empty(f) || limit == 0) { p->done = true; return 0; }
    uint64_t pk_kind = f->has_authors && f->has_kinds ? (uint64_t)f->author_count * f->kind_count : UINT64_MAX;
    int best_tag = -1;
    for (uint32_t i = 0; i < f->tag_count; i++)
        if (best_tag < 0 || f->tags[i].value_count < f->tags[best_tag].value_count) best_tag = (int)i;
    if (f->has_ids) { p->type = PLAN_IDS; p->nranges = f->id_count; }
    else if (pk_kind <= MAX_RANGES_PER_FILTER) { p->type = PLAN_PUBKEY_KIND; p->nranges = (uint32_t)pk_kind; }
    else if (best_tag >= 0) { p->type = PLAN_TAG; p->nranges = f->tags[best_tag].value_count; }
    else if (f->has_authors) { p->type = PLAN_PUBKEY; p->nranges = 0; /* see expand_authors */ }
    else if (f->has_kinds) { p->type = PLAN_KIND; p->nranges = f->kind_count; }
    else { p->type = PLAN_TS; p->nranges = 1; }
    static const int dbis[] = {[PLAN_IDS] = DB_ID, [PLAN_PUBKEY_KIND] = DB_PUBKEY_KIND, [PLAN_PUBKEY] = DB_PUBKEY_KIND,
                               [PLAN_TAG] = DB_TAG, [PLAN_KIND] = DB_KIND, [PLAN_TS] = DB_TS};
    p->dbi_index = dbis[p->type];
    p->ranges = calloc(p->nranges ? p->nranges : 1, sizeof *p->ranges);
    p->heap = calloc(p->nranges ? p->nranges : 1, sizeof *p->heap);
    if (!p->ranges || !p->heap) return -1;
    p->check_authors = f->has_authors && p->type != PLAN_PUBKEY_KIND && p->type != PLAN_PUBKEY;
    p->check_kinds = f->has_kinds && p->type != PLAN_PUBKEY_KIND && p->type != PLAN_KIND;
    p->need_match = f->tag_count > (p->type == PLAN_TAG ? 1u : 0u);
    if (f->has_authors) {
        p->authors = malloc((size_t)f->author_count * 32);
        if (!p->authors) return -1;
        memcpy(p->authors, f->authors, (size_t)f->author_count * 32);
        qsort(p->authors, f->author_count, 32, cmp_pubkey);
    }
    for (uint32_t i = 0; i < p->nranges; i++) {
        qrange *r = &p->ranges[i];
        r->head_ts = p->until;
        r->head_rank = UINT64_MAX;
        r->head_levid = UINT64_MAX;
        switch (p->type) {
        case PLAN_IDS: r->id = f->ids[i]; break;
        case PLAN_PUBKEY_KIND:
            memcpy(r->prefix, f->authors[i / f->kind_count], 32);
            put_be32(r->prefix + 32, f->kinds[i % f->kind_count]);
            r->plen = 36;
            break;
        case PLAN_TAG: {
            const filter_tag *t = &f->tags[best_tag];
            bool hashed;
            r->plen = (uint8_t)store_tag_key(r->prefix, t->name, t->values[i].ptr, t->values[i].len, &hashed);
            if (hashed) p->need_match = true;
            break;
        }
        case PLAN_PUBKEY: break;
        case PLAN_KIND: put_be32(r->prefix, f->kinds[i]); r->plen = 4; break;
        case PLAN_TS: r->plen = 0; break;
        }
    }
    return 0;
}

static uint64_t effective_limit(const filter *f, uint32_t default_limit, uint32_t max_limit) {
    uint64_t limit = f->has_limit ? f->limit : (default_limit ? default_limit : UINT64_MAX);
    if (max_limit && limit > max_limit) limit = max_limit;
    return limit;
}

static store_query *query_new(store *s, const filter *filters, uint32_t n, uint32_t default_limit,
                              uint32_t max_limit, bool count_mode) {
    store_query *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->s = s;
    q->count_mode = count_mode;
    q->use_set = n > 1;
    q->nplans = n;
    q->plans = calloc(n ? n : 1, sizeof *q->plans);
    if (!q->plans) { free(q); return NULL; }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t limit = count_mode ? UINT64_MAX : effective_limit(&filters[i], default_limit, max_limit);
        if (plan_filter(&q->plans[i], &filters[i], limit) < 0) { store_query_free(q); return NULL; }
    }
    return q;
}

store_query *store_query_new(store *s, const filter *filters, uint32_t filter_count,
                             uint32_t default_limit, uint32_t max_limit) {
    return query_new(s, filters, filter_count, default_limit, max_limit, false);
}

void store_query_free(store_query *q) {
    if (!q) return;
    for (uint32_t i = 0; i < q->nplans; i++) {
        free(q->plans[i].ranges);
        free(q->plans[i].heap);
        free(q->plans[i].authors);
    }
    free(q->plans);
    free(q->set);
    free(q->buf.p);
    free(q);
}

/* ---------------------------------------------------------------- scanning */

/* Accepts the key under the cursor as the range's head if it belongs to the range. */
static int range_take(qplan *p, qrange *r, int rc, const MDB_val *k) {
    if (rc == MDB_NOTFOUND) { r->exhausted = true; return 0; }
    if (rc) return rc;
    const uint8_t *key = k->mv_data;
    if (k->mv_size != (size_t)r->plen + TS_SUFFIX || memcmp(key, r->prefix, r->plen) != 0) { r->exhausted = true; return 0; }
    int64_t ts = get_ts(key + r->plen);
    if (ts < p->since) { r->exhausted = true; return 0; }
    r->head_ts = ts;
    r->head_rank = get_be64(key + r->plen + 8);
    r->head_levid = get_be64(key + r->plen + 16);
    return 0;
}

/* Positions the range at the greatest key <= prefix ‖ head. */
static int range_seek(qplan *p, qrange *r) {
    uint8_t target[TAG_KEY_MAX + TS_SUFFIX];
    memcpy(target, r->prefix, r->plen);
    put_suffix(target + r->plen, r->head_ts, r->head_rank, r->head_levid);
    size_t tlen = (size_t)r->plen + TS_SUFFIX;
    MDB_val k = {tlen, target}, v;
    int rc = mdb_cursor_get(r->cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(r->cur, &k, &v, MDB_LAST);
    else if (rc == 0) {
        size_t m = k.mv_size < tlen ? k.mv_size : tlen;
        int c = memcmp(k.mv_data, target, m);
        if (c > 0 || (c == 0 && k.mv_size > tlen)) rc = mdb_cursor_get(r->cur, &k, &v, MDB_PREV);
    }
    return range_take(p, r, rc, &k);
}

static int range_advance(qplan *p, qrange *r) {
    if (p->type == PLAN_IDS) { r->exhausted = true; return 0; }
    MDB_val k, v;
    int rc = mdb_cursor_get(r->cur, &k, &v, MDB_PREV);
    return range_take(p, r, rc, &k);
}

static void plan_close(qplan *p) {
    for (uint32_t i = 0; i < p->nranges; i++)
        if (p->ranges[i].cur) { mdb_cursor_close(p->ranges[i].cur); p->ranges[i].cur = NULL; }
}

/* Authors-only plan: one pubkey_kind range per (author, kind present), found by
 * seeking from each kind to the next. Too many kinds: scan the ts index and
 * check authors on each candidate instead. */
static int expand_authors(store_query *q, qplan *p, MDB_txn *txn) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, q->s->dbi[DB_PUBKEY_KIND], &c);
    if (rc) return rc;
    uint32_t cap = 0, n = 0;
    qrange *ranges = NULL;
    bool too_many = false;
    for (uint32_t a = 0; a < p->f->author_count && !too_many && !rc; a++) {
        if (a && memcmp(p->authors[a], p->authors[a - 1], 32) == 0) continue;
        uint8_t key[36];
        memcpy(key, p->authors[a], 32);
        uint64_t next_kind = 0;
        while (next_kind <= UINT32_MAX) {
            put_be32(key + 32, (uint32_t)next_kind);
            MDB_val k = {36, key}, v;
            rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
            if (rc == MDB_NOTFOUND) { rc = 0; break; }
            if (rc) break;
            if (k.mv_size < 36 || memcmp(k.mv_data, key, 32) != 0) break;
            const uint8_t *kp = (const uint8_t *)k.mv_data + 32;
            uint32_t kind = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
            if (n == MAX_RANGES_PER_FILTER) { too_many = true; break; }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                qrange *nr = realloc(ranges, cap * sizeof *nr);
                if (!nr) { rc = ENOMEM; break; }
                ranges = nr;
            }
            qrange *r = &ranges[n++];
            memset(r, 0, sizeof *r);
            memcpy(r->prefix, key, 32);
            put_be32(r->prefix + 32, kind);
            r->plen = 36;
            r->head_ts = p->until;
            r->head_rank = UINT64_MAX;
            r->head_levid = UINT64_MAX;
            next_kind = (uint64_t)kind + 1;
        }
    }
    mdb_cursor_close(c);
    if (rc) { free(ranges); return rc; }
    if (too_many) { /* fall back to the time index with an authors check */
        free(ranges);
        n = 1;
        ranges = calloc(1, sizeof *ranges);
        if (!ranges) return ENOMEM;
        ranges[0].head_ts = p->until;
        ranges[0].head_rank = UINT64_MAX;
        ranges[0].head_levid = UINT64_MAX;
        p->type = PLAN_TS;
        p->dbi_index = DB_TS;
        p->check_authors = true;
    }
    uint32_t *heap = calloc(n ? n : 1, sizeof *heap);
    if (!heap) { free(ranges); return ENOMEM; }
    free(p->ranges);
    free(p->heap);
    p->ranges = ranges;
    p->heap = heap;
    p->nranges = n;
    return 0;
}

/* Opens cursors, positions every live range at its head, builds the heap. */
static int plan_open(store_query *q, qplan *p, MDB_txn *txn) {
    int rc;
    p->heap_n = 0;
    if (p->type == PLAN_PUBKEY && !p->positioned && (rc = expand_authors(q, p, txn))) return rc;
    for (uint32_t i = 0; i < p->nranges; i++) {
        qrange *r = &p->ranges[i];
        if (r->exhausted) continue;
        if (p->type == PLAN_IDS) {
            if (!p->positioned) {
                MDB_val k = {32, (void *)r->id}, v;
                rc = mdb_get(txn, q->s->dbi[DB_ID], &k, &v);
                if (rc == MDB_NOTFOUND) { r->exhausted = true; continue; }
                if (rc) return rc;
                memcpy(&r->head_levid, v.mv_data, 8);
                const uint8_t *rec;
                size_t rlen;
                if ((rc = store_get_record(q->s, txn, r->head_levid, &rec, &rlen))) return rc;
                r->head_ts = rec_i64(rec, REC_CREATED_AT);
                r->head_rank = id_rank(rec + REC_ID);
                if (r->head_ts < p->since || r->head_ts > p->until) { r->exhausted = true; continue; }
            }
        } else {
            if ((rc = mdb_cursor_open(txn, q->s->dbi[p->dbi_index], &r->cur))) return rc;
            if ((rc = range_seek(p, r))) return rc;
            if (r->exhausted) continue;
        }
        p->heap[p->heap_n++] = i;
    }
    p->positioned = true;
    for (uint32_t i = p->heap_n / 2; i-- > 0;) heap_down(p, i);
    return 0;
}

static bool header_matches(const qplan *p, const uint8_t *rec) {
    if (p->check_kinds) {
        uint32_t kind = rec_u32(rec, REC_KIND);
        if (!bsearch(&kind, p->f->kinds, p->f->kind_count, sizeof(uint32_t), cmp_u32)) return false;
    }
    if (p->check_authors && !bsearch(rec + REC_PUBKEY, p->authors, p->f->author_count, 32, cmp_pubkey))
        return false;
    return true;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

typedef enum { SCAN_PLAN_DONE, SCAN_MORE, SCAN_STOPPED, SCAN_ERROR } scan_status;

static scan_status plan_scan(store_query *q, qplan *p, MDB_txn *txn, uint64_t deadline,
                             int64_t now, store_emit_fn emit, void *ctx) {
    uint32_t tick = 0;
    while (p->heap_n) {
        if (p->matched >= p->limit) break;
        if (deadline && (++tick & 15) == 0 && now_ns() >= deadline) return SCAN_MORE;
        qrange *r = &p->ranges[p->heap[0]];
        int64_t ts = r->head_ts;
        uint64_t levid = r->head_levid;
        if (range_advance(p, r)) return SCAN_ERROR;
        if (r->exhausted) p->heap[0] = p->heap[--p->heap_n];
        heap_down(p, 0);
        if (p->has_last && ts == p->last_ts && levid == p->last_levid) continue;
        p->has_last = true;
        p->last_ts = ts;
        p->last_levid = levid;
        if (q->count_mode && q->no_expiry && !p->check_kinds && !p->check_authors && !p->need_match && !q->count_each) {
            /* the index alone answers: count without reading the event */
            p->matched++;
            if (!q->use_set || set_insert(q, levid)) q->count++;
            continue;
        }
        const uint8_t *rec;
        size_t rlen;
        int rc = store_get_record(q->s, txn, levid, &rec, &rlen);
        if (rc == MDB_NOTFOUND) continue;
        if (rc) return SCAN_ERROR;
        int64_t exp = rec_i64(rec, REC_EXPIRATION);
        if (exp && exp <= now) continue;
        if (!header_matches(p, rec)) continue;
        const char *json = NULL;
        size_t jlen = 0;
        if (p->need_match || !q->count_mode) {
            if (!(json = rec_json(&q->buf, rec, rlen, &jlen))) return SCAN_ERROR;
        }
        if (p->need_match) {
            event ev;
            if (event_parse_trusted(&ev, json, jlen) != 0) continue;
            bool ok = filter_match(p->f, &ev);
            event_free(&ev);
            if (!ok) continue;
        }
        p->matched++;
        if (q->use_set && !set_insert(q, levid)) continue;
        if (q->count_mode) {
            q->count++;
            if (q->count_each) q->count_each(q->count_each_ctx, rec + REC_PUBKEY);
        } else {
            int e = emit(ctx, json, jlen, levid);
            if (e == STORE_EMIT_PAUSE) return SCAN_MORE; /* position is already past this result */
            if (e) return SCAN_STOPPED;
        }
    }
    p->done = true;
    return SCAN_PLAN_DONE;
}

static store_query_status run(store_query *q, MDB_txn *txn, uint64_t budget_us, store_emit_fn emit, void *ctx) {
    if (q->finished) return STORE_QUERY_DONE;
    uint64_t deadline = budget_us ? now_ns() + budget_us * 1000ull : 0;
    int64_t now = (int64_t)time(NULL);
    MDB_stat es;
    q->no_expiry = mdb_stat(txn, q->s->dbi[DB_EXPIRY], &es) == 0 && es.ms_entries == 0;
    while (q->cur_plan < q->nplans) {
        qplan *p = &q->plans[q->cur_plan];
        if (!p->done) {
            scan_status st = SCAN_ERROR;
            if (plan_open(q, p, txn) == 0) st = plan_scan(q, p, txn, deadline, now, emit, ctx);
            plan_close(p);
            if (st == SCAN_MORE) return STORE_QUERY_MORE;
            if (st == SCAN_ERROR) return STORE_QUERY_ERROR;
            if (st == SCAN_STOPPED) { q->finished = true; return STORE_QUERY_DONE; }
        }
        q->cur_plan++;
    }
    q->finished = true;
    return STORE_QUERY_DONE;
}

store_query_status store_query_run(store_query *q, uint64_t budget_us, store_emit_fn emit, void *ctx) {
    MDB_txn *txn;
    if (mdb_txn_begin(store_env(q->s), NULL, MDB_RDONLY, &txn)) return STORE_QUERY_ERROR;
    store_query_status st = run(q, txn, budget_us, emit, ctx);
    mdb_txn_abort(txn);
    return st;
}

store_query_status store_query_run_in_txn(store_query *q, MDB_txn *txn, store_emit_fn emit, void *ctx) {
    return run(q, txn, 0, emit, ctx);
}

int store_count(store *s, const filter *filters, uint32_t filter_count, uint64_t *count_out) {
    return store_count_each(s, filters, filter_count, NULL, NULL, count_out);
}

int store_count_each(store *s, const filter *filters, uint32_t filter_count, store_count_fn each, void *ctx,
                     uint64_t *count_out) {
    *count_out = 0;
    store_query *q = query_new(s, filters, filter_count, 0, 0, true);
    if (!q) return -1;
    q->count_each = each;
    q->count_each_ctx = ctx;
    MDB_txn *txn;
    int rc = mdb_txn_begin(store_env(s), NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = run(q, txn, 0, NULL, NULL) == STORE_QUERY_DONE ? 0 : -1;
        mdb_txn_abort(txn);
    } else rc = -1;
    if (rc == 0) *count_out = q->count;
    store_query_free(q);
    return rc;
}
