/* Minimal unit-test harness: CHECK macros count passes and failures and
 * UNIT_MAIN prints "unit: N passed, N failed", exiting non-zero on failure. */
#ifndef G1_UNIT_H
#define G1_UNIT_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int unit_passed, unit_failed;

#define CHECK(cond) do { if (cond) unit_passed++; else { unit_failed++; \
    printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a == _b) unit_passed++; else { unit_failed++; \
    printf("FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, _a, _b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (_a && _b && strcmp(_a, _b) == 0) unit_passed++; else { unit_failed++; \
    printf("FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n", __FILE__, __LINE__, #a, #b, \
           _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)
#define CHECK_EQ_MEM(a, b, n) do { if (memcmp((a), (b), (n)) == 0) unit_passed++; else { \
    unit_failed++; printf("FAIL %s:%d: memcmp(%s, %s, %s)\n", __FILE__, __LINE__, #a, #b, #n); } } while (0)

#define UNIT_MAIN(body) int main(void) { body; \
    printf("unit: %d passed, %d failed\n", unit_passed, unit_failed); \
    return unit_failed ? 1 : 0; }
#endif
