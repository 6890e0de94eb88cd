/* Spawning, killing and reaping policy programs (posix_spawn: safe and cheap in a
 * multi-threaded process, unlike fork). */
#include "policy_proc.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Environment variables never passed to policy programs (secrets of the relay). */
static const char *const withheld_env[] = {"G1RELAY_PASSPHRASE=", NULL};

/* A copy of the relay's environment without the withheld variables (malloc'd
 * array of borrowed strings), or NULL if out of memory. */
static char **child_environment(void) {
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **env = malloc((n + 1) * sizeof *env);
    if (!env) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = true;
        for (size_t w = 0; withheld_env[w]; w++)
            if (strncmp(environ[i], withheld_env[w], strlen(withheld_env[w])) == 0) keep = false;
        if (keep) env[o++] = environ[i];
    }
    env[o] = NULL;
    return env;
}

int policy_child_spawn(policy_child *c, char *const argv[], bool want_stdin, bool merge_stderr) {
    c->pid = -1;
    c->pidfd = c->in_fd = c->out_fd = -1;
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
    int rc = 0;
    if (want_stdin && pipe2(in_pipe, O_CLOEXEC) < 0) return errno;
    if (pipe2(out_pipe, O_CLOEXEC) < 0) {
        rc = errno;
        goto fail_pipes;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (want_stdin) posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    if (merge_stderr) posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++) sigaddset(&defaults, reset[i]);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    char **env = child_environment();
    rc = env ? posix_spawn(&pid, argv[0], &fa, &attr, argv, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) goto fail_pipes;
    close(out_pipe[1]);
    if (want_stdin) close(in_pipe[0]);
    c->pid = pid;
    c->out_fd = out_pipe[0];
    c->in_fd = want_stdin ? in_pipe[1] : -1;
    fcntl(c->out_fd, F_SETFL, fcntl(c->out_fd, F_GETFL) | O_NONBLOCK);
    if (c->in_fd >= 0) fcntl(c->in_fd, F_SETFL, fcntl(c->in_fd, F_GETFL) | O_NONBLOCK);
    c->pidfd = pidfd_open(pid, 0);
    if (c->pidfd >= 0) fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
    return 0;
fail_pipes:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0) close(in_pipe[i]);
        if (out_pipe[i] >= 0) close(out_pipe[i]);
    }
    return rc;
}

void policy_child_close(policy_child *c) {
    if (c->in_fd >= 0) close(c->in_fd);
    if (c->out_fd >= 0) close(c->out_fd);
    if (c->pidfd >= 0) close(c->pidfd);
    c->in_fd = c->out_fd = c->pidfd = -1;
}

void policy_child_kill_group(pid_t pid) {
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL); /* in case it left its group */
    }
}

int policy_child_reap(pid_t pid, int *status) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) { if (status) *status = st; return 1; }
    if (r == 0) return 0;
    return -1;
}
