/* `g1relay station`: prints the station's Nostr public key (hex and npub), creating
 * the key in the keystore on first use. `g1relay station rebuild` replays the
 * stored event log into a copy of the settlement state and compares it with the
 * live one (see settle_rebuild_compare). */
#include "cli.h"
#include "hex.h"
#include "keystore.h"
#include "npub.h"
#include "settle.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_PASSFILE = CLI_OPT_FIRST_FREE, OPT_WORK };

static const char station_help[] =
    "usage: g1relay station [OPTIONS]\n"
    "       g1relay station rebuild --work DIR [OPTIONS]\n\n"
    "Prints the station's Nostr public key (hex, then npub). The station signs the\n"
    "settlement receipts (kind 39743) with it; the key is created in the keystore\n"
    "(DATA_DIR/keystore.g1ks) the first time it is needed.\n\n"
    "rebuild: copies the database into DIR (must not exist or be empty), replays the\n"
    "stored events there into fresh settlement state and compares it with the live\n"
    "state. Exit 0 when they agree, 1 when they differ.\n\n"
    "Options:\n"
    "  --passphrase-file FILE  file holding the keystore passphrase (else G1RELAY_PASSPHRASE)\n"
    "  --work DIR              work directory for rebuild\n" CLI_COMMON_HELP;

int cmd_station(int argc, char **argv) {
    static const struct option options[] = {{"passphrase-file", required_argument, 0, OPT_PASSFILE},
                                            {"work", required_argument, 0, OPT_WORK},
                                            CLI_COMMON_LONG_OPTIONS,
                                            {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    const char *passfile = NULL, *work = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_PASSFILE) passfile = optarg;
        else if (opt == OPT_WORK) work = optarg;
        else if (!cli_handle_common(&common, opt, optarg)) {
            cli_common_free(&common);
            return cli_usage_error("station", "bad option");
        }
    }
    if (common.help) {
        fputs(station_help, stdout);
        cli_common_free(&common);
        return 0;
    }
    bool rebuild = false;
    if (optind < argc) {
        if (strcmp(argv[optind], "rebuild") != 0 || optind + 1 < argc) {
            cli_common_free(&common);
            return cli_usage_error("station", "unexpected argument %s", argv[optind]);
        }
        rebuild = true;
        if (!work) {
            cli_common_free(&common);
            return cli_usage_error("station", "rebuild needs --work DIR");
        }
    }
    config *cfg = cli_load_config(&common);
    cli_common_free(&common);
    if (!cfg) return 1;
    char err[512];
    int rc;
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    if (rebuild) {
        rc = settle_rebuild_compare(data_dir, work, cfg, stdout, err, sizeof err);
        if (rc < 0) rc = cli_fail("station", "rebuild: %s", err);
        config_free(cfg);
        return rc;
    }
    char *pass = NULL;
    size_t plen = 0;
    if (keystore_passphrase_load(passfile ? passfile : config_str(cfg, NULL, "passphrase_file", ""), &pass, &plen, err, sizeof err) < 0) {
        config_free(cfg);
        return cli_fail("station", "%s", err);
    }
    keystore *ks = NULL;
    rc = keystore_open(data_dir, pass, plen, true, &ks, err, sizeof err);
    keystore_passphrase_free(pass, plen);
    config_free(cfg);
    if (rc < 0) return cli_fail("station", "%s", err);
    uint8_t *sk = sodium_malloc(32);
    uint8_t pk[32];
    bool created = false;
    if (!sk) rc = cli_fail("station", "out of memory");
    else if (settle_station_key_ensure(ks, sk, pk, &created, err, sizeof err) != 0) rc = cli_fail("station", "%s", err);
    else {
        char hexpk[65], npub[100];
        hex_encode(pk, 32, hexpk);
        if (npub_encode(pk, npub, sizeof npub) != 0) rc = cli_fail("station", "npub encoding failed");
        else {
            if (created) fprintf(stderr, "g1relay station: created the station key\n");
            printf("%s\n%s\n", hexpk, npub);
            rc = 0;
        }
    }
    if (sk) sodium_free(sk);
    keystore_close(ks);
    return rc;
}
