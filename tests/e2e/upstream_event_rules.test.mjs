// Upstream sync applies the relay's own event rules, as for a client's event:
// a NIP-70 protected event is never accepted from a sync (nobody authenticated
// as its author here), NIP-13 minimum PoW and NIP-40 expiration apply, and the
// created_at window is the configured one (upper and lower limits). A fake
// upstream (a loopback WebSocket server) answers every REQ with a fixed set of
// signed events, so the relay sees each kind of event exactly as served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { startRelay, connect, newKey, mineEvent, lowPowEvent, now } from './lib/relay.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const alice = newKey();
const POW = 8;
const LOWER = 30 * 86400;
let wss, relay, c;

const t0 = now();
const good = mineEvent(alice, { content: 'enough work, fresh' }, POW);
const oldButInWindow = mineEvent(alice, { content: 'an hour old', created_at: t0 - 3600 }, POW);
const protectedEv = mineEvent(alice, { content: 'only my own relay', tags: [['-']] }, POW);
const noPow = lowPowEvent(alice, { content: 'no work' }, POW);
const future = mineEvent(alice, { content: 'from the future', created_at: t0 + 3600 }, POW);
const expired = mineEvent(alice, { content: 'gone', tags: [['expiration', String(t0 - 10)]] }, POW);
const tooOld = mineEvent(alice, { content: 'older than the lower limit', created_at: t0 - LOWER - 86400 }, POW);
const served = [good, oldButInWindow, protectedEv, noPow, future, expired, tooOld];

before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.on('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { return; }
      if (!Array.isArray(msg) || msg[0] !== 'REQ') return;
      for (const ev of served) ws.send(JSON.stringify(['EVENT', msg[1], ev]));
      ws.send(JSON.stringify(['EOSE', msg[1]]));
    });
  });
  relay = await startRelay({
    config: { min_pow_difficulty: POW, created_at_lower_limit: LOWER, created_at_upper_limit: 900 },
    args: ['--upstream', `ws://127.0.0.1:${wss.address().port}`],
  });
  c = await connect(relay.url);
});

after(async () => {
  for (const ws of wss.clients) ws.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

async function waitStored(id, timeout = 15000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if ((await c.query({ ids: [id] })).length === 1) return;
    await sleep(100);
  }
  throw new Error(`event ${id} never arrived\n${relay.output().slice(-4000)}`);
}

test('synced events pass the relay rules: protected, PoW-less, future, expired and too old ones are not stored', async () => {
  await waitStored(good.id);
  await waitStored(oldButInWindow.id);
  await sleep(1000); // the refused ones came in the same batches; give the writer time anyway
  const refused = { protectedEv, noPow, future, expired, tooOld };
  for (const [name, ev] of Object.entries(refused))
    assert.equal((await c.query({ ids: [ev.id] })).length, 0, `${name} must not be stored from a sync`);
});

test('a client still gets the same rules (sanity: the PoW-less event is refused with pow:)', async () => {
  const r = await c.publish(lowPowEvent(alice, { content: 'client no work' }, POW));
  assert.equal(r.ok, false);
  assert.match(r.message, /^pow:/);
});
