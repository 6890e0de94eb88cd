/* `g1relay scan FILTER`: prints the stored events matching a NIP-01 filter, one
 * JSON object per line, newest first (or only their number with --count). */
#include "db_cli.h"
#include <stdio.h>
#include <string.h>

static const char scan_help[] =
    "usage: g1relay scan [--count] FILTER [OPTIONS]\n\n"
    "FILTER is one NIP-01 filter as JSON, e.g. '{\"kinds\":[1],\"limit\":10}' or\n"
    "'{\"authors\":[\"<hex>\"],\"#t\":[\"g1\"]}'. Matching events are printed one per\n"
    "line, newest first; without \"limit\" every match is printed.\n\n"
    "  --count             print only the number of matching events (limit ignored)\n"
    CLI_COMMON_HELP
    "\nExit status: 0 on success, 1 on a database error, 2 on bad usage or a bad filter.\n";

typedef struct {
    FILE *out;
    bool failed;
} scan_ctx;

static int print_event(void *ctx, const char *json, size_t len, uint64_t levid) {
    scan_ctx *c = ctx;
    if (fwrite(json, 1, len, c->out) != len || fputc('\n', c->out) == EOF) { c->failed = true; return 1; }
    return 0;
}

int cmd_scan(int argc, char **argv) {
    enum { OPT_COUNT = CLI_OPT_FIRST_FREE };
    static const struct option options[] = {{"count", no_argument, 0, OPT_COUNT}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    bool count_only = false;
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_COUNT) count_only = true;
        else if (!cli_handle_common(&common, opt, optarg)) { rc = cli_usage_error("scan", "bad option"); break; }
    }
    if (!rc && common.help) { fputs(scan_help, stdout); cli_common_free(&common); return 0; }
    if (!rc && optind != argc - 1) rc = cli_usage_error("scan", optind >= argc ? "missing FILTER" : "only one FILTER argument is taken");
    if (rc) { cli_common_free(&common); return rc; }
    filter f;
    char err[256];
    const filter_limits lim = {0, 0, 0};
    if (filter_parse(&f, argv[optind], strlen(argv[optind]), &lim, err, sizeof err) != 0) {
        cli_common_free(&common);
        return cli_usage_error("scan", "bad filter: %s", err);
    }
    config *cfg;
    store *s = db_cli_open("scan", &common, true, &cfg);
    cli_common_free(&common);
    if (!s) { filter_free(&f); return 1; }
    if (count_only) {
        uint64_t n;
        if (store_count(s, &f, 1, &n) != 0) rc = cli_fail("scan", "database error while counting");
        else printf("%llu\n", (unsigned long long)n);
    } else {
        store_query *q = store_query_new(s, &f, 1, 0, 0);
        scan_ctx c = {stdout, false};
        if (!q) rc = cli_fail("scan", "out of memory");
        else if (store_query_run(q, 0, print_event, &c) == STORE_QUERY_ERROR) rc = cli_fail("scan", "database error");
        else if (fflush(stdout) != 0 || c.failed) rc = cli_fail("scan", "write error: %m");
        store_query_free(q);
    }
    filter_free(&f);
    store_close(s);
    config_free(cfg);
    return rc;
}
