/* Runs external decision programs for incoming events without blocking the relay:
 *   - a strfry write-policy program (config write_policy): long-running processes
 *     reading one JSON line per event on stdin and answering
 *     {"id":…,"action":"accept|reject|shadowReject","msg":…} on stdout;
 *   - a NIP-101 filter directory (config filter_dir): an executable <kind>.sh run
 *     once per event with the input line as $1; exit 0 accepts.
 * Several processes run at once; each decision has a timeout; a process that times
 * out, crashes or answers garbage has its whole process group killed and is
 * restarted, and the event gets write_policy_default with a clear message. A
 * changed program file is picked up without restarting the relay.
 * When both are configured, the write policy decides first and only the events
 * it accepts go to the kind script. Details and messages: docs/PLUGINS.md.
 * Creating a runner sets SIGPIPE to ignored if it was at its default. */
#ifndef G1_POLICY_RUNNER_H
#define G1_POLICY_RUNNER_H
#include "config.h"
#include "event.h"
#include "plugin.h"

typedef struct policy_runner policy_runner;

/* Called exactly once per submitted event, from a runner thread (not the caller's).
 * msg is the text for the client (already prefixed, e.g. "blocked: ..."), or "". */
typedef void (*policy_done_fn)(void *job, plugin_verdict verdict, const char *msg);

/* NULL with err empty when neither write_policy nor filter_dir is configured. */
policy_runner *policy_runner_new(const config *cfg, char *err, size_t errlen);
void policy_runner_free(policy_runner *r);
/* Queues ev for decision. The runner copies what it needs; ev may be freed after.
 * Never blocks beyond a mutex-protected queue push. When policy_queue_max events
 * are already waiting or being decided, done still comes from the runner thread,
 * with PLUGIN_REJECT and "rate-limited: policy queue full, try again later".
 * policy_runner_free answers events still queued with "error: relay is shutting
 * down"; do not submit after (or while) freeing. */
void policy_runner_submit(policy_runner *r, const event *ev, const plugin_source *src,
                          void *job, policy_done_fn done);
#endif
