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
