#!/usr/bin/env node
// A shop bot for a g1relay station (PROTOCOL.md §B), with nostr-tools:
//   1. publishes a NIP-99 listing (kind 30402) with its price;
//   2. answers every order (kind 9740 naming it) with a payment request (kind 9741:
//      e order, p customer, amount in centimes, ref);
//   3. watches the station's receipts (kind 39743 naming it as payee) and ships
//      (a kind 1 note to the customer) when the payment is `finalized`.
//
//   node scripts/shop_bot.mjs --relay ws://127.0.0.1:7777 [--key HEX_SECRET]
//        [--title "Jar of honey"] [--price 2500] [--station HEX_PUBKEY]
//
// The secret key is read from --key or SHOP_BOT_KEY (a new one is made and printed
// if neither is given: bind a station wallet to its pubkey, or publish a kind 0
// with your g1v2 address, to be paid). Dependencies come from tests/node_modules.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { finalizeEvent, getPublicKey, generateSecretKey, verifyEvent } = require('nostr-tools/pure');
const WebSocket = require('ws');

const hexToBytes = (h) => Uint8Array.from(h.match(/../g).map((x) => parseInt(x, 16)));
const bytesToHex = (b) => Buffer.from(b).toString('hex');
const tag = (ev, name) => ev.tags.find((t) => t[0] === name)?.[1];

/**
 * Runs the bot until stop() is called. Options: relayUrl, sk (Uint8Array), title,
 * price (centimes), station (hex pubkey whose receipts are trusted; default: the
 * relay's NIP-11 `self`), log (function of one line). Returns { pk, stop, listing }.
 */
export async function runShopBot({ relayUrl, sk, title = 'Jar of honey', price = 2500, station, log = console.log }) {
  const pk = getPublicKey(sk);
  if (!station) {
    const info = await fetch(relayUrl.replace(/^ws/, 'http'), { headers: { Accept: 'application/nostr+json' } });
    station = (await info.json()).self;
  }
  const requests = new Map(); // payment request id -> { order, customer }
  const shipped = new Set();
  let invoice = 0;
  let ws;
  let stopped = false;
  const send = (msg) => { if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); };
  const publish = (tmpl) => {
    const ev = finalizeEvent({ created_at: Math.floor(Date.now() / 1000), content: '', tags: [], ...tmpl }, sk);
    send(['EVENT', ev]);
    return ev;
  };
  const listing = finalizeEvent({
    kind: 30402, created_at: Math.floor(Date.now() / 1000), content: `${title}, paid in Ğ1 through this relay.`,
    tags: [['d', 'listing-1'], ['title', title], ['price', (price / 100).toFixed(2), 'G1']],
  }, sk);

  function onOrder(o) {
    if (!verifyEvent(o) || tag(o, 'p') !== pk) return;
    if ([...requests.values()].some((r) => r.order === o.id)) return; // answered already (replays)
    invoice++;
    const ref = `INV-${invoice}`;
    const req = publish({
      kind: 9741, content: `Thank you! ${title}: ${(price / 100).toFixed(2)} Ğ1.`,
      tags: [['e', o.id], ['p', o.pubkey], ['amount', String(price)], ['ref', ref]],
    });
    requests.set(req.id, { order: o.id, customer: o.pubkey, ref });
    log(`shop: order ${o.id.slice(0, 8)} from ${o.pubkey.slice(0, 8)} → payment request ${ref} for ${price} centimes`);
  }

  function onReceipt(r) {
    if (r.pubkey !== station || !verifyEvent(r)) return;
    const d = tag(r, 'd');
    const req = requests.get(d);
    if (!req) return;
    const st = tag(r, 'status');
    log(`shop: receipt for ${req.ref}: ${st}${tag(r, 'reason') ? ' (' + tag(r, 'reason') + ')' : ''}`);
    if (st === 'finalized' && !shipped.has(d)) {
      shipped.add(d);
      publish({ kind: 1, content: `Shipped: ${title} (${req.ref}). Thank you!`, tags: [['e', req.order], ['p', req.customer]] });
      log(`shop: shipped ${req.ref} to ${req.customer.slice(0, 8)}`);
    }
  }

  function connect() {
    if (stopped) return;
    ws = new WebSocket(relayUrl);
    ws.on('open', () => {
      send(['EVENT', listing]);
      send(['REQ', 'orders', { kinds: [9740], '#p': [pk] }]);
      send(['REQ', 'receipts', { kinds: [39743], '#p': [pk], authors: [station] }]);
    });
    ws.on('message', (data) => {
      let m;
      try { m = JSON.parse(data.toString()); } catch { return; }
      if (m[0] !== 'EVENT') return;
      if (m[1] === 'orders') onOrder(m[2]);
      else if (m[1] === 'receipts') onReceipt(m[2]);
    });
    ws.on('close', () => { if (!stopped) setTimeout(connect, 1000); }); // reconnect: orders are re-read, replays ignored
    ws.on('error', () => {});
  }
  // Requests already sent in earlier runs are found again on the relay: the bot
  // answers each order once per run; a restarted bot may ask again (the station
  // settles each payment request id once, and the customer pays only once per order
  // if it authorises a single request).
  connect();
  return { pk, listing, stop: () => { stopped = true; ws?.close(); } };
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, def) => { const i = args.indexOf('--' + name); return i >= 0 ? args[i + 1] : def; };
  if (args.includes('--help')) {
    console.log('usage: node scripts/shop_bot.mjs --relay URL [--key HEX] [--title T] [--price CENTIMES] [--station HEX]');
    return;
  }
  const keyHex = opt('key', process.env.SHOP_BOT_KEY);
  const sk = keyHex ? hexToBytes(keyHex) : generateSecretKey();
  if (!keyHex) console.log(`shop: new key ${bytesToHex(sk)} (keep it: --key)`);
  const bot = await runShopBot({
    relayUrl: opt('relay', 'ws://127.0.0.1:7777'), sk, title: opt('title', 'Jar of honey'),
    price: Number(opt('price', '2500')), station: opt('station'),
  });
  console.log(`shop: pubkey ${bot.pk}, listing ${bot.listing.id}`);
  process.on('SIGINT', () => { bot.stop(); process.exit(0); });
}

if (import.meta.url === `file://${process.argv[1]}`) main();
