/* Reads the running relay's limits from the configuration (see relay_ctx.h). */
#include "relay_ctx.h"
#include <stdio.h>

static int get_u32(const config *cfg, const char *key, long long min, long long max, uint32_t *out,
                   char *err, size_t errlen) {
    long long v = config_int(cfg, NULL, key, 0);
    if (v < min || v > max) {
        snprintf(err, errlen, "%s must be between %lld and %lld", key, min, max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int relay_limits_from_config(relay_limits *lim, const config *cfg, char *err, size_t errlen) {
    uint32_t pow = 0, batch = 0;
    long long out_bytes = config_int(cfg, NULL, "max_output_bytes", 8388608);
    long long lower = config_int(cfg, NULL, "created_at_lower_limit", 0);
    long long upper = config_int(cfg, NULL, "created_at_upper_limit", 900);
    if (get_u32(cfg, "max_message_length", 1024, 64 << 20, &lim->max_message_length, err, errlen) ||
        get_u32(cfg, "max_subscriptions", 1, 100000, &lim->max_subscriptions, err, errlen) ||
        get_u32(cfg, "max_filters", 1, 10000, &lim->max_filters, err, errlen) ||
        get_u32(cfg, "max_limit", 0, 100000000, &lim->max_limit, err, errlen) ||
        get_u32(cfg, "default_limit", 0, 100000000, &lim->default_limit, err, errlen) ||
        get_u32(cfg, "max_subid_length", 1, 256, &lim->max_subid_length, err, errlen) ||
        get_u32(cfg, "max_event_tags", 0, 1000000, &lim->max_event_tags, err, errlen) ||
        get_u32(cfg, "max_content_length", 0, 64 << 20, &lim->max_content_length, err, errlen) ||
        get_u32(cfg, "min_pow_difficulty", 0, 256, &pow, err, errlen) ||
        get_u32(cfg, "write_batch_max", 1, 1000000, &batch, err, errlen))
        return -1;
    if (out_bytes < 4096) {
        snprintf(err, errlen, "max_output_bytes must be at least 4096");
        return -1;
    }
    if (lower < 0 || upper < 0) {
        snprintf(err, errlen, "created_at_lower_limit and created_at_upper_limit must not be negative");
        return -1;
    }
    lim->max_output_bytes = (uint64_t)out_bytes;
    lim->min_pow_difficulty = (int)pow;
    lim->write_batch_max = batch;
    lim->created_at_lower_limit = lower;
    lim->created_at_upper_limit = upper;
    lim->auth_required = config_bool(cfg, NULL, "auth_required", false);
    lim->msg.event.max_event_tags = lim->max_event_tags;
    lim->msg.event.max_tag_strings = 0;
    lim->msg.event.max_content_length = lim->max_content_length;
    lim->msg.event.max_json_length = lim->max_message_length;
    lim->msg.filter.max_values = 10000;
    lim->msg.filter.max_limit = lim->max_limit;
    lim->msg.filter.default_limit = lim->default_limit;
    lim->msg.max_filters = lim->max_filters;
    lim->msg.max_subid_length = lim->max_subid_length;
    return 0;
}
