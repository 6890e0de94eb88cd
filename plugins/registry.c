/* The plugin registry and the plugin chain: which in-process plugins exist, and
 * the ordered, per-kind routed list of those the `plugins` config key enables.
 *
 * Routing: every distinct kind named by some enabled plugin gets its own route (the
 * config-ordered list of plugins that want that kind, including the "all kinds"
 * ones); every other kind uses the "all kinds" route. Routes live in an
 * open-addressing hash table built once at start-up and read-only afterwards, so
 * plugin_chain_decide is lock-free: one hash probe, then only the plugins that
 * care about the event's kind. */
#include "plugin.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the registry ---- */

extern const plugin_def plugin_pubkey_list;
extern const plugin_def plugin_kind_filter;
extern const plugin_def plugin_ratelimit;
extern const plugin_def plugin_reactions;
extern const plugin_def plugin_orders;

/* Compiled-in plugins. Owners of other modules add their plugin_def here. */
static const plugin_def *const builtin_plugins[] = {
    &plugin_pubkey_list,
    &plugin_kind_filter,
    &plugin_ratelimit,
    &plugin_reactions,
    &plugin_orders,
};

#define EXTRA_PLUGINS_MAX 16
static const plugin_def *extra_plugins[EXTRA_PLUGINS_MAX];
static size_t extra_plugin_count;
static pthread_mutex_t extra_lock = PTHREAD_MUTEX_INITIALIZER;

int plugin_register(const plugin_def *def) {
    if (!def || !def->name) return -1;
    pthread_mutex_lock(&extra_lock);
    int rc = -1;
    if (extra_plugin_count < EXTRA_PLUGINS_MAX) {
        rc = 0;
        for (size_t i = 0; i < extra_plugin_count; i++)
            if (strcmp(extra_plugins[i]->name, def->name) == 0) { extra_plugins[i] = def; goto out; }
        extra_plugins[extra_plugin_count++] = def;
    }
out:
    pthread_mutex_unlock(&extra_lock);
    return rc;
}

const plugin_def *plugin_find(const char *name) {
    if (!name) return NULL;
    const plugin_def *found = NULL;
    pthread_mutex_lock(&extra_lock);
    for (size_t i = 0; i < extra_plugin_count && !found; i++)
        if (strcmp(extra_plugins[i]->name, name) == 0) found = extra_plugins[i];
    pthread_mutex_unlock(&extra_lock);
    for (size_t i = 0; !found && i < sizeof builtin_plugins / sizeof builtin_plugins[0]; i++)
        if (strcmp(builtin_plugins[i]->name, name) == 0) found = builtin_plugins[i];
    return found;
}

/* ---- the chain ---- */

typedef struct {
    const plugin_def *def;
    void *state;
    char section[96];
} plugin_instance;

typedef struct {
    plugin_instance **list; /* config order */
    size_t count;
    bool wants_committed;
} plugin_route;

typedef struct {
    uint32_t kind;
    bool used;
    plugin_route route;
} route_slot;

struct plugin_chain {
    plugin_instance *instances;
    size_t instance_count;
    plugin_route all_kinds;  /* plugins with kinds == NULL */
    route_slot *slots;       /* per-kind routes; capacity a power of two */
    size_t slot_mask;
};

static inline size_t kind_hash(uint32_t kind) {
    uint32_t h = kind * 2654435761u;
    return (size_t)(h ^ (h >> 16));
}

static const plugin_route *route_for(const plugin_chain *c, uint32_t kind) {
    if (c->slots) {
        for (size_t i = kind_hash(kind) & c->slot_mask;; i = (i + 1) & c->slot_mask) {
            const route_slot *s = &c->slots[i];
            if (!s->used) break;
            if (s->kind == kind) return &s->route;
        }
    }
    return &c->all_kinds;
}

static bool def_wants_kind(const plugin_def *def, uint32_t kind) {
    if (!def->kinds) return true;
    for (size_t i = 0; i < def->kind_count; i++)
        if (def->kinds[i] == kind) return true;
    return false;
}

/* Fills route with the instances (in config order) that want kind
 * (kind_or_all < 0: only the "all kinds" instances). */
static int build_route(plugin_chain *c, plugin_route *route, long long kind_or_all) {
    route->list = calloc(c->instance_count ? c->instance_count : 1, sizeof *route->list);
    if (!route->list) return -1;
    route->count = 0;
    route->wants_committed = false;
    for (size_t i = 0; i < c->instance_count; i++) {
        const plugin_def *def = c->instances[i].def;
        bool wants = kind_or_all < 0 ? def->kinds == NULL : def_wants_kind(def, (uint32_t)kind_or_all);
        if (!wants) continue;
        route->list[route->count++] = &c->instances[i];
        if (def->committed) route->wants_committed = true;
    }
    return 0;
}

static int build_routes(plugin_chain *c) {
    if (build_route(c, &c->all_kinds, -1) < 0) return -1;
    size_t kind_total = 0;
    for (size_t i = 0; i < c->instance_count; i++)
        if (c->instances[i].def->kinds) kind_total += c->instances[i].def->kind_count;
    if (kind_total == 0) return 0;
    size_t cap = 8;
    while (cap < kind_total * 2) cap *= 2;
    c->slots = calloc(cap, sizeof *c->slots);
    if (!c->slots) return -1;
    c->slot_mask = cap - 1;
    for (size_t i = 0; i < c->instance_count; i++) {
        const plugin_def *def = c->instances[i].def;
        if (!def->kinds) continue;
        for (size_t k = 0; k < def->kind_count; k++) {
            uint32_t kind = def->kinds[k];
            size_t j = kind_hash(kind) & c->slot_mask;
            while (c->slots[j].used && c->slots[j].kind != kind) j = (j + 1) & c->slot_mask;
            if (c->slots[j].used) continue; /* route already built */
            c->slots[j].used = true;
            c->slots[j].kind = kind;
            if (build_route(c, &c->slots[j].route, kind) < 0) return -1;
        }
    }
    return 0;
}

void plugin_chain_free(plugin_chain *c) {
    if (!c) return;
    for (size_t i = c->instance_count; i-- > 0;)
        if (c->instances[i].def->teardown) c->instances[i].def->teardown(c->instances[i].state);
    free(c->all_kinds.list);
    if (c->slots)
        for (size_t i = 0; i <= c->slot_mask; i++) free(c->slots[i].route.list);
    free(c->slots);
    free(c->instances);
    free(c);
}

plugin_chain *plugin_chain_new(const config *cfg, store *s, char *err, size_t errlen) {
    if (errlen) err[0] = 0;
    const char *const *names = NULL;
    size_t n = config_list(cfg, NULL, "plugins", &names);
    plugin_chain *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
    c->instances = calloc(n ? n : 1, sizeof *c->instances);
    if (!c->instances) { free(c); snprintf(err, errlen, "out of memory"); return NULL; }
    for (size_t i = 0; i < n; i++) {
        const plugin_def *def = plugin_find(names[i]);
        if (!def) {
            snprintf(err, errlen, "plugins: unknown plugin \"%s\"", names[i]);
            goto fail;
        }
        for (size_t j = 0; j < c->instance_count; j++)
            if (c->instances[j].def == def) {
                snprintf(err, errlen, "plugins: \"%s\" is listed twice", names[i]);
                goto fail;
            }
        plugin_instance *inst = &c->instances[c->instance_count];
        inst->def = def;
        snprintf(inst->section, sizeof inst->section, "plugin.%s", def->name);
        if (def->init) {
            char perr[256] = "";
            if (def->init(&inst->state, cfg, inst->section, s, perr, sizeof perr) != 0) {
                snprintf(err, errlen, "[%s]: %s", inst->section, perr[0] ? perr : "initialisation failed");
                goto fail;
            }
        }
        c->instance_count++;
    }
    if (build_routes(c) < 0) { snprintf(err, errlen, "out of memory"); goto fail; }
    return c;
fail:
    plugin_chain_free(c);
    return NULL;
}

plugin_verdict plugin_chain_decide(plugin_chain *c, const event *ev, const plugin_source *src,
                                   char *msg, size_t msglen) {
    if (msglen) msg[0] = 0;
    if (!c) return PLUGIN_ACCEPT;
    const plugin_route *r = route_for(c, ev->kind);
    for (size_t i = 0; i < r->count; i++) {
        const plugin_instance *inst = r->list[i];
        if (!inst->def->decide) continue;
        plugin_verdict v = inst->def->decide(inst->state, ev, src, msg, msglen);
        if (v == PLUGIN_ACCEPT) { if (msglen) msg[0] = 0; continue; }
        if (v == PLUGIN_REJECT && msglen && !msg[0])
            snprintf(msg, msglen, "blocked: refused by plugin %s", inst->def->name);
        return v;
    }
    return PLUGIN_ACCEPT;
}

int plugin_chain_committed(plugin_chain *c, MDB_txn *txn, const event *ev, uint64_t levid,
                           char *msg, size_t msglen) {
    if (msglen) msg[0] = 0;
    if (!c) return 0;
    const plugin_route *r = route_for(c, ev->kind);
    if (!r->wants_committed) return 0;
    for (size_t i = 0; i < r->count; i++) {
        const plugin_instance *inst = r->list[i];
        if (!inst->def->committed) continue;
        int rc = inst->def->committed(inst->state, txn, ev, levid, msg, msglen);
        if (rc != 0) {
            if (msglen && !msg[0]) snprintf(msg, msglen, "error: plugin %s failed", inst->def->name);
            return rc;
        }
    }
    return 0;
}

bool plugin_chain_wants_committed(const plugin_chain *c, uint32_t kind) {
    return c && route_for(c, kind)->wants_committed;
}
