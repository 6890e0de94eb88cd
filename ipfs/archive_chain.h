/* The station's archive chain, kept in DATA_DIR/archives.chain: one text line
 * per archive root this data directory made ("own") or imported ("imported"):
 *
 *   own|imported ROOT_CID PREV_CID|- SINCE UNTIL COUNT STATION_HEX|-
 *
 * The last "own" line is the head the next archive links to as `prev`; every
 * line is a root known here, so `import --car` can check an archive's `prev`.
 * Lines are appended with one write and fsync; a torn or malformed line is
 * ignored when reading. Writers serialise on an exclusive lock of
 * DATA_DIR/archive.lock held for the whole archive (so two archivers never
 * fork the chain). */
#ifndef G1_IPFS_ARCHIVE_CHAIN_H
#define G1_IPFS_ARCHIVE_CHAIN_H
#include <stdbool.h>
#include <stdint.h>
#include "cid.h"

#define ARCHIVE_CHAIN_FILE "archives.chain"

typedef struct {
    bool own;
    cid root;
    bool has_prev;
    cid prev;
    int64_t since, until;
    uint64_t count;
    bool has_station;
    uint8_t station[32];
} archive_chain_entry;

/* Takes the exclusive archive lock (waits for it). Returns the lock fd or -1 with err. */
int archive_chain_lock(const char *data_dir, char *err, size_t errlen);
void archive_chain_unlock(int fd);
/* The newest "own" entry: 1 found, 0 none, -1 read error. */
int archive_chain_last_own(const char *data_dir, archive_chain_entry *out);
/* The entry of a root (own or imported): 1 found, 0 unknown, -1 read error. */
int archive_chain_find(const char *data_dir, const cid *root, archive_chain_entry *out);
/* Appends an entry. Returns 0 or -1 with err. */
int archive_chain_append(const char *data_dir, const archive_chain_entry *e, char *err, size_t errlen);
#endif
