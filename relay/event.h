/* A Nostr event: parsed fields, the exact signed JSON, validation and verification.
 *
 * Strings (content, tag values) are kept decoded with explicit lengths: they may
 * contain NUL bytes. All memory of an event lives in one arena owned by it.
 *
 * The stored and served form of an event is `json`:
 *   {"id":"…","pubkey":"…","created_at":N,"kind":N,"tags":[…],"content":"…","sig":"…"}
 * where tags and content are escaped exactly as in the form the signer hashed:
 * the strict NIP-01 form (only \n \" \\ \r \t \b \f escaped, everything else raw)
 * or the JSON.stringify form (other control characters as \u00XX, lower-case hex).
 * `id_form` says which one matched. Serving `json` byte for byte lets every
 * client re-derive the id. */
#ifndef G1_EVENT_H
#define G1_EVENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *ptr; /* decoded bytes, NUL-terminated for convenience, may contain NUL */
    uint32_t len;
} event_str;

typedef struct {
    uint32_t first; /* index of the tag's first string in event.tag_strs */
    uint32_t count; /* number of strings in the tag (>= 1 once validated) */
} event_tag;

typedef enum { EVENT_ID_STRICT = 0, EVENT_ID_STRINGIFY = 1 } event_id_form;

typedef enum {
    EVENT_CLASS_REGULAR,
    EVENT_CLASS_REPLACEABLE, /* 0, 3, 10000-19999: one per (pubkey, kind) */
    EVENT_CLASS_EPHEMERAL,   /* 20000-29999: never stored */
    EVENT_CLASS_ADDRESSABLE  /* 30000-39999: one per (pubkey, kind, d tag) */
} event_class;

typedef struct event {
    uint8_t id[32];
    uint8_t pubkey[32];
    uint8_t sig[64];
    int64_t created_at;
    uint32_t kind;
    event_str content;
    event_tag *tags;
    uint32_t tag_count;
    event_str *tag_strs;
    uint32_t tag_str_count;
    event_str d_tag;        /* value of the first "d" tag, or "" (len 0) */
    int64_t expiration;     /* NIP-40 expiration timestamp, 0 when absent */
    bool is_protected;      /* NIP-70: has a ["-"] tag */
    event_id_form id_form;
    char *json;             /* the stored/served form described above */
    size_t json_len;
    void *arena;            /* owns every pointer above; freed by event_free */
} event;

/* Bounds checked while parsing (0 = unchecked). */
typedef struct {
    uint32_t max_event_tags;
    uint32_t max_tag_strings;   /* strings in one tag */
    uint32_t max_content_length;
    uint32_t max_json_length;
} event_limits;

event_class event_kind_class(uint32_t kind);

/* Tag access helpers. */
static inline const event_str *event_tag_str(const event *ev, uint32_t tag, uint32_t i) {
    return i < ev->tags[tag].count ? &ev->tag_strs[ev->tags[tag].first + i] : NULL;
}

/* Parses one event object from JSON text (the object alone, e.g. the second
 * element of an EVENT message). Checks shape and types (exactly the seven fields,
 * 64/64/128 lower-case hex, integer created_at and kind in 0..65535, tags an array
 * of non-empty arrays of strings), bounds from lim, then computes the id in the
 * strict form and, if that does not match, the JSON.stringify form, and builds
 * `json`. Does NOT check the signature.
 * Returns 0, or -1 with a NIP-01 style message in err ("invalid: ..."). On error
 * `id_hex_out` (if not NULL, 65 bytes) receives the claimed id when it could be read
 * (so the caller can answer OK false for it), else ""; on success, the id. */
int event_parse(event *ev, const char *json, size_t len, const event_limits *lim,
                char *err, size_t errlen, char *id_hex_out);

/* Same as event_parse for an object followed by more text (an event inside a
 * larger message): *used receives the length of the object; what follows it is
 * not examined. On success id_hex_out (if not NULL) also receives the id. */
int event_parse_prefix(event *ev, const char *json, size_t len, size_t *used, const event_limits *lim,
                       char *err, size_t errlen, char *id_hex_out);

/* Verifies the BIP-340 Schnorr signature over the id. Thread-safe. */
bool event_verify_sig(const event *ev);

/* Parses a stored event (`json` as produced by event_parse) without recomputing
 * the id or checking the signature: for the store's own records. */
int event_parse_trusted(event *ev, const char *json, size_t len);

/* Builds and signs an event with the given secret key (station receipts, tests).
 * tags: tag_count arrays of NUL-terminated strings, each NULL-terminated. */
int event_build_signed(event *ev, const uint8_t seckey[32], int64_t created_at, uint32_t kind,
                       const char *const *const *tags, uint32_t tag_count,
                       const char *content, size_t content_len);

/* Derives the x-only (BIP-340) public key of a secret key. 0, or -1 if the
 * secret key is not valid. Thread-safe. */
int event_pubkey_of(const uint8_t seckey[32], uint8_t pubkey_out[32]);

/* Writes the canonical NIP-01 array [0,pubkey,created_at,kind,tags,content] in the
 * strict form into a malloc'd buffer (for tests and tools). */
char *event_canonical_strict(const event *ev, size_t *len_out);

void event_free(event *ev);

/* Number of leading zero bits of the id (NIP-13). */
int event_pow_bits(const uint8_t id[32]);
#endif
