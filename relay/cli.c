/* Options shared by every subcommand: configuration file, overrides, log level. */
#include "cli.h"
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_common_init(cli_common *c) {
    memset(c, 0, sizeof *c);
    c->overrides = config_new();
}

void cli_common_free(cli_common *c) {
    config_free(c->overrides);
    c->overrides = NULL;
}

bool cli_handle_common(cli_common *c, int opt, const char *arg) {
    char err[256];
    switch (opt) {
    case CLI_OPT_CONFIG: c->config_path = arg; return true;
    case CLI_OPT_HELP: c->help = true; return true;
    case CLI_OPT_DATA:
        if (config_set(c->overrides, NULL, "data_dir", arg, err, sizeof err) < 0) break;
        return true;
    case CLI_OPT_LOG_LEVEL:
        if (log_level_parse(arg) < 0) { snprintf(err, sizeof err, "unknown log level %s", arg); break; }
        if (config_set(c->overrides, NULL, "log_level", arg, err, sizeof err) < 0) break;
        return true;
    case CLI_OPT_SET: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) { snprintf(err, sizeof err, "--set wants KEY=VALUE, got %s", arg); break; }
        char key[128];
        size_t klen = (size_t)(eq - arg);
        if (klen >= sizeof key) { snprintf(err, sizeof err, "--set: key too long"); break; }
        memcpy(key, arg, klen);
        key[klen] = 0;
        /* "plugin.NAME.key=v" sets key in section plugin.NAME */
        char *dot = strrchr(key, '.');
        int rc;
        if (dot) { *dot = 0; rc = config_set(c->overrides, key, dot + 1, eq + 1, err, sizeof err); }
        else rc = config_set(c->overrides, NULL, key, eq + 1, err, sizeof err);
        if (rc < 0) break;
        return true;
    }
    default: return false;
    }
    fprintf(stderr, "g1relay: %s\n", err);
    exit(2);
}

config *cli_load_config(cli_common *c) {
    config *cfg = config_new();
    char err[512];
    const char *path = c->config_path;
    if (!path && access("g1relay.conf", R_OK) == 0) path = "g1relay.conf";
    if (!cfg || (path && config_load_file(cfg, path, err, sizeof err) < 0)) {
        fprintf(stderr, "g1relay: config: %s\n", cfg ? err : "out of memory");
        config_free(cfg);
        return NULL;
    }
    if (config_merge(cfg, c->overrides) < 0) {
        fprintf(stderr, "g1relay: config: out of memory\n");
        config_free(cfg);
        return NULL;
    }
    int level = log_level_parse(config_str(cfg, NULL, "log_level", "info"));
    if (level < 0) {
        fprintf(stderr, "g1relay: config: log_level: unknown level\n");
        config_free(cfg);
        return NULL;
    }
    log_set_level((log_level)level);
    return cfg;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "g1relay %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see g1relay %s --help)\n", cmd);
    va_end(ap);
    return 2;
}

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "g1relay %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}
