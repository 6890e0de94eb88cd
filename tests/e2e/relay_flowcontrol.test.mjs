// Input flow control of the running relay: a client that pipelines far more messages
// than the relay keeps queued (CONN_QUEUE_PAUSE = 512 messages, or about 1 MiB) is
// paused and resumed, never dropped: every EVENT gets its OK, in any order, and all
// are stored; a client pipelining large messages is paused too and still answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, connect, newKey, makeEvent, now, show } from './lib/relay.mjs';

const relay = await startRelay({ config: { worker_threads: 1, log_level: process.env.G1_FLOW_DEBUG ? 'debug' : 'info' } });
if (process.env.G1_FLOW_DEBUG) process.on('exit', () => console.log(relay.output().split('\n').filter((l) => /pausing|resuming/.test(l)).length, 'pause/resume log lines'));

test('1 500 EVENTs pipelined on one connection: all answered OK true and stored', async () => {
  const c = await connect(relay.url);
  try {
    const k = newKey();
    const t = now() - 5000;
    const evs = Array.from({ length: 1500 }, (_, i) => makeEvent(k, { created_at: t + i, content: `pipelined ${i}` }));
    const rs = await c.publishMany(evs, { timeout: 60000 });
    rs.forEach((r, i) => assert.equal(r.ok, true, `event ${i}: ${show(r.raw)}`));
    assert.equal(await c.count('n', { authors: [k.pk] }), evs.length);
    await c.assertAlive();
  } finally {
    await c.end();
  }
});

test('large messages pipelined beyond the queued-bytes limit: all answered, connection usable', async () => {
  const c = await connect(relay.url);
  try {
    const k = newKey();
    const t = now() - 100;
    // 40 events of ~60 KB = 2.4 MB in flight, over the 1 MiB + max_message_length pause mark
    const evs = Array.from({ length: 40 }, (_, i) => makeEvent(k, { created_at: t + i, content: String(i % 10).repeat(60000) }));
    const rs = await c.publishMany(evs, { timeout: 60000 });
    rs.forEach((r, i) => assert.equal(r.ok, true, `event ${i}: ${show(r.raw)}`));
    assert.equal(await c.count('n', { authors: [k.pk] }), evs.length);
    await c.assertAlive();
  } finally {
    await c.end();
  }
});
