/* Unit tests for relay/auth.c (NIP-42 AUTH event checks) and relay/event_rules.c
 * (created_at window, NIP-40 expiration, NIP-13 minimum PoW). */
#include "auth.h"
#include "event_rules.h"
#include "unit.h"
#include <time.h>

static const uint8_t seckey[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void build_auth(event *ev, uint32_t kind, int64_t created_at, const char *challenge, const char *relay) {
    const char *t1[] = {"challenge", challenge, NULL};
    const char *t2[] = {"relay", relay, NULL};
    const char *const *tags[] = {t1, t2};
    int rc = event_build_signed(ev, seckey, created_at, kind, tags, 2, "", 0);
    CHECK_EQ_INT(rc, 0);
}

static bool check(const char *challenge, const char *relay, int64_t age, uint32_t kind,
                  const char *relay_url, const char *host, char *msg) {
    event ev;
    int64_t now = 1700000000;
    build_auth(&ev, kind, now - age, challenge, relay);
    bool ok = auth_check_event(&ev, "abc123", relay_url, host, now, msg, 256);
    event_free(&ev);
    return ok;
}

static void test_auth(void) {
    char msg[256];
    /* Host header matching (relay_url empty) */
    CHECK(check("abc123", "ws://127.0.0.1:7777", 0, 22242, "", "127.0.0.1:7777", msg));
    CHECK(check("abc123", "ws://127.0.0.1:7777/", 0, 22242, "", "127.0.0.1:7777", msg));
    CHECK(check("abc123", "WS://Relay.Example", 0, 22242, "", "relay.example", msg));
    CHECK(check("abc123", "wss://relay.example", 0, 22242, "", "relay.example:443", msg));
    CHECK(check("abc123", "ws://[::1]:7777", 0, 22242, "", "[::1]:7777", msg));
    CHECK(!check("abc123", "ws://127.0.0.1:7778", 0, 22242, "", "127.0.0.1:7777", msg));
    CHECK(strncmp(msg, "invalid: ", 9) == 0);
    CHECK(!check("abc123", "wss://relay.example", 0, 22242, "", "relay.example:80", msg));
    CHECK(!check("abc123", "ws://elsewhere.example:7777", 0, 22242, "", "127.0.0.1:7777", msg));
    CHECK(!check("abc123", "http://127.0.0.1:7777", 0, 22242, "", "127.0.0.1:7777", msg));
    CHECK(!check("abc123", "ws://127.0.0.1:7777", 0, 22242, "", "", msg));
    /* configured relay_url */
    CHECK(check("abc123", "wss://relay.example/", 0, 22242, "wss://Relay.Example", "ignored", msg));
    CHECK(!check("abc123", "wss://relay.example/other", 0, 22242, "wss://relay.example", "relay.example", msg));
    /* challenge, kind, time */
    CHECK(!check("abc124", "ws://h:1", 0, 22242, "", "h:1", msg));
    CHECK(strstr(msg, "challenge") != NULL);
    CHECK(!check("abc123", "ws://h:1", 0, 1, "", "h:1", msg));
    CHECK(check("abc123", "ws://h:1", 599, 22242, "", "h:1", msg));
    CHECK(!check("abc123", "ws://h:1", 601, 22242, "", "h:1", msg));
    CHECK(!check("abc123", "ws://h:1", -601, 22242, "", "h:1", msg));
    /* challenges are fresh */
    char a[33], b[33];
    auth_new_challenge(a);
    auth_new_challenge(b);
    CHECK_EQ_INT(strlen(a), 32);
    CHECK(strcmp(a, b) != 0);
}

static void test_rules(void) {
    relay_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.created_at_lower_limit = 3600;
    lim.created_at_upper_limit = 900;
    int64_t now = 1700000000;
    char msg[256];
    event ev;
    CHECK_EQ_INT(event_build_signed(&ev, seckey, now - 10, 1, NULL, 0, "hi", 2), 0);
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    ev.created_at = now - 3601;
    CHECK(!event_rules_check(&lim, &ev, now, msg, sizeof msg));
    CHECK(strncmp(msg, "invalid: created_at", 19) == 0);
    ev.created_at = now + 901;
    CHECK(!event_rules_check(&lim, &ev, now, msg, sizeof msg));
    ev.created_at = now + 899;
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    ev.expiration = now;
    CHECK(!event_rules_check(&lim, &ev, now, msg, sizeof msg));
    CHECK(strstr(msg, "expired") != NULL);
    ev.expiration = now + 1;
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    /* PoW: require one more bit than the id has */
    int bits = event_pow_bits(ev.id);
    lim.min_pow_difficulty = bits + 1;
    CHECK(!event_rules_check(&lim, &ev, now, msg, sizeof msg));
    CHECK(strncmp(msg, "pow: ", 5) == 0);
    lim.min_pow_difficulty = bits;
    CHECK(bits == 0 || event_rules_check(&lim, &ev, now, msg, sizeof msg));
    event_free(&ev);
}

/* The config accepts any non-negative created_at limit up to LLONG_MAX (a way
 * to say "no limit"): the window check must not overflow (UBSan aborts this
 * test) nor wrap around and refuse every event. */
static void test_rules_huge_limits(void) {
    relay_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.created_at_lower_limit = INT64_MAX;
    lim.created_at_upper_limit = INT64_MAX;
    int64_t now = 1700000000;
    char msg[256] = "";
    event ev;
    CHECK_EQ_INT(event_build_signed(&ev, seckey, now, 1, NULL, 0, "hi", 2), 0);
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    ev.created_at = 0;
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    ev.created_at = INT64_MAX;
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    lim.created_at_upper_limit = INT64_MAX - now; /* exactly at the limit: still accepted */
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    lim.created_at_upper_limit = INT64_MAX - now - 1;
    CHECK(!event_rules_check(&lim, &ev, now, msg, sizeof msg));
    lim.created_at_lower_limit = now; /* created_at 0 is exactly now seconds old */
    ev.created_at = 0;
    CHECK(event_rules_check(&lim, &ev, now, msg, sizeof msg));
    lim.created_at_lower_limit = now - 1;
    CHECK(!event_rules_check(&lim, &ev, now, msg, sizeof msg));
    event_free(&ev);
}

UNIT_MAIN(test_auth(); test_rules(); test_rules_huge_limits())
