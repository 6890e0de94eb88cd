// NIP-42 authentication and NIP-70 protected events against the real binary: the
// challenge on connect, accepted and refused kind 22242 events, auth_required for
// REQ/EVENT/COUNT, 22242 never stored nor broadcast, ["-"] only from its
// authenticated author.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { schnorr } from '@noble/curves/secp256k1';
import {
  startRelay, connect, newKey, makeEvent, authEvent, tamper, now, show, hasPrefix, randomHex,
  hexToBytes, bytesToHex,
} from './lib/relay.mjs';

const relay = await startRelay();
const locked = await startRelay({ config: { auth_required: true } });
const open = [];
async function client(r = relay) {
  const x = await connect(r.url);
  open.push(x);
  return x;
}
after(() => Promise.all(open.map((x) => x.end())));

function assertRefused(r, label) {
  assert.equal(r.ok, false, `${label}: expected OK false, got ${show(r.raw)}`);
  assert.ok(hasPrefix(r.message), `${label}: machine-readable prefix expected: ${show(r.raw)}`);
}

test('NIP-42: the relay sends ["AUTH", challenge] on connect, a different one per connection', async () => {
  const a = await client();
  const b = await client();
  const ca = await a.challenge({ timeout: 3000 });
  const cb = await b.challenge({ timeout: 3000 });
  assert.ok(ca.length >= 8, `challenge too short: ${ca}`);
  assert.notEqual(ca, cb, 'challenges differ between connections');
  const m = a.messages.find((x) => Array.isArray(x) && x[0] === 'AUTH');
  assert.equal(m.length, 2, show(m));
});

test('NIP-42: a valid kind 22242 → OK true', async () => {
  const a = await client();
  const k = newKey();
  const r = await a.auth(k);
  assert.equal(r.ok, true, show(r.raw));
  assert.equal(r.raw.length, 4);
});

test('NIP-42: wrong challenge, wrong relay, old or future created_at, wrong kind, bad signature → OK false', async () => {
  const a = await client();
  const b = await client();
  const k = newKey();
  const ch = await a.challenge();
  const chB = await b.challenge();
  assertRefused(await a.auth(k, { challenge: 'not-the-challenge-' + randomHex(4) }), 'wrong challenge');
  assertRefused(await a.auth(k, { challenge: chB }), 'challenge of another connection');
  assertRefused(await a.auth(k, { challenge: ch, relay: 'ws://relay.elsewhere.example' }), 'wrong relay');
  assertRefused(await a.auth(k, { challenge: ch, created_at: now() - 3600 }), 'created_at one hour old');
  assertRefused(await a.auth(k, { challenge: ch, created_at: now() + 3600 }), 'created_at one hour ahead');
  // wrong kind, with the right tags
  const wrongKind = makeEvent(k, { kind: 1, tags: [['relay', a.url], ['challenge', ch]] });
  let from = a.mark();
  a.send(['AUTH', wrongKind]);
  let m = await a.waitFor((x) => Array.isArray(x) && x[0] === 'OK' && x[1] === wrongKind.id, { from });
  assert.equal(m[2], false, `kind 1 as AUTH: ${show(m)}`);
  // bad signature
  const good = authEvent(k, ch, a.url);
  const forged = tamper(good, { sig: bytesToHex(schnorr.sign(hexToBytes(good.id), newKey().sk)) });
  from = a.mark();
  a.send(['AUTH', forged]);
  m = await a.waitFor((x) => Array.isArray(x) && x[0] === 'OK' && x[1] === forged.id, { from });
  assert.equal(m[2], false, `forged AUTH: ${show(m)}`);
  assert.match(m[3], /^invalid:/, show(m));
  // the genuine one still works afterwards
  const r = await a.auth(k, { challenge: ch });
  assert.equal(r.ok, true, show(r.raw));
});

test('NIP-42: with relay_url set, the relay tag must name that URL', async () => {
  const named = await startRelay({ config: { relay_url: 'wss://relay.g1.example' } });
  const a = await connect(named.url);
  open.push(a);
  const k = newKey();
  const ch = await a.challenge();
  assertRefused(await a.auth(k, { challenge: ch, relay: a.url }), 'connection URL instead of relay_url');
  assertRefused(await a.auth(k, { challenge: ch, relay: 'wss://other.g1.example' }), 'another host');
  const r = await a.auth(k, { challenge: ch, relay: 'wss://relay.g1.example' });
  assert.equal(r.ok, true, show(r.raw));
});

test('NIP-42: kind 22242 is never stored nor broadcast (AUTH or EVENT)', async () => {
  const k = newKey();
  const watcher = await client();
  await watcher.req('w1', { kinds: [22242] });
  await watcher.req('w2', { authors: [k.pk] });
  await watcher.req('w3', {});
  const from = watcher.mark();
  const a = await client();
  const r = await a.auth(k);
  assert.equal(r.ok, true, show(r.raw));
  // also sent as a plain EVENT
  const ev = authEvent(k, 'whatever', a.url);
  await a.publish(ev);
  const seen = await watcher.collectFor((x) => Array.isArray(x) && x[0] === 'EVENT' && x[2]?.kind === 22242, 500, from);
  assert.deepEqual(seen, [], `22242 was broadcast: ${seen.map(show).join(' ')}`);
  assert.deepEqual(await a.query({ kinds: [22242] }), [], 'never stored');
  assert.deepEqual(await a.query({ ids: [r.event.id, ev.id] }), []);
});

test('NIP-42 with auth_required: REQ → CLOSED "auth-required:", EVENT → OK false "auth-required:", COUNT → CLOSED', async () => {
  const a = await client(locked);
  const k = newKey();
  const { events, end } = await a.reqEnd('s', { kinds: [1] });
  assert.deepEqual(events, []);
  assert.equal(end[0], 'CLOSED', show(end));
  assert.match(end[2], /^auth-required:/, show(end));
  const ev = makeEvent(k, { content: 'before auth' });
  const r = await a.publish(ev);
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^auth-required:/, show(r.raw));
  const cm = await a.countEnd('c', { kinds: [1] });
  assert.equal(cm[0], 'CLOSED', show(cm));
  assert.match(cm[2], /^auth-required:/, show(cm));
  // a failed AUTH changes nothing
  assertRefused(await a.auth(k, { challenge: 'wrong' }), 'wrong challenge');
  const r2 = await a.publish(ev);
  assert.equal(r2.ok, false, show(r2.raw));
  assert.match(r2.message, /^auth-required:/);
  // after AUTH everything works
  const au = await a.auth(k);
  assert.equal(au.ok, true, show(au.raw));
  const r3 = await a.publish(ev);
  assert.equal(r3.ok, true, show(r3.raw));
  const got = await a.req('s2', { authors: [k.pk] });
  assert.deepEqual(got.map((e) => e.id), [ev.id]);
  assert.equal(await a.count('c2', { authors: [k.pk] }), 1);
  // another, unauthenticated connection is still locked out
  const b = await client(locked);
  const { end: end2 } = await b.reqEnd('s', { authors: [k.pk] });
  assert.equal(end2[0], 'CLOSED', show(end2));
  assert.match(end2[2], /^auth-required:/);
});

test('NIP-70: ["-"] refused without AUTH ("auth-required:"), refused for another pubkey, accepted from its author', async () => {
  const author = newKey();
  const other = newKey();
  const ev = makeEvent(author, { content: 'members only', tags: [['-']] });
  const anon = await client();
  const r1 = await anon.publish(ev);
  assert.equal(r1.ok, false, show(r1.raw));
  assert.match(r1.message, /^auth-required:/, show(r1.raw));
  const impostor = await client();
  assert.equal((await impostor.auth(other)).ok, true);
  const r2 = await impostor.publish(ev);
  assertRefused(r2, 'protected event from another authenticated pubkey');
  assert.deepEqual(await anon.query({ ids: [ev.id] }), [], 'not stored');
  const owner = await client();
  assert.equal((await owner.auth(author)).ok, true);
  const r3 = await owner.publish(ev);
  assert.equal(r3.ok, true, show(r3.raw));
  assert.deepEqual((await owner.query({ ids: [ev.id] })).map((e) => e.id), [ev.id]);
  // unprotected events of the same author need no AUTH
  const plainEv = makeEvent(author, { content: 'public' });
  assert.equal((await anon.publish(plainEv)).ok, true);
});
