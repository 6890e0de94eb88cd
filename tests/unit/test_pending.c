/* Unit tests for relay/pending.c: the summary of answered, uncommitted events
 * says "may match" for every filter a pending event matches or whose stored
 * results a pending deletion or replacement changes, and "no" for filters no
 * pending event concerns (those queries do not wait for a commit). */
#include "hex.h"
#include "pending.h"
#include "unit.h"
#include <stdio.h>

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_b[32] = {7, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 99};

/* May the pending set change the results of this one filter (JSON)? */
static int may(pending_set *p, const char *json) {
    filter f;
    filter_limits fl = {0, 0, 0};
    char err[256];
    if (filter_parse(&f, json, strlen(json), &fl, err, sizeof err) != 0) {
        printf("filter %s: %s\n", json, err);
        return -1;
    }
    int r = pending_may_match(p, &f, 1) ? 1 : 0;
    filter_free(&f);
    return r;
}

static void test_pending(void) {
    event note, profile, deletion, other;
    static const char *const t1[] = {"t", "music", NULL};
    static const char *const p1[] = {"p", "ab", NULL};
    static const char *const *tags1[] = {t1, p1};
    CHECK_EQ_INT(event_build_signed(&note, key_a, 1700000000, 1, tags1, 2, "hello", 5), 0);
    CHECK_EQ_INT(event_build_signed(&profile, key_b, 1700000050, 0, NULL, 0, "{}", 2), 0);
    CHECK_EQ_INT(event_build_signed(&other, key_b, 1600000000, 1, NULL, 0, "old", 3), 0);
    char a_hex[65], b_hex[65], note_id[65], other_id[65];
    hex_encode(note.pubkey, 32, a_hex);
    hex_encode(profile.pubkey, 32, b_hex);
    hex_encode(note.id, 32, note_id);
    hex_encode(other.id, 32, other_id);
    static const char *const e1[] = {"e", "00", NULL};
    static const char *const *tags5[] = {e1};
    CHECK_EQ_INT(event_build_signed(&deletion, key_a, 1700000100, 5, tags5, 1, "", 0), 0);

    pending_set *p = pending_new();
    char f[512];
    /* nothing pending: nothing waits */
    snprintf(f, sizeof f, "{\"ids\":[\"%s\"]}", note_id);
    CHECK_EQ_INT(may(p, f), 0);
    CHECK_EQ_INT(may(p, "{\"kinds\":[1]}"), 0);

    /* a pending note: filters it matches wait, the others do not */
    CHECK_EQ_INT(pending_add(p, &note), 0);
    CHECK_EQ_INT(may(p, f), 1);
    snprintf(f, sizeof f, "{\"ids\":[\"%s\"]}", other_id);
    CHECK_EQ_INT(may(p, f), 0);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1]}", a_hex);
    CHECK_EQ_INT(may(p, f), 1);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1]}", b_hex);
    CHECK_EQ_INT(may(p, f), 0);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[7]}", a_hex);
    CHECK_EQ_INT(may(p, f), 0);
    CHECK_EQ_INT(may(p, "{\"kinds\":[1]}"), 1);
    CHECK_EQ_INT(may(p, "{\"#t\":[\"music\"]}"), 1);
    CHECK_EQ_INT(may(p, "{\"#t\":[\"jazz\"]}"), 0);
    CHECK_EQ_INT(may(p, "{\"#p\":[\"ab\"],\"kinds\":[1]}"), 1);
    CHECK_EQ_INT(may(p, "{\"#q\":[\"ab\"]}"), 0);
    CHECK_EQ_INT(may(p, "{\"since\":1700000001}"), 0);
    CHECK_EQ_INT(may(p, "{\"until\":1699999999}"), 0);
    CHECK_EQ_INT(may(p, "{\"since\":1700000000,\"until\":1700000000}"), 1);
    CHECK_EQ_INT(may(p, "{}"), 1);
    /* several filters are OR'ed */
    {
        filter fs[2];
        filter_limits fl = {0, 0, 0};
        char err[128];
        const char *x = "{\"kinds\":[7]}", *y = "{\"#t\":[\"music\"]}";
        CHECK_EQ_INT(filter_parse(&fs[0], x, strlen(x), &fl, err, sizeof err), 0);
        CHECK_EQ_INT(filter_parse(&fs[1], y, strlen(y), &fl, err, sizeof err), 0);
        CHECK(pending_may_match(p, fs, 2));
        CHECK(!pending_may_match(p, fs, 1));
        filter_free(&fs[0]);
        filter_free(&fs[1]);
    }

    /* a pending replacement (kind 0 of b) changes b's stored kind 0, whatever
     * its created_at; not b's notes */
    CHECK_EQ_INT(pending_add(p, &profile), 0);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[0],\"until\":1600000000}", b_hex);
    CHECK_EQ_INT(may(p, f), 1);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"]}", b_hex);
    CHECK_EQ_INT(may(p, f), 1);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1],\"until\":1600000000}", b_hex);
    CHECK_EQ_INT(may(p, f), 0);
    /* a filter without authors may see any replaced version */
    CHECK_EQ_INT(may(p, "{\"kinds\":[1],\"until\":1600000000}"), 1);

    /* clearing: everything is visible, nothing waits */
    pending_clear(p);
    CHECK_EQ_INT(may(p, "{}"), 0);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[0]}", b_hex);
    CHECK_EQ_INT(may(p, f), 0);

    /* a pending deletion by a: any of a's stored events may disappear, of any
     * kind or date; b's do not */
    CHECK_EQ_INT(pending_add(p, &deletion), 0);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1],\"until\":1000}", a_hex);
    CHECK_EQ_INT(may(p, f), 1);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1],\"until\":1000}", b_hex);
    CHECK_EQ_INT(may(p, f), 0);
    snprintf(f, sizeof f, "{\"ids\":[\"%s\"]}", other_id); /* an id, author unknown: may be a's */
    CHECK_EQ_INT(may(p, f), 1);

    /* many events: the set grows and still finds each author */
    pending_clear(p);
    int missing = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t k[32];
        memcpy(k, key_a, 32);
        k[0] = (uint8_t)(i & 0xff);
        k[1] = (uint8_t)(i >> 8);
        event ev;
        if (event_build_signed(&ev, k, 1700000000 + i, 1, NULL, 0, "x", 1) != 0) { missing++; continue; }
        if (pending_add(p, &ev) != 0) missing++;
        if (i % 500 == 0) {
            char pk[65];
            hex_encode(ev.pubkey, 32, pk);
            snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1]}", pk);
            if (may(p, f) != 1) missing++;
        }
        event_free(&ev);
    }
    CHECK_EQ_INT(missing, 0);
    snprintf(f, sizeof f, "{\"authors\":[\"%s\"],\"kinds\":[1]}", b_hex);
    CHECK_EQ_INT(may(p, f), 0);

    pending_free(p);
    event_free(&note);
    event_free(&profile);
    event_free(&deletion);
    event_free(&other);
}

UNIT_MAIN(test_pending())
