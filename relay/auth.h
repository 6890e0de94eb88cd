/* NIP-42 authentication: challenges and the check of a client's kind 22242
 * AUTH event (challenge tag, relay tag, created_at window). */
#ifndef G1_AUTH_H
#define G1_AUTH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

#define AUTH_KIND 22242
#define AUTH_MAX_AGE_SECONDS 600

/* Writes a fresh random challenge (32 hex characters + NUL). */
void auth_new_challenge(char out[33]);

/* Checks everything but the signature. relay_url: configured public URL, or ""
 * to accept any ws:// or wss:// URL naming `host` (the Host header): same host
 * and same port, a missing port meaning 80 for ws and 443 for wss. Returns true, or false with the OK message
 * ("invalid: ..." / "auth-required: ...") in msg. */
bool auth_check_event(const event *ev, const char *challenge, const char *relay_url, const char *host,
                      int64_t now, char *msg, size_t msglen);

/* Compares two relay URLs loosely: scheme and host case-insensitive, a trailing
 * slash ignored. */
bool auth_same_relay_url(const char *a, size_t alen, const char *b, size_t blen);
#endif
