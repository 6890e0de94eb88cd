// Upstream sync and created_at: an event reaches the upstream when it is
// published, which may be long after it was signed (a client that was offline,
// retried, or relays an older event). The follower must get it whatever its
// created_at: through the live subscription while connected (a live `since`
// dropped it, and no later catch-up fetched it once the cursor had passed it:
// the cause of a rare settlement_chaos failure, where every event is signed
// before the run), and through the catch-up after a restart, future-dated
// events included (within the relay's created_at upper limit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, connect, makeEvent, newKey, now } from './lib/relay.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const alice = newKey();
let up, follower, cu;

async function waitFor(pred, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await sleep(100);
  }
  throw new Error(`${what}\n--- follower output ---\n${follower.output().slice(-3000)}`);
}

async function stored(id) {
  const c = await connect(follower.url);
  try { return (await c.query({ ids: [id] })).length === 1; } finally { c.ws.close(); }
}

const caughtUp = () => (follower.output().match(/caught up/g) || []).length;

before(async () => {
  up = await startRelay();
  follower = await startRelay({ args: ['--upstream', up.url] });
  cu = await connect(up.url);
  await waitFor(() => caughtUp() >= 1, 'the follower never caught up');
});

after(() => cu?.ws.close());

test('an event signed well before it is published upstream arrives live', async () => {
  // signed 30 s ago: older than the follower's connection
  const late = makeEvent(alice, { content: 'signed offline, published now', created_at: now() - 30 });
  assert.equal((await cu.publish(late)).ok, true);
  await waitFor(() => stored(late.id), `the late event ${late.id} never reached the follower`);
  // and one signed even before the follower's catch-up window
  const older = makeEvent(alice, { content: 'an hour old', created_at: now() - 3600 });
  assert.equal((await cu.publish(older)).ok, true);
  await waitFor(() => stored(older.id), `the hour-old event ${older.id} never reached the follower`);
});

test('a future-dated event published while the follower was down is fetched by its catch-up', async () => {
  await follower.kill('SIGKILL');
  const ahead = makeEvent(alice, { content: 'clock ahead', created_at: now() + 120 });
  assert.equal((await cu.publish(ahead)).ok, true);
  const before = caughtUp();
  await follower.restart();
  await waitFor(() => caughtUp() > before, 'the follower never caught up after its restart');
  await waitFor(() => stored(ahead.id), `the future-dated event ${ahead.id} never reached the follower`);
});

test('the catch-up pages through an upstream that cuts every page at its own limit', async () => {
  // an upstream whose max_limit (40) is below the follower's page size: every
  // page comes back short, and a short page is not the end of the backlog
  const small = await startRelay({ config: { max_limit: 40 } });
  const c = await connect(small.url);
  const t0 = now() - 600;
  const ids = [];
  try {
    for (let i = 0; i < 130; i++) {
      // three events per second for part of the backlog: pages also split inside a second
      const ev = makeEvent(alice, { content: `backlog ${i}`, created_at: t0 + Math.floor(i / 3) });
      assert.equal((await c.publish(ev)).ok, true);
      ids.push(ev.id);
    }
  } finally { c.ws.close(); }
  const late = await startRelay({ args: ['--upstream', small.url] });
  try {
    const have = async () => {
      const q = await connect(late.url);
      try { return (await q.query({ ids, limit: 1000 })).length; } finally { q.ws.close(); }
    };
    const deadline = Date.now() + 15000;
    let n = 0;
    while (Date.now() < deadline && (n = await have()) < ids.length) await sleep(200);
    assert.equal(n, ids.length, `the follower holds ${n} of ${ids.length} backlog events\n${late.output().slice(-2000)}`);
    assert.match(late.output(), /caught up/);
  } finally {
    await late.stop?.();
    await small.stop?.();
  }
});
