/* Unit tests of plugins/: chain routing and ordering, the built-in plugins
 * (kind_filter, pubkey_list with reload, ratelimit token buckets), the strfry
 * protocol helpers, and the policy runner against the real shell scripts in
 * tests/fixtures/policies (accept, reject, shadow-reject, timeout, crash, garbage,
 * parallel slow decisions, program replaced while running, NIP-101 filter dir). */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "config.h"
#include "event.h"
#include "hex.h"
#include "log.h"
#include "npub.h"
#include "plugin.h"
#include "policy_protocol.h"
#include "policy_runner.h"
#include "unit.h"

static char fixtures[PATH_MAX];
static char tmpdir[256];

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static const uint8_t seckey1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t seckey2[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

static event make_event(const uint8_t *sk, uint32_t kind, const char *content) {
    static int64_t created = 1700000000;
    event ev;
    int rc = event_build_signed(&ev, sk, created++, kind, NULL, 0, content, strlen(content));
    if (rc != 0) { printf("FAIL event_build_signed\n"); exit(1); }
    return ev;
}

static config *cfg_from(const char *const *kv) {
    config *cfg = config_new();
    char err[256];
    for (size_t i = 0; kv[i]; i += 3) {
        const char *section = kv[i][0] ? kv[i] : NULL;
        if (config_set(cfg, section, kv[i + 1], kv[i + 2], err, sizeof err) != 0) {
            printf("FAIL config_set %s: %s\n", kv[i + 1], err);
            exit(1);
        }
    }
    return cfg;
}

/* Top-level keys only: key, value pairs. */
static config *cfg_top(const char *const *kv) {
    config *cfg = config_new();
    char err[256];
    for (size_t i = 0; kv[i]; i += 2)
        if (config_set(cfg, NULL, kv[i], kv[i + 1], err, sizeof err) != 0) {
            printf("FAIL config_set %s: %s\n", kv[i], err);
            exit(1);
        }
    return cfg;
}

static const plugin_source ip4_source = {.source_type = "IP4", .source_info = "192.0.2.1", .received_at = 1700000000};

/* ---- chain routing ---- */

static int calls_all, calls_k7, calls_commit;
static char seen_section[64];
static long long seen_setting;
static const uint32_t kinds_7[] = {7};
static const uint32_t kinds_1_7[] = {1, 7};

static int t_all_init(void **state, const config *cfg, const char *section, store *s, char *err, size_t errlen) {
    snprintf(seen_section, sizeof seen_section, "%s", section);
    seen_setting = config_int(cfg, section, "setting", -1);
    *state = &calls_all;
    return 0;
}
static plugin_verdict t_all_decide(void *state, const event *ev, const plugin_source *src, char *msg, size_t msglen) {
    (*(int *)state)++;
    if (ev->content.len == 9 && memcmp(ev->content.ptr, "all-says-", 9) == 0) {
        snprintf(msg, msglen, "blocked: t_all");
        return PLUGIN_REJECT;
    }
    return PLUGIN_ACCEPT;
}
static plugin_verdict t_k7_decide(void *state, const event *ev, const plugin_source *src, char *msg, size_t msglen) {
    calls_k7++;
    if (strcmp(ev->content.ptr, "shadow") == 0) return PLUGIN_SHADOW_REJECT;
    if (strcmp(ev->content.ptr, "nomsg") == 0) return PLUGIN_REJECT;
    snprintf(msg, msglen, "blocked: no reactions");
    return PLUGIN_REJECT;
}
static int t_commit_committed(void *state, MDB_txn *txn, const event *ev, uint64_t levid, char *msg, size_t msglen) {
    calls_commit++;
    if (levid == 666) { snprintf(msg, msglen, "error: t_commit refuses 666"); return -1; }
    return 0;
}
static int t_fail_init(void **state, const config *cfg, const char *section, store *s, char *err, size_t errlen) {
    snprintf(err, errlen, "cannot start");
    return -1;
}

static const plugin_def t_all = {.name = "t_all", .init = t_all_init, .decide = t_all_decide};
static const plugin_def t_k7 = {.name = "t_k7", .kinds = kinds_7, .kind_count = 1, .decide = t_k7_decide};
static const plugin_def t_commit = {.name = "t_commit", .kinds = kinds_1_7, .kind_count = 2,
                                    .committed = t_commit_committed};
static const plugin_def t_fail = {.name = "t_fail", .init = t_fail_init};

static void test_chain_routing(void) {
    CHECK(plugin_register(&t_all) == 0);
    CHECK(plugin_register(&t_k7) == 0);
    CHECK(plugin_register(&t_commit) == 0);
    CHECK(plugin_register(&t_fail) == 0);
    CHECK(plugin_find("t_k7") == &t_k7);
    CHECK(plugin_find("kind_filter") != NULL);
    CHECK(plugin_find("pubkey_list") != NULL);
    CHECK(plugin_find("ratelimit") != NULL);
    CHECK(plugin_find("nope") == NULL);

    char err[256], msg[256];
    /* empty plugin list: a chain that accepts everything */
    config *empty = config_new();
    plugin_chain *c0 = plugin_chain_new(empty, NULL, err, sizeof err);
    CHECK(c0 != NULL);
    event e1 = make_event(seckey1, 1, "hello");
    CHECK_EQ_INT(plugin_chain_decide(c0, &e1, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK(!plugin_chain_wants_committed(c0, 1));
    plugin_chain_free(c0);
    config_free(empty);

    config *cfg = cfg_from((const char *const[]){"", "plugins", "[\"t_k7\", \"t_all\", \"t_commit\"]",
                                                 "plugin.t_all", "setting", "42", NULL});
    plugin_chain *c = plugin_chain_new(cfg, NULL, err, sizeof err);
    CHECK(c != NULL);
    CHECK_EQ_STR(seen_section, "plugin.t_all");
    CHECK_EQ_INT(seen_setting, 42);

    calls_all = calls_k7 = 0;
    CHECK_EQ_INT(plugin_chain_decide(c, &e1, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK_EQ_STR(msg, "");
    CHECK_EQ_INT(calls_all, 1);
    CHECK_EQ_INT(calls_k7, 0); /* not called at all for kind 1 */
    event e3 = make_event(seckey1, 3, "x");
    CHECK_EQ_INT(plugin_chain_decide(c, &e3, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK_EQ_INT(calls_k7, 0);
    CHECK_EQ_INT(calls_all, 2);

    /* kind 7: t_k7 is first in the config, rejects, t_all is not consulted */
    event e7 = make_event(seckey1, 7, "+");
    CHECK_EQ_INT(plugin_chain_decide(c, &e7, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_STR(msg, "blocked: no reactions");
    CHECK_EQ_INT(calls_k7, 1);
    CHECK_EQ_INT(calls_all, 2);
    event e7s = make_event(seckey1, 7, "shadow");
    CHECK_EQ_INT(plugin_chain_decide(c, &e7s, &ip4_source, msg, sizeof msg), PLUGIN_SHADOW_REJECT);
    event e7n = make_event(seckey1, 7, "nomsg");
    CHECK_EQ_INT(plugin_chain_decide(c, &e7n, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_STR(msg, "blocked: refused by plugin t_k7");
    event ea = make_event(seckey1, 1, "all-says-");
    CHECK_EQ_INT(plugin_chain_decide(c, &ea, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_STR(msg, "blocked: t_all");

    /* committed routing */
    CHECK(plugin_chain_wants_committed(c, 1));
    CHECK(plugin_chain_wants_committed(c, 7));
    CHECK(!plugin_chain_wants_committed(c, 3));
    calls_commit = 0;
    CHECK_EQ_INT(plugin_chain_committed(c, NULL, &e1, 5, msg, sizeof msg), 0);
    CHECK_EQ_INT(plugin_chain_committed(c, NULL, &e3, 5, msg, sizeof msg), 0);
    CHECK_EQ_INT(calls_commit, 1);
    CHECK(plugin_chain_committed(c, NULL, &e7, 666, msg, sizeof msg) != 0);
    CHECK_EQ_STR(msg, "error: t_commit refuses 666");
    plugin_chain_free(c);
    config_free(cfg);

    /* errors: unknown name, listed twice, failing init */
    config *bad = cfg_from((const char *const[]){"", "plugins", "[\"t_all\", \"nosuch\"]", NULL});
    CHECK(plugin_chain_new(bad, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "nosuch") != NULL);
    config_free(bad);
    bad = cfg_from((const char *const[]){"", "plugins", "[\"t_all\", \"t_all\"]", NULL});
    CHECK(plugin_chain_new(bad, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "twice") != NULL);
    config_free(bad);
    bad = cfg_from((const char *const[]){"", "plugins", "[\"t_fail\"]", NULL});
    CHECK(plugin_chain_new(bad, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "plugin.t_fail") && strstr(err, "cannot start"));
    config_free(bad);

    event_free(&e1); event_free(&e3); event_free(&e7); event_free(&e7s); event_free(&e7n); event_free(&ea);
}

/* ---- kind_filter ---- */

static void test_kind_filter(void) {
    char err[256], msg[256];
    config *cfg = cfg_from((const char *const[]){"", "plugins", "[\"kind_filter\"]",
                                                 "plugin.kind_filter", "allow", "[1, 7, \"30000-30005\"]",
                                                 "plugin.kind_filter", "deny", "[30003]", NULL});
    plugin_chain *c = plugin_chain_new(cfg, NULL, err, sizeof err);
    CHECK(c != NULL);
    struct { uint32_t kind; plugin_verdict want; } cases[] = {
        {1, PLUGIN_ACCEPT}, {7, PLUGIN_ACCEPT}, {2, PLUGIN_REJECT}, {30000, PLUGIN_ACCEPT},
        {30005, PLUGIN_ACCEPT}, {30003, PLUGIN_REJECT}, {30006, PLUGIN_REJECT}, {0, PLUGIN_REJECT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        event ev = make_event(seckey1, cases[i].kind, "k");
        CHECK_EQ_INT(plugin_chain_decide(c, &ev, &ip4_source, msg, sizeof msg), cases[i].want);
        if (cases[i].want == PLUGIN_REJECT) CHECK(strncmp(msg, "blocked: kind ", 14) == 0);
        event_free(&ev);
    }
    plugin_chain_free(c);
    config_free(cfg);

    /* deny only */
    cfg = cfg_from((const char *const[]){"", "plugins", "[\"kind_filter\"]",
                                         "plugin.kind_filter", "deny", "[\"20000-29999\", 4]", NULL});
    c = plugin_chain_new(cfg, NULL, err, sizeof err);
    CHECK(c != NULL);
    event a = make_event(seckey1, 1, "k"), b = make_event(seckey1, 4, "k"), d = make_event(seckey1, 25000, "k");
    CHECK_EQ_INT(plugin_chain_decide(c, &a, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK_EQ_INT(plugin_chain_decide(c, &b, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_INT(plugin_chain_decide(c, &d, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    event_free(&a); event_free(&b); event_free(&d);
    plugin_chain_free(c);
    config_free(cfg);

    /* configuration errors */
    const char *bad_values[] = {"[\"7-3\"]", "[70000]", "[\"x\"]", "7"};
    for (size_t i = 0; i < 4; i++) {
        cfg = cfg_from((const char *const[]){"", "plugins", "[\"kind_filter\"]",
                                             "plugin.kind_filter", "allow", bad_values[i], NULL});
        CHECK(plugin_chain_new(cfg, NULL, err, sizeof err) == NULL);
        config_free(cfg);
    }
    cfg = cfg_from((const char *const[]){"", "plugins", "[\"kind_filter\"]",
                                         "plugin.kind_filter", "alow", "[1]", NULL});
    CHECK(plugin_chain_new(cfg, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "unknown key alow") != NULL);
    config_free(cfg);
}

/* ---- pubkey_list ---- */

static void write_file(const char *path, const char *text) {
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) { printf("FAIL cannot write %s\n", tmp); exit(1); }
    fputs(text, f);
    fclose(f);
    rename(tmp, path); /* atomic replacement, as operators should do */
}

typedef struct {
    plugin_chain *chain;
    const event *ev;
    atomic_int *stop;
    long decisions;
} hammer_ctx;

static void *hammer(void *arg) {
    hammer_ctx *h = arg;
    char msg[256];
    while (!atomic_load(h->stop)) {
        plugin_chain_decide(h->chain, h->ev, &ip4_source, msg, sizeof msg);
        h->decisions++;
    }
    return NULL;
}

static void test_pubkey_list(void) {
    char err[256], msg[256], allow_path[PATH_MAX], deny_path[PATH_MAX], text[1024];
    event e1 = make_event(seckey1, 1, "a"), e2 = make_event(seckey2, 1, "b");
    char hex1[65], hex2[65], npub2[100];
    hex_encode(e1.pubkey, 32, hex1);
    hex_encode(e2.pubkey, 32, hex2);
    CHECK(npub_encode(e2.pubkey, npub2, sizeof npub2) == 0);
    snprintf(allow_path, sizeof allow_path, "%s/allow.txt", tmpdir);
    snprintf(deny_path, sizeof deny_path, "%s/deny.txt", tmpdir);

    /* allow list with comments, blank lines, hex */
    snprintf(text, sizeof text, "# station members\n\n  %s   # alice\n", hex1);
    write_file(allow_path, text);
    write_file(deny_path, "# nobody yet\n");
    char allow_val[PATH_MAX + 4], deny_val[PATH_MAX + 4];
    snprintf(allow_val, sizeof allow_val, "\"%s\"", allow_path);
    snprintf(deny_val, sizeof deny_val, "\"%s\"", deny_path);
    config *cfg = cfg_from((const char *const[]){"", "plugins", "[\"pubkey_list\"]",
                                                 "plugin.pubkey_list", "allow_file", allow_val,
                                                 "plugin.pubkey_list", "deny_file", deny_val,
                                                 "plugin.pubkey_list", "reload_interval_ms", "50", NULL});
    plugin_chain *c = plugin_chain_new(cfg, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c) { printf("  (%s)\n", err); return; }
    CHECK_EQ_INT(plugin_chain_decide(c, &e1, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK_EQ_INT(plugin_chain_decide(c, &e2, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_STR(msg, "blocked: pubkey is not on this relay's allow list");

    /* readers keep deciding while the file is replaced several times */
    atomic_int stop = 0;
    hammer_ctx h[2] = {{c, &e1, &stop, 0}, {c, &e2, &stop, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, hammer, &h[i]);

    /* add the second author as an npub */
    snprintf(text, sizeof text, "%s\n%s\n", hex1, npub2);
    write_file(allow_path, text);
    sleep_ms(300);
    CHECK_EQ_INT(plugin_chain_decide(c, &e2, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);

    /* deny wins over allow */
    snprintf(text, sizeof text, "%s\n", hex2);
    write_file(deny_path, text);
    sleep_ms(300);
    CHECK_EQ_INT(plugin_chain_decide(c, &e2, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_STR(msg, "blocked: pubkey is on this relay's deny list");
    CHECK_EQ_INT(plugin_chain_decide(c, &e1, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);

    /* a broken file is refused as a whole: the previous list stays */
    write_file(allow_path, "not-a-key\n");
    sleep_ms(300);
    CHECK_EQ_INT(plugin_chain_decide(c, &e1, &ip4_source, msg, sizeof msg), PLUGIN_ACCEPT);
    /* then an empty allow list: nobody may publish */
    write_file(allow_path, "# closed\n");
    sleep_ms(300);
    CHECK_EQ_INT(plugin_chain_decide(c, &e1, &ip4_source, msg, sizeof msg), PLUGIN_REJECT);

    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(h[0].decisions > 0 && h[1].decisions > 0);
    plugin_chain_free(c);
    config_free(cfg);

    /* start-up errors: bad line (with its line number), missing file, nothing configured */
    snprintf(text, sizeof text, "%s\n%.63s\n", hex1, hex2);
    write_file(allow_path, text);
    cfg = cfg_from((const char *const[]){"", "plugins", "[\"pubkey_list\"]",
                                         "plugin.pubkey_list", "allow_file", allow_val, NULL});
    CHECK(plugin_chain_new(cfg, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "allow.txt:2") != NULL);
    config_free(cfg);
    cfg = cfg_from((const char *const[]){"", "plugins", "[\"pubkey_list\"]",
                                         "plugin.pubkey_list", "deny_file", "\"/nonexistent/deny\"", NULL});
    CHECK(plugin_chain_new(cfg, NULL, err, sizeof err) == NULL);
    config_free(cfg);
    cfg = cfg_from((const char *const[]){"", "plugins", "[\"pubkey_list\"]", NULL});
    CHECK(plugin_chain_new(cfg, NULL, err, sizeof err) == NULL);
    config_free(cfg);
    event_free(&e1);
    event_free(&e2);
}

/* ---- ratelimit ---- */

static void test_ratelimit(void) {
    char err[256], msg[256];
    config *cfg = cfg_from((const char *const[]){"", "plugins", "[\"ratelimit\"]",
                                                 "plugin.ratelimit", "ip_per_minute", "600",
                                                 "plugin.ratelimit", "ip_burst", "3",
                                                 "plugin.ratelimit", "pubkey_per_minute", "0", NULL});
    plugin_chain *c = plugin_chain_new(cfg, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c) { printf("  (%s)\n", err); return; }
    event ev = make_event(seckey1, 1, "r");
    plugin_source a = {.source_type = "IP4", .source_info = "198.51.100.7"};
    plugin_source b = {.source_type = "IP4", .source_info = "198.51.100.8"};
    plugin_source imp = {.source_type = "Import", .source_info = "file.jsonl"};
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(plugin_chain_decide(c, &ev, &a, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK_EQ_INT(plugin_chain_decide(c, &ev, &a, msg, sizeof msg), PLUGIN_REJECT);
    CHECK(strncmp(msg, "rate-limited: ", 14) == 0);
    CHECK_EQ_INT(plugin_chain_decide(c, &ev, &b, msg, sizeof msg), PLUGIN_ACCEPT); /* other address */
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(plugin_chain_decide(c, &ev, &imp, msg, sizeof msg), PLUGIN_ACCEPT);
    /* 600/min = one token per 100 ms: after ~250 ms two or three tokens are back
     * (bounded by the time that really passed and by the burst) */
    int64_t t_empty = now_ms();
    sleep_ms(250);
    int refilled = 0;
    while (refilled < 10 && plugin_chain_decide(c, &ev, &a, msg, sizeof msg) == PLUGIN_ACCEPT) refilled++;
    int64_t elapsed = now_ms() - t_empty;
    CHECK(refilled >= 2);
    CHECK(refilled <= 3 && refilled <= elapsed / 100 + 1);
    /* IPv6 addresses in the same /64 share a bucket */
    plugin_source v6a = {.source_type = "IP6", .source_info = "2001:db8:1:2::1"};
    plugin_source v6b = {.source_type = "IP6", .source_info = "2001:db8:1:2:ffff::9"};
    plugin_source v6c = {.source_type = "IP6", .source_info = "2001:db8:1:3::1"};
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(plugin_chain_decide(c, &ev, &v6a, msg, sizeof msg), PLUGIN_ACCEPT);
    CHECK_EQ_INT(plugin_chain_decide(c, &ev, &v6b, msg, sizeof msg), PLUGIN_REJECT);
    CHECK_EQ_INT(plugin_chain_decide(c, &ev, &v6c, msg, sizeof msg), PLUGIN_ACCEPT);
    plugin_chain_free(c);
    config_free(cfg);

    /* per pubkey, with a tiny table: many addresses evict each other, memory stays fixed,
     * and a fresh address always gets a full bucket */
    cfg = cfg_from((const char *const[]){"", "plugins", "[\"ratelimit\"]",
                                         "plugin.ratelimit", "ip_per_minute", "1",
                                         "plugin.ratelimit", "ip_burst", "1",
                                         "plugin.ratelimit", "pubkey_per_minute", "1",
                                         "plugin.ratelimit", "pubkey_burst", "2",
                                         "plugin.ratelimit", "table_size", "8", NULL});
    c = plugin_chain_new(cfg, NULL, err, sizeof err);
    CHECK(c != NULL);
    event e2 = make_event(seckey2, 1, "p");
    int accepted = 0, limited = 0;
    for (int i = 0; i < 200; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 200, i % 200);
        plugin_source s = {.source_type = "IP4", .source_info = ip};
        plugin_verdict v = plugin_chain_decide(c, i < 2 ? &e2 : &ev, &s, msg, sizeof msg);
        if (v == PLUGIN_ACCEPT) accepted++;
        else { limited++; CHECK(strstr(msg, "pubkey") != NULL); }
    }
    /* e2 twice (its burst), then ev: burst 2 as well, then limited by pubkey */
    CHECK_EQ_INT(accepted, 4);
    CHECK_EQ_INT(limited, 196);
    event_free(&e2);
    plugin_chain_free(c);
    config_free(cfg);

    cfg = cfg_from((const char *const[]){"", "plugins", "[\"ratelimit\"]",
                                         "plugin.ratelimit", "ip_burst", "0", NULL});
    CHECK(plugin_chain_new(cfg, NULL, err, sizeof err) == NULL);
    config_free(cfg);
    event_free(&ev);
}

/* ---- protocol helpers ---- */

static void test_protocol(void) {
    event ev = make_event(seckey1, 1, "say \"hi\"\n");
    plugin_source src = {.source_type = "IP6", .source_info = "2001:db8::\"1", .authed = true,
                         .received_at = 1712345678};
    memcpy(src.authed_pubkey, ev.pubkey, 32);
    size_t len;
    char *line = policy_input_line(&ev, &src, &len);
    CHECK(line && len > 0 && line[len - 1] == '\n' && strlen(line) == len);
    cJSON *j = cJSON_ParseWithLength(line, len);
    CHECK(j != NULL);
    char id_hex[65], pk_hex[65];
    hex_encode(ev.id, 32, id_hex);
    hex_encode(ev.pubkey, 32, pk_hex);
    if (j) {
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")), "new");
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "sourceType")), "IP6");
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "sourceInfo")), "2001:db8::\"1");
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "authed")), pk_hex);
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "receivedAt")), 1712345678);
        cJSON *e = cJSON_GetObjectItem(j, "event");
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "id")), id_hex);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "content")), "say \"hi\"\n");
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "kind")), 1);
    }
    cJSON_Delete(j);
    /* the event is embedded byte for byte */
    CHECK(memmem(line, len, ev.json, ev.json_len) != NULL);
    free(line);
    src.authed = false;
    line = policy_input_line(&ev, &src, &len);
    CHECK(line && strstr(line, "\"authed\"") == NULL);
    free(line);

    /* an event in the strict form with a raw control character in its content:
     * the line carries it as \u0001 so strict JSON parsers accept it */
    {
        event tmpl = make_event(seckey1, 1, "a\001b");
        size_t clen;
        char *canon = event_canonical_strict(&tmpl, &clen);
        uint8_t sid[32];
        crypto_hash_sha256(sid, (const unsigned char *)canon, clen);
        free(canon);
        char sid_hex[65], pkh[65], sigh[129], raw[1024];
        hex_encode(sid, 32, sid_hex);
        hex_encode(tmpl.pubkey, 32, pkh);
        hex_encode(tmpl.sig, 64, sigh);
        int rawlen = snprintf(raw, sizeof raw,
                              "{\"id\":\"%s\",\"pubkey\":\"%s\",\"created_at\":%lld,\"kind\":1,\"tags\":[],"
                              "\"content\":\"a\001b\",\"sig\":\"%s\"}",
                              sid_hex, pkh, (long long)tmpl.created_at, sigh);
        event strict;
        char perr[200], idout[65];
        CHECK_EQ_INT(event_parse(&strict, raw, (size_t)rawlen, &(event_limits){0}, perr, sizeof perr, idout), 0);
        CHECK(memchr(strict.json, 1, strict.json_len) != NULL); /* stored raw, as signed */
        char *l2 = policy_input_line(&strict, &ip4_source, &len);
        CHECK(l2 && memchr(l2, 1, len) == NULL && strstr(l2, "\"content\":\"a\\u0001b\"") != NULL);
        cJSON *j2 = l2 ? cJSON_ParseWithLength(l2, len) : NULL;
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j2, "event"), "content")), "a\001b");
        cJSON_Delete(j2);
        free(l2);
        event_free(&strict);
        event_free(&tmpl);
    }

    plugin_verdict v;
    char msg[400], why[200], ans[400];
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"accept\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), 0);
    CHECK_EQ_INT(v, PLUGIN_ACCEPT);
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"reject\",\"msg\":\"spam\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), 0);
    CHECK_EQ_INT(v, PLUGIN_REJECT);
    CHECK_EQ_STR(msg, "blocked: spam");
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"reject\",\"msg\":\"rate-limited: slow\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), 0);
    CHECK_EQ_STR(msg, "rate-limited: slow");
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"reject\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), 0);
    CHECK_EQ_STR(msg, "blocked: refused by the write policy");
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"shadowReject\",\"msg\":\"x\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), 0);
    CHECK_EQ_INT(v, PLUGIN_SHADOW_REJECT);
    /* garbage */
    const char *bad[] = {"hello", "[]", "{\"id\":\"00\",\"action\":\"accept\"}", NULL};
    for (int i = 0; bad[i]; i++)
        CHECK_EQ_INT(policy_parse_answer(bad[i], strlen(bad[i]), id_hex, &v, msg, sizeof msg, why, sizeof why), -1);
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"maybe\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), -1);
    CHECK(strstr(why, "maybe") != NULL);

    /* client messages: first line, control characters, bounded, UTF-8 kept whole */
    policy_client_msg("bad\tthing\nsecond", 16, "blocked: x", msg, sizeof msg);
    CHECK_EQ_STR(msg, "blocked: bad thing");
    policy_client_msg("  ", 2, "blocked: fallback", msg, sizeof msg);
    CHECK_EQ_STR(msg, "blocked: fallback");
    char longmsg[1000];
    for (int i = 0; i < 999; i += 2) { longmsg[i] = (char)0xc3; longmsg[i + 1] = (char)0xa9; } /* é */
    longmsg[998] = 0;
    policy_client_msg(longmsg, 998, "", msg, sizeof msg);
    CHECK(strlen(msg) <= POLICY_MAX_MSG + 9);
    size_t ml = strlen(msg);
    CHECK(((unsigned char)msg[ml - 1] & 0xC0) == 0x80 && (unsigned char)msg[ml - 2] == 0xc3);
    /* invalid UTF-8 (a Latin-1 script, stray continuation, truncated or overlong
     * sequences, a surrogate) must not reach the OK frame: WebSocket clients drop
     * the connection on a text frame that is not UTF-8. Valid sequences stay. */
    const char *latin1 = "refus\xe9 \x80x\xc3";
    policy_client_msg(latin1, strlen(latin1), "", msg, sizeof msg);
    CHECK_EQ_STR(msg, "blocked: refus? ?x?");
    const char *mixed = "invalid: \xc0\xaf \xed\xa0\x80 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    policy_client_msg(mixed, strlen(mixed), "", msg, sizeof msg);
    CHECK_EQ_STR(msg, "invalid: ?? ??? \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    snprintf(ans, sizeof ans, "{\"id\":\"%s\",\"action\":\"reject\",\"msg\":\"d\xe9j\xe0 vu\"}", id_hex);
    CHECK_EQ_INT(policy_parse_answer(ans, strlen(ans), id_hex, &v, msg, sizeof msg, why, sizeof why), 0);
    CHECK_EQ_STR(msg, "blocked: d?j? vu");
    /* what the relay logs about a garbage answer has no terminal escapes either */
    const char *esc = "\x1b[2J\x1b]0;owned\x07 \xff";
    CHECK_EQ_INT(policy_parse_answer(esc, strlen(esc), id_hex, &v, msg, sizeof msg, why, sizeof why), -1);
    CHECK(strchr(why, 0x1b) == NULL && strchr(why, 0x07) == NULL && strchr(why, (char)0xff) == NULL);
    event_free(&ev);
}

/* ---- policy runner ---- */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done;
    plugin_verdict v;
    char msg[512];
    int64_t at_ms;
} result;

static void result_init(result *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->m, NULL);
    pthread_cond_init(&r->c, NULL);
}

static void on_done(void *job, plugin_verdict v, const char *msg) {
    result *r = job;
    pthread_mutex_lock(&r->m);
    r->done++;
    r->v = v;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    r->at_ms = now_ms();
    pthread_cond_broadcast(&r->c);
    pthread_mutex_unlock(&r->m);
}

static bool wait_result(result *r, int timeout_ms) {
    int64_t until = now_ms() + timeout_ms;
    pthread_mutex_lock(&r->m);
    while (!r->done && now_ms() < until) {
        pthread_mutex_unlock(&r->m);
        sleep_ms(5);
        pthread_mutex_lock(&r->m);
    }
    bool ok = r->done == 1;
    pthread_mutex_unlock(&r->m);
    return ok;
}

/* Submits one event and waits for its decision. */
static result decide_one(policy_runner *pr, uint32_t kind, const char *content, const plugin_source *src,
                         int wait_ms) {
    result r;
    result_init(&r);
    event ev = make_event(seckey1, kind, content);
    policy_runner_submit(pr, &ev, src ? src : &ip4_source, &r, on_done);
    event_free(&ev); /* the runner copied what it needs */
    if (!wait_result(&r, wait_ms)) printf("FAIL no single decision for kind %u \"%s\"\n", kind, content);
    CHECK_EQ_INT(r.done, 1);
    return r;
}

static char *fixture(const char *name) {
    static char paths[8][PATH_MAX + 64];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, PATH_MAX + 64, "\"%s/%s\"", fixtures, name);
    return p;
}

static bool process_gone(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *close_paren = strrchr(buf, ')');
    return close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

static pid_t read_pid_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int pid = -1;
    if (fscanf(f, "%d", &pid) != 1) pid = -1;
    fclose(f);
    return pid;
}

static void test_runner_none(void) {
    char err[256] = "x";
    config *cfg = config_new();
    CHECK(policy_runner_new(cfg, err, sizeof err) == NULL);
    CHECK_EQ_STR(err, "");
    config_free(cfg);
    cfg = cfg_top((const char *const[]){"write_policy", "\"/nonexistent/policy\"", NULL});
    CHECK(policy_runner_new(cfg, err, sizeof err) == NULL);
    CHECK(err[0] != 0);
    config_free(cfg);
    cfg = cfg_top((const char *const[]){"write_policy", fixture("accept_all.sh"),
                                         "write_policy_default", "maybe", NULL});
    CHECK(policy_runner_new(cfg, err, sizeof err) == NULL);
    config_free(cfg);
}

static void test_runner_write_policy(void) {
    char err[256], hang_file[PATH_MAX];
    snprintf(hang_file, sizeof hang_file, "%s/hang.pid", tmpdir);
    setenv("HANG_PID_FILE", hang_file, 1);
    config *cfg = cfg_top((const char *const[]){"write_policy", fixture("by_content.sh"),
                                                 "write_policy_processes", "2",
                                                 "write_policy_timeout_ms", "600", NULL});
    policy_runner *pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (!pr) { printf("  (%s)\n", err); config_free(cfg); return; }

    result r = decide_one(pr, 1, "hello", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    CHECK_EQ_STR(r.msg, "");
    r = decide_one(pr, 1, "policy:reject", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "blocked: content refused by policy");
    r = decide_one(pr, 1, "policy:plain", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "blocked: no prefix here");
    r = decide_one(pr, 1, "policy:shadow", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_SHADOW_REJECT);

    /* a line larger than a pipe buffer (64 KiB) is written in several steps */
    char *big = malloc(120001);
    memset(big, 'x', 120000);
    big[120000] = 0;
    r = decide_one(pr, 1, big, NULL, 5000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    free(big);

    /* the input fields the program sees */
    plugin_source authed = {.source_type = "IP6", .source_info = "2001:db8::5", .authed = true};
    memset(authed.authed_pubkey, 0xab, 32);
    r = decide_one(pr, 1, "policy:sourcetype", &authed, 3000);
    CHECK_EQ_STR(r.msg, "blocked: seen IP6 abababababababababababababababababababababababababababababababab");
    r = decide_one(pr, 1, "policy:sourcetype", NULL, 3000);
    CHECK_EQ_STR(r.msg, "blocked: seen IP4 none");

    /* timeout: the whole process group (the script and its sleeping child) is killed */
    unlink(hang_file);
    int64_t t0 = now_ms();
    r = decide_one(pr, 1, "policy:hang", NULL, 3000);
    int64_t took = r.at_ms - t0;
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "error: write policy timed out");
    CHECK(took >= 550 && took < 2000);
    pid_t hang_pid = read_pid_file(hang_file);
    CHECK(hang_pid > 0);
    bool gone = false;
    for (int i = 0; i < 100 && hang_pid > 0 && !(gone = process_gone(hang_pid)); i++) sleep_ms(10);
    CHECK(gone);

    /* crash and garbage: default verdict, then the replacement process answers */
    r = decide_one(pr, 1, "policy:crash", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "error: write policy crashed");
    r = decide_one(pr, 1, "policy:garbage", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "error: write policy answered garbage");
    for (int i = 0; i < 4; i++) {
        r = decide_one(pr, 1, "after trouble", NULL, 3000);
        CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    }
    policy_runner_free(pr);
    config_free(cfg);

    /* write_policy_default = accept */
    cfg = cfg_top((const char *const[]){"write_policy", fixture("by_content.sh"),
                                         "write_policy_processes", "1",
                                         "write_policy_default", "accept", NULL});
    pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    r = decide_one(pr, 1, "policy:crash", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    r = decide_one(pr, 1, "policy:reject", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    policy_runner_free(pr);
    config_free(cfg);
    unsetenv("HANG_PID_FILE");
}

static void test_runner_parallel(void) {
    char err[256];
    config *cfg = cfg_top((const char *const[]){"write_policy", fixture("slow_accept.sh"),
                                                 "write_policy_processes", "4", NULL});
    policy_runner *pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (!pr) { config_free(cfg); return; }
    decide_one(pr, 1, "warm-up", NULL, 3000); /* processes are running */
    result rs[4];
    event evs[4];
    for (int i = 0; i < 4; i++) { result_init(&rs[i]); evs[i] = make_event(seckey1, 1, "slow"); }
    int64_t t0 = now_ms();
    for (int i = 0; i < 4; i++) policy_runner_submit(pr, &evs[i], &ip4_source, &rs[i], on_done);
    int64_t last = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(wait_result(&rs[i], 4000));
        CHECK_EQ_INT(rs[i].v, PLUGIN_ACCEPT);
        if (rs[i].at_ms > last) last = rs[i].at_ms;
        event_free(&evs[i]);
    }
    int64_t took = last - t0;
    printf("  4 x 300 ms decisions on 4 processes: %lld ms\n", (long long)took);
    CHECK(took >= 290 && took < 900);
    policy_runner_free(pr);
    config_free(cfg);

    /* bounded queue: one slow process, room for 2 events */
    cfg = cfg_top((const char *const[]){"write_policy", fixture("slow_accept.sh"),
                                         "write_policy_processes", "1", "policy_queue_max", "2", NULL});
    pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (!pr) { config_free(cfg); return; }
    for (int i = 0; i < 4; i++) { result_init(&rs[i]); evs[i] = make_event(seckey1, 1, "q"); }
    for (int i = 0; i < 4; i++) policy_runner_submit(pr, &evs[i], &ip4_source, &rs[i], on_done);
    int full = 0, ok = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(wait_result(&rs[i], 4000));
        if (rs[i].v == PLUGIN_ACCEPT) ok++;
        else if (strncmp(rs[i].msg, "rate-limited: ", 14) == 0) full++;
        event_free(&evs[i]);
    }
    CHECK_EQ_INT(ok, 2);
    CHECK_EQ_INT(full, 2);
    policy_runner_free(pr);
    config_free(cfg);
}

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (!in) return -1;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", to);
    FILE *out = fopen(tmp, "wb");
    if (!out) { fclose(in); return -1; }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    chmod(tmp, 0755);
    return rename(tmp, to);
}

static void test_runner_replaced(void) {
    char err[256], script[PATH_MAX], src[PATH_MAX + 64], val[PATH_MAX + 4];
    snprintf(script, sizeof script, "%s/policy.sh", tmpdir);
    snprintf(src, sizeof src, "%s/by_content.sh", fixtures);
    CHECK(copy_file(src, script) == 0);
    snprintf(val, sizeof val, "\"%s\"", script);
    config *cfg = cfg_top((const char *const[]){"write_policy", val, "write_policy_processes", "2", NULL});
    policy_runner *pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (!pr) { config_free(cfg); return; }
    CHECK_EQ_INT(decide_one(pr, 1, "before", NULL, 3000).v, PLUGIN_ACCEPT);

    /* a slow decision is in flight when the program is replaced */
    result slow;
    result_init(&slow);
    event ev = make_event(seckey1, 1, "policy:slow");
    policy_runner_submit(pr, &ev, &ip4_source, &slow, on_done);
    event_free(&ev);
    sleep_ms(50);
    snprintf(src, sizeof src, "%s/reject_all.sh", fixtures);
    CHECK(copy_file(src, script) == 0);
    CHECK(wait_result(&slow, 3000));
    CHECK_EQ_INT(slow.v, PLUGIN_ACCEPT); /* the old process finished its event */
    sleep_ms(1500);                      /* the file is checked at most once a second */
    result r = decide_one(pr, 1, "after", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "blocked: not welcome here");
    policy_runner_free(pr);
    config_free(cfg);
}

static void test_runner_filter_dir(void) {
    char err[256], dir[PATH_MAX + 64], hang_file[PATH_MAX];
    snprintf(dir, sizeof dir, "\"%s/filter\"", fixtures);
    snprintf(hang_file, sizeof hang_file, "%s/hang9.pid", tmpdir);
    setenv("HANG_PID_FILE", hang_file, 1);
    config *cfg = cfg_top((const char *const[]){"filter_dir", dir, "filter_dir_processes", "4",
                                                 "write_policy_timeout_ms", "600", NULL});
    policy_runner *pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (!pr) { printf("  (%s)\n", err); config_free(cfg); return; }
    result r = decide_one(pr, 1, "hello", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    r = decide_one(pr, 1, "filter:no", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "blocked: kind 1 refused by filter");
    r = decide_one(pr, 7, "+", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "blocked: reactions are closed");
    char *big = malloc(120001);
    memset(big, 'y', 120000);
    big[120000] = 0;
    r = decide_one(pr, 1, big, NULL, 5000); /* passed as $1: under the 128 KiB argument limit */
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    free(big);
    big = malloc(140001);
    memset(big, 'z', 140000);
    big[140000] = 0;
    r = decide_one(pr, 1, big, NULL, 5000); /* over it: the default, with a clear message */
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "error: event too large for the filter script");
    free(big);
    setenv("G1RELAY_PASSPHRASE", "do not leak me", 1); /* secrets stay in the relay */
    r = decide_one(pr, 13, "env", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    CHECK_EQ_STR(r.msg, "");
    unsetenv("G1RELAY_PASSPHRASE");
    r = decide_one(pr, 3, "no script for kind 3", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    r = decide_one(pr, 12, "script not executable", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
    r = decide_one(pr, 11, "crashes", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "error: filter script crashed");
    unlink(hang_file);
    r = decide_one(pr, 9, "hangs", NULL, 3000);
    CHECK_EQ_INT(r.v, PLUGIN_REJECT);
    CHECK_EQ_STR(r.msg, "error: filter script timed out");
    pid_t hang_pid = read_pid_file(hang_file);
    CHECK(hang_pid > 0);
    bool gone = false;
    for (int i = 0; i < 100 && hang_pid > 0 && !(gone = process_gone(hang_pid)); i++) sleep_ms(10);
    CHECK(gone);

    /* four slow (300 ms) scripts at once */
    result rs[4];
    event evs[4];
    for (int i = 0; i < 4; i++) { result_init(&rs[i]); evs[i] = make_event(seckey1, 10, "slow"); }
    int64_t t0 = now_ms(), last = 0;
    for (int i = 0; i < 4; i++) policy_runner_submit(pr, &evs[i], &ip4_source, &rs[i], on_done);
    for (int i = 0; i < 4; i++) {
        CHECK(wait_result(&rs[i], 4000));
        CHECK_EQ_INT(rs[i].v, PLUGIN_ACCEPT);
        if (rs[i].at_ms > last) last = rs[i].at_ms;
        event_free(&evs[i]);
    }
    printf("  4 x 300 ms filter scripts: %lld ms\n", (long long)(last - t0));
    CHECK(last - t0 >= 290 && last - t0 < 900);
    policy_runner_free(pr);
    config_free(cfg);

    /* both stages: the write policy decides first, then the kind script */
    cfg = cfg_top((const char *const[]){"filter_dir", dir, "write_policy", fixture("by_content.sh"),
                                         "write_policy_processes", "1", NULL});
    pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (pr) {
        r = decide_one(pr, 7, "policy:reject", NULL, 3000);
        CHECK_EQ_STR(r.msg, "blocked: content refused by policy");
        r = decide_one(pr, 7, "+", NULL, 3000);
        CHECK_EQ_STR(r.msg, "blocked: reactions are closed");
        r = decide_one(pr, 1, "fine", NULL, 3000);
        CHECK_EQ_INT(r.v, PLUGIN_ACCEPT);
        policy_runner_free(pr);
    }
    config_free(cfg);
    unsetenv("HANG_PID_FILE");
}

/* Many events through a fast program: the runner keeps up and answers each once. */
static void test_runner_throughput(void) {
    char err[256];
    config *cfg = cfg_top((const char *const[]){"write_policy", fixture("accept_all.pl"),
                                                 "write_policy_processes", "2", NULL});
    policy_runner *pr = policy_runner_new(cfg, err, sizeof err);
    CHECK(pr != NULL);
    if (!pr) { config_free(cfg); return; }
    enum { N = 500 };
    static result rs[N];
    event ev = make_event(seckey1, 1, "bulk");
    int64_t t0 = now_ms();
    for (int i = 0; i < N; i++) { result_init(&rs[i]); policy_runner_submit(pr, &ev, &ip4_source, &rs[i], on_done); }
    int good = 0;
    for (int i = 0; i < N; i++)
        if (wait_result(&rs[i], 10000) && rs[i].v == PLUGIN_ACCEPT) good++;
    printf("  %d events through a perl policy: %lld ms\n", N, (long long)(now_ms() - t0));
    CHECK_EQ_INT(good, N);
    event_free(&ev);
    policy_runner_free(pr);
    config_free(cfg);
}

UNIT_MAIN({
    log_set_level(LOG_ERROR);
    if (!realpath("tests/fixtures/policies", fixtures)) {
        printf("FAIL tests/fixtures/policies not found (run from the repository root)\n");
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/g1relay-test-plugins-XXXXXX");
    if (!mkdtemp(tmpdir)) { printf("FAIL mkdtemp\n"); return 1; }
    test_chain_routing();
    test_kind_filter();
    test_pubkey_list();
    test_ratelimit();
    test_protocol();
    test_runner_none();
    test_runner_write_policy();
    test_runner_parallel();
    test_runner_replaced();
    test_runner_filter_dir();
    test_runner_throughput();
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmpdir);
})
