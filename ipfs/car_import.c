/* Verifying and restoring g1relay archives from CAR files (see car_import.h). */
#include "car_import.h"
#include "archive.h"
#include "archive_chain.h"
#include "car.h"
#include "dagcbor.h"
#include "db_cli.h"
#include "event.h"
#include "hex.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK_EVENT = 0, BLOCK_NODE = 1 };

typedef struct {
    cid c;
    uint8_t kind;
    uint8_t linked;
    int64_t created_at;   /* events */
    uint32_t node;        /* nodes: index into nodes[] */
} block_info;

/* Index nodes are kept as bytes (about 41 bytes per event link) and decoded
 * again one at a time while walking the DAG, so memory stays near the size of
 * the index, not of a decoded tree. */
typedef struct {
    uint8_t *bytes;       /* owned copy of the block's data */
    size_t len;
} node_info;

#define CAR_IMPORT_MAX_NODE_BYTES (1ull << 30)

typedef struct {
    block_info *blocks;
    uint64_t n, cap;
    uint64_t *sorted;     /* indexes of blocks sorted by CID */
    node_info *nodes;
    uint32_t nnodes, capnodes;
    uint64_t node_bytes;
} verify_state;

static void state_free(verify_state *v) {
    for (uint32_t i = 0; i < v->nnodes; i++) {
        free(v->nodes[i].bytes);
    }
    free(v->nodes);
    free(v->blocks);
    free(v->sorted);
    memset(v, 0, sizeof *v);
}

static int cid_cmp(const cid *a, const cid *b) {
    if (a->codec != b->codec) return a->codec < b->codec ? -1 : 1;
    return memcmp(a->digest, b->digest, 32);
}

static const verify_state *sort_state;
static int cmp_index(const void *a, const void *b) {
    return cid_cmp(&sort_state->blocks[*(const uint64_t *)a].c, &sort_state->blocks[*(const uint64_t *)b].c);
}

static block_info *find_block(verify_state *v, const cid *c) {
    uint64_t lo = 0, hi = v->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int r = cid_cmp(&v->blocks[v->sorted[mid]].c, c);
        if (r == 0) return &v->blocks[v->sorted[mid]];
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* err helpers naming a block */
static int bad_block(char *err, size_t errlen, const cid *c, const char *what) {
    char t[CID_MAX_TEXT];
    cid_to_string(c, t);
    snprintf(err, errlen, "block %s: %s", t, what);
    return -1;
}

static int add_block(verify_state *v, const cid *c, const uint8_t *data, size_t len, char *err, size_t errlen) {
    if (v->n == v->cap) {
        uint64_t nc = v->cap ? v->cap * 2 : 1024;
        block_info *b = realloc(v->blocks, nc * sizeof *b);
        if (!b) { snprintf(err, errlen, "out of memory"); return -1; }
        v->blocks = b;
        v->cap = nc;
    }
    block_info *bi = &v->blocks[v->n];
    memset(bi, 0, sizeof *bi);
    bi->c = *c;
    if (c->codec == CID_CODEC_RAW) {
        static const event_limits lim = {0, 0, 0, CAR_IMPORT_MAX_BLOCK};
        event ev;
        char perr[200], id_hex[65], what[300];
        if (event_parse(&ev, (const char *)data, len, &lim, perr, sizeof perr, id_hex) != 0) {
            snprintf(what, sizeof what, "not a valid Nostr event (%s)", perr);
            return bad_block(err, errlen, c, what);
        }
        bool ok = event_verify_sig(&ev);
        bool same = ev.json_len == len && memcmp(ev.json, data, len) == 0;
        bi->created_at = ev.created_at;
        event_free(&ev);
        if (!ok) {
            snprintf(what, sizeof what, "bad signature (event %s)", id_hex);
            return bad_block(err, errlen, c, what);
        }
        if (!same) return bad_block(err, errlen, c, "event JSON is not in the stored form");
        bi->kind = BLOCK_EVENT;
    } else if (c->codec == CID_CODEC_DAG_CBOR) {
        if (v->nnodes == v->capnodes) {
            uint32_t nc = v->capnodes ? v->capnodes * 2 : 64;
            node_info *nn = realloc(v->nodes, nc * sizeof *nn);
            if (!nn) { snprintf(err, errlen, "out of memory"); return -1; }
            v->nodes = nn;
            v->capnodes = nc;
        }
        node_info *ni = &v->nodes[v->nnodes];
        char derr[160], what[200];
        dc_doc doc;
        if (dagcbor_decode(&doc, data, len, derr, sizeof derr) < 0) {
            snprintf(what, sizeof what, "invalid DAG-CBOR (%s)", derr);
            return bad_block(err, errlen, c, what);
        }
        dagcbor_free(&doc);
        if ((v->node_bytes += len) > CAR_IMPORT_MAX_NODE_BYTES) {
            snprintf(err, errlen, "index nodes larger than %llu bytes in all", (unsigned long long)CAR_IMPORT_MAX_NODE_BYTES);
            return -1;
        }
        ni->bytes = malloc(len ? len : 1);
        if (!ni->bytes) { snprintf(err, errlen, "out of memory"); return -1; }
        memcpy(ni->bytes, data, len);
        ni->len = len;
        bi->kind = BLOCK_NODE;
        bi->node = v->nnodes++;
    } else {
        char what[80];
        snprintf(what, sizeof what, "unexpected codec 0x%x (only raw events and dag-cbor nodes)", c->codec);
        return bad_block(err, errlen, c, what);
    }
    v->n++;
    return 0;
}

static bool is_int(const dc_node *n) { return n && n->type == DC_INT; }

/* Decodes a node kept by the first pass (it was already decoded strictly there). */
static int decode_node(verify_state *v, const block_info *bi, dc_doc *doc, char *err, size_t errlen) {
    char derr[160];
    if (dagcbor_decode(doc, v->nodes[bi->node].bytes, v->nodes[bi->node].len, derr, sizeof derr) < 0)
        return bad_block(err, errlen, &bi->c, "invalid DAG-CBOR on the second decoding");
    return 0;
}

/* Checks one index page and the events it links. */
static int check_page(verify_state *v, const cid *link, int64_t since, int64_t until, uint64_t *events, char *err,
                      size_t errlen) {
    block_info *pb = find_block(v, link);
    if (!pb) return bad_block(err, errlen, link, "index page linked from the root is missing");
    if (pb->kind != BLOCK_NODE) return bad_block(err, errlen, link, "index page is not a DAG-CBOR node");
    if (pb->linked) return bad_block(err, errlen, link, "index page linked twice");
    pb->linked = 1;
    dc_doc doc;
    if (decode_node(v, pb, &doc, err, errlen) < 0) return -1;
    int rc = -1;
    const dc_node *pg = &doc.root;
    const dc_node *pt = dc_map_get(pg, "type"), *first = dc_map_get(pg, "first"), *last = dc_map_get(pg, "last"),
                  *evs = dc_map_get(pg, "events");
    if (pg->type != DC_MAP || pg->count != 4 || !dc_text_is(pt, ARCHIVE_PAGE_TYPE) || !is_int(first) || !is_int(last) ||
        first->i > last->i || !evs || evs->type != DC_ARRAY || evs->count == 0) {
        bad_block(err, errlen, link, "not a g1relay archive index page");
        goto out;
    }
    if (first->i < since || last->i > until) {
        bad_block(err, errlen, link, "index page range outside the archive's since..until");
        goto out;
    }
    for (uint32_t i = 0; i < evs->count; i++) {
        const dc_node *el = &evs->items[i];
        if (el->type != DC_LINK || el->link.codec != CID_CODEC_RAW) { bad_block(err, errlen, link, "an event entry is not a raw link"); goto out; }
        block_info *eb = find_block(v, &el->link);
        if (!eb) { bad_block(err, errlen, &el->link, "event block linked from an index page is missing"); goto out; }
        if (eb->linked) { bad_block(err, errlen, &el->link, "event linked twice"); goto out; }
        eb->linked = 1;
        if (eb->created_at < first->i || eb->created_at > last->i) {
            bad_block(err, errlen, &el->link, "event created_at outside its index page's first..last");
            goto out;
        }
        (*events)++;
    }
    rc = 0;
out:
    dagcbor_free(&doc);
    return rc;
}

/* Checks the DAG from the root. */
static int check_dag(verify_state *v, const cid *root, car_import_report *rep, char *err, size_t errlen) {
    block_info *rb = find_block(v, root);
    if (!rb) return bad_block(err, errlen, root, "the root block is missing");
    if (rb->kind != BLOCK_NODE) return bad_block(err, errlen, root, "the root is not a DAG-CBOR node");
    rb->linked = 1;
    dc_doc doc;
    if (decode_node(v, rb, &doc, err, errlen) < 0) return -1;
    int rc = -1;
    const dc_node *r = &doc.root;
    const dc_node *type = dc_map_get(r, "type"), *ver = dc_map_get(r, "version"), *since = dc_map_get(r, "since"),
                  *until = dc_map_get(r, "until"), *count = dc_map_get(r, "count"), *pages = dc_map_get(r, "events"),
                  *prev = dc_map_get(r, "prev"), *station = dc_map_get(r, "station");
    const char *bad = NULL;
    if (r->type != DC_MAP || r->count != 8 || !dc_text_is(type, ARCHIVE_ROOT_TYPE)) bad = "the root is not a g1relay archive root";
    else if (!is_int(ver) || ver->i != ARCHIVE_VERSION) bad = "unsupported archive version";
    else if (!is_int(since) || !is_int(until) || since->i > until->i || !is_int(count) || count->i < 0)
        bad = "since, until or count missing or invalid";
    else if (!pages || pages->type != DC_ARRAY) bad = "events is not an array of links";
    else if (!prev || (prev->type != DC_NULL && (prev->type != DC_LINK || prev->link.codec != CID_CODEC_DAG_CBOR)))
        bad = "prev is neither null nor a dag-cbor link";
    else if (!station || (station->type != DC_NULL && (station->type != DC_TEXT || station->len != 64 ||
                                                        !hex_is_lower((const char *)station->ptr, 64))))
        bad = "station is neither null nor a hex public key";
    if (bad) { bad_block(err, errlen, root, bad); goto out; }
    rep->since = since->i;
    rep->until = until->i;
    if ((rep->has_prev = prev->type == DC_LINK)) rep->prev = prev->link;
    if ((rep->has_station = station->type == DC_TEXT)) hex_decode((const char *)station->ptr, 64, rep->station, 32);
    uint64_t events = 0;
    for (uint32_t p = 0; p < pages->count; p++) {
        if (pages->items[p].type != DC_LINK) { bad_block(err, errlen, root, "an entry of events is not a link"); goto out; }
        if (check_page(v, &pages->items[p].link, since->i, until->i, &events, err, errlen) < 0) goto out;
    }
    if ((uint64_t)count->i != events) { bad_block(err, errlen, root, "count does not match the events linked"); goto out; }
    for (uint64_t i = 0; i < v->n; i++)
        if (!v->blocks[i].linked) { bad_block(err, errlen, &v->blocks[i].c, "block not linked from the root"); goto out; }
    rep->pages = pages->count;
    rep->events = events;
    rc = 0;
out:
    dagcbor_free(&doc);
    return rc;
}

static int check_chain(const char *data_dir, car_import_report *rep, char *err, size_t errlen) {
    archive_chain_entry e;
    int k = archive_chain_find(data_dir, &rep->root, &e);
    if (k < 0) { snprintf(err, errlen, "cannot read %s/%s", data_dir, ARCHIVE_CHAIN_FILE); return -1; }
    rep->root_known = k == 1;
    if (!rep->has_prev) { rep->prev_status = CAR_PREV_NONE; return 0; }
    k = archive_chain_find(data_dir, &rep->prev, &e);
    if (k < 0) { snprintf(err, errlen, "cannot read %s/%s", data_dir, ARCHIVE_CHAIN_FILE); return -1; }
    if (k == 0) { rep->prev_status = CAR_PREV_UNKNOWN; return 0; }
    rep->prev_status = CAR_PREV_KNOWN;
    if (e.has_station && rep->has_station && memcmp(e.station, rep->station, 32) != 0)
        return bad_block(err, errlen, &rep->root, "chain broken: its prev archive was made by another station");
    return 0;
}

static int open_car(const char *path, FILE **f, car_reader *r, char *err, size_t errlen) {
    *f = fopen(path, "rb");
    if (!*f) { snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)); return -1; }
    if (car_reader_open(r, *f, CAR_IMPORT_MAX_BLOCK + CID_MAX_BYTES, err, errlen) < 0) {
        car_reader_free(r);
        fclose(*f);
        *f = NULL;
        return -1;
    }
    return 0;
}

/* Pass 1: everything but storing. Leaves the reader open for pass 2 when keep. */
static int verify(const char *path, const char *data_dir, car_import_report *rep, verify_state *v, FILE **fout,
                  car_reader *r, char *err, size_t errlen) {
    memset(rep, 0, sizeof *rep);
    memset(v, 0, sizeof *v);
    FILE *f;
    if (open_car(path, &f, r, err, errlen) < 0) return -1;
    int rc = -1;
    if (r->root_count != 1) { snprintf(err, errlen, "the CAR has %u roots (a g1relay archive has one)", r->root_count); goto out; }
    rep->root = r->roots[0];
    if (rep->root.codec != CID_CODEC_DAG_CBOR) { bad_block(err, errlen, &rep->root, "the root is not a dag-cbor CID"); goto out; }
    cid c;
    const uint8_t *data;
    size_t len;
    int k;
    while ((k = car_reader_next(r, &c, &data, &len, NULL, err, errlen)) == 1)
        if (add_block(v, &c, data, len, err, errlen) < 0) goto out;
    if (k < 0) goto out;
    rep->blocks = v->n;
    v->sorted = malloc((v->n ? v->n : 1) * sizeof *v->sorted);
    if (!v->sorted) { snprintf(err, errlen, "out of memory"); goto out; }
    for (uint64_t i = 0; i < v->n; i++) v->sorted[i] = i;
    sort_state = v;
    qsort(v->sorted, v->n, sizeof *v->sorted, cmp_index);
    for (uint64_t i = 1; i < v->n; i++)
        if (cid_cmp(&v->blocks[v->sorted[i - 1]].c, &v->blocks[v->sorted[i]].c) == 0) {
            bad_block(err, errlen, &v->blocks[v->sorted[i]].c, "appears twice in the CAR");
            goto out;
        }
    if (check_dag(v, &rep->root, rep, err, errlen) < 0 || check_chain(data_dir, rep, err, errlen) < 0) goto out;
    rc = 0;
out:
    if (rc < 0 || !fout) {
        car_reader_free(r);
        fclose(f);
        f = NULL;
    }
    if (fout) *fout = f;
    return rc;
}

int car_verify_file(const char *path, const char *data_dir, car_import_report *rep, char *err, size_t errlen) {
    verify_state v;
    car_reader r;
    int rc = verify(path, data_dir, rep, &v, NULL, &r, err, errlen);
    state_free(&v);
    return rc;
}

int car_import_file(store *s, const char *data_dir, const char *path, car_import_report *rep, char *err, size_t errlen) {
    verify_state v;
    car_reader r;
    FILE *f = NULL;
    if (verify(path, data_dir, rep, &v, &f, &r, err, errlen) < 0) { state_free(&v); return -1; }
    int rc = -1;
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(store_env(s), NULL, 0, &txn);
    if (mrc) { snprintf(err, errlen, "cannot start a write transaction: %s", mdb_strerror(mrc)); txn = NULL; goto out; }
    if (car_reader_rewind(&r) < 0) { snprintf(err, errlen, "cannot re-read %s", path); goto out; }
    cid c;
    const uint8_t *data;
    size_t len;
    int k;
    uint64_t i = 0;
    while ((k = car_reader_next(&r, &c, &data, &len, NULL, err, errlen)) == 1) {
        if (i >= v.n || !cid_equal(&c, &v.blocks[i].c)) {
            bad_block(err, errlen, &c, "the file changed during the import");
            goto out;
        }
        i++;
        if (c.codec != CID_CODEC_RAW) continue;
        /* same bytes as verified in the first pass (same hash): the id and signature were checked there */
        event ev;
        char perr[200];
        if (event_parse(&ev, (const char *)data, len, NULL, perr, sizeof perr, NULL) != 0) {
            bad_block(err, errlen, &c, "not a valid Nostr event on the second reading");
            goto out;
        }
        char msg[256];
        store_result sr = store_insert(s, txn, &ev, NULL, msg, sizeof msg);
        event_free(&ev);
        if (sr == STORE_ERROR) {
            char what[300];
            snprintf(what, sizeof what, "could not be stored (%s)", msg);
            bad_block(err, errlen, &c, what);
            goto out;
        }
        if (sr == STORE_ADDED) rep->added++;
        else if (sr == STORE_DUPLICATE) rep->duplicates++;
        else rep->refused++;
    }
    if (k < 0) goto out;
    if (i != v.n) { snprintf(err, errlen, "the file changed during the import (fewer blocks)"); goto out; }
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc) { snprintf(err, errlen, "commit failed: %s", mdb_strerror(mrc)); goto out; }
    rc = 0;
    if (!rep->root_known) {
        archive_chain_entry e = {.own = false, .root = rep->root, .has_prev = rep->has_prev, .prev = rep->prev,
                                 .since = rep->since, .until = rep->until, .count = rep->events,
                                 .has_station = rep->has_station};
        memcpy(e.station, rep->station, 32);
        char cerr[256];
        int lock = archive_chain_lock(data_dir, cerr, sizeof cerr);
        if (lock < 0 || archive_chain_append(data_dir, &e, cerr, sizeof cerr) < 0)
            fprintf(stderr, "warning: events stored, but the root was not recorded in the chain: %s\n", cerr);
        archive_chain_unlock(lock);
    }
out:
    if (txn) mdb_txn_abort(txn);
    car_reader_free(&r);
    if (f) fclose(f);
    state_free(&v);
    return rc;
}

int car_import_command(const char *cmd, cli_common *common, const char *path) {
    FILE *probe = fopen(path, "rb");
    if (!probe) return cli_fail(cmd, "cannot read %s: %m", path);
    fclose(probe);
    config *cfg;
    store *s = db_cli_open(cmd, common, false, &cfg);
    if (!s) return 1;
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    car_import_report rep;
    char err[512];
    int rc = car_import_file(s, data_dir, path, &rep, err, sizeof err);
    store_close(s);
    if (rc < 0) {
        fprintf(stderr, "g1relay %s: %s: refused: %s; nothing was stored\n", cmd, path, err);
        config_free(cfg);
        return 1;
    }
    char root[CID_MAX_TEXT], prev[CID_MAX_TEXT] = "none", station[65] = "none";
    cid_to_string(&rep.root, root);
    if (rep.has_prev) cid_to_string(&rep.prev, prev);
    if (rep.has_station) hex_encode(rep.station, 32, station);
    printf("root %s\nstation %s\nsince %lld\nuntil %lld\nblocks %llu\nevents %llu\nadded %llu\nduplicates %llu\nrefused %llu\n",
           root, station, (long long)rep.since, (long long)rep.until, (unsigned long long)rep.blocks,
           (unsigned long long)rep.events, (unsigned long long)rep.added, (unsigned long long)rep.duplicates,
           (unsigned long long)rep.refused);
    printf("prev %s (%s)\n", prev,
           rep.prev_status == CAR_PREV_NONE ? "first archive of its chain"
           : rep.prev_status == CAR_PREV_KNOWN ? "known here: chain link checked"
                                               : "not known here: chain checked up to this archive only");
    config_free(cfg);
    return 0;
}
