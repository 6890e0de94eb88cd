/* Unit tests of the write-ahead journal (relay/journal.c): creation and zero
 * fill, append/sync/reopen/scan round trips, skipping applied records, reset
 * with a stale tail, torn and corrupted tails, gap detection, full journal,
 * the exclusive lock, journal_pending, odd payload sizes and records spanning
 * the scan's read windows. */
#include "unit.h"
#include "journal.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MIB (1024u * 1024u)

static char DIR_[256];

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
}

/* A fresh sub-directory of the test dir. */
static const char *fresh_dir(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", DIR_, name);
    rm_rf(path);
    if (mkdir(path, 0700) != 0) { printf("FATAL: mkdir %s\n", path); exit(1); }
    return path;
}

static journal *open_ok(const char *dir, size_t size) {
    char err[256] = "";
    journal *j = NULL;
    int rc = journal_open(dir, size, &j, err, sizeof err);
    if (rc != 0 || !j) { printf("FATAL: journal_open %s: %s\n", dir, err); exit(1); }
    return j;
}

/* Deterministic payload for record number i of length len. */
static void fill_payload(char *p, size_t len, unsigned i) {
    for (size_t k = 0; k < len; k++) p[k] = (char)('a' + (char)((i * 7u + k * 13u) % 26u));
}

/* Records collected by a scan. */
#define MAX_SEEN 64
typedef struct {
    int n;
    uint64_t lsn[MAX_SEEN];
    size_t len[MAX_SEEN];
    char *data[MAX_SEEN];
    int stop_after; /* return 7 after this many records (0 = never) */
} seen;

static int collect(void *ctx, uint64_t lsn, const char *data, size_t len) {
    seen *s = ctx;
    if (s->n >= MAX_SEEN) return 99;
    s->lsn[s->n] = lsn;
    s->len[s->n] = len;
    s->data[s->n] = malloc(len ? len : 1);
    if (len) memcpy(s->data[s->n], data, len);
    s->n++;
    if (s->stop_after && s->n >= s->stop_after) return 7;
    return 0;
}

static void seen_free(seen *s) {
    for (int i = 0; i < s->n; i++) free(s->data[i]);
    memset(s, 0, sizeof *s);
}

static void journal_file(const char *dir, char *out, size_t outlen) {
    snprintf(out, outlen, "%s/journal", dir);
}

static void write_at(const char *dir, off_t off, const void *p, size_t n) {
    char path[600];
    journal_file(dir, path, sizeof path);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, p, n, off) != (ssize_t)n) { printf("FATAL: write_at\n"); exit(1); }
    close(fd);
}

static void read_at(const char *dir, off_t off, void *p, size_t n) {
    char path[600];
    journal_file(dir, path, sizeof path);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || pread(fd, p, n, off) != (ssize_t)n) { printf("FATAL: read_at\n"); exit(1); }
    close(fd);
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void test_create_zero_filled(void) {
    const char *d = fresh_dir("create");
    journal *j = open_ok(d, 2 * MIB);
    char path[600];
    journal_file(d, path, sizeof path);
    CHECK_EQ_STR(journal_path(j), path);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_size, 2 * MIB);
    CHECK_EQ_INT(journal_size(j), 2 * MIB);
    CHECK(st.st_blocks * 512 >= (long long)(2 * MIB)); /* written, not sparse */
    uint8_t *all = malloc(2 * MIB);
    read_at(d, 0, all, 2 * MIB);
    size_t nonzero = 0;
    for (size_t i = 0; i < 2 * MIB; i++) nonzero += all[i] != 0;
    CHECK_EQ_INT(nonzero, 0);
    free(all);
    CHECK_EQ_INT(journal_used_bytes(j), 0);
    CHECK_EQ_INT(journal_next_lsn(j), 1);
    journal_close(j);

    /* Reopen asking less: keeps the bigger size; asking more: extends with zeros. */
    j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(journal_size(j), 2 * MIB);
    journal_close(j);
    j = open_ok(d, 3 * MIB);
    CHECK_EQ_INT(journal_size(j), 3 * MIB);
    CHECK(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_size, 3 * MIB);
    uint8_t tail[4096];
    read_at(d, 3 * MIB - sizeof tail, tail, sizeof tail);
    uint8_t zeros[4096] = {0};
    CHECK_EQ_MEM(tail, zeros, sizeof tail);
    journal_close(j);

    /* Bad sizes are refused with a message. */
    char err[256] = "";
    journal *bad = NULL;
    CHECK_EQ_INT(journal_open(d, 1 * MIB + 100, &bad, err, sizeof err), -1);
    CHECK(bad == NULL);
    CHECK(strstr(err, "multiple of 4096") != NULL);
    CHECK_EQ_INT(journal_open(d, 4096, &bad, err, sizeof err), -1);
    CHECK_EQ_INT(journal_open("/nonexistent-g1relay-dir/x", 1 * MIB, &bad, err, sizeof err), -1);
    CHECK(strstr(err, "open") != NULL);
    journal_close(NULL);
}

/* Adds records with the given lengths (payload i uses pattern base + i); returns 0 if all added. */
static int add_records(journal *j, const size_t *lens, int n, unsigned base, uint64_t *first_lsn) {
    for (int i = 0; i < n; i++) {
        char *p = malloc(lens[i] ? lens[i] : 1);
        fill_payload(p, lens[i], base + (unsigned)i);
        uint64_t lsn = 0;
        int rc = journal_add(j, p, lens[i], &lsn);
        free(p);
        if (rc != 0) return -1;
        if (i == 0 && first_lsn) *first_lsn = lsn;
    }
    return 0;
}

/* Checks that the first n collected records are the given lengths/patterns with consecutive lsns from lsn0. */
static void check_seen_prefix(const seen *s, const size_t *lens, int n, unsigned base, uint64_t lsn0) {
    CHECK(s->n >= n);
    for (int i = 0; i < n && i < s->n; i++) {
        CHECK_EQ_INT(s->lsn[i], lsn0 + (uint64_t)i);
        CHECK_EQ_INT(s->len[i], lens[i]);
        if (s->len[i] == lens[i]) {
            char *p = malloc(lens[i] ? lens[i] : 1);
            fill_payload(p, lens[i], base + (unsigned)i);
            CHECK_EQ_MEM(s->data[i], p, lens[i]);
            free(p);
        }
    }
}

/* The same, and exactly n records were collected. */
static void check_seen(const seen *s, const size_t *lens, int n, unsigned base, uint64_t lsn0) {
    CHECK_EQ_INT(s->n, n);
    check_seen_prefix(s, lens, n, base, lsn0);
}

static void test_round_trip(void) {
    const char *d = fresh_dir("roundtrip");
    static const size_t lens[] = { 0, 1, 7, 8, 9, 16, 100, 333, 4096, 5 };
    const int n = (int)(sizeof lens / sizeof lens[0]);
    journal *j = open_ok(d, 1 * MIB);
    char err[256] = "";
    uint64_t last = 99;
    CHECK_EQ_INT(journal_scan(j, 0, collect, &(seen){0}, &last, err, sizeof err), 0);
    CHECK_EQ_INT(last, 0);
    uint64_t first = 0;
    CHECK_EQ_INT(add_records(j, lens, 6, 0, &first), 0);
    CHECK_EQ_INT(first, 1);
    CHECK(journal_buffered_bytes(j) > 0);
    CHECK_EQ_INT(journal_used_bytes(j), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    CHECK_EQ_INT(journal_buffered_bytes(j), 0);
    size_t expect_used = 0;
    for (int i = 0; i < 6; i++) expect_used += 24 + ((lens[i] + 7) & ~(size_t)7);
    CHECK_EQ_INT(journal_used_bytes(j), expect_used);
    CHECK_EQ_INT(add_records(j, lens + 6, n - 6, 6, &first), 0);
    CHECK_EQ_INT(first, 7);
    CHECK_EQ_INT(journal_sync(j), 0);
    CHECK_EQ_INT(journal_sync(j), 0); /* nothing buffered */
    CHECK_EQ_INT(journal_next_lsn(j), n + 1);
    journal_close(j);

    /* Header bytes are little-endian as documented. */
    uint8_t h[24];
    read_at(d, 0, h, sizeof h);
    CHECK_EQ_MEM(h, "G1RJ", 4);
    CHECK_EQ_INT(h[4] | h[5] << 8 | h[6] << 16 | h[7] << 24, 0);
    CHECK_EQ_INT(le64(h + 8), 1);
    read_at(d, 24, h, sizeof h); /* record 2 (1-byte payload) right after the empty one */
    CHECK_EQ_MEM(h, "G1RJ", 4);
    CHECK_EQ_INT(h[4], 1);
    CHECK_EQ_INT(le64(h + 8), 2);

    j = open_ok(d, 1 * MIB);
    seen s = {0};
    CHECK_EQ_INT(journal_scan(j, 0, collect, &s, &last, err, sizeof err), 0);
    check_seen(&s, lens, n, 0, 1);
    CHECK_EQ_INT(last, n);
    seen_free(&s);
    /* The chain continues after the scan. */
    CHECK_EQ_INT(journal_next_lsn(j), n + 1);
    CHECK_EQ_INT(journal_used_bytes(j), expect_used + (24 + 104) + (24 + 336) + (24 + 4096) + (24 + 8));
    uint64_t lsn = 0;
    CHECK_EQ_INT(journal_add(j, "more", 4, &lsn), 0);
    CHECK_EQ_INT(lsn, n + 1);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);

    /* Scan with after_lsn skips what the database already applied. */
    j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(journal_scan(j, 7, collect, &s, &last, err, sizeof err), 0);
    CHECK_EQ_INT(s.n, n + 1 - 7);
    check_seen_prefix(&s, lens + 7, n - 7, 7, 8);
    if (s.n == n + 1 - 7) {
        CHECK_EQ_INT(s.lsn[s.n - 1], n + 1);
        CHECK_EQ_INT(s.len[s.n - 1], 4);
        CHECK_EQ_MEM(s.data[s.n - 1], "more", 4);
    }
    CHECK_EQ_INT(last, n + 1);
    seen_free(&s);

    /* Everything applied: no callback, last = after_lsn, new chain at 0 with next lsn after it. */
    CHECK_EQ_INT(journal_scan(j, 50, collect, &s, &last, err, sizeof err), 0);
    CHECK_EQ_INT(s.n, 0);
    CHECK_EQ_INT(last, 50);
    CHECK_EQ_INT(journal_next_lsn(j), 51);
    CHECK_EQ_INT(journal_used_bytes(j), 0);

    /* fn stopping the scan: its value is returned. */
    s.stop_after = 3;
    CHECK_EQ_INT(journal_scan(j, 0, collect, &s, &last, err, sizeof err), 7);
    CHECK_EQ_INT(s.n, 3);
    seen_free(&s);
    journal_close(j);

    uint64_t pending = 0;
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, n + 1);
    CHECK_EQ_INT(journal_pending(d, 4, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, n + 1 - 4);
    CHECK_EQ_INT(journal_pending(d, n + 1, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 0);
    CHECK_EQ_INT(journal_pending(d, 1000, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 0);
    CHECK_EQ_INT(journal_pending(fresh_dir("nojournal"), 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 0);
    char path[600];
    journal_file(fresh_dir("nojournal"), path, sizeof path);
    CHECK(access(path, F_OK) != 0); /* pending created nothing */
}

static void test_reset_and_stale_tail(void) {
    const char *d = fresh_dir("reset");
    journal *j = open_ok(d, 1 * MIB);
    static const size_t big[] = { 1000, 1000, 1000, 1000, 1000 };
    static const size_t small[] = { 10, 20 };
    char err[256] = "";
    CHECK_EQ_INT(journal_scan(j, 0, NULL, NULL, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(add_records(j, big, 5, 0, NULL), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_reset(j);
    CHECK_EQ_INT(journal_used_bytes(j), 0);
    uint64_t first = 0;
    CHECK_EQ_INT(add_records(j, small, 2, 100, &first), 0);
    CHECK_EQ_INT(first, 6);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);

    j = open_ok(d, 1 * MIB);
    seen s = {0};
    uint64_t last = 0;
    CHECK_EQ_INT(journal_scan(j, 5, collect, &s, &last, err, sizeof err), 0);
    check_seen(&s, small, 2, 100, 6);
    CHECK_EQ_INT(last, 7);
    seen_free(&s);
    journal_close(j);

    /* The stale tail is ignored even when a stale record starts exactly where the new chain ends:
     * rewrite record 1 of the old size after a reset; old record 2 follows it untouched... except
     * that the terminator zeros end the chain. Check both the chain and that the old lsn 2 is stale. */
    const char *d2 = fresh_dir("reset2");
    j = open_ok(d2, 1 * MIB);
    CHECK_EQ_INT(add_records(j, big, 5, 0, NULL), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_reset(j);
    CHECK_EQ_INT(add_records(j, big, 1, 200, &first), 0);
    CHECK_EQ_INT(first, 6);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    j = open_ok(d2, 1 * MIB);
    CHECK_EQ_INT(journal_scan(j, 5, collect, &s, &last, err, sizeof err), 0);
    check_seen(&s, big, 1, 200, 6);
    seen_free(&s);
    /* Gap: the database says it applied only up to 3 but the journal now starts at 6. */
    CHECK_EQ_INT(journal_scan(j, 3, collect, &s, &last, err, sizeof err), -1);
    CHECK_EQ_INT(s.n, 0);
    CHECK(strstr(err, "starts at LSN 6 but the database has applied only up to 3: records 4..5 are missing") != NULL);
    CHECK(strstr(journal_error(j), "records 4..5 are missing") != NULL);
    uint64_t pending = 0;
    CHECK_EQ_INT(journal_pending(d2, 3, &pending, err, sizeof err), -1);
    CHECK(strstr(err, "records 4..5 are missing") != NULL);
    CHECK_EQ_INT(journal_pending(d2, 5, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 1);
    journal_close(j);
}

static void test_torn_tail(void) {
    const char *d = fresh_dir("torn");
    static const size_t lens[] = { 50, 60, 70, 80 };
    journal *j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(add_records(j, lens, 4, 0, NULL), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    off_t off3 = (off_t)(24 + 56 + 24 + 64 + 24 + 72); /* start of record 4 */
    off_t off2 = (off_t)(24 + 56 + 24 + 64);           /* start of record 3 */
    char err[256] = "";
    uint64_t last = 0, pending = 0;
    seen s = {0};

    /* Flip one payload byte of record 4: checksum mismatch, the scan ends after record 3. */
    uint8_t b;
    read_at(d, off3 + 24 + 40, &b, 1);
    b ^= 0x01;
    write_at(d, off3 + 24 + 40, &b, 1);
    j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(journal_scan(j, 0, collect, &s, &last, err, sizeof err), 0);
    check_seen(&s, lens, 3, 0, 1);
    CHECK_EQ_INT(last, 3);
    seen_free(&s);
    /* Appends continue the chain over the torn record. */
    CHECK_EQ_INT(journal_used_bytes(j), (size_t)off3);
    CHECK_EQ_INT(journal_next_lsn(j), 4);
    journal_close(j);
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 3);

    /* Torn header of record 3 (half of it zero): ends after record 2. */
    uint8_t zeros[12] = {0};
    write_at(d, off2 + 12, zeros, sizeof zeros);
    j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(journal_scan(j, 0, collect, &s, &last, err, sizeof err), 0);
    check_seen(&s, lens, 2, 0, 1);
    seen_free(&s);
    journal_close(j);

    /* Bad magic on record 2, and a length beyond the file on record 1 → nothing. */
    write_at(d, 24 + 56, "XXXX", 4);
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 1);
    uint8_t huge[4] = { 0xff, 0xff, 0xff, 0x00 };
    write_at(d, 4, huge, 4);
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 0);

    /* A record whose lsn does not follow ends the chain. */
    const char *d2 = fresh_dir("torn2");
    j = open_ok(d2, 1 * MIB);
    CHECK_EQ_INT(add_records(j, lens, 4, 0, NULL), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    uint8_t l[8];
    read_at(d2, off2 + 8, l, 8);
    l[0] ^= 0x10; /* lsn 3 → 19: the checksum is also wrong now, either check stops it */
    write_at(d2, off2 + 8, l, 8);
    CHECK_EQ_INT(journal_pending(d2, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 2);

    /* A record with a valid checksum but an lsn that does not follow (copied from another journal)
     * ends the chain; the same copy with the right lsn (control) keeps it. */
    for (int right = 0; right <= 1; right++) {
        const char *src = fresh_dir("torn3src");
        j = open_ok(src, 1 * MIB);
        journal_set_next_lsn(j, right ? 3 : 10);
        char p70[70];
        fill_payload(p70, 70, 2);
        CHECK_EQ_INT(journal_add(j, p70, 70, NULL), 0);
        CHECK_EQ_INT(journal_sync(j), 0);
        journal_close(j);
        uint8_t rec[24 + 72];
        read_at(src, 0, rec, sizeof rec);
        const char *d3 = fresh_dir("torn3");
        j = open_ok(d3, 1 * MIB);
        CHECK_EQ_INT(add_records(j, lens, 4, 0, NULL), 0);
        CHECK_EQ_INT(journal_sync(j), 0);
        journal_close(j);
        write_at(d3, off2, rec, sizeof rec);
        CHECK_EQ_INT(journal_pending(d3, 0, &pending, err, sizeof err), 0);
        CHECK_EQ_INT(pending, right ? 4 : 2);
    }
}

/* A torn group (record 2 damaged, records 3 and 4 intact on disk) is rewritten after recovery with
 * records of the same sizes: the old records 3 and 4 must not be taken as continuing the new chain
 * (the zeros written after each group end it). */
static void test_terminator(void) {
    const char *d = fresh_dir("terminator");
    static const size_t lens[] = { 100, 100, 100, 100 };
    journal *j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(add_records(j, lens, 4, 0, NULL), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    uint8_t b;
    read_at(d, 128 + 24 + 3, &b, 1);
    b ^= 0x80;
    write_at(d, 128 + 24 + 3, &b, 1); /* record 2's payload */
    j = open_ok(d, 1 * MIB);
    char err[256] = "";
    uint64_t last = 0, pending = 0;
    CHECK_EQ_INT(journal_scan(j, 0, NULL, NULL, &last, err, sizeof err), 0);
    CHECK_EQ_INT(last, 1);
    uint64_t first = 0;
    CHECK_EQ_INT(add_records(j, lens, 1, 50, &first), 0);
    CHECK_EQ_INT(first, 2);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 2);
    uint8_t magic3[4];
    read_at(d, 256, magic3, 4);
    CHECK_EQ_INT(magic3[0] | magic3[1] | magic3[2] | magic3[3], 0);
}

/* A chain whose lsns skip one (built with journal_set_next_lsn without reset) is cut at the skip. */
static void test_set_next_lsn(void) {
    const char *d = fresh_dir("setlsn");
    journal *j = open_ok(d, 1 * MIB);
    char err[256] = "";
    CHECK_EQ_INT(journal_add(j, "a", 1, NULL), 0);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_set_next_lsn(j, 100);
    CHECK_EQ_INT(journal_next_lsn(j), 100);
    CHECK_EQ_INT(journal_used_bytes(j), 0); /* new chain */
    journal_set_next_lsn(j, 50);            /* never lowers */
    CHECK_EQ_INT(journal_next_lsn(j), 100);
    uint64_t lsn = 0;
    CHECK_EQ_INT(journal_add(j, "b", 1, &lsn), 0);
    CHECK_EQ_INT(lsn, 100);
    journal_set_next_lsn(j, 200); /* buffered: ignored */
    CHECK_EQ_INT(journal_next_lsn(j), 101);
    CHECK(strstr(journal_error(j), "ignored") != NULL);
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    seen s = {0};
    uint64_t last = 0;
    j = open_ok(d, 1 * MIB);
    CHECK_EQ_INT(journal_scan(j, 99, collect, &s, &last, err, sizeof err), 0);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.lsn[0], 100);
    CHECK_EQ_MEM(s.data[0], "b", 1);
    seen_free(&s);
    journal_close(j);
}

static void test_full(void) {
    const char *d = fresh_dir("full");
    journal *j = open_ok(d, 1 * MIB);
    size_t len = 100000; /* record = 100024 bytes: 10 fit in 1 MiB, not 11 */
    char *p = malloc(len);
    fill_payload(p, len, 1);
    int added = 0;
    for (int i = 0; i < 20; i++) {
        bool fits = journal_fits(j, len);
        int rc = journal_add(j, p, len, NULL);
        CHECK_EQ_INT(rc == 0, fits);
        if (rc != 0) break;
        added++;
        if (i % 3 == 2) CHECK_EQ_INT(journal_sync(j), 0); /* mix written and buffered */
    }
    CHECK_EQ_INT(added, 10);
    uint64_t before = journal_next_lsn(j);
    CHECK_EQ_INT(journal_add(j, p, len, NULL), -1);
    CHECK_EQ_INT(journal_next_lsn(j), before); /* nothing buffered, no lsn used */
    CHECK(strstr(journal_error(j), "does not fit") != NULL);
    CHECK(journal_fits(j, 100)); /* a small one still fits */
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_reset(j);
    CHECK(journal_fits(j, len));
    uint64_t lsn = 0;
    CHECK_EQ_INT(journal_add(j, p, len, &lsn), 0);
    CHECK_EQ_INT(lsn, 11);
    CHECK_EQ_INT(journal_sync(j), 0);
    /* Bigger than the file or than JOURNAL_MAX_PAYLOAD: never fits. */
    CHECK(!journal_fits(j, 1 * MIB));
    CHECK(!journal_fits(j, (size_t)JOURNAL_MAX_PAYLOAD + 1));
    size_t room = 1 * MIB - 100024;
    CHECK(journal_fits(j, room - 24)); /* exactly the room left */
    CHECK(!journal_fits(j, room - 23));
    CHECK_EQ_INT(journal_add(j, p, room - 23, NULL), -1);
    CHECK_EQ_INT(journal_buffered_bytes(j), 0);
    free(p);
    journal_close(j);
}

static void test_lock(void) {
    const char *d = fresh_dir("lock");
    journal *j = open_ok(d, 1 * MIB);
    journal *j2 = NULL;
    char err[256] = "";
    CHECK_EQ_INT(journal_open(d, 1 * MIB, &j2, err, sizeof err), -1);
    CHECK(j2 == NULL);
    char expect[700];
    snprintf(expect, sizeof expect, "journal %s is in use by another process", journal_path(j));
    CHECK_EQ_STR(err, expect);
    /* Read-only pending works while locked. */
    uint64_t pending = 9;
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 0);
    journal_close(j);
    j2 = open_ok(d, 1 * MIB);
    journal_close(j2);
}

/* Records around and larger than the read window (JOURNAL_READ_CHUNK). */
static void test_chunk_boundaries(void) {
    const char *d = fresh_dir("chunks");
    size_t jsize = 3 * JOURNAL_READ_CHUNK;
    journal *j = open_ok(d, jsize);
    size_t lens[8];
    lens[0] = JOURNAL_READ_CHUNK - 40;          /* record 2's header straddles the window end */
    lens[1] = 333;
    lens[2] = JOURNAL_READ_CHUNK / 3 + 1;
    lens[3] = JOURNAL_READ_CHUNK + 4097;        /* bigger than one window */
    lens[4] = 17;
    lens[5] = 0;
    lens[6] = 2;
    size_t used = 0;
    for (int i = 0; i < 7; i++) used += 24 + ((lens[i] + 7) & ~(size_t)7);
    lens[7] = jsize - used - 24;               /* fills the file exactly */
    CHECK_EQ_INT(add_records(j, lens, 8, 40, NULL), 0);
    CHECK_EQ_INT(journal_used_bytes(j) + journal_buffered_bytes(j), jsize);
    CHECK(!journal_fits(j, 0));
    CHECK_EQ_INT(journal_sync(j), 0);
    journal_close(j);
    j = open_ok(d, jsize);
    seen s = {0};
    uint64_t last = 0;
    char err[256] = "";
    CHECK_EQ_INT(journal_scan(j, 0, collect, &s, &last, err, sizeof err), 0);
    check_seen(&s, lens, 8, 40, 1);
    CHECK_EQ_INT(last, 8);
    seen_free(&s);
    journal_close(j);
}

/* Many small groups, so most appends start inside a block already holding
 * records (the O_DIRECT path rewrites that block from its in-memory copy, or
 * after a scan from the file): every record must come back intact. */
typedef struct {
    uint64_t n, bad;
    uint64_t expect_lsn;
} verify_ctx;

static size_t many_len(uint64_t i) { return (size_t)((i * 37u + 11u) % 900u); }

static int verify_record(void *vctx, uint64_t lsn, const char *data, size_t len) {
    verify_ctx *v = vctx;
    size_t want = many_len(v->n);
    char buf[900];
    fill_payload(buf, want, (unsigned)v->n);
    if (lsn != v->expect_lsn || len != want || memcmp(data, buf, len) != 0) v->bad++;
    v->n++;
    v->expect_lsn = lsn + 1;
    return 0;
}

static void test_many_small_groups(void) {
    const char *d = fresh_dir("many");
    journal *j = open_ok(d, 1 * MIB);
    char err[256] = "";
    uint64_t i = 0, last = 0;
    CHECK_EQ_INT(journal_scan(j, 0, verify_record, &(verify_ctx){0, 0, 1}, &last, err, sizeof err), 0);
    int failures = 0;
    for (int g = 0; g < 300; g++) {
        int k = 1 + g % 3;
        for (int r = 0; r < k; r++, i++) {
            char buf[900];
            size_t len = many_len(i);
            fill_payload(buf, len, (unsigned)i);
            if (journal_add(j, buf, len, NULL) != 0) failures++;
        }
        if (journal_sync(j) != 0) failures++;
        if (g == 150) {
            /* a scan in the middle (as the writer's recovery does) moves the
             * append position to the chain's end: the next group must rewrite
             * the partial block from the file */
            verify_ctx mid = {0, 0, 1};
            CHECK_EQ_INT(journal_scan(j, 0, verify_record, &mid, &last, err, sizeof err), 0);
            CHECK_EQ_INT(mid.n, i);
            CHECK_EQ_INT(mid.bad, 0);
        }
    }
    CHECK_EQ_INT(failures, 0);
    journal_close(j);
    j = open_ok(d, 1 * MIB);
    verify_ctx v = {0, 0, 1};
    CHECK_EQ_INT(journal_scan(j, 0, verify_record, &v, &last, err, sizeof err), 0);
    CHECK_EQ_INT(v.n, i);
    CHECK_EQ_INT(v.bad, 0);
    CHECK_EQ_INT(last, i);
    journal_close(j);
}

/* Writes a record with a valid checksum (computed here from the documented
 * format, independently of journal.c) at offset 0. */
static void forge_record(const char *dir, uint64_t lsn, const char *payload, uint32_t len) {
    uint8_t rec[24 + 64] = {0};
    const uint8_t magic[4] = {'G', '1', 'R', 'J'};
    memcpy(rec, magic, 4);
    for (int i = 0; i < 4; i++) rec[4 + i] = (uint8_t)(len >> (8 * i));
    for (int i = 0; i < 8; i++) rec[8 + i] = (uint8_t)(lsn >> (8 * i));
    uint8_t pre[12 + 64];
    memcpy(pre, rec + 8, 8);
    memcpy(pre + 8, rec + 4, 4);
    memcpy(pre + 12, payload, len);
    uint64_t sum = XXH3_64bits_withSeed(pre, 12 + len, 0x6731726A6F75726EULL);
    for (int i = 0; i < 8; i++) rec[16 + i] = (uint8_t)(sum >> (8 * i));
    memcpy(rec + 24, payload, len);
    write_at(dir, 0, rec, 24 + ((len + 7) & ~7u) + 8);
}

/* LSNs never wrap: a record claiming 2^62 or more (or 0) ends the chain, and
 * the last valid lsn below the limit leaves no room to append. */
static void test_lsn_limit(void) {
    const char *d = fresh_dir("lsnlimit");
    journal *j = open_ok(d, 1 * MIB);
    journal_close(j);
    char err[256] = "";
    uint64_t last = 0, pending = 9;
    forge_record(d, 1ull << 62, "{}", 2);
    j = open_ok(d, 1 * MIB);
    seen s = {0};
    CHECK_EQ_INT(journal_scan(j, 0, collect, &s, &last, err, sizeof err), 0);
    CHECK_EQ_INT(s.n, 0);
    seen_free(&s);
    journal_close(j);
    CHECK_EQ_INT(journal_pending(d, 0, &pending, err, sizeof err), 0);
    CHECK_EQ_INT(pending, 0);
    forge_record(d, 0, "{}", 2);
    j = open_ok(d, 1 * MIB);
    seen z = {0};
    CHECK_EQ_INT(journal_scan(j, 0, collect, &z, &last, err, sizeof err), 0);
    CHECK_EQ_INT(z.n, 0);
    seen_free(&z);
    journal_close(j);
    /* the highest valid lsn is read; the next one would reach the limit */
    uint64_t top = (1ull << 62) - 1;
    forge_record(d, top, "{\"a\":1}", 7);
    j = open_ok(d, 1 * MIB);
    seen t = {0};
    CHECK_EQ_INT(journal_scan(j, top - 1, collect, &t, &last, err, sizeof err), 0);
    CHECK_EQ_INT(t.n, 1);
    CHECK_EQ_INT(last, top);
    seen_free(&t);
    CHECK_EQ_INT(journal_add(j, "{}", 2, NULL), -1);
    CHECK(strstr(journal_error(j), "LSN space exhausted") != NULL);
    journal_close(j);
}

UNIT_MAIN({
    snprintf(DIR_, sizeof DIR_, "/tmp/g1relay-test-journal-XXXXXX");
    if (!mkdtemp(DIR_)) { printf("FATAL: mkdtemp\n"); return 1; }
    test_create_zero_filled();
    test_round_trip();
    test_reset_and_stale_tail();
    test_torn_tail();
    test_terminator();
    test_set_next_lsn();
    test_full();
    test_lock();
    test_chunk_boundaries();
    test_many_small_groups();
    test_lsn_limit();
    rm_rf(DIR_);
})
