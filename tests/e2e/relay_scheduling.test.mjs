// Scheduling of the running relay against the real binary: a huge stored query runs
// in time slices and does not hold back a small query of another client even with a
// single worker thread; a client that reads a result larger than max_output_bytes at
// normal speed gets all of it (queries wait for its output queue instead of cutting
// it off); SIGTERM stops the relay cleanly and every acknowledged event survives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import {
  startRelay, connect, newKey, makeEvent, now, show, RELAY_BIN,
} from './lib/relay.mjs';

// A database of N kind-1 events of one author, imported without signature checks
// (ids are real; signing 40 000 events in node would take too long).
const N = 40000;
const author = crypto.randomBytes(32).toString('hex');
const base = now() - N - 100;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-sched-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const lines = [];
const ids = [];
for (let i = 0; i < N; i++) {
  const ev = { pubkey: author, created_at: base + i, kind: 1, tags: [['t', 'bulk']], content: `bulk event ${i} `.padEnd(200, '.') };
  ev.id = crypto.createHash('sha256').update(JSON.stringify([0, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content])).digest('hex');
  ev.sig = '0'.repeat(128);
  ids.push(ev.id);
  lines.push(JSON.stringify(ev));
}
const dataDir = path.join(tmp, 'data');
fs.writeFileSync(path.join(tmp, 'bulk.jsonl'), lines.join('\n') + '\n');
const imp = spawnSync(RELAY_BIN, ['import', '--no-verify', '--quiet', '--data', dataDir, path.join(tmp, 'bulk.jsonl')], { encoding: 'utf8' });
assert.equal(imp.status, 0, `import failed: ${imp.stdout}\n${imp.stderr}`);

const relay = await startRelay({
  dataDir,
  config: { worker_threads: 1, max_limit: 100000, max_output_bytes: 4 * 1024 * 1024 },
});

test('a huge query is time-sliced: a small query of another client finishes first (one worker)', async () => {
  const big = await connect(relay.url);
  const small = await connect(relay.url);
  try {
    const bigDone = big.reqEnd('big', { authors: [author], limit: N });
    await new Promise((r) => setTimeout(r, 5)); // let the big scan start
    const t0 = Date.now();
    const { events, end } = await small.reqEnd('small', { ids: [ids[17]] });
    const smallMs = Date.now() - t0;
    assert.equal(end[0], 'EOSE', show(end));
    assert.deepEqual(events.map((e) => e.id), [ids[17]]);
    const bigRes = await bigDone;
    const bigMs = Date.now() - t0;
    assert.equal(bigRes.end[0], 'EOSE', show(bigRes.end));
    assert.ok(smallMs < bigMs, `small query took ${smallMs} ms, the big one ${bigMs} ms`);
    assert.equal(bigRes.events.length, N, 'every stored event once');
  } finally {
    await big.end();
    await small.end();
  }
});

test('a result larger than max_output_bytes reaches a client that keeps reading, newest first, no duplicates', async () => {
  const c = await connect(relay.url);
  try {
    const { events, end } = await c.reqEnd('all', { '#t': ['bulk'], limit: N });
    assert.equal(end[0], 'EOSE', show(end));
    assert.equal(events.length, N);
    assert.equal(new Set(events.map((e) => e.id)).size, N, 'duplicates');
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1].created_at >= events[i].created_at, 'newest first');
    await c.assertAlive();
  } finally {
    await c.end();
  }
});

test('SIGTERM: exits 0 promptly and every acknowledged event is stored', async () => {
  const r = await startRelay();
  const c = await connect(r.url);
  const k = newKey();
  const evs = [];
  for (let i = 0; i < 200; i++) evs.push(makeEvent(k, { created_at: now() - i, content: `durable ${i}` }));
  const results = await c.publishMany(evs);
  results.forEach((x) => assert.equal(x.ok, true, show(x.raw)));
  const t0 = Date.now();
  const res = await r.stop();
  assert.equal(res.code, 0, `exit ${JSON.stringify(res)}\n${r.output()}`);
  assert.ok(Date.now() - t0 < 5000, 'stopped within 5 s');
  assert.match(r.output(), /stopped/);
  await r.restart();
  const c2 = await connect(r.url);
  const got = await c2.query({ authors: [k.pk], limit: 1000 });
  assert.equal(got.length, evs.length);
  await c2.end();
  await r.stop();
});
