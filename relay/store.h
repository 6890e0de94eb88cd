/* The event store: one LMDB environment under data_dir, with the raw events and
 * the indexes queries need. Layout and record format are described at the top of
 * relay/store.c.
 *
 * Threads: any thread may read (each query opens its own read transaction per
 * slice); only the writer thread writes, grouping many events in one transaction.
 * Plugins may keep their own named databases in the same environment
 * (store_open_dbi) and write them inside the writer's transaction, so derived
 * state commits atomically with the event that caused it. */
#ifndef G1_STORE_H
#define G1_STORE_H
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include "event.h"
#include "filter.h"

typedef struct store store;

/* Opens (creating if needed) the environment in dir. map_size in bytes.
 * read_only for tools that only read (scan, export, stats). */
int store_open(store **out, const char *dir, uint64_t map_size, bool read_only,
               char *err, size_t errlen);
void store_close(store *s);
MDB_env *store_env(store *s);

/* Opens or creates a named database for a plugin or module (call at start-up,
 * before other threads use the store). Names starting with "g1relay." are reserved. */
int store_open_dbi(store *s, const char *name, unsigned int flags, MDB_dbi *out);

/* ---- writes (writer thread only) ---- */

typedef enum {
    STORE_ADDED = 0,     /* stored; older replaceable versions and deleted targets removed */
    STORE_DUPLICATE,     /* this id is already stored */
    STORE_DELETED,       /* its author deleted it earlier (NIP-09): refused */
    STORE_REPLACED,      /* replaceable/addressable and a newer (or equal, lower-id) version is stored */
    STORE_EXPIRED,       /* NIP-40 expiration already passed */
    STORE_EPHEMERAL,     /* ephemeral kinds are never stored */
    STORE_ERROR          /* LMDB error (map full ...): msg says which */
} store_result;

/* Inserts ev inside txn (a write transaction, possibly a nested one). Applies
 * replaceable/addressable replacement (lowest id wins on equal created_at),
 * NIP-09 deletion by kind 5 (same author only, `e` ids and `a` addresses up to
 * the deletion's created_at; the kind 5 itself is stored), and refuses events
 * deleted earlier. levid_out receives the event's serial number when added.
 * msg receives a short reason for every result except STORE_ADDED, already
 * prefixed for an OK message ("duplicate: ...", "blocked: ...", "invalid: ...",
 * "error: ..."). On STORE_ERROR the transaction may hold partial changes: abort
 * it (or the nested transaction around this call). */
store_result store_insert(store *s, MDB_txn *txn, const event *ev, uint64_t *levid_out,
                          char *msg, size_t msglen);

/* Removes events whose NIP-40 expiration is <= now, at most max of them.
 * Returns how many were removed, or -1 on error. */
int store_delete_expired(store *s, MDB_txn *txn, int64_t now, int max);

/* The last write-ahead journal record applied to this database (0 if none), in
 * g1relay.meta; the writer sets it in the transaction that holds the records'
 * events (see relay/journal.h). txn NULL: read in a transaction of its own. */
int store_get_journal_lsn(store *s, MDB_txn *txn, uint64_t *lsn);
int store_set_journal_lsn(store *s, MDB_txn *txn, uint64_t lsn);

/* ---- reads ---- */

/* Looks up an event by id. On success *json and *len give its JSON, valid until
 * txn ends or the next store_get_by_id call on the same thread (records are
 * stored packed and the JSON may be rebuilt in a per-thread buffer). Returns 0,
 * MDB_NOTFOUND, ENOMEM or an LMDB error. */
int store_get_by_id(store *s, MDB_txn *txn, const uint8_t id[32], const char **json, size_t *len);

/* Called for each result; json is valid only during the call. Return non-zero
 * to stop the query early, or
 * STORE_EMIT_PAUSE to end the current time slice right after this result
 * (store_query_run then returns STORE_QUERY_MORE and the next call goes on from
 * the next result; used when the client's output queue is full). */
typedef int (*store_emit_fn)(void *ctx, const char *json, size_t len, uint64_t levid);
#define STORE_EMIT_PAUSE 2

typedef enum { STORE_QUERY_DONE, STORE_QUERY_MORE, STORE_QUERY_ERROR } store_query_status;

typedef struct store_query store_query;

/* Prepares a query for filters OR'ed together (they are borrowed and must outlive
 * the query). Each filter yields its matches newest first (created_at descending;
 * on equal created_at the lowest id first, as NIP-01 says), at most its limit (default_limit if it has none, clamped to
 * max_limit; max_limit 0 = no clamp, default_limit 0 = unlimited). An event
 * matched by several filters is emitted once. Expired events are skipped. */
store_query *store_query_new(store *s, const filter *filters, uint32_t filter_count,
                             uint32_t default_limit, uint32_t max_limit);
/* Runs the query for about budget_us microseconds in its own read transaction,
 * then returns STORE_QUERY_MORE so the caller can let others run and call again
 * (the position is kept). budget_us 0 = run to the end. */
store_query_status store_query_run(store_query *q, uint64_t budget_us, store_emit_fn emit, void *ctx);
/* Runs to the end inside an existing transaction (read or write), e.g. from a plugin. */
store_query_status store_query_run_in_txn(store_query *q, MDB_txn *txn, store_emit_fn emit, void *ctx);
void store_query_free(store_query *q);

/* NIP-45: number of stored events matching any of the filters (limits ignored). */
int store_count(store *s, const filter *filters, uint32_t filter_count, uint64_t *count_out);
/* The same, calling each(ctx, pubkey) once per counted event (for NIP-45 HyperLogLog). */
typedef void (*store_count_fn)(void *ctx, const uint8_t pubkey[32]);
int store_count_each(store *s, const filter *filters, uint32_t filter_count, store_count_fn each, void *ctx,
                     uint64_t *count_out);

typedef struct {
    uint64_t events;
    uint64_t json_bytes;     /* sum of stored JSON sizes */
    uint64_t file_bytes;     /* size of data.mdb */
    uint64_t used_bytes;     /* pages in use * page size */
    uint64_t map_size;
    struct { const char *name; uint64_t entries; uint64_t bytes; } dbs[16];
    uint32_t db_count;
} store_stats;
int store_get_stats(store *s, store_stats *out);

/* Calls emit for every stored, unexpired event with since <= created_at <= until, oldest
 * first (on equal created_at the highest id first), in one read transaction. Returns 0 or an LMDB
 * error. Used by `g1relay export`. */
int store_export(store *s, int64_t since, int64_t until, store_emit_fn emit, void *ctx);

/* Calls emit for every stored event in storage order (the order they were
 * stored: levid ascending), expired ones included, inside txn (read or write;
 * emit must not write g1relay databases). kinds: when not NULL, only events of
 * these kinds. Returns 0 or an LMDB error. For replaying the log (e.g. a
 * settlement rebuild) without depending on the record format. */
int store_each_stored(store *s, MDB_txn *txn, const uint32_t *kinds, uint32_t kind_count, store_emit_fn emit,
                      void *ctx);

/* Calls fn once per kind present, in kind order, with its number of stored events. */
int store_count_kinds(store *s, void (*fn)(void *ctx, uint32_t kind, uint64_t count), void *ctx);

/* Copies the environment, compacted, into dir (mdb_env_copy2 with MDB_CP_COMPACT). */
int store_compact_copy(store *s, const char *dir, char *err, size_t errlen);
#endif
