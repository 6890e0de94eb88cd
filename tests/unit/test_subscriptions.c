/* Unit tests for relay/subscriptions.c: the live subscription index finds
 * exactly the subscriptions an event matches (by id, author, kind, tag and
 * match-all filters), each once, and forgets removed ones. */
#include "hex.h"
#include "subscriptions.h"
#include "unit.h"

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_b[32] = {7, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 99};

/* A sub with the given filters (JSON objects), conn id = n. */
static sub *make_sub(conn_id n, const char *const *filters, uint32_t count) {
    client_message *m = calloc(1, sizeof *m);
    snprintf(m->subid, sizeof m->subid, "s%llu", (unsigned long long)n);
    m->subid_len = strlen(m->subid);
    m->filters = calloc(count, sizeof(filter));
    filter_limits fl = {0, 0, 0};
    char err[256];
    for (uint32_t i = 0; i < count; i++) {
        int rc = filter_parse(&m->filters[i], filters[i], strlen(filters[i]), &fl, err, sizeof err);
        CHECK_EQ_INT(rc, 0);
        if (rc) printf("filter %s: %s\n", filters[i], err);
        m->filter_count = i + 1;
    }
    m->type = MSG_REQ;
    return sub_new(n, m);
}

static uint64_t delivered_mask;
static void record(void *ctx, sub *s) {
    (void)ctx;
    uint64_t bit = 1ull << s->conn;
    CHECK((delivered_mask & bit) == 0); /* at most once per subscription */
    delivered_mask |= bit;
}

static uint64_t match(sub_index *idx, const event *ev) {
    delivered_mask = 0;
    size_t n = sub_index_match(idx, ev, record, NULL);
    CHECK_EQ_INT(n, __builtin_popcountll(delivered_mask));
    return delivered_mask;
}

static void test_index(void) {
    event e1, e2;
    const char *t1[] = {"t", "nostr", NULL};
    const char *t2[] = {"p", "abcdef", NULL};
    const char *const *tags1[] = {t1, t2};
    CHECK_EQ_INT(event_build_signed(&e1, key_a, 1700000000, 1, tags1, 2, "one", 3), 0);
    CHECK_EQ_INT(event_build_signed(&e2, key_b, 1700000100, 7, NULL, 0, "+", 1), 0);
    char pk_a[65], pk_b[65], id1[65];
    hex_encode(e1.pubkey, 32, pk_a);
    hex_encode(e2.pubkey, 32, pk_b);
    hex_encode(e1.id, 32, id1);
    char f_author_a[120], f_author_b_kind7[140], f_id1[120], f_both[220];
    snprintf(f_author_a, sizeof f_author_a, "{\"authors\":[\"%s\"]}", pk_a);
    snprintf(f_author_b_kind7, sizeof f_author_b_kind7, "{\"authors\":[\"%s\"],\"kinds\":[7]}", pk_b);
    snprintf(f_id1, sizeof f_id1, "{\"ids\":[\"%s\"]}", id1);
    snprintf(f_both, sizeof f_both, "{\"authors\":[\"%s\",\"%s\"],\"kinds\":[1,7]}", pk_a, pk_b);

    sub_index *idx = sub_index_new();
    const char *const s1[] = {f_author_a};
    const char *const s2[] = {"{\"kinds\":[7]}"};
    const char *const s3[] = {"{\"#t\":[\"nostr\",\"other\"]}"};
    const char *const s4[] = {"{}"};
    const char *const s5[] = {"{\"since\":1700000050}"};
    const char *const s6[] = {f_id1, f_author_a, "{\"#p\":[\"abcdef\"]}"}; /* three ways, once */
    const char *const s7[] = {"{\"kinds\":[1],\"#t\":[\"zzz\"]}"};              /* AND fails */
    const char *const s8[] = {f_author_b_kind7};
    const char *const s9[] = {"{\"kinds\":[]}"};                                /* matches nothing */
    const char *const s10[] = {f_both};
    const char *const *specs[] = {s1, s2, s3, s4, s5, s6, s7, s8, s9, s10};
    const uint32_t counts[] = {1, 1, 1, 1, 1, 3, 1, 1, 1, 1};
    sub *subs[11] = {0};
    for (int i = 1; i <= 10; i++) {
        subs[i] = make_sub((conn_id)i, specs[i - 1], counts[i - 1]);
        CHECK(subs[i] != NULL);
        CHECK_EQ_INT(sub_index_add(idx, subs[i]), 0);
    }
    CHECK_EQ_INT(sub_index_count(idx), 10);
    uint64_t want1 = (1u << 1) | (1u << 3) | (1u << 4) | (1u << 6) | (1u << 10);
    uint64_t want2 = (1u << 2) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 10);
    CHECK_EQ_INT(match(idx, &e1), want1);
    CHECK_EQ_INT(match(idx, &e2), want2);
    /* removal */
    sub_index_remove(idx, subs[4]);
    sub_index_remove(idx, subs[6]);
    sub_index_remove(idx, subs[6]); /* twice is harmless */
    CHECK_EQ_INT(sub_index_count(idx), 8);
    CHECK_EQ_INT(match(idx, &e1), want1 & ~((1u << 4) | (1u << 6)));
    CHECK_EQ_INT(match(idx, &e2), want2 & ~(1u << 4));
    /* many subscribers on one key */
    sub_index *big = sub_index_new();
    sub *many[60];
    for (int i = 0; i < 60; i++) {
        many[i] = make_sub((conn_id)i, s1, 1);
        sub_index_add(big, many[i]);
    }
    delivered_mask = 0;
    CHECK_EQ_INT(sub_index_match(big, &e1, record, NULL), 60);
    CHECK_EQ_INT(sub_index_match(big, &e2, record, NULL), 0);
    for (int i = 0; i < 60; i++) {
        sub_index_remove(big, many[i]);
        sub_unref(many[i]);
    }
    CHECK_EQ_INT(sub_index_count(big), 0);
    sub_index_free(big);
    for (int i = 1; i <= 10; i++) {
        sub_index_remove(idx, subs[i]);
        sub_unref(subs[i]);
    }
    sub_index_free(idx);
    event_free(&e1);
    event_free(&e2);
}

UNIT_MAIN(test_index())
