/* Configuration file reader (TOML subset), overrides, and the table of every
 * relay-level key with its default and meaning. The table is the documentation:
 * `g1relay config --defaults` prints it, and g1relay.conf.example is its output. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const config_key_doc config_known_keys[] = {
    /* network */
    {"bind", CONFIG_STRING, "\"127.0.0.1\"", "address to listen on (0.0.0.0 for all IPv4)"},
    {"port", CONFIG_INT, "7777", "TCP port for WebSocket and NIP-11 HTTP"},
    {"data_dir", CONFIG_STRING, "\"./data\"", "directory of the LMDB environment and keystore"},
    {"map_size_mb", CONFIG_INT, "65536", "LMDB map size (maximum database size) in MiB"},
    {"log_level", CONFIG_STRING, "\"info\"", "debug, info, warn, error or quiet"},
    {"worker_threads", CONFIG_INT, "0", "threads for parsing, verifying and queries (0 = one per core)"},
    {"max_connections", CONFIG_INT, "10000", "simultaneous client connections"},
    /* NIP-11 */
    {"relay_name", CONFIG_STRING, "\"g1relay\"", "NIP-11 name"},
    {"relay_description", CONFIG_STRING, "\"A Nostr relay for a G1 station\"", "NIP-11 description"},
    {"relay_contact", CONFIG_STRING, "\"\"", "NIP-11 contact"},
    {"relay_pubkey", CONFIG_STRING, "\"\"", "NIP-11 pubkey of the operator (hex)"},
    {"relay_icon", CONFIG_STRING, "\"\"", "NIP-11 icon URL"},
    {"relay_url", CONFIG_STRING, "\"\"", "public ws:// or wss:// URL, checked in NIP-42 relay tags (empty: any URL whose host matches the Host header)"},
    /* limits (advertised in NIP-11 limitation) */
    {"max_message_length", CONFIG_INT, "131072", "largest WebSocket message accepted, bytes"},
    {"max_subscriptions", CONFIG_INT, "50", "open subscriptions per connection"},
    {"max_filters", CONFIG_INT, "20", "filters per REQ or COUNT"},
    {"max_limit", CONFIG_INT, "5000", "largest limit honoured in a filter"},
    {"default_limit", CONFIG_INT, "500", "limit applied to filters that give none"},
    {"max_subid_length", CONFIG_INT, "64", "longest subscription id"},
    {"max_event_tags", CONFIG_INT, "2000", "most tags in one event"},
    {"max_content_length", CONFIG_INT, "65536", "longest event content, bytes"},
    {"max_output_bytes", CONFIG_INT, "8388608", "bytes queued to one connection before it is cut off as a slow reader"},
    {"min_pow_difficulty", CONFIG_INT, "0", "NIP-13 minimum leading zero bits of event ids (0 = off)"},
    {"created_at_lower_limit", CONFIG_INT, "0", "refuse events older than this many seconds (0 = no limit)"},
    {"created_at_upper_limit", CONFIG_INT, "900", "refuse events more than this many seconds in the future"},
    {"auth_required", CONFIG_BOOL, "false", "NIP-42: clients must authenticate before REQ/EVENT/COUNT"},
    {"write_batch_max", CONFIG_INT, "4096", "most events grouped into one LMDB write transaction"},
    {"journal", CONFIG_BOOL, "true", "write-ahead journal: OK once the event is fsynced in data_dir/journal, LMDB committed every commit_interval_ms (false: one durable LMDB commit per group)"},
    {"journal_size_mb", CONFIG_INT, "64", "size of the journal file in MiB (a full journal forces an LMDB commit)"},
    {"commit_interval_ms", CONFIG_INT, "1000", "with the journal: longest time between LMDB commits under load (sooner when idle or when a query waits)"},
    {"commit_idle_ms", CONFIG_INT, "20", "with the journal: commit LMDB once no event came for this long"},
    /* plugins */
    {"plugins", CONFIG_LIST, "[]", "in-process plugins in the order they decide, e.g. [\"pubkey_list\", \"ratelimit\"]; each reads its [plugin.NAME] section"},
    {"write_policy", CONFIG_STRING, "\"\"", "external write-policy program (strfry protocol), run for every event"},
    {"write_policy_processes", CONFIG_INT, "4", "processes of the write-policy program run at once"},
    {"write_policy_timeout_ms", CONFIG_INT, "5000", "time a write-policy or filter script has to decide one event"},
    {"write_policy_default", CONFIG_STRING, "\"reject\"", "decision on timeout or crash: reject or accept"},
    {"filter_dir", CONFIG_STRING, "\"\"", "NIP-101 directory: an executable <kind>.sh gets the input line as $1; exit 0 accepts"},
    {"filter_dir_processes", CONFIG_INT, "4", "NIP-101 filter scripts run at once (more events wait their turn)"},
    {"policy_queue_max", CONFIG_INT, "10000", "events waiting for or in external decision; beyond it they are refused \"rate-limited:\""},
    /* settlement */
    {"passphrase_file", CONFIG_STRING, "\"\"", "file holding the keystore passphrase (else G1RELAY_PASSPHRASE)"},
    {"g1_nodes", CONFIG_LIST, "[]", "Duniter v2s RPC URLs (http:// or ws://), tried in order with failover"},
    {"ss58_prefix", CONFIG_INT, "4450", "SS58 address prefix (4450 for g1, 42 for gdev)"},
    {"zen_centimes", CONFIG_INT, "10", "centimes in one Zen"},
    {"max_zen_per_reaction", CONFIG_INT, "1000", "cap on the Zen one reaction pays"},
    {"daily_limit_centimes", CONFIG_INT, "10000", "most one payer pays through reactions in 24 h"},
    {"settlement", CONFIG_BOOL, "false", "turn reactions and orders into G1 payments: adds the reactions and orders plugins and starts the payment engine (needs g1_nodes and the keystore passphrase)"},
    {"batch_window_ms", CONFIG_INT, "2000", "time intents from one wallet wait to be batched"},
    {"batch_max", CONFIG_INT, "50", "most transfers in one batch_all extrinsic"},
    {"era_period", CONFIG_INT, "64", "mortal era period in blocks (power of two, 4..65536; lowered to 4096 and to the chain's BlockHashCount)"},
    {"settlement_poll_ms", CONFIG_INT, "1000", "settlement engine round interval (new blocks and intents are looked for this often)"},
    {"g1_rpc_timeout_ms", CONFIG_INT, "10000", "time a G1 node has to answer one RPC request before failover"},
    {"tls_ca_file", CONFIG_STRING, "\"\"", "PEM file of the certificate authorities trusted for https:// and wss:// G1 nodes and upstream relays, instead of the system's /etc/ssl/certs (empty: the system's); names are always checked against the certificate"},
    {"g1_resubmit_ms", CONFIG_INT, "12000", "re-send an in-flight extrinsic not yet seen in a block after this long"},
    {"upstreams", CONFIG_LIST, "[]", "trusted relays (ws:// URLs) to follow as a client"},
    /* IPFS */
    {"ipfs_api", CONFIG_STRING, "\"\"", "Kubo RPC base URL to push archives to (empty = none)"},
    {"archive_dir", CONFIG_STRING, "\"\"", "directory for periodic CAR archives (empty = data_dir/archives)"},
    {"archive_interval", CONFIG_INT, "0", "seconds between periodic archives (0 = off)"},
};
const size_t config_known_key_count = sizeof config_known_keys / sizeof config_known_keys[0];

typedef struct {
    char *section; /* NULL for top level */
    char *key;
    config_type type;
    char *text;    /* value as written */
    char *str;     /* CONFIG_STRING */
    long long num; /* CONFIG_INT */
    bool flag;     /* CONFIG_BOOL */
    char **items;  /* CONFIG_LIST */
    size_t item_count;
} config_entry;

struct config {
    config_entry *entries;
    size_t count, cap;
};

config *config_new(void) { return calloc(1, sizeof(config)); }

static void entry_clear(config_entry *e) {
    free(e->text);
    free(e->str);
    for (size_t i = 0; i < e->item_count; i++) free(e->items[i]);
    free(e->items);
    e->text = e->str = NULL;
    e->items = NULL;
    e->item_count = 0;
}

void config_free(config *cfg) {
    if (!cfg) return;
    for (size_t i = 0; i < cfg->count; i++) {
        entry_clear(&cfg->entries[i]);
        free(cfg->entries[i].section);
        free(cfg->entries[i].key);
    }
    free(cfg->entries);
    free(cfg);
}

static bool same_section(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static config_entry *find_entry(const config *cfg, const char *section, const char *key) {
    for (size_t i = 0; i < cfg->count; i++)
        if (same_section(cfg->entries[i].section, section) && strcmp(cfg->entries[i].key, key) == 0)
            return &cfg->entries[i];
    return NULL;
}

static const config_key_doc *known_key(const char *key) {
    for (size_t i = 0; i < config_known_key_count; i++)
        if (strcmp(config_known_keys[i].key, key) == 0) return &config_known_keys[i];
    return NULL;
}

static config_entry *get_or_add(config *cfg, const char *section, const char *key) {
    config_entry *e = find_entry(cfg, section, key);
    if (e) { entry_clear(e); return e; }
    if (cfg->count == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 32;
        config_entry *n = realloc(cfg->entries, cap * sizeof *n);
        if (!n) return NULL;
        cfg->entries = n;
        cfg->cap = cap;
    }
    e = &cfg->entries[cfg->count++];
    memset(e, 0, sizeof *e);
    e->section = section ? strdup(section) : NULL;
    e->key = strdup(key);
    return e;
}

/* ---- value parsing ---- */

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* Parses a "string" with \" \\ \n \t \uXXXX escapes; returns malloc'd text and
 * advances *pp past the closing quote, or NULL on error. */
static char *parse_quoted(const char **pp, const char **why) {
    const char *p = *pp + 1;
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out) { *why = "out of memory"; return NULL; }
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            char esc = *p++;
            switch (esc) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            default: free(out); *why = "unknown escape in string"; return NULL;
            }
        } else if ((unsigned char)c < 0x20) {
            free(out); *why = "control character in string"; return NULL;
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *n = realloc(out, cap);
            if (!n) { free(out); *why = "out of memory"; return NULL; }
            out = n;
        }
        out[len++] = c;
    }
    if (*p != '"') { free(out); *why = "unterminated string"; return NULL; }
    out[len] = 0;
    *pp = p + 1;
    return out;
}

static bool parse_integer(const char **pp, long long *out) {
    const char *p = *pp;
    if (!(isdigit((unsigned char)*p) || ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (errno) return false;
    *out = v;
    *pp = end;
    return true;
}

/* Fills e from text in file syntax. bare_ok: a bare word is taken as a string. */
static int parse_value(config_entry *e, const char *text, bool bare_ok, const char **why) {
    const char *p = skip_space(text);
    e->text = strdup(p);
    if (*p == '"') {
        e->type = CONFIG_STRING;
        e->str = parse_quoted(&p, why);
        if (!e->str) return -1;
    } else if (*p == '[') {
        e->type = CONFIG_LIST;
        p = skip_space(p + 1);
        while (*p != ']') {
            char *item;
            if (*p == '"') {
                item = parse_quoted(&p, why);
                if (!item) return -1;
            } else {
                long long v;
                const char *start = p;
                if (!parse_integer(&p, &v)) { *why = "list items must be strings or integers"; return -1; }
                item = strndup(start, (size_t)(p - start));
            }
            char **n = realloc(e->items, (e->item_count + 1) * sizeof *n);
            if (!n) { free(item); *why = "out of memory"; return -1; }
            e->items = n;
            e->items[e->item_count++] = item;
            p = skip_space(p);
            if (*p == ',') p = skip_space(p + 1);
            else if (*p != ']') { *why = "expected , or ] in list"; return -1; }
        }
        p++;
    } else if (strncmp(p, "true", 4) == 0 && !isalnum((unsigned char)p[4])) {
        e->type = CONFIG_BOOL; e->flag = true; p += 4;
    } else if (strncmp(p, "false", 5) == 0 && !isalnum((unsigned char)p[5])) {
        e->type = CONFIG_BOOL; e->flag = false; p += 5;
    } else if (parse_integer(&p, &e->num)) {
        e->type = CONFIG_INT;
        const char *q = skip_space(p);
        if (*q && *q != '#' && q == p) { /* e.g. 127.0.0.1 */
            if (bare_ok) { e->type = CONFIG_STRING; e->str = strdup(text); return 0; }
            *why = "strings must be in double quotes";
            return -1;
        }
    } else if (bare_ok) {
        e->type = CONFIG_STRING;
        e->str = strdup(text);
        return 0;
    } else {
        *why = "value must be a \"string\", an integer, true, false or a [list]";
        return -1;
    }
    p = skip_space(p);
    if (*p && *p != '#') { *why = "unexpected text after value"; return -1; }
    return 0;
}

/* Checks a top-level key's type against the table (an int is fine for a string
 * key only when given bare on the command line). */
static int check_known(config_entry *e, const char **why) {
    if (e->section) return 0;
    const config_key_doc *doc = known_key(e->key);
    if (!doc) { *why = "unknown key (see `g1relay config --defaults`)"; return -1; }
    if (doc->type == e->type) return 0;
    if (doc->type == CONFIG_STRING && e->type == CONFIG_INT) {
        e->type = CONFIG_STRING; e->str = strdup(e->text); return 0;
    }
    if (doc->type == CONFIG_LIST && e->type == CONFIG_STRING) {
        e->type = CONFIG_LIST;
        e->items = malloc(sizeof(char *));
        e->items[0] = e->str; e->str = NULL; e->item_count = 1;
        return 0;
    }
    static const char *const names[] = {"a string", "an integer", "true or false", "a list"};
    static char msg[64];
    snprintf(msg, sizeof msg, "must be %s", names[doc->type]);
    *why = msg;
    return -1;
}

int config_load_file(config *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    char line[8192];
    char *section = NULL;
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno); rc = -1; break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        const char *p = skip_space(line);
        if (*p == 0 || *p == '#') continue;
        if (*p == '[') {
            const char *end = strchr(p, ']');
            if (!end || end == p + 1) { snprintf(err, errlen, "%s:%d: bad section header", path, lineno); rc = -1; break; }
            free(section);
            section = strndup(p + 1, (size_t)(end - p - 1));
            continue;
        }
        const char *k = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.') p++;
        if (p == k) { snprintf(err, errlen, "%s:%d: expected key = value", path, lineno); rc = -1; break; }
        char *key = strndup(k, (size_t)(p - k));
        p = skip_space(p);
        if (*p != '=') {
            snprintf(err, errlen, "%s:%d: expected = after %s", path, lineno, key);
            free(key); rc = -1; break;
        }
        config_entry *e = get_or_add(cfg, section, key);
        const char *why = NULL;
        if (!e || parse_value(e, p + 1, false, &why) < 0 || check_known(e, &why) < 0) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why ? why : "out of memory");
            free(key); rc = -1; break;
        }
        free(key);
    }
    free(section);
    fclose(f);
    return rc;
}

int config_set(config *cfg, const char *section, const char *key, const char *value_text,
               char *err, size_t errlen) {
    config_entry *e = get_or_add(cfg, section, key);
    const char *why = NULL;
    if (!e || parse_value(e, value_text, true, &why) < 0 || check_known(e, &why) < 0) {
        snprintf(err, errlen, "%s: %s", key, why ? why : "out of memory");
        return -1;
    }
    return 0;
}

int config_list_append(config *cfg, const char *section, const char *key, const char *item) {
    config_entry *e = find_entry(cfg, section, key);
    if (!e || e->type != CONFIG_LIST) {
        e = get_or_add(cfg, section, key);
        if (!e) return -1;
        e->type = CONFIG_LIST;
        e->text = strdup("[]");
    }
    char **n = realloc(e->items, (e->item_count + 1) * sizeof *n);
    if (!n) return -1;
    e->items = n;
    e->items[e->item_count++] = strdup(item);
    return 0;
}

int config_merge(config *dst, const config *src) {
    for (size_t i = 0; i < src->count; i++) {
        const config_entry *from = &src->entries[i];
        config_entry *to = get_or_add(dst, from->section, from->key);
        if (!to) return -1;
        to->type = from->type;
        to->text = from->text ? strdup(from->text) : NULL;
        to->str = from->str ? strdup(from->str) : NULL;
        to->num = from->num;
        to->flag = from->flag;
        if (from->item_count) {
            to->items = calloc(from->item_count, sizeof(char *));
            if (!to->items) return -1;
            for (size_t j = 0; j < from->item_count; j++) to->items[j] = strdup(from->items[j]);
            to->item_count = from->item_count;
        }
    }
    return 0;
}

/* Default of a known top-level key, parsed once from the table text. */
static const config_entry *default_entry(const char *section, const char *key) {
    if (section) return NULL;
    static config *defaults;
    static int initialised;
    if (!initialised) { /* first call happens on the main thread during start-up */
        initialised = 1;
        defaults = config_new();
        for (size_t i = 0; i < config_known_key_count; i++) {
            config_entry *e = get_or_add(defaults, NULL, config_known_keys[i].key);
            const char *why;
            if (e) parse_value(e, config_known_keys[i].default_text, false, &why);
        }
    }
    return defaults ? find_entry(defaults, NULL, key) : NULL;
}

static const config_entry *lookup(const config *cfg, const char *section, const char *key) {
    const config_entry *e = cfg ? find_entry(cfg, section, key) : NULL;
    return e ? e : default_entry(section, key);
}

const char *config_str(const config *cfg, const char *section, const char *key, const char *fallback) {
    const config_entry *e = lookup(cfg, section, key);
    return e && e->type == CONFIG_STRING ? e->str : fallback;
}

int config_file_path(const config *cfg, const char *key, char *out, size_t outlen, char *err, size_t errlen) {
    const char *path = config_str(cfg, NULL, key, "");
    if (strlen(path) >= outlen) {
        snprintf(err, errlen, "%s: path too long", key);
        return -1;
    }
    snprintf(out, outlen, "%s", path);
    if (!path[0]) return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

long long config_int(const config *cfg, const char *section, const char *key, long long fallback) {
    const config_entry *e = lookup(cfg, section, key);
    return e && e->type == CONFIG_INT ? e->num : fallback;
}

bool config_bool(const config *cfg, const char *section, const char *key, bool fallback) {
    const config_entry *e = lookup(cfg, section, key);
    return e && e->type == CONFIG_BOOL ? e->flag : fallback;
}

size_t config_list(const config *cfg, const char *section, const char *key, const char *const **items) {
    const config_entry *e = lookup(cfg, section, key);
    if (!e || e->type != CONFIG_LIST) { *items = NULL; return 0; }
    *items = (const char *const *)e->items;
    return e->item_count;
}

bool config_has(const config *cfg, const char *section, const char *key) {
    return cfg && find_entry(cfg, section, key) != NULL;
}

void config_each_in_section(const config *cfg, const char *section,
                            void (*fn)(const char *key, const char *value_text, void *ctx), void *ctx) {
    for (size_t i = 0; cfg && i < cfg->count; i++)
        if (same_section(cfg->entries[i].section, section))
            fn(cfg->entries[i].key, cfg->entries[i].text ? cfg->entries[i].text : "", ctx);
}

void config_print_defaults(void) {
    printf("# g1relay configuration: every key with its default.\n"
           "# Syntax: key = \"string\" | integer | true | false | [\"list\", ...]\n"
           "# Plugins read their own [plugin.NAME] sections (see docs/PLUGINS.md).\n"
           "# Command-line flags (--bind, --port, --data, --set KEY=VALUE) override this file.\n\n");
    for (size_t i = 0; i < config_known_key_count; i++)
        printf("# %s\n%s = %s\n\n", config_known_keys[i].help, config_known_keys[i].key,
               config_known_keys[i].default_text);
}
