/* The plugin API: code that decides whether an incoming event is accepted, and
 * that records derived state atomically with stored events.
 *
 * A plugin is a `plugin_def` registered in plugins/registry.c. The `plugins`
 * config key chooses and orders them; each reads its [plugin.NAME] section.
 *
 *   decide     called for every event of the kinds it wants, after id and
 *              signature checks and before storage, on a worker thread
 *              (concurrently: it must be thread-safe and cheap: no I/O, no waits).
 *              The first plugin that rejects wins.
 *   committed  called on the writer thread inside the LMDB write transaction that
 *              stores the event (a nested transaction per event), after the event
 *              is inserted. Anything it writes commits or aborts with the event.
 *              A non-zero return aborts that event ("error: ..." to the client).
 *
 * Per-kind routing: kinds == NULL means every kind; otherwise the chain only calls
 * the plugin for those kinds (a table lookup, no call at all for others).
 *
 * External programs (strfry write-policy protocol, NIP-101 kind scripts) are not
 * in-process plugins: they run in their own processes through policy_runner
 * (plugins/policy_runner.h), asynchronously, never blocking a thread of the relay. */
#ifndef G1_PLUGIN_H
#define G1_PLUGIN_H
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "event.h"
#include "store.h"

typedef enum { PLUGIN_ACCEPT = 0, PLUGIN_REJECT, PLUGIN_SHADOW_REJECT } plugin_verdict;

/* Where an event came from (the fields of strfry's write-policy input). */
typedef struct {
    const char *source_type;   /* "IP4", "IP6", "Import", "Stream", "Sync", "Stored" */
    const char *source_info;   /* client IP address, upstream URL, file name ... */
    bool authed;               /* NIP-42 authenticated connection */
    uint8_t authed_pubkey[32]; /* valid when authed */
    int64_t received_at;       /* unix seconds */
} plugin_source;

typedef struct {
    const char *name;
    const uint32_t *kinds;     /* kinds it wants, or NULL for all */
    size_t kind_count;
    /* section is "plugin.NAME"; state receives the plugin's private state. */
    int (*init)(void **state, const config *cfg, const char *section, store *s,
                char *err, size_t errlen);
    void (*teardown)(void *state);
    /* msg: reason sent to the client on reject, with a NIP-01 prefix
     * ("blocked: ...", "rate-limited: ..."). NULL hook = always accept. */
    plugin_verdict (*decide)(void *state, const event *ev, const plugin_source *src,
                             char *msg, size_t msglen);
    /* NULL hook = nothing to record. */
    int (*committed)(void *state, MDB_txn *txn, const event *ev, uint64_t levid,
                     char *msg, size_t msglen);
} plugin_def;

typedef struct plugin_chain plugin_chain;

/* Builds the chain from the `plugins` config list (unknown names are an error). */
plugin_chain *plugin_chain_new(const config *cfg, store *s, char *err, size_t errlen);
void plugin_chain_free(plugin_chain *chain);
plugin_verdict plugin_chain_decide(plugin_chain *chain, const event *ev, const plugin_source *src,
                                   char *msg, size_t msglen);
int plugin_chain_committed(plugin_chain *chain, MDB_txn *txn, const event *ev, uint64_t levid,
                           char *msg, size_t msglen);
/* True if some plugin has a committed hook for this kind (lets the writer skip work). */
bool plugin_chain_wants_committed(const plugin_chain *chain, uint32_t kind);

/* Finds a plugin by name: those added by plugin_register first, then the ones
 * compiled into registry.c's table. */
const plugin_def *plugin_find(const char *name);
/* Makes a plugin defined outside registry.c's table findable by name (tests,
 * embedding); call before plugin_chain_new. def must stay valid. Returns -1 when
 * the table of extra plugins (16) is full. */
int plugin_register(const plugin_def *def);
#endif
