/* The summary of answered, not yet committed events (see pending.h): one
 * open-addressing set of 64-bit hashes of typed keys, plus the created_at
 * range. Keys (kinds as the in-memory uint32: the set never leaves this
 * process): 'i'‖id, 'p'‖pubkey, 'k'‖kind, 't'‖letter‖value for each tag
 * with a one-letter name and a value, and for events that delete or replace
 * stored ones: 'A'‖pubkey (kind 5: any kind of the author), or 'c'‖pubkey‖kind
 * and 'C'‖pubkey (replaceable and addressable kinds). A hash collision can only make a
 * filter wait for nothing. */
#include "pending.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define PENDING_MIN_SLOTS 1024u

struct pending_set {
    pthread_mutex_t lock;
    uint64_t *slots;      /* 0 = empty (a zero hash is stored as 1) */
    size_t slot_count;    /* a power of two */
    size_t used;
    uint64_t events;
    int64_t min_created, max_created;
    bool changes;         /* some pending event deletes or replaces stored ones */
    bool overflow;        /* out of memory: everything may match */
};

/* a (at most 32 bytes) is hashed with the type; b (a tag value of any length,
 * or a kind) is hashed with that as seed. */
static uint64_t key_hash(char type, const void *a, size_t alen, const void *b, size_t blen) {
    uint8_t head[33];
    head[0] = (uint8_t)type;
    memcpy(head + 1, a, alen);
    uint64_t h = XXH3_64bits(head, 1 + alen);
    if (b) h = XXH3_64bits_withSeed(b, blen, h);
    return h ? h : 1;
}

static bool set_contains(const pending_set *p, uint64_t h) {
    if (!p->slot_count) return false;
    for (size_t i = h & (p->slot_count - 1);; i = (i + 1) & (p->slot_count - 1)) {
        if (p->slots[i] == h) return true;
        if (p->slots[i] == 0) return false;
    }
}

static int set_insert(pending_set *p, uint64_t h) {
    if ((p->used + 1) * 2 > p->slot_count) { /* keep the load under one half */
        size_t n = p->slot_count ? p->slot_count * 2 : PENDING_MIN_SLOTS;
        uint64_t *s = calloc(n, sizeof *s);
        if (!s) return -1;
        for (size_t i = 0; i < p->slot_count; i++) {
            uint64_t v = p->slots[i];
            if (!v) continue;
            size_t j = v & (n - 1);
            while (s[j]) j = (j + 1) & (n - 1);
            s[j] = v;
        }
        free(p->slots);
        p->slots = s;
        p->slot_count = n;
    }
    size_t i = h & (p->slot_count - 1);
    while (p->slots[i] && p->slots[i] != h) i = (i + 1) & (p->slot_count - 1);
    if (!p->slots[i]) {
        p->slots[i] = h;
        p->used++;
    }
    return 0;
}

pending_set *pending_new(void) {
    pending_set *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void pending_free(pending_set *p) {
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    free(p->slots);
    free(p);
}

static int add_locked(pending_set *p, const event *ev) {
    const uint32_t *kind = &ev->kind;
    if (set_insert(p, key_hash('i', ev->id, 32, NULL, 0)) || set_insert(p, key_hash('p', ev->pubkey, 32, NULL, 0)) ||
        set_insert(p, key_hash('k', kind, sizeof *kind, NULL, 0)))
        return -1;
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        const event_str *name = event_tag_str(ev, t, 0), *value = event_tag_str(ev, t, 1);
        if (!name || name->len != 1 || !value) continue;
        if (set_insert(p, key_hash('t', name->ptr, 1, value->ptr, value->len))) return -1;
    }
    event_class cls = event_kind_class(ev->kind);
    if (ev->kind == 5) {
        if (set_insert(p, key_hash('A', ev->pubkey, 32, NULL, 0))) return -1;
        p->changes = true;
    } else if (cls == EVENT_CLASS_REPLACEABLE || cls == EVENT_CLASS_ADDRESSABLE) {
        if (set_insert(p, key_hash('c', ev->pubkey, 32, kind, sizeof *kind)) || set_insert(p, key_hash('C', ev->pubkey, 32, NULL, 0)))
            return -1;
        p->changes = true;
    }
    if (!p->events || ev->created_at < p->min_created) p->min_created = ev->created_at;
    if (!p->events || ev->created_at > p->max_created) p->max_created = ev->created_at;
    p->events++;
    return 0;
}

int pending_add(pending_set *p, const event *ev) {
    pthread_mutex_lock(&p->lock);
    int rc = p->overflow ? 0 : add_locked(p, ev);
    if (rc) p->overflow = true;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void pending_clear(pending_set *p) {
    pthread_mutex_lock(&p->lock);
    if (p->slots) memset(p->slots, 0, p->slot_count * sizeof *p->slots);
    p->used = 0;
    p->events = 0;
    p->changes = p->overflow = false;
    pthread_mutex_unlock(&p->lock);
}

/* Could a pending kind 5 or replacement remove an event this filter matches? */
static bool changes_may_touch(const pending_set *p, const filter *f) {
    if (!p->changes) return false;
    if (!f->has_authors) return true;
    for (uint32_t a = 0; a < f->author_count; a++) {
        if (set_contains(p, key_hash('A', f->authors[a], 32, NULL, 0))) return true;
        if (!f->has_kinds) { /* any kind of this author: a replacement of some kind */
            if (set_contains(p, key_hash('C', f->authors[a], 32, NULL, 0))) return true;
            continue;
        }
        for (uint32_t k = 0; k < f->kind_count; k++)
            if (set_contains(p, key_hash('c', f->authors[a], 32, &f->kinds[k], sizeof f->kinds[k]))) return true;
    }
    return false;
}

/* Does the set hold one of the `count` keys of `size` bytes at items, typed `type`? */
static bool contains_any(const pending_set *p, char type, const void *items, uint32_t count, size_t size) {
    for (uint32_t i = 0; i < count; i++)
        if (set_contains(p, key_hash(type, (const uint8_t *)items + i * size, size, NULL, 0))) return true;
    return false;
}

/* Could a pending event itself match the filter? (each dimension alone) */
static bool events_may_match(const pending_set *p, const filter *f) {
    if (f->has_since && f->since > p->max_created) return false;
    if (f->has_until && f->until < p->min_created) return false;
    if (f->has_ids && !contains_any(p, 'i', f->ids, f->id_count, 32)) return false;
    if (f->has_authors && !contains_any(p, 'p', f->authors, f->author_count, 32)) return false;
    if (f->has_kinds && !contains_any(p, 'k', f->kinds, f->kind_count, sizeof *f->kinds)) return false;
    for (uint32_t t = 0; t < f->tag_count; t++) {
        const filter_tag *ft = &f->tags[t];
        bool any = false;
        for (uint32_t v = 0; !any && v < ft->value_count; v++)
            any = set_contains(p, key_hash('t', &ft->name, 1, ft->values[v].ptr, ft->values[v].len));
        if (!any) return false;
    }
    return true;
}

bool pending_may_match(pending_set *p, const filter *filters, uint32_t count) {
    pthread_mutex_lock(&p->lock);
    bool may = false;
    if (p->overflow) may = true;
    else if (p->events)
        for (uint32_t i = 0; !may && i < count; i++)
            may = changes_may_touch(p, &filters[i]) || events_may_match(p, &filters[i]);
    pthread_mutex_unlock(&p->lock);
    return may;
}
