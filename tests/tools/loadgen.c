/* loadgen: the load generator behind `make bench` (scripts/bench.sh).
 *
 * A minimal WebSocket client over raw TCP (HTTP upgrade, masked client frames, a
 * frame parser with fragmentation and ping/pong) driven by one epoll loop, so the
 * generator costs little next to the relay it measures. Events are generated and
 * signed (BIP-340 with libsecp256k1, ids with libsodium sha256) and framed before
 * any clock starts. Every mode prints one machine-readable line on stdout:
 *   RESULT <mode> key=value ...
 * and a human summary on stderr. See `loadgen --help` and docs/BENCHMARKS.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ basics */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}
static void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) die("out of memory");
    return p;
}

/* splitmix64: deterministic, seeded per event so generation can be split over threads */
static uint64_t rnd_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t rnd_below(uint64_t *s, uint32_t n) { return n ? (uint32_t)(rnd_next(s) % n) : 0; }

static const char hexdig[] = "0123456789abcdef";
static void to_hex(const uint8_t *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = 0;
}
/* First 8 bytes of a 64-hex id as an integer; false if not hex. */
static bool hex_prefix64(const char *h, size_t n, uint64_t *out) {
    if (n < 16) return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = h[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}
static uint64_t id_prefix64(const uint8_t id[32]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | id[i];
    return v;
}

/* growable byte buffer */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;
static void sb_reserve(sbuf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + extra + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) die("out of memory (%zu bytes)", nc);
    b->p = np;
    b->cap = nc;
}
static void sb_add(sbuf *b, const void *d, size_t n) {
    sb_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) die("vsnprintf");
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
static void sb_free(sbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* latency samples (ns) and percentiles */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} samples;
static void samples_add(samples *s, uint64_t x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = x;
}
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static void samples_sort(samples *s) { qsort(s->v, s->n, sizeof *s->v, cmp_u64); }
/* nearest-rank percentile in ms (sorted samples) */
static double pct_ms(const samples *s, double p) {
    if (!s->n) return 0;
    size_t k = (size_t)(p / 100.0 * (double)s->n + 0.999999);
    if (k < 1) k = 1;
    if (k > s->n) k = s->n;
    return (double)s->v[k - 1] / 1e6;
}
static double mean_ms(const samples *s) {
    if (!s->n) return 0;
    double t = 0;
    for (size_t i = 0; i < s->n; i++) t += (double)s->v[i];
    return t / (double)s->n / 1e6;
}

/* ------------------------------------------------------------------ options */

typedef struct {
    const char *mode;
    char host[256];
    char port[16];
    char path[256];
    bool have_url;
    bool notes;
    uint32_t connections;
    uint32_t window;
    uint64_t events;
    uint64_t requests;
    uint32_t subscribers;
    uint32_t authors;
    uint64_t offset;
    uint64_t seed;
    const char *out;
    const char *filter;
    double timeout_s;
    double stall_s;
    uint64_t rate; /* ingest: events/s over all connections (0: as fast as answers come) */
    char kinds[128];
    uint32_t limit;
    uint32_t threads;
    uint32_t interval_ms;
} options;
static options opt;

/* ------------------------------------------------------------------ keys and events */

static secp256k1_context *g_ctx;

typedef struct {
    secp256k1_keypair kp;
    char pubhex[65];
} author_key;

static void derive_key(author_key *k, const char *label, uint64_t seed, uint32_t i) {
    char in[160];
    uint8_t sk[32], pub[32];
    int n = snprintf(in, sizeof in, "g1relay-bench:%s:%" PRIu64 ":%u", label, seed, i);
    crypto_hash_sha256(sk, (const uint8_t *)in, (unsigned long long)n);
    while (!secp256k1_keypair_create(g_ctx, &k->kp, sk)) crypto_hash_sha256(sk, sk, 32);
    secp256k1_xonly_pubkey xp;
    if (!secp256k1_keypair_xonly_pub(g_ctx, &xp, NULL, &k->kp) || !secp256k1_xonly_pubkey_serialize(g_ctx, pub, &xp))
        die("key derivation failed");
    to_hex(pub, 32, k->pubhex);
    sodium_memzero(sk, sizeof sk);
}

static author_key *derive_keys(const char *label, uint64_t seed, uint32_t n) {
    author_key *k = xcalloc(n, sizeof *k);
    for (uint32_t i = 0; i < n; i++) derive_key(&k[i], label, seed, i);
    return k;
}

/* Appends the signed event object to out. tags: JSON array text; content: the body
 * of a JSON string, already escaped as NIP-01 wants (generated text is plain ASCII). */
static void sign_event(sbuf *out, sbuf *scratch, const author_key *k, int64_t created_at, uint32_t kind,
                       const sbuf *tags, const sbuf *content, uint8_t id[32]) {
    scratch->len = 0;
    sb_printf(scratch, "[0,\"%s\",%" PRId64 ",%u,", k->pubhex, created_at, kind);
    sb_add(scratch, tags->p, tags->len);
    sb_add(scratch, ",\"", 2);
    sb_add(scratch, content->p, content->len);
    sb_add(scratch, "\"]", 2);
    crypto_hash_sha256(id, (const uint8_t *)scratch->p, scratch->len);
    uint8_t sig[64];
    if (!secp256k1_schnorrsig_sign32(g_ctx, sig, id, &k->kp, NULL)) die("signing failed");
    char idhex[65], sighex[129];
    to_hex(id, 32, idhex);
    to_hex(sig, 64, sighex);
    sb_printf(out, "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%" PRId64 ",\"kind\":%u,\"tags\":", idhex,
              k->pubhex, created_at, kind);
    sb_add(out, tags->p, tags->len);
    sb_add(out, ",\"content\":\"", 12);
    sb_add(out, content->p, content->len);
    sb_str(out, "\",\"sig\":\"");
    sb_str(out, sighex);
    sb_add(out, "\"}", 2);
}

static const char *const words[] = {
    "the", "relay", "station", "june", "market", "bread", "garden", "coffee", "bike", "repair",
    "free", "software", "commons", "village", "solar", "panel", "water", "seeds", "swap", "meeting",
    "tonight", "tomorrow", "thanks", "great", "idea", "question", "answer", "photo", "map", "trail",
    "honey", "bees", "apple", "cider", "music", "concert", "library", "books", "school", "kids",
    "nostr", "g1", "libre", "monnaie", "zen", "astroport", "uplanet", "node", "sync", "backup",
    "weather", "rain", "sun", "wind", "forest", "river", "mountain", "cheese", "wine", "tools",
    "and", "with", "for", "from"};
#define WORD_COUNT (sizeof words / sizeof words[0])

static void gen_text(sbuf *b, uint64_t *s, uint32_t minlen, uint32_t maxlen) {
    uint32_t target = minlen + rnd_below(s, maxlen - minlen + 1);
    size_t start = b->len;
    while (b->len - start < target) {
        if (b->len > start) sb_str(b, rnd_below(s, 12) ? " " : ". ");
        sb_str(b, words[rnd_below(s, WORD_COUNT)]);
    }
}
static void gen_hex_id(char out[65], uint64_t *s) {
    uint8_t r[32];
    for (int i = 0; i < 4; i++) {
        uint64_t x = rnd_next(s);
        memcpy(r + 8 * i, &x, 8);
    }
    to_hex(r, 32, out);
}

#define MIX_T0 1750000000ll /* created_at of mix event 0; one event every ~7 s after it */

/* What a station's database looks like, roughly: notes, reactions, a few long-form
 * articles, profiles, contact lists and reposts from `authors` authors chosen
 * uniformly. Deterministic in (seed, i) so `query` knows which authors exist and
 * fills can be extended (--offset). */
static uint32_t gen_mix_event(sbuf *out, sbuf *tags, sbuf *content, sbuf *scratch, const author_key *authors,
                              uint32_t nauthors, uint64_t seed, uint64_t i, uint8_t id[32]) {
    uint64_t s = seed * 0x2545f4914f6cdd1dull ^ (i + 1) * 0x9e3779b97f4a7c15ull;
    rnd_next(&s);
    uint32_t a = rnd_below(&s, nauthors);
    int64_t created_at = MIX_T0 + (int64_t)i * 7 + rnd_below(&s, 7);
    uint32_t r = rnd_below(&s, 100), kind;
    char hx[65];
    tags->len = content->len = 0;
    sb_add(tags, "[", 1);
    if (r < 62) { /* short note, some with hashtags, some replies */
        kind = 1;
        gen_text(content, &s, 20, 400);
        bool first = true;
        if (rnd_below(&s, 100) < 30) {
            uint32_t nt = 1 + rnd_below(&s, 3);
            for (uint32_t t = 0; t < nt; t++) {
                sb_printf(tags, "%s[\"t\",\"%s\"]", first ? "" : ",", words[rnd_below(&s, WORD_COUNT)]);
                first = false;
            }
        }
        if (rnd_below(&s, 100) < 25) {
            gen_hex_id(hx, &s);
            sb_printf(tags, "%s[\"e\",\"%s\",\"\",\"reply\"],[\"p\",\"%s\"]", first ? "" : ",", hx,
                      authors[rnd_below(&s, nauthors)].pubhex);
        }
    } else if (r < 87) { /* reaction */
        kind = 7;
        sb_str(content, rnd_below(&s, 10) ? "+" : "-");
        gen_hex_id(hx, &s);
        sb_printf(tags, "[\"e\",\"%s\"],[\"p\",\"%s\"],[\"k\",\"1\"]", hx, authors[rnd_below(&s, nauthors)].pubhex);
    } else if (r < 92) { /* long-form article, addressable by d */
        kind = 30023;
        sb_printf(tags, "[\"d\",\"article-%u\"],[\"title\",\"", rnd_below(&s, 20));
        gen_text(tags, &s, 10, 50);
        sb_printf(tags, "\"],[\"published_at\",\"%" PRId64 "\"],[\"t\",\"%s\"]", created_at,
                  words[rnd_below(&s, WORD_COUNT)]);
        gen_text(content, &s, 800, 4000);
    } else if (r < 95) { /* profile (replaceable); content is escaped JSON */
        kind = 0;
        sb_printf(content, "{\\\"name\\\":\\\"bench%u\\\",\\\"about\\\":\\\"", a);
        gen_text(content, &s, 20, 160);
        sb_printf(content, "\\\",\\\"picture\\\":\\\"https://example.org/a/%u.png\\\"}", a);
    } else if (r < 98) { /* contact list (replaceable) */
        kind = 3;
        uint32_t np = 10 + rnd_below(&s, 140);
        for (uint32_t p = 0; p < np; p++)
            sb_printf(tags, "%s[\"p\",\"%s\"]", p ? "," : "", authors[rnd_below(&s, nauthors)].pubhex);
    } else { /* repost */
        kind = 6;
        gen_hex_id(hx, &s);
        sb_printf(tags, "[\"e\",\"%s\"],[\"p\",\"%s\"]", hx, authors[rnd_below(&s, nauthors)].pubhex);
    }
    sb_add(tags, "]", 1);
    sign_event(out, scratch, &authors[a], created_at, kind, tags, content, id);
    return kind;
}

/* A fresh kind 1 note for ingest runs: unique per run (nonce), created_at now. */
static void gen_note_event(sbuf *out, sbuf *tags, sbuf *content, sbuf *scratch, const author_key *authors,
                           uint32_t nauthors, uint64_t nonce, int64_t now, uint64_t i, uint8_t id[32]) {
    uint64_t s = nonce ^ (i + 1) * 0x9e3779b97f4a7c15ull;
    rnd_next(&s);
    tags->len = content->len = 0;
    sb_printf(content, "bench %016" PRIx64 " %" PRIu64 ": ", nonce, i);
    gen_text(content, &s, 40, 300);
    sb_printf(tags, "[[\"t\",\"%s\"],[\"p\",\"%s\"]]", words[rnd_below(&s, WORD_COUNT)],
              authors[rnd_below(&s, nauthors)].pubhex);
    sign_event(out, scratch, &authors[i % nauthors], now - (int64_t)rnd_below(&s, 30), 1, tags, content, id);
}

/* ------------------------------------------------------------------ websocket frames */

/* Appends one masked client frame (FIN set). */
static void ws_frame(sbuf *out, int opcode, const void *payload, size_t len, uint32_t maskkey) {
    uint8_t h[14];
    size_t hn = 0;
    h[hn++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        h[hn++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        h[hn++] = 0x80 | 126;
        h[hn++] = (uint8_t)(len >> 8);
        h[hn++] = (uint8_t)len;
    } else {
        h[hn++] = 0x80 | 127;
        for (int k = 7; k >= 0; k--) h[hn++] = (uint8_t)((uint64_t)len >> (8 * k));
    }
    uint8_t m[4] = {(uint8_t)(maskkey >> 24), (uint8_t)(maskkey >> 16), (uint8_t)(maskkey >> 8), (uint8_t)maskkey};
    memcpy(h + hn, m, 4);
    hn += 4;
    sb_add(out, h, hn);
    sb_reserve(out, len);
    uint8_t *dst = (uint8_t *)out->p + out->len;
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) dst[i] = src[i] ^ m[i & 3];
    out->len += len;
}

/* ------------------------------------------------------------------ batches of pre-built events */

typedef enum { GEN_MIX, GEN_NOTE } gen_kind;

typedef struct {
    sbuf data;      /* frames (as_frames) or JSON lines */
    size_t *offs;   /* count+1 offsets into data */
    uint64_t *idp;  /* id prefix of each event */
    uint64_t count;
} batch;

typedef struct {
    gen_kind kind;
    const author_key *authors;
    uint32_t nauthors;
    uint64_t seed, nonce;
    int64_t now;
    bool as_frames;
    uint64_t first, count; /* event numbers */
    batch out;
    uint32_t kind_counts[8];
} gen_job;

static int kind_slot(uint32_t k) {
    switch (k) {
    case 1: return 0;
    case 7: return 1;
    case 30023: return 2;
    case 0: return 3;
    case 3: return 4;
    case 6: return 5;
    default: return 6;
    }
}

static void *gen_thread(void *arg) {
    gen_job *j = arg;
    sbuf ev = {0}, tags = {0}, content = {0}, scratch = {0}, msg = {0};
    j->out.offs = xmalloc((j->count + 1) * sizeof(size_t));
    j->out.idp = xmalloc((j->count ? j->count : 1) * sizeof(uint64_t));
    j->out.count = j->count;
    uint64_t ms = j->seed ^ j->nonce ^ j->first * 0x9e3779b97f4a7c15ull;
    for (uint64_t k = 0; k < j->count; k++) {
        uint8_t id[32];
        uint64_t i = j->first + k;
        ev.len = 0;
        if (j->kind == GEN_MIX) {
            uint32_t kind = gen_mix_event(&ev, &tags, &content, &scratch, j->authors, j->nauthors, j->seed, i, id);
            j->kind_counts[kind_slot(kind)]++;
        } else {
            gen_note_event(&ev, &tags, &content, &scratch, j->authors, j->nauthors, j->nonce, j->now, i, id);
        }
        j->out.offs[k] = j->out.data.len;
        j->out.idp[k] = id_prefix64(id);
        if (j->as_frames) {
            msg.len = 0;
            sb_add(&msg, "[\"EVENT\",", 9);
            sb_add(&msg, ev.p, ev.len);
            sb_add(&msg, "]", 1);
            ws_frame(&j->out.data, 1, msg.p, msg.len, (uint32_t)rnd_next(&ms));
        } else {
            sb_add(&j->out.data, ev.p, ev.len);
            sb_add(&j->out.data, "\n", 1);
        }
    }
    j->out.offs[j->count] = j->out.data.len;
    sb_free(&ev);
    sb_free(&tags);
    sb_free(&content);
    sb_free(&scratch);
    sb_free(&msg);
    return NULL;
}

static void batch_free(batch *b) {
    sb_free(&b->data);
    free(b->offs);
    free(b->idp);
    memset(b, 0, sizeof *b);
}

/* Generates events first..first+count-1 on opt.threads threads, concatenated in order. */
static batch gen_batch(gen_kind kind, const author_key *authors, uint32_t nauthors, uint64_t seed, uint64_t nonce,
                       int64_t now, bool as_frames, uint64_t first, uint64_t count, uint32_t kind_counts[8]) {
    uint32_t nt = opt.threads ? opt.threads : 1;
    if (nt > count) nt = count ? (uint32_t)count : 1;
    gen_job *jobs = xcalloc(nt, sizeof *jobs);
    pthread_t *th = xcalloc(nt, sizeof *th);
    for (uint32_t t = 0; t < nt; t++) {
        gen_job *j = &jobs[t];
        j->kind = kind;
        j->authors = authors;
        j->nauthors = nauthors;
        j->seed = seed;
        j->nonce = nonce;
        j->now = now;
        j->as_frames = as_frames;
        j->first = first + count * t / nt;
        j->count = first + count * (t + 1) / nt - j->first;
        if (pthread_create(&th[t], NULL, gen_thread, j)) die("pthread_create");
    }
    batch b = {0};
    b.count = count;
    b.offs = xmalloc((count + 1) * sizeof(size_t));
    b.idp = xmalloc((count ? count : 1) * sizeof(uint64_t));
    uint64_t k = 0;
    for (uint32_t t = 0; t < nt; t++) {
        pthread_join(th[t], NULL);
        gen_job *j = &jobs[t];
        size_t base = b.data.len;
        sb_add(&b.data, j->out.data.p ? j->out.data.p : "", j->out.data.len);
        for (uint64_t e = 0; e < j->count; e++, k++) {
            b.offs[k] = base + j->out.offs[e];
            b.idp[k] = j->out.idp[e];
        }
        if (kind_counts)
            for (int s = 0; s < 8; s++) kind_counts[s] += j->kind_counts[s];
        batch_free(&j->out);
    }
    b.offs[count] = b.data.len;
    free(jobs);
    free(th);
    return b;
}

/* ------------------------------------------------------------------ connections */

typedef struct conn conn;
typedef void (*msg_handler)(conn *c, const char *text, size_t len);

struct conn {
    int fd;
    uint32_t idx;
    bool closed, want_out;
    uint8_t *rbuf;
    size_t rlen, rcap;
    sbuf frag;       /* fragmented message being assembled */
    bool in_frag;
    sbuf w;          /* pending output */
    size_t woff;
    uint64_t rng;
    /* ingest */
    uint64_t *ring;  /* event numbers in flight, in send order */
    uint32_t ring_head, ring_count, ring_cap;
    /* query */
    uint64_t req_sent_ns;
    uint32_t req_events;
    bool req_open;
    char subid[40];
};

static int g_ep = -1;
static msg_handler g_handler;
static uint64_t g_progress_ns; /* last time a request completed; run_loop gives up after --stall seconds without */
static uint64_t g_notices, g_closed_conns, g_unexpected;

static void note_notice(const char *t, size_t n) {
    if (g_notices++ < 5) fprintf(stderr, "loadgen: relay says: %.*s\n", (int)(n > 300 ? 300 : n), t);
}

static void parse_url(const char *url) {
    const char *p = url;
    if (strncmp(p, "ws://", 5) == 0) p += 5;
    else if (strncmp(p, "wss://", 6) == 0) die("wss:// is not supported (loopback benchmarks only)");
    else die("URL must start with ws://");
    const char *slash = strchr(p, '/');
    size_t hostport_len = slash ? (size_t)(slash - p) : strlen(p);
    char hp[200];
    if (hostport_len >= sizeof hp) die("URL too long");
    memcpy(hp, p, hostport_len);
    hp[hostport_len] = 0;
    snprintf(opt.path, sizeof opt.path, "%s", slash ? slash : "/");
    char *colon = strrchr(hp, ':');
    if (hp[0] == '[') { /* [v6]:port */
        char *close = strchr(hp, ']');
        if (!close) die("bad URL");
        *close = 0;
        snprintf(opt.host, sizeof opt.host, "%s", hp + 1);
        snprintf(opt.port, sizeof opt.port, "%s", close[1] == ':' ? close + 2 : "80");
    } else if (colon) {
        *colon = 0;
        snprintf(opt.host, sizeof opt.host, "%s", hp);
        snprintf(opt.port, sizeof opt.port, "%s", colon + 1);
    } else {
        snprintf(opt.host, sizeof opt.host, "%s", hp);
        snprintf(opt.port, sizeof opt.port, "80");
    }
    opt.have_url = true;
}

static void set_want_out(conn *c, bool on) {
    if (c->want_out == on || c->closed) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

static void conn_close(conn *c) {
    if (c->closed) return;
    c->closed = true;
    g_closed_conns++;
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void conn_flush(conn *c) {
    while (!c->closed && c->woff < c->w.len) {
        ssize_t n = send(c->fd, c->w.p + c->woff, c->w.len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_out(c, true);
            return;
        } else {
            fprintf(stderr, "loadgen: connection %u: send: %s\n", c->idx, strerror(errno));
            conn_close(c);
            return;
        }
    }
    c->w.len = c->woff = 0;
    set_want_out(c, false);
}

static void conn_send_text(conn *c, const char *text, size_t len) {
    ws_frame(&c->w, 1, text, len, (uint32_t)rnd_next(&c->rng));
}

/* Connects and upgrades (blocking), then switches the socket to non-blocking. */
static conn *conn_open(uint32_t idx) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(opt.host, opt.port, &hints, &ai);
    if (rc) die("%s:%s: %s", opt.host, opt.port, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen)) die("connect %s:%s: %s", opt.host, opt.port, strerror(errno));
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t keyraw[16];
    randombytes_buf(keyraw, sizeof keyraw);
    char key[32];
    sodium_bin2base64(key, sizeof key, keyraw, sizeof keyraw, sodium_base64_VARIANT_ORIGINAL);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.host, opt.port, key);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) die("handshake send: %s", strerror(errno));
    conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->idx = idx;
    c->rcap = 1 << 16;
    c->rbuf = xmalloc(c->rcap);
    c->rng = ((uint64_t)idx << 32) ^ now_ns();
    for (;;) { /* read the HTTP response head (bounded) */
        if (c->rlen >= 8192) die("handshake: response head too long");
        ssize_t r = recv(fd, c->rbuf + c->rlen, 8192 - c->rlen, 0);
        if (r <= 0) die("handshake: %s", r == 0 ? "connection closed" : strerror(errno));
        c->rlen += (size_t)r;
        uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        if (!end) continue;
        if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0)
            die("handshake refused: %.*s", (int)(end - c->rbuf), (char *)c->rbuf);
        size_t head = (size_t)(end - c->rbuf) + 4;
        memmove(c->rbuf, c->rbuf + head, c->rlen - head);
        c->rlen -= head;
        break;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev)) die("epoll_ctl: %s", strerror(errno));
    return c;
}

static void dispatch(conn *c, const char *t, size_t n) {
    if (g_handler) g_handler(c, t, n);
}

/* Parses complete frames in rbuf and hands whole text messages to the handler. */
static void conn_parse(conn *c) {
    size_t pos = 0;
    while (!c->closed && c->rlen - pos >= 2) {
        uint8_t *f = c->rbuf + pos;
        size_t avail = c->rlen - pos;
        bool fin = f[0] & 0x80, masked = f[1] & 0x80;
        int op = f[0] & 0x0f;
        uint64_t len = f[1] & 0x7f;
        size_t hdr = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)f[2] << 8 | f[3];
            hdr = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int k = 0; k < 8; k++) len = len << 8 | f[2 + k];
            hdr = 10;
        }
        if (masked) hdr += 4;
        if (len > (64u << 20)) {
            fprintf(stderr, "loadgen: connection %u: frame of %" PRIu64 " bytes, giving up\n", c->idx, len);
            conn_close(c);
            return;
        }
        if (avail < hdr + len) {
            if (c->rcap < hdr + len) { /* grow to hold the whole frame */
                c->rcap = hdr + len;
                c->rbuf = realloc(c->rbuf, c->rcap);
                if (!c->rbuf) die("out of memory");
            }
            break;
        }
        uint8_t *payload = f + hdr;
        if (masked)
            for (uint64_t i = 0; i < len; i++) payload[i] ^= f[hdr - 4 + (i & 3)];
        switch (op) {
        case 0x1:
        case 0x2:
            if (fin) {
                dispatch(c, (const char *)payload, (size_t)len);
            } else {
                c->frag.len = 0;
                sb_add(&c->frag, payload, (size_t)len);
                c->in_frag = true;
            }
            break;
        case 0x0:
            if (c->in_frag) {
                sb_add(&c->frag, payload, (size_t)len);
                if (fin) {
                    c->in_frag = false;
                    dispatch(c, c->frag.p, c->frag.len);
                }
            }
            break;
        case 0x8:
            fprintf(stderr, "loadgen: connection %u closed by relay\n", c->idx);
            conn_close(c);
            return;
        case 0x9: ws_frame(&c->w, 0xA, payload, (size_t)len, (uint32_t)rnd_next(&c->rng)); break;
        default: break;
        }
        pos += hdr + (size_t)len;
    }
    if (pos && !c->closed) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
}

static void conn_readable(conn *c) {
    for (;;) {
        if (c->rcap - c->rlen < 16384) {
            c->rcap *= 2;
            c->rbuf = realloc(c->rbuf, c->rcap);
            if (!c->rbuf) die("out of memory");
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            conn_parse(c);
            if (c->closed) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        fprintf(stderr, "loadgen: connection %u: %s\n", c->idx, n == 0 ? "closed by relay" : strerror(errno));
        conn_close(c);
        return;
    }
}

/* Runs the event loop until done() is true or the deadline passes. Returns true if done. */
static bool run_loop(conn **conns, uint32_t n, bool (*done)(void), uint64_t deadline_ns, void (*tick)(void)) {
    struct epoll_event evs[256];
    for (uint32_t i = 0; i < n; i++) conn_flush(conns[i]);
    g_progress_ns = now_ns();
    while (!done()) {
        uint64_t t = now_ns();
        if (t >= deadline_ns) return false;
        if (opt.stall_s > 0 && t - g_progress_ns > (uint64_t)(opt.stall_s * 1e9)) {
            fprintf(stderr, "loadgen: no answer for %.0f s, giving up\n", opt.stall_s);
            return false;
        }
        uint32_t alive = 0;
        for (uint32_t i = 0; i < n; i++) alive += !conns[i]->closed;
        if (!alive) return false;
        int wait_ms = (int)((deadline_ns - t) / 1000000) + 1;
        if (wait_ms > 50) wait_ms = 50;
        if (tick && opt.rate) wait_ms = 1; /* paced sends are due every few hundred microseconds */
        int k = epoll_wait(g_ep, evs, 256, wait_ms);
        if (k < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < k; e++) {
            conn *c = evs[e].data.ptr;
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_readable(c);
            if (!c->closed && c->w.len) conn_flush(c);
        }
        if (tick) tick();
    }
    return true;
}

static conn **open_conns(uint32_t n) {
    conn **cs = xcalloc(n, sizeof *cs);
    for (uint32_t i = 0; i < n; i++) cs[i] = conn_open(i);
    return cs;
}

/* ------------------------------------------------------------------ relay message parsing */

typedef struct {
    const char *p;
    size_t n;
} slice;

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}
/* Reads a JSON string starting at p (at the quote); raw bytes between the quotes. */
static const char *read_str(const char *p, const char *end, slice *out) {
    if (p >= end || *p != '"') return NULL;
    const char *s = ++p;
    while (p < end && *p != '"') p += (*p == '\\') ? 2 : 1;
    if (p >= end) return NULL;
    out->p = s;
    out->n = (size_t)(p - s);
    return p + 1;
}
/* `["VERB","ARG"` → verb, arg (arg may be empty), *rest after them. */
static bool parse_head(const char *t, size_t len, slice *verb, slice *arg, const char **rest) {
    const char *end = t + len, *p = skip_ws(t, end);
    if (p >= end || *p != '[') return false;
    p = read_str(skip_ws(p + 1, end), end, verb);
    if (!p) return false;
    arg->p = "";
    arg->n = 0;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
        const char *q = skip_ws(p + 1, end);
        if (q < end && *q == '"') {
            q = read_str(q, end, arg);
            if (!q) return false;
            p = q;
        }
    }
    *rest = p;
    return true;
}
static bool slice_is(slice s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }
/* Id prefix of the event object in an EVENT message (searching `"id":"`). */
static bool event_msg_id(const char *rest, const char *end, uint64_t *idp) {
    const char *k = memmem(rest, (size_t)(end - rest), "\"id\":\"", 6);
    if (!k) k = memmem(rest, (size_t)(end - rest), "\"id\": \"", 7);
    if (!k) return false;
    k = strchr(k + 4, '"') + 1;
    return k + 16 <= end && hex_prefix64(k, (size_t)(end - k), idp);
}

/* ------------------------------------------------------------------ ingest (also used by fill --url) */

static struct {
    const batch *b;
    uint64_t next, completed, total;
    uint64_t ok, dup, failed;
    uint64_t *sent_ns;
    bool *done;
    samples lat;
    uint32_t window;
    uint32_t failures_shown;
    bool record;
    uint64_t start_ns;  /* with --rate: event e is due at start_ns + e / rate */
    conn **conns;       /* with --rate: for ingest_tick */
    uint32_t conn_count, next_conn;
} ig;

static uint64_t ingest_due_ns(uint64_t e) { return ig.start_ns + (uint64_t)((double)e * 1e9 / (double)opt.rate); }

static void ingest_send_next(conn *c, uint64_t now) {
    uint64_t e = ig.next++;
    c->ring[(c->ring_head + c->ring_count) % c->ring_cap] = e;
    c->ring_count++;
    sb_add(&c->w, ig.b->data.p + ig.b->offs[e], ig.b->offs[e + 1] - ig.b->offs[e]);
    ig.sent_ns[e] = opt.rate ? ingest_due_ns(e) : now;
}

/* Sends c's next events while its window has room (and, with --rate, they are
 * due). With --rate the latency of an event counts from when it was due, so
 * time spent waiting for a free window slot is part of it (no coordinated
 * omission). */
static void ingest_push(conn *c) {
    uint64_t now = now_ns();
    while (c->ring_count < ig.window && ig.next < ig.total && !c->closed) {
        if (opt.rate && ingest_due_ns(ig.next) > now) break;
        ingest_send_next(c, now);
    }
}

/* With --rate: hands each event now due to the next connection with room. */
static void ingest_tick(void) {
    uint64_t now = now_ns();
    uint32_t full = 0;
    while (ig.next < ig.total && ingest_due_ns(ig.next) <= now && full < ig.conn_count) {
        conn *c = ig.conns[ig.next_conn];
        ig.next_conn = (ig.next_conn + 1) % ig.conn_count;
        if (c->closed || c->ring_count >= ig.window) {
            full++;
            continue;
        }
        full = 0;
        ingest_send_next(c, now);
        conn_flush(c);
    }
}

static void ingest_on_msg(conn *c, const char *t, size_t n) {
    slice verb, id;
    const char *rest, *end = t + n;
    if (!parse_head(t, n, &verb, &id, &rest)) return;
    if (slice_is(verb, "NOTICE")) { note_notice(t, n); return; }
    if (!slice_is(verb, "OK")) return;
    uint64_t idp;
    if (!hex_prefix64(id.p, id.n, &idp)) { g_unexpected++; return; }
    uint64_t now = now_ns();
    uint32_t k;
    uint64_t e = 0;
    for (k = 0; k < c->ring_count; k++) {
        e = c->ring[(c->ring_head + k) % c->ring_cap];
        if (!ig.done[e] && ig.b->idp[e] == idp) break;
    }
    if (k == c->ring_count) { g_unexpected++; return; }
    ig.done[e] = true;
    if (ig.record) samples_add(&ig.lat, now - ig.sent_ns[e]);
    const char *p = skip_ws(rest, end);
    if (p < end && *p == ',') p = skip_ws(p + 1, end);
    bool accepted = (size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0;
    slice msg = {"", 0};
    const char *q = p < end ? memchr(p, ',', (size_t)(end - p)) : NULL;
    if (q) read_str(skip_ws(q + 1, end), end, &msg);
    if (accepted) {
        ig.ok++;
        if (msg.n >= 10 && memcmp(msg.p, "duplicate:", 10) == 0) ig.dup++;
    } else {
        ig.failed++;
        if (ig.failures_shown++ < 5) fprintf(stderr, "loadgen: rejected: %.*s\n", (int)(msg.n > 200 ? 200 : msg.n), msg.p);
    }
    ig.completed++;
    g_progress_ns = now;
    while (c->ring_count && ig.done[c->ring[c->ring_head]]) {
        c->ring_head = (c->ring_head + 1) % c->ring_cap;
        c->ring_count--;
    }
    ingest_push(c);
}

static bool ingest_done(void) { return ig.completed >= ig.total; }

/* Publishes every event of b over conns with `window` in flight per connection. */
static bool ingest_run(conn **conns, uint32_t nc, const batch *b, uint32_t window, uint64_t deadline, bool record,
                       double *seconds) {
    ig.b = b;
    ig.next = ig.completed = 0;
    ig.total = b->count;
    ig.window = window;
    ig.record = record;
    ig.sent_ns = xcalloc(b->count, sizeof *ig.sent_ns);
    ig.done = xcalloc(b->count, sizeof *ig.done);
    for (uint32_t i = 0; i < nc; i++) {
        conn *c = conns[i];
        if (c->ring_cap < window) {
            free(c->ring);
            c->ring_cap = window;
            c->ring = xcalloc(window, sizeof *c->ring);
        }
        c->ring_head = c->ring_count = 0;
    }
    g_handler = ingest_on_msg;
    uint64_t t0 = now_ns();
    ig.start_ns = t0;
    ig.conns = conns;
    ig.conn_count = nc;
    ig.next_conn = 0;
    for (uint32_t i = 0; i < nc; i++) ingest_push(conns[i]);
    bool ok = run_loop(conns, nc, ingest_done, deadline, opt.rate ? ingest_tick : NULL);
    *seconds = (double)(now_ns() - t0) / 1e9;
    free(ig.sent_ns);
    free(ig.done);
    return ok;
}

static int64_t wall_now(void) { return (int64_t)time(NULL); }

static int mode_ingest(void) {
    if (!opt.have_url) die("ingest needs --url");
    uint64_t nonce = now_ns() ^ (uint64_t)getpid() << 40;
    author_key *keys = derive_keys("ingest", nonce, 100);
    uint64_t g0 = now_ns();
    batch b = gen_batch(GEN_NOTE, keys, 100, 0, nonce, wall_now(), true, 0, opt.events, NULL);
    fprintf(stderr, "loadgen: signed %" PRIu64 " events in %.2f s (%.1f MB of frames)\n", opt.events,
            (double)(now_ns() - g0) / 1e9, (double)b.data.len / 1e6);
    conn **conns = open_conns(opt.connections);
    double cpu0 = cpu_seconds(), secs;
    bool complete = ingest_run(conns, opt.connections, &b, opt.window, now_ns() + (uint64_t)(opt.timeout_s * 1e9), true, &secs);
    double cpu = cpu_seconds() - cpu0;
    samples_sort(&ig.lat);
    double rate = secs > 0 ? (double)ig.completed / secs : 0;
    fprintf(stderr, "loadgen: ingest %u connections, window %u: %" PRIu64 "/%" PRIu64 " answered in %.2f s = %.0f events/s, "
                    "OK latency p50 %.2f ms p99 %.2f ms, %" PRIu64 " rejected, loadgen CPU %.0f%%\n",
            opt.connections, opt.window, ig.completed, ig.total, secs, rate, pct_ms(&ig.lat, 50), pct_ms(&ig.lat, 99),
            ig.failed, secs > 0 ? 100 * cpu / secs : 0);
    printf("RESULT ingest connections=%u window=%u rate=%" PRIu64 " events=%" PRIu64 " answered=%" PRIu64 " ok=%" PRIu64
           " duplicate=%" PRIu64 " failed=%" PRIu64 " seconds=%.3f events_per_s=%.0f p50_ms=%.3f p99_ms=%.3f"
           " max_ms=%.3f mean_ms=%.3f loadgen_cpu_pct=%.0f complete=%d\n",
           opt.connections, opt.window, opt.rate, ig.total, ig.completed, ig.ok, ig.dup, ig.failed, secs, rate,
           pct_ms(&ig.lat, 50), pct_ms(&ig.lat, 99), pct_ms(&ig.lat, 100), mean_ms(&ig.lat),
           secs > 0 ? 100 * cpu / secs : 0, complete);
    fflush(stdout);
    return complete && ig.failed == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ fill */

#define FILL_CHUNK 50000

static int mode_fill(void) {
    if (!opt.out && !opt.have_url) die("fill needs --out FILE (JSON lines for `g1relay import`) or --url");
    /* --notes: the ingest events (fresh kind 1 notes, created_at now) instead of the mix */
    uint64_t nonce = now_ns() ^ (uint64_t)getpid() << 40;
    uint32_t nkeys = opt.notes ? 100 : opt.authors;
    author_key *keys = opt.notes ? derive_keys("ingest", nonce, nkeys) : derive_keys("author", opt.seed, nkeys);
    FILE *f = NULL;
    if (opt.out) {
        f = strcmp(opt.out, "-") == 0 ? stdout : fopen(opt.out, "w");
        if (!f) die("%s: %s", opt.out, strerror(errno));
    }
    conn **conns = opt.have_url && !opt.out ? open_conns(opt.connections) : NULL;
    uint32_t kc[8] = {0};
    uint64_t answered = 0, ok = 0, dup = 0, failed = 0;
    double gen_s = 0, send_s = 0;
    uint64_t deadline = now_ns() + (uint64_t)(opt.timeout_s * 1e9);
    bool complete = true;
    size_t bytes = 0;
    for (uint64_t first = 0; first < opt.events; first += FILL_CHUNK) {
        uint64_t cnt = opt.events - first < FILL_CHUNK ? opt.events - first : FILL_CHUNK;
        uint64_t g0 = now_ns();
        batch b = gen_batch(opt.notes ? GEN_NOTE : GEN_MIX, keys, nkeys, opt.seed, nonce, wall_now(), conns != NULL,
                            opt.offset + first, cnt, kc);
        gen_s += (double)(now_ns() - g0) / 1e9;
        bytes += b.data.len;
        if (f) {
            if (fwrite(b.data.p, 1, b.data.len, f) != b.data.len) die("write %s: %s", opt.out, strerror(errno));
        } else {
            double s;
            memset(&ig, 0, sizeof ig);
            complete = ingest_run(conns, opt.connections, &b, opt.window, deadline, false, &s);
            send_s += s;
            answered += ig.completed;
            ok += ig.ok;
            dup += ig.dup;
            failed += ig.failed;
        }
        batch_free(&b);
        if (!complete) break;
    }
    if (f && f != stdout && fclose(f)) die("close %s: %s", opt.out, strerror(errno));
    fprintf(stderr, "loadgen: fill: %" PRIu64 " events (kind 1:%u 7:%u 30023:%u 0:%u 3:%u 6:%u), %.1f MB, signed in %.2f s%s\n",
            opt.events, kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], (double)bytes / 1e6, gen_s, f ? "" : "");
    if (f) {
        printf("RESULT fill out=%s events=%" PRIu64 " offset=%" PRIu64 " bytes=%zu gen_seconds=%.3f\n", opt.out,
               opt.events, opt.offset, bytes, gen_s);
    } else {
        printf("RESULT fill url=ws://%s:%s%s events=%" PRIu64 " offset=%" PRIu64 " answered=%" PRIu64 " ok=%" PRIu64
               " duplicate=%" PRIu64 " failed=%" PRIu64 " gen_seconds=%.3f send_seconds=%.3f events_per_s=%.0f complete=%d\n",
               opt.host, opt.port, opt.path, opt.events, opt.offset, answered, ok, dup, failed, gen_s, send_s,
               send_s > 0 ? (double)answered / send_s : 0, complete);
    }
    fflush(stdout);
    return complete && failed == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ query */

static struct {
    const author_key *authors;
    uint32_t nauthors;
    uint64_t sent, completed, total, closed, events;
    samples lat;
    char filter_tail[200]; /* ,"kinds":[...],"limit":N} */
    const char *filter;    /* --filter: the whole filter, AUTHOR replaced by an author's pubkey */
} qy;

static void query_send(conn *c) {
    if (qy.sent >= qy.total || c->closed) return;
    const author_key *a = &qy.authors[rnd_below(&c->rng, qy.nauthors)];
    snprintf(c->subid, sizeof c->subid, "q%u-%" PRIu64, c->idx, qy.sent++);
    if (qy.filter) {
        sbuf m = {0};
        sb_printf(&m, "[\"REQ\",\"%s\",", c->subid);
        for (const char *p = qy.filter; *p;) {
            if (strncmp(p, "AUTHOR", 6) == 0) {
                sb_str(&m, a->pubhex);
                p += 6;
            } else {
                sb_add(&m, p++, 1);
            }
        }
        sb_add(&m, "]", 1);
        conn_send_text(c, m.p, m.len);
        sb_free(&m);
    } else {
        char m[400];
        int n = snprintf(m, sizeof m, "[\"REQ\",\"%s\",{\"authors\":[\"%s\"]%s]", c->subid, a->pubhex, qy.filter_tail);
        conn_send_text(c, m, (size_t)n);
    }
    c->req_events = 0;
    c->req_open = true;
    c->req_sent_ns = now_ns();
}

static void query_on_msg(conn *c, const char *t, size_t n) {
    slice verb, sub;
    const char *rest;
    if (!parse_head(t, n, &verb, &sub, &rest)) return;
    if (slice_is(verb, "NOTICE")) { note_notice(t, n); return; }
    if (!c->req_open || !slice_is(sub, c->subid)) return;
    if (slice_is(verb, "EVENT")) {
        c->req_events++;
    } else if (slice_is(verb, "EOSE") || slice_is(verb, "CLOSED")) {
        samples_add(&qy.lat, now_ns() - c->req_sent_ns);
        c->req_open = false;
        qy.completed++;
        g_progress_ns = now_ns();
        qy.events += c->req_events;
        if (slice_is(verb, "CLOSED")) {
            if (qy.closed++ < 5) fprintf(stderr, "loadgen: REQ closed: %.*s\n", (int)(n > 200 ? 200 : n), t);
        } else {
            char m[80];
            int k = snprintf(m, sizeof m, "[\"CLOSE\",\"%s\"]", c->subid);
            conn_send_text(c, m, (size_t)k);
        }
        query_send(c);
    }
}
static bool query_done(void) { return qy.completed >= qy.total; }

static int mode_query(void) {
    if (!opt.have_url) die("query needs --url");
    qy.authors = derive_keys("author", opt.seed, opt.authors);
    qy.nauthors = opt.authors;
    qy.total = opt.requests;
    snprintf(qy.filter_tail, sizeof qy.filter_tail, ",\"kinds\":[%s],\"limit\":%u}", opt.kinds, opt.limit);
    qy.filter = opt.filter;
    conn **conns = open_conns(opt.connections);
    g_handler = query_on_msg;
    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < opt.connections; i++) query_send(conns[i]);
    bool complete = run_loop(conns, opt.connections, query_done, t0 + (uint64_t)(opt.timeout_s * 1e9), NULL);
    double secs = (double)(now_ns() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
    samples_sort(&qy.lat);
    double rate = secs > 0 ? (double)qy.completed / secs : 0;
    double per = qy.completed ? (double)qy.events / (double)qy.completed : 0;
    fprintf(stderr, "loadgen: query %u connections: %" PRIu64 " REQ in %.2f s = %.0f REQ/s, REQ->EOSE p50 %.2f ms p99 %.2f ms, "
                    "%.1f events per REQ, %" PRIu64 " closed, loadgen CPU %.0f%%\n",
            opt.connections, qy.completed, secs, rate, pct_ms(&qy.lat, 50), pct_ms(&qy.lat, 99), per, qy.closed,
            secs > 0 ? 100 * cpu / secs : 0);
    printf("RESULT query connections=%u requests=%" PRIu64 " answered=%" PRIu64 " closed=%" PRIu64
           " kinds=%s limit=%u seconds=%.3f req_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f"
           " events_per_req=%.1f custom_filter=%d loadgen_cpu_pct=%.0f complete=%d\n",
           opt.connections, qy.total, qy.completed, qy.closed, opt.kinds, opt.limit, secs, rate, pct_ms(&qy.lat, 50),
           pct_ms(&qy.lat, 99), pct_ms(&qy.lat, 100), mean_ms(&qy.lat), per, qy.filter != NULL,
           secs > 0 ? 100 * cpu / secs : 0, complete);
    fflush(stdout);
    return complete && qy.closed == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ fanout */

static struct {
    uint32_t subs, eose;
    uint64_t current_idp;
    uint64_t t0;
    uint32_t delivered;     /* deliveries of the current event */
    uint8_t *seen;          /* per subscription, for the current event */
    bool ok_seen, waiting;
    uint64_t ok_ns;
    uint64_t duplicates, stray, total_delivered, missing, publish_failed;
    samples lat, last, oklat;
    conn *publisher;
} fo;

static void fanout_on_msg(conn *c, const char *t, size_t n) {
    slice verb, sub;
    const char *rest, *end = t + n;
    if (!parse_head(t, n, &verb, &sub, &rest)) return;
    if (c == fo.publisher) {
        if (slice_is(verb, "OK")) {
            uint64_t idp;
            if (fo.waiting && hex_prefix64(sub.p, sub.n, &idp) && idp == fo.current_idp) {
                fo.ok_seen = true;
                samples_add(&fo.oklat, now_ns() - fo.t0);
                const char *p = skip_ws(rest, end);
                if (p < end && *p == ',') p = skip_ws(p + 1, end);
                if (!((size_t)(end - p) >= 4 && memcmp(p, "true", 4) == 0)) {
                    if (fo.publish_failed++ < 5) fprintf(stderr, "loadgen: publish refused: %.*s\n", (int)n, t);
                }
            }
        } else if (slice_is(verb, "NOTICE")) note_notice(t, n);
        return;
    }
    if (slice_is(verb, "NOTICE")) { note_notice(t, n); return; }
    if (sub.n < 2 || sub.p[0] != 'f') return;
    uint32_t si = (uint32_t)strtoul(sub.p + 1, NULL, 10);
    if (si >= fo.subs) return;
    if (slice_is(verb, "EOSE")) {
        fo.eose++;
        g_progress_ns = now_ns();
    } else if (slice_is(verb, "EVENT")) {
        uint64_t idp, now = now_ns();
        if (!fo.waiting || !event_msg_id(rest, end, &idp) || idp != fo.current_idp) { fo.stray++; return; }
        if (fo.seen[si]) { fo.duplicates++; return; }
        fo.seen[si] = 1;
        fo.delivered++;
        fo.total_delivered++;
        g_progress_ns = now;
        samples_add(&fo.lat, now - fo.t0);
        if (fo.delivered == fo.subs) samples_add(&fo.last, now - fo.t0);
    } else if (slice_is(verb, "CLOSED")) {
        if (fo.stray++ < 5) fprintf(stderr, "loadgen: subscription closed: %.*s\n", (int)n, t);
    }
}
static bool fanout_all_eose(void) { return fo.eose >= fo.subs; }
static bool fanout_event_done(void) { return fo.delivered >= fo.subs && fo.ok_seen; }

static int mode_fanout(void) {
    if (!opt.have_url) die("fanout needs --url");
    uint64_t nonce = now_ns() ^ (uint64_t)getpid() << 40;
    author_key *pub = derive_keys("fanout-publisher", nonce, 2); /* [0] publishes, [1] is the tagged target */
    char tag[40];
    snprintf(tag, sizeof tag, "fanout%016" PRIx64, nonce);
    /* pre-build the events: kind 1 by pub[0], tags t=tag and p=pub[1] */
    sbuf ev = {0}, tags = {0}, content = {0}, scratch = {0}, msg = {0};
    batch b = {0};
    b.count = opt.events;
    b.offs = xmalloc((opt.events + 1) * sizeof(size_t));
    b.idp = xmalloc((opt.events ? opt.events : 1) * sizeof(uint64_t));
    uint64_t s = nonce;
    for (uint64_t i = 0; i < opt.events; i++) {
        uint8_t id[32];
        tags.len = content.len = ev.len = msg.len = 0;
        sb_printf(&tags, "[[\"t\",\"%s\"],[\"p\",\"%s\"]]", tag, pub[1].pubhex);
        sb_printf(&content, "fanout %" PRIu64 ": ", i);
        gen_text(&content, &s, 40, 200);
        sign_event(&ev, &scratch, &pub[0], wall_now(), 1, &tags, &content, id);
        b.offs[i] = b.data.len;
        b.idp[i] = id_prefix64(id);
        sb_str(&msg, "[\"EVENT\",");
        sb_add(&msg, ev.p, ev.len);
        sb_str(&msg, "]");
        ws_frame(&b.data, 1, msg.p, msg.len, (uint32_t)rnd_next(&s));
    }
    b.offs[opt.events] = b.data.len;
    uint32_t nsubc = opt.connections < opt.subscribers ? opt.connections : opt.subscribers;
    if (!nsubc) nsubc = 1;
    conn **conns = open_conns(nsubc + 1);
    fo.publisher = conns[nsubc];
    fo.subs = opt.subscribers;
    fo.seen = xcalloc(fo.subs, 1);
    g_handler = fanout_on_msg;
    /* three kinds of filters, all matching the published events, so the relay's
     * subscription index is exercised on kinds+tag, author and tag alone */
    for (uint32_t i = 0; i < fo.subs; i++) {
        char m[300];
        int k;
        switch (i % 3) {
        case 0: k = snprintf(m, sizeof m, "[\"REQ\",\"f%u\",{\"kinds\":[1],\"#t\":[\"%s\"]}]", i, tag); break;
        case 1: k = snprintf(m, sizeof m, "[\"REQ\",\"f%u\",{\"authors\":[\"%s\"]}]", i, pub[0].pubhex); break;
        default: k = snprintf(m, sizeof m, "[\"REQ\",\"f%u\",{\"#p\":[\"%s\"],\"kinds\":[1]}]", i, pub[1].pubhex); break;
        }
        conn_send_text(conns[i % nsubc], m, (size_t)k);
    }
    if (!run_loop(conns, nsubc + 1, fanout_all_eose, now_ns() + 60000000000ull, NULL))
        die("fanout: only %u of %u subscriptions answered EOSE", fo.eose, fo.subs);
    fprintf(stderr, "loadgen: fanout: %u subscriptions open on %u connections\n", fo.subs, nsubc);
    double cpu0 = cpu_seconds();
    uint64_t t_start = now_ns(), deadline = t_start + (uint64_t)(opt.timeout_s * 1e9);
    bool complete = true;
    uint64_t sent = 0;
    for (uint64_t i = 0; i < opt.events; i++) {
        memset(fo.seen, 0, fo.subs);
        fo.delivered = 0;
        fo.ok_seen = false;
        fo.current_idp = b.idp[i];
        fo.waiting = true;
        sb_add(&fo.publisher->w, b.data.p + b.offs[i], b.offs[i + 1] - b.offs[i]);
        fo.t0 = now_ns();
        sent++;
        uint64_t per_event_deadline = fo.t0 + 5000000000ull;
        bool got = run_loop(conns, nsubc + 1, fanout_event_done, per_event_deadline < deadline ? per_event_deadline : deadline, NULL);
        fo.waiting = false;
        if (!got) {
            fo.missing += fo.subs - fo.delivered;
            if (now_ns() >= deadline) { complete = false; break; }
        }
        if (opt.interval_ms) {
            uint64_t until = now_ns() + (uint64_t)opt.interval_ms * 1000000ull;
            run_loop(conns, nsubc + 1, fanout_event_done, until, NULL); /* keeps reading; done() stays true → returns */
            while (now_ns() < until) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
        }
    }
    double secs = (double)(now_ns() - t_start) / 1e9, cpu = cpu_seconds() - cpu0;
    samples_sort(&fo.lat);
    samples_sort(&fo.last);
    samples_sort(&fo.oklat);
    fprintf(stderr, "loadgen: fanout %" PRIu64 " events to %u subscriptions: %" PRIu64 " deliveries, %" PRIu64 " missing; "
                    "delivery p50 %.2f ms p99 %.2f ms; all-delivered p50 %.2f ms p99 %.2f ms; OK p50 %.2f ms; loadgen CPU %.0f%%\n",
            sent, fo.subs, fo.total_delivered, fo.missing, pct_ms(&fo.lat, 50), pct_ms(&fo.lat, 99), pct_ms(&fo.last, 50),
            pct_ms(&fo.last, 99), pct_ms(&fo.oklat, 50), secs > 0 ? 100 * cpu / secs : 0);
    printf("RESULT fanout subscribers=%u connections=%u events=%" PRIu64 " deliveries=%" PRIu64 " missing=%" PRIu64
           " duplicates=%" PRIu64 " stray=%" PRIu64 " publish_failed=%" PRIu64 " p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
           " all_p50_ms=%.3f all_p99_ms=%.3f ok_p50_ms=%.3f seconds=%.3f deliveries_per_s=%.0f loadgen_cpu_pct=%.0f complete=%d\n",
           fo.subs, nsubc, sent, fo.total_delivered, fo.missing, fo.duplicates, fo.stray, fo.publish_failed,
           pct_ms(&fo.lat, 50), pct_ms(&fo.lat, 99), pct_ms(&fo.lat, 100), pct_ms(&fo.last, 50), pct_ms(&fo.last, 99),
           pct_ms(&fo.oklat, 50), secs, secs > 0 ? (double)fo.total_delivered / secs : 0, secs > 0 ? 100 * cpu / secs : 0,
           complete);
    fflush(stdout);
    return complete && fo.missing == 0 && fo.publish_failed == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *out) {
    fprintf(out,
            "usage: loadgen MODE [OPTIONS]\n\n"
            "Load generator for g1relay benchmarks (loopback). Prints `RESULT MODE key=value ...` on stdout.\n\n"
            "Modes:\n"
            "  ingest   --connections C --window W --events N: C publishers keep W EVENTs in flight each,\n"
            "           waiting for OK; events/s and OK latency p50/p99\n"
            "  fill     --events N [--offset K] (--out FILE | --url URL): a realistic mix from --authors authors\n"
            "           (kinds 1,7,30023,0,3,6; tags e,p,t,d), deterministic in --seed; JSON lines for\n"
            "           `g1relay import`, or published pipelined (--connections, --window)\n"
            "  query    --connections C --requests N: REQ {authors:[one of the fill authors],kinds,limit} until\n"
            "           EOSE, one in flight per connection; REQ/s and REQ->EOSE p50/p99\n"
            "  fanout   --subscribers S --connections K --events N: S live subscriptions over K connections,\n"
            "           one publisher sends N events one after another; delivery latency p50/p99\n\n"
            "Options:\n"
            "  --url ws://HOST:PORT[/PATH]   relay (default ws://127.0.0.1:7777)\n"
            "  --connections N   connections (ingest 16, fill 4, query 8, fanout 50)\n"
            "  --window N        EVENTs in flight per connection (ingest 1, fill 256)\n"
            "  --events N        events (ingest 50000, fill 200000, fanout 100)\n"
            "  --requests N      REQs (query 20000)\n"
            "  --subscribers N   live subscriptions (fanout 1000)\n"
            "  --authors N       authors of the fill mix (1000)\n"
            "  --seed N          seed of the fill mix (1)\n"
            "  --offset N        first event number of a fill (to extend an earlier fill)\n"
            "  --out FILE        fill: write JSON lines to FILE (- for stdout)\n"
            "  --notes           fill: the ingest events (fresh kind 1 notes) instead of the mix\n"
            "  --kinds LIST      query: kinds, comma separated (1)\n"
            "  --limit N         query: limit (100)\n"
            "  --filter JSON     query: send this filter instead, AUTHOR replaced by a fill author's pubkey,\n"
            "                    e.g. '{\"kinds\":[1],\"#t\":[\"music\"],\"limit\":100}'\n"
            "  --interval-ms N   fanout: pause between published events (0)\n"
            "  --threads N       signing threads (number of CPUs)\n"
            "  --timeout S       give up after S seconds of load (600)\n"
            "  --stall S         give up when nothing completes for S seconds (30; 0 = never)\n"
            "  --rate N          ingest: send N events/s in all (open loop, still at most --window in flight\n"
            "                    per connection); latency counts from when each event was due (0 = off)\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    opt.mode = argv[1];
    bool is_ingest = !strcmp(opt.mode, "ingest"), is_fill = !strcmp(opt.mode, "fill"),
         is_query = !strcmp(opt.mode, "query"), is_fanout = !strcmp(opt.mode, "fanout");
    if (!is_ingest && !is_fill && !is_query && !is_fanout) {
        fprintf(stderr, "loadgen: unknown mode '%s'\n", opt.mode);
        usage(stderr);
        return 2;
    }
    opt.connections = is_ingest ? 16 : is_fill ? 4 : is_query ? 8 : 50;
    opt.window = is_fill ? 256 : 1;
    opt.events = is_ingest ? 50000 : is_fill ? 200000 : 100;
    opt.requests = 20000;
    opt.subscribers = 1000;
    opt.authors = 1000;
    opt.seed = 1;
    opt.timeout_s = 600;
    opt.stall_s = 30;
    opt.limit = 100;
    snprintf(opt.kinds, sizeof opt.kinds, "1");
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = nproc > 0 ? (uint32_t)nproc : 1;
    enum { O_URL = 1, O_CONN, O_WIN, O_EV, O_REQ, O_SUBS, O_AUTH, O_SEED, O_OFF, O_OUT, O_KINDS, O_LIMIT, O_INT, O_THR, O_TMO, O_HELP, O_NOTES, O_STALL, O_FILTER, O_RATE };
    static const struct option lo[] = {
        {"url", required_argument, 0, O_URL},         {"connections", required_argument, 0, O_CONN},
        {"window", required_argument, 0, O_WIN},      {"events", required_argument, 0, O_EV},
        {"requests", required_argument, 0, O_REQ},    {"subscribers", required_argument, 0, O_SUBS},
        {"authors", required_argument, 0, O_AUTH},    {"seed", required_argument, 0, O_SEED},
        {"offset", required_argument, 0, O_OFF},      {"out", required_argument, 0, O_OUT},
        {"kinds", required_argument, 0, O_KINDS},     {"limit", required_argument, 0, O_LIMIT},
        {"interval-ms", required_argument, 0, O_INT}, {"threads", required_argument, 0, O_THR},
        {"timeout", required_argument, 0, O_TMO},     {"help", no_argument, 0, O_HELP},
        {"notes", no_argument, 0, O_NOTES},           {"stall", required_argument, 0, O_STALL},
        {"rate", required_argument, 0, O_RATE},
        {"filter", required_argument, 0, O_FILTER},
        {0, 0, 0, 0}};
    const char *url = "ws://127.0.0.1:7777";
    int o;
    while ((o = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
        char *endp = NULL;
        unsigned long long v = 0;
        if (o != O_URL && o != O_OUT && o != O_KINDS && o != O_HELP && o != O_NOTES && o != O_FILTER && o != '?') {
            errno = 0;
            v = strtoull(optarg, &endp, 10);
            if (errno || !*optarg || *endp) die("--%s: not a number: %s", lo[o - 1].name, optarg);
        }
        switch (o) {
        case O_URL: url = optarg; break;
        case O_CONN: opt.connections = (uint32_t)v; break;
        case O_WIN: opt.window = (uint32_t)v; break;
        case O_EV: opt.events = v; break;
        case O_REQ: opt.requests = v; break;
        case O_SUBS: opt.subscribers = (uint32_t)v; break;
        case O_AUTH: opt.authors = (uint32_t)v; break;
        case O_SEED: opt.seed = v; break;
        case O_OFF: opt.offset = v; break;
        case O_OUT: opt.out = optarg; break;
        case O_KINDS:
            for (const char *p = optarg; *p; p++)
                if (!(*p >= '0' && *p <= '9') && *p != ',') die("--kinds: digits and commas only");
            snprintf(opt.kinds, sizeof opt.kinds, "%s", optarg);
            break;
        case O_LIMIT: opt.limit = (uint32_t)v; break;
        case O_INT: opt.interval_ms = (uint32_t)v; break;
        case O_THR: opt.threads = (uint32_t)v; break;
        case O_TMO: opt.timeout_s = (double)v; break;
        case O_HELP: usage(stdout); return 0;
        case O_NOTES: opt.notes = true; break;
        case O_STALL: opt.stall_s = (double)v; break;
        case O_RATE: opt.rate = v; break;
        case O_FILTER:
            if (strlen(optarg) > 4000 || optarg[0] != '{') die("--filter: a JSON object of at most 4000 bytes");
            opt.filter = optarg;
            break;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc - 1) die("unexpected argument '%s'", argv[optind + 1]);
    if (!opt.connections || !opt.window || !opt.authors || opt.connections > 10000 || opt.window > 100000 ||
        opt.subscribers > 1000000 || opt.threads > 256 || opt.events > 100000000ull)
        die("option out of range");
    if (sodium_init() < 0) die("sodium_init failed");
    g_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t rnd[32];
    randombytes_buf(rnd, sizeof rnd);
    if (!secp256k1_context_randomize(g_ctx, rnd)) die("secp256k1_context_randomize failed");
    if (!is_fill || !opt.out) parse_url(url);
    else if (strcmp(url, "ws://127.0.0.1:7777") != 0) parse_url(url);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0) die("epoll_create1: %s", strerror(errno));
    if (is_ingest) return mode_ingest();
    if (is_fill) return mode_fill();
    if (is_query) return mode_query();
    return mode_fanout();
}
