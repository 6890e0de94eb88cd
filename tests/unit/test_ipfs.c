/* Unit tests for ipfs/: varints, CIDs, canonical DAG-CBOR, CAR framing (round
 * trip, truncation, oversize, tampered bytes) and archive write/verify/import.
 *
 * The expected CIDs and DAG-CBOR bytes were computed once, independently, with
 * the npm packages multiformats 14.0.5 and @ipld/dag-cbor 10.0.2 (tests/node_modules):
 *   node --input-type=module -e "import {CID} from 'multiformats/cid'; import {sha256} from 'multiformats/hashes/sha2';
 *     import * as dagCbor from '@ipld/dag-cbor'; const e=new TextEncoder(); const d=(s)=>sha256.digest(e.encode(s));
 *     const link=CID.create(1,0x55,await d('hello world')), prev=CID.create(1,0x71,await d('prev'));
 *     const pb=dagCbor.encode({type:'g1relay-archive-page',first:1700000000,last:1700000100,events:[link,link]});
 *     console.log(Buffer.from(pb).toString('hex'), CID.create(1,0x71,await sha256.digest(pb)).toString())"
 * (likewise for the root node, the CAR header {version:1,roots:[prev]} and the misc map). */
#include "archive.h"
#include "archive_chain.h"
#include "car.h"
#include "car_import.h"
#include "cid.h"
#include "dagcbor.h"
#include "hex.h"
#include "store.h"
#include "unit.h"
#include "varint.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t unhex(const char *h, uint8_t *out) {
    size_t n = strlen(h) / 2;
    hex_decode(h, n * 2, out, n);
    return n;
}

static void test_varint(void) {
    struct { uint64_t v; const char *hex; } vec[] = {
        {0, "00"}, {127, "7f"}, {128, "8001"}, {300, "ac02"}, {16384, "808001"}, {9007199254740991ull, "ffffffffffffff0f"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        uint8_t b[VARINT_MAX_BYTES], want[16];
        size_t wl = unhex(vec[i].hex, want);
        size_t n = varint_encode(vec[i].v, b);
        CHECK_EQ_INT(n, wl);
        CHECK_EQ_MEM(b, want, wl);
        CHECK_EQ_INT(varint_size(vec[i].v), wl);
        uint64_t back = 0;
        CHECK_EQ_INT(varint_decode(b, n, &back), (int)n);
        CHECK(back == vec[i].v);
        CHECK_EQ_INT(varint_decode(b, n - 1, &back), n > 1 ? 0 : 0); /* truncated */
    }
    uint64_t v;
    CHECK_EQ_INT(varint_decode((const uint8_t *)"\x80\x00", 2, &v), -1);                       /* not minimal */
    CHECK_EQ_INT(varint_decode((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, &v), -1); /* > 9 bytes */
    CHECK_EQ_INT(varint_decode((const uint8_t *)"\x80", 1, &v), 0);
}

static void test_cid(void) {
    struct { const char *data, *cid; } vec[] = {
        {"", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
        {"hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"},
        {"{\"id\":\"x\"}", "bafkreic6fojmyv6omgg7xnkiisrro5pexfog7nks5zv7lidicm6bfuvnsa"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        cid c, p;
        char t[CID_MAX_TEXT];
        cid_of(&c, CID_CODEC_RAW, (const uint8_t *)vec[i].data, strlen(vec[i].data));
        cid_to_string(&c, t);
        CHECK_EQ_STR(t, vec[i].cid);
        CHECK_EQ_INT(cid_parse(&p, vec[i].cid), 0);
        CHECK(cid_equal(&c, &p));
    }
    cid prev;
    cid_of(&prev, CID_CODEC_DAG_CBOR, (const uint8_t *)"prev", 4);
    uint8_t bin[CID_MAX_BYTES], want[64];
    size_t wl = unhex("0171122084fd9bac333ad79154348296204fa7f8c537a96e08983e5f73b3f5aca8e8edf7", want);
    CHECK_EQ_INT(cid_to_bytes(&prev, bin), wl);
    CHECK_EQ_MEM(bin, want, wl);
    char t[CID_MAX_TEXT];
    cid_to_string(&prev, t);
    CHECK_EQ_STR(t, "bafyreiee7wn2ymz226ivinecsyqe7j7yyu32s3qita7f645t6wwkr2hn64");
    cid x;
    CHECK_EQ_INT(cid_parse(&x, "BAFYREIEE7WN2YMZ226IVINECSYQE7J7YYU32S3QITA7F645T6WWKR2HN64"), -1); /* upper case */
    CHECK_EQ_INT(cid_parse(&x, "zafyreiee7wn2ymz226ivinecsyqe7j7yyu32s3qita7f645t6wwkr2hn64"), -1); /* other base */
    CHECK_EQ_INT(cid_parse(&x, "bafyreiee7wn2ymz226ivinecsyqe7j7yyu32s3qita7f645t6wwkr2hn6"), -1);  /* truncated */
    CHECK_EQ_INT(cid_parse(&x, "bafyreiee7wn2ymz226ivinecsyqe7j7yyu32s3qita7f645t6wwkr2hn64a"), -1); /* extra */
    bin[2] = 0x13; /* sha2-512 code: refused */
    CHECK_EQ_INT(cid_from_bytes(&x, bin, wl), -1);
}

static void test_dagcbor(void) {
    cid link, prev;
    cid_of(&link, CID_CODEC_RAW, (const uint8_t *)"hello world", 11);
    cid_of(&prev, CID_CODEC_DAG_CBOR, (const uint8_t *)"prev", 4);
    static uint8_t want[1024];
    char t[CID_MAX_TEXT];
    /* index page */
    cid evs[2] = {link, link};
    uint8_t *node;
    size_t len;
    CHECK_EQ_INT(archive_encode_page(1700000000, 1700000100, evs, 2, &node, &len), 0);
    size_t wl = unhex("a4646c6173741a6553f164647479706574673172656c61792d617263686976652d706167656566697273741a6553f100666576656e747382d82a58250001551220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9d82a58250001551220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9", want);
    CHECK_EQ_INT(len, wl);
    CHECK_EQ_MEM(node, want, wl);
    cid page;
    cid_of(&page, CID_CODEC_DAG_CBOR, node, len);
    cid_to_string(&page, t);
    CHECK_EQ_STR(t, "bafyreifk34jf7b4l4e4vzaptmaasg5oz4hkhbxxxg6iuodmk63k46nwvdq");
    dc_doc doc;
    char err[128];
    CHECK_EQ_INT(dagcbor_decode(&doc, node, len, err, sizeof err), 0);
    const dc_node *e = dc_map_get(&doc.root, "events");
    CHECK(e && e->type == DC_ARRAY && e->count == 2 && e->items[0].type == DC_LINK && cid_equal(&e->items[0].link, &link));
    CHECK(dc_text_is(dc_map_get(&doc.root, "type"), "g1relay-archive-page"));
    dagcbor_free(&doc);
    free(node);
    /* root */
    archive_links l = {.has_station = true, .has_prev = true, .prev = prev};
    memset(l.station, 0xab, 32);
    CHECK_EQ_INT(archive_encode_root(&l, 0, 1700000100, 2, &page, 1, &node, &len), 0);
    wl = unhex("a86470726576d82a5825000171122084fd9bac333ad79154348296204fa7f8c537a96e08983e5f73b3f5aca8e8edf764747970656f673172656c61792d6172636869766565636f756e74026573696e63650065756e74696c1a6553f164666576656e747381d82a58250001711220aadf125f878be1395c81f360012375d9e1d470def73791470d8af6d5cf36d51c6773746174696f6e7840616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626776657273696f6e01", want);
    CHECK_EQ_INT(len, wl);
    CHECK_EQ_MEM(node, want, wl);
    cid root;
    cid_of(&root, CID_CODEC_DAG_CBOR, node, len);
    cid_to_string(&root, t);
    CHECK_EQ_STR(t, "bafyreicg3z46i4hhs6xorz26ilnvuvf7bnj2ndrlrqusjnjf4r6azzvpjq");
    free(node);
    /* CAR header */
    uint8_t h[256];
    size_t hl;
    CHECK_EQ_INT(car_header_encode(&prev, h, sizeof h, &hl), 0);
    wl = unhex("a265726f6f747381d82a5825000171122084fd9bac333ad79154348296204fa7f8c537a96e08983e5f73b3f5aca8e8edf76776657273696f6e01", want);
    CHECK_EQ_INT(hl, wl);
    CHECK_EQ_MEM(h, want, wl);
    /* general encoder against @ipld/dag-cbor: {a:-1, bb:-1000, c:"é", d:null, e:true, f:bytes 0102, g:[], h:2^32} in canonical order */
    cbor_buf b = {0};
    cbor_put_map(&b, 8);
    cbor_put_cstr(&b, "a"); cbor_put_int(&b, -1);
    cbor_put_cstr(&b, "c"); cbor_put_cstr(&b, "\xc3\xa9");
    cbor_put_cstr(&b, "d"); cbor_put_null(&b);
    cbor_put_cstr(&b, "e"); cbor_put_bool(&b, true);
    cbor_put_cstr(&b, "f"); cbor_put_bytes(&b, (const uint8_t *)"\x01\x02", 2);
    cbor_put_cstr(&b, "g"); cbor_put_array(&b, 0);
    cbor_put_cstr(&b, "h"); cbor_put_int(&b, 4294967296ll);
    cbor_put_cstr(&b, "bb"); cbor_put_int(&b, -1000);
    wl = unhex("a8616120616362c3a96164f66165f5616642010261678061681b00000001000000006262623903e7", want);
    CHECK(!b.failed);
    CHECK_EQ_INT(b.len, wl);
    CHECK_EQ_MEM(b.data, want, wl);
    CHECK_EQ_INT(dagcbor_decode(&doc, b.data, b.len, err, sizeof err), 0);
    CHECK(dc_map_get(&doc.root, "bb") && dc_map_get(&doc.root, "bb")->i == -1000);
    CHECK(dc_map_get(&doc.root, "h") && dc_map_get(&doc.root, "h")->i == 4294967296ll);
    dagcbor_free(&doc);
    cbor_buf_free(&b);
    /* strictness: each of these must be refused */
    const char *bad[] = {
        "a2616203616101",          /* keys out of order: "b" before "a" */
        "a2616101616102",          /* duplicate key */
        "a2626262016161 02",       /* longer key first (spaces stripped below) */
        "1805",                    /* 5 as a one-byte argument: not minimal */
        "190005",                  /* not minimal */
        "9f01ff",                  /* indefinite array */
        "d82b4100",                /* tag 43 */
        "d82a4101",                /* link without the 0x00 prefix */
        "fb3ff0000000000000",      /* float */
        "f7",                      /* undefined */
        "62c328",                  /* invalid UTF-8 */
        "0101",                    /* trailing bytes */
        "a1016161",                /* integer map key */
        "83",                      /* truncated array */
        "5a00ffffff",              /* byte string longer than the input */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char clean[64];
        size_t k = 0;
        for (const char *p = bad[i]; *p && k < sizeof clean - 1; p++)
            if (*p != ' ') clean[k++] = *p;
        clean[k] = 0;
        uint8_t in[32];
        size_t n = unhex(clean, in);
        int rc = dagcbor_decode(&doc, in, n, err, sizeof err);
        if (rc == 0) { printf("accepted bad DAG-CBOR %s\n", clean); dagcbor_free(&doc); }
        CHECK_EQ_INT(rc, -1);
    }
}

static char tmpdir_path[256];

static void test_car(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/t.car", tmpdir_path);
    const char *blocks[] = {"first block", "second, longer block of data", "third"};
    cid cs[3], root;
    cid_of(&root, CID_CODEC_DAG_CBOR, (const uint8_t *)"root", 4);
    FILE *f = fopen(path, "w+b");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(car_write_header(f, &root), 0);
    for (int i = 0; i < 3; i++) {
        cid_of(&cs[i], CID_CODEC_RAW, (const uint8_t *)blocks[i], strlen(blocks[i]));
        CHECK_EQ_INT(car_write_block(f, &cs[i], (const uint8_t *)blocks[i], strlen(blocks[i])), 0);
    }
    fflush(f);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    static uint8_t file[4096];
    CHECK_EQ_INT(fread(file, 1, (size_t)size, f), size);
    fclose(f);
    /* round trip */
    car_reader r;
    char err[256];
    f = fopen(path, "rb");
    CHECK_EQ_INT(car_reader_open(&r, f, 1 << 20, err, sizeof err), 0);
    CHECK_EQ_INT(r.root_count, 1);
    CHECK(cid_equal(&r.roots[0], &root));
    cid c;
    const uint8_t *data;
    size_t len;
    uint64_t off;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(car_reader_next(&r, &c, &data, &len, &off, err, sizeof err), 1);
        CHECK(cid_equal(&c, &cs[i]));
        CHECK_EQ_INT(len, strlen(blocks[i]));
        CHECK(len == strlen(blocks[i]) && memcmp(data, blocks[i], len) == 0);
    }
    CHECK_EQ_INT(car_reader_next(&r, &c, &data, &len, &off, err, sizeof err), 0);
    CHECK_EQ_INT(car_reader_rewind(&r), 0);
    CHECK_EQ_INT(car_reader_next(&r, &c, &data, &len, &off, err, sizeof err), 1);
    CHECK(cid_equal(&c, &cs[0]));
    car_reader_free(&r);
    fclose(f);
    /* every truncation: an error, or (cut exactly between blocks) fewer blocks, never more */
    int errors = 0, clean_cuts = 0;
    for (long cut = 0; cut < size; cut++) {
        f = fopen(path, "wb");
        fwrite(file, 1, (size_t)cut, f);
        fclose(f);
        f = fopen(path, "rb");
        int got = 0, k = -1;
        if (car_reader_open(&r, f, 1 << 20, err, sizeof err) == 0) {
            while ((k = car_reader_next(&r, &c, &data, &len, &off, err, sizeof err)) == 1) got++;
        }
        car_reader_free(&r);
        fclose(f);
        CHECK(got < 3);
        if (k == 0) clean_cuts++;
        else errors++;
    }
    CHECK_EQ_INT(clean_cuts, 3); /* after the header, after block 1, after block 2 */
    CHECK(errors > 50);
    /* oversize: a limit below the longest block refuses it */
    f = fopen(path, "wb");
    fwrite(file, 1, (size_t)size, f);
    fclose(f);
    f = fopen(path, "rb");
    CHECK_EQ_INT(car_reader_open(&r, f, 40, err, sizeof err), 0);
    int k;
    while ((k = car_reader_next(&r, &c, &data, &len, &off, err, sizeof err)) == 1) {}
    CHECK_EQ_INT(k, -1);
    CHECK(strstr(err, "out of bounds") != NULL);
    car_reader_free(&r);
    fclose(f);
    /* a flipped byte in the second block's data: refused, naming that block */
    file[size - 6 - 37] ^= 1; /* inside block 2 ("...data"), before block 3 (1 + 36 + 5 bytes) */
    f = fopen(path, "wb");
    fwrite(file, 1, (size_t)size, f);
    fclose(f);
    f = fopen(path, "rb");
    CHECK_EQ_INT(car_reader_open(&r, f, 1 << 20, err, sizeof err), 0);
    CHECK_EQ_INT(car_reader_next(&r, &c, &data, &len, &off, err, sizeof err), 1);
    CHECK_EQ_INT(car_reader_next(&r, &c, &data, &len, &off, err, sizeof err), -1);
    char t[CID_MAX_TEXT];
    cid_to_string(&cs[1], t);
    CHECK(strstr(err, t) != NULL && strstr(err, "does not match") != NULL);
    car_reader_free(&r);
    fclose(f);
    /* an oversize header length */
    f = fopen(path, "wb");
    fwrite("\xff\xff\x7f", 1, 3, f);
    fclose(f);
    f = fopen(path, "rb");
    CHECK_EQ_INT(car_reader_open(&r, f, 1 << 20, err, sizeof err), -1);
    car_reader_free(&r);
    fclose(f);
}

static void test_archive(void) {
    char d1[512], d2[512], car1[512], car2[512];
    snprintf(d1, sizeof d1, "%s/d1", tmpdir_path);
    snprintf(d2, sizeof d2, "%s/d2", tmpdir_path);
    snprintf(car1, sizeof car1, "%s/a1.car", tmpdir_path);
    snprintf(car2, sizeof car2, "%s/a2.car", tmpdir_path);
    store *s1, *s2;
    char err[512];
    CHECK_EQ_INT(store_open(&s1, d1, 64 << 20, false, err, sizeof err), 0);
    CHECK_EQ_INT(store_open(&s2, d2, 64 << 20, false, err, sizeof err), 0);
    uint8_t sk[32];
    memset(sk, 7, 32);
    MDB_txn *txn;
    mdb_txn_begin(store_env(s1), NULL, 0, &txn);
    for (int i = 0; i < 2100; i++) { /* three pages in the first archive */
        event ev;
        char content[32];
        snprintf(content, sizeof content, "note %d", i);
        const char *const tg[] = {"t", "test", NULL};
        const char *const *tags[] = {tg};
        CHECK_EQ_INT(event_build_signed(&ev, sk, 1700000000 + i, i % 10 == 0 ? 39743 : 1, tags, 1, content, strlen(content)), 0);
        if (i % 10 == 0) { /* receipts are addressable: give each its own d tag */
            event_free(&ev);
            char d[16];
            snprintf(d, sizeof d, "%d", i);
            const char *const dt[] = {"d", d, NULL};
            const char *const *dtags[] = {dt};
            CHECK_EQ_INT(event_build_signed(&ev, sk, 1700000000 + i, 39743, dtags, 1, content, strlen(content)), 0);
        }
        char msg[128];
        CHECK_EQ_INT(store_insert(s1, txn, &ev, NULL, msg, sizeof msg), STORE_ADDED);
        event_free(&ev);
    }
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    archive_result r1, r2;
    archive_links l1, l2;
    CHECK_EQ_INT(archive_make(s1, d1, 0, 1700002049, NULL, car1, &r1, &l1, err, sizeof err), 0);
    CHECK_EQ_INT(r1.count, 2050);
    CHECK_EQ_INT(r1.pages, 3);
    CHECK(!l1.has_prev);
    CHECK_EQ_INT(archive_make(s1, d1, 1700002050, 1800000000, NULL, car2, &r2, &l2, err, sizeof err), 0);
    CHECK_EQ_INT(r2.count, 50);
    CHECK(l2.has_prev && cid_equal(&l2.prev, &r1.root));
    archive_chain_entry last;
    CHECK_EQ_INT(archive_chain_last_own(d1, &last), 1);
    CHECK(cid_equal(&last.root, &r2.root));
    /* verify, then import into the second store: second archive first (prev unknown), then the first */
    car_import_report rep;
    CHECK_EQ_INT(car_verify_file(car2, d1, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.prev_status, CAR_PREV_KNOWN);
    CHECK_EQ_INT(car_import_file(s2, d2, car2, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.prev_status, CAR_PREV_UNKNOWN);
    CHECK_EQ_INT(rep.added, 50);
    CHECK_EQ_INT(car_import_file(s2, d2, car1, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.added, 2050);
    CHECK_EQ_INT(car_import_file(s2, d2, car2, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.prev_status, CAR_PREV_KNOWN);
    CHECK_EQ_INT(rep.duplicates, 50);
    store_stats st1, st2;
    store_get_stats(s1, &st1);
    store_get_stats(s2, &st2);
    CHECK_EQ_INT(st1.events, st2.events);
    /* a tampered event block: refused whole, naming a block, nothing stored */
    FILE *f = fopen(car1, "r+b");
    fseek(f, 200, SEEK_SET); /* inside the first event block */
    int ch = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(ch ^ 0x01, f);
    fclose(f);
    char d3[512];
    snprintf(d3, sizeof d3, "%s/d3", tmpdir_path);
    store *s3;
    CHECK_EQ_INT(store_open(&s3, d3, 64 << 20, false, err, sizeof err), 0);
    CHECK_EQ_INT(car_import_file(s3, d3, car1, &rep, err, sizeof err), -1);
    CHECK(strstr(err, "block bafkrei") != NULL);
    store_stats st3;
    store_get_stats(s3, &st3);
    CHECK_EQ_INT(st3.events, 0);
    /* chain: archives naming a station; a known prev made by another station is refused */
    char d4[512], d5[512], car4[512], car5[512];
    snprintf(d4, sizeof d4, "%s/d4", tmpdir_path);
    snprintf(d5, sizeof d5, "%s/d5", tmpdir_path);
    snprintf(car4, sizeof car4, "%s/a4.car", tmpdir_path);
    snprintf(car5, sizeof car5, "%s/a5.car", tmpdir_path);
    uint8_t station_a[32], station_b[32];
    memset(station_a, 0xaa, 32);
    memset(station_b, 0xbb, 32);
    archive_result r4, r5;
    CHECK_EQ_INT(archive_make(s1, d4, 0, 1700000999, station_a, car4, &r4, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(archive_make(s1, d4, 1700001000, 1800000000, station_a, car5, &r5, NULL, err, sizeof err), 0);
    archive_chain_entry fake = {.own = false, .root = r4.root, .since = 0, .until = 1700000999, .count = r4.count,
                                .has_station = true};
    memcpy(fake.station, station_b, 32);
    mkdir(d5, 0700);
    CHECK_EQ_INT(archive_chain_append(d5, &fake, err, sizeof err), 0);
    CHECK_EQ_INT(car_verify_file(car5, d5, &rep, err, sizeof err), -1);
    CHECK(strstr(err, "another station") != NULL);
    CHECK_EQ_INT(car_verify_file(car5, d4, &rep, err, sizeof err), 0); /* the same station: fine */
    CHECK_EQ_INT(rep.prev_status, CAR_PREV_KNOWN);
    CHECK(rep.has_station && memcmp(rep.station, station_a, 32) == 0);
    /* a torn last line in the chain file is ignored, and the next append starts a fresh line */
    char chain[600];
    snprintf(chain, sizeof chain, "%s/%s", d5, ARCHIVE_CHAIN_FILE);
    f = fopen(chain, "a");
    fputs("own bafyrei", f);
    fclose(f);
    archive_chain_entry got;
    CHECK_EQ_INT(archive_chain_last_own(d5, &got), 0);
    fake.root = r5.root;
    fake.own = true;
    CHECK_EQ_INT(archive_chain_append(d5, &fake, err, sizeof err), 0);
    CHECK_EQ_INT(archive_chain_last_own(d5, &got), 1);
    CHECK(cid_equal(&got.root, &r5.root));
    store_close(s1);
    store_close(s2);
    store_close(s3);
}

UNIT_MAIN({
    snprintf(tmpdir_path, sizeof tmpdir_path, "/tmp/g1relay-test-ipfs-XXXXXX");
    if (!mkdtemp(tmpdir_path)) { printf("mkdtemp failed\n"); return 1; }
    test_varint();
    test_cid();
    test_dagcbor();
    test_car();
    test_archive();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_path);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir_path);
})
