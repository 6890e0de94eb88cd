/* `g1relay stats`: prints what the database holds: event counts, the most
 * frequent kinds, sizes of every index, bytes on disk per event. */
#include "db_cli.h"
#include <stdio.h>
#include <stdlib.h>

static const char stats_help[] =
    "usage: g1relay stats [--top N] [OPTIONS]\n\n"
    "Prints the number of stored events, the N most frequent kinds with their counts,\n"
    "the JSON bytes stored, the size of data.mdb, the pages in use, the bytes on disk\n"
    "per event and, for every database of the environment, its entries and bytes.\n\n"
    "  --top N             how many kinds to list (default 20, 0 for none)\n"
    CLI_COMMON_HELP
    "\nExit status: 0 on success, 1 on a database error, 2 on bad usage.\n";

typedef struct {
    uint32_t kind;
    uint64_t count;
} kind_count;

typedef struct {
    kind_count *items;
    size_t n, cap;
} kind_list;

static void collect_kind(void *ctx, uint32_t kind, uint64_t count) {
    kind_list *l = ctx;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        kind_count *n = realloc(l->items, ncap * sizeof *n);
        if (!n) return;
        l->items = n;
        l->cap = ncap;
    }
    l->items[l->n++] = (kind_count){kind, count};
}

static int by_count_desc(const void *a, const void *b) {
    const kind_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return x->kind < y->kind ? -1 : x->kind > y->kind;
}

int cmd_stats(int argc, char **argv) {
    enum { OPT_TOP = CLI_OPT_FIRST_FREE };
    static const struct option options[] = {{"top", required_argument, 0, OPT_TOP}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    int64_t top = 20;
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_TOP) { if (!db_cli_parse_i64(optarg, &top) || top < 0) { rc = cli_usage_error("stats", "--top wants a number >= 0, got %s", optarg); break; } }
        else if (!cli_handle_common(&common, opt, optarg)) { rc = cli_usage_error("stats", "bad option"); break; }
    }
    if (!rc && common.help) { fputs(stats_help, stdout); cli_common_free(&common); return 0; }
    if (!rc && optind < argc) rc = cli_usage_error("stats", "unexpected argument %s", argv[optind]);
    if (rc) { cli_common_free(&common); return rc; }
    config *cfg;
    store *s = db_cli_open("stats", &common, true, &cfg);
    cli_common_free(&common);
    if (!s) return 1;
    store_stats st;
    kind_list kinds = {0};
    int err = store_get_stats(s, &st);
    if (!err) err = store_count_kinds(s, collect_kind, &kinds);
    if (err) rc = cli_fail("stats", "database: %s", mdb_strerror(err));
    else {
        printf("events %llu\n", (unsigned long long)st.events);
        printf("kinds %zu\n", kinds.n);
        printf("json_bytes %llu\n", (unsigned long long)st.json_bytes);
        printf("file_bytes %llu\n", (unsigned long long)st.file_bytes);
        printf("used_bytes %llu\n", (unsigned long long)st.used_bytes);
        printf("map_size %llu\n", (unsigned long long)st.map_size);
        if (st.events) {
            printf("json_bytes_per_event %.1f\n", (double)st.json_bytes / (double)st.events);
            printf("used_bytes_per_event %.1f\n", (double)st.used_bytes / (double)st.events);
            printf("file_bytes_per_event %.1f\n", (double)st.file_bytes / (double)st.events);
        }
        printf("databases:\n");
        for (uint32_t i = 0; i < st.db_count; i++)
            printf("  %-22s entries %-10llu bytes %llu\n", st.dbs[i].name, (unsigned long long)st.dbs[i].entries,
                   (unsigned long long)st.dbs[i].bytes);
        qsort(kinds.items, kinds.n, sizeof *kinds.items, by_count_desc);
        if (top > 0 && kinds.n) {
            printf("top kinds:\n");
            for (size_t i = 0; i < kinds.n && i < (size_t)top; i++)
                printf("  kind %-6u %llu\n", kinds.items[i].kind, (unsigned long long)kinds.items[i].count);
        }
    }
    free(kinds.items);
    store_close(s);
    config_free(cfg);
    return rc;
}
