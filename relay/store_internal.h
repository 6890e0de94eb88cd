/* Internals shared by the event store (relay/store.c) and its query engine
 * (relay/query.c): the store structure, the record header and the index key
 * encoders. Not for other modules: use relay/store.h. The layout itself is
 * documented at the top of relay/store.c. */
#ifndef G1_STORE_INTERNAL_H
#define G1_STORE_INTERNAL_H
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "event.h"

enum {
    DB_EVENTS = 0,  /* levid (u64, MDB_INTEGERKEY) -> header ‖ json */
    DB_ID,          /* id32 -> levid (u64 native) */
    DB_TS,          /* ts8 ‖ rank8 ‖ levid8 -> "" */
    DB_KIND,        /* kind4 ‖ ts8 ‖ rank8 ‖ levid8 -> "" */
    DB_PUBKEY_KIND, /* pubkey32 ‖ kind4 ‖ ts8 ‖ rank8 ‖ levid8 -> "" */
    DB_TAG,         /* letter ‖ code ‖ value ‖ ts8 ‖ rank8 ‖ levid8 -> "" */
    DB_REPL,        /* address (pubkey32 ‖ kind4 ‖ d) -> levid8 */
    DB_DEL_ID,      /* id32 ‖ deleter pubkey32 -> "" */
    DB_DEL_ADDR,    /* address -> ts8 (latest deletion's created_at) */
    DB_EXPIRY,      /* expiration8 ‖ levid8 -> "" */
    DB_META,        /* "version" -> u32, "next_levid" -> u64 */
    DB_COUNT
};

extern const char *const store_db_names[DB_COUNT];

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    uint64_t next_levid; /* writer thread only: next serial in write txn levid_txnid */
    size_t levid_txnid;  /* re-read from the database in any other transaction, as
                            another process (g1relay import) may have written */
    bool read_only;
};

/* ---- records of DB_EVENTS ----
 * header: created_at i64 ‖ expiration i64 ‖ kind u32 ‖ flags u32 ‖ id[32] ‖
 *         pubkey[32] ‖ sig[64]   (numbers in host order, read with memcpy)
 * then, packed (flags 0): the JSON without its three hex fields, i.e. the bytes
 *         from `,"created_at":` up to the `,"sig":"` that ends the canonical form
 *         {"id":"<hex>","pubkey":"<hex>",...,"sig":"<hex>"} (the JSON is rebuilt
 *         byte for byte on reading: 222 bytes less per event);
 * or (REC_FLAG_RAW) the JSON verbatim, for a JSON not in that exact form. */
#define REC_CREATED_AT 0
#define REC_EXPIRATION 8
#define REC_KIND 16
#define REC_FLAGS 20
#define REC_ID 24
#define REC_PUBKEY 56
#define REC_SIG 88
#define REC_HEADER_SIZE 152
#define REC_FLAG_RAW 1u
#define REC_JSON_EXTRA 286 /* JSON bytes a packed record leaves out */

static inline int64_t rec_i64(const uint8_t *rec, size_t off) { int64_t v; memcpy(&v, rec + off, 8); return v; }
static inline uint32_t rec_u32(const uint8_t *rec, size_t off) { uint32_t v; memcpy(&v, rec + off, 4); return v; }

/* A growable buffer for rebuilt JSON (grows only; no allocation per event). */
typedef struct {
    char *p;
    size_t cap;
} rec_buf;

/* Length of the JSON a record holds. */
size_t rec_json_len(const uint8_t *rec, size_t rlen);
/* The JSON of a record: a pointer into the record (raw) or into b (rebuilt);
 * NULL when out of memory. Valid until b is used again or the txn ends. */
const char *rec_json(rec_buf *b, const uint8_t *rec, size_t rlen, size_t *len);

/* ---- key encoding: big-endian so that memcmp order is numeric order ---- */
static inline void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}
static inline uint64_t get_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}
static inline void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
/* Timestamps are signed: flip the sign bit so negative values sort first. */
static inline void put_ts(uint8_t *p, int64_t ts) { put_be64(p, (uint64_t)ts ^ 0x8000000000000000ull); }
static inline int64_t get_ts(const uint8_t *p) { return (int64_t)(get_be64(p) ^ 0x8000000000000000ull); }

/* Suffix of every time-ordered index key: ts ‖ rank ‖ levid, where rank is the
 * complement of the id's first 8 bytes, so that a backwards scan yields, on equal
 * created_at, the lowest id first (NIP-01). */
#define TS_SUFFIX 24
static inline uint64_t id_rank(const uint8_t id[32]) { return ~get_be64(id); }
static inline void put_suffix(uint8_t *p, int64_t ts, uint64_t rank, uint64_t levid) {
    put_ts(p, ts);
    put_be64(p + 8, rank);
    put_be64(p + 16, levid);
}

/* Tag index value: letter ‖ code ‖ bytes. code 0..TAG_RAW_MAX: raw value of that
 * length; TAG_CODE_HEX: 64 lower-case hex digits stored as 32 bytes;
 * TAG_CODE_HASH: longer values as a 16-byte BLAKE2b hash (matches need a check). */
#define TAG_RAW_MAX 48
#define TAG_CODE_HEX 0xFE
#define TAG_CODE_HASH 0xFF
#define TAG_KEY_MAX (2 + TAG_RAW_MAX + 16)
size_t store_tag_key(uint8_t *out, char letter, const char *value, uint32_t len, bool *hashed);

/* Address of a replaceable/addressable event: pubkey ‖ kind ‖ d code ‖ d
 * (code 0: raw d of at most ADDR_D_RAW_MAX bytes; code 1: 32-byte BLAKE2b of d). */
#define ADDR_D_RAW_MAX 200
#define ADDR_KEY_MAX (32 + 4 + 1 + ADDR_D_RAW_MAX)
size_t store_addr_key(uint8_t *out, const uint8_t pubkey[32], uint32_t kind, const char *d, uint32_t dlen);

/* Reads the record of levid. */
int store_get_record(const struct store *s, MDB_txn *txn, uint64_t levid, const uint8_t **rec, size_t *len);
#endif
