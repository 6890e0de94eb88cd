/* NIP-01 filters: parsed form and matching against an event.
 *
 * ids and authors are exact 64-hex values (NIP-01 no longer allows prefixes).
 * Tag filters are "#x" with a single-letter x (a-z, A-Z); values are strings.
 * An empty array matches nothing. Several filters in one REQ are OR'ed. */
#ifndef G1_FILTER_H
#define G1_FILTER_H
#include <stdbool.h>
#include <stdint.h>
#include "event.h"

typedef struct {
    char name;          /* the letter after '#' */
    event_str *values;  /* sorted by (len, bytes) for binary search */
    uint32_t value_count;
} filter_tag;

typedef struct filter {
    uint8_t (*ids)[32];     uint32_t id_count;     bool has_ids;
    uint8_t (*authors)[32]; uint32_t author_count; bool has_authors;
    uint32_t *kinds;        uint32_t kind_count;   bool has_kinds;   /* sorted */
    filter_tag *tags;       uint32_t tag_count;
    int64_t since;          bool has_since;
    int64_t until;          bool has_until;
    uint32_t limit;         bool has_limit;
    /* NIP-50 "search" is not supported: a filter with it is refused by the parser. */
    void *arena;
} filter;

typedef struct {
    uint32_t max_values;     /* items in ids/authors/kinds/one tag filter (0 = unchecked) */
    uint32_t max_limit;      /* larger limits are clamped to this */
    uint32_t default_limit;  /* applied by queries when has_limit is false */
} filter_limits;

/* Parses one filter object from JSON text. Returns 0 or -1 with "invalid: ..." in err.
 * Unknown keys are an error, except those starting with "#" of more than one letter,
 * which are refused too (only single-letter tags are indexed). */
int filter_parse(filter *f, const char *json, size_t len, const filter_limits *lim,
                 char *err, size_t errlen);
bool filter_match(const filter *f, const event *ev);
void filter_free(filter *f);
#endif
