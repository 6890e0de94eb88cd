/* Pure settlement decisions: readiness, batching and summing, remark text,
 * mortal-era expiry arithmetic. */
#include "settle_plan.h"
#include "hex.h"
#include <sodium.h>
#include <string.h>

uint64_t plan_era_last_block(uint64_t birth, uint32_t period) { return birth + period - 1; }

bool plan_era_expired(uint64_t birth, uint32_t period, uint64_t finalized, uint64_t scanned) {
    if (period == 0) return false;
    uint64_t last = plan_era_last_block(birth, period);
    return finalized > last && scanned >= last;
}

uint32_t plan_era_period(uint64_t configured, uint64_t block_hash_count) {
    if (configured < 4 || configured > 65536 || (configured & (configured - 1))) return 0;
    uint64_t p = configured;
    /* Above 4096 the runtime quantizes the era phase, so the birth it derives is not
     * the block whose hash was signed (and the last block would be off): never. */
    while (p > 4096) p >>= 1;
    while (block_hash_count && p > block_hash_count && p > 4) p >>= 1;
    return (uint32_t)p;
}

const char *plan_expired_failure(const char *last_answer) {
    if (last_answer && strcmp(last_answer, "payment") == 0) return "insufficient-funds";
    return NULL;
}

bool plan_ready(size_t count, uint64_t oldest_ms, uint64_t now_ms, uint64_t window_ms, size_t batch_max, bool head_solo) {
    if (count == 0) return false;
    if (head_solo || count >= batch_max) return true;
    return now_ms >= oldest_ms + window_ms;
}

size_t plan_batch(const outbox_intent *pending, size_t n, size_t batch_max, plan_batch_result *out) {
    out->selected_count = 0;
    out->transfer_count = 0;
    if (n == 0 || batch_max == 0) return 0;
    if (batch_max > OUTBOX_MAX_BATCH) batch_max = OUTBOX_MAX_BATCH;
    if (pending[0].flags & OUTBOX_FLAG_SOLO) {
        out->selected[0] = 0;
        out->selected_count = 1;
        memcpy(out->transfers[0].dest, pending[0].to, 32);
        out->transfers[0].amount = pending[0].amount;
        out->transfer_count = 1;
        return 1;
    }
    for (size_t i = 0; i < n && out->selected_count < batch_max; i++) {
        const outbox_intent *it = &pending[i];
        if (it->flags & OUTBOX_FLAG_SOLO) continue;
        size_t t;
        for (t = 0; t < out->transfer_count; t++)
            if (memcmp(out->transfers[t].dest, it->to, 32) == 0 && out->transfers[t].amount <= UINT64_MAX - it->amount) break;
        if (t < out->transfer_count) out->transfers[t].amount += it->amount;
        else {
            memcpy(out->transfers[out->transfer_count].dest, it->to, 32);
            out->transfers[out->transfer_count].amount = it->amount;
            out->transfer_count++;
        }
        out->selected[out->selected_count++] = i;
    }
    return out->selected_count;
}

size_t plan_remark(const char (*keys)[OUTBOX_MAX_KEY + 1], size_t n, char *out, size_t outlen) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    size_t len = 0, joined = 6;
    for (size_t i = 0; i < n; i++) joined += strlen(keys[i]) + (i ? 1 : 0);
    bool inline_keys = joined <= 1024 && joined < outlen;
    if (outlen < 6 + 7 + 65) { if (outlen) out[0] = 0; return 0; }
    memcpy(out, "nostr:", 6);
    len = 6;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(keys[i]);
        if (i) crypto_hash_sha256_update(&st, (const unsigned char *)",", 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)keys[i], kl);
        if (inline_keys) {
            if (i) out[len++] = ',';
            memcpy(out + len, keys[i], kl);
            len += kl;
        }
    }
    if (!inline_keys) {
        uint8_t h[32];
        crypto_hash_sha256_final(&st, h);
        memcpy(out + len, "sha256:", 7);
        len += 7;
        hex_encode(h, 32, out + len);
        len += 64;
    }
    out[len] = 0;
    return len;
}
