/* Station key lookup for the archiver (see station_identity.h). */
#include "station_identity.h"
#include "event.h"
#include "keystore.h"
#include "settle.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int station_identity_load(const config *cfg, bool create, uint8_t *sk, uint8_t pk[32], char *err, size_t errlen) {
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", data_dir, KEYSTORE_FILE);
    if (!create && stat(path, &st) != 0) { snprintf(err, errlen, "no keystore in %s", data_dir); return 1; }
    char *pass = NULL;
    size_t plen = 0;
    if (keystore_passphrase_load(config_str(cfg, NULL, "passphrase_file", ""), &pass, &plen, err, errlen) < 0) return 1;
    keystore *ks = NULL;
    int rc = keystore_open(data_dir, pass, plen, create, &ks, err, errlen);
    keystore_passphrase_free(pass, plen);
    if (rc < 0) return -1;
    uint8_t *key = sk ? sk : sodium_malloc(32);
    if (!key) { keystore_close(ks); snprintf(err, errlen, "out of memory"); return -1; }
    if (create) rc = settle_station_key_ensure(ks, key, pk, NULL, err, errlen) == 0 ? 0 : -1;
    else if (keystore_station_key(ks, key) != 0) { snprintf(err, errlen, "the keystore has no station key"); rc = 1; }
    else if (event_pubkey_of(key, pk) != 0) { snprintf(err, errlen, "the station key is not a valid secp256k1 key"); rc = -1; }
    else rc = 0;
    if (!sk) sodium_free(key);
    keystore_close(ks);
    return rc;
}
