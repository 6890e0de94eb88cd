// Helper library of the g1relay end-to-end tests: starts the REAL binary on a free
// loopback port with a fresh data directory, and re-exports the client and event helpers.
//
// Usage (ESM, node's built-in test runner):
//
//   import { test } from 'node:test';
//   import assert from 'node:assert/strict';
//   import { startRelay, connect, newKey, makeEvent } from './lib/relay.mjs';
//
//   const relay = await startRelay({ config: { max_subscriptions: 5, auth_required: false } });
//   const c = await connect(relay.url);             // RelayClient (lib/client.mjs)
//   const alice = newKey();                          // { sk, pk }
//   const ev = makeEvent(alice, { kind: 1, content: 'hi', tags: [['t', 'x']] });
//   const r = await c.publish(ev);                   // { ok, message, raw } after ["OK", id, …]
//   const evs = await c.req('s1', { authors: [alice.pk] });   // EVENTs until EOSE (throws on CLOSED)
//   const { events, end } = await c.reqEnd('s2', { kinds: [1] }); // end = EOSE or CLOSED message
//   const n = await c.count('c1', { kinds: [1] });   // NIP-45
//   await c.waitFor((m) => m[0] === 'NOTICE', { from: c.mark() });
//   await relay.kill('SIGKILL'); await relay.restart();   // same port, same data dir
//
// startRelay(options) → relay
//   options.config   {key: value}: each becomes `--set key=value` (strings quoted, arrays as
//                    TOML lists, numbers and booleans bare). Keys: `g1relay config --defaults`.
//   options.configText  text written to <tmp>/g1relay.conf and passed as --config FILE.
//   options.args     extra arguments after `run …`.
//   options.env      extra environment variables.
//   options.dataDir  reuse a data directory (default: a fresh one under the temp dir).
//   options.readyTimeout  ms to wait for the port (default 15000; the relay is killed and
//                    its output shown on timeout or early exit).
//   options.cleanup  false: do not check its exit (see below). Every relay still running
//                    at the end of the test file is stopped (SIGTERM) by one after() hook
//                    of the file's root, whatever context started it (test, before, top
//                    level); clients left open are closed; temp dirs go at process exit.
// relay: { url 'ws://127.0.0.1:PORT', httpUrl 'http://127.0.0.1:PORT', port, dataDir,
//          baseDir, proc, output() (last 64 KiB of stdout+stderr), stop() (SIGTERM, then
//          SIGKILL after 5 s; resolves {code, signal}), kill(signal='SIGKILL'),
//          restart(), running(), checkExit(res) (throws on a sanitizer report or an
//          unclean stop; the end-of-file hook calls it for every relay, so a relay that
//          crashes or leaks under ASan fails the file, reported as lib/relay.mjs) }
// processMemory(pid) → {rss, rssAnon} bytes; fetchInfo(relay) → NIP-11 {status, headers, json}.
//
// Environment: G1RELAY_BIN (default <repo>/g1relay), G1RELAY_TOOLS, G1_SHARED,
// G1_E2E_TIME_FACTOR (multiplies every wait, e.g. 4 for a sanitizer build).
// Other modules: lib/client.mjs (RelayClient), lib/events.mjs (keys, events, PoW, strict
// NIP-01 serialisation), lib/rawws.mjs (raw TCP WebSocket for slow readers, half-close).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { TIME_FACTOR, closeAllClients } from './client.mjs';

export * from './events.mjs';
export * from './client.mjs';
export * from './rawws.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RELAY_BIN = process.env.G1RELAY_BIN || path.join(repoRoot, 'g1relay');
export const TOOLS_DIR = process.env.G1RELAY_TOOLS || path.join(repoRoot, 'build/tools');
export const SHARED_DIR = process.env.G1_SHARED || path.resolve(repoRoot, '../shared');

const live = new Set();      // running relay processes, killed at exit
const startedRelays = new Set(); // every relay object started by this process

// One hook at the end of the test file (registered when this module is first imported,
// i.e. at the file's top level, so it belongs to the root test whatever context
// startRelay is later called from): stops every relay still running with SIGTERM, closes
// every client left open (so nothing keeps the file from ending), then fails if a relay
// printed a sanitizer report or did not stop cleanly.
try {
  after(async () => {
    const errors = [];
    for (const relay of startedRelays) {
      const res = relay.running() ? await relay.stop() : relay.lastStop;
      if (!relay.checked) continue;
      try { relay.checkExit(res); } catch (e) { errors.push(e.message); }
    }
    closeAllClients();
    if (errors.length) throw new Error(errors.join('\n\n'));
  });
} catch { /* imported outside the test runner */ }
const tempDirs = new Set();  // removed at exit
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  for (const d of tempDirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ } }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Formats a config value the way `--set key=value` reads it (config file syntax). */
export function configValue(v) {
  if (Array.isArray(v)) return '[' + v.map((x) => configValue(x)).join(', ') + ']';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

// Inodes of sockets listening on `port` (IPv4 and IPv6), from /proc/net/tcp*.
function listeningInodes(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      if (cols[1].endsWith(':' + hexPort) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  return inodes;
}

// True when process `pid` owns a socket listening on `port` (so we do not mistake
// another test's relay for ours). Falls back to a plain connect where /proc is absent.
async function listensOn(pid, port) {
  const inodes = listeningInodes(port);
  if (inodes.size > 0) {
    let fds;
    try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { fds = null; }
    if (fds) {
      for (const fd of fds) {
        let target;
        try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m && inodes.has(m[1])) return true;
      }
      return false;
    }
  }
  if (fs.existsSync('/proc/net/tcp')) return false;
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Starts a relay (see the top of this file). */
export async function startRelay({ config = {}, configText, args = [], env = {}, dataDir,
  readyTimeout = 15000, cleanup = true, port: wantedPort } = {}) {
  readyTimeout *= TIME_FACTOR;
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-e2e-'));
  tempDirs.add(baseDir);
  const data = dataDir ?? path.join(baseDir, 'data');
  fs.mkdirSync(data, { recursive: true });
  let port = wantedPort ?? await freePort();

  const buildArgs = () => {
    const a = ['run', '--bind', '127.0.0.1', '--port', String(port), '--data', data];
    if (configText !== undefined) {
      const f = path.join(baseDir, 'g1relay.conf');
      fs.writeFileSync(f, configText);
      a.push('--config', f);
    }
    for (const [k, v] of Object.entries(config)) a.push('--set', `${k}=${configValue(v)}`);
    return a.concat(args);
  };

  let out = '';
  const relay = {
    baseDir, dataDir: data, proc: null,
    get port() { return port; },
    get url() { return `ws://127.0.0.1:${port}`; },
    get httpUrl() { return `http://127.0.0.1:${port}`; },
    output: () => out,
    running: () => relay.proc !== null && relay.proc.exitCode === null && relay.proc.signalCode === null,
  };

  const exited = (p) => new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve({ code: p.exitCode, signal: p.signalCode });
    p.once('exit', (code, signal) => resolve({ code, signal }));
  });

  async function launch() {
    const argv = buildArgs();
    const p = spawn(RELAY_BIN, argv, { cwd: baseDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    relay.proc = p;
    live.add(p);
    const keep = (chunk) => { out += chunk.toString(); if (out.length > 65536) out = out.slice(-65536); };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    let spawnError = null;
    p.once('error', (e) => { spawnError = e; });
    p.once('exit', () => live.delete(p));
    const deadline = Date.now() + readyTimeout;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot start ${RELAY_BIN}: ${spawnError.message}`);
      if (p.exitCode !== null || p.signalCode !== null) {
        throw new Error(`relay exited early (code ${p.exitCode}, signal ${p.signalCode}): ${RELAY_BIN} ${argv.join(' ')}\n--- output ---\n${out}`);
      }
      if (p.pid && await listensOn(p.pid, port)) return;
      await sleep(50);
    }
    p.kill('SIGKILL');
    throw new Error(`relay did not listen on 127.0.0.1:${port} within ${readyTimeout} ms: ${RELAY_BIN} ${argv.join(' ')}\n--- output ---\n${out}`);
  }

  relay.kill = async (signal = 'SIGKILL') => {
    const p = relay.proc;
    if (!p) return null;
    if (p.exitCode === null && p.signalCode === null) p.kill(signal);
    relay.lastStop = null; // a deliberate kill: its exit status is not checked
    return exited(p);
  };

  relay.stop = async () => {
    const p = relay.proc;
    if (!p) return null;
    if (p.exitCode !== null || p.signalCode !== null) return { code: p.exitCode, signal: p.signalCode };
    p.kill('SIGTERM');
    const res = await Promise.race([exited(p), sleep(5000).then(() => null)]);
    if (res) return (relay.lastStop = res);
    p.kill('SIGKILL');
    const killed = await exited(p);
    return (relay.lastStop = { ...killed, timedOut: true });
  };

  /** Stops (if running) and starts again on the same port and data directory. */
  relay.restart = async () => {
    await relay.stop();
    // The port may linger briefly; retry a few times.
    for (let attempt = 0; ; attempt++) {
      try { await launch(); return relay; } catch (e) {
        if (attempt >= 4 || !/exited early/.test(e.message)) throw e;
        await sleep(300);
      }
    }
  };

  // A port grabbed by someone else between freePort() and bind: retry on a new port.
  for (let attempt = 0; ; attempt++) {
    try { await launch(); break; } catch (e) {
      if (attempt >= 2 || wantedPort !== undefined || !/exited early/.test(e.message) ||
          !/(in use|EADDRINUSE|bind)/i.test(e.message)) throw e;
      port = await freePort();
    }
  }

  /** Throws if the relay's output shows a sanitizer report, or if a stop (SIGTERM) ended
   * with a non-zero exit code or a timeout. `res` is what stop() returned. */
  relay.checkExit = (res) => {
    const report = /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:/.exec(out);
    if (report) {
      const summary = out.split('\n').filter((l) => /^SUMMARY: /.test(l)).join('\n');
      throw new Error(`sanitizer report in relay output:\n${out.slice(Math.max(0, report.index - 200), report.index + 3000)}\n…\n${summary}`);
    }
    if (res?.timedOut) throw new Error(`relay did not stop within 5 s of SIGTERM\n--- output ---\n${out.slice(-4000)}`);
    if (res && res.code !== null && res.code !== 0) throw new Error(`relay exited with code ${res.code} after SIGTERM\n--- output ---\n${out.slice(-4000)}`);
  };

  relay.checked = cleanup;
  startedRelays.add(relay);
  return relay;
}

/** Memory of a process from /proc/PID/status, in bytes: {rss, rssAnon} (null if gone). */
export function processMemory(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return null; }
  const kb = (name) => Number((new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text) ?? [])[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), rssAnon: kb('RssAnon') };
}

/** GET the NIP-11 document; returns {status, headers, body, json}. */
export async function fetchInfo(relay, { accept = 'application/nostr+json', headers = {} } = {}) {
  const res = await fetch(relay.httpUrl + '/', { headers: { Accept: accept, ...headers } });
  const body = await res.text();
  let json = null;
  try { json = JSON.parse(body); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body, json };
}
