/* Unit test: the mortal era the engine signs must be born exactly at the block it
 * records (settle_plan.c plan_era_period + extrinsic.c extrinsic_mortal_era). The
 * runtime derives the birth from the encoded era (Substrate's Era::birth, phase
 * quantized for periods above 4096) and checks the signature against that block's
 * hash: a quantized birth differs from the recorded block, so such an extrinsic
 * could never be valid. Every period the engine may pick must give birth == block. */
#include "unit.h"
#include "extrinsic.h"
#include "settle_plan.h"
#include <stdint.h>

/* Substrate: Era::decode then Era::birth(current). */
static uint64_t substrate_birth(uint16_t enc, uint64_t current, uint64_t *period_out) {
    uint64_t period = 2ull << (enc % 16);
    uint64_t quantize = period >> 12 ? period >> 12 : 1;
    uint64_t phase = (uint64_t)(enc >> 4) * quantize;
    *period_out = period;
    uint64_t c = current > phase ? current : phase;
    return (c - phase) / period * period + phase;
}

static void run_tests(void) {
    static const uint64_t blocks[] = {0, 1, 7, 4095, 4097, 8191, 12345, 65537, 1000003, 123456789};
    for (uint64_t configured = 4; configured <= 65536; configured *= 2) {
        uint32_t p = plan_era_period(configured, 0);
        CHECK(p >= 4 && p <= configured);
        for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
            uint64_t period;
            uint64_t birth = substrate_birth(extrinsic_mortal_era(p, blocks[i]), blocks[i], &period);
            CHECK_EQ_INT(period, p);
            if (birth != blocks[i]) printf("  configured %llu, period %u, block %llu: birth %llu\n",
                                           (unsigned long long)configured, p, (unsigned long long)blocks[i],
                                           (unsigned long long)birth);
            CHECK_EQ_INT(birth, blocks[i]);
            CHECK_EQ_INT(plan_era_last_block(blocks[i], p), birth + period - 1);
        }
    }
}

UNIT_MAIN(run_tests())
