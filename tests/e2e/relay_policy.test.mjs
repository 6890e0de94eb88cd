// Acceptance policy against the real binary: NIP-45 COUNT, NIP-13 minimum proof of
// work ("pow: …"), and the created_at window ("invalid: …" too far in the future or
// the past), each with its own relay configuration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
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

// NIP-45 "HyperLogLog", computed here from the NIP's text (not from the relay's code):
// offset from the first tag value, then for each counted event register pubkey[offset]
// keeps the largest (leading zero bits from byte offset+1) + 1.
function nip45Offset(value) {
  let hex;
  if (/^[0-9a-f]{64}$/.test(value)) hex = value;
  else if (/^\d+:[0-9a-f]{64}:/.test(value)) hex = value.split(':')[1];
  else hex = crypto.createHash('sha256').update(value, 'utf8').digest('hex');
  return parseInt(hex[32], 16) + 8;
}
function nip45Registers(pubkeys, offset) {
  const reg = new Uint8Array(256);
  for (const pkHex of pubkeys) {
    const pk = Buffer.from(pkHex, 'hex');
    let zeros = 0;
    for (let i = offset + 1; i < 32; i++) {
      if (pk[i] === 0) { zeros += 8; continue; }
      zeros += Math.clz32(pk[i]) - 24;
      break;
    }
    reg[pk[offset]] = Math.max(reg[pk[offset]], zeros + 1);
  }
  return Buffer.from(reg).toString('hex');
}

test('NIP-45 HyperLogLog: reaction and follower counts carry "hll", the registers of the counted pubkeys', async () => {
  const author = newKey();
  const note = makeEvent(author, { content: 'like me' });
  assert.equal((await c.publish(note)).ok, true);
  const likers = Array.from({ length: 40 }, () => newKey());
  for (const k of likers) {
    const r = await c.publish(makeEvent(k, { kind: 7, content: '+', tags: [['e', note.id], ['p', author.pk]] }));
    assert.equal(r.ok, true, show(r.raw));
  }
  // a reply to the same note is not a reaction
  await c.publish(makeEvent(newKey(), { kind: 1, content: 'reply', tags: [['e', note.id]] }));
  const m = await c.countEnd('h1', { '#e': [note.id], kinds: [7] });
  assert.equal(m[0], 'COUNT', show(m));
  assert.equal(m[2].count, 40, show(m));
  assert.match(m[2].hll, /^[0-9a-f]{512}$/, show(m));
  assert.equal(m[2].hll, nip45Registers(likers.map((k) => k.pk), nip45Offset(note.id)));
  // follower count: kind 3 lists naming the author, offset from the author's pubkey
  const followers = Array.from({ length: 12 }, () => newKey());
  for (const k of followers) await c.publish(makeEvent(k, { kind: 3, tags: [['p', author.pk]] }));
  const f = await c.countEnd('h2', { '#p': [author.pk], kinds: [3] });
  assert.equal(f[2].count, 12, show(f));
  assert.equal(f[2].hll, nip45Registers(followers.map((k) => k.pk), nip45Offset(author.pk)));
  // a value that is neither an id nor an address: offset from its sha256
  const tag = 'hll-' + crypto.randomBytes(4).toString('hex');
  const taggers = Array.from({ length: 5 }, () => newKey());
  for (const k of taggers) await c.publish(makeEvent(k, { tags: [['t', tag]] }));
  const t = await c.countEnd('h3', { '#t': [tag] });
  assert.equal(t[2].count, 5, show(t));
  assert.equal(t[2].hll, nip45Registers(taggers.map((k) => k.pk), nip45Offset(tag)));
  // not eligible (no tag attribute, or two filters): the count alone
  const plain = await c.countEnd('h4', { kinds: [7], authors: [likers[0].pk] });
  assert.equal(plain[2].count, 1, show(plain));
  assert.equal(plain[2].hll, undefined, show(plain));
  const two = await c.countEnd('h5', { '#e': [note.id], kinds: [7] }, { '#p': [author.pk], kinds: [3] });
  assert.equal(two[2].count, 52, show(two));
  assert.equal(two[2].hll, undefined, show(two));
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
