/* Relay-level acceptance rules for incoming events that do not need the store:
 * created_at window, NIP-40 expiration, NIP-13 minimum proof of work. */
#ifndef G1_EVENT_RULES_H
#define G1_EVENT_RULES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"
#include "relay_ctx.h"

/* Returns true if ev passes; otherwise writes the OK message ("invalid: ...",
 * "pow: ...") into msg. now is unix seconds. */
bool event_rules_check(const relay_limits *lim, const event *ev, int64_t now, char *msg, size_t msglen);
#endif
