/* libFuzzer target for the runtime metadata reader (settlement/metadata.c), the
 * largest parser of semi-trusted input (state_getMetadata from a Ğ1 node, or a
 * file). An accepted document is walked through every public accessor so the
 * sanitizers see any offset that points outside the kept copy. Built by
 * `make fuzz` (seed corpus: the Ğ1 and ĞDev metadata in $(G1_SHARED)/g1/). */
#include "metadata.h"
#include <stdio.h>
#include <string.h>

static void walk_type(const metadata *md, uint32_t id) {
    metadata_type_info info;
    if (metadata_type(md, id, &info) < 0) return;
    (void)metadata_type_is_empty(md, id);
    char name[64];
    for (size_t i = 0; i < info.field_count && i < 64; i++) {
        uint32_t f;
        if (info.kind != MD_VARIANT) {
            (void)metadata_type_field(md, id, i, &f);
            (void)metadata_type_field_name(md, id, i, name, sizeof name);
        }
    }
    if (info.kind == MD_VARIANT) {
        for (unsigned ix = 0; ix < 256; ix++) {
            metadata_variant v;
            if (metadata_variant_by_index(md, id, (uint8_t)ix, name, sizeof name, &v) < 0) continue;
            uint32_t f;
            for (size_t i = 0; i < v.field_count && i < 40; i++) (void)metadata_variant_field_type(md, id, (uint8_t)ix, i, &f);
            metadata_variant byname;
            (void)metadata_find_variant(md, id, name, &byname);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    metadata *md = metadata_parse(data, size, err, sizeof err);
    if (!md) return 0;
    (void)metadata_version(md);
    for (uint32_t id = 0; id < 2000; id++) walk_type(md, id);
    walk_type(md, UINT32_MAX);
    metadata_call call;
    (void)metadata_find_call(md, "Balances", "transfer_keep_alive", &call);
    (void)metadata_find_call(md, "System", "remark", &call);
    uint64_t v;
    (void)metadata_constant_uint(md, "Balances", "ExistentialDeposit", &v);
    (void)metadata_constant_uint(md, "System", "SS58Prefix", &v);
    const uint8_t *cv;
    size_t cl;
    uint32_t ct;
    (void)metadata_constant(md, "System", "Version", &cv, &cl, &ct);
    for (size_t i = 0; i < metadata_extension_count(md); i++) {
        const char *n = metadata_extension_name(md, i);
        (void)strlen(n);
        walk_type(md, metadata_extension_extra_type(md, i));
        walk_type(md, metadata_extension_additional_type(md, i));
    }
    uint32_t at, st;
    (void)metadata_extrinsic_types(md, &at, &st);
    (void)metadata_supports_extrinsic_version(md, 4);
    metadata_storage se;
    (void)metadata_storage_entry(md, "System", "Account", &se);
    (void)metadata_storage_entry(md, "System", "Events", &se);
    char pname[64];
    for (unsigned ix = 0; ix < 256; ix++) {
        uint32_t et, ert;
        if (metadata_pallet_by_index(md, (uint8_t)ix, pname, sizeof pname, &et, &ert) == 0) {
            walk_type(md, et);
            walk_type(md, ert);
        }
    }
    metadata_free(md);
    return 0;
}
