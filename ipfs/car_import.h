/* Restoring an archive (a CAR written by `g1relay archive`) into the event store.
 *
 * Everything is verified before anything is stored:
 *  1. the CAR: one dag-cbor root; every block's bytes hash to its CID (bounded
 *     lengths, truncation refused); no block twice;
 *  2. every raw block is a valid Nostr event whose id matches its content and
 *     whose signature verifies;
 *  3. the DAG: the root is a g1relay archive root (strict DAG-CBOR, expected
 *     fields and types), each page it links is present and well formed, each
 *     event a page links is present, linked once, with created_at inside its
 *     page's [first, last] and the root's [since, until]; count matches; no block
 *     is left unlinked;
 *  4. the chain: when the root's prev is a root known in this data directory
 *     (DATA_DIR/archives.chain), both must name the same station; an unknown
 *     prev is reported (the chain is then checked up to this archive only).
 * A failure names the bad block by its CID and nothing is stored. Then the
 * events are inserted in one write transaction (second pass over the file, each
 * block's CID checked again against the first pass) and the root is recorded
 * as an imported root of the chain. */
#ifndef G1_IPFS_CAR_IMPORT_H
#define G1_IPFS_CAR_IMPORT_H
#include <stdbool.h>
#include <stdint.h>
#include "cid.h"
#include "cli.h"
#include "store.h"

#define CAR_IMPORT_MAX_BLOCK (16u << 20)

typedef enum { CAR_PREV_NONE = 0, CAR_PREV_KNOWN, CAR_PREV_UNKNOWN } car_prev_status;

typedef struct {
    cid root;
    int64_t since, until;
    uint64_t blocks, pages, events;
    uint64_t added, duplicates, refused; /* store results (refused: replaced, deleted, expired) */
    bool has_station;
    uint8_t station[32];
    bool has_prev;
    cid prev;
    car_prev_status prev_status;
    bool root_known;                     /* this root was already in the chain file */
} car_import_report;

/* Verifies the archive only (steps 1–4). Returns 0, or -1 with err naming the bad block. */
int car_verify_file(const char *path, const char *data_dir, car_import_report *rep, char *err, size_t errlen);
/* Verifies, then stores the events (all or nothing). Returns 0 or -1 with err. */
int car_import_file(store *s, const char *data_dir, const char *path, car_import_report *rep, char *err, size_t errlen);

/* `g1relay import --car FILE` body: opens the store of the configuration, imports,
 * prints the report. Returns the exit code. cmd names the command for messages. */
int car_import_command(const char *cmd, cli_common *common, const char *path);
#endif
