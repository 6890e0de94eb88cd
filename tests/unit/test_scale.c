/* SCALE codec: compact integer boundaries (known encodings), fixed-width LE,
 * u128, vectors, options, bools, round trips, and refusal of truncated,
 * non-canonical and oversized inputs. */
#include "unit.h"
#include "scale.h"
#include "hex.h"

static void check_compact(uint64_t v, const char *hex) {
    scale_buf b;
    scale_buf_init(&b);
    scale_put_compact(&b, v);
    char out[64];
    hex_encode(b.data, b.len, out);
    CHECK_EQ_STR(out, hex);
    CHECK_EQ_INT(scale_compact_size(v), b.len);
    scale_reader r;
    scale_reader_init(&r, b.data, b.len);
    uint64_t back = ~v;
    CHECK(scale_read_compact(&r, &back));
    CHECK(back == v);
    CHECK_EQ_INT(scale_remaining(&r), 0);
    /* every truncation fails */
    for (size_t cut = 0; cut < b.len; cut++) {
        scale_reader_init(&r, b.data, cut);
        CHECK(!scale_read_compact(&r, &back));
        CHECK(r.failed);
    }
    scale_buf_free(&b);
}

static bool decode_hex_compact(const char *hex, uint64_t *v) {
    uint8_t buf[32];
    size_t n = strlen(hex) / 2;
    hex_decode(hex, n * 2, buf, n);
    scale_reader r;
    scale_reader_init(&r, buf, n);
    return scale_read_compact(&r, v) && scale_remaining(&r) == 0;
}

static void test_compact(void) {
    check_compact(0, "00");
    check_compact(1, "04");
    check_compact(42, "a8");
    check_compact(63, "fc");
    check_compact(64, "0101");
    check_compact(100, "9101");
    check_compact(16383, "fdff");
    check_compact(16384, "02000100");
    check_compact(1073741823, "feffffff");
    check_compact(1073741824, "0300000040");
    check_compact(4294967295u, "03ffffffff");
    check_compact(4294967296ull, "070000000001");
    check_compact(UINT64_MAX, "13ffffffffffffffff");
    uint64_t v;
    /* non-canonical encodings are refused */
    CHECK(!decode_hex_compact("0100", &v));       /* 0 in two bytes */
    CHECK(!decode_hex_compact("02000000", &v));   /* 0 in four bytes */
    CHECK(!decode_hex_compact("03ffffff00", &v)); /* fits in 4-byte mode */
    CHECK(!decode_hex_compact("0700000000ff00", &v)); /* trailing zero byte */
    /* above u64 */
    CHECK(!decode_hex_compact("17000000000000000001", &v));
    uint8_t big[17] = {0x33};
    for (int i = 1; i < 17; i++) big[i] = 0xff;
    scale_reader r;
    scale_reader_init(&r, big, sizeof big);
    uint64_t lo, hi;
    CHECK(scale_read_compact_u128(&r, &lo, &hi));
    CHECK(lo == UINT64_MAX && hi == UINT64_MAX);
    scale_buf b;
    scale_buf_init(&b);
    scale_put_compact_u128(&b, UINT64_MAX, UINT64_MAX);
    CHECK_EQ_INT(b.len, 17);
    CHECK_EQ_MEM(b.data, big, 17);
    scale_buf_free(&b);
    /* 0x43 would announce 20 bytes: more than u128 */
    uint8_t bad[21] = {0x43, 1};
    scale_reader_init(&r, bad, sizeof bad);
    CHECK(!scale_read_compact_u128(&r, &lo, &hi));
}

static void test_fixed_and_vectors(void) {
    scale_buf b;
    scale_buf_init(&b);
    scale_put_u8(&b, 0x12);
    scale_put_u16(&b, 0x3456);
    scale_put_u32(&b, 0x789abcde);
    scale_put_u64(&b, 0x0102030405060708ull);
    scale_put_u128(&b, 1, 2);
    scale_put_bool(&b, true);
    scale_put_bytes(&b, "abc", 3);
    scale_put_u8(&b, 1); /* Option Some */
    scale_put_u32(&b, 7);
    scale_put_u8(&b, 0); /* Option None */
    uint8_t arr[4] = {9, 8, 7, 6};
    scale_put_raw(&b, arr, 4); /* [u8; 4] */
    scale_put_u8(&b, 2);       /* enum variant 2 */
    scale_put_compact(&b, 2);  /* Vec<u16> of 2 */
    scale_put_u16(&b, 1);
    scale_put_u16(&b, 2);
    CHECK(!b.failed);
    char hex[256];
    hex_encode(b.data, b.len, hex);
    CHECK_EQ_STR(hex, "125634debc9a7808070605040302010100000000000000020000000000000001"
                      "0c61626301070000000009080706020801000200");
    scale_reader r;
    scale_reader_init(&r, b.data, b.len);
    uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64, lo, hi; bool flag, some;
    const uint8_t *p; size_t n;
    CHECK(scale_read_u8(&r, &u8) && u8 == 0x12);
    CHECK(scale_read_u16(&r, &u16) && u16 == 0x3456);
    CHECK(scale_read_u32(&r, &u32) && u32 == 0x789abcde);
    CHECK(scale_read_u64(&r, &u64) && u64 == 0x0102030405060708ull);
    CHECK(scale_read_u128(&r, &lo, &hi) && lo == 1 && hi == 2);
    CHECK(scale_read_bool(&r, &flag) && flag);
    CHECK(scale_read_bytes_view(&r, &p, &n, 100) && n == 3 && memcmp(p, "abc", 3) == 0);
    CHECK(scale_read_option(&r, &some) && some && scale_read_u32(&r, &u32) && u32 == 7);
    CHECK(scale_read_option(&r, &some) && !some);
    uint8_t back[4];
    CHECK(scale_read_raw(&r, back, 4) && memcmp(back, arr, 4) == 0);
    CHECK(scale_read_u8(&r, &u8) && u8 == 2);
    CHECK(scale_read_length(&r, 2, 10, &n) && n == 2);
    CHECK(scale_read_u16(&r, &u16) && u16 == 1);
    CHECK(scale_read_u16(&r, &u16) && u16 == 2);
    CHECK_EQ_INT(scale_remaining(&r), 0);
    CHECK(!scale_read_u8(&r, &u8));
    CHECK(r.failed);
    /* once failed, every read fails */
    scale_reader_init(&r, b.data, b.len);
    CHECK(!scale_skip(&r, b.len + 1));
    CHECK(!scale_read_u8(&r, &u8));
    scale_buf_free(&b);

    /* bool/option tags other than 0/1 refused */
    uint8_t two = 2;
    scale_reader_init(&r, &two, 1);
    CHECK(!scale_read_bool(&r, &flag));
    scale_reader_init(&r, &two, 1);
    CHECK(!scale_read_option(&r, &some));
    /* a vector length larger than the input or the maximum is refused */
    uint8_t vec[] = {0x10, 'a', 'b'}; /* claims 4 bytes, has 2 */
    scale_reader_init(&r, vec, sizeof vec);
    CHECK(!scale_read_bytes_view(&r, &p, &n, 100));
    uint8_t vec2[] = {0x0c, 'a', 'b', 'c'};
    scale_reader_init(&r, vec2, sizeof vec2);
    CHECK(!scale_read_bytes_view(&r, &p, &n, 2));
    uint8_t huge[] = {0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    scale_reader_init(&r, huge, sizeof huge);
    CHECK(!scale_read_length(&r, 1, SIZE_MAX, &n));
    /* growth across many writes */
    scale_buf_init(&b);
    for (int i = 0; i < 10000; i++) scale_put_u32(&b, (uint32_t)i);
    CHECK(!b.failed && b.len == 40000);
    CHECK(b.data[4 * 9999] == (9999 & 0xff));
    scale_buf_free(&b);
}

UNIT_MAIN({
    test_compact();
    test_fixed_and_vectors();
})
