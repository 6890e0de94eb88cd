// Helpers for the settlement end-to-end tests (PROTOCOL.md §A–C): a station data
// directory with wallets bound to Nostr keys, a relay running the `reactions` and
// `orders` plugins, receipt queries, and the kinds of the purchase conversation.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRelay, connect, makeEvent, newKey, RELAY_BIN, verifyEvent, now } from './relay.mjs';

export const PASSPHRASE = 'settlement test passphrase';
export const ENV = { G1RELAY_PASSPHRASE: PASSPHRASE };
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `g1relay ARGS` against a data dir; returns stdout (throws on failure). */
export function g1(args, dataDir, { env = {}, input } = {}) {
  return execFileSync(RELAY_BIN, [...args, '--data', dataDir], {
    encoding: 'utf8', env: { ...process.env, ...ENV, ...env }, input, timeout: 120000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** A fresh data directory (removed at exit). */
export function tempDataDir(prefix = 'g1relay-settle-') {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => { try { fs.rmSync(base, { recursive: true, force: true }); } catch { /* ignore */ } });
  const data = path.join(base, 'data');
  fs.mkdirSync(data);
  return { base, data };
}

/** Binds a new random wallet to key.pk; returns its SS58 address. */
export function createWallet(dataDir, key) {
  return g1(['wallet', 'create', '--npub', key.pk], dataDir).trim().split('\n').pop().trim();
}

/** The station pubkey (hex) of a data dir (creates it if needed). */
export function stationPubkey(dataDir) {
  return g1(['station'], dataDir).trim().split('\n')[0];
}

/**
 * Starts a station: wallets for `payers` (keys), then the relay with the settlement
 * plugins. Returns { relay, data, station, address: Map(pk → address), client }.
 */
export async function startStation({ payers = [], config = {}, args = [], dataDir } = {}) {
  const data = dataDir ?? tempDataDir().data;
  const address = new Map();
  for (const k of payers) address.set(k.pk, createWallet(data, k));
  const station = stationPubkey(data);
  const relay = await startRelay({
    dataDir: data, env: ENV, args, cleanup: false, // killed at process exit (after() inside before() would stop it early)
    config: { plugins: ['reactions', 'orders'], ...config },
  });
  const client = await connect(relay.url);
  return { relay, data, station, address, client };
}

/** Receipts (kind 39743) for a settlement key d, as stored now. */
export async function receiptsFor(client, d) {
  return client.query({ kinds: [39743], '#d': [d] });
}

/** Tag helpers on a receipt. */
export const tag = (ev, name) => ev.tags.find((t) => t[0] === name)?.[1];
export const tagsOf = (ev, name) => ev.tags.filter((t) => t[0] === name);
export const status = (ev) => tag(ev, 'status');

/**
 * Waits for the receipt of d whose status satisfies `want` (a status string or a
 * predicate). Returns it. Throws after `timeout` ms with what was seen.
 */
export async function waitReceipt(client, d, want, { timeout = 8000 } = {}) {
  const ok = typeof want === 'function' ? want : (ev) => status(ev) === want;
  const deadline = Date.now() + timeout;
  let last = [];
  while (Date.now() < deadline) {
    last = await receiptsFor(client, d);
    const hit = last.find(ok);
    if (hit) return hit;
    await sleep(100);
  }
  throw new Error(`no receipt for ${d} matching ${want}; got ${JSON.stringify(last.map((e) => e.tags))}`);
}

/** Asserts nothing: returns the receipts of d after waiting `ms` (expect none). */
export async function receiptsAfter(client, d, ms = 800) {
  await sleep(ms);
  return receiptsFor(client, d);
}

/** Checks a receipt's signature and signer. */
export function receiptValid(ev, station) {
  return ev.kind === 39743 && ev.pubkey === station && verifyEvent(ev);
}

export function reaction(key, target, { content = '+', p, tags = [], created_at } = {}) {
  const t = [['e', target.id ?? target], ['p', p ?? target.pubkey ?? key.pk], ...tags];
  return makeEvent(key, { kind: 7, content, tags: t, ...(created_at ? { created_at } : {}) });
}

export function order(customer, merchant, { max, listing, expiration, tags = [], content = 'one jar of honey' } = {}) {
  const t = [['p', merchant.pk ?? merchant]];
  if (listing) t.push(['a', listing]);
  if (max !== undefined) t.push(['max', String(max)]);
  if (expiration !== undefined) t.push(['expiration', String(expiration)]);
  return makeEvent(customer, { kind: 9740, content, tags: [...t, ...tags] });
}

export function paymentRequest(merchant, ord, { amount, ref = 'INV-1', customer, payto, expiration, tags = [], created_at } = {}) {
  const t = [['e', ord.id], ['p', customer ?? ord.pubkey], ['amount', String(amount)], ['ref', ref]];
  if (payto) t.push(['payto', payto]);
  if (expiration !== undefined) t.push(['expiration', String(expiration)]);
  return makeEvent(merchant, { kind: 9741, content: 'thanks', tags: [...t, ...tags], ...(created_at ? { created_at } : {}) });
}

export function authorisation(customer, req, station, { amount } = {}) {
  return makeEvent(customer, {
    kind: 9742, content: '',
    tags: [['e', req.id], ['amount', String(amount ?? req.tags.find((x) => x[0] === 'amount')[1])], ['p', station]],
  });
}

export function profile(key, fields) {
  return makeEvent(key, { kind: 0, content: JSON.stringify({ name: 'x', ...fields }) });
}

export { newKey, makeEvent, now, connect };
