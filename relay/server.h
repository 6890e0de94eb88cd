/* The network side of the running relay: one libwebsockets event loop serving
 * WebSocket (Nostr) and NIP-11 HTTP on the same port. This thread only moves
 * bytes: complete messages go to the worker pool, queued output is written
 * when the socket is writable. */
#ifndef G1_SERVER_H
#define G1_SERVER_H
#include "relay_ctx.h"

/* Creates the lws context listening on bind:port. nip11_json is served as the
 * relay information document (kept by the server). Returns -1 with err. */
int server_start(relay_ctx *ctx, const char *bind, int port, char *nip11_json, char *err, size_t errlen);
/* Runs the event loop until ctx->stopping is set (and relay_wake_network called). */
void server_run(relay_ctx *ctx);
/* Closes every connection and frees the context. */
void server_stop(relay_ctx *ctx);
#endif
