/* CARv1 files (content-addressed archives, as `ipfs dag import/export` use):
 *
 *   varint(len(header)) ‖ header    header = DAG-CBOR {roots: [CID], version: 1}
 *   then for each block: varint(len(cid) + len(data)) ‖ cid ‖ data
 *
 * The writer streams blocks to a FILE. The reader is bounded: it refuses a
 * header or a block longer than the limits given, a length running past the
 * end of the file (truncated), CIDs other than v1/sha2-256, and recomputes the
 * hash of every block, refusing one whose bytes do not match its CID. */
#ifndef G1_IPFS_CAR_H
#define G1_IPFS_CAR_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cid.h"

#define CAR_MAX_HEADER (64u * 1024)

/* The encoded header for one root (a fixed length for a given CID length). */
int car_header_encode(const cid *root, uint8_t *out, size_t cap, size_t *len);

/* Writes the header. Returns 0 or -1 (errno set). */
int car_write_header(FILE *f, const cid *root);
/* Writes one block. Returns 0 or -1 (errno set). */
int car_write_block(FILE *f, const cid *c, const uint8_t *data, size_t len);

typedef struct {
    FILE *f;
    uint64_t max_block;      /* largest accepted cid+data section */
    uint64_t offset;         /* file offset of the next section */
    uint64_t file_size;      /* known size (to refuse lengths beyond it) */
    cid roots[4];
    uint32_t root_count;
    uint8_t *buf;            /* the current block's data (owned) */
    size_t cap;
    uint64_t index;          /* number of blocks read */
} car_reader;

/* Reads and checks the header of an opened file (positioned at 0). Returns 0 or
 * -1 with err. max_block bounds a block (cid + data). */
int car_reader_open(car_reader *r, FILE *f, uint64_t max_block, char *err, size_t errlen);
/* Next block: its CID, data (valid until the next call) and the offset of its
 * section. Returns 1, 0 at the end, -1 with err (truncated, oversize, bad CID,
 * bytes not matching the CID: the message names the block). */
int car_reader_next(car_reader *r, cid *c, const uint8_t **data, size_t *len, uint64_t *section_offset,
                    char *err, size_t errlen);
/* Back to the first block (for a second pass). Returns 0 or -1. */
int car_reader_rewind(car_reader *r);
void car_reader_free(car_reader *r);
#endif
