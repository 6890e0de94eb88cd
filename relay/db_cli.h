/* Helpers shared by the database subcommands (export, import, scan, stats,
 * compact): open the store named by the configuration, parse numbers. */
#ifndef G1_DB_CLI_H
#define G1_DB_CLI_H
#include <stdbool.h>
#include <stdint.h>
#include "cli.h"
#include "store.h"

/* Loads the configuration (printing errors) and opens the store in data_dir.
 * On failure prints "g1relay CMD: why" and returns NULL. *cfg_out is set on
 * success and must be freed by the caller. */
store *db_cli_open(const char *cmd, cli_common *common, bool read_only, config **cfg_out);

/* Parses a decimal integer (optionally negative) filling the whole string. */
bool db_cli_parse_i64(const char *s, int64_t *out);
#endif
