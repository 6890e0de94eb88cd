/* `g1relay config`: prints every configuration key with its default and meaning
 * (--defaults), or checks a configuration file and prints the effective values. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const char config_help[] =
    "usage: g1relay config [--defaults | --check] [OPTIONS]\n\n"
    "  --defaults          print every key with its default and meaning (the example file)\n"
    "  --check             read the configuration and print the effective top-level values\n"
    CLI_COMMON_HELP;

int cmd_config(int argc, char **argv) {
    static const struct option options[] = {
        {"defaults", no_argument, 0, 'd'}, {"check", no_argument, 0, 'c'},
        CLI_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    cli_common common;
    cli_common_init(&common);
    bool defaults = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'd') defaults = true;
        else if (opt == 'c') defaults = false;
        else if (!cli_handle_common(&common, opt, optarg)) { cli_common_free(&common); return cli_usage_error("config", "bad option"); }
    }
    if (common.help) { fputs(config_help, stdout); cli_common_free(&common); return 0; }
    if (optind < argc) { cli_common_free(&common); return cli_usage_error("config", "unexpected argument %s", argv[optind]); }
    if (defaults) { config_print_defaults(); cli_common_free(&common); return 0; }
    config *cfg = cli_load_config(&common);
    cli_common_free(&common);
    if (!cfg) return 1;
    for (size_t i = 0; i < config_known_key_count; i++) {
        const config_key_doc *k = &config_known_keys[i];
        switch (k->type) {
        case CONFIG_STRING: printf("%s = \"%s\"\n", k->key, config_str(cfg, NULL, k->key, "")); break;
        case CONFIG_INT: printf("%s = %lld\n", k->key, config_int(cfg, NULL, k->key, 0)); break;
        case CONFIG_BOOL: printf("%s = %s\n", k->key, config_bool(cfg, NULL, k->key, false) ? "true" : "false"); break;
        case CONFIG_LIST: {
            const char *const *items;
            size_t n = config_list(cfg, NULL, k->key, &items);
            printf("%s = [", k->key);
            for (size_t j = 0; j < n; j++) printf("%s\"%s\"", j ? ", " : "", items[j]);
            printf("]\n");
            break;
        }
        }
    }
    config_free(cfg);
    return 0;
}
