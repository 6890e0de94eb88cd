/* NIP-45 HyperLogLog registers (see hll.h). */
#include "hll.h"
#include <sodium.h>
#include <string.h>

static bool is_lower_hex64(const char *s, uint32_t len) {
    if (len != 64) return false;
    for (uint32_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static unsigned hex_digit(char c) { return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10); }

unsigned hll_offset_of_value(const char *value, uint32_t len) {
    /* the NIP reads the character at position 32 of a 64-hex string */
    if (is_lower_hex64(value, len)) return 8 + hex_digit(value[32]);
    const char *colon = memchr(value, ':', len);
    if (colon) { /* an address: <kind>:<pubkey>:<d> */
        const char *pk = colon + 1;
        uint32_t rest = len - (uint32_t)(pk - value);
        if (rest >= 65 && pk[64] == ':' && is_lower_hex64(pk, 64)) return 8 + hex_digit(pk[32]);
    }
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)value, len);
    return 8 + (digest[16] >> 4); /* hex character 32 is the high nibble of byte 16 */
}

bool hll_offset_for(const filter *filters, uint32_t filter_count, unsigned *offset) {
    if (filter_count != 1 || filters[0].tag_count != 1 || filters[0].tags[0].value_count != 1) return false;
    const event_str *v = &filters[0].tags[0].values[0];
    *offset = hll_offset_of_value(v->ptr, v->len);
    return true;
}

void hll_add(uint8_t registers[HLL_REGISTERS], unsigned offset, const uint8_t pubkey[32]) {
    uint8_t index = pubkey[offset];
    unsigned zeros = 0; /* leading zero bits from byte offset + 1 on */
    unsigned i = offset + 1;
    while (i < 32 && pubkey[i] == 0) {
        zeros += 8;
        i++;
    }
    if (i < 32) zeros += (unsigned)__builtin_clz(pubkey[i]) - 24; /* clz of a 32-bit int */
    unsigned value = zeros + 1;
    if (value > registers[index]) registers[index] = (uint8_t)value;
}
