/* Lower-case hexadecimal encoding and strict decoding. */
#ifndef G1_HEX_H
#define G1_HEX_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Writes 2*len hex chars plus a NUL into out (size >= 2*len+1). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*outlen hex chars (either case) from in; false if any is not hex
 * or inlen != 2*outlen. */
bool hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);
/* True if s[0..len) is all lower-case hex (the only form NIP-01 allows for ids/keys). */
bool hex_is_lower(const char *s, size_t len);
#endif
