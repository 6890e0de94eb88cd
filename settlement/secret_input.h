/* Reading secrets for the CLI: Cesium credentials as two lines on stdin, small
 * secret files, and strict parsing of numbers and hashes given as options.
 * Secret buffers are sodium_malloc'd; release them with secret_free (wipes). */
#ifndef G1_SECRET_INPUT_H
#define G1_SECRET_INPUT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "g1keys.h"

#define SECRET_LINE_MAX 1024

/* Reads one line from fd (without its "\n" or "\r\n"), at most SECRET_LINE_MAX
 * bytes. Returns 0, 1 at end of input before any byte, -1 on error (err). */
int secret_read_line(int fd, char **out, size_t *len, char *err, size_t errlen);
/* Reads the secret identifier and the password (two non-empty lines) from fd and
 * derives the Cesium key pair. Returns 0 or -1 with err. */
int secret_read_cesium_keypair(int fd, g1_keypair *kp, char *err, size_t errlen);
/* Reads a whole file of at most max bytes into a sodium_malloc'd buffer (NUL added). */
int secret_read_file(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);
/* Loads a .dunikey file into kp. */
int secret_load_dunikey(const char *path, g1_keypair *kp, char *err, size_t errlen);
void secret_free(char *p, size_t len);

/* Strict unsigned decimal (digits only, no sign or spaces, no overflow, <= max). */
bool parse_uint(const char *s, uint64_t max, uint64_t *out);
/* 32-byte hash as 64 hex digits with an optional 0x. */
bool parse_hash32(const char *s, uint8_t out[32]);
#endif
