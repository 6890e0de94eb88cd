// Likes and purchases all the way to the chain (g1node test stand-in): receipts go
// pending → submitted → included → finalized with the extrinsic hash and block
// of the ledger; the chain's failure reasons end as `failed`; a deletion after
// submission cancels nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NodeProcess } from '../g1node/client.mjs';
import {
  startStation, newKey, makeEvent, reaction, order, paymentRequest, authorisation, waitReceipt, receiptsFor,
  receiptValid, tag, tagsOf, status, tempDataDir, sleep,
} from './lib/settlement.mjs';

const alice = newKey(), bob = newKey(), shop = newKey(), broke = newKey();
let node, st, c;

export const chainConfig = (node) => ({
  g1_nodes: [node.url], batch_window_ms: 300, settlement_poll_ms: 100, g1_rpc_timeout_ms: 1500,
  g1_resubmit_ms: 1000, era_period: 32,
});

before(async () => {
  const { base } = tempDataDir('g1relay-chain-');
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(base, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
  st = await startStation({ payers: [alice, bob, shop, broke], config: chainConfig(node) });
  c = st.client;
  for (const k of [alice, bob]) await node.rpc('test_setBalance', [st.address.get(k.pk), 1_000_000]);
});
after(async () => { await node.stop(); });

const pub = async (ev) => assert.equal((await c.publish(ev)).ok, true);

test('likes reach the chain: finalized receipts name the extrinsic and block of the ledger', async () => {
  const posts = [];
  for (let i = 0; i < 3; i++) { const p = makeEvent(bob, { kind: 1, content: 'p' + i }); await pub(p); posts.push(p); }
  const likes = [reaction(alice, posts[0]), reaction(alice, posts[1], { content: '+4' }), reaction(alice, posts[2], { content: '❤️' })];
  const seen = new Map();
  const from = c.mark();
  c.send(['REQ', 'chain', { kinds: [39743], '#e': likes.map((l) => l.id) }]);
  for (const l of likes) await pub(l);
  const fin = [];
  for (const l of likes) fin.push(await waitReceipt(c, l.id, 'finalized', { timeout: 30000 }));
  for (const ev of c.liveEvents('chain', from)) {
    const d = tag(ev, 'd');
    if (!seen.has(d)) seen.set(d, []);
    seen.get(d).push(status(ev));
  }
  c.close('chain');
  const ledger = await node.ledger();
  for (const rc of fin) {
    assert.ok(receiptValid(rc, st.station));
    const tx = tag(rc, 'tx');
    assert.match(tx, /^0x[0-9a-f]{64}$/);
    const block = tagsOf(rc, 'block')[0];
    assert.ok(block && /^\d+$/.test(block[1]) && /^0x[0-9a-f]{64}$/.test(block[2]), JSON.stringify(rc.tags));
    const entries = ledger.filter((e) => e.extrinsicHash === tx && e.to === st.address.get(bob.pk));
    assert.ok(entries.length >= 1, 'the transfer is in the ledger under that extrinsic');
    assert.equal(entries[0].block, Number(block[1]));
    assert.equal(entries[0].blockHash, block[2]);
  }
  const paid = ledger.filter((e) => e.from === st.address.get(alice.pk) && e.to === st.address.get(bob.pk))
    .reduce((s, e) => s + Number(e.amount), 0);
  assert.equal(paid, 10 + 40 + 10, 'exactly the expected centimes moved');
  // the statuses seen live, in order (versions may be skipped, never go back)
  const order_ = ['pending', 'submitted', 'included', 'finalized'];
  for (const [d, list] of seen) {
    const idx = list.map((s) => order_.indexOf(s));
    assert.deepEqual(idx, [...idx].sort((a, b) => a - b), `${d}: ${list}`);
    assert.equal(list.at(-1), 'finalized');
  }
});

test('a purchase reaches the chain', async () => {
  const o = order(alice, shop, { max: 2500 });
  const r = paymentRequest(shop, o, { amount: 2500 });
  await pub(o);
  await pub(r);
  const rc = await waitReceipt(c, r.id, 'finalized', { timeout: 30000 });
  const ledger = await node.ledger();
  assert.ok(ledger.some((e) => e.extrinsicHash === tag(rc, 'tx') && e.to === st.address.get(shop.pk) && Number(e.amount) === 2500));
});

test('a payer without funds: failed with the chain reason, nothing moved', async () => {
  const post = makeEvent(bob, { kind: 1, content: 'for broke' });
  await pub(post);
  const l = reaction(broke, post);
  await pub(l);
  const rc = await waitReceipt(c, l.id, 'failed', { timeout: 30000 });
  assert.ok(tag(rc, 'reason'), 'a reason is given');
  const ledger = await node.ledger();
  assert.ok(!ledger.some((e) => e.from === st.address.get(broke.pk)));
});

test('a deletion after submission cancels nothing: the payment is finalized', async () => {
  const post = makeEvent(bob, { kind: 1, content: 'too late' });
  await pub(post);
  const l = reaction(alice, post, { content: '+9' });
  await pub(l);
  await waitReceipt(c, l.id, (ev) => ['submitted', 'included', 'finalized'].includes(status(ev)), { timeout: 30000 });
  await pub(makeEvent(alice, { kind: 5, tags: [['e', l.id]] }));
  const rc = await waitReceipt(c, l.id, 'finalized', { timeout: 30000 });
  assert.equal(tag(rc, 'amount'), '90');
  await sleep(500);
  assert.equal(status((await receiptsFor(c, l.id))[0]), 'finalized');
});
