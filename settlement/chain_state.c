/* Chain state decoding through the runtime metadata: storage keys (xxhash64
 * from libxxhash, blake2b from libsodium), AccountInfo and System.Events. */
#include "chain_state.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#define CHAIN_MAX_DEPTH 48
#define CHAIN_MAX_ITEMS 1000000u
#define CHAIN_MAX_EVENTS 100000u
#define CHAIN_MAX_NAMED_FIELDS 64

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void chain_twox64(const void *data, size_t len, uint8_t out[8]) { put_le64(out, XXH64(data, len, 0)); }

void chain_twox128(const void *data, size_t len, uint8_t out[16]) {
    put_le64(out, XXH64(data, len, 0));
    put_le64(out + 8, XXH64(data, len, 1));
}

size_t chain_storage_key_plain(const char *pallet, const char *item, uint8_t out[32]) {
    chain_twox128(pallet, strlen(pallet), out);
    chain_twox128(item, strlen(item), out + 16);
    return 32;
}

size_t chain_storage_key_map(const char *pallet, const char *item, uint8_t hasher, const uint8_t *key,
                             size_t key_len, uint8_t out[CHAIN_STORAGE_KEY_MAX]) {
    chain_storage_key_plain(pallet, item, out);
    size_t n = 32;
    uint8_t h[32];
    switch (hasher) {
    case 0: case 2: /* Blake2_128, Blake2_128Concat */
        if (n + 16 + (hasher == 2 ? key_len : 0) > CHAIN_STORAGE_KEY_MAX) return 0;
        crypto_generichash(h, 16, key, key_len, NULL, 0);
        memcpy(out + n, h, 16);
        n += 16;
        break;
    case 1: /* Blake2_256 */
        crypto_generichash(h, 32, key, key_len, NULL, 0);
        memcpy(out + n, h, 32);
        return n + 32;
    case 3: /* Twox128 */
        chain_twox128(key, key_len, out + n);
        return n + 16;
    case 4: /* Twox256: four xxh64 with seeds 0..3 */
        for (int i = 0; i < 4; i++) put_le64(out + n + 8 * i, XXH64(key, key_len, (XXH64_hash_t)i));
        return n + 32;
    case 5: /* Twox64Concat */
        if (n + 8 + key_len > CHAIN_STORAGE_KEY_MAX) return 0;
        chain_twox64(key, key_len, out + n);
        n += 8;
        break;
    case 6: /* Identity */
        if (n + key_len > CHAIN_STORAGE_KEY_MAX) return 0;
        break;
    default: return 0;
    }
    if (hasher == 0) return n;
    memcpy(out + n, key, key_len);
    return n + key_len;
}

size_t chain_account_storage_key(const metadata *md, const uint8_t account[32], uint8_t out[CHAIN_STORAGE_KEY_MAX]) {
    metadata_storage e;
    if (metadata_storage_entry(md, "System", "Account", &e) < 0 || !e.is_map || e.hasher_count != 1) return 0;
    return chain_storage_key_map("System", "Account", e.hashers[0], account, 32, out);
}

/* ---- generic skipping of a typed value ---- */

/* Work budget of a decode: every value visited and every metadata member entry
 * read costs one unit. Hostile metadata can make values that take no bytes
 * (arrays of empty tuples, nested) or wide types, so the work is bounded by the
 * input size, not by the metadata: CHAIN_WORK_BASE plus CHAIN_WORK_PER_BYTE per
 * byte of the input being decoded (real runtime values use a few units a byte). */
#define CHAIN_WORK_BASE 65536u
#define CHAIN_WORK_PER_BYTE 64u

static size_t work_budget_for(size_t input_len) {
    if (input_len > (SIZE_MAX - CHAIN_WORK_BASE) / CHAIN_WORK_PER_BYTE) return SIZE_MAX;
    return CHAIN_WORK_BASE + input_len * CHAIN_WORK_PER_BYTE;
}

static bool spend(size_t *budget, size_t units) {
    if (units > *budget) { *budget = 0; return false; }
    *budget -= units;
    return true;
}

static bool skip_depth(const metadata *md, uint32_t ty, scale_reader *r, int depth, size_t *budget);

/* Skips the members of a composite/tuple or of one variant, in one pass. */
static bool skip_fields(const metadata *md, metadata_fields *it, scale_reader *r, int depth, size_t *budget) {
    size_t n = it->left;
    for (size_t i = 0; i < n; i++) {
        uint32_t f;
        size_t before = it->work;
        if (!metadata_fields_next(it, &f) || !spend(budget, it->work - before) || !skip_depth(md, f, r, depth + 1, budget))
            return false;
    }
    return true;
}

static bool skip_depth(const metadata *md, uint32_t ty, scale_reader *r, int depth, size_t *budget) {
    metadata_type_info info;
    if (r->failed || depth > CHAIN_MAX_DEPTH || !spend(budget, 1) || metadata_type(md, ty, &info) < 0) { r->failed = true; return false; }
    size_t n;
    uint64_t v;
    metadata_fields it;
    switch (info.kind) {
    case MD_COMPOSITE: case MD_TUPLE:
        if (metadata_fields_of_type(md, ty, &it) < 0 || !skip_fields(md, &it, r, depth, budget)) { r->failed = true; return false; }
        return !r->failed;
    case MD_VARIANT: {
        uint8_t idx;
        if (!scale_read_u8(r, &idx)) return false;
        int found = metadata_fields_of_variant(md, ty, idx, &it);
        if (!spend(budget, it.work) || found < 0) { r->failed = true; return false; }
        it.work = 0;
        if (!skip_fields(md, &it, r, depth, budget)) { r->failed = true; return false; }
        return !r->failed;
    }
    case MD_SEQUENCE:
        if (!scale_read_length(r, 0, CHAIN_MAX_ITEMS, &n)) return false;
        {
            metadata_type_info inner;
            if (metadata_type(md, info.inner, &inner) == 0 && inner.kind == MD_PRIMITIVE && inner.primitive == MD_PRIM_U8)
                return scale_skip(r, n);
        }
        for (size_t i = 0; i < n; i++)
            if (!skip_depth(md, info.inner, r, depth + 1, budget)) return false;
        return true;
    case MD_ARRAY: {
        metadata_type_info inner;
        if (metadata_type(md, info.inner, &inner) == 0 && inner.kind == MD_PRIMITIVE && inner.primitive == MD_PRIM_U8)
            return scale_skip(r, info.array_len);
        if (info.array_len > CHAIN_MAX_ITEMS) { r->failed = true; return false; }
        for (uint32_t i = 0; i < info.array_len; i++)
            if (!skip_depth(md, info.inner, r, depth + 1, budget)) return false;
        return true;
    }
    case MD_PRIMITIVE:
        switch (info.primitive) {
        case MD_PRIM_BOOL: case MD_PRIM_U8: case MD_PRIM_I8: return scale_skip(r, 1);
        case MD_PRIM_CHAR: case MD_PRIM_U32: case MD_PRIM_I32: return scale_skip(r, 4);
        case MD_PRIM_U16: case MD_PRIM_I16: return scale_skip(r, 2);
        case MD_PRIM_U64: case MD_PRIM_I64: return scale_skip(r, 8);
        case MD_PRIM_U128: case MD_PRIM_I128: return scale_skip(r, 16);
        case MD_PRIM_U256: case MD_PRIM_I256: return scale_skip(r, 32);
        case MD_PRIM_STR: return scale_read_length(r, 1, CHAIN_MAX_ITEMS * 16, &n) && scale_skip(r, n);
        default: r->failed = true; return false;
        }
    case MD_COMPACT: {
        uint64_t hi;
        return scale_read_compact_u128(r, &v, &hi);
    }
    case MD_BITSEQUENCE:
        /* BitVec<u8, Lsb0> as used by runtimes: compact bit count then bytes */
        if (!scale_read_compact(r, &v) || v > (uint64_t)CHAIN_MAX_ITEMS * 8) { r->failed = true; return false; }
        return scale_skip(r, (size_t)((v + 7) / 8));
    }
    r->failed = true;
    return false;
}

bool chain_skip_value(const metadata *md, uint32_t type_id, scale_reader *r) {
    size_t budget = work_budget_for(r->len);
    return skip_depth(md, type_id, r, 0, &budget);
}

/* Unsigned integer value (fixed or compact, through single-field wrappers). */
static bool read_uint(const metadata *md, uint32_t ty, scale_reader *r, uint64_t *out) {
    for (int depth = 0; depth < 8; depth++) {
        metadata_type_info info;
        if (metadata_type(md, ty, &info) < 0) return false;
        if (info.kind == MD_COMPOSITE && info.field_count == 1) {
            if (metadata_type_field(md, ty, 0, &ty) < 0) return false;
            continue;
        }
        if (info.kind == MD_COMPACT) {
            uint64_t lo, hi;
            if (!scale_read_compact_u128(r, &lo, &hi)) return false;
            *out = hi ? UINT64_MAX : lo;
            return true;
        }
        if (info.kind != MD_PRIMITIVE) return false;
        uint8_t b8;
        uint16_t b16;
        uint32_t b32;
        uint64_t lo, hi;
        switch (info.primitive) {
        case MD_PRIM_U8: if (!scale_read_u8(r, &b8)) return false; *out = b8; return true;
        case MD_PRIM_U16: if (!scale_read_u16(r, &b16)) return false; *out = b16; return true;
        case MD_PRIM_U32: if (!scale_read_u32(r, &b32)) return false; *out = b32; return true;
        case MD_PRIM_U64: return scale_read_u64(r, out);
        case MD_PRIM_U128:
            if (!scale_read_u128(r, &lo, &hi)) return false;
            *out = hi ? UINT64_MAX : lo; /* saturate: centimes never reach 2^64 */
            return true;
        default: return false;
        }
    }
    return false;
}

static int fail(char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "%s", what);
    return -1;
}

int chain_account_decode(const metadata *md, const uint8_t *value, size_t len, chain_account *out,
                         char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!value || len == 0) return 0;
    metadata_storage e;
    if (metadata_storage_entry(md, "System", "Account", &e) < 0) return fail(err, errlen, "metadata has no System.Account");
    metadata_type_info info;
    if (metadata_type(md, e.value_type, &info) < 0 || info.kind != MD_COMPOSITE) return fail(err, errlen, "AccountInfo is not a struct");
    /* fields are looked up by position and name (each lookup re-reads the
     * members before it): a real AccountInfo has 5 fields, AccountData 4 */
    if (info.field_count > CHAIN_MAX_NAMED_FIELDS) return fail(err, errlen, "AccountInfo: too many fields");
    size_t budget = work_budget_for(len);
    scale_reader r;
    scale_reader_init(&r, value, len);
    bool have_free = false;
    for (size_t i = 0; i < info.field_count; i++) {
        uint32_t f;
        char name[64];
        if (metadata_type_field(md, e.value_type, i, &f) < 0 || metadata_type_field_name(md, e.value_type, i, name, sizeof name) < 0)
            return fail(err, errlen, "AccountInfo: bad field");
        if (strcmp(name, "nonce") == 0) {
            if (!read_uint(md, f, &r, &out->nonce)) return fail(err, errlen, "AccountInfo: bad nonce");
        } else if (strcmp(name, "data") == 0) {
            metadata_type_info di;
            if (metadata_type(md, f, &di) < 0 || di.kind != MD_COMPOSITE) return fail(err, errlen, "AccountData is not a struct");
            if (di.field_count > CHAIN_MAX_NAMED_FIELDS) return fail(err, errlen, "AccountData: too many fields");
            for (size_t j = 0; j < di.field_count; j++) {
                uint32_t g;
                char dn[64];
                if (metadata_type_field(md, f, j, &g) < 0 || metadata_type_field_name(md, f, j, dn, sizeof dn) < 0)
                    return fail(err, errlen, "AccountData: bad field");
                uint64_t v;
                if (strcmp(dn, "free") == 0) {
                    if (!read_uint(md, g, &r, &out->free)) return fail(err, errlen, "AccountData: bad free");
                    have_free = true;
                } else if (strcmp(dn, "reserved") == 0) {
                    if (!read_uint(md, g, &r, &out->reserved)) return fail(err, errlen, "AccountData: bad reserved");
                } else if (strstr(dn, "frozen")) {
                    if (!read_uint(md, g, &r, &v)) return fail(err, errlen, "AccountData: bad frozen");
                    if (v > out->frozen) out->frozen = v;
                } else if (!skip_depth(md, g, &r, 0, &budget)) return fail(err, errlen, "AccountData: undecodable field");
            }
        } else if (!skip_depth(md, f, &r, 0, &budget)) return fail(err, errlen, "AccountInfo: undecodable field");
    }
    if (r.failed || scale_remaining(&r) != 0) return fail(err, errlen, "AccountInfo: length does not match the runtime's type");
    if (!have_free) return fail(err, errlen, "AccountData has no free balance");
    return 0;
}

/* ---- events ---- */

const char *chain_dispatch_reason(const char *kind, const char *pallet, const char *inner) {
    if (strcmp(kind, "Token") == 0) {
        if (strcmp(inner, "FundsUnavailable") == 0 || strcmp(inner, "NoFunds") == 0) return "insufficient-funds";
        if (strcmp(inner, "NotExpendable") == 0 || strcmp(inner, "OnlyProvider") == 0) return "keep-alive";
        if (strcmp(inner, "BelowMinimum") == 0) return "existential-deposit";
        if (strcmp(inner, "Frozen") == 0 || strcmp(inner, "Blocked") == 0) return "funds-frozen";
        return "dispatch-error";
    }
    if (strcmp(kind, "Module") == 0 && pallet && strcmp(pallet, "Balances") == 0) {
        if (strcmp(inner, "InsufficientBalance") == 0) return "insufficient-funds";
        if (strcmp(inner, "ExistentialDeposit") == 0) return "existential-deposit";
        if (strcmp(inner, "Expendability") == 0 || strcmp(inner, "KeepAlive") == 0) return "keep-alive";
        if (strcmp(inner, "LiquidityRestrictions") == 0) return "funds-frozen";
        return "dispatch-error";
    }
    if (strcmp(kind, "Arithmetic") == 0 && inner && strcmp(inner, "Underflow") == 0) return "insufficient-funds";
    return "dispatch-error";
}

/* Reads a DispatchError value and fills reason/detail. */
static bool read_dispatch_error(const metadata *md, uint32_t ty, scale_reader *r, chain_outcome *out) {
    uint8_t idx;
    char kind[48] = "", inner[64] = "", pallet[48] = "";
    metadata_variant var;
    if (!scale_read_u8(r, &idx) || metadata_variant_by_index(md, ty, idx, kind, sizeof kind, &var) < 0) return false;
    if (strcmp(kind, "Module") == 0 && var.field_count == 1) {
        /* ModuleError { index: u8, error: [u8; 4] } (older runtimes: error u8) */
        uint8_t pidx, eidx;
        uint32_t err_type = UINT32_MAX;
        if (!scale_read_u8(r, &pidx) || !scale_read_u8(r, &eidx)) return false;
        if (metadata_pallet_by_index(md, pidx, pallet, sizeof pallet, NULL, &err_type) == 0 && err_type != UINT32_MAX)
            metadata_variant_by_index(md, err_type, eidx, inner, sizeof inner, NULL);
        snprintf(out->detail, sizeof out->detail, "Module(%.40s.%.40s)", pallet[0] ? pallet : "?", inner[0] ? inner : "?");
    } else if (var.field_count == 1) {
        metadata_type_info ti;
        if (metadata_type(md, var.field_types[0], &ti) == 0 && ti.kind == MD_VARIANT) {
            uint8_t j;
            if (!scale_read_u8(r, &j)) return false;
            metadata_variant_by_index(md, var.field_types[0], j, inner, sizeof inner, NULL);
        }
        snprintf(out->detail, sizeof out->detail, "%.40s(%.50s)", kind, inner);
    } else {
        snprintf(out->detail, sizeof out->detail, "%.40s", kind);
    }
    snprintf(out->reason, sizeof out->reason, "%s", chain_dispatch_reason(kind, pallet, inner));
    return true;
}

/* Inspects one EventRecord (r positioned at it, on a copy): phase and event. */
static void inspect_record(const metadata *md, uint32_t rec_type, scale_reader r, uint32_t ext_index, chain_outcome *out,
                           size_t *budget) {
    metadata_type_info info;
    /* a real EventRecord has 3 fields (phase, event, topics) */
    if (metadata_type(md, rec_type, &info) < 0 || info.kind != MD_COMPOSITE || info.field_count > CHAIN_MAX_NAMED_FIELDS) return;
    bool phase_matches = false;
    for (size_t i = 0; i < info.field_count; i++) {
        uint32_t f;
        char name[32];
        if (metadata_type_field(md, rec_type, i, &f) < 0 || metadata_type_field_name(md, rec_type, i, name, sizeof name) < 0) return;
        if (strcmp(name, "phase") == 0) {
            uint8_t idx;
            char vname[32];
            metadata_variant var;
            if (!scale_read_u8(&r, &idx) || metadata_variant_by_index(md, f, idx, vname, sizeof vname, &var) < 0) return;
            if (strcmp(vname, "ApplyExtrinsic") == 0 && var.field_count == 1) {
                uint32_t n;
                if (!scale_read_u32(&r, &n)) return;
                phase_matches = n == ext_index;
            } else {
                metadata_fields it;
                if (metadata_fields_of_variant(md, f, idx, &it) < 0 || !spend(budget, it.work)) return;
                it.work = 0;
                if (!skip_fields(md, &it, &r, -1, budget)) return;
            }
        } else if (strcmp(name, "event") == 0) {
            if (!phase_matches) return;
            uint8_t pidx, eidx;
            char pname[48], ename[48];
            metadata_variant pv, ev;
            if (!scale_read_u8(&r, &pidx) || metadata_variant_by_index(md, f, pidx, pname, sizeof pname, &pv) < 0 ||
                pv.field_count != 1 || strcmp(pname, "System") != 0)
                return;
            if (!scale_read_u8(&r, &eidx) || metadata_variant_by_index(md, pv.field_types[0], eidx, ename, sizeof ename, &ev) < 0) return;
            if (strcmp(ename, "ExtrinsicSuccess") == 0) {
                out->found = true;
                out->success = true;
            } else if (strcmp(ename, "ExtrinsicFailed") == 0 && ev.field_count >= 1) {
                out->found = true;
                out->success = false;
                if (!read_dispatch_error(md, ev.field_types[0], &r, out)) {
                    snprintf(out->reason, sizeof out->reason, "dispatch-error");
                    snprintf(out->detail, sizeof out->detail, "undecodable dispatch error");
                }
            }
            return;
        } else if (!skip_depth(md, f, &r, 0, budget)) return;
    }
}

int chain_extrinsic_outcome(const metadata *md, const uint8_t *events, size_t len, uint32_t ext_index,
                            chain_outcome *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    metadata_storage e;
    metadata_type_info info;
    if (metadata_storage_entry(md, "System", "Events", &e) < 0 || metadata_type(md, e.value_type, &info) < 0 ||
        info.kind != MD_SEQUENCE)
        return fail(err, errlen, "metadata has no System.Events sequence");
    scale_reader r;
    scale_reader_init(&r, events, len);
    size_t n;
    if (!scale_read_length(&r, 1, CHAIN_MAX_EVENTS, &n)) return fail(err, errlen, "System.Events: bad length");
    size_t budget = work_budget_for(len); /* one budget for the whole block's events */
    for (size_t i = 0; i < n; i++) {
        if (!out->found) inspect_record(md, info.inner, r, ext_index, out, &budget);
        if (!skip_depth(md, info.inner, &r, 0, &budget))
            return fail(err, errlen, budget == 0 ? "System.Events: decoding work limit exceeded (hostile metadata?)"
                                                 : "System.Events: undecodable record");
    }
    if (scale_remaining(&r) != 0) return fail(err, errlen, "System.Events: trailing bytes");
    return 0;
}
