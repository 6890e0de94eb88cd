/* One JSON-RPC transport to one node URL, over libwebsockets client
 * connections: http:// and https:// (one POST per request), ws:// and wss://
 * (one persistent WebSocket, request/response matched by the JSON-RPC id).
 *
 * Blocking: rpc_transport_request sends one request text and runs the
 * transport's own lws context on the calling thread until the answer, an error
 * or the timeout. A transport belongs to one thread (the settlement engine, or
 * a CLI command); it never touches the relay's network thread. */
#ifndef G1_RPC_TRANSPORT_H
#define G1_RPC_TRANSPORT_H
#include <stddef.h>
#include <stdint.h>

typedef struct rpc_transport rpc_transport;

/* Largest answer accepted (state_getMetadata is about 200 KB of hex). */
#define RPC_MAX_ANSWER (32u * 1024 * 1024)

/* Parses the URL and prepares a context (no connection yet). tls_ca_file:
 * PEM certificate authorities for https:// and wss:// (NULL or "": the
 * system's); the server's name is always checked against its certificate.
 * NULL with err for an unsupported scheme or a bad URL. */
rpc_transport *rpc_transport_new(const char *url, const char *tls_ca_file, char *err, size_t errlen);
void rpc_transport_free(rpc_transport *t);
const char *rpc_transport_url(const rpc_transport *t);

/* Sends body (a JSON-RPC request with numeric id `id`) and waits at most
 * timeout_ms for the answer. Returns 0 with *answer (malloc'd, NUL-terminated,
 * caller frees) and *answer_len, or -1 with err (connection refused, timeout,
 * HTTP status, closed, too large). After an error the WebSocket, if any, is
 * closed and reopened on the next request. */
int rpc_transport_request(rpc_transport *t, const char *body, size_t body_len, uint64_t id, int timeout_ms,
                          char **answer, size_t *answer_len, char *err, size_t errlen);
#endif
