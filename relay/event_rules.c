/* Acceptance rules for incoming events (see event_rules.h). */
#include "event_rules.h"
#include <stdio.h>

/* created_at is in [0, INT64_MAX] (event parser) and now >= 0, so the
 * differences below cannot overflow whatever the configured limits are. */
bool event_rules_check(const relay_limits *lim, const event *ev, int64_t now, char *msg, size_t msglen) {
    if (lim->created_at_lower_limit > 0 && ev->created_at < now && now - ev->created_at > lim->created_at_lower_limit) {
        snprintf(msg, msglen, "invalid: created_at is more than %lld seconds in the past",
                 (long long)lim->created_at_lower_limit);
        return false;
    }
    if (lim->created_at_upper_limit > 0 && ev->created_at > now && ev->created_at - now > lim->created_at_upper_limit) {
        snprintf(msg, msglen, "invalid: created_at is more than %lld seconds in the future",
                 (long long)lim->created_at_upper_limit);
        return false;
    }
    if (ev->expiration != 0 && ev->expiration <= now) {
        snprintf(msg, msglen, "invalid: event has expired");
        return false;
    }
    if (lim->min_pow_difficulty > 0) {
        int bits = event_pow_bits(ev->id);
        if (bits < lim->min_pow_difficulty) {
            snprintf(msg, msglen, "pow: difficulty %d is less than %d", bits, lim->min_pow_difficulty);
            return false;
        }
    }
    return true;
}
