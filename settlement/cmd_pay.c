/* `g1relay pay` (add payment intents to the outbox and wait for their final
 * state, settling them itself unless a running relay already does) and
 * `g1relay settlements` (list the outbox). */
#include "cli.h"
#include "settle.h"
#include "engine.h"
#include "g1keys.h"
#include "hex.h"
#include "keystore.h"
#include "log.h"
#include "npub.h"
#include "outbox.h"
#include "secret_input.h"
#include "ss58.h"
#include "store.h"
#include <libwebsockets.h>
#include <sodium.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAY_MAX_FILE_INTENTS 100000

static const char pay_help[] =
    "usage: g1relay pay --from NPUB --to ADDRESS --amount CENTIMES [--key KEY] [OPTIONS]\n"
    "       g1relay pay --file FILE [OPTIONS]\n\n"
    "Pays from the station wallet bound to NPUB (see `g1relay wallet`), exactly once per\n"
    "idempotency KEY: running it again with the same key pays nothing more and prints the\n"
    "state of the first payment. Waits for the final state (finalized, failed, cancelled)\n"
    "and prints one line per payment:\n"
    "  KEY STATE AMOUNT FROM TO [tx=0x..] [block=N:0x..] [reason=WORD] created=MS updated=MS\n"
    "(FROM is the payer's npub, TO the payee address, MS milliseconds since the epoch.)\n"
    "When a running `g1relay run` settles payments for the same data directory, the\n"
    "payment is queued for it; otherwise this command talks to the G1 nodes itself.\n"
    "Exit status: 0 when every payment is finalized, 1 otherwise.\n\n"
    "  --from NPUB           payer: Nostr pubkey (npub1... or hex) of a wallet in the keystore\n"
    "  --to ADDRESS          payee: SS58 address (config ss58_prefix) or v1 public key\n"
    "  --amount CENTIMES     integer centimes (1 G1 = 100), > 0\n"
    "  --key KEY             idempotency key (1..128 printable characters, no spaces or\n"
    "                        commas); default: a new random key, printed\n"
    "  --memo TEXT           stored with the intent (at most 256 bytes)\n"
    "  --file FILE           many payments, one per line: KEY FROM TO AMOUNT ('#' comments)\n"
    "  --g1-node URL         Duniter v2s RPC endpoint (repeatable; config g1_nodes)\n"
    "  --timeout SECONDS     stop waiting after this long (default 600; 0 = only queue the\n"
    "                        payment for a running relay, exit 0 unless it failed)\n"
    "  --passphrase-file FILE  keystore passphrase (else G1RELAY_PASSPHRASE)\n"
    CLI_COMMON_HELP;

static const char settlements_help[] =
    "usage: g1relay settlements [--status STATE] [--key KEY] [OPTIONS]\n"
    "       g1relay settlements --rebuild [--work DIR] [OPTIONS]\n\n"
    "Lists the payment intents of the outbox, one line each:\n"
    "  KEY STATE AMOUNT FROM TO [tx=0x..] [block=N:0x..] [reason=WORD] created=MS updated=MS\n"
    "STATE is pending, signed, submitted, included, finalized, failed or cancelled.\n\n"
    "  --status STATE      only intents in this state\n"
    "  --key KEY           only this intent\n"
    "  --rebuild           prove the settlement state can be rebuilt from the event log:\n"
    "                      copy the database, replay every stored event into fresh state\n"
    "                      and compare with the live state (exit 0 agree, 1 differ).\n"
    "                      Use the same money settings as `run` (zen_centimes, limits).\n"
    "  --work DIR          where the copy goes (must not exist or be empty; default a\n"
    "                      temporary directory, removed afterwards)\n"
    CLI_COMMON_HELP;

enum { OPT_FROM = CLI_OPT_FIRST_FREE, OPT_TO, OPT_AMOUNT, OPT_KEY, OPT_MEMO, OPT_FILE, OPT_NODE, OPT_TIMEOUT,
       OPT_PASSFILE, OPT_STATUS, OPT_REBUILD, OPT_WORK };

typedef struct {
    char key[OUTBOX_MAX_KEY + 1];
    uint8_t from[32], to[32];
    uint64_t amount;
} pay_item;

static void print_intent(const outbox_intent *it, uint16_t prefix) {
    char to[SS58_ADDRESS_MAX] = "?", npub[80];
    if (npub_encode(it->from, npub, sizeof npub) < 0) snprintf(npub, sizeof npub, "?");
    ss58_encode(it->to, prefix, to, sizeof to);
    printf("%s %s %llu %s %s", it->key, outbox_state_name(it->state), (unsigned long long)it->amount, npub, to);
    if (it->state != OUTBOX_PENDING && it->state != OUTBOX_CANCELLED && it->ext_id) {
        char hx[65];
        hex_encode(it->tx_hash, 32, hx);
        printf(" tx=0x%s", hx);
    }
    if (it->state == OUTBOX_INCLUDED || it->state == OUTBOX_FINALIZED || (it->state == OUTBOX_FAILED && it->block_number)) {
        char hx[65];
        hex_encode(it->block_hash, 32, hx);
        printf(" block=%llu:0x%s", (unsigned long long)it->block_number, hx);
    }
    if (it->reason[0]) printf(" reason=%s", it->reason);
    printf(" created=%llu updated=%llu\n", (unsigned long long)it->ts[OUTBOX_PENDING], (unsigned long long)it->updated_ms);
}

static int open_store(const config *cfg, const char *cmd, store **st, outbox **ob) {
    char err[512];
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    long long map_mb = config_int(cfg, NULL, "map_size_mb", 65536);
    if (store_open(st, data_dir, (uint64_t)map_mb << 20, false, err, sizeof err) < 0) return cli_fail(cmd, "store: %s", err);
    if (outbox_open(*st, ob, err, sizeof err) < 0) { store_close(*st); return cli_fail(cmd, "%s", err); }
    return 0;
}

/* Reads "KEY FROM TO AMOUNT" lines. */
static int read_pay_file(const char *path, uint16_t prefix, pay_item **items, size_t *count) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail("pay", "%s: cannot open", path);
    size_t cap = 256, n = 0;
    pay_item *v = malloc(cap * sizeof *v);
    char line[1024];
    int lineno = 0, rc = 0;
    while (v && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) { rc = cli_usage_error("pay", "%s:%d: line too long", path, lineno); break; }
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == 0) continue;
        char key[200], from[200], to[200], amount[64], extra[8];
        int got = sscanf(s, "%199s %199s %199s %63s %7s", key, from, to, amount, extra);
        if (got != 4) { rc = cli_usage_error("pay", "%s:%d: want KEY FROM TO AMOUNT", path, lineno); break; }
        if (n == PAY_MAX_FILE_INTENTS) { rc = cli_usage_error("pay", "%s: more than %d payments", path, PAY_MAX_FILE_INTENTS); break; }
        if (n == cap) {
            pay_item *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) break;
            v = nv;
            cap *= 2;
        }
        pay_item *it = &v[n];
        char err[200];
        if (!outbox_key_valid(key, strlen(key))) { rc = cli_usage_error("pay", "%s:%d: invalid key", path, lineno); break; }
        memcpy(it->key, key, strlen(key) + 1); /* valid keys are <= OUTBOX_MAX_KEY */
        if (npub_parse(from, it->from, err, sizeof err) < 0) { rc = cli_usage_error("pay", "%s:%d: FROM: %s", path, lineno, err); break; }
        if (g1_address_parse(to, prefix, it->to, err, sizeof err) < 0) { rc = cli_usage_error("pay", "%s:%d: TO: %s", path, lineno, err); break; }
        if (!parse_uint(amount, UINT64_MAX, &it->amount) || it->amount == 0) { rc = cli_usage_error("pay", "%s:%d: AMOUNT must be a positive integer of centimes", path, lineno); break; }
        n++;
    }
    fclose(f);
    if (!v) return cli_fail("pay", "out of memory");
    if (rc) { free(v); return rc; }
    if (n == 0) { free(v); return cli_usage_error("pay", "%s: no payments", path); }
    *items = v;
    *count = n;
    return 0;
}

static int pay_run(config *cfg, pay_item *items, size_t n, const uint8_t *memo, size_t memo_len, long timeout_s,
                   const char *passfile) {
    char err[512];
    uint16_t prefix = (uint16_t)config_int(cfg, NULL, "ss58_prefix", SS58_PREFIX_G1);
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    char *pass = NULL;
    size_t plen = 0;
    keystore *ks = NULL;
    if (keystore_passphrase_load(passfile, &pass, &plen, err, sizeof err) < 0) return cli_fail("pay", "%s", err);
    int rc = keystore_open(data_dir, pass, plen, false, &ks, err, sizeof err);
    keystore_passphrase_free(pass, plen);
    if (rc < 0) return cli_fail("pay", "%s", err);
    for (size_t i = 0; i < n; i++) {
        uint8_t account[32];
        if (keystore_find(ks, items[i].from, account) < 0) {
            char np[80];
            npub_encode(items[i].from, np, sizeof np);
            keystore_close(ks);
            return cli_fail("pay", "no wallet bound to %s in this keystore (g1relay wallet create|import)", np);
        }
    }
    store *st;
    outbox *ob;
    if ((rc = open_store(cfg, "pay", &st, &ob))) { keystore_close(ks); return rc; }
    /* Add every intent in one transaction. */
    MDB_txn *txn;
    size_t added = 0;
    rc = mdb_txn_begin(store_env(st), NULL, 0, &txn);
    if (rc) { rc = cli_fail("pay", "store: %s", mdb_strerror(rc)); goto out; }
    for (size_t i = 0; i < n; i++) {
        int r = outbox_add_intent(ob, txn, items[i].key, strlen(items[i].key), items[i].from, items[i].to, items[i].amount,
                                  memo, memo_len, err, sizeof err);
        if (r == OUTBOX_ADDED) added++;
        else if (r != OUTBOX_EXISTS) { mdb_txn_abort(txn); rc = cli_fail("pay", "%s", err); goto out; }
    }
    rc = mdb_txn_commit(txn);
    if (rc) { rc = cli_fail("pay", "store: %s", mdb_strerror(rc)); goto out; }
    if (added < n) fprintf(stderr, "g1relay pay: %zu payment(s) already known by their key: not paid again\n", n - added);
    bool queue_only = timeout_s == 0;
    if (queue_only) goto print;
    engine *eng = NULL;
    engine_options o;
    bool have_nodes = engine_options_from_config(cfg, &o, err, sizeof err) == 0;
    if (!have_nodes && !engine_lock_held_elsewhere(data_dir)) {
        rc = cli_fail("pay", "%s, and no running relay settles for %s: the payment stays queued", err, data_dir);
        goto out;
    }
    int er = have_nodes ? engine_start(st, ob, ks, &o, &eng, err, sizeof err) : 1;
    if (er < 0) { rc = cli_fail("pay", "%s", err); goto out; }
    if (er == 1) log_info("%s: waiting for it", have_nodes ? err : "a running relay settles payments for this data directory");
    uint64_t deadline = (uint64_t)time(NULL) + (uint64_t)timeout_s;
    outbox_intent *it = malloc(sizeof *it);
    bool all_final = false;
    unsigned waited = 0;
    while (it) {
        all_final = true;
        if (mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn) == 0) {
            for (size_t i = 0; i < n && all_final; i++)
                if (outbox_get(ob, txn, items[i].key, strlen(items[i].key), it) != 0 || !outbox_state_is_final(it->state)) all_final = false;
            mdb_txn_abort(txn);
        } else all_final = false;
        if (all_final || (uint64_t)time(NULL) >= deadline) break;
        usleep(100 * 1000);
        /* the process that was settling (another `pay`, a relay) may have stopped: take over */
        if (!eng && have_nodes && ++waited % 10 == 0 && !engine_lock_held_elsewhere(data_dir)) {
            er = engine_start(st, ob, ks, &o, &eng, err, sizeof err);
            if (er < 0) log_warn("%s", err);
        }
    }
    free(it);
    engine_stop(eng);
    if (!all_final) fprintf(stderr, "g1relay pay: timed out before every payment reached a final state\n");
print:
    rc = 0;
    if (mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn) == 0) {
        outbox_intent *v = malloc(sizeof *v);
        for (size_t i = 0; v && i < n; i++) {
            if (outbox_get(ob, txn, items[i].key, strlen(items[i].key), v) != 0) { rc = 1; continue; }
            print_intent(v, prefix);
            if (v->state != OUTBOX_FINALIZED && !(queue_only && !outbox_state_is_final(v->state))) rc = 1;
        }
        free(v);
        mdb_txn_abort(txn);
    }
    fflush(stdout);
out:
    outbox_close(ob);
    store_close(st);
    keystore_close(ks);
    return rc;
}

int cmd_pay(int argc, char **argv) {
    static const struct option options[] = {
        {"from", required_argument, 0, OPT_FROM}, {"to", required_argument, 0, OPT_TO},
        {"amount", required_argument, 0, OPT_AMOUNT}, {"key", required_argument, 0, OPT_KEY},
        {"memo", required_argument, 0, OPT_MEMO}, {"file", required_argument, 0, OPT_FILE},
        {"g1-node", required_argument, 0, OPT_NODE}, {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"passphrase-file", required_argument, 0, OPT_PASSFILE}, CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    const char *from = NULL, *to = NULL, *amount = NULL, *key = NULL, *memo = NULL, *file = NULL, *timeout = NULL, *passfile = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_FROM: from = optarg; break;
        case OPT_TO: to = optarg; break;
        case OPT_AMOUNT: amount = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_MEMO: memo = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_TIMEOUT: timeout = optarg; break;
        case OPT_PASSFILE: passfile = optarg; break;
        case OPT_NODE:
            if (config_list_append(common.overrides, NULL, "g1_nodes", optarg) < 0) { cli_common_free(&common); return cli_fail("pay", "out of memory"); }
            break;
        default:
            if (!cli_handle_common(&common, opt, optarg)) { cli_common_free(&common); return cli_usage_error("pay", "bad option"); }
        }
    }
    if (common.help) { fputs(pay_help, stdout); cli_common_free(&common); return 0; }
    if (optind < argc) { cli_common_free(&common); return cli_usage_error("pay", "unexpected argument %s", argv[optind]); }
    config *cfg = cli_load_config(&common);
    cli_common_free(&common);
    if (!cfg) return 1;
    lws_set_log_level(LLL_ERR, NULL);
    int rc;
    uint16_t prefix = (uint16_t)config_int(cfg, NULL, "ss58_prefix", SS58_PREFIX_G1);
    uint64_t t = 600;
    pay_item *items = NULL;
    size_t n = 0;
    char err[200];
    if (timeout && !parse_uint(timeout, 86400 * 30, &t)) { rc = cli_usage_error("pay", "--timeout wants seconds 0..2592000"); goto out; }
    if (memo && strlen(memo) > OUTBOX_MAX_MEMO) { rc = cli_usage_error("pay", "--memo is longer than %d bytes", OUTBOX_MAX_MEMO); goto out; }
    if (file) {
        if (from || to || amount || key) { rc = cli_usage_error("pay", "--file excludes --from, --to, --amount and --key"); goto out; }
        if ((rc = read_pay_file(file, prefix, &items, &n))) goto out;
    } else {
        if (!from) { rc = cli_usage_error("pay", "--from NPUB is required"); goto out; }
        if (!to) { rc = cli_usage_error("pay", "--to ADDRESS is required"); goto out; }
        if (!amount) { rc = cli_usage_error("pay", "--amount CENTIMES is required"); goto out; }
        items = calloc(1, sizeof *items);
        if (!items) { rc = cli_fail("pay", "out of memory"); goto out; }
        n = 1;
        if (npub_parse(from, items[0].from, err, sizeof err) < 0) { rc = cli_usage_error("pay", "--from: %s", err); goto out; }
        if (g1_address_parse(to, prefix, items[0].to, err, sizeof err) < 0) { rc = cli_usage_error("pay", "--to: %s", err); goto out; }
        if (!parse_uint(amount, UINT64_MAX, &items[0].amount) || items[0].amount == 0) {
            rc = cli_usage_error("pay", "--amount wants a positive integer number of centimes");
            goto out;
        }
        if (key) {
            if (!outbox_key_valid(key, strlen(key))) { rc = cli_usage_error("pay", "--key: 1..%d printable characters, no spaces or commas", OUTBOX_MAX_KEY); goto out; }
            snprintf(items[0].key, sizeof items[0].key, "%s", key);
        } else {
            uint8_t rnd[16];
            char hx[33];
            randombytes_buf(rnd, sizeof rnd);
            hex_encode(rnd, sizeof rnd, hx);
            snprintf(items[0].key, sizeof items[0].key, "pay-%s", hx);
            fprintf(stderr, "g1relay pay: idempotency key %s (give it with --key to retry safely)\n", items[0].key);
        }
    }
    rc = pay_run(cfg, items, n, (const uint8_t *)memo, memo ? strlen(memo) : 0, (long)t,
                 passfile ? passfile : config_str(cfg, NULL, "passphrase_file", ""));
out:
    free(items);
    config_free(cfg);
    return rc;
}

typedef struct {
    uint16_t prefix;
    size_t count;
} list_ctx;

static int list_one(void *ctx, const outbox_intent *it) {
    list_ctx *l = ctx;
    print_intent(it, l->prefix);
    l->count++;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb; (void)type; (void)ftw;
    return remove(path);
}

/* --rebuild: replays the log into a copy (settle_rebuild_compare) and reports. */
static int rebuild_from_log(const config *cfg, const char *work) {
    char tmp[] = "/tmp/g1relay-rebuild-XXXXXX", err[512];
    bool temporary = !work;
    if (temporary && !(work = mkdtemp(tmp))) return cli_fail("settlements", "mkdtemp: %s", strerror(errno));
    int rc = settle_rebuild_compare(config_str(cfg, NULL, "data_dir", "./data"), work, cfg, stdout, err, sizeof err);
    if (temporary) nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc < 0) return cli_fail("settlements", "rebuild: %s", err);
    return rc;
}

int cmd_settlements(int argc, char **argv) {
    static const struct option options[] = {
        {"status", required_argument, 0, OPT_STATUS}, {"key", required_argument, 0, OPT_KEY},
        {"rebuild", no_argument, 0, OPT_REBUILD}, {"work", required_argument, 0, OPT_WORK},
        CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    const char *status = NULL, *key = NULL, *work = NULL;
    bool rebuild = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_STATUS: status = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_REBUILD: rebuild = true; break;
        case OPT_WORK: work = optarg; break;
        default:
            if (!cli_handle_common(&common, opt, optarg)) { cli_common_free(&common); return cli_usage_error("settlements", "bad option"); }
        }
    }
    if (common.help) { fputs(settlements_help, stdout); cli_common_free(&common); return 0; }
    if (optind < argc) { cli_common_free(&common); return cli_usage_error("settlements", "unexpected argument %s", argv[optind]); }
    if (work && !rebuild) { cli_common_free(&common); return cli_usage_error("settlements", "--work goes with --rebuild"); }
    if (rebuild && (status || key)) { cli_common_free(&common); return cli_usage_error("settlements", "--rebuild takes no --status or --key"); }
    config *cfg = cli_load_config(&common);
    cli_common_free(&common);
    if (!cfg) return 1;
    if (rebuild) {
        int rb = rebuild_from_log(cfg, work);
        config_free(cfg);
        return rb;
    }
    int state_filter = -1, rc;
    if (status && (state_filter = outbox_state_parse(status)) < 0) {
        config_free(cfg);
        return cli_usage_error("settlements", "--status: unknown state %s (pending, signed, submitted, included, finalized, failed, cancelled)", status);
    }
    store *st;
    outbox *ob;
    if ((rc = open_store(cfg, "settlements", &st, &ob))) { config_free(cfg); return rc; }
    list_ctx l = {.prefix = (uint16_t)config_int(cfg, NULL, "ss58_prefix", SS58_PREFIX_G1)};
    MDB_txn *txn;
    rc = mdb_txn_begin(store_env(st), NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        if (key) {
            outbox_intent it;
            int r = outbox_get(ob, txn, key, strlen(key), &it);
            if (r == 0 && (state_filter < 0 || (int)it.state == state_filter)) list_one(&l, &it);
            else if (r == MDB_NOTFOUND) rc = cli_fail("settlements", "no intent with key %s", key);
        } else {
            int r = outbox_list(ob, txn, state_filter, list_one, &l);
            if (r) rc = cli_fail("settlements", "store: %s", mdb_strerror(r));
        }
        mdb_txn_abort(txn);
    } else rc = cli_fail("settlements", "store: %s", mdb_strerror(rc));
    outbox_close(ob);
    store_close(st);
    config_free(cfg);
    return rc;
}
