/* The periodic archiver of `g1relay run`: a thread of its own that, every
 * archive_interval seconds, archives the events stored since the station's last
 * archive (created_at from the last own root's until + 1 up to now - 1) into
 * archive_dir (default DATA_DIR/archives) as g1relay-SINCE-UNTIL.car, chained
 * to the previous root; pushes it to ipfs_api when configured (a failed push is
 * queued and retried with backoff); then publishes through the writer a NIP-94
 * (kind 1063) event signed with the station key naming the root CID (`cid`),
 * the file's sha256 (`x`), size (`size`), media type (`m`
 * application/vnd.ipld.car) and, when pushed, `url` ipfs://ROOT.
 * A range without events is not archived (the next one covers it). */
#ifndef G1_IPFS_ARCHIVE_THREAD_H
#define G1_IPFS_ARCHIVE_THREAD_H
#include <stddef.h>

struct relay_ctx;
typedef struct archive_thread archive_thread;

/* Starts the thread when archive_interval > 0 or ipfs_api is set (pending
 * pushes). Call after writer_start. Returns NULL with err "" when not wanted,
 * NULL with err on an error. */
archive_thread *archive_thread_start(struct relay_ctx *ctx, char *err, size_t errlen);
/* Stops and joins the thread (an archive in progress finishes). Call before
 * writer_stop. NULL is fine. */
void archive_thread_stop(archive_thread *t);
#endif
