// Acceptance policy against the real binary: NIP-45 COUNT, NIP-13 minimum proof of
// work ("pow: …"), and the created_at window ("invalid: …" too far in the future or
// the past), each with its own relay configuration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRelay, connect, newKey, makeEvent, mineEvent, powBits, now, show, getEventHash,
} from './lib/relay.mjs';

const relay = await startRelay();
const powRelay = await startRelay({ config: { min_pow_difficulty: 8 } });
const windowRelay = await startRelay({ config: { created_at_lower_limit: 3600, created_at_upper_limit: 600 } });
const c = await connect(relay.url);
const cp = await connect(powRelay.url);
const cw = await connect(windowRelay.url);
after(() => Promise.all([c.end(), cp.end(), cw.end()]));

test('NIP-45 COUNT: ["COUNT", subid, {"count": N}] with OR\'ed filters counted once', async () => {
  const k = newKey();
  const other = newKey();
  const t = now() - 100;
  const evs = [];
  for (let i = 0; i < 5; i++) evs.push(makeEvent(k, { kind: 1, created_at: t + i, content: `c${i}`, tags: i < 2 ? [['t', 'counted']] : [] }));
  for (let i = 0; i < 2; i++) evs.push(makeEvent(k, { kind: 7, created_at: t + 10 + i, content: '+' }));
  evs.push(makeEvent(other, { kind: 1, created_at: t, content: 'other' }));
  for (const ev of evs) {
    const r = await c.publish(ev);
    assert.equal(r.ok, true, show(r.raw));
  }
  const m = await c.countEnd('cnt', { authors: [k.pk] });
  assert.equal(m[0], 'COUNT', show(m));
  assert.equal(m[1], 'cnt');
  assert.equal(m[2].count, 7, show(m));
  assert.equal(await c.count('c1', { authors: [k.pk], kinds: [1] }), 5);
  assert.equal(await c.count('c2', { authors: [k.pk], kinds: [7] }), 2);
  assert.equal(await c.count('c3', { authors: [k.pk], kinds: [1] }, { authors: [k.pk], kinds: [7] }), 7, 'OR');
  assert.equal(await c.count('c4', { authors: [k.pk] }, { kinds: [7], authors: [k.pk] }), 7, 'overlap counted once');
  assert.equal(await c.count('c5', { authors: [k.pk, other.pk], kinds: [1] }), 6);
  assert.equal(await c.count('c6', { '#t': ['counted'], authors: [k.pk] }), 2);
  assert.equal(await c.count('c7', { authors: [k.pk], since: t + 3, until: t + 10 }), 3, 'since/until');
  assert.equal(await c.count('c8', { authors: [newKey().pk] }), 0);
  // invalid filter → CLOSED invalid
  const bad = await c.countEnd('c9', { kinds: 'x' });
  assert.equal(bad[0], 'CLOSED', show(bad));
  assert.match(bad[2], /^invalid:/);
  // replaceable events count once per address
  const r1 = makeEvent(k, { kind: 0, created_at: t, content: '{}' });
  const r2 = makeEvent(k, { kind: 0, created_at: t + 1, content: '{"name":"x"}' });
  await c.publish(r1);
  await c.publish(r2);
  assert.equal(await c.count('c10', { authors: [k.pk], kinds: [0] }), 1);
});

test('NIP-13: events below min_pow_difficulty → OK false "pow: …"', async () => {
  const k = newKey();
  let ev = makeEvent(k, { content: 'no work' });
  for (let i = 0; powBits(ev.id) >= 8 && i < 100; i++) ev = makeEvent(k, { content: `no work ${i}` });
  const r = await cp.publish(ev);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^pow:/, show(r.raw));
  // a nonce tag claiming 8 bits does not make an id with fewer bits acceptable
  let liar = makeEvent(k, { content: 'liar', tags: [['nonce', '1', '8']] });
  for (let i = 2; powBits(liar.id) >= 8 && i < 100; i++) liar = makeEvent(k, { content: 'liar', tags: [['nonce', String(i), '8']] });
  const r2 = await cp.publish(liar);
  assert.equal(r2.ok, false, show(r2.raw));
  assert.match(r2.message, /^pow:/, show(r2.raw));
  assert.deepEqual(await cp.query({ authors: [k.pk] }), []);
});

test('NIP-13: mined events with enough leading zero bits are accepted', async () => {
  const k = newKey();
  const ev = mineEvent(k, { content: 'worked for it' }, 8);
  assert.ok(powBits(ev.id) >= 8);
  assert.equal(getEventHash(ev), ev.id);
  const r = await cp.publish(ev);
  assert.equal(r.ok, true, show(r.raw));
  const more = mineEvent(k, { content: 'more work' }, 10);
  assert.equal((await cp.publish(more)).ok, true);
  assert.deepEqual((await cp.query({ authors: [k.pk] })).map((e) => e.id).sort(), [ev.id, more.id].sort());
});

test('created_at window: too far in the future or the past → OK false "invalid: …"', async () => {
  const k = newKey();
  const cases = [
    ['future beyond upper limit', now() + 1200, false],
    ['far future', now() + 86400 * 365, false],
    ['past beyond lower limit', now() - 7200, false],
    ['epoch', 1, false],
    ['slightly in the future', now() + 300, true],
    ['within the past hour', now() - 1800, true],
    ['now', now(), true],
  ];
  for (const [label, created_at, ok] of cases) {
    const ev = makeEvent(k, { created_at, content: label });
    const r = await cw.publish(ev);
    assert.equal(r.ok, ok, `${label}: ${show(r.raw)}`);
    if (!ok) assert.match(r.message, /^invalid:/, `${label}: ${show(r.raw)}`);
  }
  const stored = await cw.query({ authors: [k.pk] });
  assert.deepEqual(stored.map((e) => e.content).sort(), ['now', 'slightly in the future', 'within the past hour'],
    `stored: ${stored.map((e) => `${e.content}@${e.created_at}/${e.id.slice(0, 8)}`).join(', ')}`);
});

test('created_at window defaults: 15 minutes ahead at most, no lower limit', async () => {
  const k = newKey();
  const future = makeEvent(k, { created_at: now() + 3600, content: 'from the future' });
  const r = await c.publish(future);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  const old = makeEvent(k, { created_at: 1000000, content: 'very old' });
  assert.equal((await c.publish(old)).ok, true, 'old events accepted by default');
});
