/* Duniter v2s JSON-RPC client with failover: a list of node URLs tried in
 * order; a node that fails (refused, timeout, garbage) is skipped for a backoff
 * that doubles on each failure (500 ms up to 60 s) and resets on success.
 * Typed helpers for the methods settlement needs: genesis hash, runtime
 * version, metadata, account nonce, storage reads, heads, headers, blocks, and
 * extrinsic submission with the node's refusal classified (submit_error.h).
 *
 * A node_client belongs to one thread. Results are bounded and validated. */
#ifndef G1_NODE_CLIENT_H
#define G1_NODE_CLIENT_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "submit_error.h"

typedef struct node_client node_client;

#define NODE_MAX_URLS 16

/* urls: n >= 1 (http://, https://, ws://, wss://). timeout_ms per request.
 * tls_ca_file: see rpc_transport_new (NULL: the system's authorities). */
node_client *node_client_new(const char *const *urls, size_t n, int timeout_ms, const char *tls_ca_file, char *err,
                             size_t errlen);
void node_client_free(node_client *nc);

typedef enum {
    NODE_OK = 0,
    NODE_RPC_ERROR,    /* the node answered with a JSON-RPC error (code/message/data in rpc_error) */
    NODE_UNREACHABLE,  /* no node answered (all failed or backing off) */
    NODE_BAD_ANSWER    /* an answer that does not have the expected shape */
} node_status;

typedef struct {
    int code;
    char message[160];
    char data[240];
} node_rpc_error;

/* One call. params is consumed (may be NULL for []). On NODE_OK *result is the
 * "result" member (caller frees with cJSON_Delete). err explains other results. */
node_status node_call(node_client *nc, const char *method, cJSON *params, cJSON **result,
                      node_rpc_error *rpc_err, char *err, size_t errlen);

/* URL of the node that answered last (for logs). */
const char *node_client_current_url(const node_client *nc);
/* Index of the node that answered last: callers that must not mix two nodes'
 * views (e.g. "finalized up to N" from one, blocks from another) compare it. */
size_t node_client_current(const node_client *nc);

node_status node_genesis_hash(node_client *nc, uint8_t hash[32], char *err, size_t errlen);
node_status node_runtime_version(node_client *nc, uint32_t *spec_version, uint32_t *tx_version, char *err, size_t errlen);
/* The runtime version in force at block `at` (NULL = best). */
node_status node_runtime_version_at(node_client *nc, const uint8_t *at, uint32_t *spec_version, uint32_t *tx_version,
                                    char *err, size_t errlen);
/* Raw metadata hex text ("0x…", malloc'd) for metadata_parse. */
node_status node_metadata_hex(node_client *nc, char **hex, size_t *len, char *err, size_t errlen);
/* The same, of the runtime in force at block `at` (NULL = best). */
node_status node_metadata_hex_at(node_client *nc, const uint8_t *at, char **hex, size_t *len, char *err, size_t errlen);
node_status node_account_next_index(node_client *nc, const char *address, uint64_t *nonce, char *err, size_t errlen);
node_status node_finalized_head(node_client *nc, uint8_t hash[32], char *err, size_t errlen);
/* Header of a block (NULL hash = best): its number, and parent hash. */
node_status node_header(node_client *nc, const uint8_t *hash, uint64_t *number, uint8_t parent[32], char *err, size_t errlen);
/* Hash of block number n; *found false if the node has no such block. */
node_status node_block_hash(node_client *nc, uint64_t n, uint8_t hash[32], bool *found, char *err, size_t errlen);
/* The extrinsic hashes (blake2b-256 of each extrinsic) of a block, in order.
 * *hashes is malloc'd (count * 32 bytes). */
node_status node_block_extrinsic_hashes(node_client *nc, const uint8_t hash[32], uint8_t **hashes, size_t *count,
                                        char *err, size_t errlen);
/* state_getStorage at a block (NULL = best). *present false when the node
 * answers null. *value malloc'd. */
node_status node_storage(node_client *nc, const uint8_t *key, size_t key_len, const uint8_t *at,
                         uint8_t **value, size_t *len, bool *present, char *err, size_t errlen);

/* author_submitExtrinsic. Returns NODE_OK with *kind SUBMIT_ACCEPTED, or
 * NODE_RPC_ERROR with *kind the classified refusal (see submit_error.h), or
 * another status when no node answered (the extrinsic may or may not have
 * reached a node: treat it as possibly sent). */
node_status node_submit(node_client *nc, const uint8_t *ext, size_t len, submit_kind *kind, node_rpc_error *rpc_err,
                        char *err, size_t errlen);
#endif
