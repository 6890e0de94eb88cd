/* `g1relay export`: writes stored events as JSON lines, oldest first, in the
 * served form (tags and content as signed; the output feeds `g1relay import`). */
#include "db_cli.h"
#include <stdio.h>
#include <string.h>

static const char export_help[] =
    "usage: g1relay export [--since N] [--until N] [--out FILE] [OPTIONS]\n\n"
    "Writes every stored event as one JSON object per line, oldest first, in the\n"
    "relay's served form: fields in the order id, pubkey, created_at, kind, tags,\n"
    "content, sig, with tags and content escaped exactly as signed (every id\n"
    "recomputes). Expired (NIP-40) events are left out. Importing the output into\n"
    "an empty database and exporting again gives the same bytes.\n\n"
    "  --since N           only events with created_at >= N (unix seconds)\n"
    "  --until N           only events with created_at <= N\n"
    "  --out FILE          write to FILE instead of standard output\n"
    CLI_COMMON_HELP
    "\nExit status: 0 on success, 1 on a database or write error, 2 on bad usage.\n";

typedef struct {
    FILE *out;
    uint64_t count;
    bool failed;
} export_ctx;

static int write_event(void *ctx, const char *json, size_t len, uint64_t levid) {
    export_ctx *e = ctx;
    if (fwrite(json, 1, len, e->out) != len || fputc('\n', e->out) == EOF) { e->failed = true; return 1; }
    e->count++;
    return 0;
}

int cmd_export(int argc, char **argv) {
    enum { OPT_SINCE = CLI_OPT_FIRST_FREE, OPT_UNTIL, OPT_OUT };
    static const struct option options[] = {
        {"since", required_argument, 0, OPT_SINCE}, {"until", required_argument, 0, OPT_UNTIL},
        {"out", required_argument, 0, OPT_OUT}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    int64_t since = INT64_MIN, until = INT64_MAX;
    const char *out_path = NULL;
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_SINCE) { if (!db_cli_parse_i64(optarg, &since)) { rc = cli_usage_error("export", "--since wants an integer, got %s", optarg); break; } }
        else if (opt == OPT_UNTIL) { if (!db_cli_parse_i64(optarg, &until)) { rc = cli_usage_error("export", "--until wants an integer, got %s", optarg); break; } }
        else if (opt == OPT_OUT) out_path = optarg;
        else if (!cli_handle_common(&common, opt, optarg)) { rc = cli_usage_error("export", "bad option"); break; }
    }
    if (!rc && common.help) { fputs(export_help, stdout); cli_common_free(&common); return 0; }
    if (!rc && optind < argc) rc = cli_usage_error("export", "unexpected argument %s", argv[optind]);
    if (rc) { cli_common_free(&common); return rc; }
    config *cfg;
    store *s = db_cli_open("export", &common, true, &cfg);
    cli_common_free(&common);
    if (!s) return 1;
    export_ctx e = {stdout, 0, false};
    if (out_path && !(e.out = fopen(out_path, "w"))) {
        rc = cli_fail("export", "cannot write %s: %m", out_path);
    } else {
        static char buf[1 << 16];
        setvbuf(e.out, buf, _IOFBF, sizeof buf);
        int err = store_export(s, since, until, write_event, &e);
        if (fflush(e.out) != 0) e.failed = true;
        if (err) rc = cli_fail("export", "database: %s", mdb_strerror(err));
        else if (e.failed) rc = cli_fail("export", "write error: %m");
        if (out_path && fclose(e.out) != 0 && !rc) rc = cli_fail("export", "write error on %s: %m", out_path);
        if (!rc && out_path) fprintf(stderr, "g1relay export: %llu events written to %s\n", (unsigned long long)e.count, out_path);
    }
    store_close(s);
    config_free(cfg);
    return rc;
}
