/* Unit tests for relay/filter.c: parsing, bounds, errors, matching of every field. */
#include "filter.h"
#include "unit.h"

static uint8_t sk1[32], sk2[32];

/* Builds a signed event (tags given as up to 4 NULL-terminated arrays). */
static void make(event *ev, const uint8_t *sk, int64_t created_at, uint32_t kind,
                 const char *const *t0, const char *const *t1) {
    const char *const *tags[2] = {t0, t1};
    uint32_t n = t0 ? (t1 ? 2 : 1) : 0;
    if (event_build_signed(ev, sk, created_at, kind, tags, n, "x", 1) != 0) {
        printf("FAIL build\n");
        exit(1);
    }
}

static int parse(filter *f, const char *json, char *err) {
    filter_limits lim = {.max_values = 100, .max_limit = 500, .default_limit = 100};
    return filter_parse(f, json, strlen(json), &lim, err, 256);
}

static bool match(const char *json, const event *ev) {
    filter f;
    char err[256];
    if (parse(&f, json, err) != 0) {
        printf("FAIL parse %s: %s\n", json, err);
        unit_failed++;
        return false;
    }
    bool m = filter_match(&f, ev);
    filter_free(&f);
    return m;
}

static void expect_reject(const char *json, const char *word, int line) {
    filter f;
    char err[256] = "";
    int rc = parse(&f, json, err);
    if (rc != -1 || strncmp(err, "invalid: ", 9) != 0 || (word && !strstr(err, word))) {
        unit_failed++;
        printf("FAIL %s:%d: %s: expected rejection mentioning '%s', got rc=%d err='%s'\n", __FILE__, line, json,
               word ? word : "", rc, err);
    } else {
        unit_passed++;
    }
    CHECK(f.arena == NULL);
}
#define REJECT(json, word) expect_reject((json), (word), __LINE__)

static void hex(const uint8_t *b, char *out) {
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) { out[2 * i] = d[b[i] >> 4]; out[2 * i + 1] = d[b[i] & 15]; }
    out[64] = 0;
}

static void test_parse_fields(void) {
    filter f;
    char err[256];
    CHECK_EQ_INT(parse(&f, "{}", err), 0);
    CHECK(!f.has_ids && !f.has_authors && !f.has_kinds && !f.has_since && !f.has_until && !f.has_limit);
    CHECK_EQ_INT(f.tag_count, 0);
    filter_free(&f);
    const char *j = "{\"ids\":[\"ff00000000000000000000000000000000000000000000000000000000000000\","
                    "\"0100000000000000000000000000000000000000000000000000000000000000\"],"
                    "\"authors\":[],\"kinds\":[7,1,30023,0],\"since\":10,\"until\":20,\"limit\":5,"
                    "\"#e\":[\"b\",\"aa\",\"a\"],\"#P\":[\"\\u0041\"]}";
    CHECK_EQ_INT(parse(&f, j, err), 0);
    CHECK(f.has_ids && f.id_count == 2);
    CHECK_EQ_INT(f.ids[0][0], 0x01); /* sorted */
    CHECK_EQ_INT(f.ids[1][0], 0xff);
    CHECK(f.has_authors && f.author_count == 0);
    CHECK(f.has_kinds && f.kind_count == 4);
    CHECK(f.kinds[0] == 0 && f.kinds[1] == 1 && f.kinds[2] == 7 && f.kinds[3] == 30023);
    CHECK(f.has_since && f.since == 10 && f.has_until && f.until == 20);
    CHECK(f.has_limit && f.limit == 5);
    CHECK_EQ_INT(f.tag_count, 2);
    CHECK_EQ_INT(f.tags[0].name, 'e');
    CHECK_EQ_INT(f.tags[0].value_count, 3);
    CHECK_EQ_STR(f.tags[0].values[0].ptr, "a"); /* sorted by (len, bytes) */
    CHECK_EQ_STR(f.tags[0].values[1].ptr, "b");
    CHECK_EQ_STR(f.tags[0].values[2].ptr, "aa");
    CHECK_EQ_INT(f.tags[1].name, 'P');
    CHECK_EQ_INT(f.tags[1].value_count, 1);
    CHECK_EQ_STR(f.tags[1].values[0].ptr, "A");
    filter_free(&f);
    CHECK(f.arena == NULL);
    /* limit clamped to max_limit; limit 0 allowed. */
    CHECK_EQ_INT(parse(&f, "{\"limit\":100000}", err), 0);
    CHECK_EQ_INT(f.limit, 500);
    filter_free(&f);
    CHECK_EQ_INT(parse(&f, "{\"limit\":0}", err), 0);
    CHECK(f.has_limit && f.limit == 0);
    filter_free(&f);
    /* Whitespace. */
    CHECK_EQ_INT(parse(&f, " { \"kinds\" : [ 1 , 2 ] ,\n\"#t\":[ \"x\" ] } ", err), 0);
    CHECK_EQ_INT(f.kind_count, 2);
    filter_free(&f);
    /* Tag values may hold NUL and escapes. */
    CHECK_EQ_INT(parse(&f, "{\"#t\":[\"a\\u0000b\"]}", err), 0);
    CHECK_EQ_INT(f.tags[0].values[0].len, 3);
    filter_free(&f);
}

static void test_parse_errors(void) {
    REJECT("{\"search\":\"x\"}", "search");
    REJECT("{\"foo\":1}", "unknown key");
    REJECT("{\"#ee\":[\"x\"]}", "single-letter");
    REJECT("{\"#1\":[\"x\"]}", "single-letter");
    REJECT("{\"#\":[\"x\"]}", "single-letter");
    REJECT("{\"ids\":[\"abc\"]}", "ids");
    REJECT("{\"ids\":[\"FF00000000000000000000000000000000000000000000000000000000000000\"]}", "ids");
    REJECT("{\"ids\":\"ff00000000000000000000000000000000000000000000000000000000000000\"}", "ids");
    REJECT("{\"authors\":[1]}", "authors");
    REJECT("{\"authors\":[\"g000000000000000000000000000000000000000000000000000000000000000\"]}", "authors");
    REJECT("{\"kinds\":[70000]}", "kinds");
    REJECT("{\"kinds\":[-1]}", "kinds");
    REJECT("{\"kinds\":[1.5]}", "kinds");
    REJECT("{\"kinds\":[\"1\"]}", "kinds");
    REJECT("{\"kinds\":1}", "kinds");
    REJECT("{\"since\":1.5}", "since");
    REJECT("{\"since\":-1}", "since");
    REJECT("{\"until\":\"1\"}", "until");
    REJECT("{\"limit\":null}", "limit");
    REJECT("{\"limit\":1e3}", "limit");
    REJECT("{\"#e\":[1]}", "tag filter");
    REJECT("{\"#e\":\"x\"}", "tag filter");
    REJECT("{\"kinds\":[1],\"kinds\":[2]}", "duplicate");
    REJECT("{\"#e\":[\"a\"],\"#e\":[\"b\"]}", "duplicate");
    REJECT("{} x", "trailing");
    REJECT("[]", "object");
    REJECT("", "object");
    REJECT("{\"kinds\":[1,]}", NULL);
    REJECT("{\"kinds\":[1]", NULL);
    REJECT("{\"#e\":[\"\\ud800\"]}", "surrogate");
    /* Too many values. */
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof big, "{\"kinds\":[");
    for (int i = 0; i < 101; i++) o += (size_t)snprintf(big + o, sizeof big - o, "%s%d", i ? "," : "", i);
    snprintf(big + o, sizeof big - o, "]}");
    REJECT(big, "too many");
}

static void test_match(void) {
    event a, b, c;
    char ha[65], pa[65], pb[65];
    const char *te[] = {"e", "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36", "wss://r", NULL};
    const char *tt[] = {"t", "nostr", NULL};
    const char *td[] = {"d", "slot", NULL};
    const char *tlone[] = {"t", NULL};
    make(&a, sk1, 1000, 1, te, tt);
    make(&b, sk2, 2000, 30023, td, NULL);
    make(&c, sk1, 3000, 7, tlone, NULL);
    hex(a.id, ha);
    hex(a.pubkey, pa);
    hex(b.pubkey, pb);
    char j[1024];

    CHECK(match("{}", &a));
    /* ids */
    snprintf(j, sizeof j, "{\"ids\":[\"%s\"]}", ha);
    CHECK(match(j, &a));
    CHECK(!match(j, &b));
    CHECK(!match("{\"ids\":[]}", &a));
    /* authors */
    snprintf(j, sizeof j, "{\"authors\":[\"%s\"]}", pa);
    CHECK(match(j, &a));
    CHECK(match(j, &c));
    CHECK(!match(j, &b));
    snprintf(j, sizeof j, "{\"authors\":[\"%s\",\"%s\"]}", pb, pa);
    CHECK(match(j, &a) && match(j, &b));
    CHECK(!match("{\"authors\":[]}", &a));
    /* kinds */
    CHECK(match("{\"kinds\":[1]}", &a));
    CHECK(!match("{\"kinds\":[1]}", &b));
    CHECK(match("{\"kinds\":[7,30023,1]}", &b));
    CHECK(!match("{\"kinds\":[]}", &a));
    /* since / until are inclusive */
    CHECK(match("{\"since\":1000}", &a));
    CHECK(!match("{\"since\":1001}", &a));
    CHECK(match("{\"until\":1000}", &a));
    CHECK(!match("{\"until\":999}", &a));
    CHECK(match("{\"since\":1500,\"until\":2500}", &b));
    CHECK(!match("{\"since\":1500,\"until\":2500}", &a));
    /* tags */
    CHECK(match("{\"#e\":[\"5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36\"]}", &a));
    CHECK(!match("{\"#e\":[\"5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f37\"]}", &a));
    CHECK(!match("{\"#e\":[\"wss://r\"]}", &a)); /* only the first value counts */
    CHECK(match("{\"#t\":[\"zzz\",\"nostr\"]}", &a));
    CHECK(!match("{\"#T\":[\"nostr\"]}", &a)); /* case-sensitive letter */
    CHECK(match("{\"#d\":[\"slot\"]}", &b));
    CHECK(!match("{\"#d\":[\"slot\"]}", &a));
    CHECK(!match("{\"#t\":[\"\"]}", &c)); /* ["t"] has no value */
    CHECK(!match("{\"#t\":[]}", &a));
    /* several conditions are AND'ed */
    CHECK(match("{\"kinds\":[1],\"#t\":[\"nostr\"],\"#e\":[\"5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36\"]}", &a));
    CHECK(!match("{\"kinds\":[1],\"#t\":[\"nostr\"],\"#e\":[\"x\"]}", &a));
    CHECK(!match("{\"kinds\":[2],\"#t\":[\"nostr\"]}", &a));
    snprintf(j, sizeof j, "{\"authors\":[\"%s\"],\"kinds\":[1,7],\"since\":2000}", pa);
    CHECK(match(j, &c));
    CHECK(!match(j, &a));
    /* Many values: binary search finds every one. */
    char big[16384];
    size_t o = (size_t)snprintf(big, sizeof big, "{\"#t\":[");
    for (int i = 0; i < 99; i++) o += (size_t)snprintf(big + o, sizeof big - o, "\"v%d\",", i * 37 % 1000);
    snprintf(big + o, sizeof big - o, "\"nostr\"],\"kinds\":[");
    o = strlen(big);
    for (int i = 0; i < 99; i++) o += (size_t)snprintf(big + o, sizeof big - o, "%d,", 60000 - i * 13);
    snprintf(big + o, sizeof big - o, "1]}");
    CHECK(match(big, &a));
    CHECK(!match(big, &b));
    event_free(&a);
    event_free(&b);
    event_free(&c);
}

UNIT_MAIN(
    memset(sk1, 0x11, 32);
    memset(sk2, 0x22, 32);
    test_parse_fields();
    test_parse_errors();
    test_match();
)
