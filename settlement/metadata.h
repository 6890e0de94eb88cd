/* Runtime metadata reader (frame-metadata V14, V15, V16), as returned by the
 * node's `state_getMetadata`: raw SCALE bytes or "0x…" hex text.
 *
 * It reads the whole structure (the input must be consumed exactly, so a
 * truncated or corrupted file is refused) and keeps what signing needs: the type
 * registry, pallet and call indices by name, pallet constants, the ordered list
 * of signed (transaction) extensions, and the extrinsic address/signature types.
 * A metadata object is immutable after parsing and may be shared by threads. */
#ifndef G1_METADATA_H
#define G1_METADATA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metadata metadata;

/* Largest metadata input accepted (bytes of SCALE, or twice that in hex). */
#define METADATA_MAX_BYTES (16u * 1024 * 1024)

/* Parses raw SCALE ("meta" magic) or hex text ("0x…", surrounding whitespace and
 * double quotes allowed). Returns NULL with a reason in err. */
metadata *metadata_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
metadata *metadata_load_file(const char *path, char *err, size_t errlen);
void metadata_free(metadata *md);

/* 14, 15 or 16. */
unsigned metadata_version(const metadata *md);

/* Type registry. Kinds follow scale-info's TypeDef order. */
typedef enum {
    MD_COMPOSITE = 0, MD_VARIANT = 1, MD_SEQUENCE = 2, MD_ARRAY = 3, MD_TUPLE = 4,
    MD_PRIMITIVE = 5, MD_COMPACT = 6, MD_BITSEQUENCE = 7
} metadata_type_kind;
/* scale-info primitives */
enum { MD_PRIM_BOOL = 0, MD_PRIM_CHAR, MD_PRIM_STR, MD_PRIM_U8, MD_PRIM_U16, MD_PRIM_U32, MD_PRIM_U64,
       MD_PRIM_U128, MD_PRIM_U256, MD_PRIM_I8, MD_PRIM_I16, MD_PRIM_I32, MD_PRIM_I64, MD_PRIM_I128,
       MD_PRIM_I256 };

typedef struct {
    metadata_type_kind kind;
    uint32_t inner;       /* SEQUENCE, ARRAY, COMPACT: element type */
    uint32_t array_len;   /* ARRAY */
    uint8_t primitive;    /* PRIMITIVE */
    size_t field_count;   /* COMPOSITE fields, TUPLE members, VARIANT variants */
} metadata_type_info;

/* Returns 0 and fills info, or -1 for an unknown type id. */
int metadata_type(const metadata *md, uint32_t type_id, metadata_type_info *info);
/* Field i of a COMPOSITE (or member i of a TUPLE): its type id. -1 if out of range. */
int metadata_type_field(const metadata *md, uint32_t type_id, size_t i, uint32_t *field_type);

/* A variant of a VARIANT type, found by name. */
typedef struct {
    uint8_t index;
    size_t field_count;
    uint32_t field_types[16]; /* the first 16 field types */
} metadata_variant;
/* Returns 0, or -1 if the type is not a variant or has no variant of that name. */
int metadata_find_variant(const metadata *md, uint32_t type_id, const char *name, metadata_variant *out);

/* A call of a pallet, found by names (e.g. "Balances", "transfer_keep_alive"). */
typedef struct {
    uint8_t pallet_index;
    uint8_t call_index;
    size_t arg_count;
    uint32_t arg_types[16];
} metadata_call;
/* Returns 0, -1 if the pallet is absent or has no calls, -2 if the call is absent. */
int metadata_find_call(const metadata *md, const char *pallet, const char *call, metadata_call *out);

/* Raw SCALE value of a pallet constant. Returns 0, or -1 if absent. */
int metadata_constant(const metadata *md, const char *pallet, const char *name,
                      const uint8_t **value, size_t *len, uint32_t *type_id);
/* A constant whose type is an unsigned integer (through single-field wrappers),
 * as u64. Returns 0, -1 if absent, -2 if not an unsigned integer or above u64. */
int metadata_constant_uint(const metadata *md, const char *pallet, const char *name, uint64_t *v);

/* The signed extensions of v4 extrinsics, in order (V14/V15 signed_extensions;
 * V16 transaction_extensions selected by transaction_extensions_by_version[0]). */
size_t metadata_extension_count(const metadata *md);
/* Name (NUL-terminated copy owned by md), extra type and additional type of extension i. */
const char *metadata_extension_name(const metadata *md, size_t i);
uint32_t metadata_extension_extra_type(const metadata *md, size_t i);
uint32_t metadata_extension_additional_type(const metadata *md, size_t i);

/* Extrinsic address and signature types (V15/V16 give them; V14 through the
 * UncheckedExtrinsic type parameters). Returns 0, or -1 if unknown. */
int metadata_extrinsic_types(const metadata *md, uint32_t *address_type, uint32_t *signature_type);
/* True if the runtime accepts extrinsic format version v (e.g. 4). */
bool metadata_supports_extrinsic_version(const metadata *md, uint8_t v);

/* A storage item of a pallet (for reading chain state with state_getStorage).
 * Hashers: 0 Blake2_128, 1 Blake2_256, 2 Blake2_128Concat, 3 Twox128,
 * 4 Twox256, 5 Twox64Concat, 6 Identity. */
typedef struct {
    bool is_map;               /* false: a plain value */
    bool optional;             /* modifier Optional (absent = None) rather than Default */
    uint8_t hashers[8];
    size_t hasher_count;
    uint32_t key_type, value_type;
    const uint8_t *default_value; /* SCALE default (owned by md) */
    size_t default_len;
} metadata_storage;
/* Returns 0, or -1 if the pallet or item is absent. */
int metadata_storage_entry(const metadata *md, const char *pallet, const char *item, metadata_storage *out);
/* The pallet with this index: its name (copied, truncated to namelen) and its
 * event and error types (UINT32_MAX if none). Returns 0, or -1 if absent. */
int metadata_pallet_by_index(const metadata *md, uint8_t index, char *name, size_t namelen,
                             uint32_t *event_type, uint32_t *error_type);
/* The variant of a VARIANT type with this index: its name (copied) and fields
 * (field_count may exceed 16: read the others with metadata_variant_field_type).
 * Returns 0, or -1 if absent or not a variant. */
int metadata_variant_by_index(const metadata *md, uint32_t type_id, uint8_t index, char *name, size_t namelen,
                              metadata_variant *out);
/* Type of field i of the variant with this index. 0 or -1. */
int metadata_variant_field_type(const metadata *md, uint32_t type_id, uint8_t index, size_t i, uint32_t *out);
/* Name of field i of a COMPOSITE type ("" for an unnamed field). 0 or -1. */
int metadata_type_field_name(const metadata *md, uint32_t type_id, size_t i, char *name, size_t namelen);

/* One-pass walk over the member types of a COMPOSITE or TUPLE, or over the
 * fields of one variant of a VARIANT type (metadata_type_field(i) re-reads from
 * the first member on every call, so visiting all n members with it costs n^2).
 * work counts the member entries read, including those of the variants skipped
 * to reach the one asked for, so a caller can bound its total effort. */
typedef struct {
    const metadata *md;
    size_t pos;    /* next member in md's copy */
    size_t left;   /* members not yet returned */
    bool tuple;
    size_t work;
} metadata_fields;
/* Starts a walk. Returns 0, or -1 if the type is not of that kind (or the
 * variant index is absent); it->work is set even on -1. */
int metadata_fields_of_type(const metadata *md, uint32_t type_id, metadata_fields *it);
int metadata_fields_of_variant(const metadata *md, uint32_t type_id, uint8_t index, metadata_fields *it);
/* The next member's type; false when all were returned or on malformed metadata. */
bool metadata_fields_next(metadata_fields *it, uint32_t *field_type);

/* True if a type encodes to zero bytes (empty composite/tuple, or of those). */
bool metadata_type_is_empty(const metadata *md, uint32_t type_id);
#endif
