/* The settlement engine: a thread of its own that drives the outbox against
 * Ğ1 nodes. It never runs on the network thread nor inside the writer; it
 * opens its own short LMDB write transactions for state changes.
 *
 * Each round (on engine_wake, or every poll interval, which also notices new
 * blocks and intents added by other processes):
 *  1. chain context: genesis, runtime version, metadata (re-read when the spec
 *     version changes); finalized and best heads;
 *  2. inclusion: every finalized block since the last one searched is read and
 *     the hashes of its extrinsics compared with the in-flight ones; a match
 *     reads System.Events there: finalized, or failed with the chain's reason;
 *     newer best blocks give the `included` state early;
 *  3. expiry: an in-flight extrinsic whose mortal era is over, every block of
 *     it searched, was provably never included: its intents go back to pending
 *     and are signed again with a new nonce;
 *  4. (re)submission of the exact stored bytes of in-flight extrinsics;
 *  5. new extrinsics: per wallet with nothing in flight, the pending intents
 *     ready (batch window or size) are signed as one Utility.batch_all of
 *     transfer_keep_alive calls plus System.remark_with_event, written durably,
 *     then sent.
 *
 * One engine per data directory: engine_start takes an exclusive lock on
 * DATA_DIR/settlement.lock (another process holding it settles instead).
 *
 * Test hook: G1RELAY_CRASH_AT=POINT:N kills the process (SIGKILL) the N-th time
 * it reaches POINT: after-sign, before-submit, after-submit, after-include.
 * G1RELAY_MAX_INFLIGHT=N lowers the number of wallets with an extrinsic in flight
 * at once (default 4096). */
#ifndef G1_ENGINE_H
#define G1_ENGINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "keystore.h"
#include "outbox.h"
#include "store.h"

typedef struct engine engine;

/* Called on the engine thread after each committed state change of an intent. */
typedef void (*engine_status_fn)(void *ctx, const outbox_intent *it);

typedef struct {
    const char *nodes[16];
    size_t node_count;
    uint32_t batch_window_ms;
    uint32_t batch_max;
    uint32_t era_period;
    uint32_t poll_ms;          /* round interval when nothing wakes it */
    uint32_t rpc_timeout_ms;
    uint32_t resubmit_ms;      /* re-send an in-flight extrinsic not yet seen in a block */
    char data_dir[1024];       /* for the lock file */
    char tls_ca_file[1024];    /* certificate authorities for https:// and wss:// nodes ("" = the system's) */
    bool wait_for_lock;        /* lock held elsewhere: start anyway and settle once it is free */
    engine_status_fn on_status;
    void *on_status_ctx;
} engine_options;

/* True when `g1relay run` should start the engine: settlement = true or
 * g1_nodes non-empty. */
bool engine_wanted(const config *cfg);
/* Reads g1_nodes, batch_window_ms, batch_max, era_period, settlement_poll_ms,
 * g1_rpc_timeout_ms, g1_resubmit_ms, data_dir, tls_ca_file. Returns 0 or -1 with err. */
int engine_options_from_config(const config *cfg, engine_options *o, char *err, size_t errlen);

/* Starts the thread. The store, outbox and keystore must outlive the engine.
 * Returns 0, 1 if another process holds the settlement lock (nothing started;
 * with o->wait_for_lock the thread starts instead, tries the lock every poll
 * interval and only settles once it holds it), or -1 with err. */
int engine_start(store *st, outbox *ob, keystore *ks, const engine_options *o, engine **out, char *err, size_t errlen);
/* Wakes the thread (new intents committed). Any thread. */
void engine_wake(engine *e);
/* Wakes the engine running in this process, if any (for modules that add
 * intents without holding the engine handle, e.g. after the writer's commit).
 * Any thread; without it the engine still finds new intents within poll_ms. */
void engine_wake_running(void);
/* True if another process (e.g. a running relay) holds DATA_DIR/settlement.lock. */
bool engine_lock_held_elsewhere(const char *data_dir);
/* Stops and joins the thread, releases the lock. NULL is fine. */
void engine_stop(engine *e);

/* For `g1relay run`: opens the outbox and the keystore (passphrase_file or
 * G1RELAY_PASSPHRASE) itself and starts the engine when engine_wanted(cfg)
 * (waiting for the settlement lock if a `g1relay pay` or another relay holds it);
 * on_status (may be NULL) is called after each intent state change.
 * *out stays NULL when not wanted. Returns 0 or -1 with err. */
int engine_start_for_relay(store *st, const config *cfg, engine_status_fn on_status, void *on_status_ctx,
                           engine **out, char *err, size_t errlen);
/* Stops an engine started by engine_start_for_relay and closes what it opened. */
void engine_stop_for_relay(engine *e);
#endif
