/* Ğ1 keys: BRIEF §6 vectors (Cesium scrypt seeds, v1 keys, checksums, SS58
 * addresses), base58 and SS58 round trips and refusals, .dunikey PubSec/WIF
 * parsing (good, truncated, mismatched), npub parsing. */
#include "unit.h"
#include "base58.h"
#include "g1keys.h"
#include "hex.h"
#include "npub.h"
#include "ss58.h"
#include <sodium.h>

static void test_vectors(void) {
    g1_keypair kp;
    char v1[G1_V1_KEY_MAX], addr[SS58_ADDRESS_MAX], hex[65], chk[4];
    CHECK_EQ_INT(g1_derive_cesium("abc", 3, "def", 3, &kp), 0);
    hex_encode(kp.seed, 32, hex);
    CHECK_EQ_STR(hex, "ce63e90dd4c3d10fb23606ea585ab9c87815527cb62880ed6d51f3fe136ec1ec");
    CHECK_EQ_INT(g1_v1_key_encode(kp.public_key, v1, sizeof v1), 0);
    CHECK_EQ_STR(v1, "G2CBgZBPLe6FSFUgpx2Jf1Aqsgta6iib3vmDRA1yLiqU");
    CHECK_EQ_INT(ss58_encode(kp.public_key, SS58_PREFIX_G1, addr, sizeof addr), 0);
    CHECK_EQ_STR(addr, "g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6py");

    CHECK_EQ_INT(g1_derive_cesium("abc", 3, "abc", 3, &kp), 0);
    CHECK_EQ_INT(g1_v1_key_encode(kp.public_key, v1, sizeof v1), 0);
    CHECK_EQ_STR(v1, "HgTTJLAQ5sqfknMq7yLPZbehtuLSsKj9CxWN7k8QvYJd");
    CHECK_EQ_INT(ss58_encode(kp.public_key, SS58_PREFIX_G1, addr, sizeof addr), 0);
    CHECK_EQ_STR(addr, "g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu");
    /* the address decodes back to the same key and prefix */
    uint8_t acct[32];
    uint16_t prefix = 0;
    char err[200];
    CHECK_EQ_INT(ss58_decode(addr, acct, &prefix, err, sizeof err), 0);
    CHECK_EQ_INT(prefix, 4450);
    CHECK_EQ_MEM(acct, kp.public_key, 32);
    /* two-byte prefix bytes 0x58 0x91 */
    uint8_t raw[40];
    CHECK_EQ_INT(base58_decode(addr, strlen(addr), raw, sizeof raw), 36);
    CHECK_EQ_INT(raw[0], 0x58);
    CHECK_EQ_INT(raw[1], 0x91);

    /* v1 checksums */
    const char *keys[] = {"J4c8CARmP9vAFNGtHRuzx14zvxojyRWHW2darguVqjtX", "3rp7ahDGeXqffBQTnENiXEFXYS7BRjYmS33NbgfCuDc8"};
    const char *sums[] = {"KAv", "DFQ"};
    for (int i = 0; i < 2; i++) {
        uint8_t pk[32];
        CHECK_EQ_INT(g1_v1_key_decode(keys[i], pk, err, sizeof err), 0);
        g1_v1_checksum(pk, chk);
        CHECK_EQ_STR(chk, sums[i]);
        char with[64];
        snprintf(with, sizeof with, "%s:%s", keys[i], sums[i]);
        CHECK_EQ_INT(g1_v1_key_decode(with, pk, err, sizeof err), 0);
        snprintf(with, sizeof with, "%s:%s", keys[i], "AAA");
        CHECK_EQ_INT(g1_v1_key_decode(with, pk, err, sizeof err), -1);
        CHECK(strstr(err, "checksum") != NULL);
    }
    g1_keypair_wipe(&kp);
}

static void test_base58(void) {
    uint8_t in[40], out[40];
    char text[BASE58_MAX_CHARS];
    CHECK_EQ_INT(base58_encode((const uint8_t *)"hello world", 11, text, sizeof text), 15);
    CHECK_EQ_STR(text, "StV1DL6CwTryKyV");
    /* leading zeros */
    memset(in, 0, 3);
    in[3] = 1;
    CHECK_EQ_INT(base58_encode(in, 4, text, sizeof text), 4);
    CHECK_EQ_STR(text, "1112");
    CHECK_EQ_INT(base58_decode(text, 4, out, sizeof out), 4);
    CHECK_EQ_MEM(out, in, 4);
    /* round trip of pseudo-random data */
    for (int i = 0; i < 40; i++) in[i] = (uint8_t)(i * 37 + 11);
    int n = base58_encode(in, 40, text, sizeof text);
    CHECK(n > 0);
    CHECK_EQ_INT(base58_decode(text, (size_t)n, out, sizeof out), 40);
    CHECK_EQ_MEM(out, in, 40);
    /* refusals: bad characters, too small an output, empty */
    CHECK_EQ_INT(base58_decode("abc0", 4, out, sizeof out), -1);
    CHECK_EQ_INT(base58_decode("abcI", 4, out, sizeof out), -1);
    CHECK_EQ_INT(base58_decode("abcl", 4, out, sizeof out), -1);
    CHECK_EQ_INT(base58_decode("", 0, out, sizeof out), -1);
    CHECK_EQ_INT(base58_decode(text, (size_t)n, out, 10), -1);
    CHECK_EQ_INT(base58_encode(in, 40, text, 10), -1);
}

static void test_ss58(void) {
    uint8_t pk[32], back[32];
    uint16_t prefix;
    char addr[SS58_ADDRESS_MAX], err[200];
    for (int i = 0; i < 32; i++) pk[i] = (uint8_t)(200 - i);
    uint16_t prefixes[] = {0, 2, 42, 63, 64, 255, 4450, 16383};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        CHECK_EQ_INT(ss58_encode(pk, prefixes[i], addr, sizeof addr), 0);
        CHECK_EQ_INT(ss58_decode(addr, back, &prefix, err, sizeof err), 0);
        CHECK_EQ_INT(prefix, prefixes[i]);
        CHECK_EQ_MEM(back, pk, 32);
    }
    CHECK_EQ_INT(ss58_encode(pk, 16384, addr, sizeof addr), -1);
    /* known generic-prefix address of Alice's public key */
    uint8_t alice[32];
    hex_decode("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", 64, alice, 32);
    CHECK_EQ_INT(ss58_encode(alice, 42, addr, sizeof addr), 0);
    CHECK_EQ_STR(addr, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    /* a changed character breaks the checksum */
    char bad[SS58_ADDRESS_MAX];
    strcpy(bad, "g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu");
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    CHECK_EQ_INT(ss58_decode(bad, back, &prefix, err, sizeof err), -1);
    CHECK(strstr(err, "checksum") != NULL);
    CHECK_EQ_INT(ss58_decode("g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJ", back, &prefix, err, sizeof err), -1);
    CHECK_EQ_INT(ss58_decode("not an address at all, nope, nope, nope", back, &prefix, err, sizeof err), -1);
    CHECK_EQ_INT(ss58_decode("", back, &prefix, err, sizeof err), -1);
    /* address parsing: SS58 with the right prefix, v1 key, wrong prefix */
    CHECK_EQ_INT(g1_address_parse("g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu", 4450, back, err, sizeof err), 0);
    uint8_t v1[32];
    CHECK_EQ_INT(g1_address_parse("HgTTJLAQ5sqfknMq7yLPZbehtuLSsKj9CxWN7k8QvYJd", 4450, v1, err, sizeof err), 0);
    CHECK_EQ_MEM(back, v1, 32);
    CHECK_EQ_INT(g1_address_parse("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", 4450, back, err, sizeof err), -1);
    CHECK(strstr(err, "prefix") != NULL);
    CHECK_EQ_INT(g1_address_parse("HgTTJLAQ5sqfknMq7yLPZbehtuLSsKj9CxWN7k8QvYJ0", 4450, back, err, sizeof err), -1);
}

static void test_dunikey(void) {
    g1_keypair ref, kp;
    char err[200], text[512];
    CHECK_EQ_INT(g1_derive_cesium("abc", 3, "def", 3, &ref), 0);
    int n = g1_dunikey_format(&ref, text, sizeof text);
    CHECK(n > 0);
    CHECK(strstr(text, "pub: G2CBgZBPLe6FSFUgpx2Jf1Aqsgta6iib3vmDRA1yLiqU\n") != NULL);
    CHECK_EQ_INT(g1_dunikey_parse(text, (size_t)n, &kp, err, sizeof err), 0);
    CHECK_EQ_MEM(kp.seed, ref.seed, 32);
    CHECK_EQ_MEM(kp.public_key, ref.public_key, 32);
    /* CRLF line endings and extra spaces */
    char crlf[600];
    char pub[G1_V1_KEY_MAX], sec[BASE58_MAX_CHARS];
    g1_v1_key_encode(ref.public_key, pub, sizeof pub);
    base58_encode(ref.secret, 64, sec, sizeof sec);
    n = snprintf(crlf, sizeof crlf, "Type: PubSec\r\nVersion: 1\r\npub:  %s \r\nsec: %s\r\n", pub, sec);
    CHECK_EQ_INT(g1_dunikey_parse(crlf, (size_t)n, &kp, err, sizeof err), 0);
    CHECK_EQ_MEM(kp.seed, ref.seed, 32);
    /* truncated: cut in the middle of sec, and without sec */
    size_t cut = strlen(text) - 10;
    CHECK_EQ_INT(g1_dunikey_parse(text, cut, &kp, err, sizeof err), -1);
    CHECK(strstr(err, "sec") != NULL);
    CHECK_EQ_INT(g1_dunikey_parse(text, (size_t)(strstr(text, "sec:") - text), &kp, err, sizeof err), -1);
    CHECK_EQ_INT(g1_dunikey_parse("", 0, &kp, err, sizeof err), -1);
    /* pub that does not match sec */
    g1_keypair other;
    g1_derive_cesium("abc", 3, "abc", 3, &other);
    char opub[G1_V1_KEY_MAX];
    g1_v1_key_encode(other.public_key, opub, sizeof opub);
    n = snprintf(crlf, sizeof crlf, "Type: PubSec\nVersion: 1\npub: %s\nsec: %s\n", opub, sec);
    CHECK_EQ_INT(g1_dunikey_parse(crlf, (size_t)n, &kp, err, sizeof err), -1);
    CHECK(strstr(err, "match") != NULL);
    /* wrong version, unknown type, EWIF */
    n = snprintf(crlf, sizeof crlf, "Type: PubSec\nVersion: 2\npub: %s\nsec: %s\n", pub, sec);
    CHECK_EQ_INT(g1_dunikey_parse(crlf, (size_t)n, &kp, err, sizeof err), -1);
    CHECK_EQ_INT(g1_dunikey_parse("Type: EWIF\nVersion: 1\nData: abc\n", 32, &kp, err, sizeof err), -1);
    CHECK(strstr(err, "EWIF") != NULL);
    /* WIF v1: 01 ‖ seed ‖ sha256(sha256(01 ‖ seed))[0..2] */
    uint8_t wif[35], h1[32], h2[32];
    wif[0] = 1;
    memcpy(wif + 1, ref.seed, 32);
    crypto_hash_sha256(h1, wif, 33);
    crypto_hash_sha256(h2, h1, 32);
    wif[33] = h2[0];
    wif[34] = h2[1];
    char data[100];
    base58_encode(wif, 35, data, sizeof data);
    n = snprintf(crlf, sizeof crlf, "Type: WIF\nVersion: 1\nData: %s\n", data);
    CHECK_EQ_INT(g1_dunikey_parse(crlf, (size_t)n, &kp, err, sizeof err), 0);
    CHECK_EQ_MEM(kp.public_key, ref.public_key, 32);
    wif[34] ^= 1;
    base58_encode(wif, 35, data, sizeof data);
    n = snprintf(crlf, sizeof crlf, "Type: WIF\nVersion: 1\nData: %s\n", data);
    CHECK_EQ_INT(g1_dunikey_parse(crlf, (size_t)n, &kp, err, sizeof err), -1);
    CHECK(strstr(err, "checksum") != NULL);
    g1_keypair_wipe(&kp);
    g1_keypair_wipe(&ref);
    g1_keypair_wipe(&other);
}

static void test_npub(void) {
    uint8_t pk[32], back[32];
    char err[200], npub[80];
    /* NIP-19 example */
    CHECK_EQ_INT(npub_parse("npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg", pk, err, sizeof err), 0);
    char hex[65];
    hex_encode(pk, 32, hex);
    CHECK_EQ_STR(hex, "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e");
    CHECK_EQ_INT(npub_encode(pk, npub, sizeof npub), 0);
    CHECK_EQ_STR(npub, "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg");
    CHECK_EQ_INT(npub_parse(hex, back, err, sizeof err), 0);
    CHECK_EQ_MEM(back, pk, 32);
    CHECK_EQ_INT(npub_parse("npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptq", pk, err, sizeof err), -1);
    CHECK(strstr(err, "checksum") != NULL);
    CHECK_EQ_INT(npub_parse("nsec10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg", pk, err, sizeof err), -1);
    CHECK_EQ_INT(npub_parse("7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4", pk, err, sizeof err), -1);
    CHECK_EQ_INT(npub_parse("7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4x", pk, err, sizeof err), -1);
}

UNIT_MAIN({
    test_vectors();
    test_base58();
    test_ss58();
    test_dunikey();
    test_npub();
})
