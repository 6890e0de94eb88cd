// Kind classes and event lifetime against the real binary: replaceable (0, 3, 10002)
// and addressable (30023 by d tag) with the lowest-id tie-break, ephemeral (20001:
// live only), NIP-09 deletion by `e` and `a`, NIP-40 expiration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, connect, newKey, makeEvent, now, show, hasPrefix } from './lib/relay.mjs';

const relay = await startRelay();
const c = await connect(relay.url);
after(() => c.end());

const ids = (evs) => evs.map((e) => e.id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function publishOk(ev, client = c) {
  const r = await client.publish(ev);
  assert.equal(r.ok, true, `OK true expected for kind ${ev.kind} ${ev.id}: ${show(r.raw)}`);
  return r;
}

// Two events of the same template and created_at with different ids, lower id first.
function tiePair(key, tmpl) {
  for (let i = 0; i < 100; i++) {
    const x = makeEvent(key, { ...tmpl, content: `${tmpl.content ?? ''} x${i}` });
    const y = makeEvent(key, { ...tmpl, content: `${tmpl.content ?? ''} y${i}` });
    if (x.id !== y.id) return x.id < y.id ? [x, y] : [y, x];
  }
  throw new Error('unreachable');
}

for (const kind of [0, 3, 10002]) {
  test(`replaceable kind ${kind}: newer replaces older, older-after-newer is not served`, async () => {
    const k = newKey();
    const t = now() - 100;
    const v1 = makeEvent(k, { kind, created_at: t, content: kind === 0 ? '{"name":"v1"}' : '', tags: kind === 10002 ? [['r', 'wss://one.example']] : [] });
    const v2 = makeEvent(k, { kind, created_at: t + 10, content: kind === 0 ? '{"name":"v2"}' : '', tags: kind === 10002 ? [['r', 'wss://two.example']] : [['p', newKey().pk]] });
    await publishOk(v1);
    assert.deepEqual(ids(await c.query({ authors: [k.pk], kinds: [kind] })), [v1.id]);
    await publishOk(v2);
    assert.deepEqual(ids(await c.query({ authors: [k.pk], kinds: [kind] })), [v2.id], 'newer replaced older');
    assert.deepEqual(await c.query({ ids: [v1.id] }), [], 'the replaced version is gone, also by id');
    const older = makeEvent(k, { kind, created_at: t + 5, content: kind === 0 ? '{"name":"old"}' : 'old' });
    const r = await c.publish(older);
    if (!r.ok) assert.ok(hasPrefix(r.message), `refusal uses a standard prefix: ${show(r.raw)}`);
    assert.deepEqual(ids(await c.query({ authors: [k.pk], kinds: [kind] })), [v2.id], 'older after newer is not served');
    assert.deepEqual(await c.query({ ids: [older.id] }), []);
    // another author's replaceable event of the same kind is independent
    const other = newKey();
    const o1 = makeEvent(other, { kind, created_at: t });
    await publishOk(o1);
    assert.deepEqual(ids(await c.query({ authors: [k.pk, other.pk], kinds: [kind] })).sort(), [v2.id, o1.id].sort());
  });

  test(`replaceable kind ${kind}: equal created_at keeps the lowest id, in either arrival order`, async () => {
    const t = now() - 50;
    const k1 = newKey();
    const [lo1, hi1] = tiePair(k1, { kind, created_at: t });
    await publishOk(hi1);
    await c.publish(lo1);
    assert.deepEqual(ids(await c.query({ authors: [k1.pk], kinds: [kind] })), [lo1.id], 'higher id first, then lower');
    const k2 = newKey();
    const [lo2, hi2] = tiePair(k2, { kind, created_at: t });
    await publishOk(lo2);
    await c.publish(hi2);
    assert.deepEqual(ids(await c.query({ authors: [k2.pk], kinds: [kind] })), [lo2.id], 'lower id first, then higher');
  });
}

test('addressable 30023: one version per d tag, newer replaces older, lowest id on ties', async () => {
  const k = newKey();
  const t = now() - 200;
  const x1 = makeEvent(k, { kind: 30023, created_at: t, tags: [['d', 'x']], content: 'x v1' });
  const x2 = makeEvent(k, { kind: 30023, created_at: t + 10, tags: [['d', 'x']], content: 'x v2' });
  const y1 = makeEvent(k, { kind: 30023, created_at: t + 1, tags: [['d', 'y']], content: 'y v1' });
  const noD = makeEvent(k, { kind: 30023, created_at: t + 2, tags: [], content: 'no d tag = empty d' });
  const emptyD = makeEvent(k, { kind: 30023, created_at: t + 3, tags: [['d', '']], content: 'explicit empty d' });
  await publishOk(x1);
  await publishOk(y1);
  await publishOk(x2);
  await publishOk(noD);
  await publishOk(emptyD);
  let got = await c.query({ authors: [k.pk], kinds: [30023] });
  assert.deepEqual(ids(got).sort(), [x2.id, y1.id, emptyD.id].sort(), 'one per d; missing d == empty d');
  assert.deepEqual(ids(await c.query({ authors: [k.pk], kinds: [30023], '#d': ['x'] })), [x2.id]);
  const xOld = makeEvent(k, { kind: 30023, created_at: t + 5, tags: [['d', 'x']], content: 'x older' });
  await c.publish(xOld);
  assert.deepEqual(ids(await c.query({ authors: [k.pk], '#d': ['x'] })), [x2.id], 'older version not served');
  const [lo, hi] = tiePair(k, { kind: 30023, created_at: t + 20, tags: [['d', 'y']] });
  await publishOk(hi);
  await c.publish(lo);
  assert.deepEqual(ids(await c.query({ authors: [k.pk], '#d': ['y'] })), [lo.id], 'tie: lowest id');
  // same d, another kind or author: independent
  const other = makeEvent(k, { kind: 30024, created_at: t, tags: [['d', 'x']] });
  await publishOk(other);
  got = await c.query({ authors: [k.pk], '#d': ['x'] });
  assert.deepEqual(ids(got).sort(), [x2.id, other.id].sort());
});

test('ephemeral 20001: delivered live to a subscriber, never returned by a later REQ', async () => {
  const k = newKey();
  const sub = await connect(relay.url);
  try {
    await sub.req('eph', { kinds: [20001], authors: [k.pk] });
    const from = sub.mark();
    const ev = makeEvent(k, { kind: 20001, content: 'here and gone' });
    await publishOk(ev);
    const got = await sub.waitEvent('eph', (e) => e.id === ev.id, { from });
    assert.deepEqual(got, ev);
    assert.deepEqual(await c.query({ authors: [k.pk] }), [], 'not stored');
    assert.deepEqual(await c.query({ ids: [ev.id] }), []);
    assert.deepEqual(await sub.query({ kinds: [20001], authors: [k.pk] }), []);
  } finally { await sub.end(); }
});

test('NIP-09: kind 5 with e tag deletes own events; the kind 5 stays; re-publishing is refused', async () => {
  const k = newKey();
  const t = now() - 60;
  const e1 = makeEvent(k, { created_at: t, content: 'to delete' });
  const e2 = makeEvent(k, { created_at: t + 1, content: 'to keep' });
  const e3 = makeEvent(k, { kind: 7, created_at: t + 2, content: '+', tags: [['e', e2.id]] });
  await publishOk(e1);
  await publishOk(e2);
  await publishOk(e3);
  const del = makeEvent(k, { kind: 5, created_at: t + 10, tags: [['e', e1.id], ['e', e3.id], ['k', '1'], ['k', '7']], content: 'oops' });
  await publishOk(del);
  assert.deepEqual(await c.query({ ids: [e1.id, e3.id] }), [], 'deleted events gone');
  assert.deepEqual(ids(await c.query({ authors: [k.pk] })).sort(), [e2.id, del.id].sort());
  assert.deepEqual(ids(await c.query({ kinds: [5], authors: [k.pk] })), [del.id], 'kind 5 still served');
  assert.deepEqual(ids(await c.query({ '#e': [e1.id] })), [del.id]);
  assert.equal(await c.count('n', { authors: [k.pk] }), 2, 'COUNT does not count deleted events');
  const again = await c.publish(e1);
  assert.equal(again.ok, false, `re-publishing a deleted event must be refused: ${show(again.raw)}`);
  assert.ok(hasPrefix(again.message), show(again.raw));
  assert.deepEqual(await c.query({ ids: [e1.id] }), []);
});

test('NIP-09: a kind 5 cannot delete another author\'s event', async () => {
  const victim = newKey();
  const attacker = newKey();
  const ev = makeEvent(victim, { content: 'mine' });
  await publishOk(ev);
  const del = makeEvent(attacker, { kind: 5, tags: [['e', ev.id]] });
  const r = await c.publish(del);
  if (!r.ok) assert.ok(hasPrefix(r.message), show(r.raw));
  assert.deepEqual(ids(await c.query({ ids: [ev.id] })), [ev.id], 'still served');
  // and a later re-publish by its author is still fine (duplicate, not refused)
  const r2 = await c.publish(ev);
  assert.equal(r2.ok, true, show(r2.raw));
});

test('NIP-09: a kind 5 published before its target blocks the target', async () => {
  const k = newKey();
  const t = now() - 30;
  const ev = makeEvent(k, { created_at: t, content: 'deleted in advance' });
  await publishOk(makeEvent(k, { kind: 5, created_at: t + 1, tags: [['e', ev.id]] }));
  const r = await c.publish(ev);
  assert.equal(r.ok, false, show(r.raw));
  assert.deepEqual(await c.query({ ids: [ev.id] }), []);
});

test('NIP-09: a tag deletes addressable versions up to the deletion created_at', async () => {
  const k = newKey();
  const t = now() - 100;
  const addr = `30023:${k.pk}:art`;
  const v1 = makeEvent(k, { kind: 30023, created_at: t, tags: [['d', 'art']], content: 'v1' });
  const keepOther = makeEvent(k, { kind: 30023, created_at: t, tags: [['d', 'other']], content: 'other d' });
  await publishOk(v1);
  await publishOk(keepOther);
  const del = makeEvent(k, { kind: 5, created_at: t + 10, tags: [['a', addr]] });
  await publishOk(del);
  assert.deepEqual(await c.query({ authors: [k.pk], '#d': ['art'] }), [], 'deleted by address');
  assert.deepEqual(ids(await c.query({ authors: [k.pk], '#d': ['other'] })), [keepOther.id], 'other address untouched');
  const older = makeEvent(k, { kind: 30023, created_at: t + 5, tags: [['d', 'art']], content: 'older than deletion' });
  const r = await c.publish(older);
  if (!r.ok) assert.ok(hasPrefix(r.message), show(r.raw));
  assert.deepEqual(await c.query({ authors: [k.pk], '#d': ['art'] }), [], 'a version older than the deletion is not served');
  const atDeletion = makeEvent(k, { kind: 30023, created_at: t + 10, tags: [['d', 'art']], content: 'same second as deletion' });
  await c.publish(atDeletion);
  assert.deepEqual(await c.query({ authors: [k.pk], '#d': ['art'] }), [], 'created_at equal to the deletion is deleted too');
  const newer = makeEvent(k, { kind: 30023, created_at: t + 20, tags: [['d', 'art']], content: 'after deletion' });
  await publishOk(newer);
  assert.deepEqual(ids(await c.query({ authors: [k.pk], '#d': ['art'] })), [newer.id], 'a newer version is served');
  // someone else's a-tag deletion of this address does nothing
  const other = newKey();
  await c.publish(makeEvent(other, { kind: 5, tags: [['a', addr]] }));
  assert.deepEqual(ids(await c.query({ authors: [k.pk], '#d': ['art'] })), [newer.id]);
});

test('NIP-09: a tag deletes a replaceable event (kind:pubkey:) up to the deletion created_at', async () => {
  const k = newKey();
  const t = now() - 100;
  const relays = makeEvent(k, { kind: 10002, created_at: t, tags: [['r', 'wss://x.example']] });
  await publishOk(relays);
  await publishOk(makeEvent(k, { kind: 5, created_at: t + 10, tags: [['a', `10002:${k.pk}:`]] }));
  assert.deepEqual(await c.query({ authors: [k.pk], kinds: [10002] }), [], 'deleted by address');
  const newer = makeEvent(k, { kind: 10002, created_at: t + 20, tags: [['r', 'wss://y.example']] });
  await publishOk(newer);
  assert.deepEqual(ids(await c.query({ authors: [k.pk], kinds: [10002] })), [newer.id]);
});

test('NIP-40: an already expired event is refused', async () => {
  const k = newKey();
  const ev = makeEvent(k, { created_at: now() - 20, tags: [['expiration', String(now() - 10)]], content: 'stale' });
  const r = await c.publish(ev);
  assert.equal(r.ok, false, show(r.raw));
  assert.ok(hasPrefix(r.message), show(r.raw));
  assert.deepEqual(await c.query({ ids: [ev.id] }), []);
});

test('NIP-40: an event is served until its expiration, then no more', async () => {
  const k = newKey();
  const exp = now() + 2;
  const ev = makeEvent(k, { tags: [['expiration', String(exp)]], content: 'short-lived' });
  const keep = makeEvent(k, { tags: [['expiration', String(now() + 3600)]], content: 'long-lived' });
  await publishOk(ev);
  await publishOk(keep);
  assert.deepEqual(ids(await c.query({ ids: [ev.id] })), [ev.id], 'served before expiry');
  while (now() <= exp) await sleep(200);
  await sleep(300);
  assert.deepEqual(await c.query({ ids: [ev.id] }), [], 'not served after expiry');
  assert.deepEqual(ids(await c.query({ authors: [k.pk] })), [keep.id]);
  assert.equal(await c.count('n', { authors: [k.pk] }), 1, 'COUNT does not count expired events');
});
