/* The event store: LMDB environment, record format, indexes, and every write
 * (insert, replacement, NIP-09 deletion, NIP-40 expiry). Queries live in
 * relay/query.c.
 *
 * ==== On-disk layout (format version 3) ====
 *
 * One LMDB environment (data.mdb) in data_dir. All g1relay databases are named
 * "g1relay.*"; plugins may add their own named databases next to them.
 *
 * Every stored event gets a serial number, the levid: a u64 that only grows
 * (never reused, even after the newest event is deleted: the next value is kept
 * in g1relay.meta when events are removed). It is derived from the database at
 * the start of each write transaction, so several processes (the relay and
 * `g1relay import`) can write the same environment in turn. Indexes point to events by levid, so
 * index entries are small and fixed-size, and the JSON is stored exactly once.
 *
 *   g1relay.events   levid (native u64, MDB_INTEGERKEY) -> record
 *                    record = header (152 bytes) ‖ body
 *                    header = created_at i64 ‖ expiration i64 ‖ kind u32 ‖ flags u32
 *                             (host byte order, read with memcpy) ‖ id[32] ‖
 *                             pubkey[32] ‖ sig[64]
 *                    body   = the served JSON (event.json, exactly as signed) less
 *                             its hex id, pubkey and sig: the bytes from
 *                             `,"created_at":` to just before `,"sig":"`. Reading
 *                             rebuilds the JSON byte for byte (286 bytes of hex
 *                             and field names are not stored: 222 bytes less per
 *                             event than header + JSON). A JSON not in exactly that
 *                             form is stored whole (flag REC_FLAG_RAW).
 *   g1relay.id       id[32] -> levid
 *
 * Time-ordered indexes. Each key ends with ts8 ‖ rank8 ‖ levid8 (big-endian; ts
 * has its sign bit flipped so the byte order is the numeric order; rank is the
 * complement of the id's first 8 bytes), values are empty. All entries for one
 * "prefix" are contiguous and sorted by (created_at, rank, levid), so a query
 * positions a cursor at prefix ‖ until ‖ FFFF.. and walks backwards: newest
 * first and, on equal created_at, lowest id first, as NIP-01 orders results
 * (only a 64-bit id prefix collision falls back to storage order). A scan
 * interrupted between two time slices keeps only the key of its next candidate
 * and re-seeks to it in a new read transaction (nothing is pinned between
 * slices).
 *
 *   g1relay.ts           ts ‖ rank ‖ levid   (export walks it forwards)
 *   g1relay.kind         kind be32 ‖ ts ‖ rank ‖ levid
 *   g1relay.pubkey_kind  pubkey[32] ‖ kind be32 ‖ ts ‖ rank ‖ levid
 *                        (also serves authors-only queries: the kinds of an
 *                        author are found by skipping from kind to kind, so no
 *                        separate pubkey index is written; random-key indexes
 *                        cost one dirty page per event at commit)
 *   g1relay.tag          letter ‖ code ‖ value ‖ ts ‖ rank ‖ levid, for every tag whose
 *                        name is one ASCII letter and that has a value; code is
 *                        the raw value's length (<= 48 bytes), 0xFE for 64-char
 *                        lower-case hex values (stored as their 32 bytes: e, p),
 *                        or 0xFF for longer values stored as a 16-byte BLAKE2b
 *                        (a query on such a value re-checks the event's tags).
 *   g1relay.expiry       expiration ‖ levid (NIP-40 events only)
 *
 * Replaceable and addressable events and deletions, keyed by address:
 *   address = pubkey[32] ‖ kind be32 ‖ 0x00 ‖ d (d <= 200 bytes; "" for
 *             replaceable kinds) or pubkey ‖ kind ‖ 0x01 ‖ BLAKE2b-256(d)
 *   g1relay.repl         address -> levid of the one version kept
 *   g1relay.del_id       id[32] ‖ deleter pubkey[32] -> ""   (NIP-09 `e` tags)
 *   g1relay.del_addr     address -> created_at of the latest deletion (`a` tags)
 * A deletion tombstone refuses only events of the deleter itself: an `e`
 * tombstone matches (id, the incoming event's own pubkey), an `a` tombstone's
 * address contains the author. Kind 5 events are never deleted nor refused.
 *
 *   g1relay.meta         "version" -> u32 3, "next_levid" -> u64,
 *                        "journal_lsn" -> u64: the last record of the write-ahead
 *                        journal (relay/journal.c) whose event this database
 *                        holds, written in the same transaction as the events, so
 *                        a restart replays exactly the records after it
 *
 * Cost of one event: 4 index entries of 24..60 byte keys plus one per indexed
 * tag; the JSON is stored once. Writes happen in the writer's transaction, which
 * groups many events per commit; syncs stay on, so a commit is durable.
 */
#include "store.h"
#include "store_internal.h"
#include "hex.h"
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define STORE_FORMAT_VERSION 3u

const char *const store_db_names[DB_COUNT] = {
    "g1relay.events", "g1relay.id", "g1relay.ts", "g1relay.kind",
    "g1relay.pubkey_kind", "g1relay.tag", "g1relay.repl", "g1relay.del_id",
    "g1relay.del_addr", "g1relay.expiry", "g1relay.meta"};

static unsigned db_flags(int i) { return i == DB_EVENTS ? MDB_INTEGERKEY : 0; }

/* ---------------------------------------------------------------- keys */

/* 1 + value of each lower-case hex digit; 0 for every other byte. */
static const uint8_t lower_hex_plus1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9,
    ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};

/* Decodes 64 lower-case hex digits in one pass; false if any is not one. */
static bool lower_hex32(const char *in, uint8_t *out) {
    bool ok = true;
    for (int i = 0; i < 32; i++) {
        uint8_t hi = lower_hex_plus1[(uint8_t)in[2 * i]], lo = lower_hex_plus1[(uint8_t)in[2 * i + 1]];
        ok &= hi != 0 && lo != 0;
        out[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 0x0F));
    }
    return ok;
}

/* ---------------------------------------------------------------- records */

static void put_hex(char *out, const uint8_t *in, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

/* True when ev->json is exactly {"id":"<id>","pubkey":"<pubkey>",...,"sig":"<sig>"}
 * with lower-case hex equal to the binary fields, so it can be stored packed. */
static bool json_packable(const event *ev) {
    const char *j = ev->json;
    size_t n = ev->json_len;
    if (n < REC_JSON_EXTRA + 2) return false;
    if (memcmp(j, "{\"id\":\"", 7) != 0 || memcmp(j + 71, "\",\"pubkey\":\"", 12) != 0 || j[147] != '"') return false;
    if (memcmp(j + n - 138, ",\"sig\":\"", 8) != 0 || memcmp(j + n - 2, "\"}", 2) != 0) return false;
    uint8_t b[64];
    if (!lower_hex32(j + 7, b) || memcmp(b, ev->id, 32) != 0) return false;
    if (!lower_hex32(j + 83, b) || memcmp(b, ev->pubkey, 32) != 0) return false;
    if (!lower_hex32(j + n - 130, b) || !lower_hex32(j + n - 66, b + 32) || memcmp(b, ev->sig, 64) != 0) return false;
    return true;
}

size_t rec_json_len(const uint8_t *rec, size_t rlen) {
    size_t body = rlen - REC_HEADER_SIZE;
    return rec_u32(rec, REC_FLAGS) & REC_FLAG_RAW ? body : body + REC_JSON_EXTRA;
}

const char *rec_json(rec_buf *b, const uint8_t *rec, size_t rlen, size_t *len) {
    const char *body = (const char *)rec + REC_HEADER_SIZE;
    size_t blen = rlen - REC_HEADER_SIZE;
    if (rec_u32(rec, REC_FLAGS) & REC_FLAG_RAW) { *len = blen; return body; }
    size_t n = blen + REC_JSON_EXTRA;
    if (b->cap < n + 1) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < n + 1) ncap *= 2;
        char *p = realloc(b->p, ncap);
        if (!p) return NULL;
        b->p = p;
        b->cap = ncap;
    }
    char *o = b->p;
    memcpy(o, "{\"id\":\"", 7);
    put_hex(o + 7, rec + REC_ID, 32);
    memcpy(o + 71, "\",\"pubkey\":\"", 12);
    put_hex(o + 83, rec + REC_PUBKEY, 32);
    o[147] = '"';
    memcpy(o + 148, body, blen);
    memcpy(o + n - 138, ",\"sig\":\"", 8);
    put_hex(o + n - 130, rec + REC_SIG, 64);
    memcpy(o + n - 2, "\"}", 2);
    o[n] = 0;
    *len = n;
    return o;
}

size_t store_tag_key(uint8_t *out, char letter, const char *value, uint32_t len, bool *hashed) {
    out[0] = (uint8_t)letter;
    *hashed = false;
    if (len == 64 && lower_hex32(value, out + 2)) {
        out[1] = TAG_CODE_HEX;
        return 34;
    }
    if (len <= TAG_RAW_MAX) {
        out[1] = (uint8_t)len;
        memcpy(out + 2, value, len);
        return 2 + len;
    }
    out[1] = TAG_CODE_HASH;
    crypto_generichash(out + 2, 16, (const unsigned char *)value, len, NULL, 0);
    *hashed = true;
    return 18;
}

size_t store_addr_key(uint8_t *out, const uint8_t pubkey[32], uint32_t kind, const char *d, uint32_t dlen) {
    memcpy(out, pubkey, 32);
    put_be32(out + 32, kind);
    if (dlen <= ADDR_D_RAW_MAX) {
        out[36] = 0;
        memcpy(out + 37, d, dlen);
        return 37 + dlen;
    }
    out[36] = 1;
    crypto_generichash(out + 37, 32, (const unsigned char *)d, dlen, NULL, 0);
    return 37 + 32;
}

static bool tag_is_indexed(const event *ev, uint32_t t) {
    if (ev->tags[t].count < 2) return false;
    const event_str *name = event_tag_str(ev, t, 0);
    if (name->len != 1) return false;
    char c = name->ptr[0];
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---------------------------------------------------------------- open/close */

static int set_err(char *err, size_t errlen, const char *what, int rc) {
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, mdb_strerror(rc));
    return -1;
}

int store_open(store **out, const char *dir, uint64_t map_size, bool read_only,
               char *err, size_t errlen) {
    *out = NULL;
    if (sodium_init() < 0) { snprintf(err, errlen, "libsodium init failed"); return -1; }
    struct stat st;
    if (read_only) {
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "no database directory %s", dir);
            return -1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        if (stat(path, &st) != 0) { snprintf(err, errlen, "no database in %s (data.mdb missing)", dir); return -1; }
    } else if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    store *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return -1; }
    s->read_only = read_only;
    int rc = mdb_env_create(&s->env);
    if (rc) { free(s); return set_err(err, errlen, "mdb_env_create", rc); }
    mdb_env_set_maxdbs(s->env, 64);
    mdb_env_set_maxreaders(s->env, 1024);
    if (map_size) mdb_env_set_mapsize(s->env, (size_t)map_size);
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (read_only ? MDB_RDONLY : 0);
    rc = mdb_env_open(s->env, dir, flags, 0600);
    if (rc) {
        set_err(err, errlen, dir, rc);
        mdb_env_close(s->env);
        free(s);
        return -1;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* free reader slots of crashed processes */
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
    if (rc) { set_err(err, errlen, "mdb_txn_begin", rc); goto fail; }
    for (int i = 0; i < DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, store_db_names[i], db_flags(i) | (read_only ? 0 : MDB_CREATE), &s->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) snprintf(err, errlen, "%s is not a g1relay database (%s missing)", dir, store_db_names[i]);
            else set_err(err, errlen, store_db_names[i], rc);
            goto fail;
        }
    }
    MDB_val k = {7, (void *)"version"}, v;
    rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND && !read_only) {
        uint32_t ver = STORE_FORMAT_VERSION;
        v.mv_size = 4;
        v.mv_data = &ver;
        rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
    } else if (rc == 0) {
        uint32_t ver = 0;
        if (v.mv_size == 4) memcpy(&ver, v.mv_data, 4);
        if (ver != STORE_FORMAT_VERSION) {
            mdb_txn_abort(txn);
            snprintf(err, errlen, "%s: unsupported store format version %u", dir, ver);
            goto fail;
        }
    }
    if (rc && !(rc == MDB_NOTFOUND && read_only)) { mdb_txn_abort(txn); set_err(err, errlen, "meta", rc); goto fail; }
    s->levid_txnid = SIZE_MAX; /* computed in the first write transaction */
    rc = mdb_txn_commit(txn);
    if (rc) { set_err(err, errlen, "commit", rc); goto fail; }
    *out = s;
    return 0;
fail:
    mdb_env_close(s->env);
    free(s);
    return -1;
}

void store_close(store *s) {
    if (!s) return;
    mdb_env_close(s->env);
    free(s);
}

MDB_env *store_env(store *s) { return s->env; }

int store_open_dbi(store *s, const char *name, unsigned int flags, MDB_dbi *out) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc) return rc;
    rc = mdb_dbi_open(txn, name, flags | (s->read_only ? 0 : MDB_CREATE), out);
    if (rc) { mdb_txn_abort(txn); return rc; }
    return mdb_txn_commit(txn);
}

/* ---------------------------------------------------------------- records */

int store_get_record(const store *s, MDB_txn *txn, uint64_t levid, const uint8_t **rec, size_t *len) {
    MDB_val k = {8, &levid}, v;
    int rc = mdb_get(txn, s->dbi[DB_EVENTS], &k, &v);
    if (rc) return rc;
    if (v.mv_size < REC_HEADER_SIZE) return MDB_CORRUPTED;
    *rec = v.mv_data;
    *len = v.mv_size;
    return 0;
}

static int get_levid(const store *s, MDB_txn *txn, const uint8_t id[32], uint64_t *levid) {
    MDB_val k = {32, (void *)id}, v;
    int rc = mdb_get(txn, s->dbi[DB_ID], &k, &v);
    if (rc) return rc;
    if (v.mv_size != 8) return MDB_CORRUPTED;
    memcpy(levid, v.mv_data, 8);
    return 0;
}

/* A per-thread buffer for store_get_by_id, freed when the thread ends. */
static pthread_key_t thread_buf_key;
static pthread_once_t thread_buf_once = PTHREAD_ONCE_INIT;
static void thread_buf_free(void *p) {
    rec_buf *b = p;
    free(b->p);
    free(b);
}
static void thread_buf_init(void) { pthread_key_create(&thread_buf_key, thread_buf_free); }
static rec_buf *thread_buf(void) {
    pthread_once(&thread_buf_once, thread_buf_init);
    rec_buf *b = pthread_getspecific(thread_buf_key);
    if (!b && (b = calloc(1, sizeof *b)) && pthread_setspecific(thread_buf_key, b) != 0) { free(b); b = NULL; }
    return b;
}

int store_get_by_id(store *s, MDB_txn *txn, const uint8_t id[32], const char **json, size_t *len) {
    uint64_t levid;
    int rc = get_levid(s, txn, id, &levid);
    if (rc) return rc;
    const uint8_t *rec;
    size_t rlen;
    rc = store_get_record(s, txn, levid, &rec, &rlen);
    if (rc) return rc;
    rec_buf *b = thread_buf();
    if (!b || !(*json = rec_json(b, rec, rlen, len))) return ENOMEM;
    return 0;
}

/* ---------------------------------------------------------------- indexes */

static int key_op(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, bool add) {
    MDB_val k = {klen, (void *)key}, v = {0, NULL};
    if (add) return mdb_put(txn, dbi, &k, &v, 0);
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Adds or removes every time-ordered index entry of ev. */
static int index_event(store *s, MDB_txn *txn, const event *ev, uint64_t levid, bool add) {
    uint8_t key[TAG_KEY_MAX + TS_SUFFIX + 32];
    uint8_t suffix[TS_SUFFIX];
    put_suffix(suffix, ev->created_at, id_rank(ev->id), levid);
    int rc;
    if ((rc = key_op(txn, s->dbi[DB_TS], suffix, TS_SUFFIX, add))) return rc;
    memcpy(key, ev->pubkey, 32);
    put_be32(key + 32, ev->kind);
    memcpy(key + 36, suffix, TS_SUFFIX);
    if ((rc = key_op(txn, s->dbi[DB_PUBKEY_KIND], key, 36 + TS_SUFFIX, add))) return rc;
    put_be32(key, ev->kind);
    memcpy(key + 4, suffix, TS_SUFFIX);
    if ((rc = key_op(txn, s->dbi[DB_KIND], key, 4 + TS_SUFFIX, add))) return rc;
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        if (!tag_is_indexed(ev, t)) continue;
        const event_str *val = event_tag_str(ev, t, 1);
        bool hashed;
        size_t n = store_tag_key(key, event_tag_str(ev, t, 0)->ptr[0], val->ptr, val->len, &hashed);
        memcpy(key + n, suffix, TS_SUFFIX);
        if ((rc = key_op(txn, s->dbi[DB_TAG], key, n + TS_SUFFIX, add))) return rc;
    }
    if (ev->expiration) {
        put_ts(key, ev->expiration);
        put_be64(key + 8, levid);
        if ((rc = key_op(txn, s->dbi[DB_EXPIRY], key, 16, add))) return rc;
    }
    return 0;
}

static size_t event_addr_key(uint8_t *out, const event *ev) {
    event_class cls = event_kind_class(ev->kind);
    if (cls == EVENT_CLASS_ADDRESSABLE) return store_addr_key(out, ev->pubkey, ev->kind, ev->d_tag.ptr, ev->d_tag.len);
    return store_addr_key(out, ev->pubkey, ev->kind, "", 0);
}

/* Makes s->next_levid valid for txn: the larger of the stored counter and the
 * last serial + 1, read once per write transaction (nested ones share the id). */
static int levid_sync(store *s, MDB_txn *txn) {
    size_t id = mdb_txn_id(txn);
    if (id == s->levid_txnid) return 0;
    uint64_t next = 1;
    MDB_val k = {10, (void *)"next_levid"}, v;
    int rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == 0 && v.mv_size == 8) memcpy(&next, v.mv_data, 8);
    else if (rc && rc != MDB_NOTFOUND) return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &c))) return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0) {
        uint64_t last;
        memcpy(&last, k.mv_data, 8);
        if (last + 1 > next) next = last + 1;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND) return rc;
    s->next_levid = next;
    s->levid_txnid = id;
    return 0;
}

/* The journal position in g1relay.meta (see the layout above). */
int store_get_journal_lsn(store *s, MDB_txn *txn, uint64_t *lsn) {
    if (!txn) { /* in a read transaction of its own */
        int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
        if (rc) return rc;
        rc = store_get_journal_lsn(s, txn, lsn);
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val k = {11, (void *)"journal_lsn"}, v;
    int rc = mdb_get(txn, s->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *lsn = 0;
        return 0;
    }
    if (rc) return rc;
    if (v.mv_size != 8) return MDB_CORRUPTED;
    memcpy(lsn, v.mv_data, 8);
    return 0;
}

int store_set_journal_lsn(store *s, MDB_txn *txn, uint64_t lsn) {
    MDB_val k = {11, (void *)"journal_lsn"}, v = {8, &lsn};
    return mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
}

/* Keeps the counter when events are removed, so serials are never reused. */
static int save_next_levid(store *s, MDB_txn *txn) {
    MDB_val k = {10, (void *)"next_levid"}, v = {8, &s->next_levid};
    return mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
}

/* Removes the stored event levid and all its index entries. */
static int remove_event(store *s, MDB_txn *txn, uint64_t levid) {
    const uint8_t *rec;
    size_t rlen;
    int rc = levid_sync(s, txn);
    if (rc) return rc;
    rc = store_get_record(s, txn, levid, &rec, &rlen);
    if (rc) return rc;
    event ev;
    rec_buf b = {0};
    size_t jlen;
    const char *json = rec_json(&b, rec, rlen, &jlen);
    if (!json) return ENOMEM;
    int parsed = event_parse_trusted(&ev, json, jlen);
    free(b.p);
    if (parsed != 0) {
        /* unreadable JSON: remove what the header names; tag entries and an
         * addressable version's address stay dangling and are skipped later */
        memset(&ev, 0, sizeof ev);
        memcpy(ev.id, rec + REC_ID, 32);
        memcpy(ev.pubkey, rec + REC_PUBKEY, 32);
        ev.created_at = rec_i64(rec, REC_CREATED_AT);
        ev.expiration = rec_i64(rec, REC_EXPIRATION);
        ev.kind = rec_u32(rec, REC_KIND);
        ev.d_tag.ptr = "";
    }
    rc = index_event(s, txn, &ev, levid, false);
    if (!rc) {
        event_class cls = event_kind_class(ev.kind);
        if (cls == EVENT_CLASS_REPLACEABLE || cls == EVENT_CLASS_ADDRESSABLE) {
            uint8_t akey[ADDR_KEY_MAX];
            MDB_val k = {event_addr_key(akey, &ev), akey}, v;
            if (mdb_get(txn, s->dbi[DB_REPL], &k, &v) == 0 && v.mv_size == 8 && memcmp(v.mv_data, &levid, 8) == 0)
                rc = mdb_del(txn, s->dbi[DB_REPL], &k, NULL);
        }
    }
    if (!rc) {
        MDB_val k = {32, ev.id};
        rc = mdb_del(txn, s->dbi[DB_ID], &k, NULL);
        if (rc == MDB_NOTFOUND) rc = 0;
    }
    event_free(&ev);
    if (rc) return rc;
    MDB_val k = {8, &levid};
    if ((rc = mdb_del(txn, s->dbi[DB_EVENTS], &k, NULL))) return rc;
    return save_next_levid(s, txn);
}

/* ---------------------------------------------------------------- NIP-09 */

/* Parses an `a` tag value "kind:pubkey:d" into an address key when the pubkey is
 * the deleter's and the kind replaceable or addressable; returns its length or 0. */
static size_t a_tag_addr(uint8_t *out, const event_str *val, const uint8_t deleter[32]) {
    const char *p = val->ptr, *end = val->ptr + val->len;
    const char *c1 = memchr(p, ':', (size_t)(end - p));
    if (!c1 || c1 == p || c1 - p > 5) return 0;
    uint32_t kind = 0;
    for (const char *q = p; q < c1; q++) {
        if (*q < '0' || *q > '9') return 0;
        kind = kind * 10 + (uint32_t)(*q - '0');
    }
    if (kind > 65535) return 0;
    event_class cls = event_kind_class(kind);
    if (cls != EVENT_CLASS_REPLACEABLE && cls != EVENT_CLASS_ADDRESSABLE) return 0;
    const char *pk = c1 + 1;
    if (end - pk < 64) return 0;
    uint8_t pub[32];
    if (!hex_decode(pk, 64, pub, 32) || memcmp(pub, deleter, 32) != 0) return 0;
    const char *d = pk + 64;
    uint32_t dlen = 0;
    if (d < end) {
        if (*d != ':') return 0;
        d++;
        dlen = (uint32_t)(end - d);
    }
    if (cls == EVENT_CLASS_REPLACEABLE) dlen = 0;
    return store_addr_key(out, pub, kind, d, dlen);
}

static int apply_deletion(store *s, MDB_txn *txn, const event *del) {
    int rc;
    for (uint32_t t = 0; t < del->tag_count; t++) {
        if (del->tags[t].count < 2) continue;
        const event_str *name = event_tag_str(del, t, 0), *val = event_tag_str(del, t, 1);
        if (name->len != 1) continue;
        if (name->ptr[0] == 'e') {
            uint8_t key[64];
            if (val->len != 64 || !hex_decode(val->ptr, 64, key, 32)) continue;
            memcpy(key + 32, del->pubkey, 32);
            MDB_val k = {64, key}, v = {0, NULL};
            if ((rc = mdb_put(txn, s->dbi[DB_DEL_ID], &k, &v, 0))) return rc;
            uint64_t levid;
            rc = get_levid(s, txn, key, &levid);
            if (rc == MDB_NOTFOUND) continue;
            if (rc) return rc;
            const uint8_t *rec;
            size_t rlen;
            if ((rc = store_get_record(s, txn, levid, &rec, &rlen))) return rc;
            if (memcmp(rec + REC_PUBKEY, del->pubkey, 32) != 0 || rec_u32(rec, REC_KIND) == 5) continue;
            if ((rc = remove_event(s, txn, levid))) return rc;
        } else if (name->ptr[0] == 'a') {
            uint8_t akey[ADDR_KEY_MAX];
            size_t alen = a_tag_addr(akey, val, del->pubkey);
            if (!alen) continue;
            MDB_val k = {alen, akey}, v;
            int64_t when = del->created_at;
            rc = mdb_get(txn, s->dbi[DB_DEL_ADDR], &k, &v);
            if (rc == 0 && v.mv_size == 8) {
                int64_t old = get_ts(v.mv_data);
                if (old > when) when = old;
            } else if (rc && rc != MDB_NOTFOUND) return rc;
            uint8_t tsb[8];
            put_ts(tsb, when);
            v.mv_size = 8;
            v.mv_data = tsb;
            if ((rc = mdb_put(txn, s->dbi[DB_DEL_ADDR], &k, &v, 0))) return rc;
            rc = mdb_get(txn, s->dbi[DB_REPL], &k, &v);
            if (rc == MDB_NOTFOUND) continue;
            if (rc) return rc;
            uint64_t levid;
            memcpy(&levid, v.mv_data, 8);
            const uint8_t *rec;
            size_t rlen;
            rc = store_get_record(s, txn, levid, &rec, &rlen);
            if (rc == MDB_NOTFOUND) { /* dangling address entry */
                if ((rc = mdb_del(txn, s->dbi[DB_REPL], &k, NULL))) return rc;
                continue;
            }
            if (rc) return rc;
            if (rec_i64(rec, REC_CREATED_AT) > del->created_at) continue;
            if ((rc = remove_event(s, txn, levid))) return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- insert */

static store_result fail(char *msg, size_t msglen, int rc, const char *what) {
    if (msg && msglen) snprintf(msg, msglen, "error: store %s: %s", what, mdb_strerror(rc));
    return STORE_ERROR;
}

static store_result refuse(store_result r, char *msg, size_t msglen, const char *text) {
    if (msg && msglen) snprintf(msg, msglen, "%s", text);
    return r;
}

store_result store_insert(store *s, MDB_txn *txn, const event *ev, uint64_t *levid_out,
                          char *msg, size_t msglen) {
    if (msg && msglen) msg[0] = 0;
    if (s->read_only) return refuse(STORE_ERROR, msg, msglen, "error: store is read-only");
    event_class cls = event_kind_class(ev->kind);
    if (cls == EVENT_CLASS_EPHEMERAL) return refuse(STORE_EPHEMERAL, msg, msglen, "ephemeral event: not stored");
    if (ev->expiration && ev->expiration <= (int64_t)time(NULL))
        return refuse(STORE_EXPIRED, msg, msglen, "invalid: event has expired");
    uint64_t levid;
    int rc = get_levid(s, txn, ev->id, &levid);
    if (rc == 0) return refuse(STORE_DUPLICATE, msg, msglen, "duplicate: already have this event");
    if (rc != MDB_NOTFOUND) return fail(msg, msglen, rc, "id lookup");
    MDB_val k, v;
    if (ev->kind != 5) {
        uint8_t dkey[64];
        memcpy(dkey, ev->id, 32);
        memcpy(dkey + 32, ev->pubkey, 32);
        k.mv_size = 64;
        k.mv_data = dkey;
        rc = mdb_get(txn, s->dbi[DB_DEL_ID], &k, &v);
        if (rc == 0) return refuse(STORE_DELETED, msg, msglen, "blocked: this event was deleted by its author");
        if (rc != MDB_NOTFOUND) return fail(msg, msglen, rc, "deletion lookup");
    }
    uint8_t akey[ADDR_KEY_MAX];
    size_t alen = 0;
    if (cls == EVENT_CLASS_REPLACEABLE || cls == EVENT_CLASS_ADDRESSABLE) {
        alen = event_addr_key(akey, ev);
        k.mv_size = alen;
        k.mv_data = akey;
        rc = mdb_get(txn, s->dbi[DB_DEL_ADDR], &k, &v);
        if (rc == 0 && v.mv_size == 8 && get_ts(v.mv_data) >= ev->created_at)
            return refuse(STORE_DELETED, msg, msglen, "blocked: this address was deleted by its author");
        if (rc && rc != MDB_NOTFOUND) return fail(msg, msglen, rc, "deletion lookup");
        rc = mdb_get(txn, s->dbi[DB_REPL], &k, &v);
        if (rc == 0 && v.mv_size == 8) {
            uint64_t old;
            memcpy(&old, v.mv_data, 8);
            const uint8_t *rec;
            size_t rlen;
            rc = store_get_record(s, txn, old, &rec, &rlen);
            if (rc == 0) {
                int64_t old_ts = rec_i64(rec, REC_CREATED_AT);
                if (old_ts > ev->created_at || (old_ts == ev->created_at && memcmp(rec + REC_ID, ev->id, 32) < 0))
                    return refuse(STORE_REPLACED, msg, msglen, "duplicate: a newer version of this event is stored");
                if ((rc = remove_event(s, txn, old))) return fail(msg, msglen, rc, "replace");
            } else if (rc != MDB_NOTFOUND) return fail(msg, msglen, rc, "replaceable lookup");
            /* else a dangling address entry: overwritten below */
        } else if (rc && rc != MDB_NOTFOUND) return fail(msg, msglen, rc, "replaceable lookup");
    }
    if ((rc = levid_sync(s, txn))) return fail(msg, msglen, rc, "serial");
    levid = s->next_levid++;
    /* record */
    k.mv_size = 8;
    k.mv_data = &levid;
    bool packed = json_packable(ev);
    size_t body = packed ? ev->json_len - REC_JSON_EXTRA : ev->json_len;
    v.mv_size = REC_HEADER_SIZE + body;
    if ((rc = mdb_put(txn, s->dbi[DB_EVENTS], &k, &v, MDB_RESERVE | MDB_APPEND)))
        return fail(msg, msglen, rc, "write");
    uint8_t *rec = v.mv_data;
    memcpy(rec + REC_CREATED_AT, &ev->created_at, 8);
    memcpy(rec + REC_EXPIRATION, &ev->expiration, 8);
    memcpy(rec + REC_KIND, &ev->kind, 4);
    uint32_t flags = packed ? 0 : REC_FLAG_RAW;
    memcpy(rec + REC_FLAGS, &flags, 4);
    memcpy(rec + REC_ID, ev->id, 32);
    memcpy(rec + REC_PUBKEY, ev->pubkey, 32);
    memcpy(rec + REC_SIG, ev->sig, 64);
    memcpy(rec + REC_HEADER_SIZE, packed ? ev->json + 148 : ev->json, body);
    k.mv_size = 32;
    k.mv_data = (void *)ev->id;
    v.mv_size = 8;
    v.mv_data = &levid;
    if ((rc = mdb_put(txn, s->dbi[DB_ID], &k, &v, MDB_NOOVERWRITE))) return fail(msg, msglen, rc, "write id");
    if ((rc = index_event(s, txn, ev, levid, true))) return fail(msg, msglen, rc, "write index");
    if (alen) {
        k.mv_size = alen;
        k.mv_data = akey;
        v.mv_size = 8;
        v.mv_data = &levid;
        if ((rc = mdb_put(txn, s->dbi[DB_REPL], &k, &v, 0))) return fail(msg, msglen, rc, "write address");
    }
    if (ev->kind == 5 && (rc = apply_deletion(s, txn, ev))) return fail(msg, msglen, rc, "deletion");
    if (levid_out) *levid_out = levid;
    return STORE_ADDED;
}

int store_delete_expired(store *s, MDB_txn *txn, int64_t now, int max) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dbi[DB_EXPIRY], &c);
    if (rc) return -1;
    int removed = 0;
    while (removed < max) {
        MDB_val k, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) break;
        if (rc || k.mv_size != 16) { removed = -1; break; }
        if (get_ts(k.mv_data) > now) break;
        uint64_t levid = get_be64((const uint8_t *)k.mv_data + 8);
        rc = remove_event(s, txn, levid);
        if (rc == MDB_NOTFOUND) rc = mdb_cursor_del(c, 0); /* dangling entry */
        if (rc) { removed = -1; break; }
        removed++;
    }
    mdb_cursor_close(c);
    return removed;
}

/* ---------------------------------------------------------------- tools */

int store_export(store *s, int64_t since, int64_t until, store_emit_fn emit, void *ctx) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_TS], &c))) { mdb_txn_abort(txn); return rc; }
    uint8_t start[TS_SUFFIX];
    put_suffix(start, since, 0, 0);
    MDB_val k = {TS_SUFFIX, start}, v;
    int64_t now = (int64_t)time(NULL);
    rec_buf buf = {0};
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size != TS_SUFFIX) { rc = MDB_CORRUPTED; break; }
        if (get_ts(k.mv_data) > until) break;
        uint64_t levid = get_be64((const uint8_t *)k.mv_data + 16);
        const uint8_t *rec;
        size_t rlen;
        if ((rc = store_get_record(s, txn, levid, &rec, &rlen))) break;
        int64_t exp = rec_i64(rec, REC_EXPIRATION);
        if (exp && exp <= now) { rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); continue; }
        size_t jlen;
        const char *json = rec_json(&buf, rec, rlen, &jlen);
        if (!json) { rc = ENOMEM; break; }
        if (emit(ctx, json, jlen, levid)) break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    free(buf.p);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

int store_each_stored(store *s, MDB_txn *txn, const uint32_t *kinds, uint32_t kind_count, store_emit_fn emit,
                      void *ctx) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &c);
    if (rc) return rc;
    MDB_val k, v;
    rec_buf buf = {0};
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size < REC_HEADER_SIZE || k.mv_size != 8) continue;
        const uint8_t *rec = v.mv_data;
        if (kinds) {
            uint32_t kind = rec_u32(rec, REC_KIND), i = 0;
            while (i < kind_count && kinds[i] != kind) i++;
            if (i == kind_count) continue;
        }
        uint64_t levid;
        memcpy(&levid, k.mv_data, 8);
        size_t jlen;
        const char *json = rec_json(&buf, rec, v.mv_size, &jlen);
        if (!json) { rc = ENOMEM; break; }
        if (emit(ctx, json, jlen, levid)) break;
    }
    free(buf.p);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_count_kinds(store *s, void (*fn)(void *ctx, uint32_t kind, uint64_t count), void *ctx) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, s->dbi[DB_KIND], &c))) { mdb_txn_abort(txn); return rc; }
    MDB_val k, v;
    uint32_t cur = 0;
    uint64_t n = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 4 + TS_SUFFIX) { rc = MDB_CORRUPTED; break; }
        const uint8_t *p = k.mv_data;
        uint32_t kind = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (n && kind != cur) { fn(ctx, cur, n); n = 0; }
        cur = kind;
        n++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) { rc = 0; if (n) fn(ctx, cur, n); }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc;
}

int store_get_stats(store *s, store_stats *out) {
    memset(out, 0, sizeof *out);
    MDB_envinfo info;
    MDB_stat est;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &est);
    out->map_size = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * est.ms_psize;
    const char *path = NULL;
    mdb_env_get_path(s->env, &path);
    char file[4096];
    struct stat st;
    snprintf(file, sizeof file, "%s/data.mdb", path ? path : ".");
    if (stat(file, &st) == 0) out->file_bytes = (uint64_t)st.st_size;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    for (int i = 0; i < DB_COUNT && i < 16; i++) {
        MDB_stat ms;
        if ((rc = mdb_stat(txn, s->dbi[i], &ms))) break;
        out->dbs[i].name = store_db_names[i];
        out->dbs[i].entries = ms.ms_entries;
        out->dbs[i].bytes = (uint64_t)(ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) * ms.ms_psize;
        out->db_count = (uint32_t)i + 1;
        if (i == DB_EVENTS) out->events = ms.ms_entries;
    }
    if (!rc) {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &c)) == 0) {
            MDB_val k, v;
            int r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
            while (r == 0) {
                if (v.mv_size >= REC_HEADER_SIZE) out->json_bytes += rec_json_len(v.mv_data, v.mv_size);
                r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            }
            if (r != MDB_NOTFOUND) rc = r;
            mdb_cursor_close(c);
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int store_compact_copy(store *s, const char *dir, char *err, size_t errlen) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0) {
        snprintf(err, errlen, "%s already holds a database (data.mdb): refusing to overwrite", dir);
        return -1;
    }
    int rc = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
    if (rc) return set_err(err, errlen, "compact copy", rc);
    return 0;
}
