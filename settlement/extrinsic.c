/* Extrinsic builder: call encoding checked against metadata, signed extensions,
 * signing payload, v4 signed extrinsic assembly and hash. */
#include "extrinsic.h"
#include "g1keys.h"
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int ex_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ex_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void extrinsic_blake2_256(const uint8_t *data, size_t len, uint8_t out[32]) {
    crypto_generichash(out, 32, data, len, NULL, 0);
}

uint16_t extrinsic_mortal_era(uint32_t period, uint64_t block) {
    unsigned log2p = 0;
    while ((1u << (log2p + 1)) <= period) log2p++;
    unsigned low = log2p > 1 ? log2p - 1 : 1;
    if (low > 15) low = 15;
    uint32_t quantize = period >> 12 ? period >> 12 : 1;
    uint64_t phase = block % period;
    return (uint16_t)(low | ((phase / quantize) << 4));
}

/* Unwraps single-field composites (newtypes). */
static uint32_t ex_unwrap(const metadata *md, uint32_t ty) {
    for (int i = 0; i < 8; i++) {
        metadata_type_info info;
        uint32_t inner;
        if (metadata_type(md, ty, &info) < 0 || info.kind != MD_COMPOSITE || info.field_count != 1 ||
            metadata_type_field(md, ty, 0, &inner) < 0)
            break;
        ty = inner;
    }
    return ty;
}

static bool ex_is_primitive(const metadata *md, uint32_t ty, uint8_t prim) {
    metadata_type_info info;
    return metadata_type(md, ex_unwrap(md, ty), &info) == 0 && info.kind == MD_PRIMITIVE && info.primitive == prim;
}

static bool ex_is_bytes32(const metadata *md, uint32_t ty) {
    metadata_type_info info;
    return metadata_type(md, ex_unwrap(md, ty), &info) == 0 && info.kind == MD_ARRAY && info.array_len == 32 &&
           ex_is_primitive(md, info.inner, MD_PRIM_U8);
}

/* A compact of an unsigned integer at least 64 bits wide. */
static bool ex_is_compact_u64_or_more(const metadata *md, uint32_t ty) {
    metadata_type_info info;
    return metadata_type(md, ex_unwrap(md, ty), &info) == 0 && info.kind == MD_COMPACT &&
           (ex_is_primitive(md, info.inner, MD_PRIM_U64) || ex_is_primitive(md, info.inner, MD_PRIM_U128));
}

/* An enum whose variant `name` has index 0 and one 32-byte field. */
static bool ex_is_variant0_bytes(const metadata *md, uint32_t ty, const char *name, size_t size) {
    metadata_variant v;
    if (metadata_find_variant(md, ty, name, &v) < 0 || v.index != 0 || v.field_count != 1) return false;
    if (size == 32) return ex_is_bytes32(md, v.field_types[0]);
    metadata_type_info info;
    return metadata_type(md, ex_unwrap(md, v.field_types[0]), &info) == 0 && info.kind == MD_ARRAY &&
           info.array_len == size && ex_is_primitive(md, info.inner, MD_PRIM_U8);
}

static int ex_find(const metadata *md, const char *pallet, const char *call, metadata_call *c, char *err, size_t errlen) {
    int rc = metadata_find_call(md, pallet, call, c);
    if (rc == -1) return ex_fail(err, errlen, "runtime metadata has no pallet %s with calls", pallet);
    if (rc < 0) return ex_fail(err, errlen, "runtime metadata has no call %s.%s", pallet, call);
    return 0;
}

int extrinsic_encode_call(const metadata *md, const extrinsic_transfer *transfers, size_t n,
                          const uint8_t *remark, size_t remark_len, scale_buf *call,
                          char *err, size_t errlen) {
    metadata_call tr, batch, rem;
    metadata_type_info info;
    if (n == 0 && !remark) return ex_fail(err, errlen, "nothing to transfer");
    if (n > EXTRINSIC_MAX_TRANSFERS) return ex_fail(err, errlen, "too many transfers (%zu > %d)", n, EXTRINSIC_MAX_TRANSFERS);
    if (remark && remark_len > EXTRINSIC_MAX_REMARK) return ex_fail(err, errlen, "remark too long (%zu > %d bytes)", remark_len, EXTRINSIC_MAX_REMARK);
    for (size_t i = 0; i < n; i++)
        if (transfers[i].amount == 0) return ex_fail(err, errlen, "transfer %zu: amount must be positive", i + 1);
    if (ex_find(md, "Balances", "transfer_keep_alive", &tr, err, errlen) < 0) return -1;
    if (tr.arg_count != 2 || !ex_is_variant0_bytes(md, tr.arg_types[0], "Id", 32) ||
        !ex_is_compact_u64_or_more(md, tr.arg_types[1]))
        return ex_fail(err, errlen, "Balances.transfer_keep_alive is not (MultiAddress dest, Compact value) in this runtime");
    bool batched = n > 1 || remark;
    if (batched) {
        if (ex_find(md, "Utility", "batch_all", &batch, err, errlen) < 0) return -1;
        if (batch.arg_count != 1 || metadata_type(md, batch.arg_types[0], &info) < 0 || info.kind != MD_SEQUENCE)
            return ex_fail(err, errlen, "Utility.batch_all is not (Vec<Call>) in this runtime");
        if (remark) {
            if (ex_find(md, "System", "remark_with_event", &rem, err, errlen) < 0) return -1;
            if (rem.arg_count != 1 || metadata_type(md, rem.arg_types[0], &info) < 0 || info.kind != MD_SEQUENCE ||
                !ex_is_primitive(md, info.inner, MD_PRIM_U8))
                return ex_fail(err, errlen, "System.remark_with_event is not (Vec<u8>) in this runtime");
        }
        scale_put_u8(call, batch.pallet_index);
        scale_put_u8(call, batch.call_index);
        scale_put_compact(call, n + (remark ? 1 : 0));
    }
    for (size_t i = 0; i < n; i++) {
        scale_put_u8(call, tr.pallet_index);
        scale_put_u8(call, tr.call_index);
        scale_put_u8(call, 0); /* MultiAddress::Id */
        scale_put_raw(call, transfers[i].dest, 32);
        scale_put_compact(call, transfers[i].amount);
    }
    if (remark) {
        scale_put_u8(call, rem.pallet_index);
        scale_put_u8(call, rem.call_index);
        scale_put_bytes(call, remark, remark_len);
    }
    if (call->failed) return ex_fail(err, errlen, "out of memory");
    return 0;
}

int extrinsic_keypair_signer(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]) {
    g1_keypair *kp = ctx;
    g1_sign(kp, msg, len, sig);
    return 0;
}

static bool ex_period_ok(uint32_t p) { return p >= 4 && p <= 65536 && (p & (p - 1)) == 0; }

int extrinsic_signing_payload(const metadata *md, const extrinsic_params *p, const uint8_t *call,
                              size_t call_len, scale_buf *payload, scale_buf *extra,
                              char *err, size_t errlen) {
    scale_buf additional;
    scale_buf_init(&additional);
    int rc = -1;
    if (p->mortal && !ex_period_ok(p->era_period)) {
        ex_fail(err, errlen, "era period %u is not a power of two between 4 and 65536", p->era_period);
        goto out;
    }
    size_t count = metadata_extension_count(md);
    for (size_t i = 0; i < count; i++) {
        const char *name = metadata_extension_name(md, i);
        uint32_t extra_ty = metadata_extension_extra_type(md, i);
        uint32_t add_ty = metadata_extension_additional_type(md, i);
        bool extra_empty = metadata_type_is_empty(md, extra_ty), add_empty = metadata_type_is_empty(md, add_ty);
        if (strcmp(name, "CheckNonZeroSender") == 0 || strcmp(name, "CheckWeight") == 0) {
            if (!extra_empty || !add_empty) { ex_fail(err, errlen, "signed extension %s carries data in this runtime: refusing to sign", name); goto out; }
        } else if (strcmp(name, "CheckSpecVersion") == 0 || strcmp(name, "CheckTxVersion") == 0) {
            if (!extra_empty || !ex_is_primitive(md, add_ty, MD_PRIM_U32)) { ex_fail(err, errlen, "signed extension %s has an unexpected shape", name); goto out; }
            scale_put_u32(&additional, strcmp(name, "CheckSpecVersion") == 0 ? p->spec_version : p->tx_version);
        } else if (strcmp(name, "CheckGenesis") == 0) {
            if (!extra_empty || !ex_is_bytes32(md, add_ty)) { ex_fail(err, errlen, "signed extension %s has an unexpected shape", name); goto out; }
            scale_put_raw(&additional, p->genesis_hash, 32);
        } else if (strcmp(name, "CheckMortality") == 0 || strcmp(name, "CheckEra") == 0) {
            if (!ex_is_bytes32(md, add_ty)) { ex_fail(err, errlen, "signed extension %s has an unexpected shape", name); goto out; }
            if (p->mortal) {
                scale_put_u16(extra, extrinsic_mortal_era(p->era_period, p->era_block_number));
                scale_put_raw(&additional, p->era_block_hash, 32);
            } else {
                scale_put_u8(extra, 0);
                scale_put_raw(&additional, p->genesis_hash, 32);
            }
        } else if (strcmp(name, "CheckNonce") == 0) {
            metadata_type_info info;
            if (!add_empty || metadata_type(md, ex_unwrap(md, extra_ty), &info) < 0 || info.kind != MD_COMPACT) {
                ex_fail(err, errlen, "signed extension %s has an unexpected shape", name);
                goto out;
            }
            if (ex_is_primitive(md, info.inner, MD_PRIM_U32) && p->nonce > UINT32_MAX) {
                ex_fail(err, errlen, "nonce %llu does not fit the runtime's u32 nonce", (unsigned long long)p->nonce);
                goto out;
            }
            scale_put_compact(extra, p->nonce);
        } else if (strcmp(name, "ChargeTransactionPayment") == 0) {
            if (!add_empty || !ex_is_compact_u64_or_more(md, extra_ty)) { ex_fail(err, errlen, "signed extension %s has an unexpected shape", name); goto out; }
            scale_put_compact(extra, p->tip);
        } else if (strcmp(name, "CheckMetadataHash") == 0) {
            scale_put_u8(extra, 0);      /* Mode::Disabled */
            scale_put_u8(&additional, 0); /* Option<[u8;32]>::None */
        } else {
            ex_fail(err, errlen, "unknown signed extension '%s' in the runtime metadata: refusing to sign", name);
            goto out;
        }
    }
    scale_put_raw(payload, call, call_len);
    scale_put_raw(payload, extra->data, extra->len);
    scale_put_raw(payload, additional.data, additional.len);
    if (payload->failed || extra->failed || additional.failed) { ex_fail(err, errlen, "out of memory"); goto out; }
    rc = 0;
out:
    scale_buf_free(&additional);
    return rc;
}

int extrinsic_sign(const metadata *md, const extrinsic_params *p, const uint8_t *call, size_t call_len,
                   const uint8_t signer[32], extrinsic_sign_fn sign, void *sign_ctx,
                   scale_buf *out, uint8_t hash[32], char *err, size_t errlen) {
    scale_buf payload, extra, body;
    scale_buf_init(&payload);
    scale_buf_init(&extra);
    scale_buf_init(&body);
    scale_buf_init(out);
    uint8_t sig[64], digest[32];
    int rc = -1;
    uint32_t address_ty, signature_ty;
    if (!metadata_supports_extrinsic_version(md, 4)) { ex_fail(err, errlen, "runtime does not accept v4 extrinsics"); goto out; }
    if (metadata_extrinsic_types(md, &address_ty, &signature_ty) == 0) {
        if (!ex_is_variant0_bytes(md, address_ty, "Id", 32))
            { ex_fail(err, errlen, "runtime's extrinsic address is not MultiAddress with Id at index 0"); goto out; }
        if (!ex_is_variant0_bytes(md, signature_ty, "Ed25519", 64))
            { ex_fail(err, errlen, "runtime's extrinsic signature is not MultiSignature with Ed25519 at index 0"); goto out; }
    }
    if (extrinsic_signing_payload(md, p, call, call_len, &payload, &extra, err, errlen) < 0) goto out;
    const uint8_t *msg = payload.data;
    size_t msg_len = payload.len;
    if (payload.len > 256) {
        extrinsic_blake2_256(payload.data, payload.len, digest);
        msg = digest;
        msg_len = 32;
    }
    if (sign(sign_ctx, msg, msg_len, sig) != 0) { ex_fail(err, errlen, "signing failed"); goto out; }
    scale_put_u8(&body, 0x84); /* signed, format version 4 */
    scale_put_u8(&body, 0x00); /* MultiAddress::Id */
    scale_put_raw(&body, signer, 32);
    scale_put_u8(&body, 0x00); /* MultiSignature::Ed25519 */
    scale_put_raw(&body, sig, 64);
    scale_put_raw(&body, extra.data, extra.len);
    scale_put_raw(&body, call, call_len);
    scale_put_compact(out, body.len);
    scale_put_raw(out, body.data, body.len);
    if (body.failed || out->failed) { ex_fail(err, errlen, "out of memory"); goto out; }
    extrinsic_blake2_256(out->data, out->len, hash);
    rc = 0;
out:
    if (rc < 0) scale_buf_free(out);
    scale_buf_free(&payload);
    scale_buf_free(&extra);
    scale_buf_free(&body);
    sodium_memzero(sig, sizeof sig);
    return rc;
}
