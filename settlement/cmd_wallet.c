/* `g1relay wallet create|import|list|address|export`: custodial Ğ1 wallets in the
 * encrypted keystore of the data directory, each bound to one Nostr pubkey. */
#include "cli.h"
#include "g1keys.h"
#include "hex.h"
#include "keystore.h"
#include "npub.h"
#include "secret_input.h"
#include "ss58.h"
#include "wallet_balance.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char wallet_help[] =
    "usage: g1relay wallet ACTION [OPTIONS]\n\n"
    "Actions:\n"
    "  create --npub KEY         make a new random wallet bound to KEY; prints its address\n"
    "  import --npub KEY [--dunikey FILE]\n"
    "                            bind an existing wallet: from a .dunikey file (PubSec or WIF v1),\n"
    "                            else from Cesium credentials as two lines on standard input\n"
    "                            (secret identifier, then password); prints its address\n"
    "  list                      one line per wallet: Nostr pubkey (hex) and address\n"
    "  address --npub KEY        the address of KEY's wallet\n"
    "  export --npub KEY         print KEY's wallet as a PubSec .dunikey (SECRET: handle with care)\n"
    "  balance --npub KEY        the wallet's balance on chain, from --g1-node URL (config g1_nodes):\n"
    "                            ADDRESS free N reserved N frozen N nonce N (centimes)\n\n"
    "KEY is a Nostr public key, 64 hex characters or npub1...\n"
    "The keystore is DATA_DIR/keystore.g1ks, encrypted with a passphrase read from\n"
    "--passphrase-file FILE (config passphrase_file) or else the G1RELAY_PASSPHRASE\n"
    "environment variable; never from the command line.\n\n"
    "  --npub KEY          Nostr public key the wallet is bound to\n"
    "  --dunikey FILE      import: .dunikey file\n"
    "  --prefix N          SS58 prefix of printed addresses (default config ss58_prefix, 4450)\n"
    "  --passphrase-file FILE  file holding the keystore passphrase\n"
    "  --g1-node URL       balance: Duniter v2s RPC endpoint (repeatable)\n"
    CLI_COMMON_HELP;

enum { OPT_NPUB = CLI_OPT_FIRST_FREE, OPT_DUNIKEY, OPT_PREFIX, OPT_PASSFILE, OPT_NODE };

typedef struct {
    const char *action;
    const char *npub_text;
    const char *dunikey;
    uint64_t prefix;
    const char *data_dir;
    const char *passphrase_file;
    bool have_npub;
    uint8_t npub[32];
    const config *cfg;
} wallet_args;

static int wallet_open(const wallet_args *a, bool create, keystore **ks) {
    char *pass = NULL;
    size_t plen = 0;
    char err[300];
    if (keystore_passphrase_load(a->passphrase_file, &pass, &plen, err, sizeof err) < 0) return cli_fail("wallet", "%s", err);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", a->data_dir, KEYSTORE_FILE);
    bool existed = access(path, F_OK) == 0;
    int rc = keystore_open(a->data_dir, pass, plen, create, ks, err, sizeof err);
    keystore_passphrase_free(pass, plen);
    if (rc < 0) return cli_fail("wallet", "%s", err);
    if (!existed) fprintf(stderr, "g1relay wallet: created a new keystore %s (keep its passphrase safe)\n", path);
    return 0;
}

static int wallet_print_address(const uint8_t account[32], uint64_t prefix) {
    char addr[SS58_ADDRESS_MAX];
    if (ss58_encode(account, (uint16_t)prefix, addr, sizeof addr) < 0) return cli_fail("wallet", "address encoding failed");
    printf("%s\n", addr);
    return 0;
}

static int wallet_bind(const wallet_args *a, g1_keypair *kp) {
    keystore *ks;
    char err[300];
    int rc = wallet_open(a, true, &ks);
    if (rc) return rc;
    int r = keystore_add(ks, a->npub, kp->seed, err, sizeof err);
    keystore_close(ks);
    if (r == -2) return cli_fail("wallet", "%s is already bound to a wallet in this keystore", a->npub_text);
    if (r < 0) return cli_fail("wallet", "%s", err);
    return wallet_print_address(kp->public_key, a->prefix);
}

static int wallet_run(const wallet_args *a) {
    const char *act = a->action;
    bool needs_npub = strcmp(act, "list") != 0;
    if (needs_npub && !a->have_npub) return cli_usage_error("wallet", "%s needs --npub KEY", act);
    if (a->dunikey && strcmp(act, "import") != 0) return cli_usage_error("wallet", "--dunikey is only for import");
    g1_keypair kp;
    char err[300];
    int rc;
    if (strcmp(act, "create") == 0) {
        if (g1_keypair_random(&kp) < 0) return cli_fail("wallet", "key generation failed");
        rc = wallet_bind(a, &kp);
        g1_keypair_wipe(&kp);
        return rc;
    }
    if (strcmp(act, "import") == 0) {
        int r = a->dunikey ? secret_load_dunikey(a->dunikey, &kp, err, sizeof err)
                           : secret_read_cesium_keypair(STDIN_FILENO, &kp, err, sizeof err);
        if (r < 0) { g1_keypair_wipe(&kp); return cli_fail("wallet", "%s", err); }
        rc = wallet_bind(a, &kp);
        g1_keypair_wipe(&kp);
        return rc;
    }
    keystore *ks;
    if (strcmp(act, "list") == 0) {
        if ((rc = wallet_open(a, false, &ks))) return rc;
        size_t n = keystore_wallet_count(ks);
        for (size_t i = 0; i < n; i++) {
            uint8_t nostr[32], account[32];
            char hex[65], addr[SS58_ADDRESS_MAX];
            if (keystore_wallet_at(ks, i, nostr, account) < 0) break;
            hex_encode(nostr, 32, hex);
            ss58_encode(account, (uint16_t)a->prefix, addr, sizeof addr);
            printf("%s %s\n", hex, addr);
        }
        keystore_close(ks);
        return 0;
    }
    if (strcmp(act, "address") == 0) {
        if ((rc = wallet_open(a, false, &ks))) return rc;
        uint8_t account[32];
        int r = keystore_find(ks, a->npub, account);
        keystore_close(ks);
        if (r < 0) return cli_fail("wallet", "no wallet bound to %s", a->npub_text);
        return wallet_print_address(account, a->prefix);
    }
    if (strcmp(act, "balance") == 0) {
        if ((rc = wallet_open(a, false, &ks))) return rc;
        uint8_t account[32];
        int r = keystore_find(ks, a->npub, account);
        keystore_close(ks);
        if (r < 0) return cli_fail("wallet", "no wallet bound to %s", a->npub_text);
        if (wallet_balance_print(a->cfg, account, err, sizeof err) < 0) return cli_fail("wallet", "balance: %s", err);
        return 0;
    }
    if (strcmp(act, "export") == 0) {
        if ((rc = wallet_open(a, false, &ks))) return rc;
        int r = keystore_export(ks, a->npub, &kp);
        keystore_close(ks);
        if (r < 0) { g1_keypair_wipe(&kp); return cli_fail("wallet", "no wallet bound to %s", a->npub_text); }
        char text[512];
        int n = g1_dunikey_format(&kp, text, sizeof text);
        g1_keypair_wipe(&kp);
        if (n < 0) return cli_fail("wallet", "export failed");
        fwrite(text, 1, (size_t)n, stdout);
        fflush(stdout);
        sodium_memzero(text, sizeof text);
        return 0;
    }
    return cli_usage_error("wallet", "unknown action %s (create, import, list, address, export, balance)", act);
}

int cmd_wallet(int argc, char **argv) {
    static const struct option options[] = {
        {"npub", required_argument, 0, OPT_NPUB}, {"dunikey", required_argument, 0, OPT_DUNIKEY},
        {"prefix", required_argument, 0, OPT_PREFIX}, {"passphrase-file", required_argument, 0, OPT_PASSFILE},
        {"g1-node", required_argument, 0, OPT_NODE}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    wallet_args a;
    memset(&a, 0, sizeof a);
    const char *prefix_text = NULL, *passfile = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_NPUB: a.npub_text = optarg; break;
        case OPT_DUNIKEY: a.dunikey = optarg; break;
        case OPT_PREFIX: prefix_text = optarg; break;
        case OPT_PASSFILE: passfile = optarg; break;
        case OPT_NODE:
            if (config_list_append(common.overrides, NULL, "g1_nodes", optarg) < 0) { cli_common_free(&common); return cli_fail("wallet", "out of memory"); }
            break;
        default:
            if (!cli_handle_common(&common, opt, optarg)) { cli_common_free(&common); return cli_usage_error("wallet", "bad option"); }
        }
    }
    if (common.help) { fputs(wallet_help, stdout); cli_common_free(&common); return 0; }
    if (optind >= argc) { cli_common_free(&common); return cli_usage_error("wallet", "missing action (create, import, list, address, export, balance)"); }
    a.action = argv[optind];
    if (optind + 1 < argc) { cli_common_free(&common); return cli_usage_error("wallet", "unexpected argument %s", argv[optind + 1]); }
    config *cfg = cli_load_config(&common);
    cli_common_free(&common);
    if (!cfg) return 1;
    a.prefix = (uint64_t)config_int(cfg, NULL, "ss58_prefix", SS58_PREFIX_G1);
    int rc;
    char err[200];
    if (prefix_text && !parse_uint(prefix_text, SS58_MAX_PREFIX, &a.prefix)) { rc = cli_usage_error("wallet", "--prefix wants an integer 0..%d", SS58_MAX_PREFIX); goto out; }
    if (a.prefix > SS58_MAX_PREFIX) { rc = cli_usage_error("wallet", "ss58_prefix must be 0..%d", SS58_MAX_PREFIX); goto out; }
    if (a.npub_text) {
        if (npub_parse(a.npub_text, a.npub, err, sizeof err) < 0) { rc = cli_usage_error("wallet", "--npub: %s", err); goto out; }
        a.have_npub = true;
    }
    a.data_dir = config_str(cfg, NULL, "data_dir", "./data");
    a.passphrase_file = passfile ? passfile : config_str(cfg, NULL, "passphrase_file", "");
    a.cfg = cfg;
    rc = wallet_run(&a);
out:
    config_free(cfg);
    return rc;
}
