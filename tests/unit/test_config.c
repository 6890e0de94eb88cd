/* Unit tests for the configuration reader, overrides and defaults, and hex helpers. */
#include "unit.h"
#include "config.h"
#include "hex.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *write_temp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/g1relay-test-config-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void) {
    config *cfg = config_new();
    CHECK_EQ_INT(config_int(cfg, NULL, "port", -1), 7777);
    CHECK_EQ_STR(config_str(cfg, NULL, "bind", NULL), "127.0.0.1");
    CHECK_EQ_INT(config_bool(cfg, NULL, "auth_required", true), 0);
    const char *const *items;
    CHECK_EQ_INT(config_list(cfg, NULL, "upstreams", &items), 0);
    CHECK_EQ_INT(config_int(cfg, NULL, "no_such_key", 42), 42);
    config_free(cfg);
}

static void test_file(void) {
    config *cfg = config_new();
    char err[256] = "";
    const char *path = write_temp(
        "# comment\n"
        "port = 8080   # trailing comment\n"
        "bind = \"0.0.0.0\"\n"
        "auth_required = true\n"
        "upstreams = [\"ws://a\", \"ws://b\"]\n"
        "relay_name = \"say \\\"hi\\\"\"\n"
        "[plugin.ratelimit]\n"
        "per_ip = 20\n"
        "any_key_here = \"ok\"\n");
    CHECK_EQ_INT(config_load_file(cfg, path, err, sizeof err), 0);
    CHECK_EQ_INT(config_int(cfg, NULL, "port", 0), 8080);
    CHECK_EQ_STR(config_str(cfg, NULL, "bind", NULL), "0.0.0.0");
    CHECK(config_bool(cfg, NULL, "auth_required", false));
    CHECK_EQ_STR(config_str(cfg, NULL, "relay_name", NULL), "say \"hi\"");
    const char *const *items;
    CHECK_EQ_INT(config_list(cfg, NULL, "upstreams", &items), 2);
    CHECK_EQ_STR(items[1], "ws://b");
    CHECK_EQ_INT(config_int(cfg, "plugin.ratelimit", "per_ip", 0), 20);
    CHECK(!config_has(cfg, NULL, "per_ip"));

    /* overrides: bare words, replacing file values, list append */
    config *over = config_new();
    CHECK_EQ_INT(config_set(over, NULL, "port", "9000", err, sizeof err), 0);
    CHECK_EQ_INT(config_set(over, NULL, "bind", "10.1.2.3", err, sizeof err), 0);
    CHECK_EQ_INT(config_list_append(over, NULL, "g1_nodes", "http://127.0.0.1:9944"), 0);
    CHECK_EQ_INT(config_merge(cfg, over), 0);
    CHECK_EQ_INT(config_int(cfg, NULL, "port", 0), 9000);
    CHECK_EQ_STR(config_str(cfg, NULL, "bind", NULL), "10.1.2.3");
    CHECK_EQ_INT(config_list(cfg, NULL, "g1_nodes", &items), 1);
    config_free(over);
    config_free(cfg);
    unlink(path);
}

static void test_errors(void) {
    struct { const char *text; const char *expect; } cases[] = {
        {"prot = 1\n", ":1: prot: unknown key"},
        {"port = \"x\"\n", ":1: port: must be an integer"},
        {"\n\nbind = 127.0.0.1\n", ":3: bind: strings must be in double quotes"},
        {"port = 1 2\n", "unexpected text"},
        {"relay_name = bare\n", "value must be"},
        {"relay_name = \"unterminated\n", "unterminated string"},
        {"[plugin.x\n", "bad section header"},
        {"upstreams = [\"a\" \"b\"]\n", "expected , or ]"},
        {"just words\n", "expected = after just"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config *cfg = config_new();
        char err[256] = "";
        const char *path = write_temp(cases[i].text);
        CHECK_EQ_INT(config_load_file(cfg, path, err, sizeof err), -1);
        if (!strstr(err, cases[i].expect)) {
            unit_failed++;
            printf("FAIL case %zu: error \"%s\" lacks \"%s\"\n", i, err, cases[i].expect);
        } else unit_passed++;
        config_free(cfg);
        unlink(path);
    }
    config *cfg = config_new();
    char err[256];
    CHECK_EQ_INT(config_load_file(cfg, "/nonexistent/file.conf", err, sizeof err), -1);
    CHECK(strstr(err, "No such file") != NULL);
    config_free(cfg);
}

/* config_file_path: unset gives "", a readable file is copied, a missing file
 * or a path longer than the buffer is an error naming the key. */
static void test_file_path(void) {
    config *cfg = config_new();
    char out[64], err[256] = "";
    strcpy(out, "junk");
    CHECK_EQ_INT(config_file_path(cfg, "tls_ca_file", out, sizeof out, err, sizeof err), 0);
    CHECK_EQ_STR(out, "");
    const char *path = write_temp("not a certificate, but readable\n");
    CHECK_EQ_INT(config_set(cfg, NULL, "tls_ca_file", path, err, sizeof err), 0);
    CHECK_EQ_INT(config_file_path(cfg, "tls_ca_file", out, sizeof out, err, sizeof err), 0);
    CHECK_EQ_STR(out, path);
    unlink(path);
    CHECK_EQ_INT(config_file_path(cfg, "tls_ca_file", out, sizeof out, err, sizeof err), -1);
    CHECK(strstr(err, "tls_ca_file") == err && strstr(err, path) != NULL);
    char small[8];
    CHECK_EQ_INT(config_file_path(cfg, "tls_ca_file", small, sizeof small, err, sizeof err), -1);
    CHECK(strstr(err, "too long") != NULL);
    config_free(cfg);
}

static void test_hex(void) {
    uint8_t bytes[4] = {0x00, 0xab, 0x7f, 0xff}, back[4];
    char text[9];
    hex_encode(bytes, 4, text);
    CHECK_EQ_STR(text, "00ab7fff");
    CHECK(hex_decode("00AB7fff", 8, back, 4));
    CHECK_EQ_MEM(back, bytes, 4);
    CHECK(!hex_decode("00ab7ff", 7, back, 4));
    CHECK(!hex_decode("00ab7fgf", 8, back, 4));
    CHECK(hex_is_lower("0a9f", 4));
    CHECK(!hex_is_lower("0A9f", 4));
}

UNIT_MAIN(test_defaults(); test_file(); test_errors(); test_file_path(); test_hex())
