/* NIP-01 filters: strict parsing (two passes: measure, then fill one arena)
 * and matching against events (binary search in sorted value sets). */
#include "filter.h"
#include "hex.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_IDS = 1, K_AUTHORS = 2, K_KINDS = 4, K_SINCE = 8, K_UNTIL = 16, K_LIMIT = 32 };

/* Counts learned by the first pass. */
typedef struct {
    uint32_t ids, authors, kinds, tags, tag_values;
    size_t value_bytes;
} filter_sizes;

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, 32); }
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
static int cmp_str(const void *a, const void *b) {
    const event_str *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->ptr, y->ptr, x->len);
}

/* One pass over the filter object. With f->arena NULL it only validates and
 * counts into sz; otherwise it fills the arrays laid out in the arena. */
static bool filter_pass(filter *f, const char *json, size_t len, const filter_limits *lim,
                        filter_sizes *sz, char **bytes, const char **why) {
    json_reader r;
    json_string key;
    uint32_t idx = 0;
    int k, seen = 0;
    bool fill = f->arena != NULL;
    uint64_t v;
    uint32_t max_values = lim ? lim->max_values : 0;
    char seen_tags[128] = {0};
    json_reader_init(&r, json, len, 8);
    if (!json_object_begin(&r)) { *why = "filter must be a JSON object"; return false; }
    while ((k = json_object_next(&r, &idx, &key)) == 1) {
        int which = 0;
        if (json_string_is(&key, "ids")) which = K_IDS;
        else if (json_string_is(&key, "authors")) which = K_AUTHORS;
        else if (json_string_is(&key, "kinds")) which = K_KINDS;
        else if (json_string_is(&key, "since")) which = K_SINCE;
        else if (json_string_is(&key, "until")) which = K_UNTIL;
        else if (json_string_is(&key, "limit")) which = K_LIMIT;
        else if (json_string_is(&key, "search")) { *why = "search is not supported"; return false; }
        if (which) {
            if (seen & which) { *why = "duplicate key in filter"; return false; }
            seen |= which;
        }
        if (which == K_IDS || which == K_AUTHORS) {
            const char *bad = which == K_IDS ? "ids must be an array of 64 lower-case hex strings"
                                             : "authors must be an array of 64 lower-case hex strings";
            uint32_t i = 0, n = 0;
            int ak;
            if (json_peek(&r) != JSON_ARRAY) { *why = bad; return false; }
            if (!json_array_begin(&r)) goto json_error;
            if (fill) { if (which == K_IDS) f->has_ids = true; else f->has_authors = true; }
            while ((ak = json_array_next(&r, &i)) == 1) {
                json_string s;
                if (json_peek(&r) != JSON_STRING) { *why = bad; return false; }
                if (!json_read_string(&r, &s)) goto json_error;
                if (s.escaped || s.raw_len != 64 || !hex_is_lower(s.raw, 64)) { *why = bad; return false; }
                if (max_values && n >= max_values) { *why = "too many values in filter"; return false; }
                if (fill) {
                    uint8_t(*dst)[32] = which == K_IDS ? f->ids : f->authors;
                    uint32_t *cnt = which == K_IDS ? &f->id_count : &f->author_count;
                    hex_decode(s.raw, 64, dst[(*cnt)++], 32);
                }
                n++;
            }
            if (ak < 0) goto json_error;
            if (which == K_IDS) sz->ids = n; else sz->authors = n;
        } else if (which == K_KINDS) {
            const char *bad = "kinds must be an array of integers between 0 and 65535";
            uint32_t i = 0, n = 0;
            int ak;
            if (json_peek(&r) != JSON_ARRAY) { *why = bad; return false; }
            if (!json_array_begin(&r)) goto json_error;
            if (fill) f->has_kinds = true;
            while ((ak = json_array_next(&r, &i)) == 1) {
                if (json_peek(&r) != JSON_NUMBER || !json_read_uint(&r, 65535, &v)) { *why = bad; return false; }
                if (max_values && n >= max_values) { *why = "too many values in filter"; return false; }
                if (fill) f->kinds[f->kind_count++] = (uint32_t)v;
                n++;
            }
            if (ak < 0) goto json_error;
            sz->kinds = n;
        } else if (which == K_SINCE || which == K_UNTIL || which == K_LIMIT) {
            const char *bad = which == K_SINCE ? "since must be a non-negative integer"
                            : which == K_UNTIL ? "until must be a non-negative integer"
                                               : "limit must be a non-negative integer";
            if (json_peek(&r) != JSON_NUMBER || !json_read_uint(&r, INT64_MAX, &v)) { *why = bad; return false; }
            if (fill) {
                if (which == K_SINCE) { f->since = (int64_t)v; f->has_since = true; }
                else if (which == K_UNTIL) { f->until = (int64_t)v; f->has_until = true; }
                else {
                    if (lim && lim->max_limit && v > lim->max_limit) v = lim->max_limit;
                    if (v > UINT32_MAX) v = UINT32_MAX;
                    f->limit = (uint32_t)v;
                    f->has_limit = true;
                }
            }
        } else {
            /* "#x" tag filter, x a single ASCII letter. */
            char name = 0;
            if (!key.escaped && key.raw_len == 2 && key.raw[0] == '#' &&
                ((key.raw[1] >= 'a' && key.raw[1] <= 'z') || (key.raw[1] >= 'A' && key.raw[1] <= 'Z')))
                name = key.raw[1];
            if (!name) {
                *why = key.len > 0 && key.raw[0] == '#' ? "only single-letter tag filters are supported"
                                                        : "unknown key in filter";
                return false;
            }
            if (seen_tags[(int)name]) { *why = "duplicate key in filter"; return false; }
            seen_tags[(int)name] = 1;
            const char *bad = "tag filter must be an array of strings";
            uint32_t i = 0, n = 0;
            int ak;
            filter_tag *ft = NULL;
            if (json_peek(&r) != JSON_ARRAY) { *why = bad; return false; }
            if (!json_array_begin(&r)) goto json_error;
            if (fill) {
                ft = &f->tags[f->tag_count++];
                ft->name = name;
                ft->values = (f->tag_count == 1) ? ft->values : ft[-1].values + ft[-1].value_count;
                ft->value_count = 0;
            }
            while ((ak = json_array_next(&r, &i)) == 1) {
                json_string s;
                if (json_peek(&r) != JSON_STRING) { *why = bad; return false; }
                if (!json_read_string(&r, &s)) goto json_error;
                if (max_values && n >= max_values) { *why = "too many values in filter"; return false; }
                if (fill) {
                    json_decode_string(&s, *bytes);
                    (*bytes)[s.len] = 0;
                    ft->values[ft->value_count].ptr = *bytes;
                    ft->values[ft->value_count].len = (uint32_t)s.len;
                    ft->value_count++;
                    *bytes += s.len + 1;
                } else {
                    sz->value_bytes += s.len + 1;
                }
                n++;
            }
            if (ak < 0) goto json_error;
            sz->tags++;
            sz->tag_values += n;
        }
    }
    if (k < 0) goto json_error;
    if (!json_at_end(&r)) { *why = "trailing data after filter"; return false; }
    return true;
json_error:
    *why = r.err ? r.err : "malformed JSON";
    return false;
}

int filter_parse(filter *f, const char *json, size_t len, const filter_limits *lim,
                 char *err, size_t errlen) {
    filter_sizes sz = {0};
    const char *why = NULL;
    char *bytes = NULL;
    memset(f, 0, sizeof *f);
    if (!filter_pass(f, json, len, lim, &sz, &bytes, &why)) goto fail;
    size_t ids = (size_t)sz.ids * 32, authors = (size_t)sz.authors * 32;
    size_t values = sizeof(event_str) * sz.tag_values, tags = sizeof(filter_tag) * sz.tags;
    size_t kinds = sizeof(uint32_t) * sz.kinds;
    char *a = malloc(values + tags + ids + authors + kinds + sz.value_bytes + 1);
    if (!a) { why = "out of memory"; goto fail; }
    f->arena = a;
    f->tags = (filter_tag *)a;
    char *vals = a + tags;
    f->ids = (uint8_t(*)[32])(vals + values);
    f->authors = (uint8_t(*)[32])(vals + values + ids);
    f->kinds = (uint32_t *)(vals + values + ids + authors);
    bytes = vals + values + ids + authors + kinds;
    if (sz.tags) f->tags[0].values = (event_str *)vals;
    filter_sizes sz2 = {0};
    if (!filter_pass(f, json, len, lim, &sz2, &bytes, &why)) goto fail;
    if (f->has_ids) qsort(f->ids, f->id_count, 32, cmp_id);
    if (f->has_authors) qsort(f->authors, f->author_count, 32, cmp_id);
    if (f->has_kinds) qsort(f->kinds, f->kind_count, sizeof(uint32_t), cmp_u32);
    for (uint32_t t = 0; t < f->tag_count; t++)
        qsort(f->tags[t].values, f->tags[t].value_count, sizeof(event_str), cmp_str);
    return 0;
fail:
    if (err && errlen) snprintf(err, errlen, "invalid: %s", why ? why : "bad filter");
    filter_free(f);
    return -1;
}

static bool has_value(const event_str *vals, uint32_t n, const event_str *v) {
    return n && bsearch(v, vals, n, sizeof(event_str), cmp_str) != NULL;
}

bool filter_match(const filter *f, const event *ev) {
    if (f->has_since && ev->created_at < f->since) return false;
    if (f->has_until && ev->created_at > f->until) return false;
    if (f->has_kinds && !(f->kind_count && bsearch(&ev->kind, f->kinds, f->kind_count, sizeof(uint32_t), cmp_u32)))
        return false;
    if (f->has_ids && !(f->id_count && bsearch(ev->id, f->ids, f->id_count, 32, cmp_id))) return false;
    if (f->has_authors && !(f->author_count && bsearch(ev->pubkey, f->authors, f->author_count, 32, cmp_id)))
        return false;
    for (uint32_t t = 0; t < f->tag_count; t++) {
        const filter_tag *ft = &f->tags[t];
        bool found = false;
        for (uint32_t i = 0; i < ev->tag_count && !found; i++) {
            const event_tag *et = &ev->tags[i];
            if (et->count < 2) continue;
            const event_str *name = &ev->tag_strs[et->first];
            if (name->len != 1 || name->ptr[0] != ft->name) continue;
            found = has_value(ft->values, ft->value_count, name + 1);
        }
        if (!found) return false;
    }
    return true;
}

void filter_free(filter *f) {
    if (!f) return;
    free(f->arena);
    memset(f, 0, sizeof *f);
}
