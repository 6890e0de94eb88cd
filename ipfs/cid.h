/* Content identifiers, version 1 only: varint(1) ‖ varint(codec) ‖ multihash,
 * the multihash always sha2-256 (varint(0x12) ‖ varint(32) ‖ digest).
 * Text form: multibase base32 lower case without padding, prefix 'b'
 * (e.g. "bafkrei…" for raw, "bafyrei…" for dag-cbor). */
#ifndef G1_IPFS_CID_H
#define G1_IPFS_CID_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CID_CODEC_RAW 0x55u
#define CID_CODEC_DAG_CBOR 0x71u
#define CID_CODEC_DAG_JSON 0x0129u
#define CID_MH_SHA2_256 0x12u

#define CID_MAX_BYTES 40   /* binary form: 1 + up to 3 (codec) + 1 + 1 + 32 */
#define CID_MAX_TEXT 72    /* 'b' + base32 of CID_MAX_BYTES + NUL */

typedef struct {
    uint32_t codec;        /* multicodec of the content (raw, dag-cbor, ...) */
    uint8_t digest[32];    /* sha2-256 of the block's bytes */
} cid;

/* The CID of data under codec (hashes it). */
void cid_of(cid *out, uint32_t codec, const uint8_t *data, size_t len);
/* Binary form into out (CID_MAX_BYTES). Returns its length. */
size_t cid_to_bytes(const cid *c, uint8_t *out);
/* Parses a binary CIDv1 with a sha2-256 multihash from the start of in.
 * Returns the bytes used, or -1 (not v1, other hash, wrong digest length,
 * non-minimal varint, truncated). */
int cid_from_bytes(cid *out, const uint8_t *in, size_t len);
/* Text form into out (CID_MAX_TEXT bytes, NUL-terminated). */
void cid_to_string(const cid *c, char *out);
/* Parses the text form ('b' + base32 lower). Returns 0 or -1. */
int cid_parse(cid *out, const char *text);
bool cid_equal(const cid *a, const cid *b);

/* RFC 4648 base32, lower-case alphabet, no padding (the multibase 'b' body). */
size_t base32_lower_encode(const uint8_t *in, size_t len, char *out); /* NUL-terminated; returns length */
/* Decodes base32 lower (no padding) into out (outcap bytes). Returns length or -1. */
int base32_lower_decode(const char *in, size_t len, uint8_t *out, size_t outcap);
#endif
