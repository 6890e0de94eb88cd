/* The archive chain file and lock of a data directory (see archive_chain.h). */
#include "archive_chain.h"
#include "hex.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN 512

static void path_in(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

int archive_chain_lock(const char *data_dir, char *err, size_t errlen) {
    char p[4096];
    mkdir(data_dir, 0700);
    path_in(p, sizeof p, data_dir, "archive.lock");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, errlen, "cannot open %s: %s", p, strerror(errno)); return -1; }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        snprintf(err, errlen, "cannot lock %s: %s", p, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void archive_chain_unlock(int fd) {
    if (fd >= 0) close(fd); /* closing releases the flock */
}

/* Parses one complete line (without its newline). 0 or -1. */
static int parse_line(const char *line, archive_chain_entry *e) {
    char kind[16], root[CID_MAX_TEXT], prev[CID_MAX_TEXT], station[80];
    long long since, until;
    unsigned long long count;
    int used = 0;
    memset(e, 0, sizeof *e);
    if (sscanf(line, "%15s %71s %71s %lld %lld %llu %79s%n", kind, root, prev, &since, &until, &count, station, &used) != 7 ||
        line[used] != 0)
        return -1;
    if (strcmp(kind, "own") == 0) e->own = true;
    else if (strcmp(kind, "imported") != 0) return -1;
    if (cid_parse(&e->root, root) < 0) return -1;
    if (strcmp(prev, "-") != 0) {
        if (cid_parse(&e->prev, prev) < 0) return -1;
        e->has_prev = true;
    }
    if (strcmp(station, "-") != 0) {
        if (strlen(station) != 64 || !hex_decode(station, 64, e->station, 32)) return -1;
        e->has_station = true;
    }
    e->since = since;
    e->until = until;
    e->count = count;
    return 0;
}

/* Calls fn for each well-formed line, stopping when it returns non-zero.
 * Returns fn's value, 0 at the end, -1 on a read error. */
static int each_entry(const char *data_dir, int (*fn)(void *ctx, const archive_chain_entry *e), void *ctx) {
    char p[4096], line[LINE_MAX_LEN + 2];
    path_in(p, sizeof p, data_dir, ARCHIVE_CHAIN_FILE);
    FILE *f = fopen(p, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    int rc = 0;
    bool skipping = false;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n') { skipping = true; continue; } /* too long or torn: ignored */
        if (skipping) { skipping = false; continue; }
        line[n - 1] = 0;
        archive_chain_entry e;
        if (parse_line(line, &e) < 0) continue;
        if ((rc = fn(ctx, &e)) != 0) break;
    }
    if (ferror(f)) rc = -1;
    fclose(f);
    return rc;
}

typedef struct {
    archive_chain_entry *out;
    const cid *want;
    bool found;
} find_ctx;

static int take_last_own(void *ctx, const archive_chain_entry *e) {
    find_ctx *f = ctx;
    if (e->own) { *f->out = *e; f->found = true; }
    return 0;
}

static int take_match(void *ctx, const archive_chain_entry *e) {
    find_ctx *f = ctx;
    if (!cid_equal(&e->root, f->want)) return 0;
    *f->out = *e;
    f->found = true;
    return 1;
}

int archive_chain_last_own(const char *data_dir, archive_chain_entry *out) {
    find_ctx f = {out, NULL, false};
    if (each_entry(data_dir, take_last_own, &f) < 0) return -1;
    return f.found;
}

int archive_chain_find(const char *data_dir, const cid *root, archive_chain_entry *out) {
    find_ctx f = {out, root, false};
    if (each_entry(data_dir, take_match, &f) < 0) return -1;
    return f.found;
}

int archive_chain_append(const char *data_dir, const archive_chain_entry *e, char *err, size_t errlen) {
    char p[4096], root[CID_MAX_TEXT], prev[CID_MAX_TEXT] = "-", station[65] = "-", line[LINE_MAX_LEN];
    path_in(p, sizeof p, data_dir, ARCHIVE_CHAIN_FILE);
    cid_to_string(&e->root, root);
    if (e->has_prev) cid_to_string(&e->prev, prev);
    if (e->has_station) hex_encode(e->station, 32, station);
    int n = snprintf(line, sizeof line, "%s %s %s %" PRId64 " %" PRId64 " %" PRIu64 " %s\n", e->own ? "own" : "imported", root,
                     prev, e->since, e->until, e->count, station);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, errlen, "cannot open %s: %s", p, strerror(errno)); return -1; }
    /* A previous torn line (crash mid-write) would glue onto this one: start on a fresh line. */
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        char last = '\n';
        int rfd = open(p, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0) {
            if (pread(rfd, &last, 1, st.st_size - 1) != 1) last = '\n';
            close(rfd);
        }
        if (last != '\n' && write(fd, "\n", 1) != 1) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); close(fd); return -1; }
    }
    ssize_t w = write(fd, line, (size_t)n);
    int rc = 0;
    if (w != n || fsync(fd) != 0) { snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno)); rc = -1; }
    close(fd);
    return rc;
}
