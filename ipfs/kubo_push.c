/* Kubo RPC dag/import client and the pending-push list (see kubo_push.h). */
#include "kubo_push.h"
#include "durable_file.h"
#include "archive_chain.h"
#include "log.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char host[256];
    char port[8];
    char prefix[512];
} http_url;

static int parse_url(const char *url, http_url *u, char *err, size_t errlen) {
    memset(u, 0, sizeof *u);
    if (strncmp(url, "http://", 7) != 0) { snprintf(err, errlen, "ipfs_api must be an http:// URL"); return -1; }
    const char *h = url + 7, *end = h + strcspn(h, "/");
    const char *colon = NULL;
    if (*h == '[') { /* [ipv6]:port */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb - h - 1 >= (long)sizeof u->host) { snprintf(err, errlen, "bad ipfs_api host"); return -1; }
        memcpy(u->host, h + 1, (size_t)(rb - h - 1));
        if (rb + 1 < end && rb[1] == ':') colon = rb + 1;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        const char *he = colon ? colon : end;
        if (he == h || he - h >= (long)sizeof u->host) { snprintf(err, errlen, "bad ipfs_api host"); return -1; }
        memcpy(u->host, h, (size_t)(he - h));
    }
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") < pl) { snprintf(err, errlen, "bad ipfs_api port"); return -1; }
        memcpy(u->port, colon + 1, pl);
        long p = strtol(u->port, NULL, 10);
        if (p < 1 || p > 65535) { snprintf(err, errlen, "bad ipfs_api port"); return -1; }
    } else snprintf(u->port, sizeof u->port, "80");
    size_t plen = strlen(end);
    while (plen && end[plen - 1] == '/') plen--;
    if (plen >= sizeof u->prefix) { snprintf(err, errlen, "ipfs_api path too long"); return -1; }
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)end[i] <= ' ' || end[i] == '?' || end[i] == '#') { snprintf(err, errlen, "bad ipfs_api path"); return -1; }
    memcpy(u->prefix, end, plen);
    return 0;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) { errno = ETIMEDOUT; return -1; }
        struct pollfd p = {fd, ev, 0};
        int r = poll(&p, 1, (int)left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -1;
    }
}

static int connect_to(const http_url *u, int64_t deadline, char *err, size_t errlen) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g) { snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(g)); return -1; }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) break;
            errno = soerr ? soerr : errno;
        }
        snprintf(err, errlen, "cannot connect to %s:%s: %s", u->host, u->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const void *p, size_t n, int64_t deadline) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w > 0) { c += w; n -= (size_t)w; continue; }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { if (wait_fd(fd, POLLOUT, deadline) < 0) return -1; continue; }
        return -1;
    }
    return 0;
}

/* Decodes a chunked body in place. Returns the new length or -1. */
static long dechunk(char *b, size_t n) {
    size_t in = 0, out = 0;
    for (;;) {
        char *nl = memchr(b + in, '\n', n - in);
        if (!nl) return -1;
        char *end;
        unsigned long sz = strtoul(b + in, &end, 16);
        if (end == b + in) return -1;
        in = (size_t)(nl - b) + 1;
        if (sz == 0) return (long)out;
        if (sz > n - in) return -1;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz;
        if (in < n && b[in] == '\r') in++;
        if (in < n && b[in] == '\n') in++;
    }
}

/* Checks Kubo's dag/import answer: JSON lines, one {"Root":{"Cid":{"/":CID},"PinErrorMsg":""}}. */
static int check_answer(const char *body, size_t n, const char *root, char *err, size_t errlen) {
    bool found = false;
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(body + pos, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - (body + pos)) : n - pos;
        cJSON *j = cJSON_ParseWithLength(body + pos, len);
        pos += len + 1;
        if (!j) continue;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "Root");
        const cJSON *c = r ? cJSON_GetObjectItemCaseSensitive(r, "Cid") : NULL;
        const cJSON *slash = c ? cJSON_GetObjectItemCaseSensitive(c, "/") : NULL;
        const cJSON *pe = r ? cJSON_GetObjectItemCaseSensitive(r, "PinErrorMsg") : NULL;
        if (cJSON_IsString(slash) && strcmp(slash->valuestring, root) == 0) {
            if (cJSON_IsString(pe) && pe->valuestring[0]) {
                snprintf(err, errlen, "the node could not pin the root: %.200s", pe->valuestring);
                cJSON_Delete(j);
                return -1;
            }
            found = true;
        }
        cJSON_Delete(j);
    }
    if (!found) { snprintf(err, errlen, "the node's answer does not name the root %s", root); return -1; }
    return 0;
}

int kubo_push_car(const char *api_url, const char *car_path, const cid *root, int timeout_ms, char *err, size_t errlen) {
    http_url u;
    if (parse_url(api_url, &u, err, errlen) < 0) return -1;
    FILE *f = fopen(car_path, "rb");
    if (!f) { snprintf(err, errlen, "cannot read %s: %s", car_path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) { fclose(f); snprintf(err, errlen, "cannot stat %s", car_path); return -1; }
    uint8_t rnd[12];
    char boundary[32] = "g1relay";
    randombytes_buf(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(boundary + 7 + 2 * i, 3, "%02x", rnd[i]);
    char pre[512], post[64], head[2048];
    int prel = snprintf(pre, sizeof pre,
                        "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"archive.car\"\r\n"
                        "Content-Type: application/vnd.ipld.car\r\n\r\n", boundary);
    int postl = snprintf(post, sizeof post, "\r\n--%s--\r\n", boundary);
    bool v6 = strchr(u.host, ':') != NULL;
    int headl = snprintf(head, sizeof head,
                         "POST %s/api/v0/dag/import?pin-roots=true HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
                         "User-Agent: g1relay\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
                         "Content-Length: %lld\r\nConnection: close\r\n\r\n",
                         u.prefix, v6 ? "[" : "", u.host, v6 ? "]" : "", u.port, boundary,
                         (long long)(prel + (long long)st.st_size + postl));
    int64_t deadline = now_ms() + timeout_ms;
    int fd = connect_to(&u, deadline, err, errlen);
    if (fd < 0) { fclose(f); return -1; }
    int rc = -1;
    char *resp = NULL;
    if (send_all(fd, head, (size_t)headl, deadline) < 0 || send_all(fd, pre, (size_t)prel, deadline) < 0) goto send_err;
    char buf[65536];
    size_t n;
    uint64_t sent = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (send_all(fd, buf, n, deadline) < 0) goto send_err;
        sent += n;
    }
    if (sent != (uint64_t)st.st_size) { snprintf(err, errlen, "%s changed while sending", car_path); goto out; }
    if (send_all(fd, post, (size_t)postl, deadline) < 0) goto send_err;
    resp = malloc(KUBO_RESPONSE_MAX + 1);
    if (!resp) { snprintf(err, errlen, "out of memory"); goto out; }
    size_t rl = 0;
    for (;;) {
        if (rl == KUBO_RESPONSE_MAX) { snprintf(err, errlen, "answer longer than %u bytes", KUBO_RESPONSE_MAX); goto out; }
        ssize_t r = recv(fd, resp + rl, KUBO_RESPONSE_MAX - rl, 0);
        if (r > 0) { rl += (size_t)r; continue; }
        if (r == 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN, deadline) < 0) { snprintf(err, errlen, "no complete answer from %s:%s: %s", u.host, u.port, strerror(errno)); goto out; }
            continue;
        }
        snprintf(err, errlen, "reading the answer: %s", strerror(errno));
        goto out;
    }
    resp[rl] = 0;
    char *hend = strstr(resp, "\r\n\r\n");
    int status = 0;
    if (!hend || sscanf(resp, "HTTP/1.%*d %d", &status) != 1) { snprintf(err, errlen, "not an HTTP answer from %s:%s", u.host, u.port); goto out; }
    *hend = 0;
    char *body = hend + 4;
    long blen = (long)(rl - (size_t)(body - resp));
    bool chunked = false;
    for (char *line = strstr(resp, "\r\n"); line; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "transfer-encoding:", 18) == 0 && strcasestr(line + 2, "chunked")) chunked = true;
    if (chunked && (blen = dechunk(body, (size_t)blen)) < 0) { snprintf(err, errlen, "bad chunked answer"); goto out; }
    if (status != 200) {
        char shown[160];
        size_t k = 0;
        for (long i = 0; i < blen && k < sizeof shown - 1; i++) shown[k++] = body[i] >= ' ' && body[i] < 127 ? body[i] : ' ';
        shown[k] = 0;
        snprintf(err, errlen, "HTTP %d from %s:%s: %s", status, u.host, u.port, shown);
        goto out;
    }
    char rootstr[CID_MAX_TEXT];
    cid_to_string(root, rootstr);
    rc = check_answer(body, (size_t)blen, rootstr, err, errlen);
    goto out;
send_err:
    snprintf(err, errlen, "sending to %s:%s: %s", u.host, u.port, strerror(errno));
out:
    free(resp);
    close(fd);
    fclose(f);
    return rc;
}

/* ---- pending list ---- */

typedef struct {
    cid root;
    uint32_t attempts;
    int64_t next_try;
    char path[4096];
} pending_entry;

int64_t kubo_backoff_seconds(uint32_t attempts) {
    int64_t s = 30;
    for (uint32_t i = 1; i < attempts && s < 3600; i++) s *= 2;
    return s > 3600 ? 3600 : s;
}

#define PENDING_MAX 100000

/* Reads the list (malformed lines dropped). Returns the count or -1. */
static long read_pending(const char *data_dir, pending_entry **out) {
    char p[4096], line[4096 + 128];
    snprintf(p, sizeof p, "%s/%s", data_dir, KUBO_PUSH_PENDING_FILE);
    *out = NULL;
    FILE *f = fopen(p, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    pending_entry *v = NULL;
    long n = 0, cap = 0;
    while (fgets(line, sizeof line, f) && n < PENDING_MAX) {
        size_t l = strlen(line);
        if (!l || line[l - 1] != '\n') continue;
        line[l - 1] = 0;
        char rootstr[CID_MAX_TEXT];
        unsigned att;
        long long next;
        int used = 0;
        if (sscanf(line, "%71s %u %lld %n", rootstr, &att, &next, &used) != 3 || !line[used]) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            pending_entry *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) { free(v); fclose(f); return -1; }
            v = nv;
        }
        if (cid_parse(&v[n].root, rootstr) < 0 || strlen(line + used) >= sizeof v[n].path) continue;
        v[n].attempts = att;
        v[n].next_try = next;
        snprintf(v[n].path, sizeof v[n].path, "%s", line + used);
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

static int write_pending(const char *data_dir, const pending_entry *v, long n) {
    char p[4096], tmp[4200];
    snprintf(p, sizeof p, "%s/%s", data_dir, KUBO_PUSH_PENDING_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    for (long i = 0; i < n; i++) {
        char rootstr[CID_MAX_TEXT];
        cid_to_string(&v[i].root, rootstr);
        fprintf(f, "%s %u %" PRId64 " %s\n", rootstr, v[i].attempts, v[i].next_try, v[i].path);
    }
    int rc = fflush(f) == 0 && fsync_retry(fileno(f)) == 0 ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    if (rc == 0 && rename(tmp, p) != 0) rc = -1;
    if (rc) unlink(tmp);
    else rc = fsync_dir(data_dir); /* the rename itself must survive a power cut */
    return rc;
}

int kubo_pending_add(const char *data_dir, const char *car_path, const cid *root, int64_t next_try, char *err,
                     size_t errlen) {
    char abs[4096];
    if (!realpath(car_path, abs)) { snprintf(err, errlen, "%s: %s", car_path, strerror(errno)); return -1; }
    if (strchr(abs, '\n')) { snprintf(err, errlen, "archive path contains a newline"); return -1; }
    int lock = archive_chain_lock(data_dir, err, errlen);
    if (lock < 0) return -1;
    pending_entry *v;
    long n = read_pending(data_dir, &v);
    int rc = -1;
    if (n < 0) { snprintf(err, errlen, "cannot read the pending-push list"); goto out; }
    pending_entry *nv = realloc(v, (size_t)(n + 1) * sizeof *nv);
    if (!nv) { snprintf(err, errlen, "out of memory"); goto out; }
    v = nv;
    v[n].root = *root;
    v[n].attempts = 1;
    v[n].next_try = next_try;
    snprintf(v[n].path, sizeof v[n].path, "%s", abs);
    if (write_pending(data_dir, v, n + 1) < 0) snprintf(err, errlen, "cannot write the pending-push list: %s", strerror(errno));
    else rc = 0;
out:
    free(v);
    archive_chain_unlock(lock);
    return rc;
}

int kubo_pending_run(const char *data_dir, const char *api_url, int64_t now, int timeout_ms,
                     void (*on_pushed)(void *ctx, const char *car_path, const cid *root), void *ctx) {
    char err[512];
    if (!api_url || !*api_url) return 0;
    int lock = archive_chain_lock(data_dir, err, sizeof err);
    if (lock < 0) return -1;
    pending_entry *v;
    long n = read_pending(data_dir, &v);
    if (n <= 0) { archive_chain_unlock(lock); return (int)n; }
    /* In order: an archive's prev must be on the node before it is pinned (the
     * recursive pin walks the chain), so a failure or a not-yet-due entry stops the round. */
    long keep = 0;
    bool changed = false, blocked = false;
    for (long i = 0; i < n; i++) {
        if (!blocked && v[i].next_try <= now) {
            changed = true;
            if (kubo_push_car(api_url, v[i].path, &v[i].root, timeout_ms, err, sizeof err) == 0) {
                if (on_pushed) on_pushed(ctx, v[i].path, &v[i].root);
                continue;
            }
            if (access(v[i].path, R_OK) != 0) continue; /* the file is gone: nothing left to push */
            v[i].attempts++;
            v[i].next_try = now + kubo_backoff_seconds(v[i].attempts);
            log_warn("archive: push of %s still failing (attempt %u): %s", v[i].path, v[i].attempts, err);
        }
        blocked = true;
        v[keep++] = v[i];
    }
    int rc = (int)keep;
    if (changed && write_pending(data_dir, v, keep) < 0) rc = -1;
    free(v);
    archive_chain_unlock(lock);
    return rc;
}

int kubo_push_in_order(const char *data_dir, const char *api_url, const char *car_path, const cid *root, int timeout_ms,
                       bool *pushed, char *err, size_t errlen) {
    *pushed = false;
    int left = kubo_pending_run(data_dir, api_url, (int64_t)time(NULL), timeout_ms, NULL, NULL);
    if (left == 0) {
        if (kubo_push_car(api_url, car_path, root, timeout_ms, err, errlen) == 0) {
            *pushed = true;
            return 0;
        }
    } else if (left > 0) {
        snprintf(err, errlen, "%d earlier archive%s still to push first", left, left == 1 ? "" : "s");
    } else {
        snprintf(err, errlen, "cannot read the pending-push list");
    }
    char qerr[256];
    if (kubo_pending_add(data_dir, car_path, root, (int64_t)time(NULL) + (left == 0 ? kubo_backoff_seconds(1) : 0), qerr,
                         sizeof qerr) < 0) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, "; cannot queue it: %s", qerr);
        return -1;
    }
    return 0;
}
