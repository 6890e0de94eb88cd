/* NIP-11 relay information document (served on GET with
 * Accept: application/nostr+json). */
#ifndef G1_NIP11_H
#define G1_NIP11_H
#include "config.h"
#include "relay_ctx.h"

#define G1RELAY_SOFTWARE "https://github.com/g1relay/g1relay"
#define G1RELAY_VERSION "0.1.0"

/* Returns the document as malloc'd JSON text, NULL on out of memory. */
char *nip11_document(const config *cfg, const relay_limits *lim);
#endif
