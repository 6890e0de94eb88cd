// PROTOCOL.md §A (reactions become payments) and §C (receipts) against the real
// binary with nostr-tools clients. No chain here: intents stay `pending` unless
// cancelled; settlement_chain.test.mjs follows them to the chain.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAddress, ed25519PairFromSeed, base58Encode, cryptoWaitReady } from '@polkadot/util-crypto';
import { randomBytes } from 'node:crypto';
import {
  startStation, newKey, makeEvent, reaction, profile, waitReceipt, receiptsAfter, receiptsFor, receiptValid,
  tag, tagsOf, status, connect, sleep, g1, tempDataDir, now,
} from './lib/settlement.mjs';
import { fetchInfo } from './lib/relay.mjs';

const alice = newKey(), bob = newKey(), carol = newKey(), dave = newKey(), erin = newKey();
let st, c;

before(async () => {
  await cryptoWaitReady();
  // alice, bob, carol have station wallets; dave and erin have none
  st = await startStation({ payers: [alice, bob, carol], config: { daily_limit_centimes: 1000000 } });
  c = st.client;
});

async function note(author, content = 'hello') {
  const ev = makeEvent(author, { kind: 1, content });
  assert.equal((await c.publish(ev)).ok, true);
  return ev;
}

test('station key: `g1relay station`, NIP-11 self and the receipts agree', async () => {
  const info = await fetchInfo(st.relay);
  assert.equal(info.json.self, st.station);
  const post = await note(bob);
  const r = reaction(alice, post);
  assert.equal((await c.publish(r)).ok, true);
  const rc = await waitReceipt(c, r.id, 'pending');
  assert.ok(receiptValid(rc, st.station), 'receipt signed by the station key');
  // the key survives restarts (kept in the keystore)
  await st.relay.restart();
  c = await connect(st.relay.url);
  st.client = c;
  assert.equal((await fetchInfo(st.relay)).json.self, st.station);
});

test('paying contents: "", "+", 👍, ❤️, ♥️ pay 1 Ẑen; receipt tags as §C', async () => {
  for (const content of ['', '+', '👍', '❤️', '♥️']) {
    const post = await note(bob, 'post for ' + content);
    const r = reaction(alice, post, { content });
    assert.equal((await c.publish(r)).ok, true);
    const rc = await waitReceipt(c, r.id, 'pending');
    assert.ok(receiptValid(rc, st.station));
    assert.equal(tag(rc, 'd'), r.id);
    assert.deepEqual(tagsOf(rc, 'e').map((t) => t[1]), [r.id]);
    assert.deepEqual(tagsOf(rc, 'p').map((t) => [t[1], t[3]]), [[alice.pk, 'payer'], [bob.pk, 'payee']]);
    assert.equal(tag(rc, 'amount'), '10', `content ${JSON.stringify(content)}`);
    assert.equal(tag(rc, 'from'), st.address.get(alice.pk));
    assert.equal(tag(rc, 'to'), st.address.get(bob.pk));
    assert.equal(tag(rc, 'tx'), undefined);
  }
});

test('+N pays N Ẑen, clamped to max_zen_per_reaction (1000)', async () => {
  const cases = [['+5', '50'], ['+1', '10'], ['+1000', '10000'], ['+1001', '10000'], ['+99999999999999999999', '10000']];
  for (const [content, amount] of cases) {
    const post = await note(bob, 'n ' + content);
    const r = reaction(carol, post, { content });
    assert.equal((await c.publish(r)).ok, true);
    const rc = await waitReceipt(c, r.id, 'pending');
    assert.equal(tag(rc, 'amount'), amount, content);
  }
});

test('no payment: -, 👎, 💔, other text, +0, no e tag, self-reaction, payer without wallet; events still stored', async () => {
  const post = await note(bob, 'nothing to pay');
  const evs = [];
  for (const content of ['-', '👎', '💔', 'nice', '+0', '+ 3', '+3a', '❤']) evs.push(reaction(alice, post, { content }));
  evs.push(makeEvent(alice, { kind: 7, content: '+', tags: [['p', bob.pk]] }));      // no e tag
  const own = await note(alice, 'mine');
  evs.push(reaction(alice, own));                                                    // self-reaction
  evs.push(reaction(dave, post));                                                    // dave has no wallet
  for (const ev of evs) assert.equal((await c.publish(ev)).ok, true);
  await sleep(800);
  for (const ev of evs) {
    assert.deepEqual(await receiptsFor(c, ev.id), [], `no receipt for ${JSON.stringify(ev.content)} ${JSON.stringify(ev.tags)}`);
    assert.equal((await c.query({ ids: [ev.id] })).length, 1, 'the reaction is stored');
  }
});

test('payee: author of the event of the last e tag when held, else the last p tag', async () => {
  const held = await note(carol, 'held');
  const unknown = randomBytes(32).toString('hex');
  // last e tag = held event (authored by carol), p tags point elsewhere
  const r1 = makeEvent(alice, { kind: 7, content: '+', tags: [['e', unknown], ['e', held.id], ['p', bob.pk]] });
  // last e tag not held: last p tag pays (bob, not carol)
  const r2 = makeEvent(alice, { kind: 7, content: '+', tags: [['e', held.id], ['e', unknown], ['p', carol.pk], ['p', bob.pk]] });
  for (const r of [r1, r2]) assert.equal((await c.publish(r)).ok, true);
  const rc1 = await waitReceipt(c, r1.id, 'pending');
  assert.deepEqual(tagsOf(rc1, 'p').find((t) => t[3] === 'payee')[1], carol.pk);
  const rc2 = await waitReceipt(c, r2.id, 'pending');
  assert.deepEqual(tagsOf(rc2, 'p').find((t) => t[3] === 'payee')[1], bob.pk);
  assert.equal(tag(rc2, 'to'), st.address.get(bob.pk));
});

test('once per (reactor, reacted event): the second paying reaction is a duplicate', async () => {
  const post = await note(bob, 'like me twice');
  const r1 = reaction(alice, post, { content: '+' });
  const r2 = reaction(alice, post, { content: '+7' });
  const r3 = reaction(carol, post, { content: '+' }); // someone else: pays
  for (const r of [r1, r2, r3]) assert.equal((await c.publish(r)).ok, true);
  await waitReceipt(c, r1.id, 'pending');
  const dup = await waitReceipt(c, r2.id, 'duplicate');
  assert.equal(tag(dup, 'amount'), '70');
  await waitReceipt(c, r3.id, 'pending');
  // the same event delivered again is not a new reaction
  assert.equal((await c.publish(r1)).ok, true);
  assert.equal((await receiptsFor(c, r1.id)).length, 1);
});

test('NIP-09 deletion before submission cancels; a new version of the same receipt (same d)', async () => {
  const post = await note(bob, 'changed my mind');
  const r = reaction(alice, post);
  const sub = 'rc' + r.id.slice(0, 6);
  const live = c.mark();
  c.send(['REQ', sub, { kinds: [39743], '#e': [r.id] }]);
  assert.equal((await c.publish(r)).ok, true);
  await c.waitEvent(sub, (ev) => status(ev) === 'pending', { from: live });
  const del = makeEvent(alice, { kind: 5, content: '', tags: [['e', r.id]] });
  assert.equal((await c.publish(del)).ok, true);
  const cancelled = await c.waitEvent(sub, (ev) => status(ev) === 'cancelled', { from: live });
  assert.ok(receiptValid(cancelled, st.station));
  c.close(sub);
  const now_ = await receiptsFor(c, r.id);
  assert.equal(now_.length, 1, 'addressable: only the newest version is kept');
  assert.equal(status(now_[0]), 'cancelled');
  // a deletion by someone else cancels nothing
  const r2 = reaction(carol, post);
  assert.equal((await c.publish(r2)).ok, true);
  await waitReceipt(c, r2.id, 'pending');
  assert.equal((await c.publish(makeEvent(bob, { kind: 5, tags: [['e', r2.id]] }))).ok, true);
  await sleep(600);
  assert.equal(status((await receiptsFor(c, r2.id))[0]), 'pending');
  // after the cancel, liking the post again pays
  const again = reaction(alice, post, { content: '+2' });
  assert.equal((await c.publish(again)).ok, true);
  assert.equal(tag(await waitReceipt(c, again.id, 'pending'), 'amount'), '20');
});

test('payee addresses: station wallet, else kind 0 g1v2, else g1pub (v1 key), else failed no-address', async () => {
  const seedV2 = randomBytes(32), seedV1 = randomBytes(32);
  const v2addr = encodeAddress(ed25519PairFromSeed(seedV2).publicKey, 4450);
  const v1pub = ed25519PairFromSeed(seedV1).publicKey;
  const v1key = base58Encode(v1pub);
  const withV2 = newKey(), withV1 = newKey(), withBoth = newKey(), withNone = newKey(), badV2 = newKey();
  assert.equal((await c.publish(profile(withV2, { g1v2: v2addr }))).ok, true);
  assert.equal((await c.publish(profile(withV1, { g1pub: v1key }))).ok, true);
  assert.equal((await c.publish(profile(withBoth, { g1v2: v2addr, g1pub: v1key }))).ok, true);
  assert.equal((await c.publish(profile(withNone, { about: 'no address' }))).ok, true);
  assert.equal((await c.publish(profile(badV2, { g1v2: 'g1notanaddress' }))).ok, true);
  const expect = [[withV2, 'pending', v2addr], [withV1, 'pending', encodeAddress(v1pub, 4450)],
    [withBoth, 'pending', v2addr], [withNone, 'failed', undefined], [badV2, 'failed', undefined]];
  for (const [who, want, to] of expect) {
    const post = await note(who, 'pay me');
    const r = reaction(bob, post);
    assert.equal((await c.publish(r)).ok, true);
    const rc = await waitReceipt(c, r.id, want);
    assert.equal(tag(rc, 'to'), to);
    if (want === 'failed') assert.equal(tag(rc, 'reason'), 'no-address');
  }
  // a newer kind 0 changes the address used for later payments
  const v2b = encodeAddress(ed25519PairFromSeed(randomBytes(32)).publicKey, 4450);
  const newer = makeEvent(withV2, { kind: 0, content: JSON.stringify({ g1v2: v2b }), created_at: now() + 1 });
  assert.equal((await c.publish(newer)).ok, true);
  const post = await note(withV2, 'pay me again');
  const r = reaction(bob, post);
  assert.equal((await c.publish(r)).ok, true);
  assert.equal(tag(await waitReceipt(c, r.id, 'pending'), 'to'), v2b);
});

test('rolling 24 h limit per payer: over daily_limit_centimes is refused (daily-limit), back-dating does not help', async () => {
  const { data } = tempDataDir();
  const p = newKey(), q = newKey(), author = newKey();
  const s2 = await startStation({ payers: [p, q, author], dataDir: data, config: { daily_limit_centimes: 30 } });
  const c2 = s2.client;
  const posts = [];
  for (let i = 0; i < 5; i++) {
    const ev = makeEvent(author, { kind: 1, content: 'post ' + i });
    assert.equal((await c2.publish(ev)).ok, true);
    posts.push(ev);
  }
  const t = now();
  const r = [
    reaction(p, posts[0], { content: '+2', created_at: t }),             // 20
    reaction(p, posts[1], { content: '+', created_at: t }),              // 10 → 30: at the limit, paid
    reaction(p, posts[2], { content: '+', created_at: t }),              // 40 > 30: refused
    reaction(p, posts[3], { content: '+', created_at: t - 2 * 86400 }),  // back-dated: still refused
    reaction(q, posts[2], { content: '+3', created_at: t }),             // another payer: own limit
  ];
  for (const ev of r) assert.equal((await c2.publish(ev)).ok, true);
  await waitReceipt(c2, r[0].id, 'pending');
  await waitReceipt(c2, r[1].id, 'pending');
  const ref = await waitReceipt(c2, r[2].id, 'refused');
  assert.equal(tag(ref, 'reason'), 'daily-limit');
  assert.equal(tag(await waitReceipt(c2, r[3].id, 'refused'), 'reason'), 'daily-limit');
  await waitReceipt(c2, r[4].id, 'pending');
  // the refused reaction is not "the" paying reaction: the limit, not once-per, applies later
  // a deletion releases its amount from the window
  assert.equal((await c2.publish(makeEvent(p, { kind: 5, tags: [['e', r[1].id]] }))).ok, true);
  await waitReceipt(c2, r[1].id, 'cancelled');
  const r5 = reaction(p, posts[4], { content: '+', created_at: t });
  assert.equal((await c2.publish(r5)).ok, true);
  await waitReceipt(c2, r5.id, 'pending');
  await s2.relay.stop();
});

test('settlement state is rebuilt from the event log (station rebuild on a copy)', async () => {
  await st.relay.stop();
  const { base } = tempDataDir();
  let out;
  try { out = g1(['station', 'rebuild', '--work', base + '/copy', '--set', 'daily_limit_centimes=1000000'], st.data); } catch (e) { out = e.stdout + e.stderr; }
  assert.match(out, /0 differ, 0 without intent/);
  const m = /(\d+) live settlements, (\d+) rebuilt, (\d+) agree/.exec(out);
  assert.ok(m && Number(m[1]) > 20 && Number(m[3]) > 20, out);
  assert.match(out, /explained [0-9a-f]{64}: payee address changed/); // the replaced kind 0 above
  // the same proof through the interface: `g1relay settlements --rebuild` (temporary copy)
  let out2;
  try { out2 = g1(['settlements', '--rebuild', '--set', 'daily_limit_centimes=1000000'], st.data); } catch (e) { out2 = e.stdout + e.stderr; }
  assert.match(out2, /0 differ, 0 without intent/);
  const m2 = /(\d+) live settlements, (\d+) rebuilt, (\d+) agree/.exec(out2);
  assert.ok(m2 && m2[1] === m[1] && m2[3] === m[3], out2);
  await st.relay.restart();
});
