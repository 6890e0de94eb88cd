/* `g1relay run`: starts the relay (store, plugins, worker pool, writer, network)
 * and runs until SIGINT/SIGTERM, then shuts down cleanly: the writer commits
 * what it has, the LMDB environment is closed. */
#include "archive_thread.h"
#include "cli.h"
#include "conn.h"
#include "ingest.h"
#include "journal.h"
#include "log.h"
#include "nip11.h"
#include "relay_ctx.h"
#include "server.h"
#include "engine.h"
#include "settle.h"
#include "upstream.h"
#include "subscriptions.h"
#include "workers.h"
#include "writer.h"
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_BIND = CLI_OPT_FIRST_FREE,
    OPT_PORT,
    OPT_WRITE_POLICY,
    OPT_FILTER_DIR,
    OPT_UPSTREAM,
    OPT_G1_NODE,
    OPT_PASSPHRASE_FILE,
};

static const char run_help[] =
    "usage: g1relay run [OPTIONS]\n\n"
    "Runs the relay: Nostr over WebSocket and NIP-11 over HTTP on one port.\n"
    "Stops cleanly on SIGINT or SIGTERM (pending writes are committed).\n\n"
    "Options:\n"
    "  --bind ADDR            address to listen on (config bind, default 127.0.0.1)\n"
    "  --port N               TCP port (config port, default 7777)\n"
    "  --write-policy PROG    strfry-compatible write-policy program run for every event\n"
    "                         (config write_policy)\n"
    "  --filter-dir DIR       NIP-101 directory of executable <kind>.sh filters\n"
    "                         (config filter_dir)\n"
    "  --upstream URL         trusted relay to follow (repeatable; config upstreams)\n"
    "  --g1-node URL          Duniter v2s RPC endpoint, http:// or ws:// (repeatable, tried\n"
    "                         in order with failover; config g1_nodes)\n"
    "  --passphrase-file FILE keystore passphrase (config passphrase_file; else the\n"
    "                         G1RELAY_PASSPHRASE environment variable)\n" CLI_COMMON_HELP
    "\nUseful configuration keys (set in the file or with --set KEY=VALUE):\n"
    "  worker_threads, write_batch_max, max_connections, map_size_mb,\n"
    "  max_message_length, max_subscriptions, max_filters, max_limit, default_limit,\n"
    "  max_subid_length, max_event_tags, max_content_length, max_output_bytes,\n"
    "  min_pow_difficulty, created_at_lower_limit, created_at_upper_limit,\n"
    "  auth_required, relay_url, relay_name, relay_description, relay_contact,\n"
    "  relay_pubkey, relay_icon, plugins.\n"
    "Settlement (docs/SETTLEMENT.md): settlement = true adds the reactions and orders\n"
    "plugins (unless `plugins` lists them already) and starts the payment engine;\n"
    "it needs g1_nodes and the keystore passphrase.\n"
    "`g1relay config --defaults` documents every key with its default.\n";

static relay_ctx *g_run_ctx;

static void on_signal(int sig) {
    (void)sig;
    if (!g_run_ctx) return;
    atomic_store(&g_run_ctx->stopping, true);
    if (g_run_ctx->lws) {
        atomic_store(&g_run_ctx->wake_pending, false);
        relay_wake_network(g_run_ctx);
    }
}

/* Raises the open-file limit so max_connections sockets fit (up to the hard limit). */
static void raise_fd_limit(long long want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long long)rl.rlim_cur < want)
        log_warn("open-file limit %llu is below max_connections + 256 (%lld): raise it (ulimit -n)",
                 (unsigned long long)rl.rlim_cur, want);
}

static int set_override(cli_common *cc, const char *key, const char *value) {
    char err[256];
    if (config_set(cc->overrides, NULL, key, value, err, sizeof err) < 0) {
        fprintf(stderr, "g1relay run: %s\n", err);
        return -1;
    }
    return 0;
}

/* settlement = true: the reactions and orders plugins join the chain (after the
 * configured ones) unless `plugins` names them already, in the order chosen. */
static int add_settlement_plugins(config *cfg) {
    static const char *const settlement_plugins[] = {"reactions", "orders"};
    for (size_t i = 0; i < sizeof settlement_plugins / sizeof settlement_plugins[0]; i++) {
        const char *const *items;
        size_t n = config_list(cfg, NULL, "plugins", &items);
        bool listed = false;
        for (size_t j = 0; j < n; j++) listed |= strcmp(items[j], settlement_plugins[i]) == 0;
        if (!listed && config_list_append(cfg, NULL, "plugins", settlement_plugins[i]) < 0) return -1;
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        CLI_COMMON_LONG_OPTIONS,
        {"bind", required_argument, 0, OPT_BIND},
        {"port", required_argument, 0, OPT_PORT},
        {"write-policy", required_argument, 0, OPT_WRITE_POLICY},
        {"filter-dir", required_argument, 0, OPT_FILTER_DIR},
        {"upstream", required_argument, 0, OPT_UPSTREAM},
        {"g1-node", required_argument, 0, OPT_G1_NODE},
        {"passphrase-file", required_argument, 0, OPT_PASSPHRASE_FILE},
        {0, 0, 0, 0},
    };
    cli_common cc;
    cli_common_init(&cc);
    int opt, rc = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (cli_handle_common(&cc, opt, optarg)) continue;
        switch (opt) {
        case OPT_BIND:
            if (set_override(&cc, "bind", optarg) < 0) goto usage;
            break;
        case OPT_PORT: {
            char *end;
            long p = strtol(optarg, &end, 10);
            if (*end || p < 1 || p > 65535) {
                cli_common_free(&cc);
                return cli_usage_error("run", "--port wants a number between 1 and 65535, got %s", optarg);
            }
            if (set_override(&cc, "port", optarg) < 0) goto usage;
            break;
        }
        case OPT_WRITE_POLICY:
            if (set_override(&cc, "write_policy", optarg) < 0) goto usage;
            break;
        case OPT_FILTER_DIR:
            if (set_override(&cc, "filter_dir", optarg) < 0) goto usage;
            break;
        case OPT_UPSTREAM:
            if (config_list_append(cc.overrides, NULL, "upstreams", optarg) < 0) goto usage;
            break;
        case OPT_G1_NODE:
            if (config_list_append(cc.overrides, NULL, "g1_nodes", optarg) < 0) goto usage;
            break;
        case OPT_PASSPHRASE_FILE:
            if (set_override(&cc, "passphrase_file", optarg) < 0) goto usage;
            break;
        default:
            cli_common_free(&cc);
            return cli_usage_error("run", "unknown option");
        }
    }
    if (cc.help) {
        fputs(run_help, stdout);
        cli_common_free(&cc);
        return 0;
    }
    if (optind < argc) {
        cli_common_free(&cc);
        return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    }

    config *cfg = cli_load_config(&cc);
    cli_common_free(&cc);
    if (!cfg) return 1;
    if (config_bool(cfg, NULL, "settlement", false) && add_settlement_plugins(cfg) < 0) {
        config_free(cfg);
        return cli_fail("run", "out of memory");
    }

    relay_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    archive_thread *archiver = NULL;
    engine *settler = NULL;
    atomic_init(&ctx.wake_pending, false);
    atomic_init(&ctx.stopping, false);
    ctx.cfg = cfg;
    char err[512] = "";
    char *nip11 = NULL;
    upstream_set *upstreams = NULL;
    journal *jr = NULL;
    if (relay_limits_from_config(&ctx.lim, cfg, err, sizeof err) < 0) {
        rc = cli_fail("run", "config: %s", err);
        goto out;
    }
    ctx.relay_url = config_str(cfg, NULL, "relay_url", "");
    long long port = config_int(cfg, NULL, "port", 7777);
    if (port < 1 || port > 65535) {
        rc = cli_fail("run", "config: port must be between 1 and 65535");
        goto out;
    }
    const char *bind = config_str(cfg, NULL, "bind", "127.0.0.1");
    const char *data_dir = config_str(cfg, NULL, "data_dir", "./data");
    long long map_mb = config_int(cfg, NULL, "map_size_mb", 65536);
    long long maxc = config_int(cfg, NULL, "max_connections", 10000);
    long long threads = config_int(cfg, NULL, "worker_threads", 0);
    if (map_mb < 1 || maxc < 1 || maxc > 1000000 || threads < 0 || threads > 1024) {
        rc = cli_fail("run", "config: map_size_mb, max_connections or worker_threads out of range");
        goto out;
    }
    raise_fd_limit(maxc + 256);

    /* the journal first: its lock keeps a second relay off this data directory
     * (LMDB would let it in, and it would wait on the writer's transaction) */
    if (writer_journal_open(cfg, &jr, err, sizeof err) < 0) {
        rc = cli_fail("run", "%s", err);
        goto out;
    }
    if (store_open(&ctx.st, data_dir, (uint64_t)map_mb << 20, false, err, sizeof err) < 0) {
        rc = cli_fail("run", "store: %s", err);
        goto out;
    }
    ctx.plugins = plugin_chain_new(cfg, ctx.st, err, sizeof err);
    if (!ctx.plugins) {
        rc = cli_fail("run", "plugins: %s", err[0] ? err : "cannot start");
        goto out;
    }
    err[0] = 0;
    ctx.policy = policy_runner_new(cfg, err, sizeof err);
    if (!ctx.policy && err[0]) {
        rc = cli_fail("run", "write policy: %s", err);
        goto out;
    }
    upstreams = upstream_new(&ctx, err, sizeof err); /* opens its cursor database: before other threads */
    if (!upstreams && err[0]) {
        rc = cli_fail("run", "upstreams: %s", err);
        goto out;
    }
    ctx.subs = sub_index_new();
    ctx.conns = conn_table_new(&ctx, (uint32_t)maxc);
    nip11 = nip11_document(cfg, &ctx.lim);
    if (!ctx.subs || !ctx.conns || !nip11) {
        rc = cli_fail("run", "out of memory");
        goto out;
    }
    err[0] = 0;
    ctx.writer = writer_start(&ctx, jr, err, sizeof err); /* applies the journal's pending events first */
    jr = NULL; /* the writer owns it */
    if (!ctx.writer) {
        rc = cli_fail("run", "%s", err[0] ? err : "cannot start the writer");
        goto out;
    }
    ctx.workers = worker_pool_start(&ctx, (int)threads);
    if (!ctx.workers) {
        rc = cli_fail("run", "cannot start threads");
        goto out;
    }
    settle_service_attach(&ctx); /* receipt publisher (only with the settlement plugins) */
    /* the settlement engine (settlement = true or g1_nodes set): pays the outbox's intents */
    if (engine_start_for_relay(ctx.st, cfg, settle_on_intent_status, NULL, &settler, err, sizeof err) < 0) {
        rc = cli_fail("run", "settlement: %s", err);
        goto out;
    }
    archiver = archive_thread_start(&ctx, err, sizeof err); /* periodic CAR archives (ipfs/) */
    if (!archiver && err[0]) {
        rc = cli_fail("run", "archive: %s", err);
        goto out;
    }
    if (server_start(&ctx, bind, (int)port, nip11, err, sizeof err) < 0) {
        rc = cli_fail("run", "%s", err);
        goto out;
    }

    if (upstream_start(upstreams, err, sizeof err) < 0) {
        rc = cli_fail("run", "upstreams: %s", err);
        goto out;
    }

    g_run_ctx = &ctx;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    log_info("g1relay %s listening on %s:%lld (data %s)", G1RELAY_VERSION, bind, port, data_dir);
    server_run(&ctx);
    log_info("shutting down");
    rc = 0;

out:
    atomic_store(&ctx.stopping, true);
    /* Order: stop producing work, let the writer commit what it has, then close
     * the sockets and the store. */
    upstream_free(upstreams);
    if (ctx.workers) worker_pool_stop(ctx.workers);
    if (ctx.policy) policy_runner_free(ctx.policy);
    archive_thread_stop(archiver);
    engine_stop_for_relay(settler);
    settle_service_detach();
    if (ctx.writer) writer_stop(ctx.writer);
    journal_close(jr); /* when the writer never took it */
    g_run_ctx = NULL;
    server_stop(&ctx);
    if (ctx.conns && ctx.subs) ingest_release_all(&ctx);
    if (ctx.plugins) plugin_chain_free(ctx.plugins);
    if (ctx.st) store_close(ctx.st);
    conn_table_free(ctx.conns);
    sub_index_free(ctx.subs);
    free(nip11);
    config_free(cfg);
    if (rc == 0) log_info("stopped");
    return rc;
usage:
    cli_common_free(&cc);
    return 2;
}
