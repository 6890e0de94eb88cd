/* The strfry write-policy wire format and the NIP-101 exit-code convention:
 * building the input line, reading an answer line, and shaping client messages. */
#ifndef G1_POLICY_PROTOCOL_H
#define G1_POLICY_PROTOCOL_H
#include <stddef.h>
#include "event.h"
#include "plugin.h"

/* Longest answer line accepted from a write-policy program, and longest client message. */
#define POLICY_MAX_ANSWER_LINE 65536
#define POLICY_MAX_MSG 300

/* Builds {"type":"new","event":EV,"receivedAt":N,"sourceType":"…","sourceInfo":"…"[,"authed":"hex"]}
 * followed by "\n" (malloc'd; *len_out includes the newline). EV is ev->json as
 * stored, so the program sees the event exactly as signed. NULL if out of memory. */
char *policy_input_line(const event *ev, const plugin_source *src, size_t *len_out);

/* Reads one answer line (without its newline) for the event whose id is id_hex:
 * {"id":"…","action":"accept|reject|shadowReject","msg":"…"}. Returns 0 and sets
 * *verdict and msg (for reject: prefixed with "blocked: " unless it already has a
 * NIP-01 prefix; empty for accept/shadowReject), or -1 with why describing the
 * problem (not JSON, id mismatch, unknown action ...). */
int policy_parse_answer(const char *line, size_t len, const char *id_hex, plugin_verdict *verdict,
                        char *msg, size_t msglen, char *why, size_t whylen);

/* Writes raw (first line only, control characters replaced, cut at a UTF-8
 * boundary to fit) into out, prefixed "blocked: " unless it starts with a NIP-01
 * machine-readable prefix; if raw is empty, uses fallback (already prefixed). */
void policy_client_msg(const char *raw, size_t raw_len, const char *fallback, char *out, size_t outlen);
#endif
