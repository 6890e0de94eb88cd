/* `g1relay archive`: writes a time range of the event log as a CAR archive
 * linked into the station's archive chain, or checks an archive file. */
#include "archive.h"
#include "archive_announce.h"
#include "car_import.h"
#include "cli.h"
#include "db_cli.h"
#include "hex.h"
#include "kubo_push.h"
#include "station_identity.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char archive_help[] =
    "usage: g1relay archive --out FILE.car [--since T] [--until T] [--no-station] [--push] [--announce] [OPTIONS]\n"
    "       g1relay archive --check FILE.car [OPTIONS]\n\n"
    "Writes the stored events with since <= created_at <= until (default: all until\n"
    "now) as a CARv1 archive: each event's signed JSON as a raw block, index pages\n"
    "and a root linking the previous archive root of this data directory, so the\n"
    "station's archives form one hash-linked chain (DATA_DIR/archives.chain).\n"
    "The root names the station's pubkey when the keystore can be opened\n"
    "(G1RELAY_PASSPHRASE or passphrase_file). Prints the root CID, the file's\n"
    "sha256 and size. See docs/IPFS.md.\n\n"
    "  --out FILE          the CAR file to write (replaced atomically)\n"
    "  --since T           first created_at included (default 0)\n"
    "  --until T           last created_at included (default: one second ago)\n"
    "  --no-station        do not name the station in the root\n"
    "  --push              also push to the IPFS node of config ipfs_api (queued\n"
    "                      for the running relay to retry when the node is down)\n"
    "  --announce          store a NIP-94 (kind 1063) event signed by the station\n"
    "                      naming the archive (root CID, sha256, size); stored\n"
    "                      directly, so a running relay does not broadcast it live\n"
    "  --check FILE        verify an archive (every CID, id, signature, links,\n"
    "                      chain) without storing anything\n" CLI_COMMON_HELP
    "\nExit status: 0 done, 1 failure (refused archive, write error), 2 bad usage.\n";

static void print_result(const archive_result *res, const archive_links *links, const char *path) {
    char root[CID_MAX_TEXT], prev[CID_MAX_TEXT] = "none", sha[65], station[65] = "none";
    cid_to_string(&res->root, root);
    if (links->has_prev) cid_to_string(&links->prev, prev);
    if (links->has_station) hex_encode(links->station, 32, station);
    hex_encode(res->sha256, 32, sha);
    printf("root %s\nprev %s\nstation %s\nevents %llu\npages %llu\nfile %s\nsize %llu\nsha256 %s\n", root, prev, station,
           (unsigned long long)res->count, (unsigned long long)res->pages, path, (unsigned long long)res->file_size, sha);
}

static int check_file(cli_common *common, const char *path) {
    config *cfg = cli_load_config(common);
    if (!cfg) return 1;
    car_import_report rep;
    char err[512];
    int rc = car_verify_file(path, config_str(cfg, NULL, "data_dir", "./data"), &rep, err, sizeof err);
    config_free(cfg);
    if (rc < 0) {
        fprintf(stderr, "g1relay archive: %s: refused: %s\n", path, err);
        return 1;
    }
    char root[CID_MAX_TEXT], prev[CID_MAX_TEXT] = "none";
    cid_to_string(&rep.root, root);
    if (rep.has_prev) cid_to_string(&rep.prev, prev);
    printf("ok\nroot %s\nprev %s (%s)\nsince %lld\nuntil %lld\nblocks %llu\nevents %llu\n", root, prev,
           rep.prev_status == CAR_PREV_NONE ? "first archive of its chain"
           : rep.prev_status == CAR_PREV_KNOWN ? "known here: chain link checked"
                                               : "not known here: chain checked up to this archive only",
           (long long)rep.since, (long long)rep.until, (unsigned long long)rep.blocks, (unsigned long long)rep.events);
    return 0;
}

/* Signs the NIP-94 announcement and stores it in its own write transaction. */
static int store_announcement(store *s, const uint8_t *sk, const archive_result *res, const archive_links *links,
                              int64_t since, int64_t until, bool pushed) {
    event ev;
    if (archive_announcement_build(&ev, sk, res, links, since, until, pushed, (int64_t)time(NULL)) != 0)
        return cli_fail("archive", "cannot sign the announcement");
    MDB_txn *txn;
    int mrc = mdb_txn_begin(store_env(s), NULL, 0, &txn);
    if (mrc) { event_free(&ev); return cli_fail("archive", "cannot store the announcement: %s", mdb_strerror(mrc)); }
    char msg[256], id[65];
    store_result r = store_insert(s, txn, &ev, NULL, msg, sizeof msg);
    hex_encode(ev.id, 32, id);
    event_free(&ev);
    if (r != STORE_ADDED) { mdb_txn_abort(txn); return cli_fail("archive", "announcement not stored: %s", msg); }
    if ((mrc = mdb_txn_commit(txn))) return cli_fail("archive", "cannot store the announcement: %s", mdb_strerror(mrc));
    printf("announcement %s\n", id);
    return 0;
}

int cmd_archive(int argc, char **argv) {
    enum { OPT_OUT = CLI_OPT_FIRST_FREE, OPT_SINCE, OPT_UNTIL, OPT_NO_STATION, OPT_PUSH, OPT_CHECK, OPT_ANNOUNCE };
    static const struct option options[] = {
        {"out", required_argument, 0, OPT_OUT},        {"since", required_argument, 0, OPT_SINCE},
        {"until", required_argument, 0, OPT_UNTIL},    {"no-station", no_argument, 0, OPT_NO_STATION},
        {"push", no_argument, 0, OPT_PUSH},            {"check", required_argument, 0, OPT_CHECK},
        {"announce", no_argument, 0, OPT_ANNOUNCE},
        CLI_COMMON_LONG_OPTIONS,                       {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    const char *out = NULL, *check = NULL;
    int64_t since = 0, until = (int64_t)time(NULL) - 1; /* complete seconds: what is stored later lands after until */
    bool no_station = false, push = false, announce = false;
    int opt, rc = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_OUT) out = optarg;
        else if (opt == OPT_CHECK) check = optarg;
        else if (opt == OPT_NO_STATION) no_station = true;
        else if (opt == OPT_PUSH) push = true;
        else if (opt == OPT_ANNOUNCE) announce = true;
        else if (opt == OPT_SINCE || opt == OPT_UNTIL) {
            int64_t v;
            if (!db_cli_parse_i64(optarg, &v) || v < 0) { rc = cli_usage_error("archive", "--%s wants a timestamp, got %s", opt == OPT_SINCE ? "since" : "until", optarg); break; }
            if (opt == OPT_SINCE) since = v;
            else until = v;
        } else if (!cli_handle_common(&common, opt, optarg)) { rc = cli_usage_error("archive", "bad option"); break; }
    }
    if (!rc && common.help) { fputs(archive_help, stdout); cli_common_free(&common); return 0; }
    if (!rc && optind < argc) rc = cli_usage_error("archive", "unexpected argument '%s'", argv[optind]);
    if (!rc && !out && !check) rc = cli_usage_error("archive", "--out FILE or --check FILE is required (see --help)");
    if (!rc && out && check) rc = cli_usage_error("archive", "--out and --check do not go together");
    if (!rc && since > until) rc = cli_usage_error("archive", "--since is after --until");
    if (!rc && announce && no_station) rc = cli_usage_error("archive", "--announce needs the station key (not with --no-station)");
    if (rc) { cli_common_free(&common); return rc; }
    if (check) {
        rc = check_file(&common, check);
        cli_common_free(&common);
        return rc;
    }
    config *cfg;
    store *s = db_cli_open("archive", &common, !announce, &cfg);
    cli_common_free(&common);
    if (!s) return 1;
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    uint8_t pk[32];
    uint8_t *sk = announce ? sodium_malloc(32) : NULL;
    bool have_pk = false;
    char err[512];
    if (announce && !sk) {
        store_close(s);
        config_free(cfg);
        return cli_fail("archive", "out of memory");
    }
    if (!no_station) {
        int k = station_identity_load(cfg, false, sk, pk, err, sizeof err);
        if (k == 0) have_pk = true;
        else if (announce) {
            sodium_free(sk);
            store_close(s);
            config_free(cfg);
            return cli_fail("archive", "--announce: no station key (%s)", err);
        } else fprintf(stderr, "g1relay archive: the root does not name the station (%s)\n", err);
    }
    bool pushed = false;
    archive_result res;
    archive_links links;
    if (archive_make(s, data_dir, since, until, have_pk ? pk : NULL, out, &res, &links, err, sizeof err) < 0) {
        rc = cli_fail("archive", "%s", err);
    } else {
        print_result(&res, &links, out);
        const char *api = config_str(cfg, NULL, "ipfs_api", "");
        if (push && !*api) fprintf(stderr, "g1relay archive: --push: no ipfs_api configured, so the archive was written "
                                    "but not pushed (set ipfs_api, e.g. --set ipfs_api=http://127.0.0.1:5001)\n");
        else if (push) {
            if (kubo_push_in_order(data_dir, api, out, &res.root, 30000, &pushed, err, sizeof err) < 0)
                rc = cli_fail("archive", "push to %s failed: %s", api, err);
            else if (pushed) printf("pushed %s\n", api);
            else {
                fprintf(stderr, "g1relay archive: push to %s failed: %s (queued for retry)\n", api, err);
                printf("push queued\n");
            }
        }
    }
    if (rc == 0 && announce) rc = store_announcement(s, sk, &res, &links, since, until, pushed);
    if (sk) sodium_free(sk);
    store_close(s);
    config_free(cfg);
    return rc;
}
