/* Child processes for the policy runner: spawned in their own session (so the
 * whole process group can be killed), with non-blocking pipes and a pidfd that
 * becomes readable when the child exits. */
#ifndef G1_POLICY_PROC_H
#define G1_POLICY_PROC_H
#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;     /* also the process group id (setsid) */
    int pidfd;     /* -1 if the kernel has no pidfd_open */
    int in_fd;     /* write end of the child's stdin, -1 when stdin is /dev/null */
    int out_fd;    /* read end of the child's stdout (and stderr when merged) */
} policy_child;

/* Spawns argv[0] (a path, not searched in PATH) with argv. want_stdin: give it a
 * pipe as stdin (else /dev/null). merge_stderr: its stderr goes to the same pipe as
 * stdout (else it inherits the relay's stderr). Other descriptors are closed in
 * the child; signal dispositions and mask are reset. The child gets the relay's
 * environment minus its secrets (G1RELAY_PASSPHRASE). Returns 0 or an errno value. */
int policy_child_spawn(policy_child *c, char *const argv[], bool want_stdin, bool merge_stderr);

/* Closes the pipes and the pidfd (does not signal or wait). */
void policy_child_close(policy_child *c);

/* Sends SIGKILL to the child's whole process group. */
void policy_child_kill_group(pid_t pid);

/* Non-blocking wait: 1 if the child was reaped (*status set), 0 if still running,
 * -1 if it is not our child any more. */
int policy_child_reap(pid_t pid, int *status);
#endif
