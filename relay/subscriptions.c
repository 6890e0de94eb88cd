/* Subscriptions and the live subscription index (see subscriptions.h). */
#include "subscriptions.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- subscriptions ---- */

sub *sub_new(conn_id owner, client_message *msg) {
    sub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    atomic_init(&s->refs, 1);
    atomic_init(&s->live_from_levid, UINT64_MAX);
    s->conn = owner;
    s->msg = msg;
    size_t cap = msg->subid_len * 6 + 16;
    s->event_prefix = msgbuf_new(cap);
    if (!s->event_prefix) {
        free(s);
        return NULL;
    }
    size_t n = 0;
    memcpy(s->event_prefix->data, "[\"EVENT\",", 9);
    n = 9;
    n += json_write_string(s->event_prefix->data + n, cap - n, msg->subid, msg->subid_len);
    s->event_prefix->data[n++] = ',';
    msgbuf_set_len(s->event_prefix, n);
    return s;
}

sub *sub_ref(sub *s) {
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void sub_unref(sub *s) {
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    if (s->query) store_query_free(s->query);
    msgbuf_unref(s->event_prefix);
    if (s->msg) {
        message_free(s->msg);
        free(s->msg);
    }
    free(s);
}

/* ---- index ---- */

typedef struct {
    sub *s;
    uint32_t filter_index;
} sub_ref_t;

typedef struct {
    sub_ref_t *items;
    size_t count, cap;
} ref_vec;

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    char type;  /* 'i' id, 'a' author, 'k' kind, 't' tag */
    char name;  /* tag letter */
    uint32_t len;
    ref_vec refs;
    unsigned char key[]; /* len bytes */
} entry;

struct sub_index {
    pthread_rwlock_t lock;
    entry **buckets;
    size_t bucket_count; /* power of two */
    size_t entry_count;
    ref_vec match_all;
    size_t sub_count;
    _Atomic uint32_t levid_epoch;
};

static uint64_t key_hash(char type, char name, const void *key, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    h = (h ^ (unsigned char)type) * 1099511628211ULL;
    h = (h ^ (unsigned char)name) * 1099511628211ULL;
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static int vec_push(ref_vec *v, sub *s, uint32_t fi) {
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        sub_ref_t *n = realloc(v->items, cap * sizeof *n);
        if (!n) return -1;
        v->items = n;
        v->cap = cap;
    }
    v->items[v->count].s = s;
    v->items[v->count].filter_index = fi;
    v->count++;
    return 0;
}

static void vec_remove_sub(ref_vec *v, const sub *s) {
    for (size_t i = 0; i < v->count;) {
        if (v->items[i].s == s) v->items[i] = v->items[--v->count];
        else i++;
    }
}

sub_index *sub_index_new(void) {
    sub_index *idx = calloc(1, sizeof *idx);
    if (!idx) return NULL;
    idx->bucket_count = 1024;
    idx->buckets = calloc(idx->bucket_count, sizeof *idx->buckets);
    if (!idx->buckets) {
        free(idx);
        return NULL;
    }
    pthread_rwlock_init(&idx->lock, NULL);
    return idx;
}

void sub_index_free(sub_index *idx) {
    if (!idx) return;
    for (size_t b = 0; b < idx->bucket_count; b++) {
        entry *e = idx->buckets[b];
        while (e) {
            entry *next = e->next;
            free(e->refs.items);
            free(e);
            e = next;
        }
    }
    /* subscriptions still indexed at shut-down are left to process exit */
    free(idx->match_all.items);
    free(idx->buckets);
    pthread_rwlock_destroy(&idx->lock);
    free(idx);
}

static entry *find_entry(sub_index *idx, uint64_t h, char type, char name, const void *key, size_t len) {
    for (entry *e = idx->buckets[h & (idx->bucket_count - 1)]; e; e = e->next)
        if (e->hash == h && e->type == type && e->name == name && e->len == len &&
            memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void grow(sub_index *idx) {
    size_t n = idx->bucket_count * 2;
    entry **nb = calloc(n, sizeof *nb);
    if (!nb) return;
    for (size_t b = 0; b < idx->bucket_count; b++) {
        entry *e = idx->buckets[b];
        while (e) {
            entry *next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(idx->buckets);
    idx->buckets = nb;
    idx->bucket_count = n;
}

static int add_key(sub_index *idx, char type, char name, const void *key, size_t len, sub *s, uint32_t fi) {
    uint64_t h = key_hash(type, name, key, len);
    entry *e = find_entry(idx, h, type, name, key, len);
    if (!e) {
        e = calloc(1, sizeof *e + len);
        if (!e) return -1;
        e->hash = h;
        e->type = type;
        e->name = name;
        e->len = (uint32_t)len;
        memcpy(e->key, key, len);
        size_t b = h & (idx->bucket_count - 1);
        e->next = idx->buckets[b];
        idx->buckets[b] = e;
        if (++idx->entry_count > idx->bucket_count * 2) grow(idx);
    }
    return vec_push(&e->refs, s, fi);
}

static void remove_key(sub_index *idx, char type, char name, const void *key, size_t len, sub *s) {
    uint64_t h = key_hash(type, name, key, len);
    entry **pp = &idx->buckets[h & (idx->bucket_count - 1)];
    for (entry *e = *pp; e; pp = &e->next, e = e->next) {
        if (e->hash == h && e->type == type && e->name == name && e->len == len &&
            memcmp(e->key, key, len) == 0) {
            vec_remove_sub(&e->refs, s);
            if (e->refs.count == 0) {
                *pp = e->next;
                free(e->refs.items);
                free(e);
                idx->entry_count--;
            }
            return;
        }
    }
}

/* Calls fn for each key a filter is filed under; returns false for match-all. */
typedef int (*key_fn)(sub_index *idx, char type, char name, const void *key, size_t len, sub *s, uint32_t fi);

static int do_add(sub_index *idx, char type, char name, const void *key, size_t len, sub *s, uint32_t fi) {
    return add_key(idx, type, name, key, len, s, fi);
}
static int do_remove(sub_index *idx, char type, char name, const void *key, size_t len, sub *s, uint32_t fi) {
    (void)fi;
    remove_key(idx, type, name, key, len, s);
    return 0;
}

/* Returns 1 if the filter was filed under keys, 0 if it belongs to match-all,
 * -1 on error. A filter with an empty list matches nothing and is filed nowhere
 * (returns 1). */
static int walk_filter_keys(sub_index *idx, const filter *f, sub *s, uint32_t fi, key_fn fn) {
    if (f->has_ids) {
        for (uint32_t i = 0; i < f->id_count; i++)
            if (fn(idx, 'i', 0, f->ids[i], 32, s, fi) < 0) return -1;
        return 1;
    }
    if (f->has_authors) {
        for (uint32_t i = 0; i < f->author_count; i++)
            if (fn(idx, 'a', 0, f->authors[i], 32, s, fi) < 0) return -1;
        return 1;
    }
    if (f->tag_count > 0) {
        const filter_tag *t = &f->tags[0];
        for (uint32_t i = 0; i < t->value_count; i++)
            if (fn(idx, 't', t->name, t->values[i].ptr, t->values[i].len, s, fi) < 0) return -1;
        return 1;
    }
    if (f->has_kinds) {
        for (uint32_t i = 0; i < f->kind_count; i++) {
            uint32_t k = f->kinds[i];
            if (fn(idx, 'k', 0, &k, sizeof k, s, fi) < 0) return -1;
        }
        return 1;
    }
    return 0;
}

int sub_index_add(sub_index *idx, sub *s) {
    pthread_rwlock_wrlock(&idx->lock);
    int rc = 0;
    for (uint32_t fi = 0; fi < s->msg->filter_count && rc == 0; fi++) {
        int r = walk_filter_keys(idx, &s->msg->filters[fi], s, fi, do_add);
        if (r < 0) rc = -1;
        else if (r == 0 && vec_push(&idx->match_all, s, fi) < 0) rc = -1;
    }
    if (rc < 0) {
        for (uint32_t fi = 0; fi < s->msg->filter_count; fi++)
            walk_filter_keys(idx, &s->msg->filters[fi], s, fi, do_remove);
        vec_remove_sub(&idx->match_all, s);
    } else {
        s->indexed = true;
        s->levid_epoch = atomic_load(&idx->levid_epoch);
        sub_ref(s);
        idx->sub_count++;
    }
    pthread_rwlock_unlock(&idx->lock);
    return rc;
}

void sub_index_levids_reassigned(sub_index *idx) { atomic_fetch_add(&idx->levid_epoch, 1); }

bool sub_sent_live(sub_index *idx, sub *s, uint64_t levid) {
    return levid >= atomic_load(&s->live_from_levid) && s->levid_epoch == atomic_load(&idx->levid_epoch);
}

void sub_index_remove(sub_index *idx, sub *s) {
    pthread_rwlock_wrlock(&idx->lock);
    if (!s->indexed) {
        pthread_rwlock_unlock(&idx->lock);
        return;
    }
    for (uint32_t fi = 0; fi < s->msg->filter_count; fi++)
        walk_filter_keys(idx, &s->msg->filters[fi], s, fi, do_remove);
    vec_remove_sub(&idx->match_all, s);
    s->indexed = false;
    idx->sub_count--;
    pthread_rwlock_unlock(&idx->lock);
    sub_unref(s);
}

size_t sub_index_count(sub_index *idx) {
    pthread_rwlock_rdlock(&idx->lock);
    size_t n = idx->sub_count;
    pthread_rwlock_unlock(&idx->lock);
    return n;
}

/* Matched subscriptions of one event: a small inline array, on the heap when
 * an event matches many. */
typedef struct {
    sub **items;
    size_t count, cap;
    sub *inline_items[64];
} match_set;

static bool set_push(match_set *m, sub *s) {
    if (m->count == m->cap) {
        size_t cap = m->cap * 2;
        sub **n = m->items == m->inline_items ? malloc(cap * sizeof *n) : realloc(m->items, cap * sizeof *n);
        if (!n) return false;
        if (m->items == m->inline_items) memcpy(n, m->inline_items, m->count * sizeof *n);
        m->items = n;
        m->cap = cap;
    }
    m->items[m->count++] = s;
    return true;
}

static void check_refs(const ref_vec *v, const event *ev, match_set *m) {
    for (size_t i = 0; i < v->count; i++) {
        sub *s = v->items[i].s;
        /* skip subs already matched through another key (cheap check of the last few) */
        bool seen = false;
        for (size_t j = m->count; j > 0 && j + 8 > m->count; j--)
            if (m->items[j - 1] == s) { seen = true; break; }
        if (seen) continue;
        if (!filter_match(&s->msg->filters[v->items[i].filter_index], ev)) continue;
        if (!set_push(m, s)) return;
    }
}

static void lookup(sub_index *idx, char type, char name, const void *key, size_t len, const event *ev, match_set *m) {
    entry *e = find_entry(idx, key_hash(type, name, key, len), type, name, key, len);
    if (e) check_refs(&e->refs, ev, m);
}

static int ptr_cmp(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (sub *const *)a, y = (uintptr_t) * (sub *const *)b;
    return x < y ? -1 : x > y;
}

size_t sub_index_match(sub_index *idx, const event *ev, sub_deliver_fn deliver, void *ctx) {
    pthread_rwlock_rdlock(&idx->lock);
    if (idx->sub_count == 0) {
        pthread_rwlock_unlock(&idx->lock);
        return 0;
    }
    match_set m;
    m.items = m.inline_items;
    m.count = 0;
    m.cap = sizeof m.inline_items / sizeof m.inline_items[0];
    lookup(idx, 'i', 0, ev->id, 32, ev, &m);
    lookup(idx, 'a', 0, ev->pubkey, 32, ev, &m);
    uint32_t k = ev->kind;
    lookup(idx, 'k', 0, &k, sizeof k, ev, &m);
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        if (ev->tags[t].count < 2) continue;
        const event_str *name = &ev->tag_strs[ev->tags[t].first];
        if (name->len != 1) continue;
        const event_str *val = &ev->tag_strs[ev->tags[t].first + 1];
        lookup(idx, 't', name->ptr[0], val->ptr, val->len, ev, &m);
    }
    check_refs(&idx->match_all, ev, &m);
    if (m.count > 1) qsort(m.items, m.count, sizeof *m.items, ptr_cmp);
    size_t delivered = 0;
    for (size_t i = 0; i < m.count; i++) {
        if (i > 0 && m.items[i] == m.items[i - 1]) continue;
        deliver(ctx, m.items[i]);
        delivered++;
    }
    pthread_rwlock_unlock(&idx->lock);
    if (m.items != m.inline_items) free(m.items);
    return delivered;
}

typedef struct {
    conn_table *conns;
    const event *ev;
    uint64_t levid;
    msgbuf *body;
} broadcast_ctx;

static void broadcast_one(void *vctx, sub *s) {
    broadcast_ctx *b = vctx;
    if (!b->body) {
        b->body = msgbuf_copy(b->ev->json, b->ev->json_len);
        if (!b->body) return;
    }
    if (b->levid && atomic_load_explicit(&s->live_from_levid, memory_order_relaxed) == UINT64_MAX) {
        uint64_t none = UINT64_MAX; /* only the first: levids only grow */
        atomic_compare_exchange_strong(&s->live_from_levid, &none, b->levid);
    }
    conn_send(b->conns, s->conn, msgbuf_ref(s->event_prefix), msgbuf_ref(b->body), true);
}

size_t sub_broadcast(sub_index *idx, conn_table *conns, const event *ev, uint64_t levid) {
    broadcast_ctx b = {conns, ev, levid, NULL};
    size_t n = sub_index_match(idx, ev, broadcast_one, &b);
    msgbuf_unref(b.body);
    return n;
}
