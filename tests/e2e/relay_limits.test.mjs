// Configurable limits against the real binary: subscriptions per connection, filters
// per REQ/COUNT, subscription id length, max_limit clamp and default_limit, tags per
// event, content length, message length, and pending output bytes (a slow reader is cut
// off while other clients keep being served).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRelay, connect, newKey, makeEvent, now, show, hasPrefix, rawWebSocket, randomHex, TIME_FACTOR, processMemory,
} from './lib/relay.mjs';

const relay = await startRelay({
  config: {
    max_subscriptions: 3, max_filters: 3, max_subid_length: 10, max_limit: 10, default_limit: 5,
    max_event_tags: 5, max_content_length: 1000, max_message_length: 8192,
  },
});
// Started here, before any test is declared: a top-level await between two tests lets
// node's runner finish the root test (and run its after hooks, which stop the relays)
// while the module is still waiting, so a relay started later would never be stopped.
const slowRelay = await startRelay({ config: { max_output_bytes: 1048576 } });
const c = await connect(relay.url);
after(() => c.end());

function assertClosed(end, subid, label) {
  assert.equal(end[0], 'CLOSED', `${label}: expected CLOSED, got ${show(end)}`);
  assert.equal(end[1], subid, label);
  assert.ok(hasPrefix(end[2]), `${label}: machine-readable prefix expected: ${show(end)}`);
}

test('max_subscriptions: the extra REQ gets CLOSED; replacing or closing frees a slot', async () => {
  const x = await connect(relay.url);
  try {
    for (const s of ['s1', 's2', 's3']) assert.equal((await x.reqEnd(s, { kinds: [1], limit: 1 })).end[0], 'EOSE', s);
    const { end } = await x.reqEnd('s4', { kinds: [1], limit: 1 });
    assertClosed(end, 's4', '4th subscription');
    // reusing an open id replaces it and is not an extra subscription
    assert.equal((await x.reqEnd('s2', { kinds: [7], limit: 1 })).end[0], 'EOSE', 'replacing s2');
    x.close('s1');
    assert.equal((await x.reqEnd('s5', { kinds: [1], limit: 1 })).end[0], 'EOSE', 'after CLOSE s1');
    assertClosed((await x.reqEnd('s6', { kinds: [1], limit: 1 })).end, 's6', 'full again');
    // the limit is per connection
    const y = await connect(relay.url);
    for (const s of ['s1', 's2', 's3']) assert.equal((await y.reqEnd(s, { kinds: [1], limit: 1 })).end[0], 'EOSE', `other connection ${s}`);
    await y.end();
  } finally { await x.end(); }
});

test('max_filters: REQ or COUNT with more filters than allowed → CLOSED', async () => {
  const f = (k) => ({ kinds: [k] });
  assert.equal((await c.reqEnd('f3', f(1), f(2), f(3))).end[0], 'EOSE');
  c.close('f3');
  assertClosed((await c.reqEnd('f4', f(1), f(2), f(3), f(4))).end, 'f4', '4 filters');
  const m = await c.countEnd('cf4', f(1), f(2), f(3), f(4));
  assertClosed(m, 'cf4', 'COUNT with 4 filters');
  await c.assertAlive();
});

test('max_subid_length: a longer subscription id is refused (CLOSED or NOTICE)', async () => {
  const ok10 = 'abcdefghij';
  assert.equal((await c.reqEnd(ok10, { kinds: [1], limit: 1 })).end[0], 'EOSE');
  c.close(ok10);
  for (const long of ['abcdefghijk', 'x'.repeat(300)]) {
    const from = c.mark();
    c.send(['REQ', long, { kinds: [1], limit: 1 }]);
    const m = await c.waitFor((x) => Array.isArray(x) && (x[0] === 'NOTICE' || (x[1] === long && ['CLOSED', 'EOSE', 'EVENT'].includes(x[0]))), { from });
    if (m[0] === 'CLOSED') assertClosed(m, long, `${long.length}-char subid`);
    else assert.equal(m[0], 'NOTICE', `${long.length}-char subid accepted: ${show(m)}`);
    await c.assertAlive();
  }
  // an empty id is refused too (NOTICE or CLOSED)
  const from = c.mark();
  c.send(['REQ', '', { kinds: [1], limit: 1 }]);
  const m = await c.waitFor((x) => Array.isArray(x) && (x[0] === 'NOTICE' || (x[1] === '' && ['CLOSED', 'EOSE'].includes(x[0]))), { from });
  assert.notEqual(m[0], 'EOSE', `empty subscription id accepted: ${show(m)}`);
  await c.assertAlive();
});

test('max_limit clamps larger limits; default_limit applies without limit', async () => {
  const k = newKey();
  const t = now() - 1000;
  const evs = [];
  for (let i = 0; i < 15; i++) evs.push(makeEvent(k, { created_at: t + i, content: `e${i}` }));
  const results = await c.publishMany(evs);
  results.forEach((r, i) => assert.equal(r.ok, true, `event ${i}: ${show(r.raw)}`));
  const newest = evs.slice().reverse().map((e) => e.id);
  assert.deepEqual((await c.query({ authors: [k.pk], limit: 100 })).map((e) => e.id), newest.slice(0, 10), 'clamped to max_limit 10');
  assert.deepEqual((await c.query({ authors: [k.pk], limit: 3 })).map((e) => e.id), newest.slice(0, 3));
  assert.deepEqual((await c.query({ authors: [k.pk] })).map((e) => e.id), newest.slice(0, 5), 'default_limit 5');
  // the limit applies per filter
  const two = await c.query({ authors: [k.pk], limit: 2 }, { authors: [k.pk], until: t + 4, limit: 2 });
  assert.deepEqual(two.map((e) => e.id).sort(), [evs[14].id, evs[13].id, evs[4].id, evs[3].id].sort());
  assert.equal(await c.count('n', { authors: [k.pk] }), 15, 'COUNT is not limited');
});

test('max_event_tags: one tag too many → OK false "invalid: …"', async () => {
  const k = newKey();
  const tags = (n) => Array.from({ length: n }, (_, i) => ['t', `tag${i}`]);
  const five = makeEvent(k, { tags: tags(5) });
  assert.equal((await c.publish(five)).ok, true);
  const six = makeEvent(k, { tags: tags(6) });
  const r = await c.publish(six);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  assert.deepEqual((await c.query({ authors: [k.pk] })).map((e) => e.id), [five.id]);
});

test('max_content_length (bytes): one byte too many → OK false "invalid: …"', async () => {
  const k = newKey();
  const fits = makeEvent(k, { content: 'a'.repeat(1000) });
  assert.equal((await c.publish(fits)).ok, true);
  const r = await c.publish(makeEvent(k, { content: 'a'.repeat(1001) }));
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  const utf8 = makeEvent(k, { content: 'é'.repeat(501) }); // 501 characters, 1002 bytes
  const r2 = await c.publish(utf8);
  assert.equal(r2.ok, false, `content length counts bytes: ${show(r2.raw)}`);
  assert.deepEqual((await c.query({ authors: [k.pk] })).map((e) => e.id), [fits.id]);
});

test('max_message_length: a larger message is refused, the connection stays usable', async () => {
  const k = newKey();
  const ev = makeEvent(k, { tags: Array.from({ length: 4 }, () => ['e', randomHex(1200)]) }); // ~10 KB, 4 tags
  const from = c.mark();
  c.send(['EVENT', ev]);
  const m = await c.waitFor((x) => Array.isArray(x) && (x[0] === 'NOTICE' || (x[0] === 'OK' && x[1] === ev.id)), { from });
  if (m[0] === 'OK') assert.equal(m[2], false, show(m));
  await c.assertAlive();
  assert.deepEqual(await c.query({ authors: [k.pk] }), []);
});

// Slow readers: a relay with a small output budget per connection.
const BIG = 60000;

async function otherClientsServed(client, k, ms) {
  const deadline = Date.now() + ms;
  let rounds = 0;
  while (Date.now() < deadline) {
    const t0 = Date.now();
    const ev = makeEvent(k, { content: `still served ${rounds}` });
    const r = await client.publish(ev, { timeout: 3000 });
    assert.equal(r.ok, true, show(r.raw));
    const got = await client.query({ ids: [ev.id] });
    assert.equal(got.length, 1);
    const dt = Date.now() - t0;
    assert.ok(dt < 2000 * TIME_FACTOR, `a publish+query took ${dt} ms while a slow reader was stalled`);
    rounds++;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return rounds;
}

// A stored result can be bounded two ways: cut the reader off once max_output_bytes are
// queued, or pause the query while its queue is full (nothing is lost, nothing piles up).
// Both keep the relay's memory bounded; the test accepts either, and checks it from outside:
// anonymous memory of the relay may not grow by the size of the result.
test('slow reader: a large REQ result to a client that stops reading does not pile up (cut off or paused); others keep being served', async () => {
  const pub = await connect(slowRelay.url);
  const k = newKey();
  const evs = [];
  for (let i = 0; i < 64; i++) evs.push(makeEvent(k, { created_at: now() - 100 + i, content: String(i % 10).repeat(BIG) }));
  for (let i = 0; i < evs.length; i += 16) {
    const rs = await pub.publishMany(evs.slice(i, i + 16));
    rs.forEach((r) => assert.equal(r.ok, true, show(r.raw)));
  }
  await pub.query({ authors: [k.pk], limit: 100 }); // warm the read path once
  const base = processMemory(slowRelay.proc.pid);
  const slow = await rawWebSocket(slowRelay.port, { pauseAfterHandshake: true });
  const SUBS = 8;
  for (let i = 0; i < SUBS; i++) slow.sendText(JSON.stringify(['REQ', 'big' + i, { authors: [k.pk], limit: 100 }]));
  const fullSize = SUBS * evs.length * BIG;
  let peak = base.rssAnon;
  const sampler = setInterval(() => { const m = processMemory(slowRelay.proc.pid); if (m) peak = Math.max(peak, m.rssAnon); }, 50);
  const rounds = await otherClientsServed(pub, newKey(), 2500);
  clearInterval(sampler);
  assert.ok(rounds >= 3);
  const growth = peak - base.rssAnon;
  assert.ok(growth < fullSize / 2, `relay anonymous memory grew by ${(growth / 1e6).toFixed(1)} MB while a ${(fullSize / 1e6).toFixed(1)} MB result waited for a stalled reader`);
  slow.resume();
  const cut = await slow.waitClosed(3000 * TIME_FACTOR);
  if (cut) {
    assert.ok(slow.stats.bytesAfterHandshake < fullSize, `cut off, yet got everything (${slow.stats.bytesAfterHandshake} bytes)`);
  } else {
    // paused, not cut: once it reads again it must get every result, complete and in order
    const deadline = Date.now() + 10000 * TIME_FACTOR;
    const eoseCount = () => slow.messages.filter((m) => m.startsWith('["EOSE"')).length;
    while (eoseCount() < SUBS && Date.now() < deadline && !slow.stats.closed) await new Promise((r) => setTimeout(r, 100));
    assert.equal(eoseCount(), SUBS, `a paused reader did not get all its results (${slow.messages.length} messages, closed: ${slow.stats.closed})`);
    const parsed = slow.messages.map((m) => JSON.parse(m)).filter((m) => m[0] === 'EVENT');
    for (let i = 0; i < SUBS; i++) {
      const got = parsed.filter((m) => m[1] === 'big' + i).map((m) => m[2].id);
      assert.deepEqual(got, evs.slice().reverse().map((e) => e.id), `subscription big${i}: complete, newest first`);
    }
    slow.socket.destroy();
  }
  assert.ok(slowRelay.running(), 'relay still running');
  await pub.assertAlive();
  await pub.end();
});

test('slow reader: a stalled live subscriber is cut off during a fan-out; other subscribers get everything', async () => {
  const k = newKey();
  const pub = await connect(slowRelay.url);
  const fast = await connect(slowRelay.url);
  await fast.req('live', { authors: [k.pk] });
  const fastFrom = fast.mark();
  const slow = await rawWebSocket(slowRelay.port, { pauseAfterHandshake: true });
  for (let i = 0; i < 4; i++) slow.sendText(JSON.stringify(['REQ', 'live' + i, { authors: [k.pk] }]));
  await new Promise((r) => setTimeout(r, 200)); // let the subscriptions register
  const evs = [];
  for (let i = 0; i < 100; i++) evs.push(makeEvent(k, { content: String(i % 10).repeat(BIG), tags: [['n', String(i)]] }));
  for (let i = 0; i < evs.length; i += 10) {
    const rs = await pub.publishMany(evs.slice(i, i + 10), { timeout: 10000 });
    rs.forEach((r) => assert.equal(r.ok, true, show(r.raw)));
  }
  // the fast subscriber receives all 100 live events
  await fast.waitFor(() => fast.liveEvents('live', fastFrom).length >= evs.length, { from: fastFrom, timeout: 15000, what: '100 live events' });
  assert.equal(new Set(fast.liveEvents('live', fastFrom).map((e) => e.id)).size, evs.length);
  slow.resume();
  const cut = await slow.waitClosed(10000);
  assert.ok(cut, `the stalled subscriber was not disconnected (read ${slow.stats.bytesAfterHandshake} bytes)`);
  assert.ok(slow.stats.bytesAfterHandshake < 4 * evs.length * BIG, 'the stalled subscriber got everything');
  assert.ok(slowRelay.running());
  await pub.end();
  await fast.end();
});
