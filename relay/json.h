/* A small, strict, bounded, non-allocating JSON pull reader for Nostr messages.
 *
 * The reader walks a buffer of known length (NUL bytes allowed) and never
 * allocates: strings are returned as raw spans and decoded on demand into
 * caller memory, with explicit lengths (a decoded string may contain NUL).
 * It validates the JSON grammar, escapes, \u surrogate pairs (lone surrogates
 * are refused), the UTF-8 of raw bytes (no overlongs, no surrogates, at most
 * U+10FFFF) and bounds nesting depth. Numbers are read as non-negative
 * integers only (no sign, fraction or exponent; no leading zeros); other
 * numbers are recognised only to be skipped.
 *
 * One deliberate leniency: raw control bytes (0x00-0x1f) inside strings are
 * accepted, because an event signed in the strict NIP-01 form is stored and
 * served with such bytes written raw (see event.h), and must re-import. */
#ifndef G1_JSON_H
#define G1_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *p;       /* cursor */
    const char *end;     /* one past the last byte */
    const char *err;     /* static description of the first error, or NULL */
    uint32_t depth;
    uint32_t max_depth;
} json_reader;

/* A string literal as found in the input. */
typedef struct {
    const char *raw;     /* bytes between the quotes, still escaped */
    size_t raw_len;
    size_t len;          /* decoded length in bytes */
    bool escaped;        /* raw contains at least one backslash escape */
    uint32_t n_short;    /* decoded bytes written as 2-char escapes in both forms: " \ \b \f \n \r \t */
    uint32_t n_ctrl;     /* decoded bytes < 0x20 other than those (\u00XX in JSON.stringify) */
    uint32_t n_ctrl_escaped; /* of n_ctrl, how many were written as \u escapes in the input */
} json_string;

typedef enum {
    JSON_END = 0, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE,
    JSON_NULL, JSON_INVALID
} json_type;

#define JSON_DEFAULT_MAX_DEPTH 16

void json_reader_init(json_reader *r, const char *data, size_t len, uint32_t max_depth);

/* Skips whitespace and says what kind of value starts at the cursor. */
json_type json_peek(json_reader *r);

/* Skips whitespace; true if the input is exhausted (nothing but whitespace left). */
bool json_at_end(json_reader *r);

/* Reads a string literal; false (err set) if the next value is not a valid string. */
bool json_read_string(json_reader *r, json_string *s);

/* Decodes a string read by json_read_string into out (s->len bytes, no NUL added). */
void json_decode_string(const json_string *s, char *out);

/* True if the decoded string equals the NUL-terminated literal lit (ASCII). */
bool json_string_is(const json_string *s, const char *lit);

/* Reads a non-negative integer <= max; false (err set) for anything else
 * (floats, exponents, signs, leading zeros, overflow, non-numbers). */
bool json_read_uint(json_reader *r, uint64_t max, uint64_t *out);

/* Skips one complete value of any type (validated, depth-bounded). */
bool json_skip_value(json_reader *r);

/* Containers. json_*_begin consume the opening bracket (false if absent or too deep).
 * json_array_next returns 1 when an element follows (cursor at it), 0 at the end
 * (closing bracket consumed), -1 on error. *index counts elements; start it at 0.
 * json_object_next also reads the key and the colon. */
bool json_array_begin(json_reader *r);
int json_array_next(json_reader *r, uint32_t *index);
bool json_object_begin(json_reader *r);
int json_object_next(json_reader *r, uint32_t *index, json_string *key);

/* Sets err (if not already set) and returns false: for callers' own checks. */
bool json_fail(json_reader *r, const char *why);
/* Length (2-4) of the valid UTF-8 sequence at p whose lead byte is >= 0x80,
 * with avail bytes readable; 0 if invalid (overlong, surrogate, above U+10FFFF,
 * truncated, or a stray continuation byte). For sanitising text from outside. */
size_t json_utf8_seq(const char *p, size_t avail);

#endif
