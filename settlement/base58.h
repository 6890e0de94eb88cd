/* Base58 (Bitcoin alphabet) encoding and strict decoding, as used by Duniter v1
 * keys, .dunikey files and SS58 addresses. Inputs are bounded: at most
 * BASE58_MAX_BYTES bytes are encoded or decoded. */
#ifndef G1_BASE58_H
#define G1_BASE58_H
#include <stddef.h>
#include <stdint.h>

#define BASE58_MAX_BYTES 128
/* Longest encoding of BASE58_MAX_BYTES bytes plus NUL. */
#define BASE58_MAX_CHARS 176

/* Encodes len bytes (len <= BASE58_MAX_BYTES) into out as a NUL-terminated string.
 * Returns the string length, or -1 if len is too large or out is too small. */
int base58_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/* Decodes slen characters. Every character must be in the alphabet (no spaces).
 * Returns the number of bytes written to out, or -1 on a bad character, an empty
 * input, or a result that does not fit in outlen (or BASE58_MAX_BYTES). */
int base58_decode(const char *s, size_t slen, uint8_t *out, size_t outlen);
#endif
