/* Maps Substrate transaction pool error answers to submit_kind, by code and
 * by the wording the node puts in message/data (matched case-insensitively). */
#include "submit_error.h"
#include <stddef.h>
#include <string.h>
#include <strings.h>

static bool has(const char *hay, const char *needle) {
    if (!hay) return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return true;
    return false;
}

static bool either(const char *a, const char *b, const char *needle) { return has(a, needle) || has(b, needle); }

submit_kind submit_error_classify(int code, const char *message, const char *data) {
    switch (code) {
    case 1010:
        if (either(message, data, "outdated") || either(message, data, "stale")) return SUBMIT_STALE;
        if (either(message, data, "bad signature") || either(message, data, "badproof") || either(message, data, "bad proof")) return SUBMIT_BAD_PROOF;
        if (either(message, data, "ancient birth")) return SUBMIT_ANCIENT_BIRTH;
        if (either(message, data, "in the future") || either(message, data, "future")) return SUBMIT_FUTURE;
        if (either(message, data, "inability to pay") || either(message, data, "payment")) return SUBMIT_PAYMENT;
        if (either(message, data, "exhaust")) return SUBMIT_EXHAUSTS;
        return SUBMIT_INVALID_OTHER;
    case 1011: return SUBMIT_UNKNOWN_VALIDITY;
    case 1012: return SUBMIT_BANNED;
    case 1013: return SUBMIT_ALREADY_IMPORTED;
    case 1014: return SUBMIT_PRIORITY;
    case 1015: case 1016: return SUBMIT_POOL_FULL;
    default: return SUBMIT_BAD_FORMAT;
    }
}

const char *submit_kind_name(submit_kind k) {
    switch (k) {
    case SUBMIT_ACCEPTED: return "accepted";
    case SUBMIT_ALREADY_IMPORTED: return "already-imported";
    case SUBMIT_STALE: return "stale";
    case SUBMIT_FUTURE: return "future";
    case SUBMIT_BAD_PROOF: return "bad-proof";
    case SUBMIT_PAYMENT: return "payment";
    case SUBMIT_ANCIENT_BIRTH: return "ancient-birth-block";
    case SUBMIT_EXHAUSTS: return "exhausts-resources";
    case SUBMIT_BANNED: return "temporarily-banned";
    case SUBMIT_PRIORITY: return "priority-too-low";
    case SUBMIT_POOL_FULL: return "pool-full";
    case SUBMIT_INVALID_OTHER: return "invalid";
    case SUBMIT_UNKNOWN_VALIDITY: return "unknown-validity";
    case SUBMIT_BAD_FORMAT: return "bad-format";
    }
    return "?";
}
