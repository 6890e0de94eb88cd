/* strfry write-policy JSON lines: input line builder, answer parser, message shaping. */
#include "policy_protocol.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hex.h"
#include "json.h"

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p) { b->failed = true; return; }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Writes s as a JSON string (quotes included). */
static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') { esc[0] = '\\'; esc[1] = (char)*p; sb_put(b, esc, 2); }
        else if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); sb_put(b, esc, 6); }
        else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

/* Copies the stored event JSON. The strict NIP-01 form keeps control characters
 * other than \n \r \t \b \f raw inside strings, which strict JSON parsers (jq,
 * python) refuse: those are written as \u00XX (the same decoded event). */
static void sb_event_json(strbuf *b, const char *json, size_t len) {
    size_t run = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)json[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            else if (c < 0x20) {
                char esc[8];
                sb_put(b, json + run, i - run);
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_put(b, esc, 6);
                run = i + 1;
            }
        } else if (c == '"') {
            in_string = true;
        }
    }
    sb_put(b, json + run, len - run);
}

char *policy_input_line(const event *ev, const plugin_source *src, size_t *len_out) {
    strbuf b = {0};
    size_t hint = ev->json_len + 256;
    b.buf = malloc(hint);
    if (!b.buf) return NULL;
    b.cap = hint;
    b.buf[0] = 0;
    char num[32];
    int64_t received = src && src->received_at ? src->received_at : (int64_t)time(NULL);
    sb_str(&b, "{\"type\":\"new\",\"event\":");
    sb_event_json(&b, ev->json, ev->json_len);
    snprintf(num, sizeof num, "%lld", (long long)received);
    sb_str(&b, ",\"receivedAt\":");
    sb_str(&b, num);
    sb_str(&b, ",\"sourceType\":");
    sb_json_string(&b, src && src->source_type ? src->source_type : "IP4");
    sb_str(&b, ",\"sourceInfo\":");
    sb_json_string(&b, src && src->source_info ? src->source_info : "");
    if (src && src->authed) {
        char hex[65];
        hex_encode(src->authed_pubkey, 32, hex);
        sb_str(&b, ",\"authed\":\"");
        sb_str(&b, hex);
        sb_str(&b, "\"");
    }
    sb_str(&b, "}\n");
    if (b.failed) { free(b.buf); return NULL; }
    *len_out = b.len;
    return b.buf;
}

static const char *const nip01_prefixes[] = {"duplicate:", "pow:", "blocked:", "rate-limited:", "invalid:",
                                             "restricted:", "auth-required:", "error:", "mute:", NULL};

/* Copies text[0..n) to out[o..limit): control characters become spaces, bytes
 * that are not valid UTF-8 become '?' (a WebSocket text frame must be UTF-8,
 * and logs must not receive terminal escapes); a sequence is never split.
 * Returns the new end; the caller writes the NUL. */
static size_t put_clean_text(char *out, size_t o, size_t limit, const char *text, size_t n) {
    for (size_t i = 0; i < n && o < limit;) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80) {
            out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
            i++;
            continue;
        }
        size_t k = json_utf8_seq(text + i, n - i);
        if (k == 0) {
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + k > limit) break;
        memcpy(out + o, text + i, k);
        o += k;
        i += k;
    }
    return o;
}

void policy_client_msg(const char *raw, size_t raw_len, const char *fallback, char *out, size_t outlen) {
    if (!outlen) return;
    out[0] = 0;
    size_t n = 0;
    while (n < raw_len && raw[n] != '\n' && raw[n] != '\r') n++;
    while (n && (raw[n - 1] == ' ' || raw[n - 1] == '\t')) n--;
    size_t start = 0;
    while (start < n && (raw[start] == ' ' || raw[start] == '\t')) start++;
    if (start == n) { snprintf(out, outlen, "%s", fallback); return; }
    const char *text = raw + start;
    n -= start;
    bool has_prefix = false;
    for (size_t i = 0; nip01_prefixes[i]; i++) {
        size_t pl = strlen(nip01_prefixes[i]);
        if (n >= pl && memcmp(text, nip01_prefixes[i], pl) == 0) { has_prefix = true; break; }
    }
    size_t o = 0;
    if (!has_prefix) o = (size_t)snprintf(out, outlen, "blocked: ");
    if (o >= outlen) { out[outlen - 1] = 0; return; }
    size_t room = outlen - 1 - o;
    if (room > POLICY_MAX_MSG) room = POLICY_MAX_MSG;
    o = put_clean_text(out, o, o + room, text, n);
    out[o] = 0;
}

int policy_parse_answer(const char *line, size_t len, const char *id_hex, plugin_verdict *verdict,
                        char *msg, size_t msglen, char *why, size_t whylen) {
    if (msglen) msg[0] = 0;
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!j || !cJSON_IsObject(j)) {
        char shown[81];
        shown[put_clean_text(shown, 0, sizeof shown - 1, line, len)] = 0;
        snprintf(why, whylen, "not a JSON object: %s", shown);
        cJSON_Delete(j);
        return -1;
    }
    int rc = -1;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "msg");
    if (!cJSON_IsString(id) || strcmp(id->valuestring, id_hex) != 0) {
        snprintf(why, whylen, "answer id does not match the event id");
    } else if (!cJSON_IsString(action)) {
        snprintf(why, whylen, "answer has no action");
    } else if (m && !cJSON_IsString(m) && !cJSON_IsNull(m)) {
        snprintf(why, whylen, "answer msg is not a string");
    } else if (strcmp(action->valuestring, "accept") == 0) {
        *verdict = PLUGIN_ACCEPT;
        rc = 0;
    } else if (strcmp(action->valuestring, "shadowReject") == 0) {
        *verdict = PLUGIN_SHADOW_REJECT;
        rc = 0;
    } else if (strcmp(action->valuestring, "reject") == 0) {
        *verdict = PLUGIN_REJECT;
        const char *text = cJSON_IsString(m) ? m->valuestring : "";
        policy_client_msg(text, strlen(text), "blocked: refused by the write policy", msg, msglen);
        rc = 0;
    } else {
        char shown[41];
        shown[put_clean_text(shown, 0, sizeof shown - 1, action->valuestring, strlen(action->valuestring))] = 0;
        snprintf(why, whylen, "unknown action \"%s\"", shown);
    }
    cJSON_Delete(j);
    return rc;
}
