/* Runtime metadata reader: both shared metadata files (g1 and gdev, V16), the
 * indices BRIEF §4 gives, constants, the signed-extension list, hex input, and
 * refusal of truncated or corrupted input. Files come from $G1_SHARED/g1
 * (default ../shared). */
#include "unit.h"
#include "metadata.h"
#include "hex.h"
#include <stdint.h>
#include "scale.h"
#include <signal.h>
#include <unistd.h>

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void shared_path(char *out, size_t outlen, const char *file) {
    const char *dir = getenv("G1_SHARED");
    snprintf(out, outlen, "%s/g1/%s", dir && *dir ? dir : "../shared", file);
}

static const char *expected_extensions[] = {
    "CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis", "CheckMortality",
    "CheckNonce", "CheckWeight", "ChargeTransactionPayment", "CheckMetadataHash"};

static void check_common(metadata *md, uint64_t expect_prefix) {
    CHECK_EQ_INT(metadata_version(md), 16);
    metadata_call c;
    CHECK_EQ_INT(metadata_find_call(md, "Balances", "transfer_keep_alive", &c), 0);
    CHECK_EQ_INT(c.pallet_index, 6);
    CHECK_EQ_INT(c.call_index, 3);
    CHECK_EQ_INT(c.arg_count, 2);
    CHECK_EQ_INT(metadata_find_call(md, "System", "remark_with_event", &c), 0);
    CHECK_EQ_INT(c.pallet_index, 0);
    CHECK_EQ_INT(c.call_index, 7);
    CHECK_EQ_INT(c.arg_count, 1);
    CHECK_EQ_INT(metadata_find_call(md, "Utility", "batch_all", &c), 0);
    CHECK_EQ_INT(c.pallet_index, 54);
    CHECK_EQ_INT(c.call_index, 2);
    metadata_type_info info;
    CHECK_EQ_INT(metadata_type(md, c.arg_types[0], &info), 0);
    CHECK_EQ_INT(info.kind, MD_SEQUENCE);
    CHECK_EQ_INT(metadata_find_call(md, "Balances", "no_such_call", &c), -2);
    CHECK_EQ_INT(metadata_find_call(md, "NoSuchPallet", "transfer", &c), -1);
    uint64_t v = 0;
    CHECK_EQ_INT(metadata_constant_uint(md, "System", "SS58Prefix", &v), 0);
    CHECK_EQ_INT(v, expect_prefix);
    CHECK_EQ_INT(metadata_constant_uint(md, "Balances", "ExistentialDeposit", &v), 0);
    CHECK(v == 100 || v == 200);
    CHECK_EQ_INT(metadata_constant_uint(md, "Balances", "NoSuchConstant", &v), -1);
    CHECK_EQ_INT(metadata_extension_count(md), 9);
    for (size_t i = 0; i < 9 && i < metadata_extension_count(md); i++)
        CHECK_EQ_STR(metadata_extension_name(md, i), expected_extensions[i]);
    CHECK(metadata_type_is_empty(md, metadata_extension_extra_type(md, 0)));
    CHECK(!metadata_type_is_empty(md, metadata_extension_additional_type(md, 1)));
    uint32_t at, st;
    CHECK_EQ_INT(metadata_extrinsic_types(md, &at, &st), 0);
    metadata_variant var;
    CHECK_EQ_INT(metadata_find_variant(md, at, "Id", &var), 0);
    CHECK_EQ_INT(var.index, 0);
    CHECK_EQ_INT(metadata_find_variant(md, st, "Ed25519", &var), 0);
    CHECK_EQ_INT(var.index, 0);
    CHECK(metadata_supports_extrinsic_version(md, 4));
}

static void test_file(const char *file, uint64_t expect_prefix) {
    char path[512], err[256] = "";
    shared_path(path, sizeof path, file);
    metadata *md = metadata_load_file(path, err, sizeof err);
    if (!md) printf("load %s: %s\n", path, err);
    CHECK(md != NULL);
    if (!md) return;
    check_common(md, expect_prefix);
    metadata_free(md);

    size_t len;
    uint8_t *raw = read_all(path, &len);
    CHECK(raw != NULL);
    if (!raw) return;
    /* same bytes as "0x…" hex text in JSON quotes with a newline */
    char *text = malloc(2 * len + 8);
    text[0] = '"'; text[1] = '0'; text[2] = 'x';
    hex_encode(raw, len, text + 3);
    strcat(text, "\"\n");
    md = metadata_parse((const uint8_t *)text, strlen(text), err, sizeof err);
    CHECK(md != NULL);
    if (md) { check_common(md, expect_prefix); metadata_free(md); }
    /* truncations at several points are refused */
    size_t cuts[] = {0, 3, 5, 100, len / 3, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        md = metadata_parse(raw, cuts[i], err, sizeof err);
        CHECK(md == NULL);
        metadata_free(md);
    }
    /* trailing garbage is refused */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, raw, len);
    longer[len] = 0;
    md = metadata_parse(longer, len + 1, err, sizeof err);
    CHECK(md == NULL);
    metadata_free(md);
    free(longer);
    /* wrong version byte and magic */
    raw[4] = 13;
    md = metadata_parse(raw, len, err, sizeof err);
    CHECK(md == NULL);
    CHECK(strstr(err, "version") != NULL);
    raw[4] = 16;
    raw[0] = 'M';
    md = metadata_parse(raw, len, err, sizeof err);
    CHECK(md == NULL);
    raw[0] = 'm';
    /* a corrupted length prefix in the middle */
    uint8_t saved = raw[len / 2];
    raw[len / 2] = 0xff;
    md = metadata_parse(raw, len, err, sizeof err);
    /* may or may not be detected depending on what it hits; must not crash */
    metadata_free(md);
    raw[len / 2] = saved;
    md = metadata_parse(raw, len, err, sizeof err);
    CHECK(md != NULL);
    metadata_free(md);
    /* bad hex */
    text[10] = 'z';
    md = metadata_parse((const uint8_t *)text, strlen(text), err, sizeof err);
    CHECK(md == NULL);
    free(text);
    free(raw);
}

/* Random byte changes anywhere: each parse either fails cleanly or yields a
 * metadata whose lookups stay in bounds (ASan watches). */
static void test_mutations(const char *file) {
    char path[512], err[256];
    shared_path(path, sizeof path, file);
    size_t len;
    uint8_t *raw = read_all(path, &len);
    CHECK(raw != NULL);
    if (!raw) return;
    uint32_t state = 12345;
    int parsed = 0, refused = 0;
    for (int i = 0; i < 300; i++) {
        state = state * 1103515245u + 12345u;
        size_t at = (state >> 3) % len;
        uint8_t saved = raw[at];
        raw[at] ^= (uint8_t)(1u << (state % 8)) | 0x40;
        metadata *md = metadata_parse(raw, len, err, sizeof err);
        if (md) {
            parsed++;
            metadata_call c;
            uint64_t v;
            metadata_find_call(md, "Balances", "transfer_keep_alive", &c);
            metadata_find_call(md, "Utility", "batch_all", &c);
            metadata_constant_uint(md, "System", "SS58Prefix", &v);
            for (size_t k = 0; k < metadata_extension_count(md); k++)
                metadata_type_is_empty(md, metadata_extension_extra_type(md, k));
            metadata_free(md);
        } else {
            refused++;
            CHECK(strlen(err) > 0);
        }
        raw[at] = saved;
    }
    CHECK_EQ_INT(parsed + refused, 300);
    CHECK(refused > 0);
    free(raw);
}


/* Minimal V14 metadata: types are tuples (member type ids given per type, or a
 * u8 primitive for kind 'p'), no pallets, one signed extension whose extra type
 * is type 0. */
static metadata *tiny_v14(size_t ntypes, const size_t *members, const uint32_t *const *ids, const char *kinds) {
    scale_buf b;
    scale_buf_init(&b);
    scale_put_raw(&b, "meta", 4);
    scale_put_u8(&b, 14);
    scale_put_compact(&b, ntypes);
    for (size_t t = 0; t < ntypes; t++) {
        scale_put_compact(&b, t);
        scale_put_compact(&b, 0); /* path */
        scale_put_compact(&b, 0); /* params */
        if (kinds && kinds[t] == 'p') {
            scale_put_u8(&b, 5); /* primitive */
            scale_put_u8(&b, 3); /* u8 */
        } else {
            scale_put_u8(&b, 4); /* tuple */
            scale_put_compact(&b, members[t]);
            for (size_t i = 0; i < members[t]; i++) scale_put_compact(&b, ids[t][i]);
        }
        scale_put_compact(&b, 0); /* docs */
    }
    scale_put_compact(&b, 0);          /* pallets */
    scale_put_compact(&b, 0);          /* extrinsic type */
    scale_put_u8(&b, 4);               /* extrinsic version */
    scale_put_compact(&b, 1);          /* one signed extension */
    scale_put_bytes(&b, "CheckWeight", 11);
    scale_put_compact(&b, 0);
    scale_put_compact(&b, 0);
    scale_put_compact(&b, 0);          /* runtime type */
    char err[256] = "";
    metadata *md = b.failed ? NULL : metadata_parse(b.data, b.len, err, sizeof err);
    if (!md) printf("tiny metadata refused: %s\n", err);
    scale_buf_free(&b);
    return md;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: metadata_type_is_empty did not return within 20 s (unbounded walk)\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* Empty-type detection is right on small shapes and bounded on hostile ones: a
 * chain of 9 tuples of 64 members each naming the next is 64^8 paths to empty
 * leaves, and one tuple of 300000 empty members must not cost 300000^2 reads. */
static void test_type_is_empty_bounded(void) {
    uint32_t none[1] = {0}, two_empty[2] = {1, 1}, with_u8[2] = {1, 3};
    const uint32_t *ids_a[] = {two_empty, none, with_u8, none};
    size_t mem_a[] = {2, 0, 2, 0};
    metadata *md = tiny_v14(4, mem_a, ids_a, "ttt" "p");
    CHECK(md != NULL);
    if (md) {
        CHECK(metadata_type_is_empty(md, 0));  /* (( ), ( )) */
        CHECK(metadata_type_is_empty(md, 1));  /* ( ) */
        CHECK(!metadata_type_is_empty(md, 2)); /* (( ), u8) */
        CHECK(!metadata_type_is_empty(md, 3)); /* u8 */
        metadata_free(md);
    }
    enum { LEVELS = 9, WIDTH = 64 };
    static uint32_t next[LEVELS][WIDTH];
    const uint32_t *ids[LEVELS];
    size_t mem[LEVELS];
    for (size_t t = 0; t < LEVELS; t++) {
        for (size_t i = 0; i < WIDTH; i++) next[t][i] = (uint32_t)(t + 1);
        ids[t] = next[t];
        mem[t] = t + 1 < LEVELS ? WIDTH : 0;
    }
    md = tiny_v14(LEVELS, mem, ids, NULL);
    CHECK(md != NULL);
    if (md) {
        signal(SIGALRM, on_alarm);
        alarm(20);
        CHECK(metadata_type_is_empty(md, 0));
        CHECK(metadata_type_is_empty(md, LEVELS - 1));
        alarm(0);
        metadata_free(md);
    }
    enum { WIDE = 300000 };
    uint32_t *wide = calloc(WIDE, sizeof *wide);
    CHECK(wide != NULL);
    if (!wide) return;
    for (size_t i = 0; i < WIDE; i++) wide[i] = 1;
    const uint32_t *ids_w[] = {wide, none};
    size_t mem_w[] = {WIDE, 0};
    md = tiny_v14(2, mem_w, ids_w, NULL);
    CHECK(md != NULL);
    if (md) {
        alarm(20);
        CHECK(metadata_type_is_empty(md, 0));
        alarm(0);
        metadata_free(md);
    }
    free(wide);
}

UNIT_MAIN({
    test_type_is_empty_bounded();
    test_mutations("g1_metadata.scale");
    test_file("g1_metadata.scale", 4450);
    test_file("gdev_metadata.scale", 42);
    char err[256];
    CHECK(metadata_load_file("/nonexistent/metadata.scale", err, sizeof err) == NULL);
})
