/* The station's Nostr identity as seen by the archiver: its public key (named
 * in archive roots) and, for the periodic archiver, its secret key (signs the
 * NIP-94 announcement). Read from the keystore (DATA_DIR/keystore.g1ks) with
 * the passphrase of config passphrase_file or G1RELAY_PASSPHRASE. */
#ifndef G1_IPFS_STATION_IDENTITY_H
#define G1_IPFS_STATION_IDENTITY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

/* Loads the station key. sk (may be NULL) must be guarded memory (sodium_malloc)
 * of 32 bytes. With create, a missing keystore or station key is created (as
 * the settlement plugins do). Returns 0 with the key, 1 when none is available
 * (no passphrase, no keystore or no station key, and not create): err says
 * why; -1 on an error (wrong passphrase, unreadable keystore) with err. */
int station_identity_load(const config *cfg, bool create, uint8_t *sk, uint8_t pk[32], char *err, size_t errlen);
#endif
