/* Encrypted keystore file: Argon2id key derivation, XChaCha20-Poly1305, atomic
 * locked writes, seeds held in guarded memory. */
#include "keystore.h"
#include "durable_file.h"
#include "scale.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KS_MAGIC "G1KS"
#define KS_FORMAT 1
#define KS_KDF_ARGON2ID 1
#define KS_SALT 16
#define KS_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_HEADER (4 + 1 + 1 + 4 + 4 + KS_SALT + KS_NONCE)
#define KS_MAX_FILE (16u * 1024 * 1024)
#define KS_MAX_PASSPHRASE 4096
#define KS_RECORD_WALLET 1
#define KS_RECORD_STATION 2

typedef struct {
    uint8_t nostr[32];
    uint8_t seed[32];
    uint8_t account[32];
    uint64_t created_at;
} ks_wallet;

struct keystore {
    pthread_mutex_t lock;
    char *path, *lock_path, *dir;
    uint8_t *key;         /* sodium_malloc, 32 bytes */
    uint8_t salt[KS_SALT];
    uint32_t opslimit, memlimit_kib;
    uint8_t file_nonce[KS_NONCE]; /* nonce of the file as last read or written */
    bool have_file;
    ks_wallet *wallets;   /* sodium_malloc, capacity wallet_cap */
    size_t wallet_count, wallet_cap;
    uint8_t *station;     /* sodium_malloc, 32 bytes */
    bool have_station;
};

static int ks_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ks_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- passphrase ---- */

void keystore_passphrase_free(char *pass, size_t len) {
    if (!pass) return;
    sodium_memzero(pass, len + 1);
    sodium_free(pass);
}

int keystore_passphrase_load(const char *passphrase_file, char **out, size_t *len, char *err, size_t errlen) {
    if (sodium_init() < 0) return ks_fail(err, errlen, "libsodium failed to initialise");
    char *buf = sodium_malloc(KS_MAX_PASSPHRASE + 2);
    if (!buf) return ks_fail(err, errlen, "out of memory");
    size_t n = 0;
    if (passphrase_file && *passphrase_file) {
        int fd = open(passphrase_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { sodium_free(buf); return ks_fail(err, errlen, "passphrase file %s: %s", passphrase_file, strerror(errno)); }
        for (;;) {
            ssize_t got = read(fd, buf + n, KS_MAX_PASSPHRASE + 1 - n);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) { close(fd); keystore_passphrase_free(buf, KS_MAX_PASSPHRASE + 1); return ks_fail(err, errlen, "passphrase file %s: %s", passphrase_file, strerror(errno)); }
            if (got == 0) break;
            n += (size_t)got;
            if (n > KS_MAX_PASSPHRASE) { close(fd); keystore_passphrase_free(buf, KS_MAX_PASSPHRASE + 1); return ks_fail(err, errlen, "passphrase file %s: longer than %d bytes", passphrase_file, KS_MAX_PASSPHRASE); }
        }
        close(fd);
        if (n && buf[n - 1] == '\n') n--;
        if (n && buf[n - 1] == '\r') n--;
    } else {
        const char *env = getenv("G1RELAY_PASSPHRASE");
        if (!env) { sodium_free(buf); return ks_fail(err, errlen, "no keystore passphrase: set G1RELAY_PASSPHRASE or give --passphrase-file FILE (config passphrase_file)"); }
        n = strlen(env);
        if (n > KS_MAX_PASSPHRASE) { sodium_free(buf); return ks_fail(err, errlen, "G1RELAY_PASSPHRASE longer than %d bytes", KS_MAX_PASSPHRASE); }
        memcpy(buf, env, n);
    }
    buf[n] = 0;
    if (n == 0) { keystore_passphrase_free(buf, KS_MAX_PASSPHRASE + 1); return ks_fail(err, errlen, "the keystore passphrase is empty"); }
    *out = buf;
    *len = n;
    return 0;
}

/* ---- file I/O ---- */

static char *ks_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int ks_lock(const keystore *ks, char *err, size_t errlen) {
    int fd = open(ks->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ks_fail(err, errlen, "%s: %s", ks->lock_path, strerror(errno));
    while (flock(fd, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        return ks_fail(err, errlen, "lock %s: %s", ks->lock_path, strerror(e));
    }
    return fd;
}

static void ks_unlock(int fd) {
    if (fd >= 0) { flock(fd, LOCK_UN); close(fd); }
}

/* Reads the whole file. Returns 0, 1 if absent, -1 on error. */
static int ks_read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        return ks_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)KS_MAX_FILE) {
        close(fd);
        return ks_fail(err, errlen, "%s: not a regular file of reasonable size", path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) { close(fd); return ks_fail(err, errlen, "out of memory"); }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { free(buf); close(fd); return ks_fail(err, errlen, "%s: read error", path); }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = size;
    return 0;
}

static int ks_write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ks_derive(keystore *ks, const char *pass, size_t passlen, char *err, size_t errlen) {
    if (crypto_pwhash(ks->key, 32, pass, passlen, ks->salt, ks->opslimit, (size_t)ks->memlimit_kib * 1024,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ks_fail(err, errlen, "key derivation failed (out of memory?)");
    return 0;
}

static void ks_header(const keystore *ks, const uint8_t nonce[KS_NONCE], uint8_t out[KS_HEADER]) {
    size_t k = 0;
    memcpy(out, KS_MAGIC, 4); k += 4;
    out[k++] = KS_FORMAT;
    out[k++] = KS_KDF_ARGON2ID;
    for (int i = 0; i < 4; i++) out[k++] = (uint8_t)(ks->opslimit >> (8 * i));
    for (int i = 0; i < 4; i++) out[k++] = (uint8_t)(ks->memlimit_kib >> (8 * i));
    memcpy(out + k, ks->salt, KS_SALT); k += KS_SALT;
    memcpy(out + k, nonce, KS_NONCE);
}

/* Plaintext: Compact(count) then records: u8 type, fields. */
static int ks_serialise(const keystore *ks, scale_buf *b) {
    scale_put_compact(b, ks->wallet_count + (ks->have_station ? 1 : 0));
    for (size_t i = 0; i < ks->wallet_count; i++) {
        const ks_wallet *w = &ks->wallets[i];
        scale_put_u8(b, KS_RECORD_WALLET);
        scale_put_raw(b, w->nostr, 32);
        scale_put_raw(b, w->seed, 32);
        scale_put_u64(b, w->created_at);
    }
    if (ks->have_station) {
        scale_put_u8(b, KS_RECORD_STATION);
        scale_put_raw(b, ks->station, 32);
    }
    return b->failed ? -1 : 0;
}

static int ks_grow(keystore *ks, size_t need) {
    if (need <= ks->wallet_cap) return 0;
    size_t cap = ks->wallet_cap ? ks->wallet_cap : 16;
    while (cap < need) cap *= 2;
    ks_wallet *p = sodium_malloc(cap * sizeof *p);
    if (!p) return -1;
    if (ks->wallets) {
        memcpy(p, ks->wallets, ks->wallet_count * sizeof *p);
        sodium_memzero(ks->wallets, ks->wallet_cap * sizeof *p);
        sodium_free(ks->wallets);
    }
    ks->wallets = p;
    ks->wallet_cap = cap;
    return 0;
}

static int ks_parse_plain(keystore *ks, const uint8_t *plain, size_t len, char *err, size_t errlen) {
    scale_reader r;
    scale_reader_init(&r, plain, len);
    size_t n;
    if (!scale_read_length(&r, 33, KEYSTORE_MAX_WALLETS + 1, &n)) return ks_fail(err, errlen, "keystore content is malformed");
    if (ks_grow(ks, n) < 0) return ks_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint8_t type;
        if (!scale_read_u8(&r, &type)) break;
        if (type == KS_RECORD_WALLET) {
            ks_wallet *w = &ks->wallets[ks->wallet_count];
            if (!scale_read_raw(&r, w->nostr, 32) || !scale_read_raw(&r, w->seed, 32) || !scale_read_u64(&r, &w->created_at)) break;
            uint8_t sk[64];
            crypto_sign_seed_keypair(w->account, sk, w->seed);
            sodium_memzero(sk, sizeof sk);
            ks->wallet_count++;
        } else if (type == KS_RECORD_STATION) {
            if (!scale_read_raw(&r, ks->station, 32)) break;
            ks->have_station = true;
        } else {
            return ks_fail(err, errlen, "keystore holds an unknown record type %u (written by a newer g1relay?)", type);
        }
    }
    if (r.failed || scale_remaining(&r) != 0) return ks_fail(err, errlen, "keystore content is malformed");
    return 0;
}

/* Encrypts and writes atomically. Caller holds the file lock. */
static int ks_save_locked(keystore *ks, char *err, size_t errlen) {
    scale_buf plain;
    scale_buf_init(&plain);
    uint8_t *blob = NULL;
    char *tmp = NULL;
    int fd = -1, rc = -1;
    if (ks_serialise(ks, &plain) < 0) { ks_fail(err, errlen, "out of memory"); goto out; }
    uint8_t nonce[KS_NONCE];
    randombytes_buf(nonce, sizeof nonce);
    size_t blob_len = KS_HEADER + plain.len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    blob = malloc(blob_len);
    if (!blob) { ks_fail(err, errlen, "out of memory"); goto out; }
    ks_header(ks, nonce, blob);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + KS_HEADER, &clen, plain.data, plain.len, blob, KS_HEADER,
                                               NULL, nonce, ks->key);
    size_t tlen = strlen(ks->path) + 32;
    tmp = malloc(tlen);
    if (!tmp) { ks_fail(err, errlen, "out of memory"); goto out; }
    snprintf(tmp, tlen, "%s.tmp.%ld", ks->path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { ks_fail(err, errlen, "%s: %s", tmp, strerror(errno)); goto out; }
    if (ks_write_all(fd, blob, blob_len) < 0 || fsync_retry(fd) < 0) { ks_fail(err, errlen, "%s: %s", tmp, strerror(errno)); goto out; }
    close(fd);
    fd = -1;
    if (rename(tmp, ks->path) < 0) { ks_fail(err, errlen, "rename to %s: %s", ks->path, strerror(errno)); goto out; }
    memcpy(ks->file_nonce, nonce, KS_NONCE); /* the file on disk is the new one from here on */
    ks->have_file = true;
    if (fsync_dir(ks->dir) < 0) { ks_fail(err, errlen, "fsync of directory %s: %s", ks->dir, strerror(errno)); goto out; }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (rc < 0 && tmp) unlink(tmp);
    free(tmp);
    free(blob);
    scale_buf_free(&plain);
    return rc;
}

/* Checks the file on disk is still the one this keystore read or wrote. */
static int ks_check_unchanged(keystore *ks, char *err, size_t errlen) {
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = ks_read_file(ks->path, &data, &len, err, errlen);
    if (rc < 0) return -1;
    bool same;
    if (rc == 1) same = !ks->have_file;
    else same = ks->have_file && len >= KS_HEADER && memcmp(data + KS_HEADER - KS_NONCE, ks->file_nonce, KS_NONCE) == 0;
    free(data);
    if (!same) return ks_fail(err, errlen, "the keystore file changed on disk since it was opened (another g1relay command?); reopen and retry");
    return 0;
}

static int ks_save(keystore *ks, char *err, size_t errlen) {
    int lfd = ks_lock(ks, err, errlen);
    if (lfd < 0) return -1;
    int rc = ks_check_unchanged(ks, err, errlen);
    if (rc == 0) rc = ks_save_locked(ks, err, errlen);
    ks_unlock(lfd);
    return rc;
}

/* ---- open / close ---- */

void keystore_close(keystore *ks) {
    if (!ks) return;
    if (ks->key) sodium_free(ks->key);
    if (ks->station) sodium_free(ks->station);
    if (ks->wallets) sodium_free(ks->wallets); /* sodium_free wipes */
    free(ks->path);
    free(ks->lock_path);
    free(ks->dir);
    pthread_mutex_destroy(&ks->lock);
    free(ks);
}

static int ks_mkdir(const char *dir, char *err, size_t errlen) {
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
    return ks_fail(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
}

int keystore_open(const char *data_dir, const char *passphrase, size_t passphrase_len, bool create,
                  keystore **out, char *err, size_t errlen) {
    *out = NULL;
    if (sodium_init() < 0) return ks_fail(err, errlen, "libsodium failed to initialise");
    if (!passphrase || passphrase_len == 0) return ks_fail(err, errlen, "the keystore passphrase is empty");
    keystore *ks = calloc(1, sizeof *ks);
    if (!ks) return ks_fail(err, errlen, "out of memory");
    pthread_mutex_init(&ks->lock, NULL);
    ks->dir = strdup(data_dir);
    ks->path = ks_join(data_dir, KEYSTORE_FILE);
    ks->lock_path = ks_join(data_dir, "keystore.lock");
    ks->key = sodium_malloc(32);
    ks->station = sodium_malloc(32);
    uint8_t *data = NULL, *plain = NULL;
    size_t len = 0, plain_len = 0;
    int lfd = -1;
    if (!ks->dir || !ks->path || !ks->lock_path || !ks->key || !ks->station) { ks_fail(err, errlen, "out of memory"); goto fail; }
    if (create && ks_mkdir(data_dir, err, errlen) < 0) goto fail;
    int rc = ks_read_file(ks->path, &data, &len, err, errlen);
    if (rc < 0) goto fail;
    if (rc == 1) {
        if (!create) { ks_fail(err, errlen, "no keystore in %s (create one with `g1relay wallet create` or `wallet import`)", data_dir); goto fail; }
        lfd = ks_lock(ks, err, errlen);
        if (lfd < 0) goto fail;
        if (access(ks->path, F_OK) == 0) { ks_fail(err, errlen, "a keystore appeared in %s meanwhile; retry", data_dir); goto fail; }
        ks->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        ks->memlimit_kib = (uint32_t)(crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024);
        randombytes_buf(ks->salt, sizeof ks->salt);
        if (ks_derive(ks, passphrase, passphrase_len, err, errlen) < 0) goto fail;
        if (ks_save_locked(ks, err, errlen) < 0) goto fail;
        ks_unlock(lfd);
        *out = ks;
        return 0;
    }
    if (len < KS_HEADER + crypto_aead_xchacha20poly1305_ietf_ABYTES || memcmp(data, KS_MAGIC, 4) != 0) {
        ks_fail(err, errlen, "%s is not a g1relay keystore (or is truncated)", ks->path);
        goto fail;
    }
    if (data[4] != KS_FORMAT || data[5] != KS_KDF_ARGON2ID) {
        ks_fail(err, errlen, "%s: unsupported keystore format %u/%u", ks->path, data[4], data[5]);
        goto fail;
    }
    ks->opslimit = (uint32_t)data[6] | (uint32_t)data[7] << 8 | (uint32_t)data[8] << 16 | (uint32_t)data[9] << 24;
    ks->memlimit_kib = (uint32_t)data[10] | (uint32_t)data[11] << 8 | (uint32_t)data[12] << 16 | (uint32_t)data[13] << 24;
    if (ks->opslimit < 1 || ks->opslimit > 64 || ks->memlimit_kib < 8 || ks->memlimit_kib > 4u * 1024 * 1024) {
        ks_fail(err, errlen, "%s: unreasonable key derivation parameters (corrupted header?)", ks->path);
        goto fail;
    }
    memcpy(ks->salt, data + 14, KS_SALT);
    memcpy(ks->file_nonce, data + 14 + KS_SALT, KS_NONCE);
    if (ks_derive(ks, passphrase, passphrase_len, err, errlen) < 0) goto fail;
    plain_len = len - KS_HEADER - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    plain = sodium_malloc(plain_len ? plain_len : 1);
    if (!plain) { ks_fail(err, errlen, "out of memory"); goto fail; }
    unsigned long long got;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, data + KS_HEADER, len - KS_HEADER, data, KS_HEADER,
                                                   ks->file_nonce, ks->key) != 0) {
        ks_fail(err, errlen, "wrong keystore passphrase (or %s is corrupted)", ks->path);
        goto fail;
    }
    if (ks_parse_plain(ks, plain, (size_t)got, err, errlen) < 0) goto fail;
    ks->have_file = true;
    sodium_free(plain);
    free(data);
    *out = ks;
    return 0;
fail:
    ks_unlock(lfd);
    if (plain) sodium_free(plain);
    free(data);
    keystore_close(ks);
    return -1;
}

/* ---- queries and changes ---- */

static ks_wallet *ks_find(keystore *ks, const uint8_t nostr[32]) {
    for (size_t i = 0; i < ks->wallet_count; i++)
        if (sodium_memcmp(ks->wallets[i].nostr, nostr, 32) == 0) return &ks->wallets[i];
    return NULL;
}

size_t keystore_wallet_count(keystore *ks) {
    pthread_mutex_lock(&ks->lock);
    size_t n = ks->wallet_count;
    pthread_mutex_unlock(&ks->lock);
    return n;
}

int keystore_wallet_at(keystore *ks, size_t i, uint8_t nostr_pubkey[32], uint8_t account[32]) {
    pthread_mutex_lock(&ks->lock);
    int rc = -1;
    if (i < ks->wallet_count) {
        memcpy(nostr_pubkey, ks->wallets[i].nostr, 32);
        memcpy(account, ks->wallets[i].account, 32);
        rc = 0;
    }
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int keystore_find(keystore *ks, const uint8_t nostr_pubkey[32], uint8_t account[32]) {
    pthread_mutex_lock(&ks->lock);
    ks_wallet *w = ks_find(ks, nostr_pubkey);
    if (w) memcpy(account, w->account, 32);
    pthread_mutex_unlock(&ks->lock);
    return w ? 0 : -1;
}

int keystore_add(keystore *ks, const uint8_t nostr_pubkey[32], const uint8_t seed[32], char *err, size_t errlen) {
    pthread_mutex_lock(&ks->lock);
    int rc = -1;
    if (ks_find(ks, nostr_pubkey)) { rc = -2; ks_fail(err, errlen, "this Nostr pubkey already has a wallet"); goto out; }
    if (ks->wallet_count >= KEYSTORE_MAX_WALLETS) { ks_fail(err, errlen, "keystore is full"); goto out; }
    if (ks_grow(ks, ks->wallet_count + 1) < 0) { ks_fail(err, errlen, "out of memory"); goto out; }
    ks_wallet *w = &ks->wallets[ks->wallet_count];
    memcpy(w->nostr, nostr_pubkey, 32);
    memcpy(w->seed, seed, 32);
    uint8_t sk[64];
    crypto_sign_seed_keypair(w->account, sk, w->seed);
    sodium_memzero(sk, sizeof sk);
    w->created_at = (uint64_t)time(NULL);
    ks->wallet_count++;
    if (ks_save(ks, err, errlen) < 0) {
        ks->wallet_count--;
        sodium_memzero(w, sizeof *w);
        goto out;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int keystore_sign(keystore *ks, const uint8_t nostr_pubkey[32], const uint8_t *msg, size_t len, uint8_t sig[64]) {
    pthread_mutex_lock(&ks->lock);
    ks_wallet *w = ks_find(ks, nostr_pubkey);
    int rc = -1;
    if (w) {
        uint8_t pk[32], sk[64];
        crypto_sign_seed_keypair(pk, sk, w->seed);
        crypto_sign_detached(sig, NULL, msg, len, sk);
        sodium_memzero(sk, sizeof sk);
        rc = 0;
    }
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int keystore_export(keystore *ks, const uint8_t nostr_pubkey[32], g1_keypair *kp) {
    pthread_mutex_lock(&ks->lock);
    ks_wallet *w = ks_find(ks, nostr_pubkey);
    int rc = w ? g1_keypair_from_seed(w->seed, kp) : -1;
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int keystore_set_station_key(keystore *ks, const uint8_t secret[32], char *err, size_t errlen) {
    pthread_mutex_lock(&ks->lock);
    uint8_t old[32];
    bool had = ks->have_station;
    memcpy(old, ks->station, 32);
    memcpy(ks->station, secret, 32);
    ks->have_station = true;
    int rc = ks_save(ks, err, errlen);
    if (rc < 0) {
        memcpy(ks->station, old, 32);
        ks->have_station = had;
    }
    sodium_memzero(old, sizeof old);
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int keystore_station_key(keystore *ks, uint8_t secret[32]) {
    pthread_mutex_lock(&ks->lock);
    int rc = ks->have_station ? 0 : -1;
    if (ks->have_station) memcpy(secret, ks->station, 32);
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int keystore_signer_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]) {
    keystore_signer *s = ctx;
    return keystore_sign(s->ks, s->nostr_pubkey, msg, len, sig);
}

int keystore_reload(keystore *ks, bool *changed, char *err, size_t errlen) {
    pthread_mutex_lock(&ks->lock);
    uint8_t *data = NULL, *plain = NULL;
    size_t len = 0;
    int rc = -1;
    *changed = false;
    int r = ks_read_file(ks->path, &data, &len, err, errlen);
    if (r == 1) { ks_fail(err, errlen, "%s disappeared", ks->path); goto out; }
    if (r < 0) goto out;
    if (len < KS_HEADER + crypto_aead_xchacha20poly1305_ietf_ABYTES || memcmp(data, KS_MAGIC, 4) != 0) {
        ks_fail(err, errlen, "%s is not a g1relay keystore (or is truncated)", ks->path);
        goto out;
    }
    if (memcmp(data + KS_HEADER - KS_NONCE, ks->file_nonce, KS_NONCE) == 0) { rc = 0; goto out; }
    uint8_t header[KS_HEADER];
    ks_header(ks, data + KS_HEADER - KS_NONCE, header);
    if (memcmp(header, data, KS_HEADER) != 0) {
        ks_fail(err, errlen, "%s was re-keyed (new salt or parameters); reopen it with the passphrase", ks->path);
        goto out;
    }
    size_t plain_len = len - KS_HEADER - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    plain = sodium_malloc(plain_len ? plain_len : 1);
    if (!plain) { ks_fail(err, errlen, "out of memory"); goto out; }
    unsigned long long got;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, data + KS_HEADER, len - KS_HEADER, data, KS_HEADER,
                                                   data + KS_HEADER - KS_NONCE, ks->key) != 0) {
        ks_fail(err, errlen, "%s cannot be decrypted with the open key (corrupted?)", ks->path);
        goto out;
    }
    /* parse into fresh state, keep the old one until it succeeds */
    ks_wallet *old_wallets = ks->wallets;
    size_t old_count = ks->wallet_count, old_cap = ks->wallet_cap;
    bool old_have_station = ks->have_station;
    uint8_t old_station[32];
    memcpy(old_station, ks->station, 32);
    ks->wallets = NULL;
    ks->wallet_count = ks->wallet_cap = 0;
    ks->have_station = false;
    if (ks_parse_plain(ks, plain, (size_t)got, err, errlen) < 0) {
        if (ks->wallets) sodium_free(ks->wallets);
        ks->wallets = old_wallets;
        ks->wallet_count = old_count;
        ks->wallet_cap = old_cap;
        ks->have_station = old_have_station;
        memcpy(ks->station, old_station, 32);
    } else {
        if (old_wallets) sodium_free(old_wallets);
        memcpy(ks->file_nonce, data + KS_HEADER - KS_NONCE, KS_NONCE);
        *changed = true;
        rc = 0;
    }
    sodium_memzero(old_station, sizeof old_station);
out:
    if (plain) sodium_free(plain);
    free(data);
    pthread_mutex_unlock(&ks->lock);
    return rc;
}
