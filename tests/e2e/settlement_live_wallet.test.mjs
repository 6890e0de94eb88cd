// A wallet created with `g1relay wallet create` while the relay runs becomes a
// usable payer: the plugins (their own keystore instance, reloaded every second)
// accept its likes, and the engine (another keystore instance) must not fail
// those intents with `no-wallet` just because it has not re-read the file yet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NodeProcess } from '../g1node/client.mjs';
import {
  startStation, newKey, makeEvent, reaction, waitReceipt, tag, createWallet, tempDataDir, sleep,
} from './lib/settlement.mjs';

const alice = newKey(), bob = newKey(), carol = newKey();
let node, st, c;

before(async () => {
  const { base } = tempDataDir('g1relay-livewallet-');
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(base, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
});
after(async () => { await node.stop(); });

test('a wallet created while the relay runs pays its likes (no no-wallet failure)', async () => {
  st = await startStation({
    payers: [alice, bob],
    config: {
      g1_nodes: [node.url], batch_window_ms: 0, settlement_poll_ms: 100, g1_rpc_timeout_ms: 1500,
      g1_resubmit_ms: 1000, era_period: 32,
    },
  });
  c = st.client;
  await node.rpc('test_setBalance', [st.address.get(bob.pk), 1_000_000]); // the payee exists (existential deposit)
  // The engine read the keystore in its first round, just now; it would only read it
  // again 5 s later. Everything below happens well within those 5 s.
  const t0 = Date.now();
  const post = makeEvent(bob, { kind: 1, content: 'like me' });
  assert.equal((await c.publish(post)).ok, true);
  const carolAddress = createWallet(st.data, carol);
  await node.rpc('test_setBalance', [carolAddress, 1_000_000]);
  await sleep(1300); // the plugins' keystore reload (every second) has seen carol's wallet
  const like = reaction(carol, post, { content: '+3' });
  assert.equal((await c.publish(like)).ok, true);
  assert.ok(Date.now() - t0 < 4500, 'the like was published before the engine would re-read the keystore on its own');
  const rc = await waitReceipt(c, like.id, (ev) => ['finalized', 'failed'].includes(tag(ev, 'status')), { timeout: 30000 });
  assert.equal(tag(rc, 'status'), 'finalized', `receipt: ${JSON.stringify(rc.tags)}`);
  const ledger = await node.ledger();
  assert.ok(ledger.every((e) => e.from !== carolAddress || e.to === st.address.get(bob.pk)), 'nothing else moved');
  const paid = ledger.filter((e) => e.from === carolAddress && e.to === st.address.get(bob.pk)).reduce((s, e) => s + Number(e.amount), 0);
  assert.equal(paid, 30, 'exactly the like moved');
});
