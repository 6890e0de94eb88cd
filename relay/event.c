/* Nostr events: strict parsing, canonical serialisation and id check (strict
 * NIP-01 form, then JSON.stringify form), BIP-340 signature verification and
 * signing. One malloc (arena) per event; see event.h. */
#include "event.h"
#include "hex.h"
#include "json.h"
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- shared secp256k1 context (read-only after creation: thread-safe) ---- */

static secp256k1_context *secp_ctx;
static pthread_once_t secp_once = PTHREAD_ONCE_INIT;

static void secp_init(void) {
    unsigned char seed[32];
    if (sodium_init() < 0) abort();
    secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!secp_ctx) abort();
    randombytes_buf(seed, sizeof seed);
    if (!secp256k1_context_randomize(secp_ctx, seed)) abort();
    sodium_memzero(seed, sizeof seed);
}

static const secp256k1_context *secp(void) {
    pthread_once(&secp_once, secp_init);
    return secp_ctx;
}

/* ---- small helpers ---- */

event_class event_kind_class(uint32_t kind) {
    if (kind == 0 || kind == 3 || (kind >= 10000 && kind < 20000)) return EVENT_CLASS_REPLACEABLE;
    if (kind >= 20000 && kind < 30000) return EVENT_CLASS_EPHEMERAL;
    if (kind >= 30000 && kind < 40000) return EVENT_CLASS_ADDRESSABLE;
    return EVENT_CLASS_REGULAR;
}

int event_pow_bits(const uint8_t id[32]) {
    int bits = 0;
    for (int i = 0; i < 32; i++) {
        if (id[i] == 0) { bits += 8; continue; }
        bits += __builtin_clz((unsigned)id[i]) - 24;
        break;
    }
    return bits;
}

static size_t put_uint(char *out, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

static char *put_lit(char *o, const char *s, size_t n) {
    memcpy(o, s, n);
    return o + n;
}
#define PUT(o, lit) put_lit((o), (lit), sizeof(lit) - 1)

static void set_err(char *err, size_t errlen, const char *why) {
    if (err && errlen) snprintf(err, errlen, "invalid: %s", why);
}

/* ---- serialisation of strings in the two forms ---- */

/* Bytes that are escaped in at least one of the two forms. */
static const bool needs_escape[256] = {[0x00 ... 0x1f] = true, ['"'] = true, ['\\'] = true};

static size_t str_out_len(const char *s, size_t n, event_id_form form) {
    size_t out = n + 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c]) continue;
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') out += 1;
        else if (form == EVENT_ID_STRINGIFY) out += 5;
    }
    return out;
}

/* Number of leading bytes of s[0..n) written as they are in both forms. */
static inline size_t raw_run(const char *s, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        /* max(v, 0x1f) == 0x1f  <=>  v <= 0x1f (unsigned) */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f));
        int bits = _mm_movemask_epi8(m);
        if (bits) return i + (size_t)__builtin_ctz((unsigned)bits);
        i += 16;
    }
#endif
    while (i < n && !needs_escape[(unsigned char)s[i]]) i++;
    return i;
}

static char *write_str(char *o, const char *s, size_t n, event_id_form form) {
    static const char hexd[] = "0123456789abcdef";
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i + raw_run(s + i, n - i);
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j >= n) break;
        unsigned char c = (unsigned char)s[j];
        i = j + 1;
        char e = 0;
        switch (c) {
        case '"': e = '"'; break;
        case '\\': e = '\\'; break;
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        default: break;
        }
        if (e) {
            *o++ = '\\';
            *o++ = e;
        } else if (form == EVENT_ID_STRINGIFY) {
            o = PUT(o, "\\u00");
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    return o;
}

static size_t tags_out_len(const event *ev, event_id_form form) {
    size_t n = 2;
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        n += 2 + (t ? 1 : 0);
        for (uint32_t i = 0; i < ev->tags[t].count; i++) {
            const event_str *s = &ev->tag_strs[ev->tags[t].first + i];
            n += str_out_len(s->ptr, s->len, form) + (i ? 1 : 0);
        }
    }
    return n;
}

static char *write_tags(char *o, const event *ev, event_id_form form) {
    *o++ = '[';
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        if (t) *o++ = ',';
        *o++ = '[';
        for (uint32_t i = 0; i < ev->tags[t].count; i++) {
            const event_str *s = &ev->tag_strs[ev->tags[t].first + i];
            if (i) *o++ = ',';
            o = write_str(o, s->ptr, s->len, form);
        }
        *o++ = ']';
    }
    *o++ = ']';
    return o;
}

/* Room for everything in `json` except tags and content. */
#define JSON_FIXED_MAX 400

/* Writes the whole `json` into ev->json (which must be large enough) in the
 * given form, and hashes the canonical array into id_out. The id and sig hex
 * are written from ev->id and ev->sig. */
static void serialize_and_hash(event *ev, event_id_form form, uint8_t id_out[32]) {
    char *o = ev->json;
    char pre[128];
    char *q = pre;
    char pk_hex[65];
    hex_encode(ev->pubkey, 32, pk_hex);

    o = PUT(o, "{\"id\":\"");
    hex_encode(ev->id, 32, o);
    o += 64;
    o = PUT(o, "\",\"pubkey\":\"");
    o = put_lit(o, pk_hex, 64);
    o = PUT(o, "\",\"created_at\":");
    size_t ca_len = put_uint(o, (uint64_t)ev->created_at);
    q = PUT(q, "[0,\"");
    q = put_lit(q, pk_hex, 64);
    q = PUT(q, "\",");
    q = put_lit(q, o, ca_len);
    *q++ = ',';
    o += ca_len;
    o = PUT(o, ",\"kind\":");
    size_t k_len = put_uint(o, ev->kind);
    q = put_lit(q, o, k_len);
    *q++ = ',';
    o += k_len;
    o = PUT(o, ",\"tags\":");
    char *tags = o;
    o = write_tags(o, ev, form);
    size_t tags_len = (size_t)(o - tags);
    o = PUT(o, ",\"content\":");
    char *content = o;
    o = write_str(o, ev->content.ptr, ev->content.len, form);
    size_t content_len = (size_t)(o - content);
    o = PUT(o, ",\"sig\":\"");
    hex_encode(ev->sig, 64, o);
    o += 128;
    o = PUT(o, "\"}");
    *o = 0;
    ev->json_len = (size_t)(o - ev->json);
    ev->id_form = form;

    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)pre, (size_t)(q - pre));
    crypto_hash_sha256_update(&st, (const unsigned char *)tags, tags_len);
    crypto_hash_sha256_update(&st, (const unsigned char *)",", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)content, content_len);
    crypto_hash_sha256_update(&st, (const unsigned char *)"]", 1);
    crypto_hash_sha256_final(&st, id_out);
}

/* Fills d_tag, expiration and is_protected from the tags. */
static void extract_tag_fields(event *ev) {
    bool have_d = false, have_exp = false;
    ev->d_tag.ptr = "";
    ev->d_tag.len = 0;
    ev->expiration = 0;
    ev->is_protected = false;
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        const event_str *name = &ev->tag_strs[ev->tags[t].first];
        const event_str *val = ev->tags[t].count > 1 ? name + 1 : NULL;
        if (name->len == 1 && name->ptr[0] == 'd' && !have_d) {
            have_d = true;
            if (val) ev->d_tag = *val;
        } else if (name->len == 1 && name->ptr[0] == '-') {
            ev->is_protected = true;
        } else if (!have_exp && name->len == 10 && memcmp(name->ptr, "expiration", 10) == 0 && val) {
            have_exp = true;
            int64_t v = 0;
            bool ok = val->len > 0 && val->len <= 18;
            for (uint32_t i = 0; ok && i < val->len; i++) {
                char c = val->ptr[i];
                if (c < '0' || c > '9') ok = false;
                else v = v * 10 + (c - '0');
            }
            ev->expiration = ok ? v : 0;
        }
    }
}

/* ---- parsing ---- */

/* What the first pass over an event object learns. */
typedef struct {
    json_string content;
    const char *tags_start;
    size_t tags_len;
    uint32_t tag_count, tag_str_count;
    size_t str_bytes;      /* decoded bytes of all tag strings, plus one NUL each */
    size_t tags_out_max;   /* size of the tags array in the longer (stringify) form */
    uint32_t n_ctrl;       /* control chars that the two forms write differently */
    uint32_t n_ctrl_escaped;
} event_scan;

enum { F_ID = 1, F_PUBKEY = 2, F_CREATED_AT = 4, F_KIND = 8, F_TAGS = 16, F_CONTENT = 32, F_SIG = 64,
       F_ALL = 127 };

static int field_of(const json_string *k) {
    static const struct { const char *name; int flag; } fields[] = {
        {"id", F_ID}, {"pubkey", F_PUBKEY}, {"created_at", F_CREATED_AT}, {"kind", F_KIND},
        {"tags", F_TAGS}, {"content", F_CONTENT}, {"sig", F_SIG}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (json_string_is(k, fields[i].name)) return fields[i].flag;
    return 0;
}

/* Decodes exactly 2*n lower-case hex characters; false on anything else. */
static bool lower_hex_decode(const char *in, uint8_t *out, size_t n) {
    for (size_t i = 0; i < 2 * n; i++) {
        unsigned c = (unsigned char)in[i], v;
        if (c - '0' < 10) v = c - '0';
        else if (c - 'a' < 6) v = c - 'a' + 10;
        else return false;
        if (i & 1) out[i / 2] = (uint8_t)(out[i / 2] | v);
        else out[i / 2] = (uint8_t)(v << 4);
    }
    return true;
}

static bool read_hex_field(json_reader *r, uint8_t *out, size_t n, const char *what, const char **why) {
    json_string s;
    if (!json_read_string(r, &s) || s.escaped || s.raw_len != 2 * n || !lower_hex_decode(s.raw, out, n)) {
        *why = what;
        return false;
    }
    return true;
}

/* Validates the event object and measures it; fills id, pubkey, sig, created_at, kind. */
static bool scan_event(event *ev, const char *json, size_t len, const event_limits *lim,
                       event_scan *sc, const char **why, size_t *used) {
    json_reader r;
    json_string key;
    uint32_t idx = 0;
    int seen = 0, k;
    uint64_t v;
    memset(sc, 0, sizeof *sc);
    *why = NULL;
    if (!used && lim && lim->max_json_length && len > lim->max_json_length) {
        *why = "event too large";
        return false;
    }
    json_reader_init(&r, json, len, 8);
    if (!json_object_begin(&r)) { *why = "event must be a JSON object"; return false; }
    while ((k = json_object_next(&r, &idx, &key)) == 1) {
        int f = field_of(&key);
        if (!f) { *why = "unexpected field in event"; return false; }
        if (seen & f) { *why = "duplicate field in event"; return false; }
        seen |= f;
        switch (f) {
        case F_ID:
            if (!read_hex_field(&r, ev->id, 32, "id must be 64 lower-case hex characters", why)) return false;
            break;
        case F_PUBKEY:
            if (!read_hex_field(&r, ev->pubkey, 32, "pubkey must be 64 lower-case hex characters", why))
                return false;
            break;
        case F_SIG:
            if (!read_hex_field(&r, ev->sig, 64, "sig must be 128 lower-case hex characters", why)) return false;
            break;
        case F_CREATED_AT:
            if (json_peek(&r) != JSON_NUMBER || !json_read_uint(&r, INT64_MAX, &v)) {
                *why = "created_at must be a non-negative integer";
                return false;
            }
            ev->created_at = (int64_t)v;
            break;
        case F_KIND:
            if (json_peek(&r) != JSON_NUMBER || !json_read_uint(&r, 65535, &v)) {
                *why = "kind must be an integer between 0 and 65535";
                return false;
            }
            ev->kind = (uint32_t)v;
            break;
        case F_CONTENT:
            if (json_peek(&r) != JSON_STRING) { *why = "content must be a string"; return false; }
            if (!json_read_string(&r, &sc->content)) goto json_error;
            if (lim && lim->max_content_length && sc->content.len > lim->max_content_length) {
                *why = "content too long";
                return false;
            }
            sc->n_ctrl += sc->content.n_ctrl;
            sc->n_ctrl_escaped += sc->content.n_ctrl_escaped;
            break;
        case F_TAGS: {
            const char *bad = "tags must be an array of non-empty arrays of strings";
            uint32_t ti = 0;
            int tk;
            if (json_peek(&r) != JSON_ARRAY) { *why = bad; return false; }
            sc->tags_start = r.p;
            json_array_begin(&r);
            sc->tags_out_max = 2;
            while ((tk = json_array_next(&r, &ti)) == 1) {
                uint32_t si = 0, count = 0;
                int sk;
                if (json_peek(&r) != JSON_ARRAY) { *why = bad; return false; }
                if (!json_array_begin(&r)) goto json_error;
                sc->tags_out_max += 3;
                while ((sk = json_array_next(&r, &si)) == 1) {
                    json_string s;
                    if (json_peek(&r) != JSON_STRING) { *why = bad; return false; }
                    if (!json_read_string(&r, &s)) goto json_error;
                    count++;
                    sc->str_bytes += s.len + 1;
                    sc->tags_out_max += 3 + s.len + s.n_short + 5 * (size_t)s.n_ctrl;
                    sc->n_ctrl += s.n_ctrl;
                    sc->n_ctrl_escaped += s.n_ctrl_escaped;
                }
                if (sk < 0) goto json_error;
                if (count == 0) { *why = "empty tag"; return false; }
                if (lim && lim->max_tag_strings && count > lim->max_tag_strings) {
                    *why = "too many strings in a tag";
                    return false;
                }
                sc->tag_count++;
                sc->tag_str_count += count;
                if (lim && lim->max_event_tags && sc->tag_count > lim->max_event_tags) {
                    *why = "too many tags";
                    return false;
                }
            }
            if (tk < 0) goto json_error;
            sc->tags_len = (size_t)(r.p - sc->tags_start);
            break;
        }
        }
        if (r.err) goto json_error;
    }
    if (k < 0) goto json_error;
    if (lim && lim->max_json_length && (size_t)(r.p - json) > lim->max_json_length) {
        *why = "event too large";
        return false;
    }
    if (used) *used = (size_t)(r.p - json);
    else if (!json_at_end(&r)) { *why = "trailing data after event"; return false; }
    if (seen != F_ALL) {
        static const char *missing[] = {"missing id", "missing pubkey", "missing created_at", "missing kind",
                                        "missing tags", "missing content", "missing sig"};
        for (int i = 0; i < 7; i++)
            if (!(seen & (1 << i))) { *why = missing[i]; break; }
        return false;
    }
    return true;
json_error:
    *why = r.err ? r.err : "malformed JSON";
    return false;
}

/* Second pass: decodes content and tags into the arena laid out from sc.
 * json_room is the size reserved for `json`. */
static bool fill_event(event *ev, const event_scan *sc, size_t json_room) {
    size_t strs_size = sizeof(event_str) * sc->tag_str_count;
    size_t tags_size = sizeof(event_tag) * sc->tag_count;
    size_t total = strs_size + tags_size + sc->str_bytes + sc->content.len + 1 + json_room;
    char *a = malloc(total);
    if (!a) return false;
    ev->arena = a;
    ev->tag_strs = (event_str *)a;
    ev->tags = (event_tag *)(a + strs_size);
    char *bytes = a + strs_size + tags_size;
    ev->json = bytes + sc->str_bytes + sc->content.len + 1;

    json_decode_string(&sc->content, bytes);
    bytes[sc->content.len] = 0;
    ev->content.ptr = bytes;
    ev->content.len = (uint32_t)sc->content.len;
    bytes += sc->content.len + 1;

    json_reader r;
    uint32_t ti = 0;
    json_reader_init(&r, sc->tags_start, sc->tags_len, 4);
    json_array_begin(&r);
    uint32_t t = 0, n = 0;
    while (json_array_next(&r, &ti) == 1) {
        uint32_t si = 0;
        json_array_begin(&r);
        ev->tags[t].first = n;
        ev->tags[t].count = 0;
        while (json_array_next(&r, &si) == 1) {
            json_string s;
            json_read_string(&r, &s);
            json_decode_string(&s, bytes);
            bytes[s.len] = 0;
            ev->tag_strs[n].ptr = bytes;
            ev->tag_strs[n].len = (uint32_t)s.len;
            bytes += s.len + 1;
            n++;
            ev->tags[t].count++;
        }
        t++;
    }
    ev->tag_count = t;
    ev->tag_str_count = n;
    extract_tag_fields(ev);
    return !r.err && t == sc->tag_count && n == sc->tag_str_count;
}

/* Best effort: the claimed id of an object that failed to parse. */
static void claimed_id(const char *json, size_t len, char *id_hex_out) {
    json_reader r;
    json_string key, s;
    uint32_t idx = 0;
    id_hex_out[0] = 0;
    json_reader_init(&r, json, len, 8);
    if (!json_object_begin(&r)) return;
    while (json_object_next(&r, &idx, &key) == 1) {
        if (json_string_is(&key, "id")) {
            if (json_peek(&r) == JSON_STRING && json_read_string(&r, &s) && !s.escaped && s.raw_len == 64 &&
                hex_is_lower(s.raw, 64)) {
                memcpy(id_hex_out, s.raw, 64);
                id_hex_out[64] = 0;
            }
            return;
        }
        if (!json_skip_value(&r)) return;
    }
}

int event_parse_prefix(event *ev, const char *json, size_t len, size_t *used, const event_limits *lim,
                       char *err, size_t errlen, char *id_hex_out) {
    event_scan sc;
    const char *why;
    memset(ev, 0, sizeof *ev);
    if (id_hex_out) id_hex_out[0] = 0;
    if (!scan_event(ev, json, len, lim, &sc, &why, used)) {
        set_err(err, errlen, why);
        goto fail;
    }
    if (!fill_event(ev, &sc, JSON_FIXED_MAX + sc.tags_out_max + sc.content.len + 2 + sc.content.n_short +
                                 5 * (size_t)sc.content.n_ctrl)) {
        if (err && errlen) snprintf(err, errlen, "error: out of memory");
        goto fail;
    }
    uint8_t claimed[32], computed[32];
    memcpy(claimed, ev->id, 32);
    serialize_and_hash(ev, EVENT_ID_STRICT, computed);
    if (memcmp(computed, claimed, 32) != 0 && sc.n_ctrl > 0)
        serialize_and_hash(ev, EVENT_ID_STRINGIFY, computed);
    if (memcmp(computed, claimed, 32) != 0) {
        set_err(err, errlen, "event id does not match its content");
        goto fail;
    }
    if (id_hex_out) {
        memcpy(id_hex_out, ev->json + 7, 64);
        id_hex_out[64] = 0;
    }
    return 0;
fail:
    if (id_hex_out) claimed_id(json, len, id_hex_out);
    event_free(ev);
    return -1;
}

int event_parse(event *ev, const char *json, size_t len, const event_limits *lim,
                char *err, size_t errlen, char *id_hex_out) {
    return event_parse_prefix(ev, json, len, NULL, lim, err, errlen, id_hex_out);
}

int event_parse_trusted(event *ev, const char *json, size_t len) {
    event_scan sc;
    const char *why;
    memset(ev, 0, sizeof *ev);
    if (!scan_event(ev, json, len, NULL, &sc, &why, NULL) || !fill_event(ev, &sc, len + 1)) {
        event_free(ev);
        return -1;
    }
    memcpy(ev->json, json, len);
    ev->json[len] = 0;
    ev->json_len = len;
    ev->id_form = sc.n_ctrl_escaped > 0 ? EVENT_ID_STRINGIFY : EVENT_ID_STRICT;
    return 0;
}

/* Parsing an x-only public key lifts x to a curve point (a field square
 * root), about an eighth of a signature check. Active authors publish again
 * and again, so each thread keeps the points of the keys it parsed last in a
 * small direct-mapped cache (secp256k1 guarantees the parsed form may be
 * copied). Only keys that parsed are cached; a slot is trusted only when all
 * 32 key bytes match. */
enum { PUBKEY_CACHE_SLOTS = 512 };
typedef struct {
    bool used;
    uint8_t key[32];
    secp256k1_xonly_pubkey point;
} pubkey_slot;
static _Thread_local pubkey_slot pubkey_cache[PUBKEY_CACHE_SLOTS];

static bool parse_pubkey_cached(const secp256k1_context *ctx, const uint8_t key[32], secp256k1_xonly_pubkey *out) {
    pubkey_slot *slot = &pubkey_cache[(key[0] | (unsigned)key[1] << 8) % PUBKEY_CACHE_SLOTS];
    if (slot->used && memcmp(slot->key, key, 32) == 0) {
        *out = slot->point;
        return true;
    }
    if (!secp256k1_xonly_pubkey_parse(ctx, out, key)) return false;
    memcpy(slot->key, key, 32);
    slot->point = *out;
    slot->used = true;
    return true;
}

bool event_verify_sig(const event *ev) {
    secp256k1_xonly_pubkey pk;
    const secp256k1_context *ctx = secp();
    if (!parse_pubkey_cached(ctx, ev->pubkey, &pk)) return false;
    return secp256k1_schnorrsig_verify(ctx, ev->sig, ev->id, 32, &pk) == 1;
}

int event_pubkey_of(const uint8_t seckey[32], uint8_t pubkey_out[32]) {
    const secp256k1_context *ctx = secp();
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xpk;
    int ok = secp256k1_keypair_create(ctx, &kp, seckey) && secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp) &&
             secp256k1_xonly_pubkey_serialize(ctx, pubkey_out, &xpk);
    sodium_memzero(&kp, sizeof kp);
    return ok ? 0 : -1;
}

int event_build_signed(event *ev, const uint8_t seckey[32], int64_t created_at, uint32_t kind,
                       const char *const *const *tags, uint32_t tag_count,
                       const char *content, size_t content_len) {
    memset(ev, 0, sizeof *ev);
    if (created_at < 0 || kind > 65535 || content_len > UINT32_MAX) return -1;
    const secp256k1_context *ctx = secp();
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xpk;
    if (!secp256k1_keypair_create(ctx, &kp, seckey)) return -1;
    if (!secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp)) { sodium_memzero(&kp, sizeof kp); return -1; }
    secp256k1_xonly_pubkey_serialize(ctx, ev->pubkey, &xpk);

    uint32_t str_count = 0;
    size_t bytes = content_len + 1;
    /* The JSON.stringify form is used: valid JSON for every client. */
    size_t json_room = JSON_FIXED_MAX + str_out_len(content, content_len, EVENT_ID_STRINGIFY) + 2;
    for (uint32_t t = 0; t < tag_count; t++) {
        uint32_t n = 0;
        for (; tags[t][n]; n++) {
            size_t l = strlen(tags[t][n]);
            bytes += l + 1;
            json_room += str_out_len(tags[t][n], l, EVENT_ID_STRINGIFY) + 1;
        }
        if (n == 0) { sodium_memzero(&kp, sizeof kp); return -1; }
        json_room += 3;
        str_count += n;
    }
    size_t head = sizeof(event_str) * str_count + sizeof(event_tag) * tag_count;
    char *a = malloc(head + bytes + json_room);
    if (!a) { sodium_memzero(&kp, sizeof kp); return -1; }
    ev->arena = a;
    ev->tag_strs = (event_str *)a;
    ev->tags = (event_tag *)(a + sizeof(event_str) * str_count);
    char *b = a + head;
    memcpy(b, content, content_len);
    b[content_len] = 0;
    ev->content.ptr = b;
    ev->content.len = (uint32_t)content_len;
    b += content_len + 1;
    uint32_t si = 0;
    for (uint32_t t = 0; t < tag_count; t++) {
        ev->tags[t].first = si;
        ev->tags[t].count = 0;
        for (uint32_t n = 0; tags[t][n]; n++) {
            size_t l = strlen(tags[t][n]);
            memcpy(b, tags[t][n], l + 1);
            ev->tag_strs[si].ptr = b;
            ev->tag_strs[si].len = (uint32_t)l;
            b += l + 1;
            si++;
            ev->tags[t].count++;
        }
    }
    ev->tag_count = tag_count;
    ev->tag_str_count = str_count;
    ev->created_at = created_at;
    ev->kind = kind;
    extract_tag_fields(ev);
    ev->json = b;

    uint8_t id[32], aux[32];
    serialize_and_hash(ev, EVENT_ID_STRINGIFY, id);
    memcpy(ev->id, id, 32);
    randombytes_buf(aux, sizeof aux);
    int ok = secp256k1_schnorrsig_sign32(ctx, ev->sig, ev->id, &kp, aux);
    sodium_memzero(&kp, sizeof kp);
    if (!ok) { event_free(ev); return -1; }
    char hex[129];
    hex_encode(ev->id, 32, hex);
    memcpy(ev->json + 7, hex, 64);
    hex_encode(ev->sig, 64, hex);
    memcpy(ev->json + ev->json_len - 130, hex, 128);
    return 0;
}

char *event_canonical_strict(const event *ev, size_t *len_out) {
    size_t cap = 128 + tags_out_len(ev, EVENT_ID_STRICT) + str_out_len(ev->content.ptr, ev->content.len,
                                                                       EVENT_ID_STRICT);
    char *buf = malloc(cap);
    if (!buf) return NULL;
    char *o = buf;
    o = PUT(o, "[0,\"");
    hex_encode(ev->pubkey, 32, o);
    o += 64;
    o = PUT(o, "\",");
    o += put_uint(o, (uint64_t)ev->created_at);
    *o++ = ',';
    o += put_uint(o, ev->kind);
    *o++ = ',';
    o = write_tags(o, ev, EVENT_ID_STRICT);
    *o++ = ',';
    o = write_str(o, ev->content.ptr, ev->content.len, EVENT_ID_STRICT);
    *o++ = ']';
    *o = 0;
    if (len_out) *len_out = (size_t)(o - buf);
    return buf;
}

void event_free(event *ev) {
    if (!ev) return;
    free(ev->arena);
    memset(ev, 0, sizeof *ev);
}
