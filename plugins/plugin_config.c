/* Validation of plugin config sections: every key must be one the plugin knows. */
#include "plugin_config.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *const *known;
    char bad[64];
} key_check;

static void check_one(const char *key, const char *value_text, void *ctx) {
    (void)value_text;
    key_check *kc = ctx;
    if (kc->bad[0]) return;
    for (size_t i = 0; kc->known[i]; i++)
        if (strcmp(kc->known[i], key) == 0) return;
    snprintf(kc->bad, sizeof kc->bad, "%s", key);
}

int plugin_check_keys(const config *cfg, const char *section, const char *const *known,
                      char *err, size_t errlen) {
    key_check kc = {.known = known, .bad = ""};
    config_each_in_section(cfg, section, check_one, &kc);
    if (!kc.bad[0]) return 0;
    size_t n = (size_t)snprintf(err, errlen, "unknown key %s (known:", kc.bad);
    for (size_t i = 0; known[i] && n < errlen; i++)
        n += (size_t)snprintf(err + n, errlen - n, " %s", known[i]);
    if (n < errlen) snprintf(err + n, errlen - n, ")");
    return -1;
}
