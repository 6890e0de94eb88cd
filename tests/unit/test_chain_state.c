/* Unit tests for skipping typed SCALE values through the runtime metadata
 * (settlement/chain_state.c chain_skip_value): correct on small shapes, and
 * bounded on hostile metadata (wide composites and variants read in one pass,
 * nested arrays of empty types stopped by the work budget), under an alarm. */
#include "unit.h"
#include "chain_state.h"
#include "metadata.h"
#include "scale.h"
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

/* One type of a tiny registry: 'p' u8 primitive, 't' tuple of n members of
 * type inner, 'c' composite of n unnamed fields of type inner, 'v' variant
 * with one variant (index 0) of n fields of type inner, 'a' array of n of
 * type inner, 's' sequence of inner. */
typedef struct {
    char kind;
    uint32_t n;
    uint32_t inner;
} tiny_type;

static void put_field(scale_buf *b, uint32_t ty) {
    scale_put_u8(b, 0);          /* name: None */
    scale_put_compact(b, ty);
    scale_put_u8(b, 0);          /* type_name: None */
    scale_put_compact(b, 0);     /* docs */
}

/* Minimal V14 metadata with these types, no pallets, one signed extension. */
static metadata *tiny_metadata(const tiny_type *types, size_t ntypes) {
    scale_buf b;
    scale_buf_init(&b);
    scale_put_raw(&b, "meta", 4);
    scale_put_u8(&b, 14);
    scale_put_compact(&b, ntypes);
    for (size_t t = 0; t < ntypes; t++) {
        const tiny_type *ty = &types[t];
        scale_put_compact(&b, t);
        scale_put_compact(&b, 0); /* path */
        scale_put_compact(&b, 0); /* params */
        switch (ty->kind) {
        case 'p':
            scale_put_u8(&b, 5);
            scale_put_u8(&b, 3); /* u8 */
            break;
        case 't':
            scale_put_u8(&b, 4);
            scale_put_compact(&b, ty->n);
            for (uint32_t i = 0; i < ty->n; i++) scale_put_compact(&b, ty->inner);
            break;
        case 'c':
            scale_put_u8(&b, 0);
            scale_put_compact(&b, ty->n);
            for (uint32_t i = 0; i < ty->n; i++) put_field(&b, ty->inner);
            break;
        case 'v':
            scale_put_u8(&b, 1);
            scale_put_compact(&b, 1);
            scale_put_bytes(&b, "Wide", 4);
            scale_put_compact(&b, ty->n);
            for (uint32_t i = 0; i < ty->n; i++) put_field(&b, ty->inner);
            scale_put_u8(&b, 0);      /* index */
            scale_put_compact(&b, 0); /* docs */
            break;
        case 'a':
            scale_put_u8(&b, 3);
            scale_put_u32(&b, ty->n);
            scale_put_compact(&b, ty->inner);
            break;
        case 's':
            scale_put_u8(&b, 2);
            scale_put_compact(&b, ty->inner);
            break;
        }
        scale_put_compact(&b, 0); /* docs */
    }
    scale_put_compact(&b, 0); /* pallets */
    scale_put_compact(&b, 0); /* extrinsic type */
    scale_put_u8(&b, 4);      /* extrinsic version */
    scale_put_compact(&b, 1); /* one signed extension */
    scale_put_bytes(&b, "CheckWeight", 11);
    scale_put_compact(&b, 0);
    scale_put_compact(&b, 0);
    scale_put_compact(&b, 0); /* runtime type */
    char err[256] = "";
    metadata *md = b.failed ? NULL : metadata_parse(b.data, b.len, err, sizeof err);
    if (!md) printf("tiny metadata refused: %s\n", err);
    scale_buf_free(&b);
    return md;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: chain_skip_value did not return within 20 s (unbounded walk)\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static bool skip_all(const metadata *md, uint32_t ty, const uint8_t *data, size_t len, size_t *consumed) {
    scale_reader r;
    scale_reader_init(&r, data, len);
    bool ok = chain_skip_value(md, ty, &r);
    *consumed = r.pos;
    return ok && !r.failed;
}

/* Small shapes: sizes come out right, short input is refused. */
static void test_small_shapes(void) {
    const tiny_type types[] = {
        {'p', 0, 0},      /* 0 u8 */
        {'t', 3, 0},      /* 1 (u8,u8,u8) */
        {'c', 2, 1},      /* 2 { (u8,u8,u8), (u8,u8,u8) } = 6 bytes */
        {'v', 20, 0},     /* 3 Wide(u8 x 20) = 21 bytes (fields past the 16th) */
        {'s', 0, 2},      /* 4 Vec<type 2> */
        {'t', 0, 0},      /* 5 () */
        {'a', 1000, 5},   /* 6 [(); 1000] = 0 bytes */
    };
    metadata *md = tiny_metadata(types, sizeof types / sizeof types[0]);
    CHECK(md != NULL);
    if (!md) return;
    uint8_t buf[64] = {0};
    size_t used;
    CHECK(skip_all(md, 2, buf, 6, &used));
    CHECK_EQ_INT(used, 6);
    CHECK(!skip_all(md, 2, buf, 5, &used));
    CHECK(skip_all(md, 3, buf, 21, &used));
    CHECK_EQ_INT(used, 21);
    CHECK(!skip_all(md, 3, buf, 20, &used));
    buf[0] = 1; /* variant index 1 does not exist */
    CHECK(!skip_all(md, 3, buf, 21, &used));
    buf[0] = 2 << 2; /* compact 2: two elements of 6 bytes */
    CHECK(skip_all(md, 4, buf, 13, &used));
    CHECK_EQ_INT(used, 13);
    CHECK(skip_all(md, 6, buf, 0, &used));
    CHECK_EQ_INT(used, 0);
    metadata_free(md);
}

/* Hostile shapes. A composite, a tuple and a variant of 300000 u8 members
 * each: reading member i from the start for every i is 4.5e10 metadata reads;
 * one pass is 300000. Nested arrays of a million arrays of a million empty
 * tuples take no input bytes but 1e12 visits: the work budget must stop them
 * with an error. */
static void test_hostile_shapes_bounded(void) {
    enum { WIDE = 300000 };
    const tiny_type types[] = {
        {'p', 0, 0},         /* 0 u8 */
        {'c', WIDE, 0},      /* 1 wide composite */
        {'t', WIDE, 0},      /* 2 wide tuple */
        {'v', WIDE, 0},      /* 3 wide variant */
        {'t', 0, 0},         /* 4 () */
        {'a', 1000000, 4},   /* 5 [(); 1e6] */
        {'a', 1000000, 5},   /* 6 [[(); 1e6]; 1e6] */
        {'s', 0, 6},         /* 7 Vec<type 6> */
    };
    metadata *md = tiny_metadata(types, sizeof types / sizeof types[0]);
    CHECK(md != NULL);
    if (!md) return;
    uint8_t *buf = calloc(WIDE + 1, 1);
    CHECK(buf != NULL);
    if (!buf) { metadata_free(md); return; }
    signal(SIGALRM, on_alarm);
    alarm(20);
    size_t used;
    CHECK(skip_all(md, 1, buf, WIDE, &used));
    CHECK_EQ_INT(used, WIDE);
    CHECK(skip_all(md, 2, buf, WIDE, &used));
    CHECK_EQ_INT(used, WIDE);
    CHECK(skip_all(md, 3, buf, WIDE + 1, &used));
    CHECK_EQ_INT(used, WIDE + 1);
    CHECK(!skip_all(md, 6, buf, 0, &used));
    buf[0] = 4 << 2; /* four elements of type 6 */
    CHECK(!skip_all(md, 7, buf, 1, &used));
    alarm(0);
    free(buf);
    metadata_free(md);
}

UNIT_MAIN({
    test_small_shapes();
    test_hostile_shapes_bounded();
})
