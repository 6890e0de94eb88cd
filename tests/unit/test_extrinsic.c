/* Extrinsic builder: the byte-exact BRIEF §6 extrinsic and hash against the g1
 * metadata, mortal era encoding, batch and remark shapes, hashed payloads over
 * 256 bytes (signature checked against blake2b-256 of the payload), and refusals
 * (zero amount, bad era, nonce overflow). */
#include "unit.h"
#include "extrinsic.h"
#include "g1keys.h"
#include "hex.h"
#include <sodium.h>

static metadata *load(const char *file) {
    const char *dir = getenv("G1_SHARED");
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/g1/%s", dir && *dir ? dir : "../shared", file);
    metadata *md = metadata_load_file(path, err, sizeof err);
    if (!md) printf("%s\n", err);
    return md;
}

static const char vector_hex[] =
    "31028400f7d68da919331a9bd52a4ff81c8c740e6f76635224895d4c371e68d5c7f31032000f2fb53126fc8059cb1d27ec20eced7cdd4051aeb335ee0aef15b11c8a434fd49439dab6a942170b973c5cc92eb1170d59981a162d7afda3943181d6d4572c0700000000060300df2d87db2ba1bcf294b61a2a605a1dd643af9f823ad99e8785d0f54b98ca2e779101";
static const char vector_hash[] = "0f28bc2b3ce55a32af3c035a183c5442ae0c76510ab1388401275d566eee1394";
static const char g1_genesis[] = "feb770bbb0344dabc8366b0d1f889a8e4e6ca09b914006655fe795920deb6d56";

static void base_params(extrinsic_params *p) {
    memset(p, 0, sizeof *p);
    p->spec_version = 1100;
    p->tx_version = 1;
    hex_decode(g1_genesis, 64, p->genesis_hash, 32);
}

static void test_vector(metadata *md) {
    g1_keypair from, to;
    g1_derive_cesium("abc", 3, "abc", 3, &from);
    g1_derive_cesium("abc", 3, "def", 3, &to);
    extrinsic_transfer t;
    memcpy(t.dest, to.public_key, 32);
    t.amount = 100;
    scale_buf call, out;
    scale_buf_init(&call);
    char err[256];
    CHECK_EQ_INT(extrinsic_encode_call(md, &t, 1, NULL, 0, &call, err, sizeof err), 0);
    extrinsic_params p;
    base_params(&p);
    uint8_t hash[32];
    CHECK_EQ_INT(extrinsic_sign(md, &p, call.data, call.len, from.public_key, extrinsic_keypair_signer, &from,
                                &out, hash, err, sizeof err), 0);
    char *hex = malloc(out.len * 2 + 1);
    hex_encode(out.data, out.len, hex);
    CHECK_EQ_STR(hex, vector_hex);
    char hh[65];
    hex_encode(hash, 32, hh);
    CHECK_EQ_STR(hh, vector_hash);
    free(hex);
    scale_buf_free(&out);

    /* mortal era: period 64 at block 1000 -> 0x0205 ... check formula values */
    CHECK_EQ_INT(extrinsic_mortal_era(64, 1000), 5 | ((1000 % 64) << 4));
    CHECK_EQ_INT(extrinsic_mortal_era(4, 7), 1 | (3 << 4));
    CHECK_EQ_INT(extrinsic_mortal_era(2048, 5000), 10 | ((5000 % 2048) << 4));
    CHECK_EQ_INT(extrinsic_mortal_era(65536, 70000), 15 | (((70000 % 65536) / 16) << 4));
    p.mortal = true;
    p.era_period = 64;
    p.era_block_number = 1000;
    memset(p.era_block_hash, 0xab, 32);
    scale_buf payload, extra;
    scale_buf_init(&payload);
    scale_buf_init(&extra);
    int prc = extrinsic_signing_payload(md, &p, call.data, call.len, &payload, &extra, err, sizeof err);
    if (prc) printf("payload: %s\n", err);
    CHECK_EQ_INT(prc, 0);
    if (prc) { scale_buf_free(&payload); scale_buf_free(&extra); scale_buf_free(&call); return; }
    /* extra = era(2) nonce(1) tip(1) mode(1); additional = spec4 tx4 genesis32 blockhash32 none1 */
    CHECK_EQ_INT(extra.len, 5);
    uint16_t era = extrinsic_mortal_era(64, 1000);
    CHECK_EQ_INT(extra.data[0], era & 0xff);
    CHECK_EQ_INT(extra.data[1], era >> 8);
    CHECK_EQ_INT(payload.len, call.len + 5 + 4 + 4 + 32 + 32 + 1);
    CHECK_EQ_MEM(payload.data + call.len + 5 + 8 + 32, p.era_block_hash, 32);
    scale_buf_free(&payload);
    scale_buf_free(&extra);
    p.era_period = 100; /* not a power of two */
    scale_buf_init(&payload);
    scale_buf_init(&extra);
    CHECK_EQ_INT(extrinsic_signing_payload(md, &p, call.data, call.len, &payload, &extra, err, sizeof err), -1);
    CHECK(strstr(err, "power of two") != NULL);
    scale_buf_free(&payload);
    scale_buf_free(&extra);
    p.mortal = false;
    p.nonce = (uint64_t)UINT32_MAX + 1;
    CHECK_EQ_INT(extrinsic_sign(md, &p, call.data, call.len, from.public_key, extrinsic_keypair_signer, &from,
                                &out, hash, err, sizeof err), -1);
    CHECK(strstr(err, "nonce") != NULL);
    CHECK_EQ_INT(out.len, 0);
    scale_buf_free(&call);

    /* zero amount refused */
    t.amount = 0;
    scale_buf_init(&call);
    CHECK_EQ_INT(extrinsic_encode_call(md, &t, 1, NULL, 0, &call, err, sizeof err), -1);
    scale_buf_free(&call);
    g1_keypair_wipe(&from);
    g1_keypair_wipe(&to);
}

static void test_batch(metadata *md, uint8_t utility_index) {
    g1_keypair from;
    g1_derive_cesium("abc", 3, "abc", 3, &from);
    extrinsic_transfer t[8];
    for (int i = 0; i < 8; i++) { memset(t[i].dest, i + 1, 32); t[i].amount = 100u * (unsigned)(i + 1); }
    const char *remark = "nostr:receipts d1 d2";
    scale_buf call, out;
    scale_buf_init(&call);
    char err[256];
    CHECK_EQ_INT(extrinsic_encode_call(md, t, 2, (const uint8_t *)remark, strlen(remark), &call, err, sizeof err), 0);
    /* batch_all header, Compact(3), then transfer calls */
    CHECK_EQ_INT(call.data[0], utility_index);
    CHECK_EQ_INT(call.data[1], 2);
    CHECK_EQ_INT(call.data[2], 3 << 2);
    CHECK_EQ_INT(call.data[3], 6);
    CHECK_EQ_INT(call.data[4], 3);
    size_t one = 2 + 1 + 32 + 2; /* amount 100 -> 2-byte compact */
    size_t rem_at = 3 + 2 * one + 1; /* second amount 200 also 2 bytes */
    CHECK_EQ_INT(call.data[rem_at - 1 + 0], 0); /* System pallet index at rem_at-1? checked below */
    CHECK_EQ_INT(call.len, 3 + 2 * one + 2 + 1 + strlen(remark));
    CHECK_EQ_MEM(call.data + call.len - strlen(remark), remark, strlen(remark));
    scale_buf_free(&call);

    /* many transfers: payload over 256 bytes is signed hashed */
    scale_buf_init(&call);
    CHECK_EQ_INT(extrinsic_encode_call(md, t, 8, (const uint8_t *)remark, strlen(remark), &call, err, sizeof err), 0);
    CHECK(call.len > 256);
    extrinsic_params p;
    base_params(&p);
    p.nonce = 70000;
    p.tip = 5;
    uint8_t hash[32];
    int src = extrinsic_sign(md, &p, call.data, call.len, from.public_key, extrinsic_keypair_signer, &from,
                             &out, hash, err, sizeof err);
    if (src) printf("sign: %s\n", err);
    CHECK_EQ_INT(src, 0);
    if (src) { scale_buf_free(&call); return; }
    scale_buf payload, extra;
    scale_buf_init(&payload);
    scale_buf_init(&extra);
    extrinsic_signing_payload(md, &p, call.data, call.len, &payload, &extra, err, sizeof err);
    uint8_t digest[32];
    extrinsic_blake2_256(payload.data, payload.len, digest);
    /* locate the signature: Compact(len) then 0x84 00 signer32 00 sig64 */
    size_t off = out.data[0] & 3 ? ((out.data[0] & 3) == 1 ? 2 : 4) : 1;
    CHECK_EQ_INT(out.data[off], 0x84);
    const uint8_t *sig = out.data + off + 1 + 1 + 32 + 1;
    CHECK_EQ_INT(crypto_sign_verify_detached(sig, digest, 32, from.public_key), 0);
    CHECK(crypto_sign_verify_detached(sig, payload.data, payload.len, from.public_key) != 0);
    /* extra after the signature: era 00, nonce compact 70000, tip 5 (0x14), mode 00 */
    const uint8_t *ex = sig + 64;
    CHECK_EQ_INT(ex[0], 0);
    CHECK_EQ_INT(ex[1], (70000 << 2 | 2) & 0xff);
    CHECK_EQ_INT(ex[5], 5 << 2);
    CHECK_EQ_INT(ex[6], 0);
    CHECK_EQ_MEM(ex + 7, call.data, call.len);
    CHECK_EQ_INT(out.len - off, 1 + 33 + 65 + 7 + call.len);
    scale_buf_free(&payload);
    scale_buf_free(&extra);
    scale_buf_free(&out);
    scale_buf_free(&call);
    g1_keypair_wipe(&from);
}

UNIT_MAIN({
    setvbuf(stdout, NULL, _IONBF, 0);
    metadata *g1 = load("g1_metadata.scale");
    CHECK(g1 != NULL);
    if (g1) { test_vector(g1); test_batch(g1, 54); metadata_free(g1); }
    metadata *gdev = load("gdev_metadata.scale");
    CHECK(gdev != NULL);
    if (gdev) { test_batch(gdev, 54); metadata_free(gdev); }
})
