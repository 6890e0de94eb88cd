/* CLI input helpers: strict integers and hashes, secret lines and Cesium
 * credentials read from a pipe (BRIEF §6 vector), line limits. */
#include "unit.h"
#include "secret_input.h"
#include "hex.h"
#include <unistd.h>

static int pipe_with(const char *text, size_t len) {
    int fds[2];
    if (pipe(fds) < 0) return -1;
    if (write(fds[1], text, len) != (ssize_t)len) return -1;
    close(fds[1]);
    return fds[0];
}

UNIT_MAIN({
    uint64_t v;
    CHECK(parse_uint("0", 10, &v) && v == 0);
    CHECK(parse_uint("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
    CHECK(!parse_uint("18446744073709551616", UINT64_MAX, &v));
    CHECK(!parse_uint("99999999999999999999999", UINT64_MAX, &v));
    CHECK(!parse_uint("4294967296", UINT32_MAX, &v));
    CHECK(parse_uint("4294967295", UINT32_MAX, &v) && v == UINT32_MAX);
    CHECK(!parse_uint("", 10, &v));
    CHECK(!parse_uint("-1", 10, &v));
    CHECK(!parse_uint("+1", 10, &v));
    CHECK(!parse_uint(" 1", 10, &v));
    CHECK(!parse_uint("1 ", 10, &v));
    CHECK(!parse_uint("0x10", 100, &v));
    CHECK(!parse_uint("1.5", 10, &v));
    uint8_t h[32];
    CHECK(parse_hash32("0xfeb770bbb0344dabc8366b0d1f889a8e4e6ca09b914006655fe795920deb6d56", h) && h[0] == 0xfe && h[31] == 0x56);
    CHECK(parse_hash32("FEB770BBB0344DABC8366B0D1F889A8E4E6CA09B914006655FE795920DEB6D56", h));
    CHECK(!parse_hash32("0xfeb770bbb0344dabc8366b0d1f889a8e4e6ca09b914006655fe795920deb6d5", h));
    CHECK(!parse_hash32("0xfeb770bbb0344dabc8366b0d1f889a8e4e6ca09b914006655fe795920deb6d5g", h));

    char err[200];
    g1_keypair kp;
    int fd = pipe_with("abc\r\ndef\n", 9);
    CHECK_EQ_INT(secret_read_cesium_keypair(fd, &kp, err, sizeof err), 0);
    close(fd);
    char hex[65];
    hex_encode(kp.seed, 32, hex);
    CHECK_EQ_STR(hex, "ce63e90dd4c3d10fb23606ea585ab9c87815527cb62880ed6d51f3fe136ec1ec");
    /* no trailing newline on the password is fine */
    fd = pipe_with("abc\ndef", 7);
    CHECK_EQ_INT(secret_read_cesium_keypair(fd, &kp, err, sizeof err), 0);
    close(fd);
    hex_encode(kp.seed, 32, hex);
    CHECK_EQ_STR(hex, "ce63e90dd4c3d10fb23606ea585ab9c87815527cb62880ed6d51f3fe136ec1ec");
    fd = pipe_with("abc\n", 4);
    CHECK_EQ_INT(secret_read_cesium_keypair(fd, &kp, err, sizeof err), -1);
    CHECK(strstr(err, "password") != NULL);
    close(fd);
    fd = pipe_with("\ndef\n", 5);
    CHECK_EQ_INT(secret_read_cesium_keypair(fd, &kp, err, sizeof err), -1);
    CHECK(strstr(err, "empty") != NULL);
    close(fd);
    /* overlong line */
    char *big = malloc(SECRET_LINE_MAX + 10);
    memset(big, 'x', SECRET_LINE_MAX + 9);
    big[SECRET_LINE_MAX + 9] = '\n';
    fd = pipe_with(big, SECRET_LINE_MAX + 10);
    char *line = NULL;
    size_t len = 0;
    CHECK_EQ_INT(secret_read_line(fd, &line, &len, err, sizeof err), -1);
    close(fd);
    free(big);
    g1_keypair_wipe(&kp);
})
