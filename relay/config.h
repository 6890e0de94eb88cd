/* Configuration: a small TOML subset read from a file, overridden from the command line.
 *
 * File syntax:  # comment
 *               key = "string" | 123 | true | false | ["a", "b", 3]
 *               [plugin.NAME]        (sections for plugins; keys before any
 *                                     section header are the relay's own)
 * Every top-level key must be one of config_known_keys (a typo is an error with
 * its line number); keys inside [sections] belong to whoever reads that section.
 * `g1relay config --defaults` prints the documented table. */
#ifndef G1_CONFIG_H
#define G1_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

typedef enum { CONFIG_STRING, CONFIG_INT, CONFIG_BOOL, CONFIG_LIST } config_type;

typedef struct {
    const char *key;
    config_type type;
    const char *default_text; /* as it would be written in the file */
    const char *help;
} config_key_doc;

extern const config_key_doc config_known_keys[];
extern const size_t config_known_key_count;

typedef struct config config;

config *config_new(void);
void config_free(config *cfg);
/* Reads a file; on error returns -1 with "FILE:LINE: what" in err. */
int config_load_file(config *cfg, const char *path, char *err, size_t errlen);
/* Sets a value from text in file syntax, or a bare word taken as a string
 * ("--set port=8000", "--bind 0.0.0.0"). section may be NULL for top level. */
int config_set(config *cfg, const char *section, const char *key, const char *value_text,
               char *err, size_t errlen);
/* Appends a string to a list value (repeatable flags such as --upstream). */
int config_list_append(config *cfg, const char *section, const char *key, const char *item);

/* Copies every entry of src into dst, replacing entries with the same key. */
int config_merge(config *dst, const config *src);

/* Getters: return the configured value, else the documented default for known
 * top-level keys, else fallback. section NULL = top level. */
const char *config_str(const config *cfg, const char *section, const char *key, const char *fallback);
long long config_int(const config *cfg, const char *section, const char *key, long long fallback);
bool config_bool(const config *cfg, const char *section, const char *key, bool fallback);
/* Returns the number of items; *items points to the strings (owned by cfg). */
size_t config_list(const config *cfg, const char *section, const char *key, const char *const **items);
/* A top-level string key naming a file: copies it to out ("" when unset) and
 * checks that the file can be read. 0, or -1 with err naming the key. */
int config_file_path(const config *cfg, const char *key, char *out, size_t outlen, char *err, size_t errlen);
/* True if the key was set (in the file or by an override). */
bool config_has(const config *cfg, const char *section, const char *key);
/* Calls fn for each key of a section (for plugins to validate their sections). */
void config_each_in_section(const config *cfg, const char *section,
                            void (*fn)(const char *key, const char *value_text, void *ctx), void *ctx);
/* Writes the documented defaults (the example file) to stdout. */
void config_print_defaults(void);
#endif
