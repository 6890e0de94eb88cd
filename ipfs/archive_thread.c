/* Periodic archives, their push and their NIP-94 announcement (see archive_thread.h). */
#include "archive_thread.h"
#include "archive.h"
#include "archive_announce.h"
#include "archive_chain.h"
#include "hex.h"
#include "kubo_push.h"
#include "log.h"
#include "relay_ctx.h"
#include "station_identity.h"
#include "writer.h"
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PENDING_CHECK_SECONDS 10
#define PUSH_TIMEOUT_MS 30000

struct archive_thread {
    relay_ctx *ctx;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    int64_t interval;
    char data_dir[2048];
    char archive_dir[2048];
    char api[1024];
    uint8_t *sk;           /* station secret key (guarded memory), NULL when unavailable */
    uint8_t pk[32];
};

static int publish_announcement(archive_thread *t, const archive_result *res, const archive_links *links,
                                int64_t since, int64_t until, bool pushed) {
    write_job *j = calloc(1, sizeof *j);
    if (!j) return -1;
    if (archive_announcement_build(&j->ev, t->sk, res, links, since, until, pushed, (int64_t)time(NULL)) != 0) {
        free(j);
        return -1;
    }
    j->conn = 0; /* nobody to answer: stored and broadcast like any event */
    writer_submit(t->ctx->writer, j);
    return 0;
}

static void archive_once(archive_thread *t) {
    archive_chain_entry last;
    int k = archive_chain_last_own(t->data_dir, &last);
    if (k < 0) { log_error("archive: cannot read %s/%s", t->data_dir, ARCHIVE_CHAIN_FILE); return; }
    int64_t since = k ? last.until + 1 : 0, until = (int64_t)time(NULL) - 1;
    if (since > until) return;
    char path[4200];
    snprintf(path, sizeof path, "%s/g1relay-%lld-%lld.car", t->archive_dir, (long long)since, (long long)until);
    archive_result res;
    archive_links links;
    char err[512];
    if (archive_make(t->ctx->st, t->data_dir, since, until, t->sk ? t->pk : NULL, path, &res, &links, err, sizeof err) < 0) {
        log_error("archive: %s", err);
        return;
    }
    char root[CID_MAX_TEXT];
    cid_to_string(&res.root, root);
    log_info("archive: %llu events (%lld..%lld) in %s, root %s", (unsigned long long)res.count, (long long)since,
             (long long)until, path, root);
    bool pushed = false;
    if (t->api[0]) {
        if (kubo_push_in_order(t->data_dir, t->api, path, &res.root, PUSH_TIMEOUT_MS, &pushed, err, sizeof err) < 0)
            log_error("archive: push of %s to %s failed: %s", root, t->api, err);
        else if (pushed) log_info("archive: pushed %s to %s", root, t->api);
        else log_warn("archive: push of %s to %s delayed (%s): queued for retry", root, t->api, err);
    }
    if (t->sk && publish_announcement(t, &res, &links, since, until, pushed) < 0)
        log_error("archive: cannot sign the NIP-94 announcement of %s", root);
}

static void on_pushed(void *ctx, const char *car_path, const cid *root) {
    archive_thread *t = ctx;
    char r[CID_MAX_TEXT];
    cid_to_string(root, r);
    log_info("archive: pushed %s (%s) to %s", r, car_path, t->api);
}

/* True when there are events after the last archive (avoids writing empty archives). */
static bool has_new_events(archive_thread *t) {
    archive_chain_entry last;
    int k = archive_chain_last_own(t->data_dir, &last);
    if (k < 0) return true;
    int64_t since = k ? last.until + 1 : 0, until = (int64_t)time(NULL) - 1;
    if (since > until) return false;
    filter f;
    memset(&f, 0, sizeof f);
    f.since = since;
    f.until = until;
    f.has_since = f.has_until = true;
    uint64_t n = 1;
    if (store_count(t->ctx->st, &f, 1, &n) != 0) return true;
    if (n == 0 || !t->sk) return n > 0;
    /* the station's own announcements alone do not make a new archive */
    uint8_t author[1][32];
    uint32_t kind = ARCHIVE_ANNOUNCE_KIND;
    memcpy(author[0], t->pk, 32);
    f.authors = author;
    f.author_count = 1;
    f.has_authors = true;
    f.kinds = &kind;
    f.kind_count = 1;
    f.has_kinds = true;
    uint64_t own = 0;
    if (store_count(t->ctx->st, &f, 1, &own) != 0) return true;
    return n > own;
}

static void *run(void *arg) {
    archive_thread *t = arg;
    int64_t now = (int64_t)time(NULL);
    int64_t next_archive = t->interval > 0 ? now + t->interval : INT64_MAX;
    archive_chain_entry last;
    if (t->interval > 0 && archive_chain_last_own(t->data_dir, &last) == 1 && last.until + t->interval < next_archive)
        next_archive = last.until + t->interval > now ? last.until + t->interval : now;
    int64_t next_pending = t->api[0] ? now : INT64_MAX;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        now = (int64_t)time(NULL);
        int64_t wake = next_archive < next_pending ? next_archive : next_pending;
        if (wake > now) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = wake - now;
            if (wait > 3600) wait = 3600;
            ts.tv_sec += (time_t)wait;
            pthread_cond_timedwait(&t->cond, &t->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&t->lock);
        if (now >= next_archive) {
            if (has_new_events(t)) archive_once(t);
            next_archive = (int64_t)time(NULL) + t->interval;
        }
        if (now >= next_pending) {
            if (kubo_pending_run(t->data_dir, t->api, (int64_t)time(NULL), PUSH_TIMEOUT_MS, on_pushed, t) < 0)
                log_warn("archive: cannot read or write %s/%s", t->data_dir, KUBO_PUSH_PENDING_FILE);
            next_pending = (int64_t)time(NULL) + PENDING_CHECK_SECONDS;
        }
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

archive_thread *archive_thread_start(relay_ctx *ctx, char *err, size_t errlen) {
    err[0] = 0;
    const config *cfg = ctx->cfg;
    long long interval = config_int(cfg, NULL, "archive_interval", 0);
    const char *api = config_str(cfg, NULL, "ipfs_api", "");
    if (interval < 0 || interval > 366LL * 86400) { snprintf(err, errlen, "archive_interval must be 0..31622400 seconds"); return NULL; }
    if (interval == 0 && !*api) return NULL;
    archive_thread *t = calloc(1, sizeof *t);
    if (!t) { snprintf(err, errlen, "out of memory"); return NULL; }
    t->ctx = ctx;
    t->interval = interval;
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    const char *dir = config_str(cfg, NULL, "archive_dir", "");
    snprintf(t->data_dir, sizeof t->data_dir, "%s", data_dir);
    if (*dir) snprintf(t->archive_dir, sizeof t->archive_dir, "%s", dir);
    else snprintf(t->archive_dir, sizeof t->archive_dir, "%s/archives", data_dir);
    if (strlen(api) >= sizeof t->api) { free(t); snprintf(err, errlen, "ipfs_api too long"); return NULL; }
    snprintf(t->api, sizeof t->api, "%s", api);
    if (mkdir(t->archive_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", t->archive_dir, strerror(errno));
        free(t);
        return NULL;
    }
    if (interval > 0) {
        t->sk = sodium_malloc(32);
        char kerr[256];
        int k = t->sk ? station_identity_load(cfg, true, t->sk, t->pk, kerr, sizeof kerr) : -1;
        if (k != 0) {
            log_warn("archive: archives will not name the station nor be announced (kind 1063): %s",
                     t->sk ? kerr : "out of memory");
            if (t->sk) sodium_free(t->sk);
            t->sk = NULL;
        }
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (pthread_create(&t->tid, NULL, run, t) != 0) {
        snprintf(err, errlen, "cannot start the archive thread");
        if (t->sk) sodium_free(t->sk);
        free(t);
        return NULL;
    }
    log_info("archive: every %llds into %s%s%s", interval, t->archive_dir, *api ? ", pushed to " : "", api);
    return t;
}

void archive_thread_stop(archive_thread *t) {
    if (!t) return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->tid, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    if (t->sk) sodium_free(t->sk);
    free(t);
}
