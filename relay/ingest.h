/* What a worker does with one job of a connection: parse and answer client
 * messages (EVENT, REQ, COUNT, CLOSE, AUTH), run the next time slice of a
 * stored query, or clean up after the connection closed. */
#ifndef G1_INGEST_H
#define G1_INGEST_H
#include "conn.h"
#include "relay_ctx.h"
#include "workers.h"

/* Budget of one query time slice, microseconds. */
#define INGEST_QUERY_SLICE_US 10000

/* Runs j for connection c and frees it (or requeues it). */
void ingest_run_job(relay_ctx *ctx, conn *c, job *j);

/* Is an event with this id stored? (a read error counts as no). Any thread;
 * each keeps a read transaction between calls (reset, holding no snapshot). */
bool ingest_already_stored(relay_ctx *ctx, const uint8_t id[32]);
/* Called by each thread that used ingest_already_stored (workers, upstream
 * links) as it ends: releases its read transaction. */
void ingest_thread_done(void);

/* At shut-down, after the workers stopped and the network closed: drops every
 * connection's pending jobs and subscriptions. */
void ingest_release_all(relay_ctx *ctx);
#endif
