/* Unit tests for relay/message.c: every verb, and that each error maps to the
 * answer NIP-01 expects (NOTICE / OK false with the id / CLOSED with the subid). */
#include "message.h"
#include "unit.h"

static message_limits lim;
static char ev_json[4096];
static char ev_id[65];

static message_error parse(client_message *m, const char *data, char *err) {
    return message_parse(m, data, strlen(data), &lim, err, 256);
}

/* Parses, checks the answer kind and (optionally) a word in the error, frees. */
static void expect(const char *data, message_error want, const char *word, int line) {
    client_message m;
    char err[256] = "";
    message_error got = parse(&m, data, err);
    bool ok = got == want;
    if (want != MSG_OK && (strncmp(err, "invalid: ", 9) != 0 || (word && !strstr(err, word)))) ok = false;
    if (ok) unit_passed++;
    else {
        unit_failed++;
        printf("FAIL %s:%d: %.80s: want %d ('%s'), got %d ('%s')\n", __FILE__, line, data, want, word ? word : "",
               got, err);
    }
    message_free(&m);
}
#define EXPECT(data, want, word) expect((data), (want), (word), __LINE__)

static void test_event_auth(void) {
    client_message m;
    char err[256], msg[8192];
    snprintf(msg, sizeof msg, "[\"EVENT\",%s]", ev_json);
    CHECK_EQ_INT(parse(&m, msg, err), MSG_OK);
    CHECK_EQ_INT(m.type, MSG_EVENT);
    CHECK_EQ_STR(m.id_hex, ev_id);
    CHECK(m.ev.json != NULL && strcmp(m.ev.json, ev_json) == 0);
    CHECK(event_verify_sig(&m.ev));
    message_free(&m);
    message_free(&m); /* idempotent */
    snprintf(msg, sizeof msg, " [ \"AUTH\" , %s ] \n", ev_json);
    CHECK_EQ_INT(parse(&m, msg, err), MSG_OK);
    CHECK_EQ_INT(m.type, MSG_AUTH);
    message_free(&m);

    /* Bad id: OK false with the claimed id. */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s", ev_json);
    char *content = strstr(bad, "\"content\":\"");
    content[11] ^= 1;
    snprintf(msg, sizeof msg, "[\"EVENT\",%s]", bad);
    CHECK_EQ_INT(parse(&m, msg, err), MSG_ERR_OK_FALSE);
    CHECK_EQ_STR(m.id_hex, ev_id);
    CHECK(strncmp(err, "invalid: ", 9) == 0);
    message_free(&m);
    /* Semantic error in a field after the id: still OK false with the id. */
    snprintf(bad, sizeof bad, "%s", ev_json);
    char *kind = strstr(bad, "\"kind\":1");
    memcpy(kind, "\"kind\":\"", 8);
    char *comma = strchr(kind + 8, ',');
    memmove(comma + 1, comma, strlen(comma) + 1);
    *comma = '"';
    snprintf(msg, sizeof msg, "[\"EVENT\",%s]", bad);
    CHECK_EQ_INT(parse(&m, msg, err), MSG_ERR_OK_FALSE);
    CHECK_EQ_STR(m.id_hex, ev_id);
    CHECK(strstr(err, "kind") != NULL);
    message_free(&m);
    /* Extra element after the event. */
    snprintf(msg, sizeof msg, "[\"EVENT\",%s,1]", ev_json);
    CHECK_EQ_INT(parse(&m, msg, err), MSG_ERR_OK_FALSE);
    CHECK_EQ_STR(m.id_hex, ev_id);
    message_free(&m);
    /* Malformed JSON inside the event: NOTICE. */
    snprintf(msg, sizeof msg, "[\"EVENT\",%s", ev_json);
    EXPECT(msg, MSG_ERR_NOTICE, NULL);
    EXPECT("[\"EVENT\"]", MSG_ERR_NOTICE, "missing event");
    EXPECT("[\"EVENT\",\"x\"]", MSG_ERR_NOTICE, "object");
    EXPECT("[\"EVENT\",{}]", MSG_ERR_NOTICE, "missing");
    EXPECT("[\"EVENT\",{\"id\":\"AB\"}]", MSG_ERR_NOTICE, "id");
    EXPECT("[\"AUTH\",[]]", MSG_ERR_NOTICE, "object");
    /* Limits reach the event parser. */
    lim.event.max_content_length = 1;
    snprintf(msg, sizeof msg, "[\"EVENT\",%s]", ev_json);
    CHECK_EQ_INT(parse(&m, msg, err), MSG_ERR_OK_FALSE);
    CHECK(strstr(err, "content") != NULL);
    message_free(&m);
    lim.event.max_content_length = 0;
}

static void test_req_count_close(void) {
    client_message m;
    char err[256];
    CHECK_EQ_INT(parse(&m, "[\"REQ\",\"sub1\",{\"kinds\":[1]},{\"#t\":[\"x\"],\"limit\":10000}]", err), MSG_OK);
    CHECK_EQ_INT(m.type, MSG_REQ);
    CHECK_EQ_STR(m.subid, "sub1");
    CHECK_EQ_INT(m.subid_len, 4);
    CHECK_EQ_INT(m.filter_count, 2);
    CHECK_EQ_INT(m.filters[0].kind_count, 1);
    CHECK_EQ_INT(m.filters[1].limit, 500); /* clamped */
    message_free(&m);
    CHECK(m.filters == NULL);
    CHECK_EQ_INT(parse(&m, "[\"COUNT\",\"c\\u0041\",{}]", err), MSG_OK);
    CHECK_EQ_INT(m.type, MSG_COUNT);
    CHECK_EQ_STR(m.subid, "cA");
    message_free(&m);
    CHECK_EQ_INT(parse(&m, "[\"CLOSE\",\"sub1\"]", err), MSG_OK);
    CHECK_EQ_INT(m.type, MSG_CLOSE);
    CHECK_EQ_STR(m.subid, "sub1");
    message_free(&m);

    /* Filter errors answer CLOSED with the subid. */
    CHECK_EQ_INT(parse(&m, "[\"REQ\",\"s2\",{\"kinds\":[1]},{\"search\":\"x\"}]", err), MSG_ERR_CLOSED);
    CHECK_EQ_STR(m.subid, "s2");
    CHECK(strstr(err, "invalid: ") == err && strstr(err, "search") != NULL);
    message_free(&m);
    EXPECT("[\"REQ\",\"s\",{\"foo\":1}]", MSG_ERR_CLOSED, "unknown");
    EXPECT("[\"REQ\",\"s\",1]", MSG_ERR_CLOSED, "object");
    EXPECT("[\"REQ\",\"s\"]", MSG_ERR_CLOSED, "filter");
    EXPECT("[\"COUNT\",\"s\",{\"ids\":[\"x\"]}]", MSG_ERR_CLOSED, "ids");
    EXPECT("[\"REQ\",\"s\",{},{},{}]", MSG_ERR_CLOSED, "too many filters");
    EXPECT("[\"REQ\",\"s\",{},{}]", MSG_OK, NULL);
    /* Subscription ids. */
    EXPECT("[\"REQ\",\"\",{}]", MSG_ERR_NOTICE, "empty");
    EXPECT("[\"REQ\",1,{}]", MSG_ERR_NOTICE, "string");
    EXPECT("[\"REQ\",\"a\\u0001\",{}]", MSG_ERR_NOTICE, "printable");
    EXPECT("[\"REQ\",\"a\\u0000b\",{}]", MSG_ERR_NOTICE, "printable");
    EXPECT("[\"REQ\"]", MSG_ERR_NOTICE, "subscription");
    EXPECT("[\"REQ\",\"0123456789abcdef\",{}]", MSG_OK, NULL);
    EXPECT("[\"REQ\",\"0123456789abcdefg\",{}]", MSG_ERR_NOTICE, "too long");
    EXPECT("[\"REQ\",\"\xc3\xa9t\xc3\xa9\",{}]", MSG_OK, NULL);
    EXPECT("[\"CLOSE\"]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"CLOSE\",\"a\",\"b\"]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"CLOSE\",\"\"]", MSG_ERR_NOTICE, "empty");
    EXPECT("[\"CLOSE\",{}]", MSG_ERR_NOTICE, "string");
    /* 256 is the hard ceiling even with a larger configured limit. */
    lim.max_subid_length = 1000;
    char big[600];
    memset(big, 0, sizeof big);
    strcpy(big, "[\"CLOSE\",\"");
    memset(big + 10, 'a', 256);
    strcat(big, "\"]");
    EXPECT(big, MSG_OK, NULL);
    memset(big + 10, 'a', 257);
    strcpy(big + 267, "\"]");
    EXPECT(big, MSG_ERR_NOTICE, "too long");
    lim.max_subid_length = 16;
}

static void test_garbage(void) {
    EXPECT("", MSG_ERR_NOTICE, NULL);
    EXPECT("   ", MSG_ERR_NOTICE, NULL);
    EXPECT("{}", MSG_ERR_NOTICE, "array");
    EXPECT("[]", MSG_ERR_NOTICE, NULL);
    EXPECT("[1]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"HELLO\"]", MSG_ERR_NOTICE, "unknown");
    EXPECT("[\"event\",{}]", MSG_ERR_NOTICE, "unknown"); /* verbs are case-sensitive */
    EXPECT("[\"REQ\",\"s\",{}] x", MSG_ERR_NOTICE, "trailing");
    EXPECT("[\"REQ\",\"s\",{}]]", MSG_ERR_NOTICE, "trailing");
    EXPECT("[\"REQ\",\"s\",{},]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"REQ\" \"s\"]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"REQ\",\"s\",{\"kinds\":[1]}", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"CLOSE\",\"\\x\"]", MSG_ERR_NOTICE, "escape");
    EXPECT("[\"CLOSE\",\"\xff\"]", MSG_ERR_NOTICE, "UTF-8");
    EXPECT("\xef\xbb\xbf[\"CLOSE\",\"a\"]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"CLOSE\",\"a\",1.5e+3,-0.1,true,false,null]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"CLOSE\",\"a\",01]", MSG_ERR_NOTICE, NULL);
    EXPECT("[\"CLOSE\",\"a\",tru]", MSG_ERR_NOTICE, NULL);
    /* Deep nesting anywhere. */
    static char deep[300000];
    strcpy(deep, "[\"REQ\",\"s\",");
    size_t o = strlen(deep);
    for (int i = 0; i < 100000; i++) deep[o++] = '[';
    for (int i = 0; i < 100000; i++) deep[o++] = ']';
    deep[o++] = ']';
    deep[o] = 0;
    EXPECT(deep, MSG_ERR_NOTICE, "deep");
    o = 0;
    for (int i = 0; i < 200000; i++) deep[o++] = '[';
    deep[o] = 0;
    EXPECT(deep, MSG_ERR_NOTICE, NULL);
    /* Too many elements. */
    o = (size_t)snprintf(deep, sizeof deep, "[\"REQ\",\"s\"");
    for (int i = 0; i < 300; i++) o += (size_t)snprintf(deep + o, sizeof deep - o, ",{}");
    snprintf(deep + o, sizeof deep - o, "]");
    client_message m;
    char err[256];
    message_error e = parse(&m, deep, err);
    CHECK(e == MSG_ERR_NOTICE || e == MSG_ERR_CLOSED);
    message_free(&m);
    /* Embedded NUL in the frame is just a byte: rejected, not truncated. */
    static const char nul_msg[] = "[\"CLOSE\",\"a\"]\0junk";
    CHECK_EQ_INT(message_parse(&m, nul_msg, sizeof nul_msg - 1, &lim, err, sizeof err), MSG_ERR_NOTICE);
    message_free(&m);
    /* Every prefix of a valid message fails cleanly. */
    char msg[8192];
    snprintf(msg, sizeof msg, "[\"EVENT\",%s]", ev_json);
    int ok = 0;
    for (size_t i = 0; i < strlen(msg); i++) {
        if (message_parse(&m, msg, i, &lim, err, sizeof err) == MSG_OK) ok++;
        message_free(&m);
    }
    CHECK_EQ_INT(ok, 0);
    /* A NULL limits pointer means no limits. */
    CHECK_EQ_INT(message_parse(&m, "[\"REQ\",\"s\",{},{},{},{}]", 23, NULL, err, sizeof err), MSG_OK);
    message_free(&m);
}

static void test_write_string(void) {
    char out[64];
    size_t n = json_write_string(out, sizeof out, "a\"b\\c\n\x01\x7f\xc3\xa9", 10);
    const char want[] = "\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\"";
    CHECK_EQ_INT(n, sizeof want - 1);
    CHECK_EQ_MEM(out, want, sizeof want - 1);
    CHECK_EQ_INT(out[n], 0);
    n = json_write_string(out, sizeof out, "x\0y", 3);
    CHECK_EQ_INT(n, 10);
    CHECK_EQ_MEM(out, "\"x\\u0000y\"", 10);
    CHECK_EQ_INT(json_write_string(out, 4, "abc", 3), 0);
    CHECK_EQ_INT(json_write_string(out, 5, "abc", 3), 5);
    CHECK_EQ_INT(json_write_string(out, 7, "a\x01", 2), 0);
    CHECK_EQ_INT(json_write_string(out, 2, "", 0), 2);
    CHECK_EQ_INT(json_write_string(out, 1, "", 0), 0);
    /* Round trip through the parser: a CLOSE with the written id gives it back. */
    const char id[] = "s\"u\\b\tz\xc3\xa9";
    char msg[128] = "[\"CLOSE\",";
    n = json_write_string(msg + 9, sizeof msg - 12, id, sizeof id - 1);
    strcpy(msg + 9 + n, "]");
    client_message m;
    char err[256];
    CHECK_EQ_INT(parse(&m, msg, err), MSG_ERR_NOTICE); /* \t is not printable */
    message_free(&m);
    const char id2[] = "s\"u\\b/z\xc3\xa9";
    n = json_write_string(msg + 9, sizeof msg - 12, id2, sizeof id2 - 1);
    strcpy(msg + 9 + n, "]");
    CHECK_EQ_INT(parse(&m, msg, err), MSG_OK);
    CHECK_EQ_STR(m.subid, id2);
    message_free(&m);
}

static int setup(void) {
    lim.max_filters = 2;
    lim.max_subid_length = 16;
    lim.filter.max_limit = 500;
    lim.filter.max_values = 100;
    uint8_t sk[32];
    memset(sk, 0x42, 32);
    const char *t0[] = {"t", "x", NULL};
    const char *const *tags[] = {t0};
    event ev;
    if (event_build_signed(&ev, sk, 1700000000, 1, tags, 1, "hello", 5) != 0) return -1;
    snprintf(ev_json, sizeof ev_json, "%s", ev.json);
    memcpy(ev_id, ev.json + 7, 64);
    ev_id[64] = 0;
    event_free(&ev);
    return 0;
}

UNIT_MAIN(
    if (setup() != 0) return 1;
    test_event_auth();
    test_req_count_close();
    test_garbage();
    test_write_string();
)
