/* The single writer thread: owns every LMDB write of the running relay.
 *
 * It takes all queued events (up to write_batch_max), stores them in one write
 * transaction (a nested transaction per event when a plugin records derived
 * state, so one failure aborts only that event), makes the group durable, and
 * only then hands the added events to the live subscriptions and answers OK.
 * Durable means: appended and fsynced in the write-ahead journal (journal =
 * true, the default; LMDB is then committed once for many groups, and the
 * journal's records after the last LMDB commit are applied again at start-up),
 * or committed to LMDB with its syncs (journal = false). Periodically removes
 * NIP-40 expired events. Design and figures: relay/writer.c, docs/DATABASE.md. */
#ifndef G1_WRITER_H
#define G1_WRITER_H
#include "conn.h"
#include "event.h"
#include "relay_ctx.h"

typedef struct write_job {
    struct write_job *next;
    conn_id conn;       /* who gets the OK (0 = nobody) */
    event ev;           /* owned by the job */
    uint64_t levid;     /* set by the writer when the event is added */
    /* NULL, or called exactly once on the writer thread when the job is
     * finished (before it is freed; writer_stop calls it for jobs submitted
     * after the thread ended). settled: true when the outcome is final (added,
     * hence durable; duplicate, replaced, deleted, expired, ephemeral), false
     * when the event was refused for a transient reason (STORE_ERROR: database
     * error, stalled writer, writer stopped) and should be submitted again
     * later. Must not block nor submit to the writer. Jobs built with calloc get
     * NULL; others must set it. */
    void (*done)(struct write_job *j, bool settled);
    void *done_arg;     /* for done */
} write_job;

typedef struct writer writer;

struct journal;
/* Opens data_dir/journal when config `journal` is on (*out = NULL when off),
 * checking the journal keys. Call before opening the store: the journal's lock
 * is what keeps a second relay off the same data directory. */
int writer_journal_open(const config *cfg, struct journal **out, char *err, size_t errlen);
/* Takes jr (NULL = no journal), applies its records that the database does not
 * hold yet (plugins' committed hooks included: call after the plugin chain is
 * built), then starts the thread. NULL with err on failure (jr closed). */
writer *writer_start(relay_ctx *ctx, struct journal *jr, char *err, size_t errlen);
/* Finishes what is queued (committing it), then stops the thread. */
void writer_stop(writer *w);
/* Queues a job (any thread); the writer frees it. */
void writer_submit(writer *w, write_job *j);
/* Read-your-writes: returns once every event answered OK before the call that
 * could change the results of these (OR'ed) filters is visible to LMDB readers:
 * at once without the journal, when nothing is pending, or when no pending
 * event concerns the filters (relay/pending.h); otherwise it asks the writer to
 * commit now and waits. Queries call it before their first read. Any thread
 * but the writer's. */
void writer_wait_visible(writer *w, const filter *filters, uint32_t count);
/* Frees a job that was never submitted. */
void write_job_free(write_job *j);
#endif
