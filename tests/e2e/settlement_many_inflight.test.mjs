// Every in-flight extrinsic is searched for in every block, however many wallets
// have one: with more in flight than the engine's limit (lowered here to 2 with
// G1RELAY_MAX_INFLIGHT), new ones wait for a slot instead of being signed and then
// left out of the search (an extrinsic left out could be included unseen, "expire"
// and be signed again: paid twice). Five payers like at once; each pays once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NodeProcess } from '../g1node/client.mjs';
import { startRelay, connect } from './lib/relay.mjs';
import {
  newKey, makeEvent, reaction, waitReceipt, tag, tempDataDir, createWallet, stationPubkey, ENV, sleep,
} from './lib/settlement.mjs';

let node;
before(async () => {
  const { base } = tempDataDir('g1relay-manyinflight-');
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(base, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
});
after(async () => { await node.stop(); });

test('more wallets in flight than the limit: every like is paid exactly once', async () => {
  const { data } = tempDataDir('g1relay-manyinflight-data-');
  const bob = newKey();
  const payers = Array.from({ length: 5 }, () => newKey());
  const bobAddr = createWallet(data, bob);
  await node.rpc('test_setBalance', [bobAddr, 1_000_000]);
  const addr = new Map();
  for (const k of payers) {
    addr.set(k.pk, createWallet(data, k));
    await node.rpc('test_setBalance', [addr.get(k.pk), 1_000_000]);
  }
  stationPubkey(data);
  const relay = await startRelay({
    dataDir: data, env: { ...ENV, G1RELAY_MAX_INFLIGHT: '2' }, cleanup: false,
    config: {
      plugins: ['reactions', 'orders'], g1_nodes: [node.url], batch_window_ms: 0, settlement_poll_ms: 100,
      g1_rpc_timeout_ms: 1500, g1_resubmit_ms: 1000, era_period: 16,
    },
  });
  const c = await connect(relay.url);
  const post = makeEvent(bob, { kind: 1, content: 'liked by many' });
  assert.equal((await c.publish(post)).ok, true);
  const likes = payers.map((k, i) => reaction(k, post, { content: `+${i + 1}` }));
  await Promise.all(likes.map(async (l) => assert.equal((await c.publish(l)).ok, true)));
  for (const l of likes) {
    const rc = await waitReceipt(c, l.id, (ev) => ['finalized', 'failed'].includes(tag(ev, 'status')), { timeout: 60000 });
    assert.equal(tag(rc, 'status'), 'finalized', JSON.stringify(rc.tags));
  }
  // long enough for any extrinsic left out of the search to "expire" and be signed again
  await sleep(16 * 250 + 3000);
  const ledger = await node.ledger();
  payers.forEach((k, i) => {
    const moved = ledger.filter((e) => e.from === addr.get(k.pk));
    assert.ok(moved.every((e) => e.to === bobAddr), 'nothing else moved');
    assert.equal(moved.reduce((s, e) => s + Number(e.amount), 0), (i + 1) * 10, `payer ${i} paid once`);
  });
  await relay.stop();
});
