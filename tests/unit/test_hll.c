/* NIP-45 HyperLogLog: the offset rule for the three kinds of tag value, which
 * filters are eligible, and the register update (leading zeros after the
 * offset byte, across byte boundaries, keeping the maximum). */
#include "unit.h"
#include "filter.h"
#include "hex.h"
#include "hll.h"
#include <sodium.h>

static void parse(filter *f, const char *json) {
    filter_limits lim = {0, 500, 100};
    char err[128];
    CHECK_EQ_INT(filter_parse(f, json, strlen(json), &lim, err, sizeof err), 0);
}

static void test_offsets(void) {
    /* a 64-hex id: character 32 is 'c' -> 8 + 12 */
    const char *id = "00000000000000000000000000000000c0000000000000000000000000000000";
    CHECK_EQ_INT(hll_offset_of_value(id, 64), 20);
    /* an address uses its pubkey's character 32 ('3' -> 11), whatever the kind and d */
    const char *addr = "30023:ffffffffffffffffffffffffffffffff3fffffffffffffffffffffffffffffff:my-article";
    CHECK_EQ_INT(hll_offset_of_value(addr, (uint32_t)strlen(addr)), 11);
    const char *addr_empty_d = "30000:ffffffffffffffffffffffffffffffff3fffffffffffffffffffffffffffffff:";
    CHECK_EQ_INT(hll_offset_of_value(addr_empty_d, (uint32_t)strlen(addr_empty_d)), 11);
    /* anything else: sha256, then its hex character 32 */
    const char *word = "music";
    uint8_t d[32];
    crypto_hash_sha256(d, (const unsigned char *)word, 5);
    char hex[65];
    hex_encode(d, 32, hex);
    unsigned want = 8 + (unsigned)(hex[32] <= '9' ? hex[32] - '0' : hex[32] - 'a' + 10);
    CHECK_EQ_INT(hll_offset_of_value(word, 5), want);
    /* upper-case hex is not an id: hashed like any string */
    const char *upper = "00000000000000000000000000000000C0000000000000000000000000000000";
    crypto_hash_sha256(d, (const unsigned char *)upper, 64);
    hex_encode(d, 32, hex);
    want = 8 + (unsigned)(hex[32] <= '9' ? hex[32] - '0' : hex[32] - 'a' + 10);
    CHECK_EQ_INT(hll_offset_of_value(upper, 64), want);
    for (int i = 0; i < 50; i++) { /* always in 8..23 */
        char v[16];
        int n = snprintf(v, sizeof v, "tag%d", i);
        unsigned o = hll_offset_of_value(v, (uint32_t)n);
        CHECK(o >= 8 && o <= 23);
    }
}

static void test_eligible(void) {
    filter f[2];
    unsigned off = 0;
    parse(&f[0], "{\"#e\":[\"00000000000000000000000000000000c0000000000000000000000000000000\"],\"kinds\":[7]}");
    CHECK(hll_offset_for(f, 1, &off));
    CHECK_EQ_INT(off, 20);
    parse(&f[1], "{\"kinds\":[7]}");
    CHECK(!hll_offset_for(&f[1], 1, &off)); /* no tag attribute */
    CHECK(!hll_offset_for(f, 2, &off));     /* two filters */
    filter_free(&f[0]);
    filter_free(&f[1]);
    parse(&f[0], "{\"#e\":[\"a\",\"b\"]}");
    CHECK(!hll_offset_for(f, 1, &off)); /* two values: "first" is lost in the parsed form */
    filter_free(&f[0]);
    parse(&f[0], "{\"#e\":[\"a\"],\"#p\":[\"b\"]}");
    CHECK(!hll_offset_for(f, 1, &off)); /* two tag attributes */
    filter_free(&f[0]);
}

static void test_registers(void) {
    uint8_t reg[HLL_REGISTERS] = {0};
    uint8_t pk[32];
    unsigned off = 10;
    memset(pk, 0xff, sizeof pk);
    pk[off] = 7;       /* register 7 */
    pk[off + 1] = 0x10; /* 3 leading zero bits -> 4 */
    hll_add(reg, off, pk);
    CHECK_EQ_INT(reg[7], 4);
    pk[off + 1] = 0x80; /* no leading zero -> 1: smaller, register keeps 4 */
    hll_add(reg, off, pk);
    CHECK_EQ_INT(reg[7], 4);
    pk[off + 1] = 0;    /* a whole zero byte then 0x01: 8 + 7 zeros -> 16 */
    pk[off + 2] = 0x01;
    hll_add(reg, off, pk);
    CHECK_EQ_INT(reg[7], 16);
    memset(pk + off + 1, 0, 32 - off - 1); /* zeros to the end: (31 - off) * 8 + 1 */
    hll_add(reg, off, pk);
    CHECK_EQ_INT(reg[7], (31 - off) * 8 + 1);
    int others = 0;
    for (int i = 0; i < HLL_REGISTERS; i++) others += i != 7 && reg[i] != 0;
    CHECK_EQ_INT(others, 0);
    pk[23] = 200; /* offset 23, the largest: only byte 24.. count */
    memset(pk + 24, 0xff, 8);
    hll_add(reg, 23, pk);
    CHECK_EQ_INT(reg[200], 1);
}

UNIT_MAIN({
    if (sodium_init() < 0) return 1;
    test_offsets();
    test_eligible();
    test_registers();
})
