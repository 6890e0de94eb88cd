/* A minimal DAG-CBOR codec for g1relay's archive nodes (index pages, roots).
 *
 * Encoder: appends items to a growable buffer. The caller writes map keys in
 * DAG-CBOR canonical order (shorter keys first, equal lengths bytewise); every
 * length and integer is written in its shortest form; CID links are tag 42 over
 * a byte string 0x00 ‖ binary CID.
 *
 * Decoder: strict. It accepts exactly the canonical encodings the DAG-CBOR spec
 * allows for the types used here and refuses everything else: non-minimal
 * lengths or integers, indefinite lengths, map keys that are not text or not in
 * canonical order (or duplicated), tags other than 42, links that are not
 * 0x00 ‖ CIDv1/sha2-256, invalid UTF-8, floats and undefined, integers outside
 * int64, nesting deeper than DAGCBOR_MAX_DEPTH, and trailing bytes. */
#ifndef G1_IPFS_DAGCBOR_H
#define G1_IPFS_DAGCBOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cid.h"

/* ---- encoder ---- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool failed; /* out of memory: the buffer is incomplete */
} cbor_buf;

void cbor_buf_free(cbor_buf *b);
void cbor_put_int(cbor_buf *b, int64_t v);
void cbor_put_text(cbor_buf *b, const char *s, size_t len);
void cbor_put_cstr(cbor_buf *b, const char *s);
void cbor_put_bytes(cbor_buf *b, const uint8_t *p, size_t len);
void cbor_put_array(cbor_buf *b, uint64_t count);
void cbor_put_map(cbor_buf *b, uint64_t pairs);
void cbor_put_link(cbor_buf *b, const cid *c);
void cbor_put_null(cbor_buf *b);
void cbor_put_bool(cbor_buf *b, bool v);

/* ---- decoder ---- */

#define DAGCBOR_MAX_DEPTH 16
#define DAGCBOR_MAX_NODES 1000000

typedef enum { DC_INT, DC_BYTES, DC_TEXT, DC_ARRAY, DC_MAP, DC_LINK, DC_NULL, DC_BOOL } dc_type;

typedef struct dc_node {
    dc_type type;
    int64_t i;               /* DC_INT; DC_BOOL: 0 or 1 */
    const uint8_t *ptr;      /* DC_BYTES, DC_TEXT: points into the decoded input */
    size_t len;
    struct dc_node *items;   /* DC_ARRAY: count items; DC_MAP: key, value, key, value ... */
    uint32_t count;          /* items of an array, pairs of a map */
    cid link;                /* DC_LINK */
} dc_node;

typedef struct {
    dc_node root;
    void **allocs;           /* owned item arrays */
    size_t nallocs, capallocs;
    size_t nodes;
} dc_doc;

/* Decodes in[0..len) (which must outlive the document). Returns 0, or -1 with
 * the reason in err. */
int dagcbor_decode(dc_doc *doc, const uint8_t *in, size_t len, char *err, size_t errlen);
void dagcbor_free(dc_doc *doc);
/* Value of key in a map node, or NULL. */
const dc_node *dc_map_get(const dc_node *map, const char *key);
/* True if the text node equals s. */
bool dc_text_is(const dc_node *n, const char *s);
#endif
