/* Settlement records: reading and writing them inside the writer's transaction,
 * acknowledging committed receipts, loading stored events, resolving payee
 * addresses (see settle.h). */
#include "settle.h"
#include "filter.h"
#include "g1keys.h"
#include "hex.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool settle_replaying; /* set by settle_rebuild: decide, but never add intents */

int settle_record_get(MDB_txn *txn, const uint8_t d[32], settle_record *out) {
    MDB_val k = {32, (void *)d}, v;
    int rc = mdb_get(txn, settle_dbs()->settle, &k, &v);
    if (rc) return rc;
    if (v.mv_size != sizeof *out) return MDB_CORRUPTED;
    memcpy(out, v.mv_data, sizeof *out);
    if (out->format != SETTLE_RECORD_FORMAT) return MDB_CORRUPTED;
    return 0;
}

static int put_record(MDB_txn *txn, const uint8_t d[32], const settle_record *rec) {
    MDB_val k = {32, (void *)d}, v = {sizeof *rec, (void *)rec};
    return mdb_put(txn, settle_dbs()->settle, &k, &v, 0);
}

static int put_flag(MDB_txn *txn, MDB_dbi dbi, const uint8_t d[32]) {
    MDB_val k = {32, (void *)d}, v = {0, (void *)""};
    return mdb_put(txn, dbi, &k, &v, 0);
}

static int del_flag(MDB_txn *txn, MDB_dbi dbi, const uint8_t d[32]) {
    MDB_val k = {32, (void *)d};
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int settle_record_create(MDB_txn *txn, const uint8_t d[32], settle_record *rec) {
    rec->format = SETTLE_RECORD_FORMAT;
    rec->published = SETTLE_NONE;
    int rc = put_record(txn, d, rec);
    if (!rc) rc = put_flag(txn, settle_dbs()->outq, d);
    if (!rc && rec->status == SETTLE_PENDING && !settle_replaying)
        rc = settle_intent_add(txn, d, rec->payer, rec->from, rec->to, rec->amount);
    return rc;
}

int settle_record_set_status(MDB_txn *txn, const uint8_t d[32], settle_status st, const char *reason) {
    settle_record rec;
    int rc = settle_record_get(txn, d, &rec);
    if (rc) return rc;
    rec.status = (uint8_t)st;
    if (reason) snprintf(rec.reason, sizeof rec.reason, "%s", reason);
    rc = put_record(txn, d, &rec);
    if (!rc) rc = put_flag(txn, settle_dbs()->outq, d);
    return rc;
}

/* Order of progress of a settlement; final states rank highest. */
static int status_rank(settle_status s) {
    switch (s) {
    case SETTLE_PENDING: return 1;
    case SETTLE_SUBMITTED: return 2;
    case SETTLE_INCLUDED: return 3;
    case SETTLE_NONE: return 0;
    default: return 4;
    }
}

static bool tag_is(const event *ev, uint32_t t, const char *name) {
    const event_str *s = event_tag_str(ev, t, 0);
    return s && s->len == strlen(name) && memcmp(s->ptr, name, s->len) == 0;
}

static bool parse_0x32(const event_str *s, uint8_t out[32]) {
    return s && s->len == 66 && s->ptr[0] == '0' && s->ptr[1] == 'x' && hex_decode(s->ptr + 2, 64, out, 32);
}

int settle_receipt_committed(MDB_txn *txn, const event *ev) {
    uint8_t station[32];
    if (ev->kind != SETTLE_RECEIPT_KIND || !settle_station_pubkey(station) || memcmp(ev->pubkey, station, 32) != 0)
        return 0;
    uint8_t d[32];
    if (ev->d_tag.len != 64 || !hex_decode(ev->d_tag.ptr, 64, d, 32)) return 0;
    settle_record rec;
    int rc = settle_record_get(txn, d, &rec);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return rc;
    settle_status st = SETTLE_NONE;
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        const event_str *v = event_tag_str(ev, t, 1);
        if (!v) continue;
        if (tag_is(ev, t, "status")) st = settle_status_parse(v->ptr, v->len);
        else if (tag_is(ev, t, "tx") && parse_0x32(v, rec.tx)) rec.has_tx = 1;
        else if (tag_is(ev, t, "block")) {
            const event_str *h = event_tag_str(ev, t, 2);
            char num[24];
            if (v->len > 0 && v->len < sizeof num && parse_0x32(h, rec.block_hash)) {
                memcpy(num, v->ptr, v->len);
                num[v->len] = 0;
                rec.block_num = strtoull(num, NULL, 10);
                rec.has_block = 1;
            }
        }
    }
    if (st == SETTLE_NONE) return 0;
    if (ev->created_at > rec.last_receipt_at) rec.last_receipt_at = ev->created_at;
    rec.published = (uint8_t)st;
    settle_status cur = (settle_status)rec.status;
    if (!settle_status_final(cur) && status_rank(st) > status_rank(cur)) rec.status = (uint8_t)st;
    const settle_dbis *db = settle_dbs();
    if ((rc = put_record(txn, d, &rec)) != 0) return rc;
    if (rec.status == st && (rc = del_flag(txn, db->outq, d)) != 0) return rc;
    if (settle_status_final(st)) return del_flag(txn, db->active, d);
    if (rec.status == st) return put_flag(txn, db->active, d);
    return 0;
}

int settle_load_event(MDB_txn *txn, const uint8_t id[32], event *ev) {
    const char *json;
    size_t len;
    int rc = store_get_by_id(settle_store(), txn, id, &json, &len);
    if (rc) return rc;
    if (event_parse_trusted(ev, json, len) != 0) return MDB_CORRUPTED;
    return 0;
}

typedef struct {
    char *json;
    size_t len;
} first_json;

static int keep_first(void *ctx, const char *json, size_t len, uint64_t levid) {
    (void)levid;
    first_json *f = ctx;
    if (f->json) return 1;
    f->json = malloc(len + 1);
    if (f->json) {
        memcpy(f->json, json, len);
        f->json[len] = 0;
        f->len = len;
    }
    return 1;
}

/* The g1v2 / g1pub fields of pubkey's newest kind 0. */
static int address_from_profile(MDB_txn *txn, const uint8_t pubkey[32], uint8_t account[32]) {
    char hexpk[65], text[160], err[128];
    hex_encode(pubkey, 32, hexpk);
    snprintf(text, sizeof text, "{\"authors\":[\"%s\"],\"kinds\":[0],\"limit\":1}", hexpk);
    filter f;
    filter_limits lim = {0};
    if (filter_parse(&f, text, strlen(text), &lim, err, sizeof err) != 0) return -1;
    store_query *q = store_query_new(settle_store(), &f, 1, 1, 1);
    first_json got = {0};
    if (q) {
        store_query_run_in_txn(q, txn, keep_first, &got);
        store_query_free(q);
    }
    filter_free(&f);
    if (!got.json) return -1;
    int rc = -1;
    event ev;
    if (event_parse_trusted(&ev, got.json, got.len) == 0) {
        cJSON *c = cJSON_ParseWithLength(ev.content.ptr, ev.content.len);
        if (c && cJSON_IsObject(c)) {
            const cJSON *v2 = cJSON_GetObjectItemCaseSensitive(c, "g1v2");
            const cJSON *v1 = cJSON_GetObjectItemCaseSensitive(c, "g1pub");
            if (cJSON_IsString(v2) && strlen(v2->valuestring) < 80 &&
                g1_address_parse(v2->valuestring, settle_settings_get()->ss58_prefix, account, err, sizeof err) == 0)
                rc = 0;
            else if (cJSON_IsString(v1) && strlen(v1->valuestring) < 80 &&
                     g1_v1_key_decode(v1->valuestring, account, err, sizeof err) == 0)
                rc = 0;
        }
        cJSON_Delete(c);
        event_free(&ev);
    }
    free(got.json);
    return rc;
}

int settle_payee_address(MDB_txn *txn, const uint8_t pubkey[32], uint8_t account[32]) {
    if (settle_wallet_of(pubkey, account) == 0) return 0;
    return address_from_profile(txn, pubkey, account);
}
