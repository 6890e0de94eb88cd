/* Unit tests for relay/event.c: parsing, both id forms, signatures, bounds. */
#include "event.h"
#include "hex.h"
#include "unit.h"
#include <sodium.h>

/* Test vectors, generated once with nostr-tools 2.25.2 (finalizeEvent) or, for
 * the strict-form vector, with a hand-written strict NIP-01 serialiser in node
 * signed by @noble/curves schnorr. Written with ' for " (see J()). */

/* A: plain nostr-tools event with escapes, non-ASCII and an emoji. */
static const char VEC_A[] =
    "{'kind':1,'created_at':1700000000,'tags':[['e','5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36',"
    "'wss://relay.example'],['p','f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca'],['t','nostr']],"
    "'content':'Hello, Nostr! \\'quoted\\' \\\\ backslash\\nnew line\\ttab \xc3\xa9 \xf0\x9f\x8e\x89 </script>',"
    "'pubkey':'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659',"
    "'id':'71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62',"
    "'sig':'8e8cc4b407fdad126b719cbb17bb88e30bcdc096c8e3a2c72bf92fc9f51550fe95948eb6bf12180b6e8280e6d4e25dc472db526be"
    "29535343556e7df496102fe'}";
static const char VEC_A_CONTENT[] =
    "Hello, Nostr! \"quoted\" \\ backslash\nnew line\ttab \xc3\xa9 \xf0\x9f\x8e\x89 </script>";
/* The same event with é, the emoji and / written as escapes: same id. */
static const char VEC_A_ESCAPED[] =
    "{'kind':1,'created_at':1700000000,'tags':[['e','5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36',"
    "'wss:\\/\\/relay.example'],['p','f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca'],['t','nostr']],"
    "'content':'Hello, Nostr! \\'quoted\\' \\\\ backslash\\nnew line\\ttab \\u00E9 \\ud83c\\udf89 <\\/script>',"
    "'pubkey':'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659',"
    "'id':'71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62',"
    "'sig':'8e8cc4b407fdad126b719cbb17bb88e30bcdc096c8e3a2c72bf92fc9f51550fe95948eb6bf12180b6e8280e6d4e25dc472db526be"
    "29535343556e7df496102fe'}";

/* B: nostr-tools (JSON.stringify form) with \u0001 and a raw DEL, addressable, NIP-40/70 tags. */
static const char VEC_B[] =
    "{'kind':30023,'created_at':1712345678,'tags':[['d','my-article'],['title','\xc4\x9e" "1 & Nostr'],"
    "['expiration','1999999999'],['-']],'content':'ctrl:\\u0001 del:\x7f nul-free',"
    "'pubkey':'f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9',"
    "'id':'0d177895b0314bc79eb6d418488a6705cf6140288dc2a1cb4e9b2cea478c0076',"
    "'sig':'fdce0a7866ce2c12bb51aed116255b3eb6d2d22419f40a62f2eed9708fba3a21e3f77967584acfc1048052672a291a995fb345cd3c"
    "52b5d0f0a273c8e51402ec'}";

/* C: id over the strict NIP-01 form (raw 0x01, 0x02, 0x7f), sent escaped as clients do. */
static const char VEC_C[] =
    "{'pubkey':'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659','created_at':1710000000,'kind':1,"
    "'tags':[['t','x\\u0002y']],'content':'a\\u0001b\x7f" "c',"
    "'id':'bde16d702907afe00f19e76ac5e2388e210dc4d1751cceb19dd1c8faaf5f8376',"
    "'sig':'8faaf07ecf6a19629ac073dd461ec1997536f4980f7e6e4da207c56cf5c336803d6159f8a6be6903bc2df08fd157494c35b14b0c5fe"
    "a9b4aa8b0954f082209c0'}";

/* D: nostr-tools event whose content holds a NUL (\u0000). */
static const char VEC_D[] =
    "{'kind':1,'created_at':1710000001,'tags':[],'content':'nul:\\u0000:end',"
    "'pubkey':'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659',"
    "'id':'0ad63c202cbb16680625bcca4be96526e5674c698544e5673ae07c95dad7e7b5',"
    "'sig':'57860a9ad5ea1ab77de89fd2aced48d8395e2c5df251f3e3a9e2b48c07bb8aba43d8c04862927e6819d7d3213b179c0d1bc3e4baef1"
    "b7337187fcde90fedc5a9'}";

/* Swaps ' and " (test vectors are easier to read that way). Rotating buffers. */
static const char *J(const char *s) {
    static char bufs[8][8192];
    static int next;
    char *b = bufs[next++ & 7];
    size_t i = 0;
    for (; s[i] && i < sizeof bufs[0] - 1; i++) b[i] = s[i] == '\'' ? '"' : s[i] == '"' ? '\'' : s[i];
    b[i] = 0;
    return b;
}

/* Replaces the first occurrence of from by to in J(src). */
static const char *JR(const char *src, const char *from, const char *to) {
    static char bufs[4][8192];
    static int next;
    char *b = bufs[next++ & 3];
    const char *s = J(src);
    from = J(from);
    to = J(to);
    const char *at = strstr(s, from);
    if (!at) { printf("JR: '%s' not found\n", from); return s; }
    size_t pre = (size_t)(at - s);
    snprintf(b, sizeof bufs[0], "%.*s%s%s", (int)pre, s, to, at + strlen(from));
    return b;
}

static int parse(event *ev, const char *json, char *err, char *id) {
    return event_parse(ev, json, strlen(json), NULL, err, 256, id);
}

/* Expects rejection with an "invalid: " message mentioning `word`. */
static void expect_reject(const char *json, const char *word, int line) {
    event ev;
    char err[256] = "", id[65];
    int rc = parse(&ev, json, err, id);
    if (rc != -1 || strncmp(err, "invalid: ", 9) != 0 || (word && !strstr(err, word))) {
        unit_failed++;
        printf("FAIL %s:%d: expected rejection mentioning '%s', got rc=%d err='%s'\n", __FILE__, line,
               word ? word : "", rc, err);
    } else {
        unit_passed++;
    }
    CHECK(ev.arena == NULL);
}
#define REJECT(json, word) expect_reject((json), (word), __LINE__)

static void sha256_of(const char *s, size_t n, uint8_t out[32]) {
    crypto_hash_sha256(out, (const unsigned char *)s, n);
}

static void test_vector_a(void) {
    event ev, tr;
    char err[256], id[65];
    CHECK_EQ_INT(parse(&ev, J(VEC_A), err, id), 0);
    CHECK(event_verify_sig(&ev));
    CHECK_EQ_INT(ev.id_form, EVENT_ID_STRICT);
    CHECK_EQ_INT(ev.kind, 1);
    CHECK_EQ_INT(ev.created_at, 1700000000);
    CHECK_EQ_INT(ev.tag_count, 3);
    CHECK_EQ_INT(ev.tag_str_count, 7);
    CHECK_EQ_INT(ev.content.len, strlen(VEC_A_CONTENT));
    CHECK_EQ_MEM(ev.content.ptr, VEC_A_CONTENT, strlen(VEC_A_CONTENT));
    CHECK_EQ_STR(event_tag_str(&ev, 0, 2)->ptr, "wss://relay.example");
    CHECK(event_tag_str(&ev, 2, 2) == NULL);
    CHECK_EQ_INT(ev.d_tag.len, 0);
    CHECK_EQ_INT(ev.expiration, 0);
    CHECK(!ev.is_protected);
    CHECK_EQ_INT(event_kind_class(ev.kind), EVENT_CLASS_REGULAR);
    /* Served form: fixed key order, the signed escaping. */
    const char *want_prefix = "{\"id\":\"71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62\","
                              "\"pubkey\":\"dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659\","
                              "\"created_at\":1700000000,\"kind\":1,\"tags\":[[\"e\",";
    CHECK(strncmp(ev.json, want_prefix, strlen(want_prefix)) == 0);
    CHECK(strstr(ev.json, "\"content\":\"Hello, Nostr! \\\"quoted\\\" \\\\ backslash\\nnew line\\ttab") != NULL);
    CHECK_EQ_INT(strlen(ev.json), ev.json_len);
    CHECK(ev.json_len == strlen(J(VEC_A)));
    /* The strict canonical array hashes to the id. */
    size_t cl;
    char *canon = event_canonical_strict(&ev, &cl);
    uint8_t h[32];
    sha256_of(canon, cl, h);
    CHECK_EQ_MEM(h, ev.id, 32);
    CHECK(strncmp(canon, "[0,\"dff1d77f", 12) == 0);
    free(canon);
    /* Trusted re-parse of the stored form keeps it byte for byte. */
    CHECK_EQ_INT(event_parse_trusted(&tr, ev.json, ev.json_len), 0);
    CHECK_EQ_INT(tr.json_len, ev.json_len);
    CHECK_EQ_MEM(tr.json, ev.json, ev.json_len);
    CHECK_EQ_MEM(tr.id, ev.id, 32);
    CHECK_EQ_MEM(tr.sig, ev.sig, 64);
    CHECK_EQ_INT(tr.content.len, ev.content.len);
    CHECK_EQ_INT(tr.tag_count, 3);
    CHECK(event_verify_sig(&tr));
    event_free(&tr);
    /* Escaped spelling of the same strings: same id, same served json. */
    event e2;
    CHECK_EQ_INT(parse(&e2, J(VEC_A_ESCAPED), err, id), 0);
    CHECK_EQ_MEM(e2.id, ev.id, 32);
    CHECK_EQ_INT(e2.json_len, ev.json_len);
    CHECK(e2.json_len == ev.json_len && memcmp(e2.json, ev.json, ev.json_len) == 0);
    event_free(&e2);
    /* Whitespace around tokens is fine. */
    char spaced[8192];
    const char *a = J(VEC_A);
    size_t o = 0;
    spaced[o++] = ' ';
    for (size_t i = 0; a[i]; i++) {
        spaced[o++] = a[i];
        if (a[i] == ',' && a[i + 1] == '"' && a[i - 1] != '\\') { spaced[o++] = '\n'; spaced[o++] = '\t'; }
    }
    spaced[o++] = '\r';
    spaced[o] = 0;
    CHECK_EQ_INT(parse(&e2, spaced, err, id), 0);
    CHECK(e2.json_len == ev.json_len && memcmp(e2.json, ev.json, ev.json_len) == 0);
    event_free(&e2);
    event_free(&ev);
    CHECK(ev.arena == NULL && ev.json == NULL);
}

static void test_vector_b_stringify(void) {
    event ev, tr;
    char err[256], id[65];
    CHECK_EQ_INT(parse(&ev, J(VEC_B), err, id), 0);
    CHECK(event_verify_sig(&ev));
    CHECK_EQ_INT(ev.id_form, EVENT_ID_STRINGIFY);
    CHECK(strstr(ev.json, "\"content\":\"ctrl:\\u0001 del:\x7f nul-free\"") != NULL);
    CHECK_EQ_INT(ev.json_len, strlen(J(VEC_B)));
    CHECK_EQ_INT(ev.content.len, 21);
    CHECK_EQ_INT(ev.content.ptr[5], 1);
    CHECK_EQ_INT(ev.content.ptr[11], 0x7f);
    CHECK_EQ_INT(ev.d_tag.len, 10);
    CHECK_EQ_MEM(ev.d_tag.ptr, "my-article", 10);
    CHECK_EQ_INT(ev.expiration, 1999999999);
    CHECK(ev.is_protected);
    CHECK_EQ_INT(event_kind_class(ev.kind), EVENT_CLASS_ADDRESSABLE);
    /* The strict form does not give this id. */
    size_t cl;
    char *canon = event_canonical_strict(&ev, &cl);
    uint8_t h[32];
    sha256_of(canon, cl, h);
    CHECK(memcmp(h, ev.id, 32) != 0);
    free(canon);
    /* Re-import of the served form. */
    event e2;
    CHECK_EQ_INT(event_parse(&e2, ev.json, ev.json_len, NULL, err, sizeof err, id), 0);
    CHECK(e2.json_len == ev.json_len && memcmp(e2.json, ev.json, ev.json_len) == 0);
    CHECK_EQ_INT(e2.id_form, EVENT_ID_STRINGIFY);
    event_free(&e2);
    CHECK_EQ_INT(event_parse_trusted(&tr, ev.json, ev.json_len), 0);
    CHECK_EQ_INT(tr.id_form, EVENT_ID_STRINGIFY);
    CHECK(tr.is_protected);
    CHECK_EQ_INT(tr.expiration, 1999999999);
    event_free(&tr);
    event_free(&ev);
}

static void test_vector_c_strict_raw(void) {
    event ev, e2, tr;
    char err[256], id[65];
    CHECK_EQ_INT(parse(&ev, J(VEC_C), err, id), 0);
    CHECK(event_verify_sig(&ev));
    CHECK_EQ_INT(ev.id_form, EVENT_ID_STRICT);
    /* Served as signed: the control bytes raw. */
    CHECK(strstr(ev.json, "\"content\":\"a\x01" "b\x7f" "c\"") != NULL);
    CHECK(strstr(ev.json, "[[\"t\",\"x\x02y\"]]") != NULL);
    size_t cl;
    char *canon = event_canonical_strict(&ev, &cl);
    uint8_t h[32];
    sha256_of(canon, cl, h);
    CHECK_EQ_MEM(h, ev.id, 32);
    free(canon);
    /* The stored form (raw control bytes) re-imports byte for byte. */
    CHECK_EQ_INT(event_parse(&e2, ev.json, ev.json_len, NULL, err, sizeof err, id), 0);
    CHECK(e2.json_len == ev.json_len && memcmp(e2.json, ev.json, ev.json_len) == 0);
    event_free(&e2);
    CHECK_EQ_INT(event_parse_trusted(&tr, ev.json, ev.json_len), 0);
    CHECK_EQ_INT(tr.id_form, EVENT_ID_STRICT);
    event_free(&tr);
    event_free(&ev);
}

static void test_vector_d_nul(void) {
    event ev;
    char err[256], id[65];
    CHECK_EQ_INT(parse(&ev, J(VEC_D), err, id), 0);
    CHECK(event_verify_sig(&ev));
    CHECK_EQ_INT(ev.content.len, 9);
    CHECK_EQ_MEM(ev.content.ptr, "nul:\0:end", 9);
    CHECK_EQ_INT(ev.id_form, EVENT_ID_STRINGIFY);
    CHECK(strstr(ev.json, "\"content\":\"nul:\\u0000:end\"") != NULL);
    CHECK_EQ_INT(ev.tag_count, 0);
    event_free(&ev);
}

static void test_build_signed(void) {
    uint8_t sk[32];
    for (int i = 0; i < 32; i++) sk[i] = (uint8_t)(i * 7 + 1);
    const char *t0[] = {"d", "slot-1", NULL};
    const char *t1[] = {"p", "f7234bd4c1394dda46d09f35bd384dd30cc552ad5541990f98844fb06676e9ca", "", "x\"y\\z", NULL};
    const char *t2[] = {"expiration", "1800000000", NULL};
    const char *const *tags[] = {t0, t1, t2};
    const char content[] = "line1\nline2 \"q\" tab\t \xc3\xa9";
    event ev, e2;
    char err[256], id[65];
    CHECK_EQ_INT(event_build_signed(&ev, sk, 1700000123, 30078, tags, 3, content, sizeof content - 1), 0);
    CHECK(event_verify_sig(&ev));
    CHECK_EQ_INT(ev.tag_count, 3);
    CHECK_EQ_INT(ev.tag_str_count, 8);
    CHECK_EQ_INT(ev.d_tag.len, 6);
    CHECK_EQ_MEM(ev.d_tag.ptr, "slot-1", 6);
    CHECK_EQ_INT(ev.expiration, 1800000000);
    CHECK_EQ_INT(strlen(ev.json), ev.json_len);
    size_t cl;
    char *canon = event_canonical_strict(&ev, &cl);
    uint8_t h[32];
    sha256_of(canon, cl, h);
    CHECK_EQ_MEM(h, ev.id, 32);
    free(canon);
    /* Our own output parses, matches and verifies. */
    CHECK_EQ_INT(event_parse(&e2, ev.json, ev.json_len, NULL, err, sizeof err, id), 0);
    CHECK(e2.json_len == ev.json_len && memcmp(e2.json, ev.json, ev.json_len) == 0);
    CHECK(event_verify_sig(&e2));
    event_free(&e2);
    /* A tampered signature fails verification. */
    ev.sig[10] ^= 1;
    CHECK(!event_verify_sig(&ev));
    event_free(&ev);

    /* Control characters: built in the JSON.stringify form. */
    CHECK_EQ_INT(event_build_signed(&ev, sk, 1, 1, NULL, 0, "a\x01\x00z", 4), 0);
    CHECK(strstr(ev.json, "\"content\":\"a\\u0001\\u0000z\"") != NULL);
    CHECK_EQ_INT(ev.id_form, EVENT_ID_STRINGIFY);
    CHECK_EQ_INT(event_parse(&e2, ev.json, ev.json_len, NULL, err, sizeof err, id), 0);
    CHECK(event_verify_sig(&e2));
    CHECK_EQ_INT(e2.content.len, 4);
    event_free(&e2);
    event_free(&ev);
    /* Bad arguments. */
    const char *empty[] = {NULL};
    const char *const *bad_tags[] = {empty};
    CHECK_EQ_INT(event_build_signed(&ev, sk, 1, 1, bad_tags, 1, "", 0), -1);
    CHECK_EQ_INT(event_build_signed(&ev, sk, 1, 70000, NULL, 0, "", 0), -1);
    CHECK_EQ_INT(event_build_signed(&ev, sk, -5, 1, NULL, 0, "", 0), -1);
    uint8_t zero[32] = {0};
    CHECK_EQ_INT(event_build_signed(&ev, zero, 1, 1, NULL, 0, "", 0), -1);
}

static void test_wrong_id_sig(void) {
    event ev;
    char err[256], id[65];
    /* Flip one hex digit of the id. */
    const char *bad = JR(VEC_A, "71a0e530", "71a0e531");
    CHECK_EQ_INT(parse(&ev, bad, err, id), -1);
    CHECK(strstr(err, "invalid: ") == err && strstr(err, "id") != NULL);
    CHECK_EQ_STR(id, "71a0e531cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62");
    CHECK(ev.arena == NULL);
    /* Content changed: id mismatch. */
    CHECK_EQ_INT(parse(&ev, JR(VEC_A, "Hello", "Hellp"), err, id), -1);
    CHECK(strstr(err, "does not match") != NULL);
    /* Wrong signature: parses (the id matches) but does not verify. */
    CHECK_EQ_INT(parse(&ev, JR(VEC_A, "'sig':'8e8c", "'sig':'8e8d"), err, id), 0);
    CHECK(!event_verify_sig(&ev));
    event_free(&ev);
    /* Signature of another event. */
    CHECK_EQ_INT(parse(&ev, JR(VEC_A, "8e8cc4b407fdad126b719cbb17bb88e30bcdc096c8e3a2c72bf92fc9f51550fe95948eb6bf12180b6e8280e6d4e25dc472db526be29535343556e7df496102fe",
                               "fdce0a7866ce2c12bb51aed116255b3eb6d2d22419f40a62f2eed9708fba3a21e3f77967584acfc1048052672a291a995fb345cd3c52b5d0f0a273c8e51402ec"),
                         err, id), 0);
    CHECK(!event_verify_sig(&ev));
    event_free(&ev);
    /* Pubkey not on the curve (x = p): verification fails cleanly. */
    event_build_signed(&ev, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
                                              "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20",
                       5, 1, NULL, 0, "x", 1);
    memset(ev.pubkey, 0xff, 32);
    CHECK(!event_verify_sig(&ev));
    event_free(&ev);
}

static void test_rejections(void) {
    /* Upper-case hex. */
    REJECT(JR(VEC_A, "71a0e530cce8", "71A0E530CCE8"), "id");
    REJECT(JR(VEC_A, "'pubkey':'dff1d77f", "'pubkey':'DFF1D77F"), "pubkey");
    REJECT(JR(VEC_A, "'sig':'8e8cc4b4", "'sig':'8E8CC4B4"), "sig");
    /* Wrong lengths, escaped hex, wrong types. */
    REJECT(JR(VEC_A, "71a0e530cce8", "71a0e530cce"), "id");
    REJECT(JR(VEC_A, "'sig':'8e8c", "'sig':'8e8c00"), "sig");
    REJECT(JR(VEC_A, "'id':'71", "'id':'\\u00371"), "id");
    REJECT(JR(VEC_A, "'id':'71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62'", "'id':null"), "id");
    REJECT(JR(VEC_A, "'pubkey':'dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659'", "'pubkey':12"), "pubkey");
    /* Extra, duplicate and missing fields. */
    REJECT(JR(VEC_A, "'kind':1,", "'kind':1,'extra':1,"), "unexpected field");
    REJECT(JR(VEC_A, "'kind':1,", "'kind':1,'kind':1,"), "duplicate");
    REJECT(JR(VEC_A, "'kind':1,", ""), "missing kind");
    REJECT(JR(VEC_A, ",'sig':'8e8cc4b407fdad126b719cbb17bb88e30bcdc096c8e3a2c72bf92fc9f51550fe95948eb6bf12180b6e8280e6d4e25dc472db526be29535343556e7df496102fe'", ""), "missing sig");
    REJECT(JR(VEC_D, "'tags':[],", ""), "missing tags");
    /* created_at and kind. */
    REJECT(JR(VEC_A, "1700000000", "1700000000.0"), "created_at");
    REJECT(JR(VEC_A, "1700000000", "1.7e9"), "created_at");
    REJECT(JR(VEC_A, "1700000000", "-1700000000"), "created_at");
    REJECT(JR(VEC_A, "1700000000", "99999999999999999999999"), "created_at");
    REJECT(JR(VEC_A, "1700000000", "'1700000000'"), "created_at");
    REJECT(JR(VEC_A, "1700000000", "01700000000"), "created_at");
    REJECT(JR(VEC_A, "'kind':1", "'kind':70000"), "kind");
    REJECT(JR(VEC_A, "'kind':1", "'kind':65536"), "kind");
    REJECT(JR(VEC_A, "'kind':1", "'kind':-1"), "kind");
    REJECT(JR(VEC_A, "'kind':1", "'kind':1.5"), "kind");
    REJECT(JR(VEC_A, "'kind':1", "'kind':true"), "kind");
    /* Tags. */
    REJECT(JR(VEC_D, "'tags':[]", "'tags':[['e',1]]"), "tags");
    REJECT(JR(VEC_D, "'tags':[]", "'tags':['e']"), "tags");
    REJECT(JR(VEC_D, "'tags':[]", "'tags':[[]]"), "empty tag");
    REJECT(JR(VEC_D, "'tags':[]", "'tags':{}"), "tags");
    REJECT(JR(VEC_D, "'tags':[]", "'tags':null"), "tags");
    REJECT(JR(VEC_D, "'tags':[]", "'tags':[['e',null]]"), "tags");
    REJECT(JR(VEC_D, "'tags':[]", "'tags':[['e'],]"), NULL);
    REJECT(JR(VEC_D, "'tags':[]", "'tags':[['e',['x']]]"), "tags");
    /* Content. */
    REJECT(JR(VEC_D, "'content':'nul:\\u0000:end'", "'content':5"), "content");
    REJECT(JR(VEC_D, "'content':'nul:\\u0000:end'", "'content':['x']"), "content");
    /* Invalid UTF-8 and escapes. */
    REJECT(JR(VEC_D, "nul:", "\xff"), "UTF-8");
    REJECT(JR(VEC_D, "nul:", "\xc0\xaf"), "UTF-8");          /* overlong */
    REJECT(JR(VEC_D, "nul:", "\xed\xa0\x80"), "UTF-8");      /* surrogate */
    REJECT(JR(VEC_D, "nul:", "\xf4\x90\x80\x80"), "UTF-8");  /* > U+10FFFF */
    REJECT(JR(VEC_D, "nul:", "\xe2\x82"), "UTF-8");          /* truncated */
    REJECT(JR(VEC_D, "nul:", "\\x"), "escape");
    REJECT(JR(VEC_D, "nul:", "\\u12G4"), "escape");
    REJECT(JR(VEC_D, "nul:", "\\ud800"), "surrogate");
    REJECT(JR(VEC_D, "nul:", "\\ud800\\u0041"), "surrogate");
    REJECT(JR(VEC_D, "nul:", "\\udc00"), "surrogate");
    REJECT(JR(VEC_D, "nul:", "\\u00"), NULL);
    REJECT(JR(VEC_D, "'tags':[]", "'tags':[['\xff']]"), "UTF-8");
    /* Structure. */
    REJECT(J(""), NULL);
    REJECT(J("[]"), "object");
    REJECT(J("null"), "object");
    REJECT(J("{"), NULL);
    REJECT(J("{}"), "missing");
    char trailing[8192];
    snprintf(trailing, sizeof trailing, "%s x", J(VEC_A));
    REJECT(trailing, "trailing");
    snprintf(trailing, sizeof trailing, "%s}", J(VEC_A));
    REJECT(trailing, "trailing");
    /* Deeply nested junk as a field value and as the tags. */
    static char deep[200100];
    strcpy(deep, "{\"tags\":");
    size_t o = strlen(deep);
    for (int i = 0; i < 100000; i++) deep[o++] = '[';
    for (int i = 0; i < 100000; i++) deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = 0;
    REJECT(deep, NULL);
    strcpy(deep, "{\"extra\":");
    o = strlen(deep);
    for (int i = 0; i < 100000; i++) deep[o++] = '{';
    deep[o] = 0;
    REJECT(deep, NULL);
    /* Truncations of a valid event at every length never crash or succeed. */
    const char *a = J(VEC_A);
    size_t n = strlen(a);
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        event ev;
        char err[256], id[65];
        if (event_parse(&ev, a, i, NULL, err, sizeof err, id) == 0) { ok++; event_free(&ev); }
    }
    CHECK_EQ_INT(ok, 0);
}

static void test_limits(void) {
    event ev;
    char err[256], id[65];
    const char *a = J(VEC_A);
    event_limits lim = {0};
    lim.max_event_tags = 3;
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), &lim, err, sizeof err, id), 0);
    event_free(&ev);
    lim.max_event_tags = 2;
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), &lim, err, sizeof err, id), -1);
    CHECK(strstr(err, "too many tags") != NULL);
    CHECK_EQ_STR(id, "71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62");
    lim = (event_limits){0};
    lim.max_tag_strings = 2;
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), &lim, err, sizeof err, id), -1);
    CHECK(strstr(err, "strings") != NULL);
    lim = (event_limits){0};
    lim.max_content_length = (uint32_t)strlen(VEC_A_CONTENT);
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), &lim, err, sizeof err, id), 0);
    event_free(&ev);
    lim.max_content_length--;
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), &lim, err, sizeof err, id), -1);
    CHECK(strstr(err, "content") != NULL);
    lim = (event_limits){0};
    lim.max_json_length = (uint32_t)strlen(a) - 1;
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), &lim, err, sizeof err, id), -1);
    CHECK(strstr(err, "too large") != NULL);
}

static void test_prefix(void) {
    event ev;
    char err[256], id[65], buf[8192];
    size_t used = 0;
    const char *a = J(VEC_A);
    snprintf(buf, sizeof buf, "%s ,\"rest\"]", a);
    CHECK_EQ_INT(event_parse_prefix(&ev, buf, strlen(buf), &used, NULL, err, sizeof err, id), 0);
    CHECK_EQ_INT(used, strlen(a));
    CHECK_EQ_STR(id, "71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62");
    event_free(&ev);
    /* event_parse refuses the same text (trailing data) but gives the claimed id. */
    CHECK_EQ_INT(event_parse(&ev, buf, strlen(buf), NULL, err, sizeof err, id), -1);
    CHECK(strstr(err, "trailing") != NULL);
    CHECK_EQ_STR(id, "71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62");
    /* max_json_length applies to the object, not to what follows it. */
    event_limits lim = {0};
    lim.max_json_length = (uint32_t)strlen(a);
    CHECK_EQ_INT(event_parse_prefix(&ev, buf, strlen(buf), &used, &lim, err, sizeof err, id), 0);
    event_free(&ev);
    lim.max_json_length--;
    CHECK_EQ_INT(event_parse_prefix(&ev, buf, strlen(buf), &used, &lim, err, sizeof err, id), -1);
    CHECK(strstr(err, "too large") != NULL);
    /* Success fills id_hex_out in event_parse too. */
    CHECK_EQ_INT(event_parse(&ev, a, strlen(a), NULL, err, sizeof err, id), 0);
    CHECK_EQ_STR(id, "71a0e530cce813cd719eaa3beebfb6476c8d712fd779e5a4ee4c6e0819992b62");
    event_free(&ev);
    /* Long strings cross the 16-byte scanning blocks with escapes at every offset. */
    uint8_t sk[32];
    memset(sk, 3, 32);
    for (int off = 0; off < 40; off++) {
        char content[64];
        memset(content, 'x', sizeof content);
        content[off] = off % 3 == 0 ? '"' : off % 3 == 1 ? '\\' : '\x01';
        content[off + 1] = (char)0xc3;
        content[off + 2] = (char)0xa9;
        event b, c;
        if (event_build_signed(&b, sk, 1, 1, NULL, 0, content, sizeof content) != 0) { CHECK(0); continue; }
        int rc = event_parse(&c, b.json, b.json_len, NULL, err, sizeof err, id);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            CHECK(c.content.len == sizeof content && memcmp(c.content.ptr, content, sizeof content) == 0);
            CHECK(c.json_len == b.json_len && memcmp(c.json, b.json, b.json_len) == 0);
            event_free(&c);
        }
        event_free(&b);
    }
}

/* event_pubkey_of agrees with the pubkey event_build_signed puts in an event,
 * and refuses an invalid secret key (zero). */
static void test_pubkey_of(void) {
    uint8_t sk[32], pk[32], zero[32] = {0};
    for (int i = 0; i < 32; i++) sk[i] = (uint8_t)(i * 7 + 1);
    event ev;
    CHECK_EQ_INT(event_build_signed(&ev, sk, 1700000000, 1, NULL, 0, "x", 1), 0);
    CHECK_EQ_INT(event_pubkey_of(sk, pk), 0);
    CHECK_EQ_MEM(pk, ev.pubkey, 32);
    event_free(&ev);
    CHECK_EQ_INT(event_pubkey_of(zero, pk), -1);
}

/* The per-thread cache of parsed public keys never lets a key stand in for
 * another: two authors whose keys share a cache slot, checked in turn, each
 * verify only their own events; a bad signature under a cached key still
 * fails, and so does another author's key with a cached author's signature. */
static void test_pubkey_cache(void) {
    event a, b, first[600];
    uint8_t sk[32];
    int slot_of_first[512], found = -1, n = 0;
    memset(slot_of_first, -1, sizeof slot_of_first);
    memset(sk, 3, 32);
    for (; n < 600 && found < 0; n++) {
        sk[0] = (uint8_t)n;
        sk[1] = (uint8_t)(n >> 8);
        CHECK_EQ_INT(event_build_signed(&first[n], sk, 1700000000, 1, NULL, 0, "cache", 5), 0);
        int slot = (first[n].pubkey[0] | first[n].pubkey[1] << 8) % 512;
        if (slot_of_first[slot] >= 0) found = slot;
        else slot_of_first[slot] = n;
    }
    CHECK(found >= 0);
    if (found < 0) return;
    a = first[slot_of_first[found]];
    b = first[n - 1];
    CHECK(memcmp(a.pubkey, b.pubkey, 32) != 0);
    for (int round = 0; round < 3; round++) {
        CHECK(event_verify_sig(&a));
        CHECK(event_verify_sig(&b));
    }
    uint8_t saved[32];
    memcpy(saved, a.pubkey, 32);
    memcpy(a.pubkey, b.pubkey, 32); /* b's key (now cached) with a's signature */
    CHECK(!event_verify_sig(&a));
    memcpy(a.pubkey, saved, 32);
    CHECK(event_verify_sig(&a));
    a.sig[3] ^= 0x40;
    CHECK(!event_verify_sig(&a)); /* a's key is cached, the signature is wrong */
    a.sig[3] ^= 0x40;
    CHECK(event_verify_sig(&a));
    a.pubkey[31] ^= 1; /* same slot as a, another key (maybe not on the curve) */
    CHECK(!event_verify_sig(&a));
    a.pubkey[31] ^= 1;
    CHECK(event_verify_sig(&a));
    for (int i = 0; i < n; i++) event_free(&first[i]);
}

static void test_helpers(void) {
    uint8_t id[32] = {0};
    CHECK_EQ_INT(event_pow_bits(id), 256);
    id[0] = 0x80;
    CHECK_EQ_INT(event_pow_bits(id), 0);
    id[0] = 0; id[1] = 0; id[2] = 0x0f;
    CHECK_EQ_INT(event_pow_bits(id), 20);
    id[2] = 0x01;
    CHECK_EQ_INT(event_pow_bits(id), 23);
    CHECK_EQ_INT(event_kind_class(0), EVENT_CLASS_REPLACEABLE);
    CHECK_EQ_INT(event_kind_class(1), EVENT_CLASS_REGULAR);
    CHECK_EQ_INT(event_kind_class(3), EVENT_CLASS_REPLACEABLE);
    CHECK_EQ_INT(event_kind_class(9999), EVENT_CLASS_REGULAR);
    CHECK_EQ_INT(event_kind_class(10000), EVENT_CLASS_REPLACEABLE);
    CHECK_EQ_INT(event_kind_class(19999), EVENT_CLASS_REPLACEABLE);
    CHECK_EQ_INT(event_kind_class(20000), EVENT_CLASS_EPHEMERAL);
    CHECK_EQ_INT(event_kind_class(29999), EVENT_CLASS_EPHEMERAL);
    CHECK_EQ_INT(event_kind_class(30000), EVENT_CLASS_ADDRESSABLE);
    CHECK_EQ_INT(event_kind_class(39999), EVENT_CLASS_ADDRESSABLE);
    CHECK_EQ_INT(event_kind_class(40000), EVENT_CLASS_REGULAR);
    /* Invalid expiration values read as absent; first d tag wins; ["d"] alone gives "". */
    uint8_t sk[32];
    memset(sk, 9, 32);
    const char *t0[] = {"expiration", "12x", NULL};
    const char *t1[] = {"d", NULL};
    const char *t2[] = {"d", "second", NULL};
    const char *const *tags[] = {t0, t1, t2};
    event ev;
    CHECK_EQ_INT(event_build_signed(&ev, sk, 10, 30001, tags, 3, "", 0), 0);
    CHECK_EQ_INT(ev.expiration, 0);
    CHECK_EQ_INT(ev.d_tag.len, 0);
    CHECK(ev.d_tag.ptr != NULL);
    CHECK(!ev.is_protected);
    event_free(&ev);
    event_free(&ev); /* double free of a freed event is harmless */
}

UNIT_MAIN(
    test_pubkey_of();
    test_vector_a();
    test_vector_b_stringify();
    test_vector_c_strict_raw();
    test_vector_d_nul();
    test_build_signed();
    test_wrong_id_sig();
    test_rejections();
    test_limits();
    test_prefix();
    test_helpers();
    test_pubkey_cache();
)
