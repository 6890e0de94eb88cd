/* Write-ahead journal of accepted events: one preallocated file, <dir>/journal,
 * holding checksummed records with consecutive sequence numbers (LSNs). The
 * writer appends a group of records with one write and one fdatasync, and
 * replays the records the database has not applied yet at startup. No
 * dependency on LMDB or the rest of the relay; the format is documented at the
 * top of relay/journal.c. Not thread-safe: one owner thread per handle. */
#ifndef G1_JOURNAL_H
#define G1_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_FILE_NAME "journal"
#define JOURNAL_MIN_SIZE (1u << 20)          /* smallest journal file accepted by journal_open */
#define JOURNAL_HEADER_SIZE 24u              /* magic u32 ‖ length u32 ‖ lsn u64 ‖ checksum u64 */
#define JOURNAL_MAX_PAYLOAD (4u << 20)       /* largest record payload (also bounded by the file size) */
#define JOURNAL_READ_CHUNK (1u << 20)        /* scans read the file in windows of this size */

typedef struct journal journal;

/* Opens (creating and zero-filling if needed) dir/journal of size_bytes (>= 1 MiB, multiple of 4096).
 * An existing larger file keeps its size; a smaller one is extended with zeros. The file is locked
 * (flock LOCK_EX) for the lifetime of the handle. Returns 0, or -1 with a message in err. */
int journal_open(const char *dir, size_t size_bytes, journal **out, char *err, size_t errlen);
void journal_close(journal *j);            /* NULL ok */

/* Recovery read: calls fn for every valid record from offset 0 in order with lsn > after_lsn; records
 * with lsn <= after_lsn are skipped (already applied) but must still chain (lsn == prev + 1). The scan
 * ends, without error, at the first record failing a check (torn or stale tail).
 * If the smallest valid lsn > after_lsn is not after_lsn + 1, records are missing: returns -1 with a
 * message in err, before any call of fn. fn returning non-zero stops the scan and journal_scan
 * returns that value. *last_lsn (may be NULL) receives the highest valid lsn, or after_lsn if none
 * is greater.
 * After a complete scan (return 0) the next lsn is max(last valid lsn, after_lsn) + 1 and the append
 * position is right after the last valid record when that continues the chain (last valid lsn >=
 * after_lsn); otherwise (every record already applied, or none) appends start a new chain at offset 0.
 * After an error or a stop by fn, the append state is unchanged. */
typedef int (*journal_record_fn)(void *ctx, uint64_t lsn, const char *data, size_t len);
int journal_scan(journal *j, uint64_t after_lsn, journal_record_fn fn, void *ctx, uint64_t *last_lsn,
                 char *err, size_t errlen);

/* Appending: journal_add buffers a record in memory (no I/O) and journal_sync writes the buffered
 * records with ONE pwrite at the append position followed by fdatasync. journal_add fails (returns -1,
 * nothing buffered) when the record would not fit in the file after what is already written and
 * buffered (or is larger than JOURNAL_MAX_PAYLOAD, or memory is short): the owner must then make
 * everything durable elsewhere, call journal_reset, and add again. *lsn_out (may be NULL) gets the
 * record's lsn. */
int journal_add(journal *j, const char *data, size_t len, uint64_t *lsn_out);
/* Writes the buffered records and fdatasyncs. 0 ok (also when nothing is buffered); -1 on I/O error
 * (errno preserved; the buffered records are dropped, the append position is unchanged and their lsns
 * will be given again; message via journal_error()). */
int journal_sync(journal *j);
bool journal_fits(const journal *j, size_t len);  /* would journal_add of len bytes succeed now? */
void journal_reset(journal *j);     /* next record at offset 0 (buffer must be empty: call after sync) */
uint64_t journal_next_lsn(const journal *j);
/* When the owner knows a higher applied lsn: raises the next lsn (never lowers it) and, since the
 * chain is then broken, starts a new chain at offset 0. Must be called with an empty buffer
 * (otherwise nothing changes and journal_error() says why). */
void journal_set_next_lsn(journal *j, uint64_t lsn);
size_t journal_used_bytes(const journal *j);     /* bytes written since the last reset (0 after reset) */
size_t journal_buffered_bytes(const journal *j); /* bytes added but not yet synced */
size_t journal_size(const journal *j);           /* size of the journal file */
const char *journal_path(const journal *j);
const char *journal_error(const journal *j);     /* last error text ("" if none) */

/* Read-only check for offline tools (export, stats...): counts the valid records with lsn > after_lsn
 * in dir/journal without locking or creating anything; 0 records if the file does not exist.
 * Returns 0 ok, -1 on read error or when records are missing (same gap rule and message as
 * journal_scan), with a message in err. */
int journal_pending(const char *dir, uint64_t after_lsn, uint64_t *records, char *err, size_t errlen);

#endif
