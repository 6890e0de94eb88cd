/* Logging to stderr with a timestamp and level. Thread-safe (one write(2) per line).
 * Never pass secrets to these functions. */
#ifndef G1_LOG_H
#define G1_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_QUIET = 4 } log_level;

void log_set_level(log_level level);
log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error", "quiet"; returns -1 if unknown. */
int log_level_parse(const char *name);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_get_level() <= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#endif
