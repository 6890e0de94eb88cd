// One engine per data directory (DATA_DIR/settlement.lock). A relay started while
// `g1relay pay` holds the lock (it settles its own payment, here against a node
// that is down) must take over once `pay` stops: its likes are paid, and so is the
// payment `pay` left queued, each exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { NodeProcess } from '../g1node/client.mjs';
import { RELAY_BIN } from './lib/relay.mjs';
import {
  startStation, newKey, makeEvent, reaction, waitReceipt, tag, tempDataDir, createWallet, ENV, sleep,
} from './lib/settlement.mjs';

const alice = newKey(), bob = newKey();
let node;

before(async () => {
  const { base } = tempDataDir('g1relay-takeover-');
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(base, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
});
after(async () => { await node.stop(); });

const lockHeld = (data) => spawnSync('flock', ['-n', path.join(data, 'settlement.lock'), 'true']).status !== 0;

test('a relay started while `pay` holds the settlement lock settles once `pay` is gone', async () => {
  const { data } = tempDataDir('g1relay-takeover-data-');
  const aliceAddr = createWallet(data, alice);
  const bobAddr = createWallet(data, bob);
  await node.rpc('test_setBalance', [aliceAddr, 1_000_000]);
  await node.rpc('test_setBalance', [bobAddr, 1_000_000]);
  // `pay` against a node that refuses connections: it holds the lock for ~4 s
  const pay = spawn(RELAY_BIN, ['pay', '--from', alice.pk, '--to', bobAddr, '--amount', '150', '--key', 'queued-by-pay',
    '--g1-node', 'http://127.0.0.1:1', '--timeout', '4', '--data', data], { env: { ...process.env, ...ENV }, stdio: 'ignore' });
  const exited = new Promise((r) => pay.on('exit', r));
  for (let i = 0; i < 100 && !lockHeld(data); i++) await sleep(50);
  assert.ok(lockHeld(data), '`pay` holds the settlement lock');
  const st = await startStation({
    dataDir: data,
    config: {
      g1_nodes: [node.url], batch_window_ms: 0, settlement_poll_ms: 100, g1_rpc_timeout_ms: 1500,
      g1_resubmit_ms: 1000, era_period: 32,
    },
  });
  const c = st.client;
  const post = makeEvent(bob, { kind: 1, content: 'like me later' });
  assert.equal((await c.publish(post)).ok, true);
  const like = reaction(alice, post, { content: '+2' });
  assert.equal((await c.publish(like)).ok, true);
  await waitReceipt(c, like.id, 'pending');
  await exited;
  const rc = await waitReceipt(c, like.id, (ev) => ['finalized', 'failed'].includes(tag(ev, 'status')), { timeout: 30000 });
  assert.equal(tag(rc, 'status'), 'finalized', JSON.stringify(rc.tags));
  // the payment `pay` queued is paid too, by the relay, once
  const deadline = Date.now() + 30000;
  let ledger = [];
  while (Date.now() < deadline) {
    ledger = (await node.ledger()).filter((e) => e.from === aliceAddr && e.to === bobAddr);
    if (ledger.reduce((s, e) => s + Number(e.amount), 0) >= 170) break;
    await sleep(200);
  }
  await sleep(1500);
  ledger = (await node.ledger()).filter((e) => e.from === aliceAddr);
  assert.ok(ledger.every((e) => e.to === bobAddr), 'nothing else moved');
  assert.equal(ledger.reduce((s, e) => s + Number(e.amount), 0), 150 + 20, 'the queued payment and the like, once each');
  await st.relay.stop();
});
