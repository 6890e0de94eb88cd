// JSON-RPC 2.0 server of the test node: HTTP POST (node:http) and WebSocket (ws) on one port,
// single and batch requests, Substrate method names and result shapes, subscriptions over
// WebSocket (new/finalized heads, author_submitAndWatchExtrinsic), test-only methods (test_*),
// and the connection-level faults (refuse, stall, lose-reply).
import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';
import { hexToU8a, u8aToHex, isHex } from '@polkadot/util';
import { accountIdOf } from './chain.mjs';
import { Faults } from './faults.mjs';
import { u32le } from './runtime.mjs';

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_BATCH = 256;
const MAX_SUBSCRIPTIONS_PER_CONNECTION = 1024;

class RpcError extends Error {
  constructor(code, message, data) { super(message); this.code = code; this.data = data; }
}
const invalidParams = (why) => new RpcError(-32602, 'Invalid params', why);
const LOSE_REPLY = Symbol('lose-reply');

function subscriptionId() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(crypto.randomBytes(16), (b) => alphabet[b % alphabet.length]).join('');
}

const CHAIN_NAMES = { g1: 'Ğ1', gdev: 'ĞDev' };

export class RpcServer {
  constructor(chain, faults, { port = 0, host = '127.0.0.1', onRestart = () => {}, log = () => {} } = {}) {
    this.chain = chain;
    this.rt = chain.rt;
    this.faults = faults;
    this.port = port;
    this.host = host;
    this.onRestart = onRestart;
    this.log = log;
    this.sockets = new Set();
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
    this.server = this.createServer();
    this.methods = this.methodTable();
  }

  createServer() {
    const server = http.createServer((req, res) => this.onHttp(req, res));
    server.on('connection', (sock) => { this.sockets.add(sock); sock.on('close', () => this.sockets.delete(sock)); });
    server.on('upgrade', (req, sock, head) => {
      this.wss.handleUpgrade(req, sock, head, (ws) => this.onWebSocket(ws));
    });
    return server;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.removeListener('error', reject);
        this.port = this.server.address().port;
        resolve(this.port);
      });
    });
  }

  closeAll() {
    for (const ws of this.wss.clients) ws.terminate();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  // Fault: stop listening and drop every connection for `seconds`, then listen again on the same port.
  refuse(seconds) {
    this.log(`fault: refusing connections for ${seconds}s`);
    this.server.close();
    this.closeAll();
    setTimeout(() => {
      this.server = this.createServer();
      this.listen().then(() => this.log('fault over: listening again')).catch((e) => this.log(`re-listen failed: ${e.message}`));
    }, seconds * 1000);
  }

  close() {
    this.closeAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // ---- transports ----------------------------------------------------------------------------

  onHttp(req, res) {
    if (req.method !== 'POST') { res.writeHead(405, { Allow: 'POST' }); res.end(); return; }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) { res.writeHead(413); res.end(); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', async () => {
      if (size > MAX_BODY_BYTES) return;
      if (this.faults.isStalled()) return; // never answered
      const conn = { http: true, kill: () => req.socket.destroy() };
      const reply = await this.handleText(Buffer.concat(chunks).toString('utf8'), conn);
      if (reply === LOSE_REPLY) { req.socket.destroy(); return; }
      if (reply === null) { res.writeHead(204); res.end(); return; }
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(reply);
    });
  }

  onWebSocket(ws) {
    // Notifications are withheld while stalled (a hung node sends nothing).
    const conn = { ws, subs: new Map(), send: (obj) => { if (ws.readyState === ws.OPEN && !this.faults.isStalled()) ws.send(JSON.stringify(obj)); } };
    ws.on('message', async (data) => {
      if (this.faults.isStalled()) return;
      const reply = await this.handleText(data.toString('utf8'), conn);
      if (reply === LOSE_REPLY) { ws.terminate(); return; }
      if (reply !== null && ws.readyState === ws.OPEN) ws.send(reply);
      // Initial notifications go after the reply that carries the subscription id.
      for (const f of conn.afterReply || []) f();
      conn.afterReply = [];
    });
    ws.on('close', () => { for (const unsub of conn.subs.values()) unsub(); conn.subs.clear(); });
    ws.on('error', () => {});
  }

  async handleText(text, conn) {
    let msg;
    try { msg = JSON.parse(text); } catch {
      return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    }
    if (Array.isArray(msg)) {
      if (msg.length === 0 || msg.length > MAX_BATCH) return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid request' } });
      const out = [];
      for (const m of msg) {
        const r = await this.handleOne(m, conn);
        if (r === LOSE_REPLY) return LOSE_REPLY;
        if (r) out.push(r);
      }
      return out.length ? JSON.stringify(out) : null;
    }
    const r = await this.handleOne(msg, conn);
    if (r === LOSE_REPLY) return LOSE_REPLY;
    return r ? JSON.stringify(r) : null;
  }

  async handleOne(msg, conn) {
    if (!msg || typeof msg !== 'object' || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') {
      return { jsonrpc: '2.0', id: msg && msg.id !== undefined ? msg.id : null, error: { code: -32600, message: 'Invalid request' } };
    }
    const id = msg.id;
    const params = msg.params === undefined || msg.params === null ? [] : msg.params;
    const method = this.methods[msg.method];
    let reply;
    try {
      if (!method || (method.ws && !conn.ws)) throw new RpcError(-32601, 'Method not found');
      if (!Array.isArray(params)) throw invalidParams('positional parameters expected');
      const result = await method.fn(params, conn);
      if (result === LOSE_REPLY) return LOSE_REPLY;
      reply = { jsonrpc: '2.0', id, result };
    } catch (e) {
      if (e instanceof RpcError) {
        const error = { code: e.code, message: e.message };
        if (e.data !== undefined) error.data = e.data;
        reply = { jsonrpc: '2.0', id, error };
      } else {
        this.log(`internal error in ${msg.method}: ${e.stack || e}`);
        reply = { jsonrpc: '2.0', id, error: { code: -32603, message: 'Internal error', data: String(e.message || e) } };
      }
    }
    return id === undefined ? null : reply; // notifications get no reply
  }

  // ---- helpers -------------------------------------------------------------------------------

  blockAt(hashParam) {
    if (hashParam === undefined || hashParam === null) return this.chain.best;
    if (typeof hashParam !== 'string' || !isHex(hashParam) || hashParam.length !== 66) throw invalidParams('block hash expected');
    return this.chain.blockByHash(hashParam);
  }

  blockNumberParam(p) {
    if (p === undefined || p === null) return this.chain.bestNumber;
    if (typeof p === 'number' && Number.isInteger(p) && p >= 0) return p;
    if (typeof p === 'string' && isHex(p) && p.length <= 18) return parseInt(p.slice(2) || '0', 16);
    throw invalidParams('block number expected');
  }

  runtimeVersion() {
    const v = this.rt.version;
    return {
      specName: v.specName, implName: v.implName, authoringVersion: v.authoringVersion,
      specVersion: this.chain.specVersion, implVersion: v.implVersion, apis: v.apis,
      transactionVersion: this.chain.txVersion, systemVersion: v.systemVersion ?? 1,
    };
  }

  storageAt(key, block) {
    if (typeof key !== 'string' || !isHex(key) || key.length > 2 + 2 * 256) throw invalidParams('storage key expected');
    const k = key.toLowerCase();
    const prefix = u8aToHex(this.rt.accountPrefix);
    if (k.startsWith(prefix) && k.length === prefix.length + 2 * 48) {
      const id = `0x${k.slice(prefix.length + 32)}`;
      if (this.rt.accountKey(hexToU8a(id)) !== k) return null;
      const acct = this.chain.accountAt(id, block.number);
      return acct.free === 0n && acct.nonce === 0 ? null : this.rt.encodeAccountInfo(acct);
    }
    if (k === this.rt.eventsKey) return block.eventsHex;
    if (k === this.rt.numberKey) return u8aToHex(u32le(block.number));
    return null;
  }

  subscribe(conn, event, notifyMethod, initial, map = (x) => x) {
    if (conn.subs.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) throw new RpcError(-32000, 'Too many subscriptions');
    const id = subscriptionId();
    const send = (x) => conn.send({ jsonrpc: '2.0', method: notifyMethod, params: { subscription: id, result: map(x) } });
    this.chain.on(event, send);
    conn.subs.set(id, () => this.chain.removeListener(event, send));
    if (initial !== undefined) (conn.afterReply ||= []).push(() => send(initial));
    return id;
  }

  unsubscribe(conn, params) {
    const unsub = conn.subs.get(params[0]);
    if (!unsub) return false;
    unsub();
    conn.subs.delete(params[0]);
    return true;
  }

  submit(params, conn, watch) {
    const hex = params[0];
    if (typeof hex !== 'string') throw invalidParams('extrinsic hex expected');
    const loseReply = this.faults.loseReplyCount > 0;
    const r = this.chain.submit(hex, { shouldDrop: () => this.faults.takeDrop() });
    if (r.error) throw new RpcError(r.error.code, r.error.message, r.error.data);
    if (r.dropped) this.log(`fault: accepted and dropped ${r.hash}`);
    if (loseReply && this.faults.takeLoseReply()) { this.log(`fault: included but reply lost for ${r.hash}`); return LOSE_REPLY; }
    if (!watch) return r.hash;
    const id = subscriptionId();
    const send = (status) => conn.send({ jsonrpc: '2.0', method: 'author_extrinsicUpdate', params: { subscription: id, result: status } });
    const onStatus = (hash, status) => {
      if (hash !== r.hash) return;
      send(status);
      if (typeof status === 'object' && status.finalized) stop();
      if (status === 'invalid' || status === 'dropped') stop();
    };
    const stop = () => { this.chain.removeListener('txStatus', onStatus); conn.subs.delete(id); };
    if (!r.dropped) this.chain.on('txStatus', onStatus);
    conn.subs.set(id, stop);
    (conn.afterReply ||= []).push(() => send(r.status));
    return id;
  }

  // ---- methods -------------------------------------------------------------------------------

  methodTable() {
    const c = this.chain;
    const m = {
      rpc_methods: () => ({ methods: Object.keys(this.methods).sort() }),
      system_chain: () => CHAIN_NAMES[this.rt.name],
      system_name: () => 'Duniter (g1node test stand-in)',
      system_version: () => '0.0.0-g1node',
      system_health: () => ({ peers: 0, isSyncing: false, shouldHavePeers: false }),
      system_properties: () => ({ ss58Format: this.rt.ss58Format, tokenDecimals: 2, tokenSymbol: this.rt.name === 'g1' ? 'Ğ1' : 'ĞD' }),
      system_accountNextIndex: ([address]) => {
        let id;
        try { id = accountIdOf(address); } catch (e) { throw invalidParams(e.message); }
        return c.nextIndex(id);
      },
      chain_getBlockHash: ([n]) => {
        if (Array.isArray(n)) return n.slice(0, MAX_BATCH).map((x) => c.blockHashAt(this.blockNumberParam(x)));
        return c.blockHashAt(this.blockNumberParam(n));
      },
      chain_getHeader: ([hash]) => { const b = this.blockAt(hash); return b ? c.headerJson(b) : null; },
      chain_getBlock: ([hash]) => {
        const b = this.blockAt(hash);
        return b ? { block: { header: c.headerJson(b), extrinsics: b.extrinsics }, justifications: null } : null;
      },
      chain_getFinalizedHead: () => c.finalizedHash(),
      state_getRuntimeVersion: ([hash]) => { if (hash != null && !this.blockAt(hash)) throw new RpcError(4003, 'Client error: unknown block'); return this.runtimeVersion(); },
      state_getMetadata: () => this.rt.metadataHex,
      state_getStorage: ([key, hash]) => {
        const b = this.blockAt(hash);
        if (!b) throw new RpcError(4003, 'Client error: UnknownBlock: header not found');
        return this.storageAt(key, b);
      },
      payment_queryInfo: ([hex]) => {
        if (typeof hex !== 'string' || !isHex(hex)) throw invalidParams('extrinsic hex expected');
        try { this.rt.decodeExtrinsic(hexToU8a(hex)); } catch (e) { throw new RpcError(-32000, 'Unable to query dispatch info.', String(e.message).slice(0, 200)); }
        return { weight: { refTime: 150000000, proofSize: 3593 }, class: 'normal', partialFee: '0' };
      },
      author_submitExtrinsic: (params, conn) => this.submit(params, conn, false),
      author_pendingExtrinsics: () => [...c.pool.values()].map((t) => t.hex),
      author_submitAndWatchExtrinsic: { ws: true, fn: (params, conn) => this.submit(params, conn, true) },
      author_unwatchExtrinsic: { ws: true, fn: (params, conn) => this.unsubscribe(conn, params) },
      chain_subscribeNewHeads: { ws: true, fn: (p, conn) => this.subscribe(conn, 'newHead', 'chain_newHead', c.headerJson(c.best)) },
      chain_subscribeAllHeads: { ws: true, fn: (p, conn) => this.subscribe(conn, 'newHead', 'chain_allHead', c.headerJson(c.best)) },
      chain_subscribeFinalizedHeads: { ws: true, fn: (p, conn) => this.subscribe(conn, 'finalizedHead', 'chain_finalizedHead', c.headerJson(c.blocks[c.finalizedNumber])) },
      chain_unsubscribeNewHeads: { ws: true, fn: (p, conn) => this.unsubscribe(conn, p) },
      chain_unsubscribeAllHeads: { ws: true, fn: (p, conn) => this.unsubscribe(conn, p) },
      chain_unsubscribeFinalizedHeads: { ws: true, fn: (p, conn) => this.unsubscribe(conn, p) },

      // Test-only methods.
      test_ledger: () => c.ledgerJson(),
      test_pool: () => c.poolJson(),
      test_balance: ([address]) => {
        let id;
        try { id = accountIdOf(address); } catch (e) { throw invalidParams(e.message); }
        const a = c.account(id);
        return { free: a.free <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a.free) : a.free.toString(), nonce: a.nonce };
      },
      test_setBalance: ([address, centimes]) => {
        try { c.setBalance(address, BigInt(centimes)); } catch (e) { throw invalidParams(e.message); }
        return true;
      },
      test_setRuntimeVersion: ([v]) => {
        try { c.setRuntimeVersion(v && typeof v === 'object' ? v : {}); } catch (e) { throw invalidParams(e.message); }
        return this.runtimeVersion();
      },
      test_produceBlock: ([count]) => {
        const n = count === undefined ? 1 : Number(count);
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw invalidParams('count 1..1000');
        let b;
        for (let i = 0; i < n; i++) b = c.produceBlock();
        return b.hash;
      },
      test_fault: ([spec]) => {
        let f;
        try { f = Faults.parse(spec); } catch (e) { throw invalidParams(e.message); }
        this.applyFault(f);
        return true;
      },
    };
    m.chain_getFinalisedHead = m.chain_getFinalizedHead;
    m.state_getStorageAt = m.state_getStorage;
    m.chain_subscribeFinalisedHeads = m.chain_subscribeFinalizedHeads;
    m.chain_unsubscribeFinalisedHeads = m.chain_unsubscribeFinalizedHeads;
    const table = {};
    for (const [name, v] of Object.entries(m)) table[name] = typeof v === 'function' ? { ws: false, fn: v } : v;
    return table;
  }

  applyFault(f) {
    switch (f.mode) {
      case 'refuse': setImmediate(() => this.refuse(f.seconds)); break;
      case 'stall': this.faults.stallUntil = Date.now() + f.seconds * 1000; this.log(`fault: stalled for ${f.seconds}s`); break;
      case 'drop': this.faults.dropCount += f.count; break;
      case 'lose-reply': this.faults.loseReplyCount += f.count; break;
      case 'restart': setTimeout(() => this.onRestart(), 50); break;
      default: throw invalidParams('unknown fault');
    }
  }
}
