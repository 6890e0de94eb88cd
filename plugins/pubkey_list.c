/* Built-in plugin "pubkey_list": allow and deny lists of event authors, read from
 * files and reloaded when they change, without restarting the relay.
 *
 *   [plugin.pubkey_list]
 *   allow_file = "/etc/g1relay/allow.txt"  # only these authors may publish (unset: anyone)
 *   deny_file  = "/etc/g1relay/deny.txt"   # these authors may not publish
 *   reload_interval_ms = 1000              # how often the files' mtime/size/inode are checked
 *
 * File format: one pubkey per line, 64 hex characters or an npub; `#` starts a
 * comment; blank lines are ignored. A file with a bad line is refused as a whole
 * (at start-up an error, on reload a warning and the previous list stays).
 *
 * Threads: a background thread per instance watches the files and builds a new
 * sorted key array; it swaps it in under a write lock. decide takes the read lock
 * for one binary search: no I/O on the caller's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "hex.h"
#include "log.h"
#include "npub.h" /* settlement/npub.h: hex or npub parsing */
#include "plugin.h"
#include "plugin_config.h"

#define PUBKEY_FILE_MAX_BYTES (256u * 1024 * 1024)

typedef struct {
    uint8_t (*keys)[32]; /* sorted, unique */
    size_t count;
} key_set;

typedef struct {
    char *path;            /* NULL when not configured */
    key_set set;           /* guarded by the instance's lock */
    struct stat seen;      /* identity of the file last loaded */
    bool reload_failed;    /* last reload attempt failed (warn once) */
} key_list;

typedef struct {
    key_list allow, deny;
    pthread_rwlock_t lock;
    pthread_t watcher;
    bool watcher_running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    long interval_ms;
} pubkey_list_state;

static int key_cmp(const void *a, const void *b) { return memcmp(a, b, 32); }

static bool set_contains(const key_set *set, const uint8_t key[32]) {
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(set->keys[mid], key, 32);
        if (c == 0) return true;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return false;
}

/* Parses one key token (hex or npub). */
static bool parse_key(const char *tok, size_t len, uint8_t out[32]) {
    if (len == 64) return hex_decode(tok, len, out, 32);
    if (len > 100) return false;
    char text[128], why[128];
    memcpy(text, tok, len);
    text[len] = 0;
    return npub_parse(text, out, why, sizeof why) == 0;
}

/* Reads path into a new sorted set. On error fills err ("FILE:LINE: ...") and returns -1. */
static int load_key_file(const char *path, key_set *out, struct stat *st_out, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > PUBKEY_FILE_MAX_BYTES) {
        snprintf(err, errlen, "%s: not a regular file of at most %u MiB", path, PUBKEY_FILE_MAX_BYTES >> 20);
        fclose(f);
        return -1;
    }
    size_t cap = 64, count = 0;
    uint8_t (*keys)[32] = malloc(cap * 32);
    char line[1024];
    int lineno = 0, rc = 0;
    while (keys && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno); rc = -1; break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        char *end = p;
        while (*end && *end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') end++;
        if (end == p) continue;
        char *rest = end;
        while (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n') rest++;
        if (*rest) { snprintf(err, errlen, "%s:%d: one pubkey per line", path, lineno); rc = -1; break; }
        if (count == cap) {
            cap *= 2;
            uint8_t (*n)[32] = realloc(keys, cap * 32);
            if (!n) { free(keys); keys = NULL; break; }
            keys = n;
        }
        if (!parse_key(p, (size_t)(end - p), keys[count])) {
            snprintf(err, errlen, "%s:%d: not a hex pubkey or npub: %.70s", path, lineno, p);
            rc = -1;
            break;
        }
        count++;
    }
    fclose(f);
    if (!keys) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    if (rc < 0) { free(keys); return -1; }
    qsort(keys, count, 32, key_cmp);
    size_t u = 0;
    for (size_t i = 0; i < count; i++)
        if (u == 0 || memcmp(keys[u - 1], keys[i], 32) != 0) memmove(keys[u++], keys[i], 32);
    out->keys = keys;
    out->count = u;
    *st_out = st;
    return 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Called by the watcher: reloads list if its file changed. */
static void maybe_reload(pubkey_list_state *st, key_list *list) {
    if (!list->path) return;
    struct stat now;
    if (stat(list->path, &now) < 0) {
        if (!list->reload_failed) log_warn("pubkey_list: %s: %s (keeping the loaded list)", list->path, strerror(errno));
        list->reload_failed = true;
        return;
    }
    if (same_file_state(&now, &list->seen)) return;
    key_set fresh;
    struct stat loaded;
    char err[256];
    if (load_key_file(list->path, &fresh, &loaded, err, sizeof err) < 0) {
        if (!list->reload_failed) log_warn("pubkey_list: %s (keeping the loaded list)", err);
        list->reload_failed = true;
        list->seen = now; /* do not retry until it changes again */
        return;
    }
    pthread_rwlock_wrlock(&st->lock);
    key_set old = list->set;
    list->set = fresh;
    pthread_rwlock_unlock(&st->lock);
    free(old.keys);
    list->seen = loaded;
    list->reload_failed = false;
    log_info("pubkey_list: reloaded %s (%zu pubkeys)", list->path, fresh.count);
}

static void *watcher_main(void *arg) {
    pubkey_list_state *st = arg;
    pthread_mutex_lock(&st->stop_lock);
    while (!st->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += st->interval_ms / 1000;
        until.tv_nsec += (st->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        while (!st->stopping && pthread_cond_timedwait(&st->stop_cond, &st->stop_lock, &until) != ETIMEDOUT) {}
        if (st->stopping) break;
        pthread_mutex_unlock(&st->stop_lock);
        maybe_reload(st, &st->allow);
        maybe_reload(st, &st->deny);
        pthread_mutex_lock(&st->stop_lock);
    }
    pthread_mutex_unlock(&st->stop_lock);
    return NULL;
}

static void pubkey_list_teardown(void *state) {
    pubkey_list_state *st = state;
    if (!st) return;
    if (st->watcher_running) {
        pthread_mutex_lock(&st->stop_lock);
        st->stopping = true;
        pthread_cond_signal(&st->stop_cond);
        pthread_mutex_unlock(&st->stop_lock);
        pthread_join(st->watcher, NULL);
    }
    free(st->allow.set.keys);
    free(st->deny.set.keys);
    free(st->allow.path);
    free(st->deny.path);
    pthread_rwlock_destroy(&st->lock);
    pthread_mutex_destroy(&st->stop_lock);
    pthread_cond_destroy(&st->stop_cond);
    free(st);
}

static int pubkey_list_init(void **state, const config *cfg, const char *section, store *s,
                            char *err, size_t errlen) {
    (void)s;
    static const char *const known[] = {"allow_file", "deny_file", "reload_interval_ms", NULL};
    if (plugin_check_keys(cfg, section, known, err, errlen) < 0) return -1;
    pubkey_list_state *st = calloc(1, sizeof *st);
    if (!st) { snprintf(err, errlen, "out of memory"); return -1; }
    pthread_rwlock_init(&st->lock, NULL);
    pthread_mutex_init(&st->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    st->interval_ms = (long)config_int(cfg, section, "reload_interval_ms", 1000);
    if (st->interval_ms < 10 || st->interval_ms > 3600000) {
        snprintf(err, errlen, "reload_interval_ms must be between 10 and 3600000");
        goto fail;
    }
    const char *allow = config_str(cfg, section, "allow_file", "");
    const char *deny = config_str(cfg, section, "deny_file", "");
    if (!allow[0] && !deny[0]) {
        snprintf(err, errlen, "set allow_file and/or deny_file");
        goto fail;
    }
    key_list *lists[2] = {&st->allow, &st->deny};
    const char *paths[2] = {allow, deny};
    for (int i = 0; i < 2; i++) {
        if (!paths[i][0]) continue;
        lists[i]->path = strdup(paths[i]);
        if (!lists[i]->path || load_key_file(paths[i], &lists[i]->set, &lists[i]->seen, err, errlen) < 0)
            goto fail;
    }
    if (pthread_create(&st->watcher, NULL, watcher_main, st) != 0) {
        snprintf(err, errlen, "cannot start the file watcher thread");
        goto fail;
    }
    st->watcher_running = true;
    *state = st;
    return 0;
fail:
    pubkey_list_teardown(st);
    return -1;
}

static plugin_verdict pubkey_list_decide(void *state, const event *ev, const plugin_source *src,
                                         char *msg, size_t msglen) {
    (void)src;
    pubkey_list_state *st = state;
    plugin_verdict v = PLUGIN_ACCEPT;
    pthread_rwlock_rdlock(&st->lock);
    if (st->deny.path && set_contains(&st->deny.set, ev->pubkey)) {
        snprintf(msg, msglen, "blocked: pubkey is on this relay's deny list");
        v = PLUGIN_REJECT;
    } else if (st->allow.path && !set_contains(&st->allow.set, ev->pubkey)) {
        snprintf(msg, msglen, "blocked: pubkey is not on this relay's allow list");
        v = PLUGIN_REJECT;
    }
    pthread_rwlock_unlock(&st->lock);
    return v;
}

const plugin_def plugin_pubkey_list = {
    .name = "pubkey_list",
    .kinds = NULL,
    .kind_count = 0,
    .init = pubkey_list_init,
    .teardown = pubkey_list_teardown,
    .decide = pubkey_list_decide,
    .committed = NULL,
};
