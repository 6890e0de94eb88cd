/* Runtime metadata V14/V15/V16 reader: parses the whole SCALE structure with
 * bounds checks, remembering offsets into the kept copy of the input so that
 * types, calls and constants are looked up by re-reading small parts. */
#include "metadata.h"
#include "scale.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MD_MAX_STRING (1u << 20)
#define MD_MAX_ITEMS 1000000u

typedef struct {
    uint8_t kind;
    size_t params_offset; /* offset of Vec<TypeParameter> */
    size_t def_offset;    /* offset right after the TypeDef variant byte */
} md_type;

typedef struct {
    const uint8_t *name;
    size_t name_len;
    uint8_t index;
    bool has_calls;
    uint32_t calls_type;
    bool has_events, has_errors;
    uint32_t event_type, error_type;
    size_t storage_offset; /* offset of the pallet's Option<PalletStorageMetadata> */
    size_t constant_first, constant_count;
} md_pallet;

typedef struct {
    const uint8_t *name;
    size_t name_len;
    uint32_t type;
    const uint8_t *value;
    size_t value_len;
} md_constant;

typedef struct {
    char *name;
    uint32_t extra_type, additional_type;
} md_extension;

struct metadata {
    uint8_t *raw;
    size_t raw_len;
    unsigned version;
    md_type *types;
    size_t type_count;
    md_pallet *pallets;
    size_t pallet_count;
    md_constant *constants;
    size_t constant_count, constant_cap;
    md_extension *extensions;
    size_t extension_count;
    bool have_extrinsic_types;
    uint32_t address_type, signature_type;
    uint32_t v14_extrinsic_type;
    uint8_t extrinsic_versions[8];
    size_t extrinsic_version_count;
};

/* ---- generic skipping ---- */

static bool md_type_id(scale_reader *r, uint32_t *id) {
    uint64_t v;
    if (!scale_read_compact(r, &v)) return false;
    if (v > UINT32_MAX) { r->failed = true; return false; }
    *id = (uint32_t)v;
    return true;
}

static bool md_string(scale_reader *r, const uint8_t **p, size_t *n) {
    return scale_read_bytes_view(r, p, n, MD_MAX_STRING);
}

static bool md_skip_string(scale_reader *r) {
    const uint8_t *p;
    size_t n;
    return md_string(r, &p, &n);
}

static bool md_skip_strings(scale_reader *r) {
    size_t n;
    if (!scale_read_length(r, 1, MD_MAX_ITEMS, &n)) return false;
    for (size_t i = 0; i < n; i++)
        if (!md_skip_string(r)) return false;
    return true;
}

static bool md_skip_option_string(scale_reader *r) {
    bool some;
    if (!scale_read_option(r, &some)) return false;
    return !some || md_skip_string(r);
}

static bool md_skip_type_id(scale_reader *r) {
    uint32_t id;
    return md_type_id(r, &id);
}

/* Field { name: Option<String>, ty, type_name: Option<String>, docs } */
static bool md_skip_field(scale_reader *r, uint32_t *ty) {
    uint32_t t;
    if (!md_skip_option_string(r) || !md_type_id(r, &t) || !md_skip_option_string(r) || !md_skip_strings(r))
        return false;
    if (ty) *ty = t;
    return true;
}

static bool md_skip_fields(scale_reader *r) {
    size_t n;
    if (!scale_read_length(r, 1, MD_MAX_ITEMS, &n)) return false;
    for (size_t i = 0; i < n; i++)
        if (!md_skip_field(r, NULL)) return false;
    return true;
}

static bool md_skip_type_def(scale_reader *r, uint8_t kind) {
    size_t n;
    uint32_t u32;
    uint8_t u8;
    switch (kind) {
    case MD_COMPOSITE: return md_skip_fields(r);
    case MD_VARIANT:
        if (!scale_read_length(r, 1, 256, &n)) return false;
        for (size_t i = 0; i < n; i++)
            if (!md_skip_string(r) || !md_skip_fields(r) || !scale_read_u8(r, &u8) || !md_skip_strings(r)) return false;
        return true;
    case MD_SEQUENCE: return md_skip_type_id(r);
    case MD_ARRAY: return scale_read_u32(r, &u32) && md_skip_type_id(r);
    case MD_TUPLE:
        if (!scale_read_length(r, 1, MD_MAX_ITEMS, &n)) return false;
        for (size_t i = 0; i < n; i++)
            if (!md_skip_type_id(r)) return false;
        return true;
    case MD_PRIMITIVE:
        if (!scale_read_u8(r, &u8)) return false;
        if (u8 > MD_PRIM_I256) { r->failed = true; return false; }
        return true;
    case MD_COMPACT: return md_skip_type_id(r);
    case MD_BITSEQUENCE: return md_skip_type_id(r) && md_skip_type_id(r);
    default: r->failed = true; return false;
    }
}

/* ItemDeprecationInfo (V16): 0 | 1 | 2 { note: String, since: Option<String> } */
static bool md_skip_item_deprecation(scale_reader *r) {
    uint8_t tag;
    if (!scale_read_u8(r, &tag)) return false;
    if (tag == 0 || tag == 1) return true;
    if (tag == 2) return md_skip_string(r) && md_skip_option_string(r);
    r->failed = true;
    return false;
}

/* EnumDeprecationInfo (V16): BTreeMap<u8, VariantDeprecationInfo (1 | 2 {...})> */
static bool md_skip_enum_deprecation(scale_reader *r) {
    size_t n;
    if (!scale_read_length(r, 2, 256, &n)) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t key, tag;
        if (!scale_read_u8(r, &key) || !scale_read_u8(r, &tag)) return false;
        if (tag == 1) continue;
        if (tag == 2) { if (!md_skip_string(r) || !md_skip_option_string(r)) return false; continue; }
        r->failed = true;
        return false;
    }
    return true;
}

/* ---- parsing ---- */

static int md_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int md_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int md_parse_types(metadata *md, scale_reader *r, char *err, size_t errlen) {
    size_t n;
    if (!scale_read_length(r, 4, MD_MAX_ITEMS, &n)) return md_fail(err, errlen, "metadata: bad type registry length");
    md->types = calloc(n ? n : 1, sizeof *md->types);
    if (!md->types) return md_fail(err, errlen, "out of memory");
    md->type_count = n;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        if (!md_type_id(r, &id) || id != i)
            return md_fail(err, errlen, "metadata: type %zu has id out of sequence", i);
        if (!md_skip_strings(r)) return md_fail(err, errlen, "metadata: type %zu: bad path", i);
        md->types[i].params_offset = r->pos;
        size_t np;
        if (!scale_read_length(r, 1, MD_MAX_ITEMS, &np)) return md_fail(err, errlen, "metadata: type %zu: bad params", i);
        for (size_t j = 0; j < np; j++) {
            bool some;
            if (!md_skip_string(r) || !scale_read_option(r, &some) || (some && !md_skip_type_id(r)))
                return md_fail(err, errlen, "metadata: type %zu: bad params", i);
        }
        uint8_t kind;
        if (!scale_read_u8(r, &kind) || kind > MD_BITSEQUENCE)
            return md_fail(err, errlen, "metadata: type %zu: unknown type kind", i);
        md->types[i].kind = kind;
        md->types[i].def_offset = r->pos;
        if (!md_skip_type_def(r, kind) || !md_skip_strings(r))
            return md_fail(err, errlen, "metadata: type %zu: bad definition", i);
    }
    return 0;
}

static bool md_check_type(const metadata *md, uint32_t id) { return id < md->type_count; }

static int md_add_constant(metadata *md, const md_constant *c) {
    if (md->constant_count == md->constant_cap) {
        size_t cap = md->constant_cap ? md->constant_cap * 2 : 64;
        md_constant *p = realloc(md->constants, cap * sizeof *p);
        if (!p) return -1;
        md->constants = p;
        md->constant_cap = cap;
    }
    md->constants[md->constant_count++] = *c;
    return 0;
}

static bool md_skip_storage(scale_reader *r, unsigned version) {
    bool some;
    if (!scale_read_option(r, &some)) return false;
    if (!some) return true;
    size_t n;
    if (!md_skip_string(r) || !scale_read_length(r, 1, MD_MAX_ITEMS, &n)) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t modifier, kind;
        if (!md_skip_string(r) || !scale_read_u8(r, &modifier) || modifier > 1 || !scale_read_u8(r, &kind)) return false;
        if (kind == 0) {
            if (!md_skip_type_id(r)) return false;
        } else if (kind == 1) {
            size_t nh;
            if (!scale_read_length(r, 1, 64, &nh)) return false;
            for (size_t j = 0; j < nh; j++) {
                uint8_t h;
                if (!scale_read_u8(r, &h) || h > 6) { r->failed = true; return false; }
            }
            if (!md_skip_type_id(r) || !md_skip_type_id(r)) return false;
        } else { r->failed = true; return false; }
        const uint8_t *p;
        size_t len;
        if (!scale_read_bytes_view(r, &p, &len, METADATA_MAX_BYTES) || !md_skip_strings(r)) return false;
        if (version >= 16 && !md_skip_item_deprecation(r)) return false;
    }
    return true;
}

/* Option<{ ty, [V16: EnumDeprecationInfo] }> */
static bool md_read_pallet_type(scale_reader *r, unsigned version, bool *has, uint32_t *ty) {
    if (!scale_read_option(r, has)) return false;
    if (!*has) return true;
    if (!md_type_id(r, ty)) return false;
    return version < 16 || md_skip_enum_deprecation(r);
}

static int md_parse_pallets(metadata *md, scale_reader *r, char *err, size_t errlen) {
    size_t n;
    unsigned v = md->version;
    if (!scale_read_length(r, 1, 256, &n)) return md_fail(err, errlen, "metadata: bad pallet list");
    md->pallets = calloc(n ? n : 1, sizeof *md->pallets);
    if (!md->pallets) return md_fail(err, errlen, "out of memory");
    md->pallet_count = n;
    for (size_t i = 0; i < n; i++) {
        md_pallet *p = &md->pallets[i];
        if (!md_string(r, &p->name, &p->name_len)) return md_fail(err, errlen, "metadata: pallet %zu: bad name", i);
        p->storage_offset = r->pos;
        if (!md_skip_storage(r, v)) return md_fail(err, errlen, "metadata: pallet %.*s: bad storage", (int)p->name_len, p->name);
        if (!md_read_pallet_type(r, v, &p->has_calls, &p->calls_type) ||
            (p->has_calls && !md_check_type(md, p->calls_type)))
            return md_fail(err, errlen, "metadata: pallet %.*s: bad calls", (int)p->name_len, p->name);
        if (!md_read_pallet_type(r, v, &p->has_events, &p->event_type) || (p->has_events && !md_check_type(md, p->event_type)))
            return md_fail(err, errlen, "metadata: pallet %.*s: bad event", (int)p->name_len, p->name);
        size_t nc;
        if (!scale_read_length(r, 1, MD_MAX_ITEMS, &nc)) return md_fail(err, errlen, "metadata: pallet %.*s: bad constants", (int)p->name_len, p->name);
        p->constant_first = md->constant_count;
        p->constant_count = nc;
        for (size_t j = 0; j < nc; j++) {
            md_constant c;
            if (!md_string(r, &c.name, &c.name_len) || !md_type_id(r, &c.type) ||
                !scale_read_bytes_view(r, &c.value, &c.value_len, METADATA_MAX_BYTES) || !md_skip_strings(r) ||
                (v >= 16 && !md_skip_item_deprecation(r)) || !md_check_type(md, c.type))
                return md_fail(err, errlen, "metadata: pallet %.*s: bad constant", (int)p->name_len, p->name);
            if (md_add_constant(md, &c) < 0) return md_fail(err, errlen, "out of memory");
        }
        if (!md_read_pallet_type(r, v, &p->has_errors, &p->error_type) || (p->has_errors && !md_check_type(md, p->error_type)))
            return md_fail(err, errlen, "metadata: pallet %.*s: bad error type", (int)p->name_len, p->name);
        if (v >= 16) {
            size_t na, nv;
            if (!scale_read_length(r, 1, MD_MAX_ITEMS, &na)) return md_fail(err, errlen, "metadata: pallet %.*s: bad associated types", (int)p->name_len, p->name);
            for (size_t j = 0; j < na; j++)
                if (!md_skip_string(r) || !md_skip_type_id(r) || !md_skip_strings(r))
                    return md_fail(err, errlen, "metadata: pallet %.*s: bad associated type", (int)p->name_len, p->name);
            if (!scale_read_length(r, 1, MD_MAX_ITEMS, &nv)) return md_fail(err, errlen, "metadata: pallet %.*s: bad view functions", (int)p->name_len, p->name);
            for (size_t j = 0; j < nv; j++) {
                size_t ni;
                if (!scale_skip(r, 32) || !md_skip_string(r) || !scale_read_length(r, 1, MD_MAX_ITEMS, &ni))
                    return md_fail(err, errlen, "metadata: pallet %.*s: bad view function", (int)p->name_len, p->name);
                for (size_t k = 0; k < ni; k++)
                    if (!md_skip_string(r) || !md_skip_type_id(r))
                        return md_fail(err, errlen, "metadata: pallet %.*s: bad view function", (int)p->name_len, p->name);
                if (!md_skip_type_id(r) || !md_skip_strings(r) || !md_skip_item_deprecation(r))
                    return md_fail(err, errlen, "metadata: pallet %.*s: bad view function", (int)p->name_len, p->name);
            }
        }
        if (!scale_read_u8(r, &p->index)) return md_fail(err, errlen, "metadata: pallet %.*s: no index", (int)p->name_len, p->name);
        if (v >= 15 && !md_skip_strings(r)) return md_fail(err, errlen, "metadata: pallet %.*s: bad docs", (int)p->name_len, p->name);
        if (v >= 16 && !md_skip_item_deprecation(r)) return md_fail(err, errlen, "metadata: pallet %.*s: bad deprecation info", (int)p->name_len, p->name);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (md->pallets[i].index == md->pallets[j].index)
                return md_fail(err, errlen, "metadata: two pallets share index %u", md->pallets[i].index);
    return 0;
}

typedef struct {
    const uint8_t *name;
    size_t name_len;
    uint32_t extra, additional;
} md_ext_raw;

static int md_read_extension_list(scale_reader *r, const metadata *md, md_ext_raw **out, size_t *count) {
    size_t n;
    if (!scale_read_length(r, 3, 256, &n)) return -1;
    md_ext_raw *list = calloc(n ? n : 1, sizeof *list);
    if (!list) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!md_string(r, &list[i].name, &list[i].name_len) || !md_type_id(r, &list[i].extra) ||
            !md_type_id(r, &list[i].additional) || !md_check_type(md, list[i].extra) ||
            !md_check_type(md, list[i].additional) || list[i].name_len > 128) {
            free(list);
            return -1;
        }
    }
    *out = list;
    *count = n;
    return 0;
}

static int md_set_extensions(metadata *md, const md_ext_raw *list, const uint32_t *order, size_t n) {
    md->extensions = calloc(n ? n : 1, sizeof *md->extensions);
    if (!md->extensions) return -1;
    md->extension_count = n;
    for (size_t i = 0; i < n; i++) {
        const md_ext_raw *e = &list[order ? order[i] : i];
        md->extensions[i].name = strndup((const char *)e->name, e->name_len);
        if (!md->extensions[i].name) return -1;
        md->extensions[i].extra_type = e->extra;
        md->extensions[i].additional_type = e->additional;
    }
    return 0;
}

static int md_parse_extrinsic(metadata *md, scale_reader *r, char *err, size_t errlen) {
    md_ext_raw *list = NULL;
    size_t count = 0;
    uint32_t order[256];
    size_t order_count = 0;
    bool have_order = false;
    int rc = -1;
    if (md->version == 14) {
        uint8_t v;
        if (!md_type_id(r, &md->v14_extrinsic_type) || !scale_read_u8(r, &v))
            return md_fail(err, errlen, "metadata: bad extrinsic metadata");
        md->extrinsic_versions[0] = v;
        md->extrinsic_version_count = 1;
    } else if (md->version == 15) {
        uint8_t v;
        uint32_t call_ty, extra_ty;
        if (!scale_read_u8(r, &v) || !md_type_id(r, &md->address_type) || !md_type_id(r, &call_ty) ||
            !md_type_id(r, &md->signature_type) || !md_type_id(r, &extra_ty))
            return md_fail(err, errlen, "metadata: bad extrinsic metadata");
        md->extrinsic_versions[0] = v;
        md->extrinsic_version_count = 1;
        md->have_extrinsic_types = true;
    } else {
        size_t nv;
        const uint8_t *vs;
        uint32_t call_ty;
        if (!scale_read_bytes_view(r, &vs, &nv, 256) || nv > sizeof md->extrinsic_versions)
            return md_fail(err, errlen, "metadata: bad extrinsic versions");
        memcpy(md->extrinsic_versions, vs, nv);
        md->extrinsic_version_count = nv;
        if (!md_type_id(r, &md->address_type) || !md_type_id(r, &call_ty) || !md_type_id(r, &md->signature_type))
            return md_fail(err, errlen, "metadata: bad extrinsic metadata");
        md->have_extrinsic_types = true;
        size_t nmap;
        if (!scale_read_length(r, 2, 256, &nmap)) return md_fail(err, errlen, "metadata: bad transaction_extensions_by_version");
        for (size_t i = 0; i < nmap; i++) {
            uint8_t key;
            size_t ni;
            if (!scale_read_u8(r, &key) || !scale_read_length(r, 1, 256, &ni))
                return md_fail(err, errlen, "metadata: bad transaction_extensions_by_version");
            for (size_t j = 0; j < ni; j++) {
                uint32_t idx;
                if (!md_type_id(r, &idx)) return md_fail(err, errlen, "metadata: bad transaction_extensions_by_version");
                if (key == 0) order[j] = idx;
            }
            if (key == 0) { order_count = ni; have_order = true; }
        }
    }
    if (md->have_extrinsic_types && (!md_check_type(md, md->address_type) || !md_check_type(md, md->signature_type)))
        return md_fail(err, errlen, "metadata: extrinsic types out of range");
    if (md_read_extension_list(r, md, &list, &count) < 0)
        return md_fail(err, errlen, "metadata: bad signed extension list");
    if (have_order) {
        for (size_t i = 0; i < order_count; i++)
            if (order[i] >= count) { md_fail(err, errlen, "metadata: transaction extension index out of range"); goto out; }
        if (md_set_extensions(md, list, order, order_count) < 0) { md_fail(err, errlen, "out of memory"); goto out; }
    } else if (md_set_extensions(md, list, NULL, count) < 0) {
        md_fail(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(list);
    return rc;
}

static bool md_skip_apis(scale_reader *r, unsigned version) {
    size_t n;
    if (!scale_read_length(r, 1, MD_MAX_ITEMS, &n)) return false;
    for (size_t i = 0; i < n; i++) {
        size_t nm;
        if (!md_skip_string(r) || !scale_read_length(r, 1, MD_MAX_ITEMS, &nm)) return false;
        for (size_t j = 0; j < nm; j++) {
            size_t ni;
            if (!md_skip_string(r) || !scale_read_length(r, 1, MD_MAX_ITEMS, &ni)) return false;
            for (size_t k = 0; k < ni; k++)
                if (!md_skip_string(r) || !md_skip_type_id(r)) return false;
            if (!md_skip_type_id(r) || !md_skip_strings(r)) return false;
            if (version >= 16 && !md_skip_item_deprecation(r)) return false;
        }
        if (!md_skip_strings(r)) return false;
        if (version >= 16) {
            uint64_t api_version;
            if (!scale_read_compact(r, &api_version) || !md_skip_item_deprecation(r)) return false;
        }
    }
    return true;
}

static int md_parse_tail(metadata *md, scale_reader *r, char *err, size_t errlen) {
    if (md->version <= 15 && !md_skip_type_id(r)) return md_fail(err, errlen, "metadata: missing runtime type");
    if (md->version >= 15) {
        if (!md_skip_apis(r, md->version)) return md_fail(err, errlen, "metadata: bad runtime API list");
        if (!md_skip_type_id(r) || !md_skip_type_id(r) || !md_skip_type_id(r))
            return md_fail(err, errlen, "metadata: bad outer enums");
        size_t n;
        if (!scale_read_length(r, 1, MD_MAX_ITEMS, &n)) return md_fail(err, errlen, "metadata: bad custom map");
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p;
            size_t len;
            if (!md_skip_string(r) || !md_skip_type_id(r) || !scale_read_bytes_view(r, &p, &len, METADATA_MAX_BYTES))
                return md_fail(err, errlen, "metadata: bad custom map");
        }
    }
    if (scale_remaining(r) != 0)
        return md_fail(err, errlen, "metadata: %zu unexpected bytes after the end", scale_remaining(r));
    return 0;
}

static int md_hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool md_is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Turns the input into raw bytes in a fresh buffer (decoding hex text). */
static uint8_t *md_raw_bytes(const uint8_t *data, size_t len, size_t *out_len, char *err, size_t errlen) {
    size_t a = 0, b = len;
    while (a < b && (md_is_space(data[a]) || data[a] == '"')) a++;
    while (b > a && (md_is_space(data[b - 1]) || data[b - 1] == '"')) b--;
    if (b - a >= 2 && data[a] == '0' && (data[a + 1] == 'x' || data[a + 1] == 'X')) {
        a += 2;
        if ((b - a) % 2 || (b - a) / 2 > METADATA_MAX_BYTES) { md_fail(err, errlen, "metadata: odd or oversized hex"); return NULL; }
        uint8_t *raw = malloc((b - a) / 2 + 1);
        if (!raw) { md_fail(err, errlen, "out of memory"); return NULL; }
        for (size_t i = a, k = 0; i < b; i += 2, k++) {
            int hi = md_hex_value(data[i]), lo = md_hex_value(data[i + 1]);
            if (hi < 0 || lo < 0) { free(raw); md_fail(err, errlen, "metadata: bad hex character"); return NULL; }
            raw[k] = (uint8_t)(hi << 4 | lo);
        }
        *out_len = (b - a) / 2;
        return raw;
    }
    if (len > METADATA_MAX_BYTES) { md_fail(err, errlen, "metadata: too large"); return NULL; }
    uint8_t *raw = malloc(len + 1);
    if (!raw) { md_fail(err, errlen, "out of memory"); return NULL; }
    memcpy(raw, data, len);
    *out_len = len;
    return raw;
}

metadata *metadata_parse(const uint8_t *data, size_t len, char *err, size_t errlen) {
    metadata *md = calloc(1, sizeof *md);
    if (!md) { md_fail(err, errlen, "out of memory"); return NULL; }
    md->raw = md_raw_bytes(data, len, &md->raw_len, err, errlen);
    if (!md->raw) { metadata_free(md); return NULL; }
    scale_reader r;
    scale_reader_init(&r, md->raw, md->raw_len);
    const uint8_t *magic;
    uint8_t version;
    if (!scale_read_view(&r, &magic, 4) || memcmp(magic, "meta", 4) != 0) {
        md_fail(err, errlen, "metadata: no 'meta' magic (not runtime metadata)");
        goto fail;
    }
    if (!scale_read_u8(&r, &version) || version < 14 || version > 16) {
        md_fail(err, errlen, "metadata: version %u is not supported (want 14, 15 or 16)", version);
        goto fail;
    }
    md->version = version;
    if (md_parse_types(md, &r, err, errlen) < 0 || md_parse_pallets(md, &r, err, errlen) < 0 ||
        md_parse_extrinsic(md, &r, err, errlen) < 0 || md_parse_tail(md, &r, err, errlen) < 0)
        goto fail;
    return md;
fail:
    metadata_free(md);
    return NULL;
}

metadata *metadata_load_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { md_fail(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
        if (len == cap) {
            if (cap >= 2 * (size_t)METADATA_MAX_BYTES + 64) { free(buf); buf = NULL; fclose(f); md_fail(err, errlen, "%s: too large for metadata", path); return NULL; }
            uint8_t *p = realloc(buf, cap * 2);
            if (!p) { free(buf); buf = NULL; break; }
            buf = p;
            cap *= 2;
        }
    }
    bool read_error = ferror(f);
    fclose(f);
    if (!buf) { md_fail(err, errlen, "out of memory"); return NULL; }
    if (read_error) { free(buf); md_fail(err, errlen, "%s: read error", path); return NULL; }
    char inner[256];
    metadata *md = metadata_parse(buf, len, inner, sizeof inner);
    free(buf);
    if (!md) md_fail(err, errlen, "%s: %s", path, inner);
    return md;
}

void metadata_free(metadata *md) {
    if (!md) return;
    for (size_t i = 0; i < md->extension_count; i++) free(md->extensions[i].name);
    free(md->extensions);
    free(md->constants);
    free(md->pallets);
    free(md->types);
    free(md->raw);
    free(md);
}

unsigned metadata_version(const metadata *md) { return md->version; }

/* ---- lookups ---- */

static bool md_name_is(const uint8_t *p, size_t n, const char *name) {
    return strlen(name) == n && memcmp(p, name, n) == 0;
}

static void md_reader_at(const metadata *md, scale_reader *r, size_t offset) {
    scale_reader_init(r, md->raw, md->raw_len);
    r->pos = offset;
}

int metadata_type(const metadata *md, uint32_t type_id, metadata_type_info *info) {
    if (type_id >= md->type_count) return -1;
    const md_type *t = &md->types[type_id];
    memset(info, 0, sizeof *info);
    info->kind = (metadata_type_kind)t->kind;
    scale_reader r;
    md_reader_at(md, &r, t->def_offset);
    size_t n;
    switch (t->kind) {
    case MD_COMPOSITE: case MD_VARIANT: case MD_TUPLE:
        if (!scale_read_length(&r, 1, MD_MAX_ITEMS, &n)) return -1;
        info->field_count = n;
        return 0;
    case MD_SEQUENCE: case MD_COMPACT:
        return md_type_id(&r, &info->inner) ? 0 : -1;
    case MD_ARRAY:
        return scale_read_u32(&r, &info->array_len) && md_type_id(&r, &info->inner) ? 0 : -1;
    case MD_PRIMITIVE:
        return scale_read_u8(&r, &info->primitive) ? 0 : -1;
    default:
        return 0;
    }
}

int metadata_type_field(const metadata *md, uint32_t type_id, size_t i, uint32_t *field_type) {
    if (type_id >= md->type_count) return -1;
    const md_type *t = &md->types[type_id];
    if (t->kind != MD_COMPOSITE && t->kind != MD_TUPLE) return -1;
    scale_reader r;
    md_reader_at(md, &r, t->def_offset);
    size_t n;
    if (!scale_read_length(&r, 1, MD_MAX_ITEMS, &n) || i >= n) return -1;
    for (size_t k = 0; k <= i; k++) {
        uint32_t ty;
        bool ok = t->kind == MD_TUPLE ? md_type_id(&r, &ty) : md_skip_field(&r, &ty);
        if (!ok) return -1;
        if (k == i) { *field_type = ty; return 0; }
    }
    return -1;
}

int metadata_find_variant(const metadata *md, uint32_t type_id, const char *name, metadata_variant *out) {
    if (type_id >= md->type_count || md->types[type_id].kind != MD_VARIANT) return -1;
    scale_reader r;
    md_reader_at(md, &r, md->types[type_id].def_offset);
    size_t n;
    if (!scale_read_length(&r, 1, 256, &n)) return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *vname;
        size_t vlen, nf;
        if (!md_string(&r, &vname, &vlen) || !scale_read_length(&r, 1, MD_MAX_ITEMS, &nf)) return -1;
        bool match = md_name_is(vname, vlen, name);
        if (match) memset(out, 0, sizeof *out);
        for (size_t j = 0; j < nf; j++) {
            uint32_t ty;
            if (!md_skip_field(&r, &ty)) return -1;
            if (match && j < 16) out->field_types[j] = ty;
        }
        uint8_t index;
        if (!scale_read_u8(&r, &index) || !md_skip_strings(&r)) return -1;
        if (match) {
            out->index = index;
            out->field_count = nf;
            return 0;
        }
    }
    return -1;
}

static const md_pallet *md_find_pallet(const metadata *md, const char *name) {
    for (size_t i = 0; i < md->pallet_count; i++)
        if (md_name_is(md->pallets[i].name, md->pallets[i].name_len, name)) return &md->pallets[i];
    return NULL;
}

int metadata_find_call(const metadata *md, const char *pallet, const char *call, metadata_call *out) {
    const md_pallet *p = md_find_pallet(md, pallet);
    if (!p || !p->has_calls) return -1;
    metadata_variant v;
    if (metadata_find_variant(md, p->calls_type, call, &v) < 0) return -2;
    memset(out, 0, sizeof *out);
    out->pallet_index = p->index;
    out->call_index = v.index;
    out->arg_count = v.field_count;
    memcpy(out->arg_types, v.field_types, sizeof out->arg_types);
    return 0;
}

int metadata_constant(const metadata *md, const char *pallet, const char *name,
                      const uint8_t **value, size_t *len, uint32_t *type_id) {
    const md_pallet *p = md_find_pallet(md, pallet);
    if (!p) return -1;
    for (size_t i = 0; i < p->constant_count; i++) {
        const md_constant *c = &md->constants[p->constant_first + i];
        if (md_name_is(c->name, c->name_len, name)) {
            *value = c->value;
            *len = c->value_len;
            if (type_id) *type_id = c->type;
            return 0;
        }
    }
    return -1;
}

int metadata_constant_uint(const metadata *md, const char *pallet, const char *name, uint64_t *v) {
    const uint8_t *value;
    size_t len;
    uint32_t ty;
    if (metadata_constant(md, pallet, name, &value, &len, &ty) < 0) return -1;
    metadata_type_info info;
    for (int depth = 0; depth < 8; depth++) {
        if (metadata_type(md, ty, &info) < 0) return -2;
        if (info.kind == MD_COMPOSITE && info.field_count == 1) {
            if (metadata_type_field(md, ty, 0, &ty) < 0) return -2;
            continue;
        }
        break;
    }
    if (info.kind != MD_PRIMITIVE) return -2;
    size_t size;
    switch (info.primitive) {
    case MD_PRIM_U8: size = 1; break;
    case MD_PRIM_U16: size = 2; break;
    case MD_PRIM_U32: size = 4; break;
    case MD_PRIM_U64: size = 8; break;
    case MD_PRIM_U128: size = 16; break;
    default: return -2;
    }
    if (len != size) return -2;
    uint64_t x = 0;
    for (size_t i = 0; i < size; i++) {
        if (i >= 8) { if (value[i]) return -2; continue; }
        x |= (uint64_t)value[i] << (8 * i);
    }
    *v = x;
    return 0;
}

size_t metadata_extension_count(const metadata *md) { return md->extension_count; }
const char *metadata_extension_name(const metadata *md, size_t i) {
    return i < md->extension_count ? md->extensions[i].name : NULL;
}
uint32_t metadata_extension_extra_type(const metadata *md, size_t i) {
    return i < md->extension_count ? md->extensions[i].extra_type : UINT32_MAX;
}
uint32_t metadata_extension_additional_type(const metadata *md, size_t i) {
    return i < md->extension_count ? md->extensions[i].additional_type : UINT32_MAX;
}

/* V14: the UncheckedExtrinsic type's parameters named Address and Signature. */
static int md_v14_extrinsic_types(const metadata *md, uint32_t *address_type, uint32_t *signature_type) {
    if (md->v14_extrinsic_type >= md->type_count) return -1;
    scale_reader r;
    md_reader_at(md, &r, md->types[md->v14_extrinsic_type].params_offset);
    size_t n;
    bool have_a = false, have_s = false;
    if (!scale_read_length(&r, 1, MD_MAX_ITEMS, &n)) return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *name;
        size_t len;
        bool some;
        uint32_t ty = UINT32_MAX;
        if (!md_string(&r, &name, &len) || !scale_read_option(&r, &some) || (some && !md_type_id(&r, &ty))) return -1;
        if (!some) continue;
        if (md_name_is(name, len, "Address")) { *address_type = ty; have_a = true; }
        if (md_name_is(name, len, "Signature")) { *signature_type = ty; have_s = true; }
    }
    return have_a && have_s ? 0 : -1;
}

int metadata_extrinsic_types(const metadata *md, uint32_t *address_type, uint32_t *signature_type) {
    if (md->version == 14) return md_v14_extrinsic_types(md, address_type, signature_type);
    if (!md->have_extrinsic_types) return -1;
    *address_type = md->address_type;
    *signature_type = md->signature_type;
    return 0;
}

bool metadata_supports_extrinsic_version(const metadata *md, uint8_t v) {
    for (size_t i = 0; i < md->extrinsic_version_count; i++)
        if (md->extrinsic_versions[i] == v) return true;
    return false;
}

/* Empty-type test. Each type is decided once (memo: 0 unknown, 1 in progress,
 * 2 empty, 3 not empty) and its members are read in one pass, so hostile
 * metadata (wide tuples, many paths to the same type) costs at most one visit
 * per type and member. Nesting deeper than 8 and cycles count as not empty. */
static bool md_type_is_empty_memo(const metadata *md, uint32_t type_id, int depth, uint8_t *memo) {
    if (type_id >= md->type_count || depth > 8) return false;
    if (memo[type_id] != 0) return memo[type_id] == 2;
    memo[type_id] = 1;
    const md_type *t = &md->types[type_id];
    scale_reader r;
    md_reader_at(md, &r, t->def_offset);
    bool empty = false;
    if (t->kind == MD_ARRAY) {
        uint32_t n, inner;
        empty = scale_read_u32(&r, &n) && md_type_id(&r, &inner) &&
                (n == 0 || md_type_is_empty_memo(md, inner, depth + 1, memo));
    } else if (t->kind == MD_COMPOSITE || t->kind == MD_TUPLE) {
        size_t n;
        empty = scale_read_length(&r, 1, MD_MAX_ITEMS, &n);
        for (size_t i = 0; empty && i < n; i++) {
            uint32_t f;
            bool ok = t->kind == MD_TUPLE ? md_type_id(&r, &f) : md_skip_field(&r, &f);
            empty = ok && md_type_is_empty_memo(md, f, depth + 1, memo);
        }
    }
    memo[type_id] = empty ? 2 : 3;
    return empty;
}

bool metadata_type_is_empty(const metadata *md, uint32_t type_id) {
    if (type_id >= md->type_count) return false;
    uint8_t *memo = calloc(md->type_count, 1);
    if (!memo) return false;
    bool empty = md_type_is_empty_memo(md, type_id, 0, memo);
    free(memo);
    return empty;
}

/* ---- storage entries, pallets by index, names (for reading chain state) ---- */

static void md_copy_name(const uint8_t *p, size_t n, char *out, size_t outlen) {
    if (!out || !outlen) return;
    size_t k = n < outlen - 1 ? n : outlen - 1;
    memcpy(out, p, k);
    out[k] = 0;
}

int metadata_storage_entry(const metadata *md, const char *pallet, const char *item, metadata_storage *out) {
    const md_pallet *p = md_find_pallet(md, pallet);
    if (!p) return -1;
    scale_reader r;
    md_reader_at(md, &r, p->storage_offset);
    bool some;
    size_t n;
    if (!scale_read_option(&r, &some) || !some || !md_skip_string(&r) || !scale_read_length(&r, 1, MD_MAX_ITEMS, &n)) return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *name;
        size_t name_len;
        uint8_t modifier, kind;
        metadata_storage e;
        memset(&e, 0, sizeof e);
        if (!md_string(&r, &name, &name_len) || !scale_read_u8(&r, &modifier) || !scale_read_u8(&r, &kind)) return -1;
        if (kind == 0) {
            if (!md_type_id(&r, &e.value_type)) return -1;
        } else if (kind == 1) {
            size_t nh;
            if (!scale_read_length(&r, 1, 64, &nh)) return -1;
            for (size_t j = 0; j < nh; j++) {
                uint8_t h;
                if (!scale_read_u8(&r, &h)) return -1;
                if (j < 8) e.hashers[j] = h;
            }
            e.is_map = true;
            e.hasher_count = nh < 8 ? nh : 8;
            if (!md_type_id(&r, &e.key_type) || !md_type_id(&r, &e.value_type)) return -1;
        } else return -1;
        const uint8_t *dflt;
        size_t dlen;
        if (!scale_read_bytes_view(&r, &dflt, &dlen, METADATA_MAX_BYTES) || !md_skip_strings(&r)) return -1;
        if (md->version >= 16 && !md_skip_item_deprecation(&r)) return -1;
        if (md_name_is(name, name_len, item)) {
            e.optional = modifier == 0;
            e.default_value = dflt;
            e.default_len = dlen;
            *out = e;
            return md_check_type(md, e.value_type) && (!e.is_map || md_check_type(md, e.key_type)) ? 0 : -1;
        }
    }
    return -1;
}

int metadata_pallet_by_index(const metadata *md, uint8_t index, char *name, size_t namelen,
                             uint32_t *event_type, uint32_t *error_type) {
    for (size_t i = 0; i < md->pallet_count; i++) {
        const md_pallet *p = &md->pallets[i];
        if (p->index != index) continue;
        md_copy_name(p->name, p->name_len, name, namelen);
        if (event_type) *event_type = p->has_events ? p->event_type : UINT32_MAX;
        if (error_type) *error_type = p->has_errors ? p->error_type : UINT32_MAX;
        return 0;
    }
    return -1;
}

int metadata_variant_by_index(const metadata *md, uint32_t type_id, uint8_t index, char *name, size_t namelen,
                              metadata_variant *out) {
    if (type_id >= md->type_count || md->types[type_id].kind != MD_VARIANT) return -1;
    scale_reader r;
    md_reader_at(md, &r, md->types[type_id].def_offset);
    size_t n;
    if (!scale_read_length(&r, 1, 256, &n)) return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *vname;
        size_t vlen, nf;
        metadata_variant v;
        memset(&v, 0, sizeof v);
        if (!md_string(&r, &vname, &vlen) || !scale_read_length(&r, 1, MD_MAX_ITEMS, &nf)) return -1;
        for (size_t j = 0; j < nf; j++) {
            uint32_t ty;
            if (!md_skip_field(&r, &ty)) return -1;
            if (j < 16) v.field_types[j] = ty;
        }
        uint8_t vi;
        if (!scale_read_u8(&r, &vi) || !md_skip_strings(&r)) return -1;
        if (vi == index) {
            v.index = vi;
            v.field_count = nf;
            md_copy_name(vname, vlen, name, namelen);
            if (out) *out = v;
            return 0;
        }
    }
    return -1;
}

int metadata_fields_of_type(const metadata *md, uint32_t type_id, metadata_fields *it) {
    memset(it, 0, sizeof *it);
    it->md = md;
    if (type_id >= md->type_count) return -1;
    const md_type *t = &md->types[type_id];
    if (t->kind != MD_COMPOSITE && t->kind != MD_TUPLE) return -1;
    scale_reader r;
    md_reader_at(md, &r, t->def_offset);
    if (!scale_read_length(&r, 1, MD_MAX_ITEMS, &it->left)) return -1;
    it->pos = r.pos;
    it->tuple = t->kind == MD_TUPLE;
    return 0;
}

int metadata_fields_of_variant(const metadata *md, uint32_t type_id, uint8_t index, metadata_fields *it) {
    memset(it, 0, sizeof *it);
    it->md = md;
    if (type_id >= md->type_count || md->types[type_id].kind != MD_VARIANT) return -1;
    scale_reader r;
    md_reader_at(md, &r, md->types[type_id].def_offset);
    size_t n;
    if (!scale_read_length(&r, 1, 256, &n)) return -1;
    for (size_t v = 0; v < n; v++) {
        const uint8_t *vname;
        size_t vlen, nf;
        if (!md_string(&r, &vname, &vlen) || !scale_read_length(&r, 1, MD_MAX_ITEMS, &nf)) return -1;
        size_t fields_at = r.pos;
        it->work += nf + 1;
        for (size_t j = 0; j < nf; j++)
            if (!md_skip_field(&r, NULL)) return -1;
        uint8_t vi;
        if (!scale_read_u8(&r, &vi) || !md_skip_strings(&r)) return -1;
        if (vi == index) {
            it->pos = fields_at;
            it->left = nf;
            return 0;
        }
    }
    return -1;
}

bool metadata_fields_next(metadata_fields *it, uint32_t *field_type) {
    if (it->left == 0 || !it->md) return false;
    scale_reader r;
    md_reader_at(it->md, &r, it->pos);
    bool ok = it->tuple ? md_type_id(&r, field_type) : md_skip_field(&r, field_type);
    it->work++;
    if (!ok) { it->left = 0; return false; }
    it->pos = r.pos;
    it->left--;
    return true;
}

int metadata_variant_field_type(const metadata *md, uint32_t type_id, uint8_t index, size_t i, uint32_t *out) {
    metadata_fields it;
    if (metadata_fields_of_variant(md, type_id, index, &it) != 0) return -1;
    uint32_t ty;
    for (size_t j = 0; j <= i; j++)
        if (!metadata_fields_next(&it, &ty)) return -1;
    *out = ty;
    return 0;
}

int metadata_type_field_name(const metadata *md, uint32_t type_id, size_t i, char *name, size_t namelen) {
    if (type_id >= md->type_count || md->types[type_id].kind != MD_COMPOSITE || !namelen) return -1;
    scale_reader r;
    md_reader_at(md, &r, md->types[type_id].def_offset);
    size_t n;
    if (!scale_read_length(&r, 1, MD_MAX_ITEMS, &n) || i >= n) return -1;
    for (size_t k = 0; k < i; k++)
        if (!md_skip_field(&r, NULL)) return -1;
    bool some;
    name[0] = 0;
    if (!scale_read_option(&r, &some)) return -1;
    if (some) {
        const uint8_t *p;
        size_t len;
        if (!md_string(&r, &p, &len)) return -1;
        md_copy_name(p, len, name, namelen);
    }
    return 0;
}
