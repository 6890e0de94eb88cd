/* `g1relay tx transfer`: offline signing of a Ğ1 transfer (or a batch_all of
 * transfers plus a remark) from a .dunikey file or Cesium credentials on stdin.
 * Prints the extrinsic hex, then its hash. Everything comes from the options and
 * the runtime metadata file; nothing touches the network. */
#include "cli.h"
#include "extrinsic.h"
#include "g1keys.h"
#include "hex.h"
#include "metadata.h"
#include "secret_input.h"
#include "ss58.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char tx_help[] =
    "usage: g1relay tx transfer [OPTIONS]\n\n"
    "Signs a transfer offline and prints two lines: the extrinsic (0x hex), then its\n"
    "hash (0x, blake2b-256). Submit it with author_submitExtrinsic.\n\n"
    "Key (never on the command line):\n"
    "  --from-dunikey FILE     .dunikey file (PubSec or WIF v1); without it, the Cesium\n"
    "                          secret identifier and password are read as two lines on stdin\n"
    "Transfer:\n"
    "  --to ADDRESS            payee: SS58 address of this chain's prefix, or v1 key[:checksum]\n"
    "  --amount CENTIMES       integer centimes (1 G1 = 100), > 0\n"
    "                          --to/--amount may be repeated in pairs (makes a batch_all)\n"
    "  --remark TEXT           add System.remark_with_event(TEXT) in a Utility.batch_all\n"
    "Chain state (from the node: system_accountNextIndex, state_getRuntimeVersion, ...):\n"
    "  --nonce N               account nonce\n"
    "  --era immortal          immortal transaction, or\n"
    "  --era PERIOD --era-block NUMBER:HASH\n"
    "                          mortal for PERIOD blocks (power of two, 4..65536, at most the\n"
    "                          chain's BlockHashCount) from block NUMBER whose hash is HASH\n"
    "  --spec N                runtime spec version\n"
    "  --tx-version N          runtime transaction version\n"
    "  --genesis HASH          genesis block hash (0x + 64 hex)\n"
    "  --metadata FILE         runtime metadata (state_getMetadata: SCALE or 0x hex)\n"
    CLI_COMMON_HELP;

enum { OPT_FROM_DUNIKEY = CLI_OPT_FIRST_FREE, OPT_TO, OPT_AMOUNT, OPT_NONCE, OPT_ERA, OPT_ERA_BLOCK,
       OPT_SPEC, OPT_TXV, OPT_GENESIS, OPT_METADATA, OPT_REMARK };

#define TX_MAX_PAIRS 256

typedef struct {
    const char *from_dunikey, *nonce, *era, *era_block, *spec, *txv, *genesis, *metadata, *remark;
    const char *to[TX_MAX_PAIRS], *amount[TX_MAX_PAIRS];
    size_t to_count, amount_count;
} tx_args;

static int tx_sign_and_print(const tx_args *a) {
    char err[300];
    extrinsic_params p;
    memset(&p, 0, sizeof p);
    uint64_t v;
    if (!a->metadata) return cli_usage_error("tx", "--metadata FILE is required");
    if (!a->nonce || !parse_uint(a->nonce, UINT32_MAX, &p.nonce)) return cli_usage_error("tx", "--nonce wants an integer 0..4294967295");
    if (!a->spec || !parse_uint(a->spec, UINT32_MAX, &v)) return cli_usage_error("tx", "--spec wants a u32 runtime spec version");
    p.spec_version = (uint32_t)v;
    if (!a->txv || !parse_uint(a->txv, UINT32_MAX, &v)) return cli_usage_error("tx", "--tx-version wants a u32 transaction version");
    p.tx_version = (uint32_t)v;
    if (!a->genesis || !parse_hash32(a->genesis, p.genesis_hash)) return cli_usage_error("tx", "--genesis wants 0x + 64 hex digits");
    if (!a->era) return cli_usage_error("tx", "--era immortal or --era PERIOD --era-block NUMBER:HASH is required");
    if (strcmp(a->era, "immortal") == 0) {
        if (a->era_block) return cli_usage_error("tx", "--era-block makes no sense with --era immortal");
    } else {
        if (!parse_uint(a->era, 65536, &v) || v < 4 || (v & (v - 1)))
            return cli_usage_error("tx", "--era wants immortal or a power of two between 4 and 65536");
        p.mortal = true;
        p.era_period = (uint32_t)v;
        if (!a->era_block) return cli_usage_error("tx", "a mortal --era needs --era-block NUMBER:HASH");
        const char *colon = strchr(a->era_block, ':');
        char num[24];
        size_t nlen = colon ? (size_t)(colon - a->era_block) : 0;
        if (!colon || nlen == 0 || nlen >= sizeof num) return cli_usage_error("tx", "--era-block wants NUMBER:HASH");
        memcpy(num, a->era_block, nlen);
        num[nlen] = 0;
        if (!parse_uint(num, UINT32_MAX, &p.era_block_number)) return cli_usage_error("tx", "--era-block: bad block number");
        if (!parse_hash32(colon + 1, p.era_block_hash)) return cli_usage_error("tx", "--era-block: the hash wants 0x + 64 hex digits");
    }
    if (a->to_count == 0) return cli_usage_error("tx", "--to ADDRESS is required");
    if (a->to_count != a->amount_count) return cli_usage_error("tx", "give one --amount for each --to (%zu --to, %zu --amount)", a->to_count, a->amount_count);
    size_t remark_len = a->remark ? strlen(a->remark) : 0;
    if (a->remark && (remark_len == 0 || remark_len > EXTRINSIC_MAX_REMARK))
        return cli_usage_error("tx", "--remark must be 1..%d bytes", EXTRINSIC_MAX_REMARK);

    metadata *md = metadata_load_file(a->metadata, err, sizeof err);
    if (!md) return cli_fail("tx", "%s", err);
    uint64_t prefix = SS58_PREFIX_G1, block_hash_count = 0;
    if (metadata_constant_uint(md, "System", "SS58Prefix", &prefix) < 0 || prefix > SS58_MAX_PREFIX) {
        metadata_free(md);
        return cli_fail("tx", "runtime metadata has no usable System.SS58Prefix");
    }
    if (p.mortal && metadata_constant_uint(md, "System", "BlockHashCount", &block_hash_count) == 0 &&
        p.era_period > block_hash_count) {
        metadata_free(md);
        return cli_usage_error("tx", "--era %u exceeds the chain's BlockHashCount (%llu): the transaction would be invalid",
                               p.era_period, (unsigned long long)block_hash_count);
    }
    extrinsic_transfer *transfers = calloc(a->to_count, sizeof *transfers);
    if (!transfers) { metadata_free(md); return cli_fail("tx", "out of memory"); }
    int rc = 1;
    uint64_t total = 0;
    for (size_t i = 0; i < a->to_count; i++) {
        if (g1_address_parse(a->to[i], (uint16_t)prefix, transfers[i].dest, err, sizeof err) < 0) {
            rc = cli_usage_error("tx", "--to %s: %s", a->to[i], err);
            goto out_md;
        }
        if (!parse_uint(a->amount[i], UINT64_MAX, &transfers[i].amount) || transfers[i].amount == 0) {
            rc = cli_usage_error("tx", "--amount %s: want a positive integer number of centimes that fits in 64 bits", a->amount[i]);
            goto out_md;
        }
        if (total > UINT64_MAX - transfers[i].amount) { rc = cli_usage_error("tx", "the amounts add up to more than 64 bits"); goto out_md; }
        total += transfers[i].amount;
    }

    uint64_t existential = 0;
    if (metadata_constant_uint(md, "Balances", "ExistentialDeposit", &existential) == 0)
        for (size_t i = 0; i < a->to_count; i++)
            if (transfers[i].amount < existential)
                fprintf(stderr, "g1relay tx: warning: %llu centimes is below the existential deposit (%llu): "
                        "the transfer fails if %s holds less than that\n", (unsigned long long)transfers[i].amount,
                        (unsigned long long)existential, a->to[i]);
    g1_keypair kp;
    memset(&kp, 0, sizeof kp);
    int kr = a->from_dunikey ? secret_load_dunikey(a->from_dunikey, &kp, err, sizeof err)
                             : secret_read_cesium_keypair(STDIN_FILENO, &kp, err, sizeof err);
    if (kr < 0) { rc = cli_fail("tx", "%s", err); goto out_key; }

    scale_buf call, out;
    scale_buf_init(&call);
    scale_buf_init(&out);
    uint8_t hash[32];
    if (extrinsic_encode_call(md, transfers, a->to_count, (const uint8_t *)a->remark, remark_len, &call, err, sizeof err) < 0 ||
        extrinsic_sign(md, &p, call.data, call.len, kp.public_key, extrinsic_keypair_signer, &kp, &out, hash, err, sizeof err) < 0) {
        rc = cli_fail("tx", "%s", err);
    } else {
        char *hex = malloc(out.len * 2 + 1);
        if (!hex) rc = cli_fail("tx", "out of memory");
        else {
            char hh[65];
            hex_encode(out.data, out.len, hex);
            hex_encode(hash, 32, hh);
            printf("0x%s\n0x%s\n", hex, hh);
            free(hex);
            rc = 0;
        }
    }
    scale_buf_free(&call);
    scale_buf_free(&out);
out_key:
    g1_keypair_wipe(&kp);
out_md:
    free(transfers);
    metadata_free(md);
    return rc;
}

int cmd_tx(int argc, char **argv) {
    static const struct option options[] = {
        {"from-dunikey", required_argument, 0, OPT_FROM_DUNIKEY}, {"to", required_argument, 0, OPT_TO},
        {"amount", required_argument, 0, OPT_AMOUNT}, {"nonce", required_argument, 0, OPT_NONCE},
        {"era", required_argument, 0, OPT_ERA}, {"era-block", required_argument, 0, OPT_ERA_BLOCK},
        {"spec", required_argument, 0, OPT_SPEC}, {"tx-version", required_argument, 0, OPT_TXV},
        {"genesis", required_argument, 0, OPT_GENESIS}, {"metadata", required_argument, 0, OPT_METADATA},
        {"remark", required_argument, 0, OPT_REMARK}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    tx_args a;
    memset(&a, 0, sizeof a);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_FROM_DUNIKEY: a.from_dunikey = optarg; break;
        case OPT_TO:
        case OPT_AMOUNT: {
            size_t *count = opt == OPT_TO ? &a.to_count : &a.amount_count;
            if (*count >= TX_MAX_PAIRS) { cli_common_free(&common); return cli_usage_error("tx", "at most %d transfers", TX_MAX_PAIRS); }
            (opt == OPT_TO ? a.to : a.amount)[(*count)++] = optarg;
            break;
        }
        case OPT_NONCE: a.nonce = optarg; break;
        case OPT_ERA: a.era = optarg; break;
        case OPT_ERA_BLOCK: a.era_block = optarg; break;
        case OPT_SPEC: a.spec = optarg; break;
        case OPT_TXV: a.txv = optarg; break;
        case OPT_GENESIS: a.genesis = optarg; break;
        case OPT_METADATA: a.metadata = optarg; break;
        case OPT_REMARK: a.remark = optarg; break;
        default:
            if (!cli_handle_common(&common, opt, optarg)) { cli_common_free(&common); return cli_usage_error("tx", "bad option"); }
        }
    }
    bool help = common.help;
    cli_common_free(&common);
    if (help) { fputs(tx_help, stdout); return 0; }
    if (optind >= argc) return cli_usage_error("tx", "missing action (transfer)");
    if (strcmp(argv[optind], "transfer") != 0) return cli_usage_error("tx", "unknown action %s (want transfer)", argv[optind]);
    if (optind + 1 < argc) return cli_usage_error("tx", "unexpected argument %s", argv[optind + 1]);
    return tx_sign_and_print(&a);
}
