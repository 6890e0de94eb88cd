/* Nostr public keys given by a user: 64 hex characters or NIP-19 "npub1…"
 * (bech32, checksum verified). */
#ifndef G1_NPUB_H
#define G1_NPUB_H
#include <stddef.h>
#include <stdint.h>

/* Parses hex or npub into 32 bytes. Returns 0, or -1 with a reason in err. */
int npub_parse(const char *text, uint8_t pubkey[32], char *err, size_t errlen);
/* Writes the npub1… form of pubkey (out >= 64 bytes). Returns 0 or -1. */
int npub_encode(const uint8_t pubkey[32], char *out, size_t outlen);
#endif
