/* Client→relay messages of NIP-01 and friends, parsed from one WebSocket text frame:
 *   ["EVENT", {event}]           ["REQ", subid, filter, ...]   ["CLOSE", subid]
 *   ["COUNT", subid, filter, ...] ["AUTH", {event}]
 * The parser is bounded and never trusts the input; the fuzz target
 * (tests/fuzz/fuzz_message.c) drives it. */
#ifndef G1_MESSAGE_H
#define G1_MESSAGE_H
#include "event.h"
#include "filter.h"

typedef enum { MSG_EVENT, MSG_REQ, MSG_COUNT, MSG_CLOSE, MSG_AUTH } message_type;

typedef enum {
    MSG_OK = 0,
    MSG_ERR_NOTICE,     /* answer ["NOTICE", err] (not even the type/subid could be read) */
    MSG_ERR_OK_FALSE,   /* EVENT/AUTH: answer ["OK", id_hex, false, err] */
    MSG_ERR_CLOSED      /* REQ/COUNT: answer ["CLOSED", subid, err] */
} message_error;

typedef struct {
    message_type type;
    char subid[257];       /* REQ, COUNT, CLOSE: NUL-terminated (JSON-unescaped) */
    size_t subid_len;
    event ev;              /* EVENT, AUTH: parsed, NOT signature-checked */
    filter *filters;       /* REQ, COUNT */
    uint32_t filter_count;
    char id_hex[65];       /* EVENT/AUTH: claimed id if it could be read, else "" */
} client_message;

typedef struct {
    event_limits event;
    filter_limits filter;
    uint32_t max_filters;
    uint32_t max_subid_length;
} message_limits;

/* Returns MSG_OK, or an error kind with the text for the answer in err (already
 * prefixed "invalid: ", "error: " ...). The message must be freed in all cases. */
message_error message_parse(client_message *m, const char *data, size_t len,
                            const message_limits *lim, char *err, size_t errlen);
void message_free(client_message *m);

/* Appends a JSON string literal (with quotes) of s[0..len) to out, escaping as
 * JSON requires; returns bytes written or 0 if it does not fit. Used to write
 * subscription ids and messages back to clients. */
size_t json_write_string(char *out, size_t cap, const char *s, size_t len);
#endif
