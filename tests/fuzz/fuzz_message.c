/* libFuzzer target for the client message parser (make fuzz).
 * Drives message_parse, filter_match and message_free, plus the trusted event
 * parser on the raw input, and checks invariants: an accepted event re-parses
 * from its own served json to the same bytes; a subscription id written with
 * json_write_string parses back unchanged. */
#include "message.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static event sample;
static filter sample_filters[3];
static message_limits lim;

static void init_once(void) {
    static int done;
    if (done) return;
    done = 1;
    lim.max_filters = 16;
    lim.max_subid_length = 64;
    lim.filter.max_limit = 500;
    lim.filter.max_values = 256;
    lim.event.max_event_tags = 2000;
    lim.event.max_content_length = 65536;
    uint8_t sk[32];
    memset(sk, 7, sizeof sk);
    const char *t0[] = {"e", "5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36", NULL};
    const char *t1[] = {"t", "nostr", NULL};
    const char *t2[] = {"d", "x", NULL};
    const char *const *tags[] = {t0, t1, t2};
    if (event_build_signed(&sample, sk, 1700000000, 30023, tags, 3, "hello\x01", 6) != 0) abort();
    const char *fs[] = {"{\"kinds\":[1,30023],\"#t\":[\"nostr\"]}", "{\"since\":1,\"until\":2000000000,\"#d\":[\"x\"]}",
                        "{\"#e\":[\"a\",\"5c83da77af1dec6d7289834998ad7aafbd9e2191396d75ec3cc27f5a77226f36\"]}"};
    char err[256];
    for (int i = 0; i < 3; i++)
        if (filter_parse(&sample_filters[i], fs[i], strlen(fs[i]), NULL, err, sizeof err) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    client_message m;
    char err[256];
    message_error e = message_parse(&m, (const char *)data, size, &lim, err, sizeof err);
    if (e != MSG_OK && strncmp(err, "invalid: ", 9) != 0 && strncmp(err, "error: ", 7) != 0) abort();
    if (e == MSG_OK) {
        if (m.type == MSG_EVENT || m.type == MSG_AUTH) {
            for (int i = 0; i < 3; i++) (void)filter_match(&sample_filters[i], &m.ev);
            event again;
            char id[65];
            if (event_parse(&again, m.ev.json, m.ev.json_len, NULL, err, sizeof err, id) != 0) abort();
            if (again.json_len != m.ev.json_len || memcmp(again.json, m.ev.json, m.ev.json_len) != 0) abort();
            event_free(&again);
            (void)event_verify_sig(&m.ev);
        } else {
            for (uint32_t i = 0; i < m.filter_count; i++) (void)filter_match(&m.filters[i], &sample);
            char out[1024];
            size_t n = json_write_string(out, sizeof out, m.subid, m.subid_len);
            if (n == 0) abort();
            char msg[1100];
            snprintf(msg, sizeof msg, "[\"CLOSE\",%.*s]", (int)n, out);
            client_message c;
            if (message_parse(&c, msg, strlen(msg), &lim, err, sizeof err) != MSG_OK) abort();
            if (c.subid_len != m.subid_len || memcmp(c.subid, m.subid, m.subid_len) != 0) abort();
            message_free(&c);
        }
    }
    message_free(&m);
    /* The same bytes as a stored record: the trusted path must not crash either. */
    event t;
    if (event_parse_trusted(&t, (const char *)data, size) == 0) {
        for (int i = 0; i < 3; i++) (void)filter_match(&sample_filters[i], &t);
        event_free(&t);
    }
    return 0;
}
