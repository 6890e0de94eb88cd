/* Logging to stderr: one line per call, written with a single write(2) so lines
 * from different threads never interleave. */
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile log_level current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "quiet"};

void log_set_level(log_level level) { current_level = level; }
log_level log_get_level(void) { return current_level; }

int log_level_parse(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcasecmp(name, level_names[i]) == 0) return i;
    return -1;
}

void log_msg(log_level level, const char *fmt, ...) {
    if (level < current_level) return;
    char line[2048];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, now.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(2, line, len);
    (void)ignored;
}
