/* Writes an archive of a time range of the event log as a CAR file (see archive.h). */
#include "archive.h"
#include "archive_chain.h"
#include "car.h"
#include "dagcbor.h"
#include "durable_file.h"
#include "event.h"
#include "hex.h"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int archive_encode_page(int64_t first, int64_t last, const cid *events, uint64_t n, uint8_t **out, size_t *len) {
    cbor_buf b = {0};
    cbor_put_map(&b, 4); /* canonical key order: last, type, first, events */
    cbor_put_cstr(&b, "last");
    cbor_put_int(&b, last);
    cbor_put_cstr(&b, "type");
    cbor_put_cstr(&b, ARCHIVE_PAGE_TYPE);
    cbor_put_cstr(&b, "first");
    cbor_put_int(&b, first);
    cbor_put_cstr(&b, "events");
    cbor_put_array(&b, n);
    for (uint64_t i = 0; i < n; i++) cbor_put_link(&b, &events[i]);
    if (b.failed) { cbor_buf_free(&b); return -1; }
    *out = b.data;
    *len = b.len;
    return 0;
}

int archive_encode_root(const archive_links *links, int64_t since, int64_t until, uint64_t count, const cid *pages,
                        uint64_t npages, uint8_t **out, size_t *len) {
    cbor_buf b = {0};
    cbor_put_map(&b, 8); /* canonical key order: prev, type, count, since, until, events, station, version */
    cbor_put_cstr(&b, "prev");
    if (links->has_prev) cbor_put_link(&b, &links->prev);
    else cbor_put_null(&b);
    cbor_put_cstr(&b, "type");
    cbor_put_cstr(&b, ARCHIVE_ROOT_TYPE);
    cbor_put_cstr(&b, "count");
    cbor_put_int(&b, (int64_t)count);
    cbor_put_cstr(&b, "since");
    cbor_put_int(&b, since);
    cbor_put_cstr(&b, "until");
    cbor_put_int(&b, until);
    cbor_put_cstr(&b, "events");
    cbor_put_array(&b, npages);
    for (uint64_t i = 0; i < npages; i++) cbor_put_link(&b, &pages[i]);
    cbor_put_cstr(&b, "station");
    if (links->has_station) {
        char hexpk[65];
        hex_encode(links->station, 32, hexpk);
        cbor_put_text(&b, hexpk, 64);
    } else cbor_put_null(&b);
    cbor_put_cstr(&b, "version");
    cbor_put_int(&b, ARCHIVE_VERSION);
    if (b.failed) { cbor_buf_free(&b); return -1; }
    *out = b.data;
    *len = b.len;
    return 0;
}

typedef struct {
    FILE *f;
    cid *cids;
    int64_t *times;
    uint64_t n, cap;
    int failed;      /* 1 write error, 2 out of memory, 3 unreadable record */
} writer_ctx;

static int emit_event(void *ctx, const char *json, size_t len, uint64_t levid) {
    (void)levid;
    writer_ctx *w = ctx;
    event ev;
    if (event_parse_trusted(&ev, json, len) != 0) { w->failed = 3; return 1; }
    int64_t t = ev.created_at;
    event_free(&ev);
    if (w->n == w->cap) {
        uint64_t nc = w->cap ? w->cap * 2 : 1024;
        cid *c = realloc(w->cids, nc * sizeof *c);
        if (c) w->cids = c;
        int64_t *tm = c ? realloc(w->times, nc * sizeof *tm) : NULL;
        if (!c || !tm) { w->failed = 2; return 1; }
        w->times = tm;
        w->cap = nc;
    }
    cid_of(&w->cids[w->n], CID_CODEC_RAW, (const uint8_t *)json, len);
    w->times[w->n] = t;
    if (car_write_block(w->f, &w->cids[w->n], (const uint8_t *)json, len) < 0) { w->failed = 1; return 1; }
    w->n++;
    return 0;
}

static int write_node(FILE *f, uint8_t *data, size_t len, cid *out) {
    cid_of(out, CID_CODEC_DAG_CBOR, data, len);
    int rc = car_write_block(f, out, data, len);
    free(data);
    return rc;
}

static int hash_file(FILE *f, uint8_t sha[32], uint64_t *size) {
    if (fseek(f, 0, SEEK_SET) != 0) return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint8_t buf[65536];
    size_t n;
    *size = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_hash_sha256_update(&st, buf, n);
        *size += n;
    }
    if (ferror(f)) return -1;
    crypto_hash_sha256_final(&st, sha);
    return 0;
}

int archive_write(store *s, int64_t since, int64_t until, const archive_links *links, const char *path,
                  archive_result *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    if (since > until) { snprintf(err, errlen, "since (%lld) is after until (%lld)", (long long)since, (long long)until); return -1; }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) { snprintf(err, errlen, "path too long"); return -1; }
    writer_ctx w = {0};
    w.f = fopen(tmp, "w+b");
    if (!w.f) { snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno)); return -1; }
    cid placeholder = {CID_CODEC_DAG_CBOR, {0}};
    int rc = -1;
    cid *pages = NULL;
    if (car_write_header(w.f, &placeholder) < 0) { snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); goto out; }
    int src = store_export(s, since, until, emit_event, &w);
    if (src) { snprintf(err, errlen, "reading the store: %s", mdb_strerror(src)); goto out; }
    if (w.failed) {
        snprintf(err, errlen, "%s", w.failed == 1 ? "cannot write the archive" : w.failed == 2 ? "out of memory" : "unreadable stored event");
        goto out;
    }
    uint64_t npages = (w.n + ARCHIVE_PAGE_LINKS - 1) / ARCHIVE_PAGE_LINKS;
    pages = calloc(npages ? npages : 1, sizeof *pages);
    if (!pages) { snprintf(err, errlen, "out of memory"); goto out; }
    for (uint64_t p = 0; p < npages; p++) {
        uint64_t a = p * ARCHIVE_PAGE_LINKS, b = a + ARCHIVE_PAGE_LINKS < w.n ? a + ARCHIVE_PAGE_LINKS : w.n;
        int64_t first = w.times[a], last = w.times[a];
        for (uint64_t i = a; i < b; i++) {
            if (w.times[i] < first) first = w.times[i];
            if (w.times[i] > last) last = w.times[i];
        }
        uint8_t *node;
        size_t nlen;
        if (archive_encode_page(first, last, w.cids + a, b - a, &node, &nlen) < 0) { snprintf(err, errlen, "out of memory"); goto out; }
        if (write_node(w.f, node, nlen, &pages[p]) < 0) { snprintf(err, errlen, "cannot write the archive: %s", strerror(errno)); goto out; }
    }
    uint8_t *root;
    size_t rlen;
    if (archive_encode_root(links, since, until, w.n, pages, npages, &root, &rlen) < 0) { snprintf(err, errlen, "out of memory"); goto out; }
    if (write_node(w.f, root, rlen, &res->root) < 0 || fflush(w.f) != 0 || fseek(w.f, 0, SEEK_SET) != 0 ||
        car_write_header(w.f, &res->root) < 0 || fflush(w.f) != 0 || fsync_retry(fileno(w.f)) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (hash_file(w.f, res->sha256, &res->file_size) < 0) { snprintf(err, errlen, "cannot read back %s", tmp); goto out; }
    res->count = w.n;
    res->pages = npages;
    rc = 0;
out:
    if (fclose(w.f) != 0 && rc == 0) { snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)); rc = -1; }
    if (rc == 0 && rename(tmp, path) != 0) { snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno)); rc = -1; }
    if (rc == 0 && fsync_parent_dir(path) != 0) { snprintf(err, errlen, "cannot flush the directory of %s: %s", path, strerror(errno)); rc = -1; }
    if (rc != 0) unlink(tmp);
    free(pages);
    free(w.cids);
    free(w.times);
    return rc;
}

int archive_make(store *s, const char *data_dir, int64_t since, int64_t until, const uint8_t *station,
                 const char *path, archive_result *res, archive_links *links_out, char *err, size_t errlen) {
    int lock = archive_chain_lock(data_dir, err, errlen);
    if (lock < 0) return -1;
    archive_links links;
    memset(&links, 0, sizeof links);
    if (station) { links.has_station = true; memcpy(links.station, station, 32); }
    archive_chain_entry last;
    int found = archive_chain_last_own(data_dir, &last);
    int rc = -1;
    if (found < 0) { snprintf(err, errlen, "cannot read %s/%s", data_dir, ARCHIVE_CHAIN_FILE); goto out; }
    if (found) { links.has_prev = true; links.prev = last.root; }
    if (archive_write(s, since, until, &links, path, res, err, errlen) < 0) goto out;
    archive_chain_entry e = {.own = true, .root = res->root, .has_prev = links.has_prev, .prev = links.prev,
                             .since = since, .until = until, .count = res->count, .has_station = links.has_station};
    memcpy(e.station, links.station, 32);
    if (archive_chain_append(data_dir, &e, err, errlen) < 0) goto out;
    if (links_out) *links_out = links;
    rc = 0;
out:
    archive_chain_unlock(lock);
    return rc;
}
