// NIP-01 against the real binary: EVENT/OK, duplicates, bad ids and signatures,
// REQ/EVENT/EOSE with every filter field, OR'ed filters, CLOSE, CLOSED for invalid
// filters, live subscriptions across connections, and the canonical serialisation
// (JSON.stringify form from nostr-tools and the strict NIP-01 form built by hand).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { schnorr } from '@noble/curves/secp256k1';
import {
  startRelay, connect, newKey, makeEvent, tamper, now, randomHex, verifyEvent,
  signStrict, verifyStrict, strictId, getEventHash, hexToBytes, bytesToHex, show,
} from './lib/relay.mjs';

const relay = await startRelay();
const c = await connect(relay.url);
after(() => c.end());

const ids = (evs) => evs.map((e) => e.id);
const sortedIds = (evs) => ids(evs).slice().sort();
// NIP-01 order: newest first, ties by lowest id first.
const newestFirst = (evs) => evs.every((e, i) => i === 0 || evs[i - 1].created_at > e.created_at ||
  (evs[i - 1].created_at === e.created_at && evs[i - 1].id < e.id));

async function publishOk(client, ev) {
  const r = await client.publish(ev);
  assert.equal(r.ok, true, `OK true expected for ${ev.id}, got ${show(r.raw)}`);
  return r;
}

test('EVENT is answered ["OK", id, true, msg] and the event is served back unchanged', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: 'hello g1relay', tags: [['t', 'hello']] });
  const r = await c.publish(ev);
  assert.equal(r.raw.length, 4, `OK must have 4 elements: ${show(r.raw)}`);
  assert.equal(r.ok, true, show(r.raw));
  assert.equal(typeof r.message, 'string');
  const got = await c.query({ ids: [ev.id] });
  assert.equal(got.length, 1);
  assert.deepEqual(got[0], ev);
  assert.ok(verifyEvent(got[0]), 'served event verifies with nostr-tools');
});

test('duplicate EVENT → OK true "duplicate: …", stored once', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: 'twice' });
  await publishOk(c, ev);
  const r = await c.publish(ev);
  assert.equal(r.ok, true, show(r.raw));
  assert.match(r.message, /^duplicate:/, show(r.raw));
  // From another connection too
  const c2 = await connect(relay.url);
  const r2 = await c2.publish(ev);
  await c2.end();
  assert.equal(r2.ok, true);
  assert.match(r2.message, /^duplicate:/);
  const got = await c.query({ authors: [k.pk] });
  assert.deepEqual(ids(got), [ev.id]);
});

test('bad id → OK false "invalid: …", nothing stored', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: 'original' });
  const changedContent = tamper(ev, { content: 'changed after signing' });
  let r = await c.publish(changedContent);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  const otherId = tamper(ev, { id: randomHex() });
  r = await c.publish(otherId);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  const changedTime = tamper(ev, { created_at: ev.created_at + 1 });
  r = await c.publish(changedTime);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/);
  assert.deepEqual(await c.query({ authors: [k.pk] }), []);
  assert.deepEqual(await c.query({ ids: [ev.id, otherId.id] }), []);
});

test('bad signature → OK false "invalid: …", nothing stored', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: 'signed' });
  const flipped = tamper(ev, { sig: (ev.sig[0] === '0' ? '1' : '0') + ev.sig.slice(1) });
  let r = await c.publish(flipped);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  // A valid BIP-340 signature of the same id, but by another key.
  const other = newKey();
  const wrongKey = tamper(ev, { sig: bytesToHex(schnorr.sign(hexToBytes(ev.id), other.sk)) });
  r = await c.publish(wrongKey);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^invalid:/, show(r.raw));
  // Pubkey swapped to the other key: id no longer matches, signature neither.
  r = await c.publish(tamper(ev, { pubkey: other.pk }));
  assert.equal(r.ok, false);
  assert.match(r.message, /^invalid:/);
  assert.deepEqual(await c.query({ ids: [ev.id] }), []);
  assert.deepEqual(await c.query({ authors: [k.pk, other.pk] }), []);
  // The genuine event is still accepted afterwards (bad copies did not poison it).
  await publishOk(c, ev);
});

// A small data set shared by the filter tests.
const A = newKey();
const B = newKey();
const T0 = now() - 1000;
const refId = randomHex();
const a1 = makeEvent(A, { kind: 1, created_at: T0 + 1, tags: [['t', 'alpha']], content: 'a1' });
const a2 = makeEvent(A, { kind: 1, created_at: T0 + 2, tags: [['e', refId], ['p', B.pk]], content: 'a2' });
const a3 = makeEvent(A, { kind: 7, created_at: T0 + 3, tags: [['e', a1.id], ['p', B.pk]], content: '+' });
const b1 = makeEvent(B, { kind: 1, created_at: T0 + 4, tags: [['t', 'beta'], ['t', 'alpha']], content: 'b1' });
const b2 = makeEvent(B, { kind: 4, created_at: T0 + 5, tags: [['p', A.pk]], content: 'b2' });
const both = [A.pk, B.pk];

test('filter data set is accepted', async () => {
  for (const ev of [a1, a2, a3, b1, b2]) await publishOk(c, ev);
});

async function expectQuery(filters, expected, label) {
  const got = await c.query(...filters);
  assert.deepEqual(sortedIds(got), sortedIds(expected), `${label}: got ${ids(got).join(',')}`);
  assert.equal(new Set(ids(got)).size, got.length, `${label}: an event was delivered twice`);
  // One filter: newest first. Several filters: NIP-01 does not order the merged stream.
  if (filters.length === 1) assert.ok(newestFirst(got), `${label}: not newest first: ${got.map((e) => e.created_at).join(',')}`);
  return got;
}

test('REQ by ids, authors, kinds: exact results, newest first, then EOSE', async () => {
  const got = await expectQuery([{ ids: [a1.id, b2.id] }], [a1, b2], 'ids');
  assert.deepEqual(ids(got), [b2.id, a1.id], 'ids: newest first');
  const byA = await expectQuery([{ authors: [A.pk] }], [a1, a2, a3], 'authors');
  assert.deepEqual(ids(byA), [a3.id, a2.id, a1.id]);
  await expectQuery([{ authors: both, kinds: [7] }], [a3], 'authors+kinds 7');
  await expectQuery([{ authors: both, kinds: [1] }], [a1, a2, b1], 'authors+kinds 1');
  await expectQuery([{ authors: both, kinds: [1, 4] }], [a1, a2, b1, b2], 'kinds 1,4');
  await expectQuery([{ authors: [B.pk], kinds: [7] }], [], 'no match');
  // kinds alone: contains our kind-4 event and nothing of another kind
  const k4 = await c.query({ kinds: [4] });
  assert.ok(ids(k4).includes(b2.id));
  assert.ok(k4.every((e) => e.kind === 4));
  // an empty list matches nothing
  await expectQuery([{ ids: [] }], [], 'empty ids list');
});

test('REQ by tags #e #p #t (OR inside one tag, AND across fields)', async () => {
  await expectQuery([{ '#e': [a1.id] }], [a3], '#e');
  await expectQuery([{ '#e': [refId, a1.id] }], [a2, a3], '#e two values');
  await expectQuery([{ '#p': [B.pk] }], [a2, a3], '#p');
  await expectQuery([{ '#p': [A.pk] }], [b2], '#p A');
  await expectQuery([{ '#t': ['alpha'], authors: both }], [a1, b1], '#t alpha');
  await expectQuery([{ '#t': ['beta'] }], [b1], '#t beta');
  await expectQuery([{ '#t': ['alpha', 'beta'], authors: both }], [a1, b1], '#t alpha|beta (b1 once)');
  await expectQuery([{ '#t': ['alpha'], authors: [B.pk], kinds: [1] }], [b1], '#t+authors+kinds');
  await expectQuery([{ '#t': ['alpha'], '#p': [B.pk] }], [], '#t AND #p');
  await expectQuery([{ '#t': ['gamma-' + randomHex(4)] }], [], '#t unknown');
});

test('REQ since/until are inclusive', async () => {
  await expectQuery([{ authors: both, since: T0 + 3 }], [a3, b1, b2], 'since');
  await expectQuery([{ authors: both, until: T0 + 2 }], [a1, a2], 'until');
  await expectQuery([{ authors: both, since: T0 + 2, until: T0 + 4 }], [a2, a3, b1], 'since+until');
  await expectQuery([{ authors: both, since: T0 + 6 }], [], 'since after all');
  await expectQuery([{ authors: both, since: T0 + 4, until: T0 + 3 }], [], 'since > until');
});

test('REQ limit returns exactly the newest N, newest first', async () => {
  const got = await expectQuery([{ authors: both, limit: 2 }], [b2, b1], 'limit 2');
  assert.deepEqual(ids(got), [b2.id, b1.id]);
  const k = newKey();
  const base = now() - 500;
  const evs = [];
  for (let i = 0; i < 10; i++) evs.push(makeEvent(k, { created_at: base + i * 7, content: `n${i}` }));
  const shuffled = [evs[3], evs[9], evs[0], evs[5], evs[1], evs[8], evs[2], evs[7], evs[4], evs[6]];
  for (const ev of shuffled) await publishOk(c, ev);
  const top3 = await c.query({ authors: [k.pk], limit: 3 });
  assert.deepEqual(ids(top3), [evs[9].id, evs[8].id, evs[7].id]);
  const all = await c.query({ authors: [k.pk], limit: 100 });
  assert.deepEqual(ids(all), evs.slice().reverse().map((e) => e.id));
  const one = await c.query({ authors: [k.pk], until: base + 30, limit: 1 });
  assert.deepEqual(ids(one), [evs[4].id]);
  const zero = await c.query({ authors: [k.pk], limit: 0 });
  assert.deepEqual(zero, [], 'limit 0: no stored events');
});

test('REQ ties on created_at: lowest id first, and limit keeps the lowest ids (NIP-01)', async () => {
  const tk = newKey();
  const base = now() - 400;
  const ties = [];
  for (let i = 0; i < 6; i++) ties.push(makeEvent(tk, { created_at: base, content: `tie${i}` }));
  ties.push(makeEvent(tk, { created_at: base + 1, content: 'newer' }));
  for (const ev of ties) await publishOk(c, ev);
  const tieIds = ids(ties.slice(0, 6)).sort();
  assert.deepEqual(ids(await c.query({ authors: [tk.pk] })), [ties[6].id, ...tieIds], 'ties ordered by id');
  assert.deepEqual(ids(await c.query({ authors: [tk.pk], limit: 3 })), [ties[6].id, ...tieIds.slice(0, 2)], 'limit on ties keeps the lowest ids');
});

test('several filters are OR\'ed, no event delivered twice', async () => {
  await expectQuery([{ ids: [a1.id] }, { authors: [B.pk] }], [a1, b1, b2], 'ids|authors');
  await expectQuery([{ authors: [A.pk] }, { kinds: [1], authors: both }], [a1, a2, a3, b1], 'overlapping');
  await expectQuery([{ '#t': ['alpha'] , authors: both }, { '#p': [B.pk] }, { ids: [a1.id, a3.id] }], [a1, b1, a2, a3], 'three filters');
});

test('CLOSE stops delivery on that subscription only', async () => {
  const k = newKey();
  const sub = await connect(relay.url);
  try {
    const r1 = await sub.reqEnd('one', { authors: [k.pk] });
    const r2 = await sub.reqEnd('two', { authors: [k.pk] });
    assert.equal(r1.end[0], 'EOSE');
    assert.equal(r2.end[0], 'EOSE');
    const first = makeEvent(k, { content: 'before close' });
    const from1 = sub.mark();
    await publishOk(c, first);
    await sub.waitEvent('one', (e) => e.id === first.id, { from: from1 });
    await sub.waitEvent('two', (e) => e.id === first.id, { from: from1 });
    sub.close('one');
    await sub.assertAlive(); // the CLOSE has been processed once a later REQ is answered
    const from2 = sub.mark();
    const second = makeEvent(k, { content: 'after close' });
    await publishOk(c, second);
    await sub.waitEvent('two', (e) => e.id === second.id, { from: from2 });
    const late = await sub.collectFor((m) => Array.isArray(m) && m[1] === 'one', 300, from2);
    assert.deepEqual(late, [], `closed subscription still delivered: ${late.map(show).join(' ')}`);
  } finally { await sub.end(); }
});

test('a REQ reusing an open subscription id replaces it', async () => {
  const k1 = newKey();
  const k2 = newKey();
  const sub = await connect(relay.url);
  try {
    await sub.req('s', { authors: [k1.pk] });
    await sub.req('s', { authors: [k2.pk] });
    const from = sub.mark();
    const e1 = makeEvent(k1, { content: 'old filter' });
    const e2 = makeEvent(k2, { content: 'new filter' });
    await publishOk(c, e1);
    await publishOk(c, e2);
    await sub.waitEvent('s', (e) => e.id === e2.id, { from });
    const got = await sub.collectFor((m) => Array.isArray(m) && m[0] === 'EVENT' && m[1] === 's', 200, from);
    assert.deepEqual(got.map((m) => m[2].id), [e2.id], 'only the new filter applies');
  } finally { await sub.end(); }
});

test('CLOSED "invalid: …" for invalid filters, connection stays usable', async () => {
  const cases = [
    ['kinds-not-array', { kinds: 'x' }],
    ['kinds-strings', { kinds: ['1'] }],
    ['ids-not-hex', { ids: ['not-hex-at-all'] }],
    ['authors-not-array', { authors: A.pk }],
    ['since-string', { since: 'yesterday' }],
    ['until-string', { until: 'later' }],
    ['limit-negative', { limit: -5 }],
    ['tag-not-array', { '#e': a1.id }],
    ['tag-values-numbers', { '#t': [1, 2] }],
    ['filter-not-object', 42],
    ['filter-array', [{ kinds: [1] }]],
  ];
  for (const [subid, filter] of cases) {
    const from = c.mark();
    c.send(['REQ', subid, filter]);
    const m = await c.waitFor((x) => Array.isArray(x) && ['CLOSED', 'EOSE', 'EVENT'].includes(x[0]) && x[1] === subid,
      { from, what: `CLOSED for ${subid}` });
    assert.equal(m[0], 'CLOSED', `${subid}: expected CLOSED, got ${show(m)}`);
    assert.equal(m.length, 3, show(m));
    assert.match(m[2], /^invalid:/, `${subid}: ${show(m)}`);
    await c.assertAlive(`after ${subid}`);
  }
  // A good filter among bad ones does not save the REQ
  const { end } = await c.reqEnd('mixed', { kinds: [1] }, { kinds: 'bad' });
  assert.equal(end[0], 'CLOSED', show(end));
  assert.match(end[2], /^invalid:/);
});

test('live: an event from connection A reaches matching subscriptions on B only', async () => {
  const author = newKey();
  const stranger = newKey();
  const tag = 'live-' + randomHex(4);
  const pub = await connect(relay.url);
  const subc = await connect(relay.url);
  try {
    const subs = {
      byKindAuthor: [{ kinds: [1], authors: [author.pk] }],
      byTag: [{ '#t': [tag] }],
      byP: [{ '#p': [stranger.pk] }],
      twoFilters: [{ kinds: [1], authors: [author.pk] }, { '#t': [tag] }], // both match: deliver once
      otherKind: [{ kinds: [7], authors: [author.pk] }],
      otherAuthor: [{ authors: [stranger.pk] }],
      otherTag: [{ '#t': [tag + 'x'] }],
      past: [{ authors: [author.pk], until: now() - 3600 }],
    };
    for (const [id, f] of Object.entries(subs)) {
      const { events, end } = await subc.reqEnd(id, ...f);
      assert.equal(end[0], 'EOSE', `${id}: ${show(end)}`);
      assert.deepEqual(events, []);
    }
    const from = subc.mark();
    const ev = makeEvent(author, { kind: 1, tags: [['t', tag], ['p', stranger.pk]], content: 'live!' });
    await publishOk(pub, ev);
    for (const id of ['byKindAuthor', 'byTag', 'byP', 'twoFilters']) {
      const got = await subc.waitEvent(id, (e) => e.id === ev.id, { from });
      assert.deepEqual(got, ev);
    }
    const all = await subc.collectFor((m) => Array.isArray(m) && m[0] === 'EVENT', 300, from);
    const per = {};
    for (const m of all) per[m[1]] = (per[m[1]] ?? 0) + 1;
    assert.deepEqual(per, { byKindAuthor: 1, byTag: 1, byP: 1, twoFilters: 1 },
      'each matching subscription gets the event exactly once, the others never');
    assert.ok(verifyEvent(all[0][2]));
  } finally { await pub.end(); await subc.end(); }
});

test('live: refused, duplicate and older-replaceable events are not broadcast', async () => {
  const k = newKey();
  const sub = await connect(relay.url);
  try {
    await sub.req('w', { authors: [k.pk] });
    const from = sub.mark();
    const ev = makeEvent(k, { content: 'once' });
    await publishOk(c, ev);
    await sub.waitEvent('w', (e) => e.id === ev.id, { from });
    await c.publish(ev); // duplicate
    await c.publish(tamper(makeEvent(k, { content: 'forged' }), { content: 'forged!' })); // bad id
    const v2 = makeEvent(k, { kind: 0, created_at: now() - 10, content: '{"name":"new"}' });
    const v1 = makeEvent(k, { kind: 0, created_at: now() - 20, content: '{"name":"old"}' });
    await publishOk(c, v2);
    await c.publish(v1); // older than the stored version
    await sub.waitEvent('w', (e) => e.id === v2.id, { from });
    const got = await sub.collectFor((m) => Array.isArray(m) && m[0] === 'EVENT' && m[1] === 'w', 300, from);
    assert.deepEqual(got.map((m) => m[2].id), [ev.id, v2.id], 'only the two stored events were delivered, once each');
  } finally { await sub.end(); }
});

test('an event acknowledged just before a REQ is delivered once: stored or live, not both', async () => {
  const pub = await connect(relay.url);
  const sub = await connect(relay.url);
  const twice = [];
  try {
    for (let i = 0; i < 50; i++) {
      const k = newKey();
      const ev = makeEvent(k, { content: `race ${i}` });
      await publishOk(pub, ev);
      const sid = 'r' + i;
      const { events, end, endIndex } = await sub.reqEnd(sid, { authors: [k.pk] });
      assert.equal(end[0], 'EOSE');
      await new Promise((r) => setTimeout(r, 20));
      const live = sub.liveEvents(sid, endIndex + 1);
      if (events.length + live.length !== 1) twice.push(`#${i}: ${events.length} stored + ${live.length} live`);
      sub.close(sid);
    }
  } finally { await pub.end(); await sub.end(); }
  assert.deepEqual(twice, [], `events delivered twice on one subscription (stored, then again live after EOSE): ${twice.length}/50`);
});

test('CLOSE of an unknown subscription is harmless', async () => {
  c.close('never-opened');
  c.send(['CLOSE', 'x'.repeat(200)]);
  await c.assertAlive();
});

// Canonical serialisation (BRIEF §1): content and tags with characters escaped
// differently by the strict NIP-01 rule and by JSON.stringify.
const trickyContent = 'line1\nline2 "quoted" back\\slash\ttab ctrl\x01 del\x7f bell\x07 é ü 中文 🎉 \u2028 \r\b\f end';

test('canonical: nostr-tools (JSON.stringify form) event with control chars, DEL and emoji round-trips and verifies', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: trickyContent, tags: [['t', 'x\x01y\x7f🎉'], ['alt', 'tab\there "q" \\ \x1f']] });
  assert.notEqual(ev.id, strictId(ev), 'precondition: the two serialisations differ for this event');
  const r = await c.publish(ev);
  assert.equal(r.ok, true, show(r.raw));
  const from = c.mark();
  const got = await c.query({ ids: [ev.id] });
  assert.equal(got.length, 1);
  const frame = c.messages.slice(from).find((m) => Array.isArray(m) && m[0] === 'EVENT' && m[2]?.id === ev.id);
  assert.ok(!frame.lenient, 'the served frame is valid JSON for JSON.parse');
  assert.equal(got[0].content, trickyContent);
  assert.deepEqual(got[0].tags, ev.tags);
  assert.equal(getEventHash(got[0]), ev.id, 'nostr-tools recomputes the same id from the served event');
  assert.ok(verifyEvent(got[0]), 'nostr-tools verifyEvent passes on the served event');
});

test('canonical: strict NIP-01 form event with raw 0x01 is accepted and served with the same id', async () => {
  const k = newKey();
  const ev = signStrict(k, { content: 'strict\x01form\x7f "q" \\ \n 🎉', tags: [['t', 's\x01t']] });
  assert.ok(verifyStrict(ev), 'precondition: strict id and signature');
  assert.notEqual(ev.id, getEventHash(ev), 'precondition: differs from the JSON.stringify id');
  const r = await c.publish(ev);
  assert.equal(r.ok, true, show(r.raw));
  const got = await c.query({ ids: [ev.id] });
  assert.equal(got.length, 1, 'served back');
  assert.equal(got[0].content, ev.content);
  assert.deepEqual(got[0].tags, ev.tags);
  assert.ok(verifyStrict(got[0]), 'the served event verifies over the strict serialisation');
  // A plain event's strict and stringify ids coincide; both forms of a tricky event are distinct events.
  const twin = makeEvent(k, { content: ev.content, tags: ev.tags, created_at: ev.created_at });
  const r2 = await c.publish(twin);
  assert.equal(r2.ok, true, show(r2.raw));
  const both2 = await c.query({ authors: [k.pk] });
  assert.deepEqual(sortedIds(both2), [ev.id, twin.id].sort());
});

test('canonical: unicode escapes on the wire are decoded before hashing', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: 'é🎉\x01' });
  // Same event, but the JSON text escapes every non-ASCII character as \uXXXX.
  const wire = JSON.stringify(['EVENT', ev]).replace(/[\u007f-\uffff]/g,
    (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
  const from = c.mark();
  c.send(wire);
  const m = await c.waitFor((x) => Array.isArray(x) && x[0] === 'OK' && x[1] === ev.id, { from });
  assert.equal(m[2], true, show(m));
  const got = await c.query({ ids: [ev.id] });
  assert.ok(verifyEvent(got[0]));
});
