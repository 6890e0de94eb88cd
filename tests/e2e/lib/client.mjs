// A small Nostr client over `ws` for the end-to-end tests: sends raw frames, records
// every message the relay sends (parsed), and waits for the NIP-01 answers.
// See lib/relay.mjs for the overview of the helper library.
import WebSocket from 'ws';
import { randomHex, lenientParse, authEvent } from './events.mjs';

/** Multiplier for every wait, for slow builds (sanitizers): env G1_E2E_TIME_FACTOR (default 1). */
export const TIME_FACTOR = Math.max(1, Number(process.env.G1_E2E_TIME_FACTOR) || 1);
const DEFAULT_TIMEOUT = 5000; // scaled by TIME_FACTOR where used

/**
 * Opens a WebSocket to `url` and resolves to a RelayClient once open.
 * Options: timeout (ms), headers, origin, maxPayload.
 */
export function connect(url, { timeout = DEFAULT_TIMEOUT, headers, maxPayload = 256 * 1024 * 1024 } = {}) {
  timeout *= TIME_FACTOR;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, maxPayload, perMessageDeflate: false, handshakeTimeout: timeout });
    const client = new RelayClient(ws, url);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${url}: timeout`)); }, timeout);
    ws.once('open', () => { clearTimeout(timer); resolve(client); });
    ws.once('error', (e) => { clearTimeout(timer); reject(new Error(`connect ${url}: ${e.message}`)); });
  });
}

/** Returns a short description of a message for assertion output. */
export const show = (m) => {
  const s = JSON.stringify(m);
  return s && s.length > 300 ? s.slice(0, 300) + '…' : s;
};

const openClients = new Set();

/** Closes every client still open (used by the end-of-file hook in lib/relay.mjs). */
export function closeAllClients() {
  for (const c of openClients) { try { c.ws.terminate(); } catch { /* gone */ } }
  openClients.clear();
}

export class RelayClient {
  constructor(ws, url) {
    openClients.add(this);
    this.ws = ws;
    this.url = url;
    /** Every message received, in order: parsed arrays; {unparsable: text}; {binary: Buffer}. */
    this.messages = [];
    this.waiters = new Set();
    this.closed = false;
    this.closeCode = null;
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        openClients.delete(this);
        this.closed = true;
        this.closeCode = code;
        this.closeReason = reason?.toString();
        for (const w of this.waiters) w.check();
        resolve(code);
      });
    });
    ws.on('error', (e) => { this.lastError = e; });
    ws.on('message', (data, isBinary) => {
      let msg;
      if (isBinary) msg = { binary: data };
      else {
        const text = data.toString('utf8');
        try { msg = JSON.parse(text); } catch {
          try { msg = lenientParse(text); msg.lenient = true; } catch { msg = { unparsable: text }; }
        }
      }
      this.messages.push(msg);
      for (const w of this.waiters) w.check();
    });
  }

  /** Index to pass as `from` to only consider messages received after now. */
  mark() { return this.messages.length; }

  /** Sends a raw text frame: a string as is, anything else JSON.stringify'd. */
  send(msg) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg), { binary: false });
  }

  /** Sends a binary frame. */
  sendBinary(buf) { this.ws.send(buf, { binary: true }); }

  /**
   * Resolves with the first message (from index `from`) satisfying pred; rejects after
   * `timeout` ms or when the connection closes first.
   */
  waitFor(pred, { timeout = DEFAULT_TIMEOUT, from = 0, what = 'message' } = {}) {
    timeout *= TIME_FACTOR;
    return new Promise((resolve, reject) => {
      let idx = from;
      const w = {
        check: () => {
          for (; idx < this.messages.length; idx++) {
            if (pred(this.messages[idx])) { done(); resolve(this.messages[idx]); return; }
          }
          if (this.closed) { done(); reject(new Error(`waiting for ${what}: connection closed (code ${this.closeCode}); got ${this.recent()}`)); }
        },
      };
      const timer = setTimeout(() => { done(); reject(new Error(`waiting for ${what}: timeout after ${timeout} ms; got ${this.recent()}`)); }, timeout);
      const done = () => { clearTimeout(timer); this.waiters.delete(w); };
      this.waiters.add(w);
      w.check();
    });
  }

  /** Waits `ms` and returns the messages (from `from`) satisfying pred (expected: none). */
  async collectFor(pred, ms, from = 0) {
    await new Promise((r) => setTimeout(r, ms));
    return this.messages.slice(from).filter(pred);
  }

  /** Last few messages, for error output. */
  recent(n = 5) { return this.messages.slice(-n).map(show).join(' | ') || '(nothing)'; }

  /** ["EVENT", ev] → waits for ["OK", ev.id, …]; returns {ok, message, raw}. */
  async publish(ev, { timeout = DEFAULT_TIMEOUT, id = ev?.id } = {}) {
    const from = this.mark();
    this.send(['EVENT', ev]);
    const m = await this.waitFor((x) => Array.isArray(x) && x[0] === 'OK' && x[1] === id,
      { timeout, from, what: `OK for ${id}` });
    return { ok: m[2], message: m[3], raw: m };
  }

  /** Sends all events at once (pipelined) and waits for every OK; returns [{ok, message}] in order. */
  async publishMany(events, { timeout = 30000 } = {}) {
    const from = this.mark();
    const pending = events.map((ev) => this.waitFor(
      (x) => Array.isArray(x) && x[0] === 'OK' && x[1] === ev.id, { timeout, from, what: `OK for ${ev.id}` }));
    for (const ev of events) this.send(['EVENT', ev]);
    return (await Promise.all(pending)).map((m) => ({ ok: m[2], message: m[3], raw: m }));
  }

  /**
   * ["REQ", subid, ...filters] → collects EVENTs for subid until EOSE or CLOSED.
   * Returns {events, end} where end is the EOSE or CLOSED message. The subscription
   * stays open after EOSE (send close(subid) to end it).
   */
  async reqEnd(subid, ...filters) {
    const opts = filters.at(-1)?.__opts ? filters.pop() : {};
    const from = this.mark();
    this.send(['REQ', subid, ...filters]);
    const end = await this.waitFor((x) => Array.isArray(x) && (x[0] === 'EOSE' || x[0] === 'CLOSED') && x[1] === subid,
      { timeout: opts.timeout ?? DEFAULT_TIMEOUT, from, what: `EOSE/CLOSED for ${subid}` });
    const endIdx = this.messages.indexOf(end, from);
    const events = this.messages.slice(from, endIdx)
      .filter((x) => Array.isArray(x) && x[0] === 'EVENT' && x[1] === subid).map((x) => x[2]);
    return { events, end, endIndex: endIdx };
  }

  /** Like reqEnd but returns the events only, and throws if the relay answered CLOSED. */
  async req(subid, ...filters) {
    const { events, end } = await this.reqEnd(subid, ...filters);
    if (end[0] !== 'EOSE') throw new Error(`REQ ${subid}: expected EOSE, got ${show(end)}`);
    return events;
  }

  /** One-shot query: REQ with a fresh subid, wait for EOSE, CLOSE it; returns the events. */
  async query(...filters) {
    const subid = 'q' + randomHex(3); // short: relays may limit subscription id length
    const events = await this.req(subid, ...filters);
    this.close(subid);
    return events;
  }

  /** Live events for subid received after message index `from` (e.g. reqEnd's endIndex). */
  liveEvents(subid, from) {
    return this.messages.slice(from).filter((x) => Array.isArray(x) && x[0] === 'EVENT' && x[1] === subid).map((x) => x[2]);
  }

  /** Waits for a live EVENT on subid satisfying pred (default: any) after index from. */
  waitEvent(subid, pred = () => true, { timeout = DEFAULT_TIMEOUT, from = 0 } = {}) {
    return this.waitFor((x) => Array.isArray(x) && x[0] === 'EVENT' && x[1] === subid && pred(x[2]),
      { timeout, from, what: `EVENT on ${subid}` }).then((x) => x[2]);
  }

  /** ["COUNT", subid, ...filters] → resolves with the COUNT or CLOSED message. */
  countEnd(subid, ...filters) {
    const from = this.mark();
    this.send(['COUNT', subid, ...filters]);
    return this.waitFor((x) => Array.isArray(x) && (x[0] === 'COUNT' || x[0] === 'CLOSED') && x[1] === subid,
      { from, what: `COUNT/CLOSED for ${subid}` });
  }

  /** COUNT → the number (throws on CLOSED or malformed answer). */
  async count(subid, ...filters) {
    const m = await this.countEnd(subid, ...filters);
    if (m[0] !== 'COUNT' || typeof m[2]?.count !== 'number') throw new Error(`COUNT ${subid}: got ${show(m)}`);
    return m[2].count;
  }

  /** ["CLOSE", subid] (no answer expected). */
  close(subid) { this.send(['CLOSE', subid]); }

  /** Waits for the relay's ["AUTH", challenge] (NIP-42) and returns the challenge. */
  async challenge({ timeout = DEFAULT_TIMEOUT } = {}) {
    const m = await this.waitFor((x) => Array.isArray(x) && x[0] === 'AUTH' && typeof x[1] === 'string',
      { timeout, what: 'AUTH challenge' });
    return m[1];
  }

  /** Answers the challenge with a kind 22242 event; returns {ok, message, event}.
   * Options override challenge, relay URL (default: this.url) and created_at. */
  async auth(key, { challenge, relay = this.url, created_at } = {}) {
    const ch = challenge ?? await this.challenge();
    const ev = authEvent(key, ch, relay, created_at);
    const from = this.mark();
    this.send(['AUTH', ev]);
    const m = await this.waitFor((x) => Array.isArray(x) && x[0] === 'OK' && x[1] === ev.id,
      { from, what: `OK for AUTH ${ev.id}` });
    return { ok: m[2], message: m[3], event: ev, raw: m };
  }

  /** Checks the connection still answers: a REQ for a random id must end with EOSE. */
  async assertAlive(label = 'connection') {
    const subid = 'a' + randomHex(3);
    const { end } = await this.reqEnd(subid, { ids: [randomHex()] }).catch((e) => {
      throw new Error(`${label} is not usable any more: ${e.message}`);
    });
    if (end[0] !== 'EOSE') throw new Error(`${label}: liveness REQ answered ${show(end)}`);
    this.close(subid);
  }

  /** Closes the WebSocket politely and waits (bounded) for the close. */
  async end(timeout = 2000) {
    if (this.closed) return;
    try { this.ws.close(); } catch { /* already closing */ }
    await Promise.race([this.closedPromise, new Promise((r) => setTimeout(r, timeout))]);
    if (!this.closed) this.ws.terminate();
  }

  /** Drops the TCP connection without a close handshake. */
  terminate() { this.ws.terminate(); }
}

/** Marker for an options object passed last to reqEnd: reqEnd(id, f1, opts({timeout})) */
export const opts = (o) => ({ ...o, __opts: true });
