#!/usr/bin/env node
// Demo of Ğ1 settlement over Nostr: starts the test Ğ1 node (tests/g1node), a
// g1relay station with the `reactions` and `orders` plugins, the shop bot
// (scripts/shop_bot.mjs), a customer and two likers, then prints the conversation
// and the station's receipts in plain words, and the balances at the end.
//
//   node scripts/demo_settlement.mjs [--bin ./g1relay]
//
// Everything runs on loopback in a temporary directory, removed at the end.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { NodeProcess } from '../tests/g1node/client.mjs';
import { runShopBot } from './shop_bot.mjs';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { finalizeEvent, getPublicKey, generateSecretKey, verifyEvent } = require('nostr-tools/pure');
const WebSocket = require('ws');

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argBin = process.argv.indexOf('--bin');
const BIN = argBin > 0 ? process.argv[argBin + 1] : process.env.G1RELAY_BIN || path.join(repo, 'g1relay');
const PASS = 'demo passphrase';
const env = { ...process.env, G1RELAY_PASSPHRASE: PASS };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = (ev, name) => ev.tags.find((t) => t[0] === name)?.[1];
const g1 = (n) => `${(n / 100).toFixed(2)} Ğ1`;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

function person(name) {
  const sk = generateSecretKey();
  return { name, sk, pk: getPublicKey(sk) };
}

/** A small client: publish, subscribe, wait. */
async function client(url) {
  const ws = new WebSocket(url);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const subs = new Map();
  const oks = new Map();
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m[0] === 'EVENT' && subs.has(m[1])) subs.get(m[1])(m[2]);
    if (m[0] === 'OK' && oks.has(m[1])) { oks.get(m[1])(m); oks.delete(m[1]); }
  });
  return {
    publish: (who, tmpl) => new Promise((resolve) => {
      const ev = finalizeEvent({ created_at: Math.floor(Date.now() / 1000), content: '', tags: [], ...tmpl }, who.sk);
      oks.set(ev.id, () => resolve(ev));
      ws.send(JSON.stringify(['EVENT', ev]));
    }),
    sub: (id, filter, fn) => { subs.set(id, fn); ws.send(JSON.stringify(['REQ', id, filter])); },
    close: () => ws.close(),
  };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-demo-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  const cleanup = [];
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    console.log('Starting the test Ğ1 node (1 block every 500 ms)…');
    const node = new NodeProcess({ blockMs: 500, finalityLag: 2, dir: path.join(dir, 'node') });
    fs.mkdirSync(node.dir);
    await node.start();
    cleanup.push(() => node.stop());

    const alice = person('Alice (customer)'), bob = person('Bob (liker)'), carol = person('Carol (liker)');
    const shop = person('the honey shop (bot)');
    const names = new Map([alice, bob, carol, shop].map((p) => [p.pk, p.name]));
    const addr = new Map();
    for (const p of [alice, bob, carol, shop]) {
      addr.set(p.pk, execFileSync(BIN, ['wallet', 'create', '--npub', p.pk, '--data', data], { env, encoding: 'utf8' }).trim());
    }
    for (const p of [alice, bob, carol]) await node.rpc('test_setBalance', [addr.get(p.pk), 10000]);
    await node.rpc('test_setBalance', [addr.get(shop.pk), 100]);
    const station = execFileSync(BIN, ['station', '--data', data], { env, encoding: 'utf8' }).split('\n')[0];

    const port = await freePort();
    const relay = spawn(BIN, ['run', '--port', String(port), '--data', data, '--log-level', 'warn',
      '--set', 'plugins=["reactions","orders"]', '--set', `g1_nodes=["${node.url}"]`,
      '--set', 'batch_window_ms=300', '--set', 'settlement_poll_ms=200'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    cleanup.push(() => relay.kill('SIGTERM'));
    const url = `ws://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) { try { await client(url).then((c) => c.close()); break; } catch { await sleep(100); } }
    console.log(`Station ${station.slice(0, 12)}… listening on ${url}\n`);

    const bot = await runShopBot({ relayUrl: url, sk: shop.sk, title: 'Jar of honey', price: 2500, station,
      log: (line) => console.log('  ' + line) });
    cleanup.push(() => bot.stop());

    const c = await client(url);
    const done = new Map(); // receipt d -> resolve on finalized
    const seen = new Set();
    c.sub('receipts', { kinds: [39743], authors: [station] }, (r) => {
      if (!verifyEvent(r)) return;
      const key = `${tag(r, 'd')} ${tag(r, 'status')}`;
      if (seen.has(key)) return;
      seen.add(key);
      const payer = r.tags.find((t) => t[0] === 'p' && t[3] === 'payer')?.[1];
      const payee = r.tags.find((t) => t[0] === 'p' && t[3] === 'payee')?.[1];
      const st = tag(r, 'status');
      let line = `  station: ${names.get(payer)} → ${names.get(payee)}, ${g1(Number(tag(r, 'amount')))}: ${st}`;
      if (tag(r, 'tx') && st === 'submitted') line += ` (extrinsic ${tag(r, 'tx').slice(0, 12)}…)`;
      const block = r.tags.find((t) => t[0] === 'block');
      if (block && st === 'included') line += ` in block ${block[1]}`;
      if (tag(r, 'reason')) line += ` (${tag(r, 'reason')})`;
      if (st === 'duplicate') line += ' (already liked this post: nothing moves)';
      console.log(line);
      if (['finalized', 'failed', 'refused', 'cancelled', 'duplicate'].includes(st)) done.get(tag(r, 'd'))?.(st);
    });
    const finalOf = (d) => new Promise((r) => done.set(d, r));

    console.log('1. A purchase');
    const listing = await new Promise((resolve) => c.sub('listing', { kinds: [30402], authors: [shop.pk] }, resolve));
    console.log(`  ${alice.name} sees the listing "${tag(listing, 'title')}" at ${tag(listing, 'price')} Ğ1`);
    const shipped = new Promise((resolve) => c.sub('shipping', { kinds: [1], authors: [shop.pk], '#p': [alice.pk] }, resolve));
    const requestSeen = new Promise((resolve) => c.sub('requests', { kinds: [9741], authors: [shop.pk], '#p': [alice.pk] }, resolve));
    const o = await c.publish(alice, { kind: 9740, content: 'One jar please, to the market stall.',
      tags: [['p', shop.pk], ['a', `30402:${shop.pk}:listing-1`], ['max', '3000']] });
    console.log(`  ${alice.name} orders it, spending at most ${g1(3000)} (order ${o.id.slice(0, 8)})`);
    const req = await requestSeen;
    console.log(`  ${shop.name} asks for ${g1(Number(tag(req, 'amount')))} (ref ${tag(req, 'ref')})`);
    await finalOf(req.id);
    const note = await shipped;
    console.log(`  ${shop.name} tells ${alice.name}: "${note.content}"\n`);

    console.log('2. Likes');
    const post = await c.publish(shop, { kind: 1, content: 'Fresh honey this week!' });
    const l1 = await c.publish(bob, { kind: 7, content: '+', tags: [['e', post.id], ['p', shop.pk]] });
    console.log(`  ${bob.name} likes the shop's post ("+": 1 Ẑen)`);
    const l2 = await c.publish(carol, { kind: 7, content: '+5', tags: [['e', post.id], ['p', shop.pk]] });
    console.log(`  ${carol.name} likes it with "+5" (5 Ẑen)`);
    const l3 = await c.publish(bob, { kind: 7, content: '❤️', tags: [['e', post.id], ['p', shop.pk]] });
    console.log(`  ${bob.name} likes it again with ❤️ (pays only once per post)`);
    await Promise.all([finalOf(l1.id), finalOf(l2.id), finalOf(l3.id)]);

    console.log('\nBalances on the chain:');
    for (const p of [alice, bob, carol, shop]) {
      const b = await node.rpc('test_balance', [addr.get(p.pk)]);
      console.log(`  ${p.name.padEnd(22)} ${g1(Number(b.free ?? b))}`);
    }
    c.close();
  } finally {
    for (const f of cleanup.reverse()) await f();
  }
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
