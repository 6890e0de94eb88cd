/* The NIP-94 (kind 1063) event announcing an archive, signed by the station:
 *   ["m", "application/vnd.ipld.car"], ["x", sha256 of the CAR file], ["size", bytes],
 *   ["cid", root CID], ["since", …], ["until", …], ["count", …], ["alt", …],
 *   ["prev", previous root CID] when there is one, ["url", "ipfs://ROOT"] when pushed;
 * content: a one-line description. */
#ifndef G1_IPFS_ARCHIVE_ANNOUNCE_H
#define G1_IPFS_ARCHIVE_ANNOUNCE_H
#include <stdbool.h>
#include <stdint.h>
#include "archive.h"
#include "event.h"

#define ARCHIVE_ANNOUNCE_KIND 1063u

/* Builds and signs the event into ev (free with event_free). Returns 0 or -1. */
int archive_announcement_build(event *ev, const uint8_t sk[32], const archive_result *res, const archive_links *links,
                               int64_t since, int64_t until, bool pushed, int64_t created_at);
#endif
