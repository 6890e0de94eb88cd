/* NIP-42 challenge and AUTH event checks (see auth.h). */
#include "auth.h"
#include "hex.h"
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void auth_new_challenge(char out[33]) {
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    hex_encode(raw, sizeof raw, out);
}

/* Finds the first tag named name with a value; NULL if none. */
static const event_str *tag_value(const event *ev, const char *name) {
    size_t nl = strlen(name);
    for (uint32_t t = 0; t < ev->tag_count; t++) {
        if (ev->tags[t].count < 2) continue;
        const event_str *n = &ev->tag_strs[ev->tags[t].first];
        if (n->len == nl && memcmp(n->ptr, name, nl) == 0) return &ev->tag_strs[ev->tags[t].first + 1];
    }
    return NULL;
}

static size_t trim_slash(const char *s, size_t len) {
    while (len > 0 && s[len - 1] == '/') len--;
    return len;
}

bool auth_same_relay_url(const char *a, size_t alen, const char *b, size_t blen) {
    alen = trim_slash(a, alen);
    blen = trim_slash(b, blen);
    if (alen != blen) return false;
    /* scheme://host part compared case-insensitively, path exactly */
    const char *sa = memchr(a, ':', alen);
    size_t host_end = alen;
    if (sa && (size_t)(sa - a) + 3 <= alen) {
        const char *slash = memchr(sa + 3, '/', alen - (size_t)(sa + 3 - a));
        if (slash) host_end = (size_t)(slash - a);
    }
    for (size_t i = 0; i < alen; i++) {
        if (i < host_end ? tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]) : a[i] != b[i])
            return false;
    }
    return true;
}

/* Splits "host[:port]" (host may be "[v6]") at len; port_out 0 when absent. */
static bool split_authority(const char *a, size_t len, const char **host, size_t *hlen, long *port_out) {
    *port_out = 0;
    size_t hend;
    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (!close) return false;
        hend = (size_t)(close - a) + 1;
    } else {
        const char *colon = memchr(a, ':', len);
        hend = colon ? (size_t)(colon - a) : len;
    }
    if (hend == 0) return false;
    *host = a;
    *hlen = hend;
    if (hend < len) {
        if (a[hend] != ':' || hend + 1 == len) return false;
        long p = 0;
        for (size_t i = hend + 1; i < len; i++) {
            if (!isdigit((unsigned char)a[i]) || p > 65535) return false;
            p = p * 10 + (a[i] - '0');
        }
        *port_out = p;
    }
    return true;
}

/* True if the ws:// or wss:// URL names the server reached through Host header
 * `host_header`: same host (case-insensitive) and same port, a missing port
 * meaning the scheme's default (80 for ws, 443 for wss). */
static bool url_matches_host(const char *url, size_t len, const char *host_header) {
    size_t skip;
    long def;
    if (len >= 5 && strncasecmp(url, "ws://", 5) == 0) { skip = 5; def = 80; }
    else if (len >= 6 && strncasecmp(url, "wss://", 6) == 0) { skip = 6; def = 443; }
    else return false;
    const char *a = url + skip;
    size_t alen = 0;
    while (skip + alen < len && a[alen] != '/' && a[alen] != '?' && a[alen] != '#') alen++;
    const char *uh, *hh;
    size_t ulen, hlen;
    long up, hp;
    if (!split_authority(a, alen, &uh, &ulen, &up)) return false;
    if (!host_header || !split_authority(host_header, strlen(host_header), &hh, &hlen, &hp)) return false;
    if (ulen != hlen || strncasecmp(uh, hh, ulen) != 0) return false;
    if (!up) up = def;
    if (!hp) hp = def;
    return up == hp;
}

bool auth_check_event(const event *ev, const char *challenge, const char *relay_url, const char *host,
                      int64_t now, char *msg, size_t msglen) {
    if (ev->kind != AUTH_KIND) {
        snprintf(msg, msglen, "invalid: AUTH event must be of kind %d", AUTH_KIND);
        return false;
    }
    int64_t age = now - ev->created_at;
    if (age > AUTH_MAX_AGE_SECONDS || age < -AUTH_MAX_AGE_SECONDS) {
        snprintf(msg, msglen, "invalid: AUTH event created_at is more than %d seconds away from now",
                 AUTH_MAX_AGE_SECONDS);
        return false;
    }
    const event_str *c = tag_value(ev, "challenge");
    if (!c || !challenge[0] || c->len != strlen(challenge) || memcmp(c->ptr, challenge, c->len) != 0) {
        snprintf(msg, msglen, "invalid: AUTH challenge does not match");
        return false;
    }
    const event_str *r = tag_value(ev, "relay");
    if (!r) {
        snprintf(msg, msglen, "invalid: AUTH event has no relay tag");
        return false;
    }
    if (relay_url && relay_url[0]) {
        if (!auth_same_relay_url(r->ptr, r->len, relay_url, strlen(relay_url))) {
            snprintf(msg, msglen, "invalid: AUTH relay tag does not name this relay");
            return false;
        }
    } else {
        if (!url_matches_host(r->ptr, r->len, host)) {
            snprintf(msg, msglen, "invalid: AUTH relay tag does not name this relay");
            return false;
        }
    }
    return true;
}
