/* Keystore: encryption round trip, wrong passphrase, missing keystore without
 * create, tampering, duplicate binding, station key, concurrent-change refusal,
 * seeds absent from the file in clear, passphrase from file and environment. */
#include "unit.h"
#include "keystore.h"
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return true;
    return false;
}

static void test_round_trip(void) {
    char err[256];
    keystore *ks = NULL;
    /* no keystore and no create: an error, no file made */
    CHECK_EQ_INT(keystore_open(dir, "pw", 2, false, &ks, err, sizeof err), -1);
    CHECK(strstr(err, "no keystore") != NULL);
    CHECK(ks == NULL);
    CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, true, &ks, err, sizeof err), 0);
    CHECK(ks != NULL);
    if (!ks) return;
    CHECK_EQ_INT(keystore_wallet_count(ks), 0);
    uint8_t nostr1[32], nostr2[32], seed1[32], seed2[32], acct[32], n[32];
    memset(nostr1, 0x11, 32);
    memset(nostr2, 0x22, 32);
    for (int i = 0; i < 32; i++) { seed1[i] = (uint8_t)(0xa0 + i); seed2[i] = (uint8_t)(0x50 + i); }
    CHECK_EQ_INT(keystore_add(ks, nostr1, seed1, err, sizeof err), 0);
    CHECK_EQ_INT(keystore_add(ks, nostr2, seed2, err, sizeof err), 0);
    CHECK_EQ_INT(keystore_add(ks, nostr1, seed2, err, sizeof err), -2);
    uint8_t station[32];
    memset(station, 0x77, 32);
    CHECK_EQ_INT(keystore_set_station_key(ks, station, err, sizeof err), 0);
    keystore_close(ks);

    /* the file does not hold the seeds or the station key in clear */
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, KEYSTORE_FILE);
    size_t len;
    uint8_t *file = slurp(path, &len);
    CHECK(file != NULL);
    if (file) {
        CHECK(!contains(file, len, seed1, 32));
        CHECK(!contains(file, len, seed2, 32));
        CHECK(!contains(file, len, station, 32));
        CHECK(!contains(file, len, nostr1, 32));
    }
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 077) == 0);

    /* reopen: same wallets, signatures verify */
    CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, false, &ks, err, sizeof err), 0);
    if (!ks) { free(file); return; }
    CHECK_EQ_INT(keystore_wallet_count(ks), 2);
    g1_keypair kp;
    g1_keypair_from_seed(seed1, &kp);
    CHECK_EQ_INT(keystore_find(ks, nostr1, acct), 0);
    CHECK_EQ_MEM(acct, kp.public_key, 32);
    CHECK_EQ_INT(keystore_wallet_at(ks, 1, n, acct), 0);
    CHECK_EQ_MEM(n, nostr2, 32);
    uint8_t sig[64];
    CHECK_EQ_INT(keystore_sign(ks, nostr1, (const uint8_t *)"msg", 3, sig), 0);
    CHECK_EQ_INT(crypto_sign_verify_detached(sig, (const uint8_t *)"msg", 3, kp.public_key), 0);
    keystore_signer signer = {ks, {0}};
    memcpy(signer.nostr_pubkey, nostr1, 32);
    CHECK_EQ_INT(keystore_signer_sign(&signer, (const uint8_t *)"xyz", 3, sig), 0);
    CHECK_EQ_INT(crypto_sign_verify_detached(sig, (const uint8_t *)"xyz", 3, kp.public_key), 0);
    uint8_t nobody[32];
    memset(nobody, 0x33, 32);
    CHECK_EQ_INT(keystore_find(ks, nobody, acct), -1);
    CHECK_EQ_INT(keystore_sign(ks, nobody, (const uint8_t *)"msg", 3, sig), -1);
    g1_keypair ex;
    CHECK_EQ_INT(keystore_export(ks, nostr2, &ex), 0);
    CHECK_EQ_MEM(ex.seed, seed2, 32);
    uint8_t st_back[32];
    CHECK_EQ_INT(keystore_station_key(ks, st_back), 0);
    CHECK_EQ_MEM(st_back, station, 32);

    /* a second handle sees the change made by the first and refuses stale writes */
    keystore *other = NULL;
    CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, false, &other, err, sizeof err), 0);
    uint8_t nostr3[32];
    memset(nostr3, 0x44, 32);
    CHECK_EQ_INT(keystore_add(ks, nostr3, seed1, err, sizeof err), 0);
    if (other) {
        /* reload picks the new wallet up; a second reload changes nothing */
        keystore *third = NULL;
        CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, false, &third, err, sizeof err), 0);
        bool changed = true;
        if (third) {
            CHECK_EQ_INT(keystore_reload(third, &changed, err, sizeof err), 0);
            CHECK(!changed);
            keystore_close(third);
        }
        CHECK_EQ_INT(keystore_find(other, nostr3, acct), -1);
        CHECK_EQ_INT(keystore_reload(other, &changed, err, sizeof err), 0);
        CHECK(changed);
        CHECK_EQ_INT(keystore_find(other, nostr3, acct), 0);
        CHECK_EQ_INT(keystore_wallet_count(other), 3);
        uint8_t st2[32];
        CHECK_EQ_INT(keystore_station_key(other, st2), 0);
        CHECK_EQ_INT(keystore_reload(other, &changed, err, sizeof err), 0);
        CHECK(!changed);
        keystore_close(other);
        other = NULL;
        CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, false, &other, err, sizeof err), 0);
        uint8_t nostr5[32];
        memset(nostr5, 0x66, 32);
        CHECK_EQ_INT(keystore_add(ks, nostr5, seed2, err, sizeof err), 0);
    }
    if (other) {
        uint8_t nostr4[32];
        memset(nostr4, 0x55, 32);
        CHECK_EQ_INT(keystore_add(other, nostr4, seed2, err, sizeof err), -1);
        CHECK(strstr(err, "changed on disk") != NULL);
        keystore_close(other);
    }
    keystore_close(ks);

    /* wrong passphrase: a clear error, and the file is untouched */
    CHECK_EQ_INT(keystore_open(dir, "wrong horse", 11, true, &ks, err, sizeof err), -1);
    CHECK(strstr(err, "wrong keystore passphrase") != NULL);
    size_t len2;
    uint8_t *file2 = slurp(path, &len2);
    CHECK(file2 && len2 > 0);
    /* tampering: a flipped ciphertext byte or a truncated file is refused */
    if (file2) {
        file2[len2 - 5] ^= 1;
        FILE *f = fopen(path, "wb");
        fwrite(file2, 1, len2, f);
        fclose(f);
        CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, false, &ks, err, sizeof err), -1);
        f = fopen(path, "wb");
        fwrite(file2, 1, 20, f);
        fclose(f);
        CHECK_EQ_INT(keystore_open(dir, "correct horse", 13, true, &ks, err, sizeof err), -1);
        CHECK(strstr(err, "not a g1relay keystore") != NULL);
    }
    free(file);
    free(file2);
    g1_keypair_wipe(&kp);
    g1_keypair_wipe(&ex);
}

static void test_passphrase(void) {
    char err[256], path[512];
    char *pass = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/pass", dir);
    FILE *f = fopen(path, "w");
    fputs("from file\n", f);
    fclose(f);
    setenv("G1RELAY_PASSPHRASE", "from env", 1);
    CHECK_EQ_INT(keystore_passphrase_load(path, &pass, &len, err, sizeof err), 0);
    CHECK_EQ_STR(pass, "from file");
    CHECK_EQ_INT(len, 9);
    keystore_passphrase_free(pass, len);
    CHECK_EQ_INT(keystore_passphrase_load(NULL, &pass, &len, err, sizeof err), 0);
    CHECK_EQ_STR(pass, "from env");
    keystore_passphrase_free(pass, len);
    unsetenv("G1RELAY_PASSPHRASE");
    CHECK_EQ_INT(keystore_passphrase_load("", &pass, &len, err, sizeof err), -1);
    CHECK(strstr(err, "G1RELAY_PASSPHRASE") != NULL);
    f = fopen(path, "w");
    fclose(f);
    CHECK_EQ_INT(keystore_passphrase_load(path, &pass, &len, err, sizeof err), -1);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_EQ_INT(keystore_passphrase_load("/nonexistent/pass", &pass, &len, err, sizeof err), -1);
    unlink(path);
}

UNIT_MAIN({
    setvbuf(stdout, NULL, _IONBF, 0);
    snprintf(dir, sizeof dir, "/tmp/g1ks-test-XXXXXX");
    if (!mkdtemp(dir)) { printf("mkdtemp failed\n"); return 1; }
    test_round_trip();
    test_passphrase();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup failed\n");
})
