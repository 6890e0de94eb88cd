// Chain state of the test node: accounts, blocks (real blake2b-256 header hashes), per-block
// events (System.Events, SCALE), transaction pool (ready/future by nonce, bans like Substrate's),
// block production, finality lag, the ledger of applied transfers, and persistence to a state file
// so the node can restart keeping its state. Emits 'newHead', 'finalizedHead' and per-transaction
// status updates ('future', 'ready', {inBlock}, {finalized}, 'invalid', 'dropped').
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { blake2AsHex, encodeAddress, decodeAddress } from '@polkadot/util-crypto';
import { u8aConcat, u8aToHex, hexToU8a, compactToU8a, isHex } from '@polkadot/util';
import { validateExtrinsic, eraBirth, ERR } from './validate.mjs';
import { applyCall, Overlay, DispatchError, unsupportedCall } from './dispatch.mjs';

const STATE_VERSION = 2;
const MAX_POOL = 8192;

// Account id (hex) from SS58 (any prefix) or 0x-hex of 32 bytes; throws on anything else.
export function accountIdOf(address) {
  if (typeof address !== 'string' || address.length > 100) throw new Error('address must be a string');
  if (isHex(address)) {
    if (address.length !== 66) throw new Error('hex account id must be 32 bytes');
    return address.toLowerCase();
  }
  const pk = decodeAddress(address);
  if (pk.length !== 32) throw new Error('not a 32-byte account');
  return u8aToHex(pk);
}

const bigJson = (k, v) => (typeof v === 'bigint' ? v.toString() : v);
const numOrString = (b) => (b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString());

export class Chain extends EventEmitter {
  constructor(rt, opts = {}) {
    super();
    this.setMaxListeners(0);
    this.rt = rt;
    this.stateFile = opts.stateFile || null;
    this.finalityLag = opts.finalityLag ?? 2;
    this.maxExtrinsicsPerBlock = opts.maxExtrinsicsPerBlock ?? 1000;
    this.banMs = (opts.banSeconds ?? 1800) * 1000;
    this.includedResubmit = opts.includedResubmit || 'stale'; // or 'banned'
    this.pool = new Map(); // hash -> pooled tx
    this.banned = new Map(); // hash -> until (ms)
    this.poolSeq = 0;
    if (this.stateFile && fs.existsSync(this.stateFile) && fs.statSync(this.stateFile).size > 0) {
      this.load();
    } else {
      this.initGenesis(opts);
      if (this.stateFile) fs.writeFileSync(this.stateFile, '');
      this.persist({ type: 'genesis', version: STATE_VERSION, runtime: this.rt.name, specVersion: this.specVersion, txVersion: this.txVersion, block: this.blocks[0] });
    }
  }

  // ---- genesis and persistence -------------------------------------------------------------

  initGenesis(opts) {
    this.specVersion = opts.specVersion ?? this.rt.version.specVersion;
    this.txVersion = opts.txVersion ?? this.rt.version.transactionVersion;
    this.accounts = new Map();
    for (const [address, centimes] of Object.entries(opts.genesisBalances || {})) {
      const free = BigInt(centimes);
      if (free < 0n) throw new Error(`negative genesis balance for ${address}`);
      if (free > 0n) this.accounts.set(accountIdOf(address), { nonce: 0, free });
    }
    const header = this.rt.createHeader({
      parentHash: new Uint8Array(32), number: 0,
      stateRoot: this.stateRoot(), extrinsicsRoot: blake2AsHex(new Uint8Array(0), 256), digest: { logs: [] },
    });
    // An explicit genesis hash (e.g. the public g1 one, to check a recorded extrinsic) stands in
    // for the hash of this synthetic genesis header.
    const hash = opts.genesisHash ? opts.genesisHash.toLowerCase() : header.hash.toHex();
    const block = { number: 0, hash, header: header.toJSON(), extrinsics: [], eventsHex: u8aToHex(this.rt.encodeEventRecords([])), diff: this.snapshotAccounts() };
    this.blocks = [block];
    this.byHash = new Map([[hash, block]]);
    this.finalizedNumber = 0;
    this.ledger = [];
    this.included = new Map(); // tx hash -> { block, index }
  }

  snapshotAccounts() {
    const out = {};
    for (const [id, a] of this.accounts) out[id] = { nonce: a.nonce, free: a.free.toString() };
    return out;
  }

  stateRoot() {
    const ids = [...this.accounts.keys()].sort();
    return blake2AsHex(JSON.stringify(ids.map((id) => [id, this.accounts.get(id).nonce, this.accounts.get(id).free.toString()])), 256);
  }

  // The state file is a journal, one JSON record per line: genesis, then blocks (with their ledger
  // entries and the finalized number), balance overrides and runtime version changes. Appending
  // keeps each block O(1); a line cut short by a kill is dropped on load.
  persist(record) {
    if (!this.stateFile) return;
    fs.appendFileSync(this.stateFile, `${JSON.stringify(record, bigJson)}\n`);
  }

  load() {
    const text = fs.readFileSync(this.stateFile, 'utf8');
    const lines = text.split('\n');
    let goodBytes = 0;
    const records = [];
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === '') { if (i < lines.length - 1) goodBytes += 1; continue; }
      let rec;
      try { rec = JSON.parse(lines[i]); } catch { break; }
      if (i === lines.length - 1) break; // no newline yet: incomplete write
      records.push(rec);
      goodBytes += Buffer.byteLength(lines[i]) + 1;
    }
    if (goodBytes < Buffer.byteLength(text)) fs.truncateSync(this.stateFile, goodBytes);
    const [genesis, ...rest] = records;
    if (!genesis || genesis.type !== 'genesis' || genesis.version !== STATE_VERSION) throw new Error('state file: no genesis record of this version');
    if (genesis.runtime !== this.rt.name) throw new Error(`state file is for runtime ${genesis.runtime}`);
    this.specVersion = genesis.specVersion;
    this.txVersion = genesis.txVersion;
    this.blocks = [];
    this.byHash = new Map();
    this.accounts = new Map();
    this.included = new Map();
    this.ledger = [];
    this.finalizedNumber = 0;
    this.replayBlock(genesis.block);
    for (const rec of rest) {
      if (rec.type === 'block') {
        this.replayBlock(rec.block);
        for (const e of rec.ledger) this.ledger.push({ ...e, amount: BigInt(e.amount) });
        this.finalizedNumber = rec.finalized;
      } else if (rec.type === 'balance') {
        this.applyBalance(rec.id, BigInt(rec.free));
      } else if (rec.type === 'runtime') {
        this.specVersion = rec.specVersion;
        this.txVersion = rec.txVersion;
      } else {
        throw new Error(`state file: unknown record ${rec.type}`);
      }
    }
  }

  replayBlock(b) {
    if (b.number !== this.blocks.length) throw new Error(`state file: block ${b.number} out of order`);
    this.blocks.push(b);
    this.byHash.set(b.hash, b);
    for (const [id, a] of Object.entries(b.diff)) {
      if (BigInt(a.free) === 0n) this.accounts.delete(id);
      else this.accounts.set(id, { nonce: a.nonce, free: BigInt(a.free) });
    }
    b.extrinsics.forEach((x, index) => { if (index > 0) this.included.set(blake2AsHex(hexToU8a(x), 256), { block: b.number, index }); });
  }

  // ---- read access ---------------------------------------------------------------------------

  get best() { return this.blocks[this.blocks.length - 1]; }
  get bestNumber() { return this.best.number; }
  get genesisHash() { return this.blocks[0].hash; }
  blockHashAt(n) { return this.blocks[n] ? this.blocks[n].hash : null; }
  blockByHash(hash) { return this.byHash.get(String(hash).toLowerCase()) || null; }
  finalizedHash() { return this.blocks[this.finalizedNumber].hash; }
  account(id) { return this.accounts.get(id) || { nonce: 0, free: 0n }; }

  // Account state as of block `number` (replays the per-block diffs backwards).
  accountAt(id, number) {
    for (let n = number; n >= 0; n--) {
      const d = this.blocks[n].diff[id];
      if (d) return { nonce: d.nonce, free: BigInt(d.free) };
    }
    return { nonce: 0, free: 0n };
  }

  // Chain view used by validation (the block being built is best + 1).
  view() {
    return {
      genesisHash: this.genesisHash, specVersion: this.specVersion, txVersion: this.txVersion,
      bestNumber: this.bestNumber, blockHashAt: (n) => this.blockHashAt(n), account: (id) => this.account(id),
    };
  }

  // Next nonce as system_accountNextIndex: account nonce followed by the sender's ready pool txs.
  nextIndex(id) {
    let nonce = this.account(id).nonce;
    const mine = new Set([...this.pool.values()].filter((t) => t.signerHex === id).map((t) => t.nonce));
    while (mine.has(nonce)) nonce++;
    return nonce;
  }

  // ---- transaction pool ----------------------------------------------------------------------

  isBanned(hash) {
    const until = this.banned.get(hash);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.banned.delete(hash);
    return false;
  }
  ban(hash) { if (this.banMs > 0) this.banned.set(hash, Date.now() + this.banMs); }

  // Submit an extrinsic. Returns { hash, status } or { error }. opts.shouldDrop(): called once the
  // transaction is accepted; true = answer as accepted but never include it (fault injection).
  submit(hex, opts = {}) {
    const hash = typeof hex === 'string' && isHex(hex) ? blake2AsHex(hexToU8a(hex), 256) : null;
    if (hash && this.pool.has(hash)) return { error: ERR.alreadyImported(hash) };
    if (hash && this.included.has(hash)) {
      // Real pools answer 1012 while the included hash is banned (single-state pool) or 1010 stale
      // (the nonce is spent); BRIEF §4 reports stale for Duniter, the default here.
      return { error: this.includedResubmit === 'banned' ? ERR.banned : ERR.stale };
    }
    if (hash && this.isBanned(hash)) return { error: ERR.banned };
    const v = validateExtrinsic(this.rt, this.view(), hex);
    if (v.error) { if (v.hash) this.ban(v.hash); return { error: v.error }; }
    const tx = v.tx;
    const bad = unsupportedCall(this.rt, tx.call);
    if (bad) { this.ban(tx.hash); return { error: ERR.call, unsupported: bad }; }
    for (const other of this.pool.values()) {
      if (other.signerHex === tx.signerHex && other.nonce === tx.nonce) return { error: ERR.tooLowPriority(0, 0) };
    }
    if (this.pool.size >= MAX_POOL) return { error: { code: 1016, message: 'Immediately Dropped', data: "The transaction couldn't enter the pool because of the limit" } };
    tx.seq = ++this.poolSeq;
    tx.specVersion = this.specVersion;
    tx.txVersion = this.txVersion;
    tx.status = tx.nonce === this.nextIndex(tx.signerHex) ? 'ready' : 'future';
    if (opts.shouldDrop && opts.shouldDrop()) return { hash: tx.hash, status: tx.status, dropped: true };
    this.pool.set(tx.hash, tx);
    this.promoteFutures();
    return { hash: tx.hash, status: tx.status };
  }

  promoteFutures() {
    for (const tx of this.pool.values()) {
      if (tx.status === 'future' && this.readyNonces(tx.signerHex).has(tx.nonce)) {
        tx.status = 'ready';
        this.emit('txStatus', tx.hash, 'ready');
      }
    }
  }

  readyNonces(id) {
    const ready = new Set();
    const mine = new Map([...this.pool.values()].filter((t) => t.signerHex === id).map((t) => [t.nonce, t]));
    for (let n = this.account(id).nonce; mine.has(n); n++) ready.add(n);
    return ready;
  }

  removeFromPool(tx, status) {
    this.pool.delete(tx.hash);
    this.ban(tx.hash);
    this.emit('txStatus', tx.hash, status);
  }

  // ---- block production ----------------------------------------------------------------------

  timestampInherent(now) {
    const call = u8aConcat(new Uint8Array(this.rt.callIndex('Timestamp', 'set')), compactToU8a(now));
    const body = u8aConcat([0x04], call);
    return u8aToHex(u8aConcat(compactToU8a(body.length), body));
  }

  dispatchInfo(klass, paysFee) {
    return { weight: { refTime: 150_000_000, proofSize: 3593 }, class: klass, paysFee };
  }

  // Pool transactions to include now, in nonce order per sender and submission order across senders.
  selectTransactions(number) {
    const bySender = new Map();
    for (const tx of [...this.pool.values()].sort((a, b) => a.seq - b.seq)) {
      if (tx.era && eraBirth(tx.era, number) !== tx.birth) { this.removeFromPool(tx, 'invalid'); continue; }
      if (tx.specVersion !== this.specVersion || tx.txVersion !== this.txVersion) {
        // Runtime upgraded under the pooled transaction: revalidate it like the pool does.
        const v = validateExtrinsic(this.rt, this.view(), tx.hex);
        if (v.error) { this.removeFromPool(tx, 'invalid'); continue; }
        tx.specVersion = this.specVersion; tx.txVersion = this.txVersion;
      }
      if (tx.nonce < this.account(tx.signerHex).nonce) { this.removeFromPool(tx, 'invalid'); continue; }
      if (!bySender.has(tx.signerHex)) bySender.set(tx.signerHex, new Map());
      bySender.get(tx.signerHex).set(tx.nonce, tx);
    }
    const chosen = [];
    for (const [id, txs] of bySender) {
      for (let n = this.account(id).nonce; txs.has(n) && chosen.length < this.maxExtrinsicsPerBlock; n++) chosen.push(txs.get(n));
    }
    return chosen.sort((a, b) => a.seq - b.seq || a.nonce - b.nonce);
  }

  produceBlock(now = Date.now()) {
    const number = this.bestNumber + 1;
    const chosen = this.selectTransactions(number);
    const state = new Overlay(this.accounts);
    const extrinsics = [this.timestampInherent(now)];
    const records = [this.rt.eventRecord({ applyExtrinsic: 0 }, this.rt.encodeEvent('System', 'ExtrinsicSuccess', { dispatch_info: this.dispatchInfo('Mandatory', 'Yes') }))];
    const applied = [];
    // Apply in submission order, but each sender's transactions in nonce order: take, round after
    // round, every transaction whose nonce is the sender's current one.
    const pending = [...chosen];
    for (let progress = true; progress && pending.length;) {
      progress = false;
      for (let i = 0; i < pending.length; i++) {
        const tx = pending[i];
        const sender = state.get(tx.signerHex);
        if (tx.nonce !== sender.nonce || sender.free === 0n) continue;
        pending.splice(i--, 1);
        progress = true;
        const index = extrinsics.length;
        state.set(tx.signerHex, { ...sender, nonce: sender.nonce + 1 });
        const txState = new Overlay(state);
        const ctx = { events: [], transfers: [] };
        let error = null;
        try {
          applyCall(this.rt, ctx, txState, tx.signerHex, tx.call);
          txState.commit();
        } catch (e) {
          if (!(e instanceof DispatchError)) throw e;
          error = e;
        }
        const phase = { applyExtrinsic: index };
        const events = error ? [] : ctx.events;
        events.push(this.rt.encodeEvent('TransactionPayment', 'TransactionFeePaid', { who: tx.signerHex, actual_fee: 0, tip: tx.tip }));
        events.push(error
          ? this.rt.encodeEvent('System', 'ExtrinsicFailed', { dispatch_error: error.value, dispatch_info: this.dispatchInfo('Normal', 'Yes') })
          : this.rt.encodeEvent('System', 'ExtrinsicSuccess', { dispatch_info: this.dispatchInfo('Normal', 'Yes') }));
        for (const ev of events) records.push(this.rt.eventRecord(phase, ev));
        extrinsics.push(tx.hex);
        applied.push({ tx, index, error, transfers: error ? [] : ctx.transfers });
      }
    }

    const diff = {};
    for (const [id, a] of state.changes) diff[id] = { nonce: a.nonce, free: a.free.toString() };
    state.commit();
    for (const [id, a] of [...this.accounts]) if (a.free === 0n) this.accounts.delete(id);

    const parent = this.best;
    const header = this.rt.createHeader({
      parentHash: parent.hash, number, stateRoot: this.stateRoot(),
      extrinsicsRoot: blake2AsHex(u8aConcat(...extrinsics.map((x) => hexToU8a(x))), 256), digest: { logs: [] },
    });
    const hash = header.hash.toHex();
    const block = { number, hash, header: header.toJSON(), extrinsics, eventsHex: u8aToHex(this.rt.encodeEventRecords(records)), diff };
    this.blocks.push(block);
    this.byHash.set(hash, block);
    const ledgerStart = this.ledger.length;
    for (const a of applied) {
      this.pool.delete(a.tx.hash);
      this.ban(a.tx.hash);
      this.included.set(a.tx.hash, { block: number, index: a.index });
      for (const t of a.transfers) {
        this.ledger.push({
          from: encodeAddress(t.from, this.rt.ss58Format), to: encodeAddress(t.to, this.rt.ss58Format),
          amount: t.amount, block: number, blockHash: hash, extrinsicHash: a.tx.hash, extrinsicIndex: a.index,
        });
      }
    }
    const newlyFinal = [];
    const finalTarget = Math.max(0, number - this.finalityLag);
    for (let n = this.finalizedNumber + 1; n <= finalTarget; n++) newlyFinal.push(this.blocks[n]);
    this.finalizedNumber = Math.max(this.finalizedNumber, finalTarget);
    this.persist({ type: 'block', block, ledger: this.ledger.slice(ledgerStart), finalized: this.finalizedNumber });

    this.emit('newHead', this.headerJson(block));
    for (const a of applied) this.emit('txStatus', a.tx.hash, { inBlock: hash });
    this.promoteFutures();
    for (const b of newlyFinal) {
      this.emit('finalizedHead', this.headerJson(b));
      b.extrinsics.forEach((x, i) => { if (i > 0) this.emit('txStatus', blake2AsHex(hexToU8a(x), 256), { finalized: b.hash }); });
    }
    return block;
  }

  headerJson(block) {
    const h = block.header;
    return {
      parentHash: h.parentHash, number: `0x${block.number.toString(16)}`,
      stateRoot: h.stateRoot, extrinsicsRoot: h.extrinsicsRoot, digest: { logs: h.digest.logs || [] },
    };
  }

  // ---- test-only helpers ---------------------------------------------------------------------

  setBalance(address, centimes) {
    const id = accountIdOf(address);
    const free = BigInt(centimes);
    if (free < 0n || free >= 1n << 64n) throw new Error('balance out of range');
    this.applyBalance(id, free);
    this.persist({ type: 'balance', id, free });
  }

  // Balance override, recorded in the best block's diff so reads at that block see it.
  applyBalance(id, free) {
    const nonce = free === 0n ? 0 : this.account(id).nonce;
    if (free === 0n) this.accounts.delete(id); else this.accounts.set(id, { nonce, free });
    this.best.diff[id] = { nonce, free: free.toString() };
  }

  setRuntimeVersion({ specVersion, transactionVersion }) {
    for (const v of [specVersion, transactionVersion]) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new Error('versions are u32 integers');
    }
    if (specVersion !== undefined) this.specVersion = Number(specVersion);
    if (transactionVersion !== undefined) this.txVersion = Number(transactionVersion);
    this.persist({ type: 'runtime', specVersion: this.specVersion, txVersion: this.txVersion });
  }

  ledgerJson() { return this.ledger.map((e) => ({ ...e, amount: numOrString(e.amount) })); }

  poolJson() {
    return [...this.pool.values()].map((t) => ({ hash: t.hash, signer: encodeAddress(t.signerHex, this.rt.ss58Format), nonce: t.nonce, status: t.status }));
  }
}

