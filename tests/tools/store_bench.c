/* store_bench: measures the event store alone, without the network: inserts N
 * synthetic events (random ids and keys, realistic tags and sizes; signatures
 * are not checked by the store) in write transactions of --batch events, then
 * runs author+kind queries with limit 100 and reports queries/s and p50/p99.
 *
 *   store_bench --dir DIR [--events N] [--authors N] [--batch N] [--queries N]
 * (--events 0 only queries an existing bench database: the authors are the same)
 *
 * Prints one machine-readable line per phase:
 *   RESULT store_insert events=N seconds=S events_per_s=R bytes_per_event=B
 *   RESULT store_query queries=N per_s=R p50_us=X p99_us=Y results=Z */
#include "event.h"
#include "filter.h"
#include "hex.h"
#include "store.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static void rnd_hex(char *out, size_t bytes) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < bytes * 2; i++) out[i] = d[rnd() & 15];
    out[bytes * 2] = 0;
}
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static int count_result(void *ctx, const char *json, size_t len, uint64_t levid) {
    (void)json; (void)len; (void)levid;
    (*(uint64_t *)ctx)++;
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    long events = 200000, authors = 1000, batch = 1000, queries = 5000;
    static const struct option opts[] = {{"dir", 1, 0, 'd'}, {"events", 1, 0, 'n'}, {"authors", 1, 0, 'a'},
                                         {"batch", 1, 0, 'b'}, {"queries", 1, 0, 'q'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd': dir = optarg; break;
        case 'n': events = atol(optarg); break;
        case 'a': authors = atol(optarg); break;
        case 'b': batch = atol(optarg); break;
        case 'q': queries = atol(optarg); break;
        default: fprintf(stderr, "usage: store_bench --dir DIR [--events N] [--authors N] [--batch N] [--queries N]\n"); return 2;
        }
    }
    if (!dir || events < 0 || authors < 1 || batch < 1) { fprintf(stderr, "store_bench: --dir DIR required\n"); return 2; }
    store *s;
    char err[256];
    if (store_open(&s, dir, 64ull << 30, false, err, sizeof err)) { fprintf(stderr, "store_bench: %s\n", err); return 1; }
    char (*pubs)[65] = malloc((size_t)authors * 65);
    for (long i = 0; i < authors; i++) rnd_hex(pubs[i], 32);
    static const uint32_t kinds[] = {1, 1, 1, 1, 7, 7, 6, 1, 1, 30023};
    char *json = malloc(4096);
    double t0 = now_s();
    MDB_txn *txn = NULL;
    long stored = 0;
    for (long i = 0; i < events; i++) {
        char id[65], sig[129], e[65], p[65], content[300];
        rnd_hex(id, 32);
        rnd_hex(sig, 64);
        rnd_hex(e, 32);
        rnd_hex(p, 32);
        size_t clen = 40 + rnd() % 240;
        for (size_t j = 0; j < clen; j++) content[j] = (char)('a' + rnd() % 26);
        content[clen] = 0;
        uint32_t kind = kinds[rnd() % 10];
        int n = snprintf(json, 4096,
                         "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%ld,\"kind\":%u,\"tags\":[[\"e\",\"%s\"],[\"p\",\"%s\"],[\"t\",\"tag%u\"]%s],\"content\":\"%s\",\"sig\":\"%s\"}",
                         id, pubs[rnd() % (uint64_t)authors], 1700000000L + i / 4, kind, e, p, (unsigned)(rnd() % 50),
                         kind == 30023 ? ",[\"d\",\"x\"]" : "", content, sig);
        event ev;
        if (event_parse_trusted(&ev, json, (size_t)n)) { fprintf(stderr, "store_bench: bad synthetic event\n"); return 1; }
        if (!txn && mdb_txn_begin(store_env(s), NULL, 0, &txn)) return 1;
        char msg[200];
        store_result r = store_insert(s, txn, &ev, NULL, msg, sizeof msg);
        event_free(&ev);
        if (r == STORE_ERROR) { fprintf(stderr, "store_bench: %s\n", msg); return 1; }
        stored += r == STORE_ADDED;
        if ((i + 1) % batch == 0) { if (mdb_txn_commit(txn)) return 1; txn = NULL; }
    }
    if (txn && mdb_txn_commit(txn)) return 1;
    double t1 = now_s();
    store_stats st;
    store_get_stats(s, &st);
    printf("RESULT store_insert events=%ld stored=%ld seconds=%.2f events_per_s=%.0f bytes_per_event=%.0f\n", events, stored,
           t1 - t0, (double)events / (t1 - t0), st.events ? (double)st.used_bytes / (double)st.events : 0.0);

    double *lat = malloc(sizeof(double) * (size_t)(queries > 0 ? queries : 1));
    uint64_t results = 0;
    double q0 = now_s();
    for (long i = 0; i < queries; i++) {
        char text[200];
        snprintf(text, sizeof text, "{\"authors\":[\"%s\"],\"kinds\":[1],\"limit\":100}", pubs[rnd() % (uint64_t)authors]);
        double a = now_s();
        filter f;
        filter_limits lim = {0, 0, 0};
        if (filter_parse(&f, text, strlen(text), &lim, err, sizeof err)) { fprintf(stderr, "store_bench: %s\n", err); return 1; }
        store_query *q = store_query_new(s, &f, 1, 500, 5000);
        while (store_query_run(q, 10000, count_result, &results) == STORE_QUERY_MORE) {}
        store_query_free(q);
        filter_free(&f);
        lat[i] = (now_s() - a) * 1e6;
    }
    double q1 = now_s();
    if (queries > 0) {
        qsort(lat, (size_t)queries, sizeof *lat, cmp_double);
        printf("RESULT store_query queries=%ld per_s=%.0f p50_us=%.1f p99_us=%.1f results=%llu\n", queries,
               (double)queries / (q1 - q0), lat[queries / 2], lat[queries * 99 / 100], (unsigned long long)results);
    }
    free(lat);
    free(json);
    free(pubs);
    store_close(s);
    return 0;
}
