/* `g1relay key derive`: Cesium credentials (two lines on stdin) to the v1 public
 * key, its checksum and the SS58 address. */
#include "cli.h"
#include "g1keys.h"
#include "secret_input.h"
#include "ss58.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char key_help[] =
    "usage: g1relay key derive [--prefix N] [OPTIONS] < credentials\n\n"
    "Reads a Cesium secret identifier and password as two lines on standard input\n"
    "(never from the command line) and prints the public key in three forms:\n"
    "  pubkey: <v1 base58 key>\n"
    "  checksum: <v1 key>:<checksum>\n"
    "  address: <SS58 address>\n\n"
    "  --prefix N          SS58 prefix (default: config ss58_prefix, 4450 = g1; 42 = gdev)\n"
    CLI_COMMON_HELP;

enum { OPT_PREFIX = CLI_OPT_FIRST_FREE };

int cmd_key(int argc, char **argv) {
    static const struct option options[] = {{"prefix", required_argument, 0, OPT_PREFIX}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    const char *prefix_text = NULL;
    int opt, rc = 2;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == OPT_PREFIX) prefix_text = optarg;
        else if (!cli_handle_common(&common, opt, optarg)) { cli_common_free(&common); return cli_usage_error("key", "bad option"); }
    }
    if (common.help) { fputs(key_help, stdout); cli_common_free(&common); return 0; }
    if (optind >= argc) { cli_common_free(&common); return cli_usage_error("key", "missing action (derive)"); }
    if (strcmp(argv[optind], "derive") != 0) { cli_common_free(&common); return cli_usage_error("key", "unknown action %s (want derive)", argv[optind]); }
    if (optind + 1 < argc) { cli_common_free(&common); return cli_usage_error("key", "unexpected argument %s", argv[optind + 1]); }
    config *cfg = cli_load_config(&common);
    cli_common_free(&common);
    if (!cfg) return 1;
    uint64_t prefix = (uint64_t)config_int(cfg, NULL, "ss58_prefix", SS58_PREFIX_G1);
    config_free(cfg);
    if (prefix_text && !parse_uint(prefix_text, SS58_MAX_PREFIX, &prefix))
        return cli_usage_error("key", "--prefix wants an integer 0..%d", SS58_MAX_PREFIX);
    if (prefix > SS58_MAX_PREFIX) return cli_usage_error("key", "ss58_prefix must be 0..%d", SS58_MAX_PREFIX);
    g1_keypair kp;
    char err[256], v1[G1_V1_KEY_MAX], chk[4], addr[SS58_ADDRESS_MAX];
    if (secret_read_cesium_keypair(STDIN_FILENO, &kp, err, sizeof err) < 0) {
        g1_keypair_wipe(&kp);
        return cli_fail("key", "%s", err);
    }
    if (g1_v1_key_encode(kp.public_key, v1, sizeof v1) < 0 || ss58_encode(kp.public_key, (uint16_t)prefix, addr, sizeof addr) < 0) {
        rc = cli_fail("key", "encoding failed");
    } else {
        g1_v1_checksum(kp.public_key, chk);
        printf("pubkey: %s\nchecksum: %s:%s\naddress: %s\n", v1, v1, chk, addr);
        rc = 0;
    }
    g1_keypair_wipe(&kp);
    return rc;
}
