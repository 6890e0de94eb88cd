/* Balance of one account read from a Ğ1 node (for `g1relay wallet balance`). */
#ifndef G1_WALLET_BALANCE_H
#define G1_WALLET_BALANCE_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"

/* Asks the nodes of config g1_nodes, prints one line to stdout:
 *   ADDRESS free N reserved N frozen N nonce N
 * (centimes; " (account does not exist on chain)" appended for an absent
 * account). Returns 0, or -1 with err. */
int wallet_balance_print(const config *cfg, const uint8_t account[32], char *err, size_t errlen);
#endif
