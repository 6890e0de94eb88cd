/* `g1relay compact --out DIR`: copies the LMDB environment into DIR, compacted
 * (free pages dropped, pages renumbered). Safe while the relay runs: the copy is
 * taken from one read transaction. */
#include "db_cli.h"
#include <stdio.h>

static const char compact_help[] =
    "usage: g1relay compact --out DIR [OPTIONS]\n\n"
    "Writes a compacted copy of the database (data_dir) to DIR/data.mdb. DIR is\n"
    "created if needed and must not already hold a data.mdb. The copy is consistent\n"
    "even while the relay is running; to use it, stop the relay and replace\n"
    "data_dir's data.mdb with it (or point data_dir at DIR).\n\n"
    "  --out DIR           directory for the compacted copy (required)\n"
    CLI_COMMON_HELP
    "\nExit status: 0 on success, 1 on failure, 2 on bad usage.\n";

int cmd_compact(int argc, char **argv) {
    enum { OPT_OUT = CLI_OPT_FIRST_FREE };
    static const struct option options[] = {{"out", required_argument, 0, OPT_OUT}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    const char *out = NULL;
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_OUT) out = optarg;
        else if (!cli_handle_common(&common, opt, optarg)) { rc = cli_usage_error("compact", "bad option"); break; }
    }
    if (!rc && common.help) { fputs(compact_help, stdout); cli_common_free(&common); return 0; }
    if (!rc && optind < argc) rc = cli_usage_error("compact", "unexpected argument %s", argv[optind]);
    if (!rc && !out) rc = cli_usage_error("compact", "--out DIR is required");
    if (rc) { cli_common_free(&common); return rc; }
    config *cfg;
    store *s = db_cli_open("compact", &common, true, &cfg);
    cli_common_free(&common);
    if (!s) return 1;
    char err[512];
    store_stats before;
    if (store_compact_copy(s, out, err, sizeof err) != 0) rc = cli_fail("compact", "%s", err);
    else if (store_get_stats(s, &before) == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/data.mdb", out);
        FILE *f = fopen(path, "rb");
        long size = -1;
        if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
        if (f) fclose(f);
        printf("compacted %llu events: %llu bytes -> %ld bytes in %s\n", (unsigned long long)before.events,
               (unsigned long long)before.file_bytes, size, path);
    }
    store_close(s);
    config_free(cfg);
    return rc;
}
