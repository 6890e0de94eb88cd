/* The running relay's shared context: configuration-derived limits and the
 * modules every thread reaches (connections, workers, writer, live
 * subscriptions, store, plugins). Built by cmd_run, read-only once started. */
#ifndef G1_RELAY_CTX_H
#define G1_RELAY_CTX_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "message.h"
#include "plugin.h"
#include "policy_runner.h"
#include "store.h"

typedef struct {
    uint32_t max_message_length;
    uint32_t max_subscriptions;
    uint32_t max_filters;
    uint32_t max_limit;
    uint32_t default_limit;
    uint32_t max_subid_length;
    uint32_t max_event_tags;
    uint32_t max_content_length;
    uint64_t max_output_bytes;
    int min_pow_difficulty;
    int64_t created_at_lower_limit; /* seconds in the past, 0 = none */
    int64_t created_at_upper_limit; /* seconds in the future, 0 = none */
    bool auth_required;
    uint32_t write_batch_max;
    message_limits msg;             /* derived, for message_parse */
} relay_limits;

struct conn_table;
struct worker_pool;
struct writer;
struct sub_index;
struct lws_context;

typedef struct relay_ctx {
    const config *cfg;
    store *st;
    plugin_chain *plugins;
    policy_runner *policy;       /* NULL when no external program is configured */
    relay_limits lim;
    const char *relay_url;       /* config relay_url ("" = match the Host header) */
    struct conn_table *conns;
    struct worker_pool *workers;
    struct writer *writer;
    struct sub_index *subs;
    struct lws_context *lws;
    atomic_bool wake_pending;    /* lws_cancel_service already requested */
    atomic_bool stopping;
} relay_ctx;

/* Reads the limits from the configuration. Returns -1 with err on bad values. */
int relay_limits_from_config(relay_limits *lim, const config *cfg, char *err, size_t errlen);

/* Asks the lws service thread to wake up and flush pending output (any thread). */
void relay_wake_network(relay_ctx *ctx);
#endif
