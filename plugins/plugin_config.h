/* Helpers for built-in plugins reading their [plugin.NAME] config section. */
#ifndef G1_PLUGIN_CONFIG_H
#define G1_PLUGIN_CONFIG_H
#include <stddef.h>
#include "config.h"

/* Fails (returns -1 with "unknown key K (known: ...)") if the section holds a key
 * not in known (NULL-terminated), so typos in plugin sections are caught. */
int plugin_check_keys(const config *cfg, const char *section, const char *const *known,
                      char *err, size_t errlen);
#endif
