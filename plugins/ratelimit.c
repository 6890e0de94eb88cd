/* Built-in plugin "ratelimit": token buckets per client address and per author.
 *
 *   [plugin.ratelimit]
 *   ip_per_minute = 120       # sustained events per minute from one address (0 = no limit)
 *   ip_burst = 60             # events an address may send at once
 *   pubkey_per_minute = 60    # sustained events per minute from one author (0 = no limit)
 *   pubkey_burst = 30
 *   ipv6_prefix_bits = 64     # IPv6 addresses are grouped by this prefix
 *   table_size = 65536        # buckets kept per table (memory is fixed: ~48 bytes each)
 *
 * Only events from clients (sourceType IP4/IP6) are limited; imports and
 * upstream streams are not. A refused event is answered "rate-limited: ...".
 *
 * Memory is bounded: each table is a fixed array of 4-way sets; a new key takes
 * the least recently used entry of its set (the evicted key starts over with a
 * full bucket). Sets are guarded by striped mutexes, so concurrent decide calls
 * rarely contend. Tokens are kept in micro-tokens (integers). */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "plugin.h"
#include "plugin_config.h"

#define SET_WAYS 4
#define LOCK_STRIPES 64
#define MICRO 1000000LL

typedef struct {
    uint8_t key[32];
    int64_t tokens;      /* micro-tokens */
    int64_t last_us;     /* last refill; 0 = empty slot */
} bucket;

typedef struct {
    bucket *slots;       /* set_count * SET_WAYS */
    size_t set_mask;
    int64_t rate_per_min;
    int64_t burst;
    pthread_mutex_t locks[LOCK_STRIPES];
    uint64_t seed;
} bucket_table;

typedef struct {
    bucket_table ip, pubkey;
    int ipv6_prefix_bits;
} ratelimit_state;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * MICRO + ts.tv_nsec / 1000;
}

static uint64_t hash_key(const uint8_t key[32], uint64_t seed) {
    /* FNV-1a mixed with a per-table seed: keys are attacker-chosen, the seed is not */
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (int i = 0; i < 32; i++) { h ^= key[i]; h *= 1099511628211ULL; }
    h ^= h >> 29;
    return h;
}

static int table_init(bucket_table *t, long long rate, long long burst, long long size) {
    t->rate_per_min = rate;
    t->burst = burst;
    for (int i = 0; i < LOCK_STRIPES; i++) pthread_mutex_init(&t->locks[i], NULL);
    if (rate <= 0) return 0;
    size_t sets = 1;
    while (sets * SET_WAYS < (size_t)size) sets *= 2;
    t->slots = calloc(sets * SET_WAYS, sizeof *t->slots);
    if (!t->slots) return -1;
    t->set_mask = sets - 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    t->seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)t;
    return 0;
}

static void table_free(bucket_table *t) {
    for (int i = 0; i < LOCK_STRIPES; i++) pthread_mutex_destroy(&t->locks[i]);
    free(t->slots);
}

/* Takes one token for key; false if its bucket is empty. */
static bool table_take(bucket_table *t, const uint8_t key[32], int64_t now) {
    if (!t->slots) return true;
    uint64_t h = hash_key(key, t->seed);
    size_t set = (size_t)h & t->set_mask;
    bucket *ways = &t->slots[set * SET_WAYS];
    int64_t cap = t->burst * MICRO;
    pthread_mutex_t *lock = &t->locks[set % LOCK_STRIPES];
    pthread_mutex_lock(lock);
    bucket *b = NULL, *victim = &ways[0];
    for (int i = 0; i < SET_WAYS; i++) {
        if (ways[i].last_us && memcmp(ways[i].key, key, 32) == 0) { b = &ways[i]; break; }
        if (ways[i].last_us < victim->last_us) victim = &ways[i];
    }
    if (!b) {
        b = victim;
        memcpy(b->key, key, 32);
        b->tokens = cap;
        b->last_us = now;
    } else if (now > b->last_us) {
        /* refill: rate_per_min tokens per 60 s = rate_per_min micro-tokens per 60 µs */
        int64_t elapsed = now - b->last_us;
        int64_t add = elapsed > 3600 * MICRO ? cap : elapsed * t->rate_per_min / 60;
        b->tokens = b->tokens + add > cap ? cap : b->tokens + add;
        b->last_us = now;
    }
    bool ok = b->tokens >= MICRO;
    if (ok) b->tokens -= MICRO;
    pthread_mutex_unlock(lock);
    return ok;
}

/* Turns an address text into a 32-byte key (IPv4 as ::ffff:a.b.c.d, IPv6 masked). */
static bool ip_key(const char *text, int v6_bits, uint8_t key[32]) {
    memset(key, 0, 32);
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &a4, 4);
        return true;
    }
    if (inet_pton(AF_INET6, text, &a6) != 1) return false;
    memcpy(key, &a6, 16);
    bool mapped = true;
    for (int i = 0; i < 10; i++) if (key[i]) mapped = false;
    if (mapped && key[10] == 0xff && key[11] == 0xff) return true; /* IPv4-mapped: whole address */
    for (int bit = v6_bits; bit < 128; bit++) key[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    key[16] = 6;
    return true;
}

static void ratelimit_teardown(void *state) {
    ratelimit_state *st = state;
    if (!st) return;
    table_free(&st->ip);
    table_free(&st->pubkey);
    free(st);
}

static int ratelimit_init(void **state, const config *cfg, const char *section, store *s,
                          char *err, size_t errlen) {
    (void)s;
    static const char *const known[] = {"ip_per_minute", "ip_burst", "pubkey_per_minute",
                                        "pubkey_burst", "ipv6_prefix_bits", "table_size", NULL};
    if (plugin_check_keys(cfg, section, known, err, errlen) < 0) return -1;
    long long ip_rate = config_int(cfg, section, "ip_per_minute", 120);
    long long ip_burst = config_int(cfg, section, "ip_burst", 60);
    long long pk_rate = config_int(cfg, section, "pubkey_per_minute", 60);
    long long pk_burst = config_int(cfg, section, "pubkey_burst", 30);
    long long v6 = config_int(cfg, section, "ipv6_prefix_bits", 64);
    long long size = config_int(cfg, section, "table_size", 65536);
    if (ip_rate < 0 || pk_rate < 0 || ip_rate > 60000000 || pk_rate > 60000000) {
        snprintf(err, errlen, "ip_per_minute and pubkey_per_minute must be 0..60000000");
        return -1;
    }
    if (ip_burst < 1 || pk_burst < 1 || ip_burst > 1000000 || pk_burst > 1000000) {
        snprintf(err, errlen, "ip_burst and pubkey_burst must be 1..1000000");
        return -1;
    }
    if (v6 < 16 || v6 > 128) { snprintf(err, errlen, "ipv6_prefix_bits must be 16..128"); return -1; }
    if (size < SET_WAYS || size > (1LL << 24)) { snprintf(err, errlen, "table_size must be 4..16777216"); return -1; }
    ratelimit_state *st = calloc(1, sizeof *st);
    if (!st) { snprintf(err, errlen, "out of memory"); return -1; }
    st->ipv6_prefix_bits = (int)v6;
    int a = table_init(&st->ip, ip_rate, ip_burst, size);
    int b = table_init(&st->pubkey, pk_rate, pk_burst, size);
    if (a < 0 || b < 0) {
        ratelimit_teardown(st);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *state = st;
    return 0;
}

static plugin_verdict ratelimit_decide(void *state, const event *ev, const plugin_source *src,
                                       char *msg, size_t msglen) {
    ratelimit_state *st = state;
    if (!src || !src->source_type || (strcmp(src->source_type, "IP4") != 0 && strcmp(src->source_type, "IP6") != 0))
        return PLUGIN_ACCEPT;
    int64_t now = now_us();
    uint8_t key[32];
    if (st->ip.slots && src->source_info && ip_key(src->source_info, st->ipv6_prefix_bits, key) &&
        !table_take(&st->ip, key, now)) {
        snprintf(msg, msglen, "rate-limited: too many events from your address, slow down");
        return PLUGIN_REJECT;
    }
    if (st->pubkey.slots && !table_take(&st->pubkey, ev->pubkey, now)) {
        snprintf(msg, msglen, "rate-limited: too many events from this pubkey, slow down");
        return PLUGIN_REJECT;
    }
    return PLUGIN_ACCEPT;
}

const plugin_def plugin_ratelimit = {
    .name = "ratelimit",
    .kinds = NULL,
    .kind_count = 0,
    .init = ratelimit_init,
    .teardown = ratelimit_teardown,
    .decide = ratelimit_decide,
    .committed = NULL,
};
