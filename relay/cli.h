/* Subcommands of the g1relay binary, and the options every subcommand shares.
 *
 * A subcommand is `int cmd_NAME(int argc, char **argv)` (argv[0] is the command
 * name) returning the process exit code; it prints its own --help. Register it in
 * the table in relay/main.c.
 *
 * Shared options (parse with cli_common_options / cli_handle_common):
 *   --config FILE        configuration file (default: ./g1relay.conf if present)
 *   --data DIR           data directory (config data_dir)
 *   --set KEY=VALUE      any configuration key, in file syntax or a bare word
 *   --log-level LEVEL    debug, info, warn, error, quiet
 */
#ifndef G1_CLI_H
#define G1_CLI_H
#include <getopt.h>
#include <stdbool.h>
#include "config.h"

enum {
    CLI_OPT_CONFIG = 0x1000,
    CLI_OPT_DATA,
    CLI_OPT_SET,
    CLI_OPT_LOG_LEVEL,
    CLI_OPT_HELP,
    CLI_OPT_FIRST_FREE = 0x1100 /* subcommands number their own long options from here */
};

#define CLI_COMMON_LONG_OPTIONS \
    {"config", required_argument, 0, CLI_OPT_CONFIG}, \
    {"data", required_argument, 0, CLI_OPT_DATA}, \
    {"set", required_argument, 0, CLI_OPT_SET}, \
    {"log-level", required_argument, 0, CLI_OPT_LOG_LEVEL}, \
    {"help", no_argument, 0, CLI_OPT_HELP}

#define CLI_COMMON_HELP \
    "  --config FILE       configuration file (default ./g1relay.conf if it exists)\n" \
    "  --data DIR          data directory (config data_dir, default ./data)\n" \
    "  --set KEY=VALUE     set any configuration key (see `g1relay config --defaults`)\n" \
    "  --log-level LEVEL   debug, info, warn, error or quiet\n" \
    "  --help              this text\n"

/* State gathered while parsing: overrides are applied after the file is read. */
typedef struct {
    const char *config_path;
    bool help;
    config *overrides; /* --data, --set and command-specific overrides */
} cli_common;

void cli_common_init(cli_common *c);
/* Handles one getopt_long result if it is a shared option; returns true if handled.
 * On a bad value prints an error and exits 2. */
bool cli_handle_common(cli_common *c, int opt, const char *arg);
/* Loads the file (explicit path, else ./g1relay.conf if present) and applies the
 * overrides. Prints the error and returns NULL on failure. Sets the log level. */
config *cli_load_config(cli_common *c);
void cli_common_free(cli_common *c);

/* Prints "g1relay CMD: message" to stderr and returns exit code 2 (usage) */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "g1relay CMD: message" to stderr and returns exit code 1 (failure) */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Subcommands (each defined in its own module). */
int cmd_run(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_wallet(int argc, char **argv);
int cmd_tx(int argc, char **argv);
int cmd_pay(int argc, char **argv);
int cmd_settlements(int argc, char **argv);
int cmd_station(int argc, char **argv);
int cmd_archive(int argc, char **argv);
#endif
