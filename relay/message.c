/* Client→relay message parsing (EVENT, REQ, COUNT, CLOSE, AUTH): the whole
 * frame is first checked as JSON (structural errors answer NOTICE), then each
 * element is interpreted, with the answer kind NIP-01 expects for each error. */
#include "message.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Elements kept per message (type, subid and filters); more is refused. */
#define MSG_MAX_ELEMENTS 256

typedef struct {
    const char *p;
    size_t len;
    json_type type;
} span;

static message_error fail(message_error kind, char *err, size_t errlen, const char *why) {
    if (err && errlen) snprintf(err, errlen, "%s", why);
    return kind;
}

/* Reads the subscription id from span s into m; NULL or an error text. */
static const char *read_subid(client_message *m, const span *s, uint32_t max_len) {
    json_reader r;
    json_string str;
    if (max_len == 0 || max_len > sizeof m->subid - 1) max_len = sizeof m->subid - 1;
    if (s->type != JSON_STRING) return "invalid: subscription id must be a string";
    json_reader_init(&r, s->p, s->len, 1);
    if (!json_read_string(&r, &str)) return "invalid: bad subscription id";
    if (str.len == 0) return "invalid: subscription id must not be empty";
    if (str.len > max_len) return "invalid: subscription id too long";
    json_decode_string(&str, m->subid);
    m->subid[str.len] = 0;
    m->subid_len = str.len;
    for (size_t i = 0; i < str.len; i++) {
        unsigned char c = (unsigned char)m->subid[i];
        if (c < 0x20 || c == 0x7f) {
            m->subid[0] = 0;
            m->subid_len = 0;
            return "invalid: subscription id must be printable";
        }
    }
    return NULL;
}

message_error message_parse(client_message *m, const char *data, size_t len,
                            const message_limits *lim, char *err, size_t errlen) {
    static const message_limits no_limits;
    span el[MSG_MAX_ELEMENTS];
    uint32_t n = 0, idx = 0;
    json_reader r;
    json_string type;
    int k;
    char why[256];

    memset(m, 0, sizeof *m);
    if (err && errlen) err[0] = 0;
    if (!lim) lim = &no_limits;

    /* Structure: ["TYPE", value, ...] and nothing after it. */
    json_reader_init(&r, data, len, JSON_DEFAULT_MAX_DEPTH);
    if (json_peek(&r) != JSON_ARRAY || !json_array_begin(&r))
        return fail(MSG_ERR_NOTICE, err, errlen, "invalid: message must be a JSON array");
    if (json_array_next(&r, &idx) != 1 || json_peek(&r) != JSON_STRING || !json_read_string(&r, &type))
        return fail(MSG_ERR_NOTICE, err, errlen, "invalid: message must start with a type string");
    /* The event of EVENT/AUTH is parsed where it stands (one pass over it). */
    bool is_event = json_string_is(&type, "EVENT") || json_string_is(&type, "AUTH");
    int ev_rc = -1;
    char ev_err[256] = "";
    while ((k = json_array_next(&r, &idx)) == 1) {
        if (n >= MSG_MAX_ELEMENTS) return fail(MSG_ERR_NOTICE, err, errlen, "invalid: message has too many elements");
        el[n].type = json_peek(&r);
        el[n].p = r.p;
        if (is_event && n == 0 && el[n].type == JSON_OBJECT) {
            size_t used = 0;
            ev_rc = event_parse_prefix(&m->ev, r.p, (size_t)(r.end - r.p), &used, &lim->event, ev_err,
                                       sizeof ev_err, m->id_hex);
            if (ev_rc == 0) r.p += used;
            else if (!json_skip_value(&r)) break;
        } else if (!json_skip_value(&r)) {
            break;
        }
        el[n].len = (size_t)(r.p - el[n].p);
        n++;
    }
    if (k != 0 || r.err) {
        snprintf(why, sizeof why, "invalid: %s", r.err ? r.err : "malformed JSON");
        return fail(MSG_ERR_NOTICE, err, errlen, why);
    }
    if (!json_at_end(&r)) return fail(MSG_ERR_NOTICE, err, errlen, "invalid: trailing data after message");

    if (is_event) {
        m->type = json_string_is(&type, "EVENT") ? MSG_EVENT : MSG_AUTH;
        if (n == 0) return fail(MSG_ERR_NOTICE, err, errlen, "invalid: missing event");
        if (el[0].type != JSON_OBJECT) return fail(MSG_ERR_NOTICE, err, errlen, "invalid: event must be a JSON object");
        if (ev_rc != 0) return fail(m->id_hex[0] ? MSG_ERR_OK_FALSE : MSG_ERR_NOTICE, err, errlen, ev_err);
        if (n != 1) {
            event_free(&m->ev);
            return fail(MSG_ERR_OK_FALSE, err, errlen, "invalid: unexpected extra elements after the event");
        }
        return MSG_OK;
    }

    if (json_string_is(&type, "REQ") || json_string_is(&type, "COUNT")) {
        m->type = json_string_is(&type, "REQ") ? MSG_REQ : MSG_COUNT;
        if (n == 0) return fail(MSG_ERR_NOTICE, err, errlen, "invalid: missing subscription id");
        const char *bad = read_subid(m, &el[0], lim->max_subid_length);
        if (bad) return fail(MSG_ERR_NOTICE, err, errlen, bad);
        uint32_t nf = n - 1;
        if (nf == 0) return fail(MSG_ERR_CLOSED, err, errlen, "invalid: at least one filter is required");
        if (lim->max_filters && nf > lim->max_filters)
            return fail(MSG_ERR_CLOSED, err, errlen, "invalid: too many filters");
        m->filters = calloc(nf, sizeof(filter));
        if (!m->filters) return fail(MSG_ERR_CLOSED, err, errlen, "error: out of memory");
        for (uint32_t i = 0; i < nf; i++) {
            if (filter_parse(&m->filters[i], el[i + 1].p, el[i + 1].len, &lim->filter, why, sizeof why) != 0)
                return fail(MSG_ERR_CLOSED, err, errlen, why);
            m->filter_count = i + 1;
        }
        return MSG_OK;
    }

    if (json_string_is(&type, "CLOSE")) {
        m->type = MSG_CLOSE;
        if (n != 1) return fail(MSG_ERR_NOTICE, err, errlen, "invalid: CLOSE takes exactly one subscription id");
        const char *bad = read_subid(m, &el[0], lim->max_subid_length);
        if (bad) return fail(MSG_ERR_NOTICE, err, errlen, bad);
        return MSG_OK;
    }

    return fail(MSG_ERR_NOTICE, err, errlen, "invalid: unknown message type");
}

void message_free(client_message *m) {
    if (!m) return;
    event_free(&m->ev);
    if (m->filters) {
        /* Filters past filter_count were zeroed by calloc or by a failed parse. */
        for (uint32_t i = 0; i < m->filter_count; i++) filter_free(&m->filters[i]);
        free(m->filters);
    }
    m->filters = NULL;
    m->filter_count = 0;
}
