// Bad input against the real binary: malformed JSON, unknown verbs, wrong types,
// binary frames, oversize messages, half-closed and reset sockets, junk handshakes.
// Each gets a NOTICE or the NIP-01 answer; the connection and the relay stay up and
// nothing is stored.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startRelay, connect, newKey, makeEvent, tamper, randomHex, show, hasPrefix, rawWebSocket, encodeFrame,
} from './lib/relay.mjs';

const MAX_MESSAGE = 16384;
const relay = await startRelay({ config: { max_message_length: MAX_MESSAGE } });
const c = await connect(relay.url);
after(() => c.end());

const isNotice = (m) => Array.isArray(m) && m[0] === 'NOTICE';

async function expectNotice(client, send, label) {
  const from = client.mark();
  send();
  const m = await client.waitFor((x) => Array.isArray(x) && ['NOTICE', 'OK', 'CLOSED', 'EOSE', 'EVENT', 'COUNT'].includes(x[0]),
    { from, what: `NOTICE for ${label}` });
  assert.equal(m[0], 'NOTICE', `${label}: expected NOTICE, got ${show(m)}`);
  assert.equal(m.length, 2, `${label}: ${show(m)}`);
  assert.equal(typeof m[1], 'string');
  await client.assertAlive(`connection after ${label}`);
}

test('malformed JSON, non-array messages and unknown verbs → NOTICE, connection usable', async () => {
  const frames = [
    'not json at all',
    '["EVENT", {"id": ',
    '["REQ", "x", {"kinds": [1]}',
    '{}',
    '{"EVENT": 1}',
    '[]',
    '"just a string"',
    '42',
    'null',
    '["FOO", 1]',
    '["event", {}]',
    '["HELLO"]',
    '[42, {}]',
    '[null]',
    '[["REQ"]]',
    ' ',
    '[1,2,3,',
    '["REQ", "a", {"kinds": [1]}]]',
    '\u0000\u0001\u0002',
  ];
  for (const f of frames) await expectNotice(c, () => c.send(f), JSON.stringify(f));
});

test('messages with unreadable type or subscription id → NOTICE', async () => {
  const frames = [
    ['EVENT'],
    ['EVENT', 42],
    ['EVENT', 'not an object'],
    ['EVENT', null],
    ['EVENT', []],
    ['REQ'],
    ['REQ', 42, {}],
    ['REQ', null, {}],
    ['REQ', { kinds: [1] }],
    ['CLOSE'],
    ['CLOSE', 42],
    ['COUNT', 7, {}],
    ['AUTH', 42],
    ['AUTH'],
  ];
  for (const f of frames) await expectNotice(c, () => c.send(f), JSON.stringify(f));
});

test('binary frames and empty frames → NOTICE', async () => {
  const ev = makeEvent(newKey(), { content: 'binary' });
  await expectNotice(c, () => c.sendBinary(Buffer.from(JSON.stringify(['EVENT', ev]))), 'binary EVENT');
  await expectNotice(c, () => c.sendBinary(Buffer.from([0, 1, 2, 255])), 'binary junk');
  await expectNotice(c, () => c.send(''), 'empty text frame');
  assert.deepEqual(await c.query({ ids: [ev.id] }), [], 'an event in a binary frame is not stored');
});

test('events with wrong field types → ["OK", id, false, "invalid: …"], nothing stored', async () => {
  const k = newKey();
  const ev = makeEvent(k, { content: 'typed', tags: [['t', 'x']] });
  const bad = [
    ['kind as string', tamper(ev, { kind: String(ev.kind) })],
    ['created_at as string', tamper(ev, { created_at: String(ev.created_at) })],
    ['created_at float', tamper(ev, { created_at: ev.created_at + 0.5 })],
    ['negative kind', tamper(ev, { kind: -1 })],
    ['kind too large', tamper(ev, { kind: 70000 })],
    ['tags not array', tamper(ev, { tags: 't' })],
    ['tag not array', tamper(ev, { tags: ['t'] })],
    ['tag value number', tamper(ev, { tags: [['t', 1]] })],
    ['empty tag', tamper(ev, { tags: [[]] })],
    ['content number', tamper(ev, { content: 5 })],
    ['content null', tamper(ev, { content: null })],
    ['pubkey short', tamper(ev, { pubkey: ev.pubkey.slice(2) })],
    ['pubkey upper-case', tamper(ev, { pubkey: ev.pubkey.toUpperCase() })],
    ['sig short', tamper(ev, { sig: ev.sig.slice(2) })],
    ['sig not hex', tamper(ev, { sig: 'z' + ev.sig.slice(1) })],
    ['sig missing', (() => { const x = tamper(ev, {}); delete x.sig; return x; })()],
    ['pubkey missing', (() => { const x = tamper(ev, {}); delete x.pubkey; return x; })()],
    ['kind missing', (() => { const x = tamper(ev, {}); delete x.kind; return x; })()],
    ['tags missing', (() => { const x = tamper(ev, {}); delete x.tags; return x; })()],
  ];
  for (const [label, e] of bad) {
    const r = await c.publish(e);
    assert.equal(r.ok, false, `${label}: ${show(r.raw)}`);
    assert.equal(r.raw.length, 4, `${label}: ${show(r.raw)}`);
    assert.match(r.message, /^invalid:/, `${label}: ${show(r.raw)}`);
  }
  // an id that is not 64 lower-case hex cannot be answered with OK for it: NOTICE or OK false
  for (const [label, e] of [['id upper-case', tamper(ev, { id: ev.id.toUpperCase() })], ['id short', tamper(ev, { id: ev.id.slice(1) })],
    ['id number', tamper(ev, { id: 12 })]]) {
    const from = c.mark();
    c.send(['EVENT', e]);
    const m = await c.waitFor((x) => Array.isArray(x) && (x[0] === 'NOTICE' || x[0] === 'OK'), { from, what: label });
    if (m[0] === 'OK') {
      assert.equal(m[2], false, `${label}: ${show(m)}`);
      assert.match(m[3], /^invalid:/, `${label}: ${show(m)}`);
    }
    await c.assertAlive(label);
  }
  assert.deepEqual(await c.query({ authors: [k.pk] }), [], 'nothing stored');
  assert.deepEqual(await c.query({ ids: [ev.id] }), []);
  const good = await c.publish(ev);
  assert.equal(good.ok, true, `the genuine event is accepted afterwards: ${show(good.raw)}`);
});

test(`oversize messages (> max_message_length ${MAX_MESSAGE}) → NOTICE or OK false, connection and relay stay up`, async () => {
  const k = newKey();
  const big = makeEvent(k, { content: 'x'.repeat(MAX_MESSAGE + 1000) });
  const from = c.mark();
  c.send(['EVENT', big]);
  const m = await c.waitFor((x) => Array.isArray(x) && (x[0] === 'NOTICE' || (x[0] === 'OK' && x[1] === big.id)), { from, what: 'answer to oversize EVENT' });
  if (m[0] === 'OK') {
    assert.equal(m[2], false, show(m));
    assert.ok(hasPrefix(m[3]), show(m));
  }
  await c.assertAlive('after oversize EVENT');
  // a much larger junk frame (several times the limit)
  await expectNotice(c, () => c.send('[' + '"x",'.repeat(60000) + '"x"]'), 'oversize junk');
  // an oversize REQ
  const from2 = c.mark();
  c.send(['REQ', 'huge', { ids: Array.from({ length: 400 }, () => randomHex()) }]);
  const m2 = await c.waitFor((x) => Array.isArray(x) && (x[0] === 'NOTICE' || (x[1] === 'huge' && ['CLOSED', 'EOSE'].includes(x[0]))), { from: from2, what: 'answer to oversize REQ' });
  assert.notEqual(m2[0], 'EOSE', `an oversize REQ must not be served: ${show(m2)}`);
  await c.assertAlive('after oversize REQ');
  assert.deepEqual(await c.query({ authors: [k.pk] }), [], 'oversize event not stored');
  // just under the limit is accepted
  const fits = makeEvent(k, { content: 'y'.repeat(MAX_MESSAGE - 600) });
  assert.ok(JSON.stringify(['EVENT', fits]).length <= MAX_MESSAGE);
  const r = await c.publish(fits);
  assert.equal(r.ok, true, show(r.raw));
});

test('half-closed, reset and junk sockets do not hurt the relay', async () => {
  const k = newKey();
  // half-close right after a REQ
  const half = await rawWebSocket(relay.port);
  half.sendText(JSON.stringify(['REQ', 'h', { authors: [k.pk] }]));
  half.socket.end();
  // reset in the middle of a frame
  const reset = await rawWebSocket(relay.port);
  const frame = encodeFrame(JSON.stringify(['EVENT', makeEvent(k, { content: 'cut' })]));
  reset.sendFrame(frame.subarray(0, frame.length >> 1));
  await new Promise((r) => setTimeout(r, 50));
  reset.socket.resetAndDestroy ? reset.socket.resetAndDestroy() : reset.socket.destroy();
  // a frame header announcing a huge payload, never sent
  const liar = await rawWebSocket(relay.port);
  liar.sendFrame(Buffer.from([0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]));
  // junk instead of an HTTP request, and a bare TCP connection closed at once
  const junk = net.connect({ host: '127.0.0.1', port: relay.port });
  junk.on('error', () => {});
  junk.write('\x16\x03\x01 this is not http\r\n\r\n');
  const bare = net.connect({ host: '127.0.0.1', port: relay.port });
  bare.on('error', () => {});
  bare.on('connect', () => bare.destroy());
  await new Promise((r) => setTimeout(r, 300));
  // the relay and existing connections keep working
  assert.ok(relay.running(), `relay died:\n${relay.output()}`);
  await c.assertAlive('existing connection');
  const fresh = await connect(relay.url);
  const ev = makeEvent(k, { content: 'after the bad sockets' });
  const r = await fresh.publish(ev);
  assert.equal(r.ok, true, show(r.raw));
  assert.deepEqual((await fresh.query({ authors: [k.pk] })).map((e) => e.id), [ev.id], 'the cut event was not stored');
  await fresh.end();
  liar.socket.destroy();
  junk.destroy();
});

test('a burst of bad input does not close the connection', async () => {
  const from = c.mark();
  for (let i = 0; i < 50; i++) c.send(i % 2 ? 'garbage ' + i : ['NOPE', i]);
  await c.assertAlive('after 50 bad frames');
  const notices = c.messages.slice(from).filter(isNotice).length;
  assert.ok(notices >= 1, 'bad frames are answered with NOTICEs');
  assert.equal(c.closed, false);
});
