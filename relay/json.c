/* Strict bounded JSON pull reader (see json.h) and the JSON string writer
 * used for messages sent back to clients (json_write_string, message.h). */
#include "json.h"
#include "message.h"
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Byte classes inside a string literal (GNU range designators: gcc and clang). */
enum { C_PLAIN = 0, C_QUOTE, C_BACKSLASH, C_CTRL, C_UTF8 };
static const unsigned char str_class[256] = {
    [0x00 ... 0x1f] = C_CTRL, ['"'] = C_QUOTE, ['\\'] = C_BACKSLASH, [0x80 ... 0xff] = C_UTF8,
};

void json_reader_init(json_reader *r, const char *data, size_t len, uint32_t max_depth) {
    r->p = data;
    r->end = data + len;
    r->err = NULL;
    r->depth = 0;
    r->max_depth = max_depth ? max_depth : JSON_DEFAULT_MAX_DEPTH;
}

bool json_fail(json_reader *r, const char *why) {
    if (!r->err) r->err = why;
    return false;
}

static inline void skip_ws(json_reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) r->p++;
}

json_type json_peek(json_reader *r) {
    skip_ws(r);
    if (r->p >= r->end) return JSON_END;
    switch (*r->p) {
    case '{': return JSON_OBJECT;
    case '[': return JSON_ARRAY;
    case '"': return JSON_STRING;
    case 't': return JSON_TRUE;
    case 'f': return JSON_FALSE;
    case 'n': return JSON_NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return JSON_NUMBER;
    default: return JSON_INVALID;
    }
}

bool json_at_end(json_reader *r) {
    skip_ws(r);
    return r->p >= r->end;
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Length of a valid UTF-8 sequence starting at p (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else return 0;
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

size_t json_utf8_seq(const char *p, size_t avail) {
    if (avail == 0) return 0;
    return utf8_seq((const unsigned char *)p, (const unsigned char *)p + avail);
}

static inline void count_decoded(json_string *s, unsigned c, bool via_u) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        s->n_short++;
    else if (c < 0x20) {
        s->n_ctrl++;
        if (via_u) s->n_ctrl_escaped++;
    }
}

/* Number of leading bytes of p[0..n) that are printable ASCII other than '"' and '\\'
 * (the common case inside strings), 16 at a time where SSE2 is available. */
static inline size_t plain_run(const unsigned char *p, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        /* signed compare: bytes >= 0x80 are negative, so < 0x20 catches them too */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
        int bits = _mm_movemask_epi8(m);
        if (bits) return i + (size_t)__builtin_ctz((unsigned)bits);
        i += 16;
    }
#endif
    while (i < n && str_class[p[i]] == C_PLAIN) i++;
    return i;
}

bool json_read_string(json_reader *r, json_string *s) {
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') return json_fail(r, "expected a string");
    const unsigned char *p = (const unsigned char *)r->p + 1;
    const unsigned char *end = (const unsigned char *)r->end;
    memset(s, 0, sizeof *s);
    s->raw = (const char *)p;
    size_t len = 0;
    for (;;) {
        size_t run = plain_run(p, (size_t)(end - p));
        p += run;
        len += run;
        if (p >= end) return json_fail(r, "unterminated string");
        unsigned char c = *p;
        switch (str_class[c]) {
        case C_QUOTE:
            s->raw_len = (size_t)((const char *)p - s->raw);
            s->len = len;
            r->p = (const char *)p + 1;
            return true;
        case C_CTRL: /* raw control byte: accepted, see json.h */
            count_decoded(s, c, false);
            p++; len++;
            break;
        case C_UTF8: {
            size_t n = utf8_seq(p, end);
            if (!n) return json_fail(r, "invalid UTF-8 in string");
            p += n; len += n;
            break;
        }
        default: { /* backslash */
            s->escaped = true;
            if (end - p < 2) return json_fail(r, "unterminated string");
            char e = (char)p[1];
            switch (e) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                count_decoded(s, (unsigned char)to[strchr(from, e) - from], false);
                p += 2; len++;
                break;
            }
            case 'u': {
                if (end - p < 6) return json_fail(r, "bad \\u escape");
                int u = hex4((const char *)p + 2);
                if (u < 0) return json_fail(r, "bad \\u escape");
                p += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                        return json_fail(r, "lone surrogate in \\u escape");
                    int lo = hex4((const char *)p + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF) return json_fail(r, "lone surrogate in \\u escape");
                    p += 6;
                    len += 4;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    return json_fail(r, "lone surrogate in \\u escape");
                } else {
                    count_decoded(s, (unsigned)u, true);
                    len += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
                }
                break;
            }
            default:
                return json_fail(r, "bad escape in string");
            }
        }
        }
    }
}

static char *put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) *o++ = (char)cp;
    else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

void json_decode_string(const json_string *s, char *out) {
    if (!s->escaped) {
        memcpy(out, s->raw, s->raw_len);
        return;
    }
    const char *p = s->raw, *end = s->raw + s->raw_len;
    char *o = out;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        if (!bs) bs = end;
        memcpy(o, p, (size_t)(bs - p));
        o += bs - p;
        p = bs;
        if (p >= end) break;
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned u = (unsigned)hex4(p);
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo = (unsigned)hex4(p + 2);
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            o = put_utf8(o, u);
            break;
        }
        default: *o++ = e; break; /* " \ / */
        }
    }
}

bool json_string_is(const json_string *s, const char *lit) {
    size_t n = strlen(lit);
    if (!s->escaped) return s->raw_len == n && memcmp(s->raw, lit, n) == 0;
    if (s->len != n || n > 64) return false;
    char buf[64];
    json_decode_string(s, buf);
    return memcmp(buf, lit, n) == 0;
}

bool json_read_uint(json_reader *r, uint64_t max, uint64_t *out) {
    skip_ws(r);
    const char *p = r->p;
    if (p >= r->end) return json_fail(r, "expected a number");
    if (*p == '-') return json_fail(r, "number must not be negative");
    if (*p < '0' || *p > '9') return json_fail(r, "expected a number");
    uint64_t v = 0;
    const char *start = p;
    while (p < r->end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return json_fail(r, "number too large");
        v = v * 10 + d;
        p++;
    }
    if (*start == '0' && p - start > 1) return json_fail(r, "leading zero in number");
    if (p < r->end && (*p == '.' || *p == 'e' || *p == 'E')) return json_fail(r, "number must be an integer");
    if (v > max) return json_fail(r, "number out of range");
    r->p = p;
    *out = v;
    return true;
}

static bool skip_number(json_reader *r) {
    const char *p = r->p, *e = r->end;
    if (p < e && *p == '-') p++;
    if (p >= e || *p < '0' || *p > '9') return json_fail(r, "malformed number");
    if (*p == '0') p++;
    else while (p < e && *p >= '0' && *p <= '9') p++;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') return json_fail(r, "malformed number");
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || *p < '0' || *p > '9') return json_fail(r, "malformed number");
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    r->p = p;
    return true;
}

static bool skip_literal(json_reader *r, const char *lit, size_t n) {
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0) return json_fail(r, "malformed JSON");
    r->p += n;
    return true;
}

bool json_array_begin(json_reader *r) {
    skip_ws(r);
    if (r->p >= r->end || *r->p != '[') return json_fail(r, "expected an array");
    if (r->depth >= r->max_depth) return json_fail(r, "JSON nested too deeply");
    r->depth++;
    r->p++;
    return true;
}

bool json_object_begin(json_reader *r) {
    skip_ws(r);
    if (r->p >= r->end || *r->p != '{') return json_fail(r, "expected an object");
    if (r->depth >= r->max_depth) return json_fail(r, "JSON nested too deeply");
    r->depth++;
    r->p++;
    return true;
}

static int container_next(json_reader *r, uint32_t *index, char close) {
    skip_ws(r);
    if (r->p >= r->end) return json_fail(r, "unexpected end of JSON"), -1;
    if (*r->p == close) {
        r->p++;
        r->depth--;
        return 0;
    }
    if (*index > 0) {
        if (*r->p != ',') return json_fail(r, "malformed JSON"), -1;
        r->p++;
        skip_ws(r);
        if (r->p >= r->end) return json_fail(r, "unexpected end of JSON"), -1;
    }
    (*index)++;
    return 1;
}

int json_array_next(json_reader *r, uint32_t *index) {
    return container_next(r, index, ']');
}

int json_object_next(json_reader *r, uint32_t *index, json_string *key) {
    int k = container_next(r, index, '}');
    if (k != 1) return k;
    if (!json_read_string(r, key)) return -1;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') return json_fail(r, "malformed JSON"), -1;
    r->p++;
    return 1;
}

bool json_skip_value(json_reader *r) {
    json_string s;
    uint32_t i = 0;
    int k;
    switch (json_peek(r)) {
    case JSON_STRING: return json_read_string(r, &s);
    case JSON_NUMBER: return skip_number(r);
    case JSON_TRUE: return skip_literal(r, "true", 4);
    case JSON_FALSE: return skip_literal(r, "false", 5);
    case JSON_NULL: return skip_literal(r, "null", 4);
    case JSON_ARRAY:
        if (!json_array_begin(r)) return false;
        while ((k = json_array_next(r, &i)) == 1)
            if (!json_skip_value(r)) return false;
        return k == 0;
    case JSON_OBJECT:
        if (!json_object_begin(r)) return false;
        while ((k = json_object_next(r, &i, &s)) == 1)
            if (!json_skip_value(r)) return false;
        return k == 0;
    case JSON_END: return json_fail(r, "unexpected end of JSON");
    default: return json_fail(r, "malformed JSON");
    }
}

size_t json_write_string(char *out, size_t cap, const char *s, size_t len) {
    static const char hexd[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 2) return 0;
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc = 0;
        switch (c) {
        case '"': esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\b': esc = 'b'; break;
        case '\f': esc = 'f'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        default: break;
        }
        if (esc) {
            if (o + 2 > cap) return 0;
            out[o++] = '\\';
            out[o++] = esc;
        } else if (c < 0x20) {
            if (o + 6 > cap) return 0;
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hexd[c >> 4];
            out[o + 5] = hexd[c & 15];
            o += 6;
        } else {
            if (o + 1 > cap) return 0;
            out[o++] = (char)c;
        }
    }
    if (o + 1 > cap) return 0;
    out[o++] = '"';
    if (o < cap) out[o] = 0; /* convenience NUL, not counted */
    return o;
}
