/* `g1relay import`: reads events as JSON lines (files or standard input), checks
 * ids and signatures, stores them in batches of many events per write
 * transaction, and reports how many were added, duplicates, rejected and why.
 * Lines are parsed and verified in chunks by worker_threads threads, then
 * stored in input order by this thread (the order decides ties and replacements). */
#include "car_import.h"
#include "db_cli.h"
#include "log.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char import_help[] =
    "usage: g1relay import [--no-verify] [--batch N] [--quiet] [FILE...] [OPTIONS]\n"
    "       g1relay import --car FILE.car [OPTIONS]   (restore a `g1relay archive`, see docs/IPFS.md)\n\n"
    "Reads events, one JSON object per line, from each FILE (or standard input when\n"
    "none is given or FILE is -) and stores them. Every id is recomputed and every\n"
    "signature checked unless --no-verify. Replaceable and addressable events keep\n"
    "only their newest version, kind 5 deletions apply (NIP-09), ephemeral and\n"
    "expired events are not stored. Blank lines are skipped. Lines are checked on\n"
    "worker_threads threads (0 = one per core) and stored in input order. The relay\n"
    "may keep running on the same data directory: both write it in turn.\n"
    "At the end prints a report: lines read, events added, duplicates, rejected,\n"
    "and the rejections grouped by reason. The first rejected lines are also\n"
    "listed on standard error as FILE:LINE: reason.\n\n"
    "  --no-verify         do not check signatures (ids are still checked)\n"
    "  --batch N           events per write transaction (default 2000; larger batches\n"
    "                      import faster but leave more free pages in data.mdb,\n"
    "                      which LMDB never shrinks: see g1relay compact)\n"
    "  --quiet             do not list rejected lines on standard error\n"
    "  --car FILE          restore a CAR archive: every CID, id, signature and link is\n"
    "                      checked first; a bad archive is refused whole (nothing stored)\n"
    CLI_COMMON_HELP
    "\nExit status: 0 when all input was read (even if some lines were rejected),\n"
    "1 on a read or database error (events of committed batches stay stored),\n"
    "2 on bad usage.\n";

#define IMPORT_MAX_LINE (16u << 20)
#define MAX_REASONS 64
#define SHOW_REJECTED 20

typedef struct {
    char text[160];
    uint64_t count;
} reason;

typedef struct {
    store *s;
    MDB_txn *txn;
    uint32_t batch_max, in_batch;
    bool verify, quiet;
    uint64_t lines, added, duplicates, rejected;
    uint64_t pending[STORE_ERROR + 1]; /* results in the uncommitted batch */
    reason reasons[MAX_REASONS + 1];   /* the last one collects "other reasons" */
    uint32_t nreasons;
    uint32_t shown;
} importer;

static void add_reason(importer *im, const char *text, uint64_t n) {
    for (uint32_t i = 0; i < im->nreasons; i++)
        if (strcmp(im->reasons[i].text, text) == 0) { im->reasons[i].count += n; return; }
    if (im->nreasons < MAX_REASONS) {
        snprintf(im->reasons[im->nreasons].text, sizeof im->reasons[0].text, "%s", text);
        im->reasons[im->nreasons++].count = n;
        return;
    }
    snprintf(im->reasons[MAX_REASONS].text, sizeof im->reasons[0].text, "other reasons");
    im->reasons[MAX_REASONS].count += n;
}

static const char *result_reason(store_result r) {
    switch (r) {
    case STORE_DELETED: return "deleted: its author deleted it (NIP-09)";
    case STORE_REPLACED: return "replaced: a newer version of this replaceable event is stored";
    case STORE_EXPIRED: return "expired: its NIP-40 expiration has passed";
    case STORE_EPHEMERAL: return "ephemeral: ephemeral kinds are never stored";
    default: return "error";
    }
}

static void reject(importer *im, const char *file, uint64_t line, const char *why) {
    im->rejected++;
    add_reason(im, why, 1);
    if (im->quiet) return;
    if (im->shown < SHOW_REJECTED) fprintf(stderr, "g1relay import: %s:%llu: %s\n", file, (unsigned long long)line, why);
    else if (im->shown == SHOW_REJECTED) fprintf(stderr, "g1relay import: (further rejected lines not listed)\n");
    im->shown++;
}

static int commit_batch(importer *im) {
    if (!im->txn) return 0;
    int rc = mdb_txn_commit(im->txn);
    im->txn = NULL;
    im->in_batch = 0;
    if (rc) { memset(im->pending, 0, sizeof im->pending); return rc; }
    im->added += im->pending[STORE_ADDED];
    im->duplicates += im->pending[STORE_DUPLICATE];
    for (int r = STORE_DELETED; r < STORE_ERROR; r++)
        if (im->pending[r]) { im->rejected += im->pending[r]; add_reason(im, result_reason((store_result)r), im->pending[r]); }
    memset(im->pending, 0, sizeof im->pending);
    return 0;
}

/* ---- parallel parse and verify, in chunks, results used in input order ---- */

#define CHUNK_LINES 4096
#define CHUNK_BYTES (32u << 20)
#define MAX_THREADS 16

typedef struct {
    char *text;        /* the line (points into the chunk arena) */
    size_t len;
    uint64_t lineno;
    bool parsed;       /* ev is valid and must be freed */
    char err[160];     /* why it was rejected, when !parsed */
    event ev;
} chunk_line;

typedef struct {
    chunk_line lines[CHUNK_LINES];
    uint32_t n;
    char *arena;
    size_t used, cap;
    bool verify;
    uint32_t nthreads;
} chunk;

typedef struct {
    chunk *c;
    uint32_t first, step;
} chunk_worker;

static void *parse_lines(void *arg) {
    chunk_worker *w = arg;
    static const event_limits no_limits = {0, 0, 0, IMPORT_MAX_LINE};
    for (uint32_t i = w->first; i < w->c->n; i += w->step) {
        chunk_line *l = &w->c->lines[i];
        char id_hex[65];
        if (l->len == SIZE_MAX) { snprintf(l->err, sizeof l->err, "invalid: line longer than 16 MiB"); continue; }
        if (event_parse(&l->ev, l->text, l->len, &no_limits, l->err, sizeof l->err, id_hex) != 0) continue;
        if (w->c->verify && !event_verify_sig(&l->ev)) {
            event_free(&l->ev);
            snprintf(l->err, sizeof l->err, "invalid: bad signature");
            continue;
        }
        l->parsed = true;
    }
    return NULL;
}

static void chunk_parse(chunk *c) {
    pthread_t threads[MAX_THREADS];
    chunk_worker workers[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    uint32_t nt = c->nthreads ? c->nthreads : 1;
    if (c->n < 64) nt = 1;
    for (uint32_t t = 0; t < nt; t++) workers[t] = (chunk_worker){c, t, nt};
    for (uint32_t t = 1; t < nt; t++) started[t] = pthread_create(&threads[t], NULL, parse_lines, &workers[t]) == 0;
    parse_lines(&workers[0]);
    for (uint32_t t = 1; t < nt; t++) {
        if (started[t]) pthread_join(threads[t], NULL);
        else parse_lines(&workers[t]); /* could not start a thread: do its share here */
    }
}

/* Stores the parsed lines of the chunk in order. Returns 0, or -1 after printing
 * a fatal error. The chunk is emptied in both cases. */
static int chunk_store(importer *im, chunk *c, const char *file) {
    chunk_parse(c);
    int rc = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        chunk_line *l = &c->lines[i];
        if (rc) { if (l->parsed) event_free(&l->ev); continue; }
        if (!l->parsed) { reject(im, file, l->lineno, l->err); continue; }
        int err;
        if (!im->txn && (err = mdb_txn_begin(store_env(im->s), NULL, 0, &im->txn))) {
            im->txn = NULL;
            fprintf(stderr, "g1relay import: %s:%llu: cannot start a write transaction: %s\n", file,
                    (unsigned long long)l->lineno, mdb_strerror(err));
            rc = -1;
            event_free(&l->ev);
            continue;
        }
        char msg[256];
        store_result r = store_insert(im->s, im->txn, &l->ev, NULL, msg, sizeof msg);
        event_free(&l->ev);
        if (r == STORE_ERROR) {
            mdb_txn_abort(im->txn);
            im->txn = NULL;
            fprintf(stderr, "g1relay import: %s:%llu: %s (the current batch of %u events was not stored)\n", file,
                    (unsigned long long)l->lineno, msg, im->in_batch);
            memset(im->pending, 0, sizeof im->pending);
            rc = -1;
            continue;
        }
        im->pending[r]++;
        if (r != STORE_ADDED && r != STORE_DUPLICATE && !im->quiet) {
            if (im->shown < SHOW_REJECTED) fprintf(stderr, "g1relay import: %s:%llu: %s\n", file, (unsigned long long)l->lineno, result_reason(r));
            im->shown++;
        }
        if (++im->in_batch >= im->batch_max && (err = commit_batch(im))) {
            fprintf(stderr, "g1relay import: commit failed: %s\n", mdb_strerror(err));
            rc = -1;
        }
    }
    c->n = 0;
    c->used = 0;
    return rc;
}

/* Adds a line to the chunk (len SIZE_MAX marks a line that was too long).
 * Returns false when out of memory. */
static bool chunk_add(chunk *c, uint64_t lineno, const char *line, size_t len) {
    size_t need = len == SIZE_MAX ? 0 : len;
    if (c->used + need + 1 > c->cap) {
        size_t ncap = c->cap ? c->cap : 1 << 20;
        while (ncap < c->used + need + 1) ncap *= 2;
        char *n = realloc(c->arena, ncap);
        if (!n) return false;
        /* re-point lines already in the arena */
        for (uint32_t i = 0; i < c->n; i++)
            if (c->lines[i].len != SIZE_MAX) c->lines[i].text = n + (c->lines[i].text - c->arena);
        c->arena = n;
        c->cap = ncap;
    }
    chunk_line *l = &c->lines[c->n++];
    memset(l, 0, sizeof *l);
    l->text = c->arena + c->used;
    l->len = len;
    l->lineno = lineno;
    if (need) memcpy(l->text, line, need);
    l->text[need] = 0;
    c->used += need + 1;
    return true;
}

static bool chunk_full(const chunk *c) { return c->n == CHUNK_LINES || c->used >= CHUNK_BYTES; }

/* Line reader over fread blocks: lines may hold any byte (a NUL is kept and
 * rejected by the JSON parser, not taken as the end of the line); a line longer
 * than IMPORT_MAX_LINE is skipped and reported. */
typedef struct {
    FILE *f;
    char *block;        /* fread buffer */
    size_t pos, end;
    bool eof, error;
    char *line;         /* current line when it spans blocks */
    size_t line_cap;
} line_reader;

#define READ_BLOCK (1u << 20)

/* Returns 1 with *out and *len set (valid until the next call), 0 at end of input,
 * -1 on a read or memory error. */
static int next_line(line_reader *r, const char **out, size_t *len, bool *too_long) {
    size_t have = 0; /* bytes gathered in r->line */
    *too_long = false;
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof) {
                if (have || *too_long) { *out = r->line; *len = have; return 1; }
                return 0;
            }
            r->end = fread(r->block, 1, READ_BLOCK, r->f);
            r->pos = 0;
            if (r->end < READ_BLOCK) {
                if (ferror(r->f)) { r->error = true; return -1; }
                r->eof = true;
            }
            continue;
        }
        const char *start = r->block + r->pos;
        size_t avail = r->end - r->pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        r->pos += take + (nl ? 1 : 0);
        if (!*too_long && have == 0 && nl && take <= IMPORT_MAX_LINE) { /* common case: no copy */
            *out = start;
            *len = take;
            return 1;
        }
        if (!*too_long && have + take > IMPORT_MAX_LINE) { *too_long = true; have = 0; }
        if (!*too_long) {
            if (have + take > r->line_cap) {
                size_t ncap = r->line_cap ? r->line_cap : 65536;
                while (ncap < have + take) ncap *= 2;
                char *n = realloc(r->line, ncap);
                if (!n) return -1;
                r->line = n;
                r->line_cap = ncap;
            }
            memcpy(r->line + have, start, take);
            have += take;
        }
        if (nl) { *out = r->line; *len = *too_long ? 0 : have; return 1; }
    }
}

static int import_stream(importer *im, chunk *c, FILE *f, const char *name) {
    line_reader r = {.f = f, .block = malloc(READ_BLOCK)};
    if (!r.block) { fprintf(stderr, "g1relay import: out of memory\n"); return -1; }
    const char *buf;
    size_t len;
    uint64_t lineno = 0;
    bool too_long;
    int got, rc = 0;
    while ((got = next_line(&r, &buf, &len, &too_long)) == 1) {
        lineno++;
        size_t a = 0, b = len;
        while (b > a && (buf[b - 1] == '\r' || buf[b - 1] == ' ' || buf[b - 1] == '\t')) b--;
        while (a < b && (buf[a] == ' ' || buf[a] == '\t')) a++;
        if (!too_long && a == b) continue; /* blank line */
        im->lines++;
        if (!chunk_add(c, lineno, buf + a, too_long ? SIZE_MAX : b - a)) {
            fprintf(stderr, "g1relay import: out of memory\n");
            rc = -1;
            break;
        }
        if (chunk_full(c) && (rc = chunk_store(im, c, name)) != 0) break;
    }
    if (got < 0) { fprintf(stderr, "g1relay import: %s on %s\n", r.error ? "read error" : "out of memory", name); rc = -1; }
    if (c->n) {
        if (rc == 0) rc = chunk_store(im, c, name);
        else { /* drop the unstored lines */
            c->n = 0;
            c->used = 0;
        }
    }
    free(r.block);
    free(r.line);
    return rc;
}

static void print_report(const importer *im) {
    printf("lines %llu\nadded %llu\nduplicates %llu\nrejected %llu\n", (unsigned long long)im->lines,
           (unsigned long long)im->added, (unsigned long long)im->duplicates, (unsigned long long)im->rejected);
    for (uint32_t i = 0; i <= MAX_REASONS; i++) {
        const reason *r = &im->reasons[i];
        if (r->count) printf("  %llu %s\n", (unsigned long long)r->count, r->text);
    }
}

int cmd_import(int argc, char **argv) {
    enum { OPT_NO_VERIFY = CLI_OPT_FIRST_FREE, OPT_BATCH, OPT_QUIET, OPT_CAR };
    static const struct option options[] = {
        {"no-verify", no_argument, 0, OPT_NO_VERIFY}, {"batch", required_argument, 0, OPT_BATCH},
        {"quiet", no_argument, 0, OPT_QUIET}, {"car", required_argument, 0, OPT_CAR}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    static importer im;
    memset(&im, 0, sizeof im);
    im.verify = true;
    im.batch_max = 2000;
    int opt, rc = 0;
    const char *car = NULL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_NO_VERIFY) im.verify = false;
        else if (opt == OPT_QUIET) im.quiet = true;
        else if (opt == OPT_CAR) car = optarg;
        else if (opt == OPT_BATCH) {
            int64_t n;
            if (!db_cli_parse_i64(optarg, &n) || n < 1 || n > 1000000) { rc = cli_usage_error("import", "--batch wants 1..1000000, got %s", optarg); break; }
            im.batch_max = (uint32_t)n;
        } else if (!cli_handle_common(&common, opt, optarg)) { rc = cli_usage_error("import", "bad option"); break; }
    }
    if (!rc && common.help) { fputs(import_help, stdout); cli_common_free(&common); return 0; }
    if (rc) { cli_common_free(&common); return rc; }
    if (car) { /* archives: ipfs/car_import.c */
        rc = optind < argc ? cli_usage_error("import", "--car takes no other input files") : car_import_command("import", &common, car);
        cli_common_free(&common);
        return rc;
    }
    for (int i = optind; i < argc; i++) { /* check files before touching the database */
        if (strcmp(argv[i], "-") == 0) continue;
        FILE *f = fopen(argv[i], "r");
        if (!f) { cli_common_free(&common); return cli_fail("import", "cannot read %s: %m", argv[i]); }
        fclose(f);
    }
    config *cfg;
    im.s = db_cli_open("import", &common, false, &cfg);
    cli_common_free(&common);
    if (!im.s) return 1;
    static chunk ch;
    ch.verify = im.verify;
    long long threads = config_int(cfg, NULL, "worker_threads", 0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0) threads = cores > 0 ? cores : 1;
    ch.nthreads = threads > MAX_THREADS ? MAX_THREADS : (uint32_t)threads;
    if (optind >= argc) rc = import_stream(&im, &ch, stdin, "<stdin>");
    for (int i = optind; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "-") == 0) { rc = import_stream(&im, &ch, stdin, "<stdin>"); continue; }
        FILE *f = fopen(argv[i], "r");
        if (!f) { fprintf(stderr, "g1relay import: cannot read %s: %m\n", argv[i]); rc = -1; break; }
        rc = import_stream(&im, &ch, f, argv[i]);
        fclose(f);
    }
    if (rc == 0) {
        int err = commit_batch(&im);
        if (err) { fprintf(stderr, "g1relay import: commit failed: %s\n", mdb_strerror(err)); rc = -1; }
    } else if (im.txn) {
        mdb_txn_abort(im.txn);
        im.txn = NULL;
    }
    print_report(&im);
    free(ch.arena);
    store_close(im.s);
    config_free(cfg);
    return rc ? 1 : 0;
}
