/* Canonical DAG-CBOR encoding and strict decoding (see dagcbor.h). */
#include "dagcbor.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoder ---- */

void cbor_buf_free(cbor_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static void put_raw(cbor_buf *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->cap - b->len < n) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n) {
            if (ncap > SIZE_MAX / 2) { b->failed = true; return; }
            ncap *= 2;
        }
        uint8_t *d = realloc(b->data, ncap);
        if (!d) { b->failed = true; return; }
        b->data = d;
        b->cap = ncap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Major type and argument in the shortest form. */
static void put_head(cbor_buf *b, uint8_t major, uint64_t arg) {
    uint8_t h[9];
    size_t n;
    if (arg < 24) { h[0] = (uint8_t)(major << 5 | arg); n = 1; }
    else if (arg <= 0xff) { h[0] = (uint8_t)(major << 5 | 24); h[1] = (uint8_t)arg; n = 2; }
    else if (arg <= 0xffff) { h[0] = (uint8_t)(major << 5 | 25); h[1] = (uint8_t)(arg >> 8); h[2] = (uint8_t)arg; n = 3; }
    else if (arg <= 0xffffffffu) {
        h[0] = (uint8_t)(major << 5 | 26);
        for (int i = 0; i < 4; i++) h[1 + i] = (uint8_t)(arg >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = (uint8_t)(major << 5 | 27);
        for (int i = 0; i < 8; i++) h[1 + i] = (uint8_t)(arg >> (56 - 8 * i));
        n = 9;
    }
    put_raw(b, h, n);
}

void cbor_put_int(cbor_buf *b, int64_t v) {
    if (v >= 0) put_head(b, 0, (uint64_t)v);
    else put_head(b, 1, (uint64_t)(-(v + 1)));
}
void cbor_put_text(cbor_buf *b, const char *s, size_t len) { put_head(b, 3, len); put_raw(b, s, len); }
void cbor_put_cstr(cbor_buf *b, const char *s) { cbor_put_text(b, s, strlen(s)); }
void cbor_put_bytes(cbor_buf *b, const uint8_t *p, size_t len) { put_head(b, 2, len); put_raw(b, p, len); }
void cbor_put_array(cbor_buf *b, uint64_t count) { put_head(b, 4, count); }
void cbor_put_map(cbor_buf *b, uint64_t pairs) { put_head(b, 5, pairs); }
void cbor_put_null(cbor_buf *b) { uint8_t v = 0xf6; put_raw(b, &v, 1); }
void cbor_put_bool(cbor_buf *b, bool v) { uint8_t x = v ? 0xf5 : 0xf4; put_raw(b, &x, 1); }

void cbor_put_link(cbor_buf *b, const cid *c) {
    uint8_t bin[1 + CID_MAX_BYTES];
    bin[0] = 0x00; /* multibase identity prefix required by DAG-CBOR links */
    size_t n = 1 + cid_to_bytes(c, bin + 1);
    put_head(b, 6, 42);
    cbor_put_bytes(b, bin, n);
}

/* ---- decoder ---- */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    dc_doc *doc;
    char *err;
    size_t errlen;
} decoder;

static int fail(decoder *d, const char *what) {
    snprintf(d->err, d->errlen, "%s at byte %zu", what, d->pos);
    return -1;
}

/* Reads a head: major type and argument, refusing non-minimal and indefinite forms. */
static int read_head(decoder *d, uint8_t *major, uint8_t *info, uint64_t *arg) {
    if (d->pos >= d->len) return fail(d, "truncated");
    uint8_t h = d->p[d->pos++];
    *major = h >> 5;
    *info = h & 31;
    if (*major == 7) { *arg = *info; return 0; } /* simple values and floats: decided by the caller */
    if (*info < 24) { *arg = *info; return 0; }
    if (*info > 27) return fail(d, *info == 31 ? "indefinite length" : "reserved additional info");
    size_t n = (size_t)1 << (*info - 24);
    if (d->len - d->pos < n) return fail(d, "truncated");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | d->p[d->pos + i];
    d->pos += n;
    uint64_t min = n == 1 ? 24 : n == 2 ? 0x100 : n == 4 ? 0x10000 : 0x100000000ull;
    if (v < min) return fail(d, "non-minimal integer or length");
    *arg = v;
    return 0;
}

static bool utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) { k = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { k = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { k = 3; cp = c & 0x07; }
        else return false;
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static dc_node *alloc_items(decoder *d, size_t n) {
    dc_doc *doc = d->doc;
    if (doc->nodes + n > DAGCBOR_MAX_NODES) return NULL;
    if (doc->nallocs == doc->capallocs) {
        size_t nc = doc->capallocs ? doc->capallocs * 2 : 16;
        void **a = realloc(doc->allocs, nc * sizeof *a);
        if (!a) return NULL;
        doc->allocs = a;
        doc->capallocs = nc;
    }
    dc_node *items = calloc(n ? n : 1, sizeof *items);
    if (!items) return NULL;
    doc->allocs[doc->nallocs++] = items;
    doc->nodes += n;
    return items;
}

/* Canonical key order: shorter first, then bytewise. */
static int key_cmp(const dc_node *a, const dc_node *b) {
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return memcmp(a->ptr, b->ptr, a->len);
}

static int decode_item(decoder *d, dc_node *out, int depth) {
    if (depth > DAGCBOR_MAX_DEPTH) return fail(d, "nested too deeply");
    uint8_t major = 0, info = 0;
    uint64_t arg = 0;
    if (read_head(d, &major, &info, &arg) < 0) return -1;
    switch (major) {
    case 0:
        if (arg > INT64_MAX) return fail(d, "integer out of range");
        out->type = DC_INT;
        out->i = (int64_t)arg;
        return 0;
    case 1:
        if (arg > INT64_MAX) return fail(d, "integer out of range");
        out->type = DC_INT;
        out->i = -1 - (int64_t)arg;
        return 0;
    case 2:
    case 3:
        if (arg > d->len - d->pos) return fail(d, "truncated string");
        out->type = major == 2 ? DC_BYTES : DC_TEXT;
        out->ptr = d->p + d->pos;
        out->len = (size_t)arg;
        d->pos += (size_t)arg;
        if (major == 3 && !utf8_valid(out->ptr, out->len)) return fail(d, "invalid UTF-8 in a string");
        return 0;
    case 4:
    case 5: {
        uint64_t n = major == 4 ? arg : arg * 2;
        if ((major == 5 && arg > SIZE_MAX / 4) || n > d->len - d->pos) return fail(d, "truncated array or map");
        if (arg > UINT32_MAX) return fail(d, "too many items");
        out->type = major == 4 ? DC_ARRAY : DC_MAP;
        out->count = (uint32_t)arg;
        out->items = alloc_items(d, (size_t)n);
        if (!out->items) return fail(d, "too many items or out of memory");
        for (uint64_t i = 0; i < n; i++) {
            if (decode_item(d, &out->items[i], depth + 1) < 0) return -1;
            if (major == 5 && i % 2 == 0) {
                if (out->items[i].type != DC_TEXT) return fail(d, "map key is not a string");
                if (i >= 2 && key_cmp(&out->items[i - 2], &out->items[i]) >= 0)
                    return fail(d, "map keys not in canonical order or duplicated");
            }
        }
        return 0;
    }
    case 6: {
        if (arg != 42) return fail(d, "tag other than 42");
        dc_node bytes;
        memset(&bytes, 0, sizeof bytes);
        if (decode_item(d, &bytes, depth + 1) < 0) return -1;
        if (bytes.type != DC_BYTES || bytes.len < 2 || bytes.ptr[0] != 0x00) return fail(d, "link is not 0x00 + CID bytes");
        int used = cid_from_bytes(&out->link, bytes.ptr + 1, bytes.len - 1);
        if (used < 0 || (size_t)used != bytes.len - 1) return fail(d, "link is not a CIDv1 with a sha2-256 hash");
        out->type = DC_LINK;
        return 0;
    }
    default: /* 7 */
        if (info == 20 || info == 21) { out->type = DC_BOOL; out->i = info == 21; return 0; }
        if (info == 22) { out->type = DC_NULL; return 0; }
        return fail(d, "float, undefined or other simple value");
    }
}

int dagcbor_decode(dc_doc *doc, const uint8_t *in, size_t len, char *err, size_t errlen) {
    memset(doc, 0, sizeof *doc);
    decoder d = {in, len, 0, doc, err, errlen};
    if (decode_item(&d, &doc->root, 0) < 0) { dagcbor_free(doc); return -1; }
    if (d.pos != len) { fail(&d, "trailing bytes"); dagcbor_free(doc); return -1; }
    return 0;
}

void dagcbor_free(dc_doc *doc) {
    for (size_t i = 0; i < doc->nallocs; i++) free(doc->allocs[i]);
    free(doc->allocs);
    memset(doc, 0, sizeof *doc);
}

bool dc_text_is(const dc_node *n, const char *s) {
    size_t l = strlen(s);
    return n && n->type == DC_TEXT && n->len == l && memcmp(n->ptr, s, l) == 0;
}

const dc_node *dc_map_get(const dc_node *map, const char *key) {
    if (!map || map->type != DC_MAP) return NULL;
    for (uint32_t i = 0; i < map->count; i++)
        if (dc_text_is(&map->items[2 * i], key)) return &map->items[2 * i + 1];
    return NULL;
}
