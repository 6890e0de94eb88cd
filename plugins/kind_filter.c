/* Built-in plugin "kind_filter": accepts or refuses events by kind.
 *
 *   [plugin.kind_filter]
 *   allow = [1, 7, "30000-39999"]   # only these kinds (empty or absent: every kind)
 *   deny  = [4, "20000-29999"]      # never these kinds (checked after allow)
 *
 * Items are integers or "LOW-HIGH" ranges in 0..65535. Lookups are one bit test in
 * a 8 KiB bitmap, read-only after init (thread-safe). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plugin.h"
#include "plugin_config.h"

#define KIND_LIMIT 65536u

typedef struct {
    bool has_allow;
    uint8_t allow[KIND_LIMIT / 8];
    uint8_t deny[KIND_LIMIT / 8];
} kind_filter_state;

static inline bool bit_get(const uint8_t *bits, uint32_t k) { return bits[k >> 3] & (1u << (k & 7)); }
static inline void bit_set(uint8_t *bits, uint32_t k) { bits[k >> 3] |= (uint8_t)(1u << (k & 7)); }

static int parse_kind(const char *s, char **end, unsigned long *out) {
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    *out = strtoul(s, end, 10);
    return errno || *out >= KIND_LIMIT ? -1 : 0;
}

/* Parses "N" or "LOW-HIGH" into [lo, hi]. */
static int parse_range(const char *item, unsigned long *lo, unsigned long *hi) {
    char *end;
    if (parse_kind(item, &end, lo) < 0) return -1;
    if (*end == 0) { *hi = *lo; return 0; }
    if (*end != '-' || parse_kind(end + 1, &end, hi) < 0 || *end != 0 || *hi < *lo) return -1;
    return 0;
}

static int load_list(const config *cfg, const char *section, const char *key, uint8_t *bits,
                     bool *present, char *err, size_t errlen) {
    const char *const *items;
    size_t n = config_list(cfg, section, key, &items);
    if (present) *present = n > 0;
    if (n == 0 && config_has(cfg, section, key) && config_list(cfg, section, key, &items) == 0 &&
        (config_str(cfg, section, key, NULL) || config_int(cfg, section, key, -1) >= 0)) {
        snprintf(err, errlen, "%s: write a list, e.g. [1, 7, \"30000-39999\"]", key);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned long lo, hi;
        if (parse_range(items[i], &lo, &hi) < 0) {
            snprintf(err, errlen, "%s: \"%s\" is not a kind (0-65535) or a LOW-HIGH range", key, items[i]);
            return -1;
        }
        for (unsigned long k = lo; k <= hi; k++) bit_set(bits, (uint32_t)k);
    }
    return 0;
}

static int kind_filter_init(void **state, const config *cfg, const char *section, store *s,
                            char *err, size_t errlen) {
    (void)s;
    static const char *const known[] = {"allow", "deny", NULL};
    if (plugin_check_keys(cfg, section, known, err, errlen) < 0) return -1;
    kind_filter_state *st = calloc(1, sizeof *st);
    if (!st) { snprintf(err, errlen, "out of memory"); return -1; }
    if (load_list(cfg, section, "allow", st->allow, &st->has_allow, err, errlen) < 0 ||
        load_list(cfg, section, "deny", st->deny, NULL, err, errlen) < 0) {
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

static void kind_filter_teardown(void *state) { free(state); }

static plugin_verdict kind_filter_decide(void *state, const event *ev, const plugin_source *src,
                                         char *msg, size_t msglen) {
    (void)src;
    const kind_filter_state *st = state;
    uint32_t k = ev->kind;
    bool ok = k < KIND_LIMIT && (!st->has_allow || bit_get(st->allow, k)) && !bit_get(st->deny, k);
    if (ok) return PLUGIN_ACCEPT;
    snprintf(msg, msglen, "blocked: kind %u is not accepted by this relay", (unsigned)k);
    return PLUGIN_REJECT;
}

const plugin_def plugin_kind_filter = {
    .name = "kind_filter",
    .kinds = NULL,
    .kind_count = 0,
    .init = kind_filter_init,
    .teardown = kind_filter_teardown,
    .decide = kind_filter_decide,
    .committed = NULL,
};
