/* libFuzzer target for the untrusted-input parts of ipfs/: the strict DAG-CBOR
 * decoder (every node of an accepted document is walked) and the CAR
 * reader (header and every block, hashes checked). Build and run:
 *   clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. -Irelay -Iplugins \
 *     -Isettlement -Iipfs tests/fuzz/fuzz_ipfs.c ipfs/dagcbor.c ipfs/cid.c ipfs/varint.c ipfs/car.c \
 *     -lsodium -o fuzz_ipfs && ./fuzz_ipfs -max_total_time=60 */
#include "car.h"
#include "dagcbor.h"
#include <stdio.h>
#include <string.h>

/* Visits every node (reads every field) so the sanitizers see any bad pointer. */
static size_t walk(const dc_node *n) {
    size_t k = 1;
    if (n->type == DC_BYTES || n->type == DC_TEXT) { volatile uint8_t x = 0; for (size_t i = 0; i < n->len; i++) x ^= n->ptr[i]; (void)x; }
    if (n->type == DC_ARRAY) for (uint32_t i = 0; i < n->count; i++) k += walk(&n->items[i]);
    if (n->type == DC_MAP) for (uint32_t i = 0; i < 2 * n->count; i++) k += walk(&n->items[i]);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dc_doc doc;
    char err[256];
    if (dagcbor_decode(&doc, data, size, err, sizeof err) == 0) {
        walk(&doc.root);
        dagcbor_free(&doc);
    }
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    car_reader r;
    if (car_reader_open(&r, f, 1 << 16, err, sizeof err) == 0) {
        cid c;
        const uint8_t *d;
        size_t len;
        uint64_t off;
        int n = 0;
        while (n++ < 1000 && car_reader_next(&r, &c, &d, &len, &off, err, sizeof err) == 1) {}
    }
    car_reader_free(&r);
    fclose(f);
    return 0;
}
