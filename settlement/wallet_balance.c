/* `g1relay wallet balance`: reads System.Account of an account from a Ğ1 node
 * (key and AccountInfo layout from the node's runtime metadata) and prints it. */
#include "wallet_balance.h"
#include "chain_state.h"
#include "log.h"
#include "metadata.h"
#include "node_client.h"
#include "ss58.h"
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>

int wallet_balance_print(const config *cfg, const uint8_t account[32], char *err, size_t errlen) {
    const char *const *nodes;
    size_t n = config_list(cfg, NULL, "g1_nodes", &nodes);
    long long timeout = config_int(cfg, NULL, "g1_rpc_timeout_ms", 10000);
    lws_set_log_level(LLL_ERR, NULL);
    char ca_file[1024];
    if (config_file_path(cfg, "tls_ca_file", ca_file, sizeof ca_file, err, errlen) != 0) return -1;
    node_client *nc = node_client_new(nodes, n, (int)timeout, ca_file, err, errlen);
    if (!nc) return -1;
    int rc = -1;
    char *hex = NULL;
    size_t hlen;
    metadata *md = NULL;
    uint8_t *val = NULL;
    size_t vlen;
    bool present;
    if (node_metadata_hex(nc, &hex, &hlen, err, errlen) != NODE_OK) goto out;
    md = metadata_parse((const uint8_t *)hex, hlen, err, errlen);
    if (!md) goto out;
    uint64_t prefix = SS58_PREFIX_G1;
    metadata_constant_uint(md, "System", "SS58Prefix", &prefix);
    uint8_t key[CHAIN_STORAGE_KEY_MAX];
    size_t klen = chain_account_storage_key(md, account, key);
    if (!klen) { snprintf(err, errlen, "the node's metadata has no usable System.Account"); goto out; }
    if (node_storage(nc, key, klen, NULL, &val, &vlen, &present, err, errlen) != NODE_OK) goto out;
    chain_account acc;
    if (chain_account_decode(md, present ? val : NULL, present ? vlen : 0, &acc, err, errlen) < 0) goto out;
    char addr[SS58_ADDRESS_MAX];
    ss58_encode(account, (uint16_t)prefix, addr, sizeof addr);
    printf("%s free %llu reserved %llu frozen %llu nonce %llu%s\n", addr, (unsigned long long)acc.free,
           (unsigned long long)acc.reserved, (unsigned long long)acc.frozen, (unsigned long long)acc.nonce,
           present ? "" : " (account does not exist on chain)");
    fflush(stdout);
    rc = 0;
out:
    free(val);
    free(hex);
    metadata_free(md);
    node_client_free(nc);
    return rc;
}
