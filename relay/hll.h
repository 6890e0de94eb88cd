/* NIP-45 HyperLogLog: the 256 registers a relay may return with a COUNT, so
 * that clients can merge counts from several relays (reactions, followers...).
 * Only the register update and the offset rule are specified (NIP-45
 * "HyperLogLog"); the estimate is the client's business. */
#ifndef G1_HLL_H
#define G1_HLL_H
#include <stdbool.h>
#include <stdint.h>
#include "filter.h"

#define HLL_REGISTERS 256

/* The offset (8..23) for a COUNT's filters, or false when they are not
 * eligible. Eligible here: one filter with exactly one tag attribute holding
 * one value (the NIP's "common filters"); with several the NIP's "first" one
 * depends on the JSON order, which the parsed filter does not keep. */
bool hll_offset_for(const filter *filters, uint32_t filter_count, unsigned *offset);
/* The offset rule applied to one tag value: a 64-hex id or pubkey as it is,
 * an address kind:pubkey:d by its pubkey, anything else by its sha256. */
unsigned hll_offset_of_value(const char *value, uint32_t len);
/* Counts one event's pubkey into the registers. */
void hll_add(uint8_t registers[HLL_REGISTERS], unsigned offset, const uint8_t pubkey[32]);
#endif
