/* External decision programs (work in progress: the process pool comes next).
 * For now: NULL when neither write_policy nor filter_dir is configured, and an
 * explicit error when one is, so a relay never silently ignores a policy. */
#include "policy_runner.h"
#include <stdio.h>
#include <stdlib.h>

struct policy_runner { int unused; };

policy_runner *policy_runner_new(const config *cfg, char *err, size_t errlen) {
    if (errlen) err[0] = 0;
    const char *wp = config_str(cfg, NULL, "write_policy", "");
    const char *fd = config_str(cfg, NULL, "filter_dir", "");
    if ((wp && wp[0]) || (fd && fd[0]))
        snprintf(err, errlen, "write_policy/filter_dir: not available yet in this build");
    return NULL;
}

void policy_runner_free(policy_runner *r) { free(r); }

void policy_runner_submit(policy_runner *r, const event *ev, const plugin_source *src,
                          void *job, policy_done_fn done) {
    (void)r; (void)ev; (void)src;
    done(job, PLUGIN_ACCEPT, "");
}
