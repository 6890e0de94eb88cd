/* libFuzzer target for the write-ahead journal's recovery path (relay/journal.c):
 * the fuzzer's bytes become the start of a journal file, as a crash, a bad disk
 * or a hand edit might leave it, or (odd first byte) drive a valid journal
 * written through the API and then damaged byte by byte. The scan must stop cleanly at the first bad
 * record and agree with journal_pending (what the offline tools report), and
 * a record appended after the scan must be found by the next scan. Built and
 * run by `make fuzz` (FUZZ_JOURNAL_SECONDS). */
#include "journal.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_JOURNAL_SIZE (1u << 20)

static char dir[64];

typedef struct {
    uint64_t n, last;
} count_ctx;

static int count_record(void *vctx, uint64_t lsn, const char *data, size_t len) {
    count_ctx *c = vctx;
    if (len > JOURNAL_MAX_PAYLOAD || (len && !data)) abort(); /* out of bounds: a scanner bug */
    if (c->n && lsn != c->last + 1) abort();                  /* the chain rule */
    c->n++;
    c->last = lsn;
    return 0;
}

static void write_file(const uint8_t *data, size_t size) {
    char path[128];
    snprintf(path, sizeof path, "%s/journal", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    if (size && write(fd, data, size) != (ssize_t)size) abort();
    if (ftruncate(fd, FUZZ_JOURNAL_SIZE) != 0) abort();
    close(fd);
}

/* Mode 2: a valid journal written through the API (record count and lengths
 * from the input), then damaged by (offset, byte) pairs from the rest of it, so
 * the scan meets real chains with checksummed records, torn in any place. */
static void write_damaged_chain(const uint8_t *data, size_t size) {
    write_file(NULL, 0);
    journal *j;
    char err[256];
    if (journal_open(dir, FUZZ_JOURNAL_SIZE, &j, err, sizeof err) != 0) abort();
    size_t n = size > 1 ? data[1] % 32 : 0, at = 2;
    char payload[256];
    for (size_t i = 0; i < n && at < size; i++, at++) {
        size_t len = data[at];
        memset(payload, 'a' + (int)(i % 26), len);
        if (journal_add(j, payload, len, NULL) != 0) abort();
        if (data[at] & 1) { /* some groups of one, some larger */
            if (journal_sync(j) != 0) abort();
        }
    }
    if (journal_sync(j) != 0) abort();
    journal_close(j);
    char path[128];
    snprintf(path, sizeof path, "%s/journal", dir);
    int fd = open(path, O_WRONLY);
    if (fd < 0) abort();
    for (; at + 3 <= size; at += 3) {
        off_t off = (off_t)(data[at] | data[at + 1] << 8);
        if (pwrite(fd, &data[at + 2], 1, off) != 1) abort();
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/g1relay-fuzz-journal-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    if (size > FUZZ_JOURNAL_SIZE) size = FUZZ_JOURNAL_SIZE;
    /* the first byte picks the mode and the applied position, as the database
     * would store it */
    uint64_t after = size ? (data[0] >> 1) % 4 : 0;
    if (size && (data[0] & 1)) write_damaged_chain(data, size);
    else write_file(data, size);

    journal *j;
    char err[256];
    if (journal_open(dir, FUZZ_JOURNAL_SIZE, &j, err, sizeof err) != 0) abort();
    count_ctx c = {0, 0};
    uint64_t last = 0;
    int rc = journal_scan(j, after, count_record, &c, &last, err, sizeof err);
    uint64_t pending = 0;
    int prc = journal_pending(dir, after, &pending, err, sizeof err);
    if ((rc == 0) != (prc == 0)) abort();   /* both see the same gap, or none */
    if (rc == 0 && pending != c.n) abort(); /* and the same records */
    if (rc == 0) {
        /* append one record where the relay would, then scan it back */
        uint64_t lsn = 0;
        if (journal_add(j, "{}", 2, &lsn) != 0 || journal_sync(j) != 0) abort();
        if (lsn != last + 1) abort();
        journal_close(j);
        if (journal_open(dir, FUZZ_JOURNAL_SIZE, &j, err, sizeof err) != 0) abort();
        count_ctx again = {0, 0};
        uint64_t last2 = 0;
        if (journal_scan(j, lsn - 1, count_record, &again, &last2, err, sizeof err) != 0) abort();
        if (again.n != 1 || last2 != lsn) abort();
    }
    journal_close(j);
    return 0;
}
