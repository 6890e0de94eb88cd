/* CARv1 writing and bounded, verifying reading (see car.h). */
#include "car.h"
#include "dagcbor.h"
#include "varint.h"
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int car_header_encode(const cid *root, uint8_t *out, size_t cap, size_t *len) {
    cbor_buf b = {0};
    cbor_put_map(&b, 2);
    cbor_put_cstr(&b, "roots"); /* canonical order: "roots" (5) before "version" (7) */
    cbor_put_array(&b, 1);
    cbor_put_link(&b, root);
    cbor_put_cstr(&b, "version");
    cbor_put_int(&b, 1);
    int rc = -1;
    if (!b.failed && b.len <= cap) {
        memcpy(out, b.data, b.len);
        *len = b.len;
        rc = 0;
    }
    cbor_buf_free(&b);
    return rc;
}

int car_write_header(FILE *f, const cid *root) {
    uint8_t h[128], v[VARINT_MAX_BYTES];
    size_t hl;
    if (car_header_encode(root, h, sizeof h, &hl) < 0) { errno = ENOMEM; return -1; }
    size_t vl = varint_encode(hl, v);
    return fwrite(v, 1, vl, f) == vl && fwrite(h, 1, hl, f) == hl ? 0 : -1;
}

int car_write_block(FILE *f, const cid *c, const uint8_t *data, size_t len) {
    uint8_t cb[CID_MAX_BYTES], v[VARINT_MAX_BYTES];
    size_t cl = cid_to_bytes(c, cb);
    size_t vl = varint_encode(cl + len, v);
    return fwrite(v, 1, vl, f) == vl && fwrite(cb, 1, cl, f) == cl && (len == 0 || fwrite(data, 1, len, f) == len) ? 0 : -1;
}

/* Reads a varint byte by byte. 1 ok, 0 clean end of file before any byte, -1 error. */
static int read_varint(car_reader *r, uint64_t *v, char *err, size_t errlen, const char *what) {
    uint8_t b[VARINT_MAX_BYTES];
    size_t n = 0;
    for (;;) {
        int c = getc(r->f);
        if (c == EOF) {
            if (ferror(r->f)) { snprintf(err, errlen, "read error at byte %llu: %s", (unsigned long long)r->offset, strerror(errno)); return -1; }
            if (n == 0) return 0;
            snprintf(err, errlen, "truncated %s length at byte %llu", what, (unsigned long long)r->offset);
            return -1;
        }
        b[n++] = (uint8_t)c;
        if (!(c & 0x80) || n == VARINT_MAX_BYTES) break;
    }
    if (varint_decode(b, n, v) != (int)n) {
        snprintf(err, errlen, "bad %s length varint at byte %llu", what, (unsigned long long)r->offset);
        return -1;
    }
    r->offset += n;
    return 1;
}

static int read_exact(car_reader *r, size_t n, char *err, size_t errlen, const char *what) {
    if (n > r->cap) {
        uint8_t *nb = realloc(r->buf, n);
        if (!nb) { snprintf(err, errlen, "out of memory for a %zu-byte %s", n, what); return -1; }
        r->buf = nb;
        r->cap = n;
    }
    if (n && fread(r->buf, 1, n, r->f) != n) {
        snprintf(err, errlen, "truncated %s at byte %llu (file ends inside it)", what, (unsigned long long)r->offset);
        return -1;
    }
    r->offset += n;
    return 0;
}

int car_reader_open(car_reader *r, FILE *f, uint64_t max_block, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->f = f;
    r->max_block = max_block;
    struct stat st;
    r->file_size = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
    uint64_t hl;
    int k = read_varint(r, &hl, err, errlen, "header");
    if (k == 0) { snprintf(err, errlen, "empty file: not a CAR"); return -1; }
    if (k < 0) return -1;
    if (hl == 0 || hl > CAR_MAX_HEADER) { snprintf(err, errlen, "header length %llu out of bounds (1..%u)", (unsigned long long)hl, CAR_MAX_HEADER); return -1; }
    if (hl > r->file_size - r->offset) { snprintf(err, errlen, "truncated header (length %llu past the end of the file)", (unsigned long long)hl); return -1; }
    if (read_exact(r, (size_t)hl, err, errlen, "header") < 0) return -1;
    dc_doc doc;
    char derr[128];
    if (dagcbor_decode(&doc, r->buf, (size_t)hl, derr, sizeof derr) < 0) { snprintf(err, errlen, "header is not valid DAG-CBOR: %s", derr); return -1; }
    const dc_node *ver = dc_map_get(&doc.root, "version"), *roots = dc_map_get(&doc.root, "roots");
    int rc = -1;
    if (doc.root.type != DC_MAP || doc.root.count != 2 || !ver || ver->type != DC_INT || ver->i != 1)
        snprintf(err, errlen, "header: not a CARv1 header (version 1 with roots)");
    else if (!roots || roots->type != DC_ARRAY || roots->count < 1 || roots->count > 4)
        snprintf(err, errlen, "header: roots must be an array of 1 to 4 CIDs");
    else {
        rc = 0;
        for (uint32_t i = 0; i < roots->count; i++) {
            if (roots->items[i].type != DC_LINK) { snprintf(err, errlen, "header: a root is not a CID"); rc = -1; break; }
            r->roots[i] = roots->items[i].link;
        }
        if (rc == 0) r->root_count = roots->count;
    }
    dagcbor_free(&doc);
    return rc;
}

int car_reader_next(car_reader *r, cid *c, const uint8_t **data, size_t *len, uint64_t *section_offset,
                    char *err, size_t errlen) {
    uint64_t start = r->offset, sl;
    int k = read_varint(r, &sl, err, errlen, "block");
    if (k <= 0) return k;
    if (sl == 0 || sl > r->max_block) {
        snprintf(err, errlen, "block %llu at byte %llu: length %llu out of bounds (1..%llu)", (unsigned long long)r->index,
                 (unsigned long long)start, (unsigned long long)sl, (unsigned long long)r->max_block);
        return -1;
    }
    if (sl > r->file_size - r->offset) {
        snprintf(err, errlen, "block %llu at byte %llu: truncated (length %llu past the end of the file)",
                 (unsigned long long)r->index, (unsigned long long)start, (unsigned long long)sl);
        return -1;
    }
    if (read_exact(r, (size_t)sl, err, errlen, "block") < 0) return -1;
    int used = cid_from_bytes(c, r->buf, (size_t)sl);
    if (used < 0) {
        snprintf(err, errlen, "block %llu at byte %llu: CID is not v1 with a sha2-256 hash", (unsigned long long)r->index,
                 (unsigned long long)start);
        return -1;
    }
    *data = r->buf + used;
    *len = (size_t)sl - (size_t)used;
    uint8_t h[32];
    crypto_hash_sha256(h, *data, *len);
    if (memcmp(h, c->digest, 32) != 0) {
        char t[CID_MAX_TEXT];
        cid_to_string(c, t);
        snprintf(err, errlen, "block %s (block %llu at byte %llu): content does not match its CID", t,
                 (unsigned long long)r->index, (unsigned long long)start);
        return -1;
    }
    if (section_offset) *section_offset = start;
    r->index++;
    return 1;
}

int car_reader_rewind(car_reader *r) {
    if (fseek(r->f, 0, SEEK_SET) != 0) return -1;
    r->offset = 0;
    r->index = 0;
    char err[256];
    uint64_t hl;
    if (read_varint(r, &hl, err, sizeof err, "header") != 1 || hl > CAR_MAX_HEADER) return -1;
    if (fseek(r->f, (long)hl, SEEK_CUR) != 0) return -1;
    r->offset += hl;
    return 0;
}

void car_reader_free(car_reader *r) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}
