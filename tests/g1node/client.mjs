// Client library for tests that use the g1node test stand-in: start/stop/restart a node process,
// JSON-RPC over HTTP and WebSocket, waiting for blocks / finality / ledger entries, and building
// real signed extrinsics with @polkadot/types' own signer (independent of the node's checks).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { TypeRegistry, Metadata } from '@polkadot/types';
import { ed25519PairFromSeed, ed25519Sign, encodeAddress, cryptoWaitReady, blake2AsHex } from '@polkadot/util-crypto';
import { u8aToHex, hexToU8a } from '@polkadot/util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const NODE_SCRIPT = path.join(HERE, 'g1node.mjs');
export const SUPERVISE_SCRIPT = path.join(HERE, 'supervise.mjs');
export const SHARED_DIR = process.env.G1_SHARED || '/work/shared';
export const G1_GENESIS = '0xfeb770bbb0344dabc8366b0d1f889a8e4e6ca09b914006655fe795920deb6d56';
export const RESTART_EXIT_CODE = 75;

export class RpcError extends Error {
  constructor(error) {
    super(`${error.code}: ${error.message}${error.data !== undefined ? `: ${error.data}` : ''}`);
    this.code = error.code; this.rpcMessage = error.message; this.data = error.data;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll `fn` until it returns a truthy value (returned) or the time is up (throws).
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// One JSON-RPC call over HTTP POST. Throws RpcError for an error answer.
export async function rpc(url, method, params = [], { timeoutMs = 5000 } = {}) {
  const res = await fetch(url, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.json();
  if (body.error) throw new RpcError(body.error);
  return body.result;
}

// JSON-RPC over one WebSocket: calls and subscriptions.
export class WsClient {
  static async connect(url, { timeoutMs = 5000 } = {}) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => { ws.terminate(); reject(new Error('ws connect timeout')); }, timeoutMs);
      ws.once('open', () => { clearTimeout(t); resolve(); });
      ws.once('error', (e) => { clearTimeout(t); reject(e); });
    });
    return new WsClient(ws);
  }

  constructor(ws) {
    this.ws = ws; this.nextId = 1; this.pending = new Map(); this.subs = new Map(); this.early = new Map();
    this.closed = new Promise((resolve) => ws.once('close', resolve));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.id !== undefined && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id); this.pending.delete(msg.id);
        if (msg.error) p.reject(new RpcError(msg.error)); else p.resolve(msg.result);
      } else if (msg.params && msg.params.subscription !== undefined) {
        const id = msg.params.subscription;
        const cb = this.subs.get(id);
        if (cb) cb(msg.params.result, msg.method);
        else { if (!this.early.has(id)) this.early.set(id, []); this.early.get(id).push([msg.params.result, msg.method]); }
      }
    });
    ws.on('close', () => { for (const p of this.pending.values()) p.reject(new Error('connection closed')); this.pending.clear(); });
    ws.on('error', () => {});
  }

  call(method, params = [], { timeoutMs = 5000 } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.pending.delete(id); reject(new Error(`${method} timed out`)); }, timeoutMs);
      this.pending.set(id, { resolve: (v) => { clearTimeout(t); resolve(v); }, reject: (e) => { clearTimeout(t); reject(e); } });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  // Subscribe; onNotify(result, method) for each notification. Returns the subscription id.
  async subscribe(method, params, onNotify) {
    const id = await this.call(method, params);
    this.subs.set(id, onNotify);
    for (const [r, m] of this.early.get(id) || []) onNotify(r, m);
    this.early.delete(id);
    return id;
  }

  close() { this.ws.close(); return this.closed; }
}

// A running g1node process. start() / stop() / restart() keep the same port and state file.
// opts: blockMs, finalityLag, runtime, genesisBalances {address: centimes}, genesisHash, specVersion,
// txVersion, faults ['stall:2', ...], extraArgs, supervised, restartDelayMs, dir, stateFile, port.
export class NodeProcess {
  constructor(opts = {}) {
    this.opts = opts;
    this.ownDir = !opts.dir;
    this.dir = opts.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'g1node-'));
    this.stateFile = opts.stateFile || path.join(this.dir, 'state.json');
    this.port = opts.port || 0;
    this.output = '';
    if (opts.genesisBalances) {
      this.balancesFile = path.join(this.dir, 'balances.json');
      fs.writeFileSync(this.balancesFile, JSON.stringify(opts.genesisBalances));
    }
  }

  args() {
    const o = this.opts;
    const a = [NODE_SCRIPT, '--port', String(this.port), '--block-ms', String(o.blockMs ?? 300),
      '--finality-lag', String(o.finalityLag ?? 2), '--state', this.stateFile, '--runtime', o.runtime || 'g1', '--shared', SHARED_DIR];
    if (this.balancesFile) a.push('--genesis-balances', this.balancesFile);
    if (o.genesisHash) a.push('--genesis-hash', o.genesisHash);
    if (o.specVersion !== undefined) a.push('--spec-version', String(o.specVersion));
    if (o.txVersion !== undefined) a.push('--tx-version', String(o.txVersion));
    for (const f of o.faults || []) a.push('--fault', f);
    const all = a.concat(o.extraArgs || []);
    // supervised: run under supervise.mjs, which restarts the node after the `restart` fault.
    return o.supervised ? [SUPERVISE_SCRIPT, '--restart-delay-ms', String(o.restartDelayMs ?? 300), '--', ...all.slice(1)] : all;
  }

  async start({ timeoutMs = 15000 } = {}) {
    this.proc = spawn(process.execPath, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    const port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`g1node did not start:\n${this.output}`)), timeoutMs);
      this.proc.stdout.on('data', (d) => {
        this.output += d;
        const m = /listening on (\d+)/.exec(this.output);
        if (m) { clearTimeout(t); resolve(Number(m[1])); }
      });
      this.proc.stderr.on('data', (d) => { this.output += d; if (this.output.length > 1e6) this.output = this.output.slice(-5e5); });
      this.exited.then(({ code }) => { clearTimeout(t); reject(new Error(`g1node exited (${code}) before listening:\n${this.output}`)); });
    });
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}`;
    return this;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  async kill() { if (this.proc && this.proc.exitCode === null) { this.proc.kill('SIGKILL'); await this.exited; } }

  async restart() { await this.stop(); return this.start(); }

  // Stop and remove the temporary directory this object created (state journal included).
  async dispose() {
    await this.stop();
    if (this.ownDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  rpc(method, params = [], opts) { return rpc(this.url, method, params, opts); }
  ledger() { return this.rpc('test_ledger'); }
  fault(spec) { return this.rpc('test_fault', [spec]); }
  bestNumber() { return this.rpc('chain_getHeader').then((h) => parseInt(h.number, 16)); }
  finalizedNumber() { return this.rpc('chain_getFinalizedHead').then((h) => this.rpc('chain_getHeader', [h])).then((h) => parseInt(h.number, 16)); }
  waitForBlock(n, opts) { return waitFor(async () => (await this.bestNumber()) >= n, { what: `block ${n}`, ...opts }); }
  waitForFinalized(n, opts) { return waitFor(async () => (await this.finalizedNumber()) >= n, { what: `finalized ${n}`, ...opts }); }

  // Block number and index of an extrinsic hash, searching blocks from..best (inclusive).
  async findExtrinsic(hash, from = 1) {
    const best = await this.bestNumber();
    for (let n = from; n <= best; n++) {
      const bh = await this.rpc('chain_getBlockHash', [n]);
      const { block } = await this.rpc('chain_getBlock', [bh]);
      const i = block.extrinsics.findIndex((x) => extrinsicHash(x) === hash);
      if (i >= 0) return { number: n, blockHash: bh, index: i };
    }
    return null;
  }
}

export function extrinsicHash(hex) { return blake2AsHex(hexToU8a(hex), 256); }

// ---- keys and signed extrinsics -------------------------------------------------------------

// Cesium-style key: seed = scrypt(password, salt = id, N 4096, r 16, p 1, 32 bytes).
export function cesiumSeed(id, password) { return crypto.scryptSync(password, id, 32, { N: 4096, r: 16, p: 1 }); }
export function keyFromSeed(seed) { return ed25519PairFromSeed(seed); }
export function keyFromName(name) { return ed25519PairFromSeed(crypto.createHash('sha256').update(`g1node-test:${name}`).digest()); }
export const address = (kp, ss58 = 4450) => encodeAddress(kp.publicKey, ss58);

// Builds extrinsics with a registry made from the same metadata the node serves.
export class ExtrinsicBuilder {
  static async create(runtime = 'g1') {
    await cryptoWaitReady();
    const reg = new TypeRegistry();
    const md = new Metadata(reg, fs.readFileSync(path.join(SHARED_DIR, 'g1', `${runtime}_metadata.scale`)));
    reg.setMetadata(md);
    return new ExtrinsicBuilder(reg, md);
  }

  constructor(reg, md) { this.reg = reg; this.md = md; }

  callData(section, method, args) {
    return this.reg.createType('Call', { callIndex: this.callIndex(section, method), args });
  }

  callIndex(section, method) {
    const pallet = this.md.asLatest.pallets.find((p) => p.name.toString() === section);
    const variants = this.reg.lookup.getSiType(pallet.calls.unwrap().type.toNumber()).def.asVariant.variants;
    const v = variants.find((x) => x.name.toString() === method);
    if (!v) throw new Error(`${section}.${method} not in metadata`);
    return [pallet.index.toNumber(), v.index.toNumber()];
  }

  transferKeepAlive(destPk, value) { return this.callData('Balances', 'transfer_keep_alive', { dest: { Id: destPk }, value }); }
  transferAllowDeath(destPk, value) { return this.callData('Balances', 'transfer_allow_death', { dest: { Id: destPk }, value }); }
  remarkWithEvent(text) { return this.callData('System', 'remark_with_event', { remark: u8aToHex(Buffer.from(text)) }); }
  batchAll(calls) { return this.callData('Utility', 'batch_all', { calls }); }

  // opts: nonce, genesisHash, specVersion, txVersion, tip, era {period, current, blockHash} (mortal)
  sign(kp, call, opts) {
    const ex = this.reg.createType('Extrinsic', call);
    const era = opts.era
      ? this.reg.createType('ExtrinsicEra', { current: opts.era.current, period: opts.era.period })
      : this.reg.createType('ExtrinsicEra', '0x00');
    const signer = {
      address: kp.publicKey, addressRaw: kp.publicKey, publicKey: kp.publicKey, type: 'ed25519',
      sign: (data, o) => (o && o.withType ? new Uint8Array([0, ...ed25519Sign(data, kp)]) : ed25519Sign(data, kp)),
    };
    ex.sign(signer, {
      blockHash: opts.era ? opts.era.blockHash : opts.genesisHash, genesisHash: opts.genesisHash, era, nonce: opts.nonce,
      tip: opts.tip ?? 0, runtimeVersion: { specVersion: opts.specVersion, transactionVersion: opts.txVersion },
      signedExtensions: this.reg.signedExtensions, mode: 0,
    });
    return ex.toHex();
  }
}
