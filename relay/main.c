/* g1relay: entry point. Dispatches to subcommands; `g1relay --help` lists them. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} command;

/* Keep in the order a newcomer reads them. Each owner adds its line here. */
static const command commands[] = {
    {"run", "run the relay (WebSocket + NIP-11 on one port)", cmd_run},
    {"config", "print the configuration keys with their defaults, or the effective configuration", cmd_config},
    {"key", "derive a G1 public key and address from Cesium credentials (stdin)", cmd_key},
    {"wallet", "custodial G1 wallets bound to Nostr pubkeys: create, import, list, address, export, balance", cmd_wallet},
    {"tx", "sign a G1 transfer offline (extrinsic hex and hash)", cmd_tx},
    {"pay", "pay from a station wallet exactly once per idempotency key; waits for the final state", cmd_pay},
    {"settlements", "list the payment outbox (intents and their states)", cmd_settlements},
    {"station", "print the station's Nostr pubkey (signs receipts); rebuild: check settlements against the log", cmd_station},
    {"export", "write stored events as JSON lines, oldest first (--since/--until)", cmd_export},
    {"import", "store events from JSON lines, checking ids and signatures; report added/duplicates/rejected", cmd_import},
    {"scan", "print the stored events matching a JSON filter", cmd_scan},
    {"stats", "event counts, top kinds, index sizes, bytes on disk per event", cmd_stats},
    {"compact", "copy the database compacted into another directory", cmd_compact},
    {"archive", "write a time range of the event log as a CAR archive chained to the previous one (IPFS)", cmd_archive},
};

static void print_usage(FILE *out) {
    fprintf(out, "usage: g1relay COMMAND [OPTIONS]\n\n"
                 "A Nostr relay for G1 stations: LMDB storage, filter plugins, G1 settlement.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`g1relay COMMAND --help` describes a command and its options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) { print_usage(stderr); return 2; }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) { printf("g1relay 0.1.0\n"); return 0; }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "g1relay: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
}
