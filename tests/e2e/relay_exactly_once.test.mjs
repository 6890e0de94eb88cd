// Subscriptions opened while events are being stored, against the real binary: each
// subscription gets every matching event exactly once, whether the event reaches it from
// the stored query (before EOSE) or live. An event answered OK but not yet committed to
// LMDB (the journal's window) is both broadcast to the new subscription and found by its
// stored query once the query makes the writer commit; the stored phase must skip it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, connect, newKey, makeEvent, now, randomHex } from './lib/relay.mjs';

const EVENTS = 1200;
const BATCH = 40;
const SUBS = 24;

test('subscriptions opened during ingest get every event once, stored or live', { timeout: 90000 }, async () => {
  const relay = await startRelay({ config: { max_limit: 100000, max_subscriptions: 50 } });
  try {
    const tag = 'once-' + randomHex(6);
    const keys = [newKey(), newKey(), newKey()];
    const base = now() - 10;
    const events = [];
    for (let i = 0; i < EVENTS; i++) {
      events.push(makeEvent(keys[i % keys.length], { content: `event ${i}`, tags: [['t', tag]], created_at: base + (i % 7) }));
    }
    const publisher = await connect(relay.url);
    const readers = [await connect(relay.url), await connect(relay.url)];
    const filter = { kinds: [1], '#t': [tag], limit: EVENTS * 2 };

    // Publish in pipelined batches; between batches open new subscriptions, so each
    // one starts while the previous batch's events are answered but not yet committed.
    const subs = [];
    let published = 0;
    while (published < EVENTS) {
      const batch = events.slice(published, published + BATCH);
      const oks = publisher.publishMany(batch);
      if (subs.length < SUBS) {
        const reader = readers[subs.length % readers.length];
        const subid = `s${subs.length}`;
        subs.push({ reader, subid, from: reader.mark() });
        reader.send(['REQ', subid, filter]);
      }
      const answers = await oks;
      for (const a of answers) assert.equal(a.ok, true, `refused: ${a.message}`);
      published += batch.length;
    }

    const want = new Set(events.map((e) => e.id));
    const received = (s) => s.reader.messages.slice(s.from)
      .filter((m) => Array.isArray(m) && m[0] === 'EVENT' && m[1] === s.subid).map((m) => m[2].id);
    // every subscription ends up with all the events (stored or live) ...
    const deadline = Date.now() + 20000;
    for (const s of subs) {
      while (new Set(received(s)).size < want.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    // ... and, after a pause in which any late copy would arrive, exactly once
    await new Promise((r) => setTimeout(r, 500));
    let duplicates = 0;
    for (const s of subs) {
      const ids = received(s);
      const seen = new Map();
      for (const id of ids) seen.set(id, (seen.get(id) || 0) + 1);
      const missing = [...want].filter((id) => !seen.has(id));
      assert.equal(missing.length, 0, `${s.subid}: ${missing.length} of ${want.size} events never arrived`);
      const extra = [...seen.keys()].filter((id) => !want.has(id));
      assert.equal(extra.length, 0, `${s.subid}: got events it did not ask for`);
      const twice = [...seen.values()].filter((n) => n > 1).length;
      duplicates += twice;
      assert.equal(twice, 0, `${s.subid}: ${twice} events arrived more than once (${ids.length} EVENT messages for ${want.size} events)`);
      const eose = s.reader.messages.slice(s.from).some((m) => Array.isArray(m) && m[0] === 'EOSE' && m[1] === s.subid);
      assert.ok(eose, `${s.subid}: no EOSE`);
    }
    assert.equal(duplicates, 0);
  } finally {
    await relay.stop();
  }
});
