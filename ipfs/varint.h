/* Unsigned varints as used by multiformats (CIDs, multihashes, CAR framing):
 * little-endian base-128, 7 bits per byte, high bit = more bytes follow.
 * Multiformats caps them at 9 bytes (63 bits) and requires the minimal form;
 * the decoder refuses anything else. */
#ifndef G1_IPFS_VARINT_H
#define G1_IPFS_VARINT_H
#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX_BYTES 9

/* Writes v (must be < 2^63) into out (at least VARINT_MAX_BYTES). Returns the length. */
size_t varint_encode(uint64_t v, uint8_t *out);
/* Length of the encoding of v. */
size_t varint_size(uint64_t v);
/* Reads a minimal varint from in[0..len). Returns the bytes used (1..9), 0 when
 * the input ends inside the varint (truncated), -1 when it is not minimal or
 * longer than 9 bytes. */
int varint_decode(const uint8_t *in, size_t len, uint64_t *out);
#endif
