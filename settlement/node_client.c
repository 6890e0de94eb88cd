/* Duniter v2s JSON-RPC client: failover over several nodes with exponential
 * backoff, JSON-RPC 2.0 envelopes (cJSON), and typed helpers whose results
 * are checked for shape and size before use. */
#include "node_client.h"
#include "extrinsic.h"
#include "hex.h"
#include "log.h"
#include "rpc_transport.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
#define MAX_BLOCK_EXTRINSICS 100000
#define MAX_EXTRINSIC_HEX (8u * 1024 * 1024)

typedef struct {
    rpc_transport *t;
    uint64_t retry_at_ms;    /* skip until then */
    uint32_t backoff_ms;
} node_entry;

struct node_client {
    node_entry nodes[NODE_MAX_URLS];
    size_t count;
    size_t current;          /* preferred node: the one that answered last */
    int timeout_ms;
    uint64_t next_id;
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

node_client *node_client_new(const char *const *urls, size_t n, int timeout_ms, const char *tls_ca_file, char *err,
                             size_t errlen) {
    if (n == 0) { snprintf(err, errlen, "no Ğ1 node configured (--g1-node URL or config g1_nodes)"); return NULL; }
    if (n > NODE_MAX_URLS) { snprintf(err, errlen, "at most %d Ğ1 nodes", NODE_MAX_URLS); return NULL; }
    node_client *nc = calloc(1, sizeof *nc);
    if (!nc) { snprintf(err, errlen, "out of memory"); return NULL; }
    for (size_t i = 0; i < n; i++) {
        nc->nodes[i].t = rpc_transport_new(urls[i], tls_ca_file, err, errlen);
        if (!nc->nodes[i].t) { nc->count = i; node_client_free(nc); return NULL; }
    }
    nc->count = n;
    nc->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    nc->next_id = 1;
    return nc;
}

void node_client_free(node_client *nc) {
    if (!nc) return;
    for (size_t i = 0; i < nc->count; i++) rpc_transport_free(nc->nodes[i].t);
    free(nc);
}

const char *node_client_current_url(const node_client *nc) { return rpc_transport_url(nc->nodes[nc->current].t); }
size_t node_client_current(const node_client *nc) { return nc->current; }

static void copy_str(char *dst, size_t dstlen, const cJSON *j) {
    dst[0] = 0;
    if (cJSON_IsString(j)) snprintf(dst, dstlen, "%s", j->valuestring);
    else if (j && !cJSON_IsNull(j)) {
        char *s = cJSON_PrintUnformatted(j);
        if (s) { snprintf(dst, dstlen, "%s", s); free(s); }
    }
}

node_status node_call(node_client *nc, const char *method, cJSON *params, cJSON **result,
                      node_rpc_error *rpc_err, char *err, size_t errlen) {
    *result = NULL;
    if (rpc_err) memset(rpc_err, 0, sizeof *rpc_err);
    cJSON *req = cJSON_CreateObject();
    if (!params) params = cJSON_CreateArray();
    uint64_t id = nc->next_id++;
    if (!req || !params) { cJSON_Delete(req); cJSON_Delete(params); snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
    cJSON_AddStringToObject(req, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(req, "id", (double)id);
    cJSON_AddStringToObject(req, "method", method);
    cJSON_AddItemToObject(req, "params", params);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!body) { snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
    node_status st = NODE_UNREACHABLE;
    snprintf(err, errlen, "no Ğ1 node reachable (all backing off)");
    uint64_t now = now_ms();
    for (size_t k = 0; k < nc->count; k++) {
        size_t i = (nc->current + k) % nc->count;
        node_entry *e = &nc->nodes[i];
        if (e->retry_at_ms > now && nc->count > 1) continue;
        if (e->retry_at_ms > now) continue; /* single node backing off: the caller retries later */
        char *answer = NULL;
        size_t alen = 0;
        char terr[256];
        if (rpc_transport_request(e->t, body, strlen(body), id, nc->timeout_ms, &answer, &alen, terr, sizeof terr) < 0) {
            e->backoff_ms = e->backoff_ms ? (e->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : e->backoff_ms * 2) : BACKOFF_MIN_MS;
            e->retry_at_ms = now_ms() + e->backoff_ms;
            log_warn("g1 node %s: %s (%s; next try in %u ms)", rpc_transport_url(e->t), terr, method, e->backoff_ms);
            snprintf(err, errlen, "%s", terr);
            continue;
        }
        cJSON *j = cJSON_ParseWithLength(answer, alen);
        free(answer);
        const cJSON *res = j ? cJSON_GetObjectItemCaseSensitive(j, "result") : NULL;
        const cJSON *er = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        if (!j || !cJSON_IsObject(j) || (!res && !er)) {
            cJSON_Delete(j);
            e->backoff_ms = e->backoff_ms ? (e->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : e->backoff_ms * 2) : BACKOFF_MIN_MS;
            e->retry_at_ms = now_ms() + e->backoff_ms;
            snprintf(err, errlen, "%s: answer is not JSON-RPC", rpc_transport_url(e->t));
            log_warn("g1 node %s", err);
            continue;
        }
        e->backoff_ms = 0;
        e->retry_at_ms = 0;
        nc->current = i;
        if (er) {
            if (rpc_err) {
                const cJSON *code = cJSON_GetObjectItemCaseSensitive(er, "code");
                rpc_err->code = cJSON_IsNumber(code) ? code->valueint : 0;
                copy_str(rpc_err->message, sizeof rpc_err->message, cJSON_GetObjectItemCaseSensitive(er, "message"));
                copy_str(rpc_err->data, sizeof rpc_err->data, cJSON_GetObjectItemCaseSensitive(er, "data"));
                snprintf(err, errlen, "%s: %d %s%s%s", method, rpc_err->code, rpc_err->message, rpc_err->data[0] ? ": " : "", rpc_err->data);
            } else snprintf(err, errlen, "%s: error answer", method);
            cJSON_Delete(j);
            st = NODE_RPC_ERROR;
            break;
        }
        *result = cJSON_DetachItemFromObjectCaseSensitive(j, "result");
        cJSON_Delete(j);
        st = NODE_OK;
        break;
    }
    free(body);
    return st;
}

/* ---- typed helpers ---- */

static bool parse_hash(const cJSON *j, uint8_t out[32]) {
    if (!cJSON_IsString(j)) return false;
    const char *s = j->valuestring;
    return strlen(s) == 66 && s[0] == '0' && s[1] == 'x' && hex_decode(s + 2, 64, out, 32);
}

static bool parse_hex_number(const cJSON *j, uint64_t *out) {
    if (cJSON_IsNumber(j)) {
        if (j->valuedouble < 0 || j->valuedouble > 9007199254740991.0) return false;
        *out = (uint64_t)j->valuedouble;
        return true;
    }
    if (!cJSON_IsString(j)) return false;
    const char *s = j->valuestring;
    if (s[0] != '0' || s[1] != 'x' || !s[2] || strlen(s) > 18) return false;
    uint64_t v = 0;
    for (const char *p = s + 2; *p; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

static cJSON *params_hash(const uint8_t *hash) {
    cJSON *p = cJSON_CreateArray();
    if (hash && p) {
        char hx[67] = "0x";
        hex_encode(hash, 32, hx + 2);
        cJSON_AddItemToArray(p, cJSON_CreateString(hx));
    }
    return p;
}

static node_status bad(cJSON *res, char *err, size_t errlen, const char *what) {
    cJSON_Delete(res);
    snprintf(err, errlen, "unexpected answer to %s", what);
    return NODE_BAD_ANSWER;
}

node_status node_genesis_hash(node_client *nc, uint8_t hash[32], char *err, size_t errlen) {
    cJSON *p = cJSON_CreateArray(), *res;
    cJSON_AddItemToArray(p, cJSON_CreateNumber(0));
    node_status st = node_call(nc, "chain_getBlockHash", p, &res, NULL, err, errlen);
    if (st) return st;
    if (!parse_hash(res, hash)) return bad(res, err, errlen, "chain_getBlockHash [0]");
    cJSON_Delete(res);
    return NODE_OK;
}

node_status node_runtime_version(node_client *nc, uint32_t *spec_version, uint32_t *tx_version, char *err, size_t errlen) {
    return node_runtime_version_at(nc, NULL, spec_version, tx_version, err, errlen);
}

node_status node_runtime_version_at(node_client *nc, const uint8_t *at, uint32_t *spec_version, uint32_t *tx_version,
                                    char *err, size_t errlen) {
    cJSON *res;
    node_status st = node_call(nc, "state_getRuntimeVersion", at ? params_hash(at) : NULL, &res, NULL, err, errlen);
    if (st) return st;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(res, "specVersion");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "transactionVersion");
    if (!cJSON_IsNumber(s) || !cJSON_IsNumber(t) || s->valuedouble < 0 || s->valuedouble > 4294967295.0 ||
        t->valuedouble < 0 || t->valuedouble > 4294967295.0)
        return bad(res, err, errlen, "state_getRuntimeVersion");
    *spec_version = (uint32_t)s->valuedouble;
    *tx_version = (uint32_t)t->valuedouble;
    cJSON_Delete(res);
    return NODE_OK;
}

node_status node_metadata_hex(node_client *nc, char **hex, size_t *len, char *err, size_t errlen) {
    return node_metadata_hex_at(nc, NULL, hex, len, err, errlen);
}

node_status node_metadata_hex_at(node_client *nc, const uint8_t *at, char **hex, size_t *len, char *err, size_t errlen) {
    cJSON *res;
    node_status st = node_call(nc, "state_getMetadata", at ? params_hash(at) : NULL, &res, NULL, err, errlen);
    if (st) return st;
    if (!cJSON_IsString(res) || strncmp(res->valuestring, "0x", 2) != 0) return bad(res, err, errlen, "state_getMetadata");
    *len = strlen(res->valuestring);
    *hex = strdup(res->valuestring);
    cJSON_Delete(res);
    if (!*hex) { snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
    return NODE_OK;
}

node_status node_account_next_index(node_client *nc, const char *address, uint64_t *nonce, char *err, size_t errlen) {
    cJSON *p = cJSON_CreateArray(), *res;
    cJSON_AddItemToArray(p, cJSON_CreateString(address));
    node_status st = node_call(nc, "system_accountNextIndex", p, &res, NULL, err, errlen);
    if (st) return st;
    if (!cJSON_IsNumber(res) || res->valuedouble < 0 || res->valuedouble > 4294967295.0) return bad(res, err, errlen, "system_accountNextIndex");
    *nonce = (uint64_t)res->valuedouble;
    cJSON_Delete(res);
    return NODE_OK;
}

node_status node_finalized_head(node_client *nc, uint8_t hash[32], char *err, size_t errlen) {
    cJSON *res;
    node_status st = node_call(nc, "chain_getFinalizedHead", NULL, &res, NULL, err, errlen);
    if (st) return st;
    if (!parse_hash(res, hash)) return bad(res, err, errlen, "chain_getFinalizedHead");
    cJSON_Delete(res);
    return NODE_OK;
}

node_status node_header(node_client *nc, const uint8_t *hash, uint64_t *number, uint8_t parent[32], char *err, size_t errlen) {
    cJSON *res;
    node_status st = node_call(nc, "chain_getHeader", params_hash(hash), &res, NULL, err, errlen);
    if (st) return st;
    uint8_t ph[32];
    if (!cJSON_IsObject(res) || !parse_hex_number(cJSON_GetObjectItemCaseSensitive(res, "number"), number) ||
        !parse_hash(cJSON_GetObjectItemCaseSensitive(res, "parentHash"), ph))
        return bad(res, err, errlen, "chain_getHeader");
    if (parent) memcpy(parent, ph, 32);
    cJSON_Delete(res);
    return NODE_OK;
}

node_status node_block_hash(node_client *nc, uint64_t n, uint8_t hash[32], bool *found, char *err, size_t errlen) {
    cJSON *p = cJSON_CreateArray(), *res;
    cJSON_AddItemToArray(p, cJSON_CreateNumber((double)n));
    node_status st = node_call(nc, "chain_getBlockHash", p, &res, NULL, err, errlen);
    if (st) return st;
    *found = false;
    if (cJSON_IsNull(res)) { cJSON_Delete(res); return NODE_OK; }
    if (!parse_hash(res, hash)) return bad(res, err, errlen, "chain_getBlockHash");
    *found = true;
    cJSON_Delete(res);
    return NODE_OK;
}

node_status node_block_extrinsic_hashes(node_client *nc, const uint8_t hash[32], uint8_t **hashes, size_t *count,
                                        char *err, size_t errlen) {
    cJSON *res;
    *hashes = NULL;
    *count = 0;
    node_status st = node_call(nc, "chain_getBlock", params_hash(hash), &res, NULL, err, errlen);
    if (st) return st;
    const cJSON *block = cJSON_GetObjectItemCaseSensitive(res, "block");
    const cJSON *xs = cJSON_GetObjectItemCaseSensitive(block, "extrinsics");
    if (!cJSON_IsArray(xs)) return bad(res, err, errlen, "chain_getBlock");
    int n = cJSON_GetArraySize(xs);
    if (n < 0 || n > MAX_BLOCK_EXTRINSICS) return bad(res, err, errlen, "chain_getBlock (too many extrinsics)");
    uint8_t *out = malloc((size_t)(n ? n : 1) * 32);
    uint8_t *buf = NULL;
    size_t bufcap = 0;
    if (!out) { cJSON_Delete(res); snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, xs) {
        const char *s = cJSON_IsString(x) ? x->valuestring : NULL;
        size_t sl = s ? strlen(s) : 0;
        if (!s || sl < 2 || s[0] != '0' || s[1] != 'x' || (sl - 2) % 2 || sl > MAX_EXTRINSIC_HEX) { free(out); free(buf); return bad(res, err, errlen, "chain_getBlock extrinsic"); }
        size_t bl = (sl - 2) / 2;
        if (bl > bufcap) {
            uint8_t *nb = realloc(buf, bl);
            if (!nb) { free(out); free(buf); cJSON_Delete(res); snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
            buf = nb;
            bufcap = bl;
        }
        if (!hex_decode(s + 2, sl - 2, buf, bl)) { free(out); free(buf); return bad(res, err, errlen, "chain_getBlock extrinsic hex"); }
        extrinsic_blake2_256(buf, bl, out + 32 * (size_t)i);
        i++;
    }
    free(buf);
    cJSON_Delete(res);
    *hashes = out;
    *count = (size_t)n;
    return NODE_OK;
}

node_status node_storage(node_client *nc, const uint8_t *key, size_t key_len, const uint8_t *at,
                         uint8_t **value, size_t *len, bool *present, char *err, size_t errlen) {
    *value = NULL;
    *len = 0;
    *present = false;
    if (key_len > 256) { snprintf(err, errlen, "storage key too long"); return NODE_BAD_ANSWER; }
    char kh[2 + 512 + 1] = "0x";
    hex_encode(key, key_len, kh + 2);
    cJSON *p = cJSON_CreateArray(), *res;
    cJSON_AddItemToArray(p, cJSON_CreateString(kh));
    if (at) {
        char hx[67] = "0x";
        hex_encode(at, 32, hx + 2);
        cJSON_AddItemToArray(p, cJSON_CreateString(hx));
    }
    node_status st = node_call(nc, "state_getStorage", p, &res, NULL, err, errlen);
    if (st) return st;
    if (cJSON_IsNull(res)) { cJSON_Delete(res); return NODE_OK; }
    if (!cJSON_IsString(res)) return bad(res, err, errlen, "state_getStorage");
    const char *s = res->valuestring;
    size_t sl = strlen(s);
    if (sl < 2 || s[0] != '0' || s[1] != 'x' || (sl - 2) % 2 || sl > 2 * RPC_MAX_ANSWER) return bad(res, err, errlen, "state_getStorage");
    size_t bl = (sl - 2) / 2;
    uint8_t *v = malloc(bl ? bl : 1);
    if (!v) { cJSON_Delete(res); snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
    if (!hex_decode(s + 2, sl - 2, v, bl)) { free(v); return bad(res, err, errlen, "state_getStorage hex"); }
    cJSON_Delete(res);
    *value = v;
    *len = bl;
    *present = true;
    return NODE_OK;
}

node_status node_submit(node_client *nc, const uint8_t *ext, size_t len, submit_kind *kind, node_rpc_error *rpc_err,
                        char *err, size_t errlen) {
    *kind = SUBMIT_ACCEPTED;
    char *hx = malloc(2 * len + 3);
    if (!hx) { snprintf(err, errlen, "out of memory"); return NODE_UNREACHABLE; }
    hx[0] = '0';
    hx[1] = 'x';
    hex_encode(ext, len, hx + 2);
    cJSON *p = cJSON_CreateArray(), *res;
    cJSON_AddItemToArray(p, cJSON_CreateString(hx));
    free(hx);
    node_status st = node_call(nc, "author_submitExtrinsic", p, &res, rpc_err, err, errlen);
    if (st == NODE_RPC_ERROR) *kind = submit_error_classify(rpc_err->code, rpc_err->message, rpc_err->data);
    if (st == NODE_OK) cJSON_Delete(res);
    return st;
}
