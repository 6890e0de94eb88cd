/* The policy runner: decides events with external programs without blocking the
 * relay. One runner thread owns everything below and sleeps in epoll:
 *
 *   submit (any thread) --queue--> runner thread
 *        stage 1: write policy  a pool of long-running processes of the program
 *                               (strfry protocol, one event in flight per process)
 *        stage 2: filter dir    NIP-101: DIR/<kind>.sh run once per event
 *   --> done callback (runner thread)
 *
 * Both stages have the same timeout. A write-policy process that times out,
 * crashes, exits or answers garbage has its process group killed and is replaced;
 * the event gets write_policy_default. Processes that die within a second of
 * starting are restarted with an increasing delay (100 ms .. 5 s). The program file
 * is stat'ed at most once a second: when its inode, size, mtime or ctime changes,
 * new processes start on the new file and old ones are retired after their current
 * event. Pipes are non-blocking; the runner never waits on a child. */
#include "policy_runner.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "hex.h"
#include "log.h"
#include "policy_proc.h"
#include "policy_protocol.h"

#define WP_MAX_PROCESSES 64
#define FD_MAX_PROCESSES 64
#define PROGRAM_CHECK_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

typedef struct pjob {
    struct pjob *next;
    char *line;             /* input line with "\n" (stage 1), or NUL-terminated (stage 2) */
    size_t line_len;        /* without the trailing NUL */
    char id_hex[65];
    uint32_t kind;
    void *job;
    policy_done_fn done;
    int64_t waiting_since_ms;
    bool overflow;          /* queue was full: answered at once, no line */
} pjob;

typedef struct {
    pjob *head, *tail;
    size_t len;
} job_queue;

static void q_push(job_queue *q, pjob *j) {
    j->next = NULL;
    if (q->tail) q->tail->next = j; else q->head = j;
    q->tail = j;
    q->len++;
}

static void q_push_front(job_queue *q, pjob *j) {
    j->next = q->head;
    q->head = j;
    if (!q->tail) q->tail = j;
    q->len++;
}

static pjob *q_pop(job_queue *q) {
    pjob *j = q->head;
    if (!j) return NULL;
    q->head = j->next;
    if (!q->head) q->tail = NULL;
    q->len--;
    j->next = NULL;
    return j;
}

typedef enum { WP_EMPTY = 0, WP_IDLE, WP_BUSY } wp_state;

typedef struct {
    wp_state state;
    policy_child ch;
    uint32_t serial;        /* changes every time the slot is reused: stale epoll events are ignored */
    uint64_t generation;    /* program file version it runs */
    bool retiring;          /* program changed: stop after the current event */
    bool want_write;        /* EPOLLOUT registered on ch.in_fd */
    pjob *job;
    size_t written;
    int64_t deadline_ms, spawned_ms;
    char *rbuf;
    size_t rlen;
} wp_proc;

typedef struct {
    bool used;
    policy_child ch;
    uint32_t serial;
    pjob *job;
    int64_t deadline_ms;
    char out[POLICY_MAX_MSG + 1];
    size_t out_len;
    bool line_complete;     /* first line read (the rest is drained and ignored) */
    bool out_open;
} fd_proc;

enum { EV_WAKE = 1, EV_WP_OUT, EV_WP_IN, EV_WP_PID, EV_FD_OUT, EV_FD_PID };

struct policy_runner {
    /* shared with submitters */
    pthread_mutex_t lock;
    job_queue incoming;
    bool stopping;
    atomic_size_t inflight;
    size_t queue_max;
    int wake_fd;
    /* runner thread */
    pthread_t thread;
    bool thread_started;
    int epfd;
    int64_t timeout_ms;
    bool default_accept;
    uint32_t next_serial;
    /* stage 1: write policy */
    bool wp_enabled;
    char *wp_cmd;
    char *wp_argv[4];
    bool wp_is_path;        /* a plain path: watched for changes */
    size_t wp_nprocs;
    wp_proc wp[2 * WP_MAX_PROCESSES];
    size_t wp_slots;
    uint64_t wp_generation;
    struct stat wp_stat;
    int64_t wp_next_check_ms;
    int64_t wp_spawn_not_before_ms;
    int wp_fast_failures;
    bool wp_spawn_error_logged;
    job_queue wp_wait;
    /* stage 2: filter dir */
    bool fd_enabled;
    char *fd_dir;
    size_t fd_max;
    fd_proc fdp[FD_MAX_PROCESSES];
    size_t fd_running;
    job_queue fd_wait;
    bool fd_needs_poll;     /* some script has no pidfd: poll waitpid */
    /* killed children not yet reaped */
    pid_t *reap;
    size_t reap_len, reap_cap;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t ev_data(int type, size_t index, uint32_t serial) {
    return ((uint64_t)type << 56) | ((uint64_t)index << 32) | serial;
}

static void ep_add(policy_runner *r, int fd, uint32_t events, uint64_t data) {
    struct epoll_event e = {.events = events, .data.u64 = data};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
        log_error("policy runner: epoll_ctl add: %s", strerror(errno));
}

static void ep_del(policy_runner *r, int fd) {
    if (fd >= 0) epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- job completion ---- */

static void job_free(policy_runner *r, pjob *j) {
    free(j->line);
    free(j);
    atomic_fetch_sub(&r->inflight, 1);
}

static void job_complete(policy_runner *r, pjob *j, plugin_verdict v, const char *msg) {
    j->done(j->job, v, msg ? msg : "");
    job_free(r, j);
}

static void fd_submit(policy_runner *r, pjob *j, int64_t now);

/* Stage 1 finished with verdict v: go on to stage 2 on accept. */
static void wp_finish(policy_runner *r, pjob *j, plugin_verdict v, const char *msg, int64_t now) {
    if (v == PLUGIN_ACCEPT && r->fd_enabled) fd_submit(r, j, now);
    else job_complete(r, j, v, msg);
}

/* The decision could not be made: apply write_policy_default. */
static void wp_fail(policy_runner *r, pjob *j, const char *msg, int64_t now) {
    if (r->default_accept) wp_finish(r, j, PLUGIN_ACCEPT, "", now);
    else wp_finish(r, j, PLUGIN_REJECT, msg, now);
}

static void fd_fail(policy_runner *r, pjob *j, const char *msg) {
    if (r->default_accept) job_complete(r, j, PLUGIN_ACCEPT, "");
    else job_complete(r, j, PLUGIN_REJECT, msg);
}

/* ---- killed children ---- */

static void reap_later(policy_runner *r, pid_t pid) {
    if (policy_child_reap(pid, NULL) != 0) return;
    if (r->reap_len == r->reap_cap) {
        size_t cap = r->reap_cap ? r->reap_cap * 2 : 16;
        pid_t *n = realloc(r->reap, cap * sizeof *n);
        if (!n) return; /* leaves a zombie until exit: better than failing */
        r->reap = n;
        r->reap_cap = cap;
    }
    r->reap[r->reap_len++] = pid;
}

static void reap_pending(policy_runner *r) {
    for (size_t i = 0; i < r->reap_len;) {
        if (policy_child_reap(r->reap[i], NULL) != 0) r->reap[i] = r->reap[--r->reap_len];
        else i++;
    }
}

/* ---- stage 1: write-policy processes ---- */

static bool program_changed(policy_runner *r, int64_t now) {
    if (!r->wp_is_path || now < r->wp_next_check_ms) return false;
    r->wp_next_check_ms = now + PROGRAM_CHECK_MS;
    struct stat st;
    if (stat(r->wp_cmd, &st) < 0) return false; /* being replaced: keep what runs */
    bool same = st.st_ino == r->wp_stat.st_ino && st.st_dev == r->wp_stat.st_dev &&
                st.st_size == r->wp_stat.st_size &&
                st.st_mtim.tv_sec == r->wp_stat.st_mtim.tv_sec && st.st_mtim.tv_nsec == r->wp_stat.st_mtim.tv_nsec &&
                st.st_ctim.tv_sec == r->wp_stat.st_ctim.tv_sec && st.st_ctim.tv_nsec == r->wp_stat.st_ctim.tv_nsec;
    if (same) return false;
    r->wp_stat = st;
    return true;
}

/* Stops a process: kills its group, closes its pipes. failed: it died or misbehaved
 * (counts towards the restart delay when it happens soon after start). */
static void wp_stop(policy_runner *r, wp_proc *p, bool failed, int64_t now) {
    if (p->state == WP_EMPTY) return;
    ep_del(r, p->ch.out_fd);
    ep_del(r, p->ch.in_fd);
    ep_del(r, p->ch.pidfd);
    policy_child_kill_group(p->ch.pid);
    policy_child_close(&p->ch);
    reap_later(r, p->ch.pid);
    if (failed) {
        if (now - p->spawned_ms < 1000) {
            if (r->wp_fast_failures < 16) r->wp_fast_failures++;
            int64_t delay = (int64_t)BACKOFF_MIN_MS << (r->wp_fast_failures - 1);
            if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
            r->wp_spawn_not_before_ms = now + delay;
        } else {
            r->wp_fast_failures = 0;
        }
    }
    free(p->rbuf);
    p->rbuf = NULL;
    p->rlen = 0;
    p->job = NULL;
    p->state = WP_EMPTY;
    p->retiring = false;
    p->want_write = false;
    p->serial = ++r->next_serial;
}

/* The process failed while deciding (or idle): its event gets the default. */
static void wp_kill_failed(policy_runner *r, wp_proc *p, const char *what, const char *client_msg, int64_t now) {
    log_warn("write policy %s (pid %d): %s; killing its process group and restarting",
             r->wp_cmd, (int)p->ch.pid, what);
    pjob *j = p->state == WP_BUSY ? p->job : NULL;
    wp_stop(r, p, true, now);
    if (j) wp_fail(r, j, client_msg, now);
}

static void wp_spawn(policy_runner *r, wp_proc *p, size_t index, int64_t now) {
    int rc = policy_child_spawn(&p->ch, r->wp_argv, true, false);
    if (rc != 0) {
        if (!r->wp_spawn_error_logged)
            log_error("write policy %s: cannot start: %s (retrying)", r->wp_cmd, strerror(rc));
        r->wp_spawn_error_logged = true;
        if (r->wp_fast_failures < 16) r->wp_fast_failures++;
        int64_t delay = (int64_t)BACKOFF_MIN_MS << (r->wp_fast_failures - 1);
        r->wp_spawn_not_before_ms = now + (delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay);
        return;
    }
    r->wp_spawn_error_logged = false;
    p->rbuf = malloc(POLICY_MAX_ANSWER_LINE + 1);
    if (!p->rbuf) {
        policy_child_kill_group(p->ch.pid);
        policy_child_close(&p->ch);
        reap_later(r, p->ch.pid);
        return;
    }
    p->serial = ++r->next_serial;
    p->state = WP_IDLE;
    p->generation = r->wp_generation;
    p->retiring = false;
    p->spawned_ms = now;
    p->rlen = 0;
    ep_add(r, p->ch.out_fd, EPOLLIN, ev_data(EV_WP_OUT, index, p->serial));
    if (p->ch.pidfd >= 0) ep_add(r, p->ch.pidfd, EPOLLIN, ev_data(EV_WP_PID, index, p->serial));
    log_debug("write policy %s: started pid %d", r->wp_cmd, (int)p->ch.pid);
}

/* Writes as much of the current job's line as the pipe takes. */
static void wp_write(policy_runner *r, wp_proc *p, size_t index, int64_t now) {
    pjob *j = p->job;
    while (p->written < j->line_len) {
        ssize_t n = write(p->ch.in_fd, j->line + p->written, j->line_len - p->written);
        if (n > 0) { p->written += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            if (!p->want_write) {
                ep_add(r, p->ch.in_fd, EPOLLOUT, ev_data(EV_WP_IN, index, p->serial));
                p->want_write = true;
            }
            return;
        }
        /* EPIPE: it died before reading; give the event to another process */
        if (p->written == 0) {
            p->job = NULL;
            p->state = WP_IDLE;
            q_push_front(&r->wp_wait, j);
            wp_kill_failed(r, p, "stdin closed", "", now);
        } else {
            wp_kill_failed(r, p, "stdin closed", "error: write policy crashed", now);
        }
        return;
    }
    if (p->want_write) {
        ep_del(r, p->ch.in_fd);
        p->want_write = false;
    }
}

static void wp_handle_line(policy_runner *r, wp_proc *p, const char *line, size_t len, int64_t now) {
    if (p->state != WP_BUSY || p->written < p->job->line_len) {
        wp_kill_failed(r, p, "wrote output nobody asked for", "error: write policy answered garbage", now);
        return;
    }
    plugin_verdict v;
    char msg[POLICY_MAX_MSG + 64], why[160];
    if (policy_parse_answer(line, len, p->job->id_hex, &v, msg, sizeof msg, why, sizeof why) < 0) {
        char what[200];
        snprintf(what, sizeof what, "bad answer (%s)", why);
        wp_kill_failed(r, p, what, "error: write policy answered garbage", now);
        return;
    }
    pjob *j = p->job;
    p->job = NULL;
    p->state = WP_IDLE;
    if (p->retiring || p->generation != r->wp_generation) wp_stop(r, p, false, now);
    wp_finish(r, j, v, msg, now);
}

/* Reads what the process wrote; returns false if it was stopped. */
static bool wp_read(policy_runner *r, wp_proc *p, int64_t now) {
    uint32_t serial = p->serial;
    for (;;) {
        if (p->state == WP_EMPTY || p->serial != serial) return false;
        size_t room = POLICY_MAX_ANSWER_LINE - p->rlen;
        if (room == 0) {
            wp_kill_failed(r, p, "answer line too long", "error: write policy answered garbage", now);
            return false;
        }
        ssize_t n = read(p->ch.out_fd, p->rbuf + p->rlen, room);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return true;
        if (n <= 0) {
            const char *what = n == 0 ? "closed its stdout or exited" : "read error";
            wp_kill_failed(r, p, what, "error: write policy crashed", now);
            return false;
        }
        p->rlen += (size_t)n;
        size_t start = 0;
        for (size_t i = p->rlen - (size_t)n; i < p->rlen; i++) {
            if (p->rbuf[i] != '\n') continue;
            size_t len = i - start;
            if (len && p->rbuf[start + len - 1] == '\r') len--;
            p->rbuf[start + len] = 0;
            if (len) wp_handle_line(r, p, p->rbuf + start, len, now);
            if (p->state == WP_EMPTY || p->serial != serial) return false;
            start = i + 1;
        }
        if (start) {
            memmove(p->rbuf, p->rbuf + start, p->rlen - start);
            p->rlen -= start;
        }
    }
}

static void wp_maintain(policy_runner *r, int64_t now) {
    if (!r->wp_enabled) return;
    if (program_changed(r, now)) {
        r->wp_generation++;
        log_info("write policy %s changed: starting new processes, retiring the old ones", r->wp_cmd);
        for (size_t i = 0; i < r->wp_slots; i++) {
            wp_proc *p = &r->wp[i];
            if (p->state == WP_IDLE) wp_stop(r, p, false, now);
            else if (p->state == WP_BUSY) p->retiring = true;
        }
        r->wp_fast_failures = 0;
        r->wp_spawn_not_before_ms = 0;
    }
    /* timeouts */
    for (size_t i = 0; i < r->wp_slots; i++) {
        wp_proc *p = &r->wp[i];
        if (p->state == WP_BUSY && now >= p->deadline_ms) {
            log_warn("write policy %s (pid %d): no answer within %lld ms; killing its process group and restarting",
                     r->wp_cmd, (int)p->ch.pid, (long long)r->timeout_ms);
            pjob *j = p->job;
            wp_stop(r, p, false, now);
            wp_fail(r, j, "error: write policy timed out", now);
        }
    }
    /* keep wp_nprocs processes of the current program */
    size_t active = 0;
    for (size_t i = 0; i < r->wp_slots; i++)
        if (r->wp[i].state != WP_EMPTY && !r->wp[i].retiring) active++;
    for (size_t i = 0; i < r->wp_slots && active < r->wp_nprocs && now >= r->wp_spawn_not_before_ms; i++) {
        if (r->wp[i].state != WP_EMPTY) continue;
        wp_spawn(r, &r->wp[i], i, now);
        if (r->wp[i].state != WP_EMPTY) active++;
    }
    /* hand waiting events to idle processes */
    for (size_t i = 0; i < r->wp_slots && r->wp_wait.head; i++) {
        wp_proc *p = &r->wp[i];
        if (p->state != WP_IDLE || p->retiring) continue;
        p->job = q_pop(&r->wp_wait);
        p->state = WP_BUSY;
        p->written = 0;
        p->deadline_ms = now + r->timeout_ms;
        wp_write(r, p, i, now);
    }
    /* events that waited too long for a process */
    while (r->wp_wait.head && now - r->wp_wait.head->waiting_since_ms >= r->timeout_ms)
        wp_fail(r, q_pop(&r->wp_wait), "error: write policy busy or unavailable", now);
}

/* ---- stage 2: NIP-101 filter directory ---- */

static void fd_finish(policy_runner *r, fd_proc *f, int status, bool timed_out) {
    pjob *j = f->job;
    ep_del(r, f->ch.out_fd);
    ep_del(r, f->ch.pidfd);
    policy_child_close(&f->ch);
    f->used = false;
    f->job = NULL;
    f->serial = ++r->next_serial;
    r->fd_running--;
    if (timed_out) {
        log_warn("filter %s/%u.sh: no exit within %lld ms; killed its process group", r->fd_dir,
                 (unsigned)j->kind, (long long)r->timeout_ms);
        fd_fail(r, j, "error: filter script timed out");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        job_complete(r, j, PLUGIN_ACCEPT, "");
    } else if (WIFEXITED(status)) {
        char fallback[96], msg[POLICY_MAX_MSG + 64];
        snprintf(fallback, sizeof fallback, "blocked: refused by filter %u.sh", (unsigned)j->kind);
        policy_client_msg(f->out, f->out_len, fallback, msg, sizeof msg);
        job_complete(r, j, PLUGIN_REJECT, msg);
    } else {
        log_warn("filter %s/%u.sh: killed by signal %d", r->fd_dir, (unsigned)j->kind,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        fd_fail(r, j, "error: filter script crashed");
    }
}

/* Reads script output: keeps the first line, drains the rest. */
static void fd_read(policy_runner *r, fd_proc *f) {
    if (!f->out_open) return;
    char scratch[4096];
    for (;;) {
        ssize_t n = read(f->ch.out_fd, scratch, sizeof scratch);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            ep_del(r, f->ch.out_fd);
            f->out_open = false;
            return;
        }
        for (ssize_t i = 0; i < n && !f->line_complete; i++) {
            if (scratch[i] == '\n') { if (f->out_len) f->line_complete = true; continue; }
            if (f->out_len < POLICY_MAX_MSG) f->out[f->out_len++] = scratch[i];
        }
    }
}

static void fd_check_exit(policy_runner *r, fd_proc *f) {
    int status;
    int rc = policy_child_reap(f->ch.pid, &status);
    if (rc == 0) return;
    if (rc < 0) status = 0x7f00; /* lost: as if it exited 127 */
    fd_read(r, f);
    fd_finish(r, f, status, false);
}

static bool fd_start(policy_runner *r, pjob *j) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%u.sh", r->fd_dir, (unsigned)j->kind);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
        job_complete(r, j, PLUGIN_ACCEPT, ""); /* no script for this kind */
        return true;
    }
    size_t slot = 0;
    while (slot < r->fd_max && r->fdp[slot].used) slot++;
    if (slot == r->fd_max) return false;
    fd_proc *f = &r->fdp[slot];
    char *argv[] = {path, j->line, NULL};
    int rc = policy_child_spawn(&f->ch, argv, false, true);
    if (rc != 0) {
        log_warn("filter %s: cannot run: %s", path, strerror(rc));
        fd_fail(r, j, rc == E2BIG ? "error: event too large for the filter script"
                                  : "error: filter script cannot run");
        return true;
    }
    f->used = true;
    f->job = j;
    f->serial = ++r->next_serial;
    f->deadline_ms = now_ms() + r->timeout_ms;
    f->out_len = 0;
    f->line_complete = false;
    f->out_open = true;
    r->fd_running++;
    ep_add(r, f->ch.out_fd, EPOLLIN, ev_data(EV_FD_OUT, slot, f->serial));
    if (f->ch.pidfd >= 0) ep_add(r, f->ch.pidfd, EPOLLIN, ev_data(EV_FD_PID, slot, f->serial));
    else r->fd_needs_poll = true;
    return true;
}

static void fd_submit(policy_runner *r, pjob *j, int64_t now) {
    /* the script gets the line as $1: without its newline */
    if (j->line_len && j->line[j->line_len - 1] == '\n') j->line[--j->line_len] = 0;
    j->waiting_since_ms = now;
    if (r->fd_wait.head || !fd_start(r, j)) q_push(&r->fd_wait, j);
}

static void fd_maintain(policy_runner *r, int64_t now) {
    if (!r->fd_enabled) return;
    bool poll_needed = false;
    for (size_t i = 0; i < r->fd_max; i++) {
        fd_proc *f = &r->fdp[i];
        if (!f->used) continue;
        if (f->ch.pidfd < 0) { fd_check_exit(r, f); if (!f->used) continue; poll_needed = true; }
        if (now >= f->deadline_ms) {
            pid_t pid = f->ch.pid;
            policy_child_kill_group(pid);
            reap_later(r, pid);
            fd_finish(r, f, 0, true);
        }
    }
    r->fd_needs_poll = poll_needed;
    while (r->fd_wait.head && now - r->fd_wait.head->waiting_since_ms >= r->timeout_ms)
        fd_fail(r, q_pop(&r->fd_wait), "error: filter scripts busy");
    while (r->fd_wait.head && r->fd_running < r->fd_max) {
        pjob *j = q_pop(&r->fd_wait);
        if (!fd_start(r, j)) { q_push_front(&r->fd_wait, j); break; }
    }
}

/* ---- the runner thread ---- */

static void route_new_job(policy_runner *r, pjob *j, int64_t now) {
    if (j->overflow) {
        j->done(j->job, PLUGIN_REJECT, "rate-limited: policy queue full, try again later");
        job_free(r, j);
        return;
    }
    j->waiting_since_ms = now;
    if (r->wp_enabled) q_push(&r->wp_wait, j);
    else fd_submit(r, j, now);
}

static int next_timeout(policy_runner *r, int64_t now) {
    int64_t next = now + 1000;
    if (r->wp_enabled) {
        if (r->wp_is_path && r->wp_next_check_ms < next) next = r->wp_next_check_ms;
        for (size_t i = 0; i < r->wp_slots; i++)
            if (r->wp[i].state == WP_BUSY && r->wp[i].deadline_ms < next) next = r->wp[i].deadline_ms;
        if (r->wp_wait.head && r->wp_wait.head->waiting_since_ms + r->timeout_ms < next)
            next = r->wp_wait.head->waiting_since_ms + r->timeout_ms;
        if (r->wp_spawn_not_before_ms > now && r->wp_spawn_not_before_ms < next)
            next = r->wp_spawn_not_before_ms;
    }
    if (r->fd_enabled) {
        for (size_t i = 0; i < r->fd_max; i++)
            if (r->fdp[i].used && r->fdp[i].deadline_ms < next) next = r->fdp[i].deadline_ms;
        if (r->fd_wait.head && r->fd_wait.head->waiting_since_ms + r->timeout_ms < next)
            next = r->fd_wait.head->waiting_since_ms + r->timeout_ms;
        if (r->fd_needs_poll && now + 10 < next) next = now + 10;
    }
    if (r->reap_len && now + 100 < next) next = now + 100;
    return next <= now ? 0 : (int)(next - now);
}

static void handle_event(policy_runner *r, const struct epoll_event *e, int64_t now) {
    int type = (int)(e->data.u64 >> 56);
    size_t index = (size_t)((e->data.u64 >> 32) & 0xffffff);
    uint32_t serial = (uint32_t)e->data.u64;
    if (type == EV_WAKE) {
        uint64_t v;
        ssize_t n = read(r->wake_fd, &v, sizeof v);
        (void)n;
        return;
    }
    if (type == EV_WP_OUT || type == EV_WP_IN || type == EV_WP_PID) {
        if (index >= r->wp_slots) return;
        wp_proc *p = &r->wp[index];
        if (p->state == WP_EMPTY || p->serial != serial) return; /* stale */
        if (type == EV_WP_IN) {
            if (p->state == WP_BUSY) wp_write(r, p, index, now);
        } else if (type == EV_WP_OUT) {
            wp_read(r, p, now);
        } else {
            /* exited: take a final answer it may have written, then restart it */
            if (wp_read(r, p, now) && p->state != WP_EMPTY && p->serial == serial)
                wp_kill_failed(r, p, "exited", "error: write policy crashed", now);
        }
        return;
    }
    if (type == EV_FD_OUT || type == EV_FD_PID) {
        if (index >= r->fd_max) return;
        fd_proc *f = &r->fdp[index];
        if (!f->used || f->serial != serial) return;
        if (type == EV_FD_OUT) fd_read(r, f);
        else fd_check_exit(r, f);
    }
}

static void *runner_main(void *arg) {
    policy_runner *r = arg;
    struct epoll_event events[64];
    bool stopping = false;
    while (!stopping) {
        int64_t now = now_ms();
        int n = epoll_wait(r->epfd, events, 64, next_timeout(r, now));
        now = now_ms();
        for (int i = 0; i < n; i++) handle_event(r, &events[i], now);
        pthread_mutex_lock(&r->lock);
        pjob *list = r->incoming.head;
        r->incoming.head = r->incoming.tail = NULL;
        r->incoming.len = 0;
        stopping = r->stopping;
        pthread_mutex_unlock(&r->lock);
        while (list) {
            pjob *next = list->next;
            route_new_job(r, list, now);
            list = next;
        }
        wp_maintain(r, now);
        fd_maintain(r, now);
        reap_pending(r);
    }
    /* shutting down: stop every child, answer every event still here */
    int64_t now = now_ms();
    for (size_t i = 0; i < r->wp_slots; i++) {
        wp_proc *p = &r->wp[i];
        pjob *j = p->state == WP_BUSY ? p->job : NULL;
        wp_stop(r, p, false, now);
        if (j) job_complete(r, j, PLUGIN_REJECT, "error: relay is shutting down");
    }
    for (size_t i = 0; i < r->fd_max; i++) {
        fd_proc *f = &r->fdp[i];
        if (!f->used) continue;
        policy_child_kill_group(f->ch.pid);
        reap_later(r, f->ch.pid);
        ep_del(r, f->ch.out_fd);
        ep_del(r, f->ch.pidfd);
        policy_child_close(&f->ch);
        f->used = false;
        job_complete(r, f->job, PLUGIN_REJECT, "error: relay is shutting down");
    }
    pjob *j;
    while ((j = q_pop(&r->wp_wait))) job_complete(r, j, PLUGIN_REJECT, "error: relay is shutting down");
    while ((j = q_pop(&r->fd_wait))) job_complete(r, j, PLUGIN_REJECT, "error: relay is shutting down");
    pthread_mutex_lock(&r->lock);
    pjob *list = r->incoming.head;
    r->incoming.head = r->incoming.tail = NULL;
    pthread_mutex_unlock(&r->lock);
    while (list) {
        pjob *next = list->next;
        job_complete(r, list, PLUGIN_REJECT, list->overflow ? "rate-limited: policy queue full, try again later"
                                                             : "error: relay is shutting down");
        list = next;
    }
    /* give killed children a moment to be reaped (they were sent SIGKILL) */
    for (int tries = 0; r->reap_len && tries < 50; tries++) {
        reap_pending(r);
        if (r->reap_len) usleep(2000);
    }
    return NULL;
}

/* ---- public API ---- */

void policy_runner_free(policy_runner *r) {
    if (!r) return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        pthread_mutex_unlock(&r->lock);
        uint64_t one = 1;
        ssize_t n = write(r->wake_fd, &one, sizeof one);
        (void)n;
        pthread_join(r->thread, NULL);
    }
    if (r->wake_fd >= 0) close(r->wake_fd);
    if (r->epfd >= 0) close(r->epfd);
    free(r->reap);
    free(r->wp_cmd);
    free(r->fd_dir);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

policy_runner *policy_runner_new(const config *cfg, char *err, size_t errlen) {
    if (errlen) err[0] = 0;
    const char *wp = config_str(cfg, NULL, "write_policy", "");
    const char *dir = config_str(cfg, NULL, "filter_dir", "");
    if (!wp) wp = "";
    if (!dir) dir = "";
    if (!wp[0] && !dir[0]) return NULL;

    long long nprocs = config_int(cfg, NULL, "write_policy_processes", 4);
    long long timeout = config_int(cfg, NULL, "write_policy_timeout_ms", 5000);
    const char *dflt = config_str(cfg, NULL, "write_policy_default", "reject");
    long long fd_max = config_int(cfg, NULL, "filter_dir_processes", 4);
    long long queue_max = config_int(cfg, NULL, "policy_queue_max", 10000);
    if (nprocs < 1 || nprocs > WP_MAX_PROCESSES) {
        snprintf(err, errlen, "write_policy_processes must be 1..%d", WP_MAX_PROCESSES);
        return NULL;
    }
    if (fd_max < 1 || fd_max > FD_MAX_PROCESSES) {
        snprintf(err, errlen, "filter_dir_processes must be 1..%d", FD_MAX_PROCESSES);
        return NULL;
    }
    if (timeout < 10 || timeout > 600000) {
        snprintf(err, errlen, "write_policy_timeout_ms must be 10..600000");
        return NULL;
    }
    if (!dflt || (strcmp(dflt, "reject") != 0 && strcmp(dflt, "accept") != 0)) {
        snprintf(err, errlen, "write_policy_default must be \"reject\" or \"accept\"");
        return NULL;
    }
    if (queue_max < 1 || queue_max > 10000000) {
        snprintf(err, errlen, "policy_queue_max must be 1..10000000");
        return NULL;
    }

    policy_runner *r = calloc(1, sizeof *r);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    r->wake_fd = r->epfd = -1;
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->inflight, 0);
    r->queue_max = (size_t)queue_max;
    r->timeout_ms = timeout;
    r->default_accept = strcmp(dflt, "accept") == 0;
    r->wp_nprocs = (size_t)nprocs;
    r->wp_slots = 2 * (size_t)nprocs; /* room for retiring processes during a program change */
    r->fd_max = (size_t)fd_max;

    if (wp[0]) {
        r->wp_enabled = true;
        r->wp_cmd = strdup(wp);
        if (!r->wp_cmd) { snprintf(err, errlen, "out of memory"); goto fail; }
        r->wp_is_path = strpbrk(wp, " \t") == NULL;
        if (r->wp_is_path) {
            if (stat(wp, &r->wp_stat) < 0 || !S_ISREG(r->wp_stat.st_mode) || access(wp, X_OK) != 0) {
                snprintf(err, errlen, "write_policy %s: not an executable file", wp);
                goto fail;
            }
            r->wp_argv[0] = r->wp_cmd;
            r->wp_argv[1] = NULL;
        } else {
            /* a command line, as strfry allows: run by the shell, not watched */
            r->wp_argv[0] = "/bin/sh";
            r->wp_argv[1] = "-c";
            r->wp_argv[2] = r->wp_cmd;
            r->wp_argv[3] = NULL;
        }
    }
    if (dir[0]) {
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "filter_dir %s: not a directory", dir);
            goto fail;
        }
        r->fd_enabled = true;
        r->fd_dir = strdup(dir);
        if (!r->fd_dir) { snprintf(err, errlen, "out of memory"); goto fail; }
    }

    /* a child that dies must not kill the relay when we write to its pipe */
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);

    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->wake_fd < 0 || r->epfd < 0) {
        snprintf(err, errlen, "policy runner: %s", strerror(errno));
        goto fail;
    }
    ep_add(r, r->wake_fd, EPOLLIN, ev_data(EV_WAKE, 0, 0));
    r->wp_next_check_ms = now_ms() + PROGRAM_CHECK_MS;
    /* start the processes now so the first events do not wait for them */
    if (r->wp_enabled) wp_maintain(r, now_ms());
    if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
        snprintf(err, errlen, "policy runner: cannot start its thread");
        goto fail;
    }
    r->thread_started = true;
    if (r->wp_enabled)
        log_info("write policy %s: %zu processes, timeout %lld ms, default %s", r->wp_cmd, r->wp_nprocs,
                 (long long)r->timeout_ms, r->default_accept ? "accept" : "reject");
    if (r->fd_enabled)
        log_info("filter dir %s: up to %zu scripts at once, timeout %lld ms", r->fd_dir, r->fd_max,
                 (long long)r->timeout_ms);
    return r;
fail:
    for (size_t i = 0; i < r->wp_slots; i++) wp_stop(r, &r->wp[i], false, 0);
    reap_pending(r);
    policy_runner_free(r);
    return NULL;
}

void policy_runner_submit(policy_runner *r, const event *ev, const plugin_source *src,
                          void *job, policy_done_fn done) {
    pjob *j = calloc(1, sizeof *j);
    if (!j) { done(job, PLUGIN_REJECT, "error: out of memory"); return; }
    j->job = job;
    j->done = done;
    j->kind = ev->kind;
    hex_encode(ev->id, 32, j->id_hex);
    size_t prev = atomic_fetch_add(&r->inflight, 1);
    if (prev >= r->queue_max) {
        j->overflow = true; /* answered by the runner thread, without a copy of the event */
    } else {
        j->line = policy_input_line(ev, src, &j->line_len);
        if (!j->line) j->overflow = true;
    }
    pthread_mutex_lock(&r->lock);
    bool was_empty = r->incoming.head == NULL;
    q_push(&r->incoming, j);
    pthread_mutex_unlock(&r->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t n = write(r->wake_fd, &one, sizeof one);
        (void)n;
    }
}
