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

/* Host of a ws:// or wss:// URL without port: sets host and hlen; false if not such a URL. */
static bool url_host(const char *url, size_t len, const char **host, size_t *hlen) {
    size_t skip;
    if (len >= 5 && strncasecmp(url, "ws://", 5) == 0) skip = 5;
    else if (len >= 6 && strncasecmp(url, "wss://", 6) == 0) skip = 6;
    else return false;
    const char *h = url + skip;
    size_t n = 0;
    if (h < url + len && *h == '[') { /* [ipv6] */
        const char *close = memchr(h, ']', len - skip);
        if (!close) return false;
        *host = h;
        *hlen = (size_t)(close - h) + 1;
        return true;
    }
    while (skip + n < len && h[n] != '/' && h[n] != ':' && h[n] != '?') n++;
    *host = h;
    *hlen = n;
    return n > 0;
}

static size_t host_without_port(const char *host) {
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        return close ? (size_t)(close - host) + 1 : strlen(host);
    }
    const char *colon = strchr(host, ':');
    return colon ? (size_t)(colon - host) : strlen(host);
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
        const char *h;
        size_t hl;
        size_t want = host ? host_without_port(host) : 0;
        if (!url_host(r->ptr, r->len, &h, &hl) || want == 0 || hl != want || strncasecmp(h, host, hl) != 0) {
            snprintf(msg, msglen, "invalid: AUTH relay tag does not name this relay");
            return false;
        }
    }
    return true;
}
