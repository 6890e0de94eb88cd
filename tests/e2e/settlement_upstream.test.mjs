// Upstream sync (issue 6): a station follows another relay (a second g1relay) as a
// client; likes and purchase conversations published there are stored, verified
// and settled here, also those published while the station or the upstream was
// down; events arriving both ways settle once. A fake upstream checks that events
// with a bad signature or id are dropped.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import {
  startStation, newKey, makeEvent, reaction, order, paymentRequest, waitReceipt, receiptsFor, connect, sleep,
  tempDataDir, tag,
} from './lib/settlement.mjs';
import { startRelay, freePort, tamper } from './lib/relay.mjs';

const alice = newKey(), bob = newKey(), shop = newKey();
let up, st, c, cu;

const pub = async (client, ev) => assert.equal((await client.publish(ev)).ok, true);

async function waitStored(client, id, timeout = 10000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if ((await client.query({ ids: [id] })).length === 1) return;
    await sleep(100);
  }
  throw new Error(`event ${id} never arrived`);
}

before(async () => {
  up = await startRelay({ cleanup: false });
  st = await startStation({ payers: [alice, bob, shop], args: ['--upstream', up.url] });
  c = st.client;
  cu = await connect(up.url);
});

test('likes and orders published on the upstream are stored here and settled', async () => {
  const post = makeEvent(bob, { kind: 1, content: 'on the upstream' });
  await pub(cu, post);
  const like = reaction(alice, post, { content: '+3' });
  await pub(cu, like);
  const rc = await waitReceipt(c, like.id, 'pending', { timeout: 10000 });
  assert.equal(tag(rc, 'amount'), '30');
  const o = order(alice, shop, { max: 400 });
  const r = paymentRequest(shop, o, { amount: 400 });
  await pub(cu, o);
  await pub(c, r); // the pieces of one conversation may come through different relays
  await waitReceipt(c, r.id, 'pending', { timeout: 10000 });
});

test('an event arriving from a client and from the upstream settles once', async () => {
  const post = makeEvent(bob, { kind: 1, content: 'twice' });
  await pub(c, post);
  await pub(cu, post);
  const like = reaction(alice, post);
  await Promise.all([pub(c, like), pub(cu, like)]);
  await waitReceipt(c, like.id, 'pending');
  await sleep(1000);
  assert.equal((await receiptsFor(c, like.id)).length, 1);
});

test('what was published upstream while the station was down is fetched after its restart', async () => {
  await st.relay.kill('SIGKILL');
  const post = makeEvent(bob, { kind: 1, content: 'while you were away' });
  await pub(cu, post);
  const like = reaction(alice, post, { content: '+2' });
  await pub(cu, like);
  const o = order(bob, shop);
  const r = paymentRequest(shop, o, { amount: 90 });
  const a = makeEvent(bob, { kind: 9742, tags: [['e', r.id], ['amount', '90'], ['p', st.station]] });
  for (const ev of [o, r, a]) await pub(cu, ev);
  await st.relay.restart();
  c = await connect(st.relay.url);
  assert.equal(tag(await waitReceipt(c, like.id, 'pending', { timeout: 15000 }), 'amount'), '20');
  await waitReceipt(c, r.id, 'pending', { timeout: 15000 });
});

test('the upstream dropping connections and restarting: the station reconnects and catches up', async () => {
  for (let round = 0; round < 3; round++) {
    await up.kill('SIGKILL');
    await sleep(300);
    await up.restart();
    cu = await connect(up.url);
    const post = makeEvent(bob, { kind: 1, content: 'round ' + round });
    await pub(cu, post);
    const like = reaction(alice, post);
    await pub(cu, like);
    await waitReceipt(c, like.id, 'pending', { timeout: 15000 });
  }
});

test('events from an upstream are verified: bad signatures and bad ids are dropped', async () => {
  const port = await freePort();
  const good = makeEvent(bob, { kind: 1, content: 'good' });
  const badSig = tamper(makeEvent(bob, { kind: 1, content: 'bad sig' }), {});
  badSig.sig = badSig.sig.slice(0, -2) + (badSig.sig.endsWith('00') ? '11' : '00');
  const badId = tamper(makeEvent(bob, { kind: 1, content: 'original' }), { content: 'changed' });
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m[0] !== 'REQ') return;
      for (const ev of [badSig, badId, good]) ws.send(JSON.stringify(['EVENT', m[1], ev]));
      ws.send(JSON.stringify(['EOSE', m[1]]));
    });
  });
  const { data } = tempDataDir();
  const s2 = await startStation({ dataDir: data, args: ['--upstream', `ws://127.0.0.1:${port}`] });
  await waitStored(s2.client, good.id);
  assert.equal((await s2.client.query({ ids: [badSig.id, badId.id] })).length, 0);
  await s2.relay.stop();
  wss.close();
});
