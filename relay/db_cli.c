/* Helpers shared by the database subcommands: open the configured store. */
#include "db_cli.h"
#include "journal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Events answered by a relay that stopped before its LMDB commit are still
 * only in the journal; `g1relay run` applies them at start-up (with the
 * plugins), so tools only say so. */
static void warn_pending_journal(const char *cmd, store *s, const char *dir) {
    uint64_t applied = 0, pending = 0;
    int rc = store_get_journal_lsn(s, NULL, &applied);
    char err[256];
    if (rc == 0 && journal_pending(dir, applied, &pending, err, sizeof err) == 0 && pending > 0)
        fprintf(stderr,
                "g1relay %s: warning: %llu events are in %s/journal but not yet in the database "
                "(a running relay commits them within commit_interval_ms; a stopped one applies them when it starts)\n",
                cmd, (unsigned long long)pending, dir);
}

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
    warn_pending_journal(cmd, s, dir);
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
