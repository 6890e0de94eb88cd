/* Decoding of NIP-19 "npub1..." public keys (bech32) for the pubkey lists. */
#ifndef G1_NPUB_H
#define G1_NPUB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes an npub (lower or upper case, not mixed) of length len into 32 bytes.
 * False if the prefix, characters, length or checksum are wrong. */
bool npub_decode(const char *s, size_t len, uint8_t out[32]);
#endif
