/* Classification of a node's answer to author_submitExtrinsic (Substrate
 * transaction pool errors): 1010 Invalid Transaction with its reason in data
 * (stale/outdated, bad proof, future, payment, ancient birth block, exhausts
 * resources, call), 1011 unknown validity, 1012 temporarily banned, 1013
 * already imported, 1014 priority too low, 1015/1016 pool limits, 1001/1002
 * bad format / verification. The outbox decides what each means for a
 * transfer (submit_error_* below); nothing here touches the network. */
#ifndef G1_SUBMIT_ERROR_H
#define G1_SUBMIT_ERROR_H
#include <stdbool.h>

typedef enum {
    SUBMIT_ACCEPTED = 0,    /* entered the pool */
    SUBMIT_ALREADY_IMPORTED,/* 1013: the same extrinsic is already in the pool */
    SUBMIT_STALE,           /* 1010 outdated: nonce used (maybe by this very extrinsic, already included) */
    SUBMIT_FUTURE,          /* 1010 future */
    SUBMIT_BAD_PROOF,       /* 1010 bad signature (or genesis/spec/tx version/era mismatch) */
    SUBMIT_PAYMENT,         /* 1010 cannot pay fees (no account, balance too low) */
    SUBMIT_ANCIENT_BIRTH,   /* 1010 era birth block unknown to the node */
    SUBMIT_EXHAUSTS,        /* 1010 would exhaust block resources */
    SUBMIT_BANNED,          /* 1012: recently seen (included or rejected) */
    SUBMIT_PRIORITY,        /* 1014: another extrinsic with the same nonce is pooled */
    SUBMIT_POOL_FULL,       /* 1015/1016: pool limits */
    SUBMIT_INVALID_OTHER,   /* other 1010 reasons (call not expected, custom ...) */
    SUBMIT_UNKNOWN_VALIDITY,/* 1011 */
    SUBMIT_BAD_FORMAT,      /* 1001/1002 and other codes */
} submit_kind;

/* Classifies a JSON-RPC error (code, message, data may be NULL). */
submit_kind submit_error_classify(int code, const char *message, const char *data);
/* Short machine word for logs and reasons: "stale", "bad-proof", "future", ... */
const char *submit_kind_name(submit_kind k);
#endif
