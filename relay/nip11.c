/* Builds the NIP-11 relay information document from the configuration. */
#include "nip11.h"
#include "hex.h"
#include "settle.h"
#include <cjson/cJSON.h>

static const int supported_nips[] = {1, 9, 11, 13, 40, 42, 45, 70};

char *nip11_document(const config *cfg, const relay_limits *lim) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    cJSON_AddStringToObject(doc, "name", config_str(cfg, NULL, "relay_name", "g1relay"));
    cJSON_AddStringToObject(doc, "description", config_str(cfg, NULL, "relay_description", ""));
    const char *pubkey = config_str(cfg, NULL, "relay_pubkey", "");
    if (pubkey[0]) cJSON_AddStringToObject(doc, "pubkey", pubkey);
    uint8_t station[32];
    if (settle_station_pubkey(station)) { /* the key that signs settlement receipts */
        char self[65];
        hex_encode(station, 32, self);
        cJSON_AddStringToObject(doc, "self", self);
    }
    const char *contact = config_str(cfg, NULL, "relay_contact", "");
    if (contact[0]) cJSON_AddStringToObject(doc, "contact", contact);
    const char *icon = config_str(cfg, NULL, "relay_icon", "");
    if (icon[0]) cJSON_AddStringToObject(doc, "icon", icon);
    cJSON *nips = cJSON_AddArrayToObject(doc, "supported_nips");
    for (size_t i = 0; nips && i < sizeof supported_nips / sizeof supported_nips[0]; i++)
        cJSON_AddItemToArray(nips, cJSON_CreateNumber(supported_nips[i]));
    cJSON_AddStringToObject(doc, "software", G1RELAY_SOFTWARE);
    cJSON_AddStringToObject(doc, "version", G1RELAY_VERSION);
    cJSON *l = cJSON_AddObjectToObject(doc, "limitation");
    if (l) {
        cJSON_AddNumberToObject(l, "max_message_length", lim->max_message_length);
        cJSON_AddNumberToObject(l, "max_subscriptions", lim->max_subscriptions);
        cJSON_AddNumberToObject(l, "max_filters", lim->max_filters);
        cJSON_AddNumberToObject(l, "max_limit", lim->max_limit);
        cJSON_AddNumberToObject(l, "max_subid_length", lim->max_subid_length);
        cJSON_AddNumberToObject(l, "max_event_tags", lim->max_event_tags);
        cJSON_AddNumberToObject(l, "max_content_length", lim->max_content_length);
        cJSON_AddNumberToObject(l, "min_pow_difficulty", lim->min_pow_difficulty);
        cJSON_AddBoolToObject(l, "auth_required", lim->auth_required);
        cJSON_AddBoolToObject(l, "payment_required", 0);
        bool restricted = config_str(cfg, NULL, "write_policy", "")[0] || config_str(cfg, NULL, "filter_dir", "")[0];
        const char *const *items;
        if (config_list(cfg, NULL, "plugins", &items) > 0) restricted = true;
        cJSON_AddBoolToObject(l, "restricted_writes", restricted);
        cJSON_AddNumberToObject(l, "created_at_lower_limit", (double)lim->created_at_lower_limit);
        cJSON_AddNumberToObject(l, "created_at_upper_limit", (double)lim->created_at_upper_limit);
        cJSON_AddNumberToObject(l, "default_limit", lim->default_limit);
        cJSON_AddNumberToObject(l, "max_output_bytes", (double)lim->max_output_bytes);
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}
