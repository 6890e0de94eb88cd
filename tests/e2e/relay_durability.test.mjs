// Durability and concurrency against the real binary: every event answered OK true
// survives a SIGKILL and restart on the same data directory; 16 clients publishing 200
// events each at once all get OK and everything is stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, connect, newKey, makeEvent, now, show } from './lib/relay.mjs';

test('after OK true, SIGKILL and restart: the events are there', async () => {
  const relay = await startRelay();
  const k = newKey();
  const c = await connect(relay.url);
  const first = makeEvent(k, { content: 'single, waited for' });
  const r = await c.publish(first);
  assert.equal(r.ok, true, show(r.raw));
  // a pipelined batch, killed right after the last OK
  const batch = [];
  for (let i = 0; i < 50; i++) batch.push(makeEvent(k, { created_at: now() - i, content: `batch ${i}` }));
  const rs = await c.publishMany(batch);
  rs.forEach((x, i) => assert.equal(x.ok, true, `batch ${i}: ${show(x.raw)}`));
  const replaceable = makeEvent(k, { kind: 0, content: '{"name":"durable"}' });
  assert.equal((await c.publish(replaceable)).ok, true);
  const killed = await relay.kill('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  c.terminate();
  await relay.restart();
  const c2 = await connect(relay.url);
  const got = await c2.query({ authors: [k.pk], limit: 1000 });
  const want = [first, ...batch, replaceable].map((e) => e.id).sort();
  assert.deepEqual(got.map((e) => e.id).sort(), want, 'every acknowledged event survived SIGKILL');
  assert.deepEqual((await c2.query({ ids: [first.id] }))[0], first, 'byte-identical after restart');
  // the database still works for writes after the crash, and dedup survived
  const dup = await c2.publish(first);
  assert.equal(dup.ok, true);
  assert.match(dup.message, /^duplicate:/, show(dup.raw));
  const after1 = makeEvent(k, { content: 'after restart' });
  assert.equal((await c2.publish(after1)).ok, true);
  // a clean stop keeps everything too
  await c2.end();
  const stopped = await relay.stop();
  assert.ok(!stopped.timedOut, 'SIGTERM stops the relay within 5 s');
  await relay.restart();
  const c3 = await connect(relay.url);
  assert.equal(await c3.count('n', { authors: [k.pk] }), want.length + 1);
  await c3.end();
});

test('concurrency: 16 clients × 200 events published at once, all OK and all stored', async () => {
  const relay = await startRelay();
  const CLIENTS = 16;
  const PER = 200;
  const WINDOW = 20;
  const keys = Array.from({ length: CLIENTS }, () => newKey());
  const t = now() - 3000;
  const sets = keys.map((k, ci) => Array.from({ length: PER }, (_, i) =>
    makeEvent(k, { created_at: t + i, content: `client ${ci} event ${i}`, tags: [['t', 'load']] })));
  const clients = await Promise.all(keys.map(() => connect(relay.url)));
  after(() => Promise.all(clients.map((x) => x.end())));
  const t0 = Date.now();
  await Promise.all(clients.map(async (cl, ci) => {
    for (let i = 0; i < PER; i += WINDOW) {
      const rs = await cl.publishMany(sets[ci].slice(i, i + WINDOW), { timeout: 60000 });
      rs.forEach((r, j) => assert.equal(r.ok, true, `client ${ci} event ${i + j}: ${show(r.raw)}`));
    }
  }));
  const elapsed = Date.now() - t0;
  const q = clients[0];
  const all = await q.req('all', { authors: keys.map((k) => k.pk), limit: 5000 });
  assert.equal(all.length, CLIENTS * PER, `stored ${all.length} of ${CLIENTS * PER}`);
  const want = new Set(sets.flat().map((e) => e.id));
  assert.ok(all.every((e) => want.has(e.id)));
  assert.equal(new Set(all.map((e) => e.id)).size, CLIENTS * PER, 'no duplicates');
  assert.equal(await q.count('n', { '#t': ['load'] }), CLIENTS * PER);
  for (let ci = 0; ci < CLIENTS; ci++) {
    assert.equal(await q.count('c' + ci, { authors: [keys[ci].pk] }), PER, `client ${ci}`);
  }
  // every connection is still usable
  await Promise.all(clients.map((cl, i) => cl.assertAlive(`client ${i}`)));
  console.log(`# concurrency: ${CLIENTS * PER} events in ${elapsed} ms (${Math.round(CLIENTS * PER / (elapsed / 1000))} events/s)`);
});
