/* Upstream sync: g1relay follows trusted relays (config `upstreams`, flag
 * `--upstream URL`) as a Nostr client, so events published there (orders,
 * likes...) are stored here and settled.
 *
 * One thread and one libwebsockets client context per upstream. On each
 * connection it opens two subscriptions:
 *   live  {"limit": 0}: every event the upstream stores from now on, kept open,
 *         whatever its created_at (an event signed long before it is published
 *         must still arrive: a `since` here would drop it for good);
 *   cu    {"since": cursor - 60 s, "limit": 500}: what was missed while away
 *         (this process's own downtime included), paged backwards with `until`
 *         until a page brings nothing older than its until (a short page is not
 *         the end: the upstream may cut pages at its own max_limit). Sent after
 *         live, so nothing stored in between falls through.
 * Every event is parsed, its id recomputed and its signature verified, then it
 * goes through the in-process plugins (sourceType "Sync", sourceInfo the URL)
 * to the writer, like a client's event; duplicates are dropped by the store, so
 * an event arriving both from a client and from an upstream settles once.
 * The cursor (per URL, in the named database sync.cursors) advances only when a
 * catch-up completed, and while connected to `now - 10 s`; it is saved every
 * few seconds. Reconnection backs off from 250 ms to 5 s.
 * When an external write policy (or filter directory) is configured, synced
 * events go through it too, like strfry's sync: sourceType "Sync", sourceInfo
 * the upstream URL; accepted ones go to the writer, refused ones are dropped.
 * A refusal that says nothing about the event (policy busy, timed out, crashed,
 * queue full), or the writer's refusal to store it (database error, stalled
 * writer: write_job.done with settled false), makes the link fetch again from
 * that event's created_at. The cursor is only saved while no synced event waits
 * for the policy or the writer and no refetch is pending (upstream.c). */
#ifndef G1_UPSTREAM_H
#define G1_UPSTREAM_H
#include <stdint.h>
#include "relay_ctx.h"

typedef struct upstream_set upstream_set;

/* Reads the `upstreams` list and opens the cursor database (before the writer
 * and other threads start). Returns NULL with err[0] == 0 when there are none. */
upstream_set *upstream_new(relay_ctx *ctx, char *err, size_t errlen);
/* Starts one thread per upstream (once the writer runs). */
int upstream_start(upstream_set *u, char *err, size_t errlen);
/* Stops the threads (saving cursors) and frees everything. NULL is fine. */
void upstream_free(upstream_set *u);
#endif
