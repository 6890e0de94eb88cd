// The write-ahead journal (docs/DATABASE.md, "Durability: the write-ahead journal")
// against the real binary: events answered OK but not yet committed to LMDB survive a
// kill -9 and are applied again at start-up (the offline tools warn meanwhile); a client
// reads its own writes at once; `journal = false` keeps the durable per-group LMDB
// commit and writes no journal file; a second relay on the same data directory is
// refused; a torn last record ends the replay without stopping the relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startRelay, connect, newKey, makeEvent, now, show, RELAY_BIN } from './lib/relay.mjs';

// LMDB is never committed by time during a test: only a waiting query, a full journal
// or the shutdown commit it, so after a kill -9 the answered events are only in the journal.
const NO_TIMED_COMMIT = { commit_interval_ms: 3600000, commit_idle_ms: 3600000 };
const TEST_TIMEOUT = 60000;

const JOURNAL_MAGIC = 0x4A523147; // 'G' '1' 'R' 'J' read as u32 little-endian
const JOURNAL_HEADER = 24;
const JOURNAL_MAX_PAYLOAD = 4 << 20;

/** Runs `g1relay export --data DIR`; returns {status, stderr, ids (in output order)}. */
function exportData(dataDir) {
  const r = spawnSync(RELAY_BIN, ['export', '--data', dataDir, '--log-level', 'warn'],
    { encoding: 'utf8', cwd: path.dirname(dataDir), timeout: 20000, maxBuffer: 64 << 20 });
  assert.equal(r.error, undefined, `export could not run: ${r.error}`);
  const ids = r.stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l).id);
  return { status: r.status, stderr: r.stderr, ids };
}

/** The chain of records from offset 0 of a journal file, parsed as relay/journal.c
 * documents it (the checksum, XXH3, is not verified here; the payloads must be events). */
function journalRecords(buf) {
  const records = [];
  let off = 0;
  let prev = null;
  while (off + JOURNAL_HEADER <= buf.length) {
    if (buf.readUInt32LE(off) !== JOURNAL_MAGIC) break;
    const len = buf.readUInt32LE(off + 4);
    if (len > JOURNAL_MAX_PAYLOAD || off + JOURNAL_HEADER + len > buf.length) break;
    const lsn = buf.readBigUInt64LE(off + 8);
    if (prev !== null && lsn !== prev + 1n) break;
    const payloadOffset = off + JOURNAL_HEADER;
    const payload = buf.subarray(payloadOffset, payloadOffset + len);
    records.push({ off, len, lsn, payloadOffset, event: JSON.parse(payload.toString('utf8')) });
    prev = lsn;
    off = payloadOffset + len + ((8 - (len % 8)) % 8);
  }
  return { records, end: off };
}

/** The relay output printed since index `from`, and the count of its `journal: applied` line. */
function appliedLine(relay, from) {
  const text = relay.output().slice(from);
  const m = /journal: applied (\d+) events from (\S+) \((\d+) new to the database\)/.exec(text);
  return m ? { events: Number(m[1]), file: m[2], added: Number(m[3]), line: m[0] } : null;
}

test('kill -9 after OK: the journal holds what LMDB lacks, start-up applies it in order', { timeout: TEST_TIMEOUT }, async () => {
  const relay = await startRelay({ config: { ...NO_TIMED_COMMIT } });
  const keys = [newKey(), newKey(), newKey()];
  const base = now() - 1000;
  const notes = keys.map((k, ki) => Array.from({ length: 60 }, (_, i) =>
    makeEvent(k, { created_at: base + i, content: `key ${ki} note ${i}`, tags: [['t', 'journal']] })));
  const profiles = Array.from({ length: 8 }, (_, i) =>
    makeEvent(keys[0], { kind: 0, created_at: base + 100 + i, content: JSON.stringify({ name: `v${i}` }) }));
  const doomed = makeEvent(keys[1], { created_at: base + 200, content: 'to be deleted' });
  const deletion = makeEvent(keys[1], { kind: 5, created_at: base + 201, tags: [['e', doomed.id]] });
  const clients = await Promise.all(keys.map(() => connect(relay.url)));
  const okAll = (rs, what) => rs.forEach((r, i) => assert.equal(r.ok, true, `${what} ${i}: ${show(r.raw)}`));
  await Promise.all(clients.map(async (c, ci) => {
    for (let i = 0; i < notes[ci].length; i += 20) okAll(await c.publishMany(notes[ci].slice(i, i + 20)), `key ${ci} note`);
    if (ci === 0) {
      // the replaceable sequence, one at a time: each version replaces the previous one
      for (const p of profiles) okAll([await c.publish(p)], 'profile');
    }
    if (ci === 1) {
      okAll([await c.publish(doomed)], 'doomed note');
      okAll([await c.publish(deletion)], 'deletion');
    }
  }));
  const published = [...notes.flat(), ...profiles, doomed, deletion];
  const kept = [...notes.flat(), profiles.at(-1), deletion];
  // no REQ or COUNT before the kill: a waiting query would commit LMDB
  const killed = await relay.kill('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  clients.forEach((c) => c.terminate());

  // offline: the events are only in the journal, and export says so
  const before = exportData(relay.dataDir);
  assert.equal(before.status, 0, before.stderr);
  const warning = new RegExp(`g1relay export: warning: (\\d+) events are in ${relay.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/journal but not yet in the database`);
  const w = warning.exec(before.stderr);
  assert.ok(w, `export warns about the journal; stderr: ${before.stderr}`);
  assert.equal(Number(w[1]), published.length, `the warning counts every answered event: ${w[0]}`);
  const publishedIds = new Set(published.map((e) => e.id));
  assert.deepEqual(before.ids.filter((id) => publishedIds.has(id)), [],
    'before the replay LMDB holds none of the answered events (they were only in the journal)');

  // start-up applies the journal
  const mark = relay.output().length;
  await relay.restart();
  const applied = appliedLine(relay, mark);
  assert.ok(applied, `start-up logs the replay; output:\n${relay.output().slice(mark)}`);
  assert.equal(applied.events, published.length, applied.line);
  assert.equal(applied.added, published.length, `every record was new to the database: ${applied.line}`);
  assert.equal(applied.file, path.join(relay.dataDir, 'journal'), applied.line);

  const c = await connect(relay.url);
  const got = await c.query({ authors: keys.map((k) => k.pk), limit: 1000 });
  assert.deepEqual(got.map((e) => e.id).sort(), kept.map((e) => e.id).sort(),
    'every answered event is served, minus the deleted note and the replaced profiles');
  assert.deepEqual(await c.query({ ids: [doomed.id] }), [], 'the deletion was applied after its note');
  const prof = await c.query({ kinds: [0], authors: [keys[0].pk] });
  assert.deepEqual(prof.map((e) => e.id), [profiles.at(-1).id], 'only the newest kind 0 is served');
  assert.deepEqual(got.find((e) => e.id === notes[2][7].id), notes[2][7], 'byte-identical after the replay');
  const again = await c.publish(doomed);
  assert.equal(again.ok, false, `the deleted note stays deleted: ${show(again.raw)}`);
  assert.match(again.message, /^blocked:/, show(again.raw));
  await c.end();

  // a clean stop commits: export has everything and no warning
  const stopped = await relay.stop();
  assert.equal(stopped.code, 0, `clean stop: ${JSON.stringify(stopped)}`);
  const after = exportData(relay.dataDir);
  assert.equal(after.status, 0, after.stderr);
  assert.doesNotMatch(after.stderr, /warning/, after.stderr);
  assert.deepEqual(after.ids.filter((id) => publishedIds.has(id)).sort(), kept.map((e) => e.id).sort(),
    'after the clean stop the database holds every kept event');
  // and a later start has nothing to replay
  const mark2 = relay.output().length;
  await relay.restart();
  assert.equal(appliedLine(relay, mark2), null, `nothing replayed twice:\n${relay.output().slice(mark2)}`);
});

test('read-your-writes: after OK another connection finds the event at once', { timeout: TEST_TIMEOUT }, async () => {
  const relay = await startRelay({ config: { ...NO_TIMED_COMMIT } });
  const [writer, reader, live] = await Promise.all([connect(relay.url), connect(relay.url), connect(relay.url)]);
  for (let i = 0; i < 5; i++) {
    const k = newKey();
    const { end, endIndex } = await live.reqEnd('live' + i, { authors: [k.pk] });
    assert.equal(end[0], 'EOSE', show(end));
    const ev = makeEvent(k, { content: `read your writes ${i}` });
    const r = await writer.publish(ev);
    assert.equal(r.ok, true, show(r.raw));
    // immediately, from another connection: the stored query must see it (before EOSE)
    const { events, end: qend } = await reader.reqEnd('q' + i, { ids: [ev.id] });
    assert.equal(qend[0], 'EOSE', show(qend));
    assert.deepEqual(events, [ev], `round ${i}: REQ by id right after OK`);
    reader.close('q' + i);
    assert.equal(await reader.count('n' + i, { authors: [k.pk] }), 1, `round ${i}: COUNT right after OK`);
    // the subscription opened before the publish got it live, exactly once
    assert.deepEqual(await live.waitEvent('live' + i, (e) => e.id === ev.id, { from: endIndex }), ev);
    const copies = await live.collectFor((m) => Array.isArray(m) && m[0] === 'EVENT' && m[1] === 'live' + i, 100, endIndex);
    assert.equal(copies.length, 1, `round ${i}: one live copy`);
    live.close('live' + i);
  }
  await Promise.all([writer.end(), reader.end(), live.end()]);
});

test('read-your-writes only where it matters: unrelated queries do not wait, a pending deletion is honoured', { timeout: TEST_TIMEOUT }, async () => {
  const relay = await startRelay({ config: { ...NO_TIMED_COMMIT } });
  const [writer, reader] = await Promise.all([connect(relay.url), connect(relay.url)]);
  const a = newKey();
  const b = newKey();
  // b's note, committed (a query for it makes the writer commit)
  const old = makeEvent(b, { content: 'committed note' });
  assert.equal((await writer.publish(old)).ok, true);
  assert.deepEqual(await reader.query({ ids: [old.id] }), [old]);
  // a's note, answered but not committed; a query about b only does not wait
  // for it and forces no commit: after a kill -9 the start-up still applies it
  const pendingNote = makeEvent(a, { content: 'pending note' });
  assert.equal((await writer.publish(pendingNote)).ok, true);
  assert.deepEqual(await reader.query({ authors: [b.pk], kinds: [1] }), [old]);
  assert.equal(await reader.count('b', { authors: [b.pk] }), 1);
  await relay.kill('SIGKILL');
  let mark = relay.output().length;
  await relay.restart();
  const applied = appliedLine(relay, mark);
  assert.equal(applied?.events, 1, `the query about b did not commit a's note: ${applied?.line}\n${relay.output().slice(mark)}`);
  // a pending deletion is honoured by a query by id, although the deletion itself
  // does not match that filter
  const [w2, r2] = await Promise.all([connect(relay.url), connect(relay.url)]);
  assert.deepEqual(await r2.query({ ids: [pendingNote.id] }), [pendingNote]);
  const del = makeEvent(a, { kind: 5, tags: [['e', pendingNote.id]] });
  assert.equal((await w2.publish(del)).ok, true);
  assert.deepEqual(await r2.query({ ids: [pendingNote.id] }), [], 'deleted by an answered kind 5');
  // and a replaced profile is never served once its replacement is answered
  const p1 = makeEvent(b, { kind: 0, created_at: now() - 100, content: '{"name":"one"}' });
  assert.equal((await w2.publish(p1)).ok, true);
  assert.deepEqual(await r2.query({ authors: [b.pk], kinds: [0] }), [p1]);
  const p2 = makeEvent(b, { kind: 0, created_at: now() - 50, content: '{"name":"two"}' });
  assert.equal((await w2.publish(p2)).ok, true);
  assert.deepEqual(await r2.query({ authors: [b.pk], kinds: [0], until: now() - 80 }), [], 'the older version is gone');
  await Promise.all([w2.end(), r2.end()]);
});

test('journal = false: durable per group, no journal file', { timeout: TEST_TIMEOUT }, async () => {
  const relay = await startRelay({ config: { journal: false } });
  const k = newKey();
  const c = await connect(relay.url);
  const events = Array.from({ length: 30 }, (_, i) => makeEvent(k, { created_at: now() - i, content: `no journal ${i}` }));
  (await c.publishMany(events)).forEach((r, i) => assert.equal(r.ok, true, `event ${i}: ${show(r.raw)}`));
  await relay.kill('SIGKILL');
  c.terminate();
  const journalFile = path.join(relay.dataDir, 'journal');
  assert.equal(fs.existsSync(journalFile), false, 'no journal file with journal = false');
  // committed to LMDB before the OK: export sees every event without a restart
  const ex = exportData(relay.dataDir);
  assert.equal(ex.status, 0, ex.stderr);
  assert.doesNotMatch(ex.stderr, /warning/, ex.stderr);
  assert.deepEqual(ex.ids.sort(), events.map((e) => e.id).sort());
  const mark = relay.output().length;
  await relay.restart();
  assert.equal(appliedLine(relay, mark), null, 'nothing to replay');
  const c2 = await connect(relay.url);
  const got = await c2.query({ authors: [k.pk], limit: 100 });
  assert.deepEqual(got.map((e) => e.id).sort(), events.map((e) => e.id).sort());
  await c2.end();
  assert.equal(fs.existsSync(journalFile), false, 'still no journal file after the restart');
});

/** Starts a second relay on `first`'s data directory; returns the error startRelay threw
 * (asserting there was one, that the process exited by itself with a non-zero code, and
 * that its output says the data directory is in use). */
async function refusedSecondRelay(first, config) {
  let failure = null;
  try {
    await startRelay({ dataDir: first.dataDir, config, readyTimeout: 5000 });
  } catch (e) { failure = e; }
  assert.ok(failure, 'the second relay must not start');
  const m = /relay exited early \(code (\d+|null), signal (\w+)\)/.exec(failure.message);
  assert.ok(m, `the second relay exits by itself: ${failure.message}`);
  assert.notEqual(m[1], '0', `non-zero exit: ${m[0]}`);
  assert.equal(m[2], 'null', `not killed by a signal: ${m[0]}`);
  assert.match(failure.message.split('--- output ---')[1] ?? '', /in use/, failure.message);
  return failure;
}

test('a second relay on the same data directory is refused ("in use")', { timeout: TEST_TIMEOUT }, async () => {
  const first = await startRelay();
  const k = newKey();
  const c = await connect(first.url);
  const ev = makeEvent(k, { content: 'first relay' });
  assert.equal((await c.publish(ev)).ok, true);
  assert.deepEqual(await c.query({ ids: [ev.id] }), [ev]); // committed: LMDB's write lock is free
  await refusedSecondRelay(first, {});
  // the first relay is unharmed: it still serves and accepts
  assert.deepEqual(await c.query({ ids: [ev.id] }), [ev]);
  const ev2 = makeEvent(k, { content: 'after the refused start' });
  assert.equal((await c.publish(ev2)).ok, true);
  await c.end();
});

test('a second relay is refused at once while the first holds uncommitted answered events', { timeout: TEST_TIMEOUT }, async () => {
  // The first relay's LMDB write transaction stays open (answered events waiting for
  // their commit): the second must still fail on the journal lock, not wait for LMDB.
  const first = await startRelay({ config: { ...NO_TIMED_COMMIT } });
  const k = newKey();
  const c = await connect(first.url);
  const ev = makeEvent(k, { content: 'answered, not committed' });
  assert.equal((await c.publish(ev)).ok, true);
  const t0 = Date.now();
  await refusedSecondRelay(first, { ...NO_TIMED_COMMIT });
  console.log(`# second relay refused in ${Date.now() - t0} ms`);
  assert.deepEqual(await c.query({ ids: [ev.id] }), [ev], 'the first relay is unharmed');
  await c.end();
});

test('torn last record: the replay stops before it and the relay starts', { timeout: TEST_TIMEOUT }, async () => {
  const relay = await startRelay({ config: { ...NO_TIMED_COMMIT, journal_size_mb: 2 } });
  const k = newKey();
  const c = await connect(relay.url);
  const events = Array.from({ length: 20 }, (_, i) => makeEvent(k, { created_at: now() - 100 + i, content: `torn ${i}` }));
  for (let i = 0; i < events.length; i += 5) {
    (await c.publishMany(events.slice(i, i + 5))).forEach((r, j) => assert.equal(r.ok, true, `event ${i + j}: ${show(r.raw)}`));
  }
  await relay.kill('SIGKILL');
  c.terminate();

  const file = path.join(relay.dataDir, 'journal');
  const buf = fs.readFileSync(file);
  assert.equal(buf.length, 2 << 20, 'journal file of journal_size_mb');
  assert.equal(buf.subarray(0, 4).toString('latin1'), 'G1RJ', 'a record at offset 0');
  const { records, end } = journalRecords(buf);
  assert.equal(records.length, events.length, 'one record per answered event');
  assert.deepEqual(records.map((r) => r.event.id).sort(), events.map((e) => e.id).sort());
  assert.ok(buf.subarray(end, end + 8).equals(Buffer.alloc(8)), 'the chain ends with 8 zero bytes');
  // flip one byte inside the last record's payload: its checksum no longer matches
  const last = records.at(-1);
  const flip = last.payloadOffset + Math.floor(last.len / 2);
  buf[flip] ^= 0x01;
  const fd = fs.openSync(file, 'r+');
  try { fs.writeSync(fd, buf, flip, 1, flip); } finally { fs.closeSync(fd); }

  const mark = relay.output().length;
  await relay.restart();
  const applied = appliedLine(relay, mark);
  assert.ok(applied, `start-up logs the replay; output:\n${relay.output().slice(mark)}`);
  assert.equal(applied.events, events.length - 1, applied.line);
  assert.equal(applied.added, events.length - 1, applied.line);
  const c2 = await connect(relay.url);
  const got = await c2.query({ authors: [k.pk], limit: 100 });
  const tornId = last.event.id;
  assert.deepEqual(got.map((e) => e.id).sort(), events.filter((e) => e.id !== tornId).map((e) => e.id).sort(),
    'the 19 intact records are served, the torn one is not');
  // the relay keeps working after the torn tail: new events are journaled and survive
  const fresh = makeEvent(k, { content: 'after the torn tail' });
  assert.equal((await c2.publish(fresh)).ok, true);
  c2.terminate();
  await relay.kill('SIGKILL');
  const mark2 = relay.output().length;
  await relay.restart();
  const applied2 = appliedLine(relay, mark2);
  assert.equal(applied2?.events, 1, `only the new event is replayed: ${applied2?.line}`);
  const c3 = await connect(relay.url);
  assert.deepEqual(await c3.query({ ids: [fresh.id] }), [fresh]);
  assert.equal(await c3.count('n', { authors: [k.pk] }), events.length);
  await c3.end();
});

test('map full: answered events stay in the journal, new ones are refused, a bigger map applies them', { timeout: TEST_TIMEOUT }, async () => {
  // 1 MiB of LMDB map fills after a few hundred events; the relay must keep every event it
  // answered OK (in the journal) and refuse the rest with an error, without stopping.
  const relay = await startRelay({ config: { ...NO_TIMED_COMMIT, map_size_mb: 1 } });
  const k = newKey();
  const c = await connect(relay.url);
  const accepted = [];
  let refused = null;
  const base = now() - 5000;
  for (let i = 0; i < 3000 && !refused; i++) {
    const ev = makeEvent(k, { created_at: base + i, content: `filler ${i} `.repeat(40), tags: [['t', `tag${i}`]] });
    const r = await c.publish(ev);
    if (r.ok) accepted.push(ev);
    else refused = r;
    // a query every 50 events makes the relay commit LMDB, so the map really fills up
    if (i % 50 === 49) await c.count(`q${i}`, { authors: [k.pk] });
  }
  assert.ok(refused, 'the 1 MiB map filled up');
  assert.match(refused.message, /^error: /, show(refused.raw));
  assert.ok(accepted.length > 10, `some events were accepted first (${accepted.length})`);
  assert.equal(relay.running(), true, 'the relay keeps running');
  // reads still work
  const n = await c.count('after', { authors: [k.pk] });
  assert.ok(n <= accepted.length, `count ${n}`);
  c.terminate();
  await relay.stop();
  // a bigger map: the start-up applies what LMDB could not take, nothing answered is lost
  const big = await startRelay({ dataDir: relay.dataDir, config: { map_size_mb: 64 } });
  const c2 = await connect(big.url);
  const got = await c2.query({ authors: [k.pk], limit: 5000 });
  const gotIds = new Set(got.map((e) => e.id));
  const missing = accepted.filter((e) => !gotIds.has(e.id));
  assert.equal(missing.length, 0, `${missing.length} of ${accepted.length} answered events missing`);
  await c2.end();
});
