/* Pushing archives to an IPFS node through the Kubo RPC API:
 *   POST {ipfs_api}/api/v0/dag/import?pin-roots=true
 * with the CAR as a multipart/form-data file part. Only plain http:// URLs (the
 * RPC API is meant for localhost or a private network); a minimal bounded
 * HTTP/1.1 client over a TCP socket with connect/read/write timeouts.
 *
 * A push that fails (node down, timeout, error answer) is kept in
 * DATA_DIR/ipfs-push.pending ("ROOT ATTEMPTS NEXT_TRY PATH" per line) and retried
 * later with exponential backoff (30 s doubling up to 1 h): a node that is down
 * only delays the push. Pushes happen in chain order: pinning a root pins its
 * prev recursively, so the node must already hold the previous archive (a node
 * asked to pin a root whose prev it lacks tries to fetch it from the network). */
#ifndef G1_IPFS_KUBO_PUSH_H
#define G1_IPFS_KUBO_PUSH_H
#include <stdbool.h>
#include <stdint.h>
#include "cid.h"

#define KUBO_PUSH_PENDING_FILE "ipfs-push.pending"
#define KUBO_RESPONSE_MAX (256u * 1024)

/* Uploads the CAR and checks the node's answer names the root, pinned without
 * error. Returns 0, or -1 with err. */
int kubo_push_car(const char *api_url, const char *car_path, const cid *root, int timeout_ms, char *err, size_t errlen);

/* Queues a push for later. Returns 0 or -1 with err. */
int kubo_pending_add(const char *data_dir, const char *car_path, const cid *root, int64_t next_try, char *err,
                     size_t errlen);
/* Tries the due pending pushes (next_try <= now); successes leave the list,
 * failures are rescheduled. on_pushed (may be NULL) is called for each success.
 * Returns the number still pending, or -1 on a file error. */
int kubo_pending_run(const char *data_dir, const char *api_url, int64_t now, int timeout_ms,
                     void (*on_pushed)(void *ctx, const char *car_path, const cid *root), void *ctx);
/* Pushes an archive after the pending ones (in order). If it cannot be pushed now
 * (node down, or earlier archives still pending) it is queued. Returns 0 (pushed:
 * *pushed true; queued: false, err says why), -1 if it could not even be queued. */
int kubo_push_in_order(const char *data_dir, const char *api_url, const char *car_path, const cid *root, int timeout_ms,
                       bool *pushed, char *err, size_t errlen);
/* Backoff before attempt n+1 after n failures (seconds). */
int64_t kubo_backoff_seconds(uint32_t attempts);
#endif
