/* CLI secret input (stdin lines, files) and strict option parsing. */
#include "secret_input.h"
#include "hex.h"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void secret_free(char *p, size_t len) {
    if (!p) return;
    sodium_memzero(p, len);
    sodium_free(p);
}

int secret_read_line(int fd, char **out, size_t *len, char *err, size_t errlen) {
    if (sodium_init() < 0) { snprintf(err, errlen, "libsodium failed to initialise"); return -1; }
    char *buf = sodium_malloc(SECRET_LINE_MAX + 2);
    if (!buf) { snprintf(err, errlen, "out of memory"); return -1; }
    size_t n = 0;
    bool any = false;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1); /* one byte at a time: nothing left in stdio buffers */
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { secret_free(buf, SECRET_LINE_MAX + 2); snprintf(err, errlen, "read error on standard input"); return -1; }
        if (r == 0) break;
        any = true;
        if (c == '\n') break;
        if (n >= SECRET_LINE_MAX) { secret_free(buf, SECRET_LINE_MAX + 2); snprintf(err, errlen, "input line longer than %d bytes", SECRET_LINE_MAX); return -1; }
        buf[n++] = c;
    }
    if (!any) { secret_free(buf, SECRET_LINE_MAX + 2); return 1; }
    if (n && buf[n - 1] == '\r') n--;
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int secret_read_cesium_keypair(int fd, g1_keypair *kp, char *err, size_t errlen) {
    char *id = NULL, *pw = NULL;
    size_t id_len = 0, pw_len = 0;
    int rc = -1;
    if (isatty(fd)) fprintf(stderr, "Cesium secret identifier, then password (two lines):\n");
    int r = secret_read_line(fd, &id, &id_len, err, errlen);
    if (r == 1) { snprintf(err, errlen, "expected the secret identifier and the password as two lines on standard input"); goto out; }
    if (r < 0) goto out;
    r = secret_read_line(fd, &pw, &pw_len, err, errlen);
    if (r == 1) { snprintf(err, errlen, "expected the password on the second line of standard input"); goto out; }
    if (r < 0) goto out;
    if (id_len == 0 || pw_len == 0) { snprintf(err, errlen, "the secret identifier and the password must not be empty"); goto out; }
    if (g1_derive_cesium(id, id_len, pw, pw_len, kp) < 0) { snprintf(err, errlen, "key derivation failed"); goto out; }
    rc = 0;
out:
    secret_free(id, SECRET_LINE_MAX + 2);
    secret_free(pw, SECRET_LINE_MAX + 2);
    return rc;
}

int secret_read_file(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen) {
    if (sodium_init() < 0) { snprintf(err, errlen, "libsodium failed to initialise"); return -1; }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd); snprintf(err, errlen, "%s: not a regular file", path); return -1; }
    char *buf = sodium_malloc(max + 1);
    if (!buf) { close(fd); snprintf(err, errlen, "out of memory"); return -1; }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { close(fd); secret_free(buf, max + 1); snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
        if (r == 0) break;
        n += (size_t)r;
        if (n > max) { close(fd); secret_free(buf, max + 1); snprintf(err, errlen, "%s: larger than %zu bytes", path, max); return -1; }
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int secret_load_dunikey(const char *path, g1_keypair *kp, char *err, size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    char inner[200];
    if (secret_read_file(path, 4096, &text, &len, err, errlen) < 0) return -1;
    int rc = g1_dunikey_parse(text, len, kp, inner, sizeof inner);
    if (rc < 0) snprintf(err, errlen, "%s: %s", path, inner);
    secret_free(text, 4097);
    return rc;
}

bool parse_uint(const char *s, uint64_t max, uint64_t *out) {
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (v > max) return false;
    *out = v;
    return true;
}

bool parse_hash32(const char *s, uint8_t out[32]) {
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    return strlen(s) == 64 && hex_decode(s, 64, out, 32);
}
