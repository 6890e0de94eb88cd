/* Writing archives of the event log as CARv1 files.
 *
 * An archive of the stored events with since <= created_at <= until holds:
 *  - one raw block (codec 0x55) per event: its exact stored signed JSON;
 *  - index pages (DAG-CBOR), each linking up to ARCHIVE_PAGE_LINKS events in
 *    export order (oldest first):
 *      {type: "g1relay-archive-page", first: min created_at, last: max created_at,
 *       events: [CID, ...]}
 *  - the root (DAG-CBOR), the CAR's only root:
 *      {type: "g1relay-archive", version: 1, station: "<hex pubkey>" | null,
 *       since, until, count, events: [page CID, ...], prev: <previous root CID> | null}
 * Blocks are written events first, then pages, then the root; the header is
 * written last over a placeholder of the same length, so the whole archive comes
 * from one read transaction (one consistent snapshot) in a single pass.
 * Receipts (kind 39743) and every other stored kind are included alike. */
#ifndef G1_IPFS_ARCHIVE_H
#define G1_IPFS_ARCHIVE_H
#include <stdbool.h>
#include <stdint.h>
#include "cid.h"
#include "store.h"

#define ARCHIVE_PAGE_LINKS 1000
#define ARCHIVE_VERSION 1
#define ARCHIVE_ROOT_TYPE "g1relay-archive"
#define ARCHIVE_PAGE_TYPE "g1relay-archive-page"
#define ARCHIVE_MEDIA_TYPE "application/vnd.ipld.car"

typedef struct {
    bool has_station;
    uint8_t station[32];
    bool has_prev;
    cid prev;
} archive_links;

typedef struct {
    cid root;
    uint64_t count;          /* events */
    uint64_t pages;
    uint64_t file_size;      /* bytes of the CAR file */
    uint8_t sha256[32];      /* of the whole CAR file */
} archive_result;

/* Writes the archive to path (through path.tmp, fsync, rename). Returns 0 or -1 with err. */
int archive_write(store *s, int64_t since, int64_t until, const archive_links *links, const char *path,
                  archive_result *res, char *err, size_t errlen);

/* Archives as the station: under the data directory's archive lock, links the
 * last own root as prev, writes the file, appends the root to the chain.
 * station may be NULL. *prev_out (may be NULL) receives whether a prev was linked. */
int archive_make(store *s, const char *data_dir, int64_t since, int64_t until, const uint8_t *station,
                 const char *path, archive_result *res, archive_links *links_out, char *err, size_t errlen);

/* Encodes a root or page node (exposed for tests). */
int archive_encode_root(const archive_links *links, int64_t since, int64_t until, uint64_t count, const cid *pages,
                        uint64_t npages, uint8_t **out, size_t *len);
int archive_encode_page(int64_t first, int64_t last, const cid *events, uint64_t n, uint8_t **out, size_t *len);
#endif
