/* SS58 addresses of 32-byte account ids (Substrate):
 *   base58(prefix ‖ account32 ‖ blake2b-512("SS58PRE" ‖ prefix ‖ account32)[0..2])
 * Prefixes 0..63 take one byte, 64..16383 two bytes. Ğ1 uses 4450 ("g1…"),
 * gdev 42. */
#ifndef G1_SS58_H
#define G1_SS58_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SS58_PREFIX_G1 4450
#define SS58_PREFIX_GENERIC 42
#define SS58_MAX_PREFIX 16383
/* Buffer size large enough for any 32-byte-account address plus NUL. */
#define SS58_ADDRESS_MAX 64

/* Writes the address of account into out. Returns 0, or -1 if the prefix is
 * above SS58_MAX_PREFIX or out is too small. */
int ss58_encode(const uint8_t account[32], uint16_t prefix, char *out, size_t outlen);

/* Decodes an address of a 32-byte account id, verifying its checksum.
 * On success writes account and *prefix and returns 0; otherwise returns -1 and
 * writes a short reason into err (bad base58, wrong length, bad checksum...). */
int ss58_decode(const char *address, uint8_t account[32], uint16_t *prefix, char *err, size_t errlen);
#endif
