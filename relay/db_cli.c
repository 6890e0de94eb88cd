/* Helpers shared by the database subcommands: open the configured store. */
#include "db_cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

store *db_cli_open(const char *cmd, cli_common *common, bool read_only, config **cfg_out) {
    *cfg_out = NULL;
    config *cfg = cli_load_config(common);
    if (!cfg) return NULL;
    const char *dir = config_str(cfg, NULL, "data_dir", "./data");
    long long map_mb = config_int(cfg, NULL, "map_size_mb", 65536);
    if (map_mb < 1) {
        cli_fail(cmd, "map_size_mb must be positive");
        config_free(cfg);
        return NULL;
    }
    store *s;
    char err[512];
    if (store_open(&s, dir, read_only ? 0 : (uint64_t)map_mb << 20, read_only, err, sizeof err) < 0) {
        cli_fail(cmd, "%s", err);
        config_free(cfg);
        return NULL;
    }
    *cfg_out = cfg;
    return s;
}

bool db_cli_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}
