/* The worker pool: threads that process each connection's inbox of jobs
 * (client messages, query time slices, connection close), one job at a time per
 * connection and in order, while different connections run in parallel. A
 * connection with more work goes to the back of the ready queue after each job,
 * so one client's long query cannot starve the others. */
#ifndef G1_WORKERS_H
#define G1_WORKERS_H
#include <stddef.h>
#include "conn.h"
#include "relay_ctx.h"

typedef enum {
    JOB_MESSAGE,  /* data[0..len): one complete client text message */
    JOB_BINARY,   /* a binary frame was received (answered with a NOTICE) */
    JOB_TOO_BIG,  /* a message over max_message_length was received */
    JOB_QUERY,    /* run the next time slice of sub's stored query */
    JOB_CLOSE     /* the connection closed: drop its subscriptions, release it */
} job_kind;

typedef struct job {
    struct job *next;
    job_kind kind;
    struct sub *sub; /* JOB_QUERY (holds a reference) */
    size_t len;
    char data[];
} job;

typedef struct worker_pool worker_pool;

job *job_new(job_kind kind, const char *data, size_t len);

/* threads 0 = number of online CPUs. */
worker_pool *worker_pool_start(relay_ctx *ctx, int threads);
/* Stops the threads after their current job; pending jobs are dropped. */
void worker_pool_stop(worker_pool *p);
/* Appends a job to the connection's inbox and schedules the connection.
 * Returns the connection's queued count after the append (see also queued_bytes). */
uint32_t worker_pool_push(worker_pool *p, conn *c, job *j);
#endif
