/* The single writer thread: owns every LMDB write of the running relay.
 *
 * It takes all queued events (up to write_batch_max), stores them in ONE write
 * transaction (a nested transaction per event when a plugin records derived
 * state, so one failure aborts only that event), commits the group durably,
 * and only then answers OK to each client and hands the added events to the
 * live subscriptions. Periodically removes NIP-40 expired events. */
#ifndef G1_WRITER_H
#define G1_WRITER_H
#include "conn.h"
#include "event.h"
#include "relay_ctx.h"

typedef struct write_job {
    struct write_job *next;
    conn_id conn;       /* who gets the OK (0 = nobody) */
    event ev;           /* owned by the job */
} write_job;

typedef struct writer writer;

writer *writer_start(relay_ctx *ctx);
/* Finishes what is queued (committing it), then stops the thread. */
void writer_stop(writer *w);
/* Queues a job (any thread); the writer frees it. */
void writer_submit(writer *w, write_job *j);
/* Frees a job that was never submitted. */
void write_job_free(write_job *j);
#endif
