// The database subcommands driven through the real binary: import of events
// signed by nostr-tools (with a report of added, duplicates, rejected and why),
// export (oldest first, --since/--until, byte-identical round trip), scan,
// stats and compact, with their errors and exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey, getPublicKey, finalizeEvent, verifyEvent } from 'nostr-tools/pure';

const bin = process.env.G1RELAY_BIN;
const work = mkdtempSync(join(tmpdir(), 'g1relay-dbcli-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const run = (args, input = '') => spawnSync(bin, args, { encoding: 'utf8', input, cwd: work, maxBuffer: 64 << 20 });
const lines = (s) => s.split('\n').filter((l) => l.length > 0);
// The relay serves the fields in NIP-01 order, with the strings escaped as signed.
const canon = (e) => JSON.stringify({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig });
const report = (out) => {
  const num = (k) => Number((out.match(new RegExp(`^${k} (\\d+)$`, 'm')) || [])[1]);
  return { lines: num('lines'), added: num('added'), duplicates: num('duplicates'), rejected: num('rejected') };
};

// ---- a data set signed by nostr-tools, with what the relay must keep ----
const keys = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
const pubs = keys.map((k) => getPublicKey(k));
const base = 1700000000;
const nowSec = Math.floor(Date.now() / 1000);
const good = []; // events that must be stored
const sign = (key, t) => finalizeEvent({ tags: [], content: '', ...t }, key);

for (let i = 0; i < 60; i++) {
  const ev = sign(keys[i % 3], {
    kind: i % 4 === 0 ? 7 : 1,
    created_at: base + Math.floor(i / 2), // pairs share created_at
    tags: [['t', i % 2 ? 'g1' : 'nostr'], ['p', pubs[(i + 1) % 3]]],
    content: `note ${i} with a control char \u0001, a quote " and é`,
  });
  good.push(ev);
}
const profileOld = sign(keys[0], { kind: 0, created_at: base + 5, content: '{"name":"old"}' });
const profileNew = sign(keys[0], { kind: 0, created_at: base + 6, content: '{"name":"new"}' });
const article = sign(keys[1], { kind: 30023, created_at: base + 7, tags: [['d', 'post']], content: 'article v1' });
const articleNew = sign(keys[1], { kind: 30023, created_at: base + 8, tags: [['d', 'post']], content: 'article v2' });
const doomed = sign(keys[2], { kind: 1, created_at: base + 9, content: 'to be deleted' });
const deletion = sign(keys[2], { kind: 5, created_at: base + 10, tags: [['e', doomed.id]], content: '' });
const foreignDeletion = sign(keys[1], { kind: 5, created_at: base + 11, tags: [['e', good[0].id]], content: '' });
const ephemeral = sign(keys[0], { kind: 20001, created_at: base + 12, content: 'ephemeral' });
const expired = sign(keys[0], { kind: 1, created_at: base + 13, tags: [['expiration', String(base + 14)]], content: 'expired' });
const expiresLater = sign(keys[0], { kind: 1, created_at: base + 15, tags: [['expiration', String(nowSec + 86400 * 365)]], content: 'lives a year' });
good.push(profileNew, articleNew, deletion, foreignDeletion, expiresLater);

const badSig = { ...good[1], sig: good[2].sig };
const badId = { ...good[3], content: 'tampered' };
const wrongType = { ...good[4], kind: '1' };

const inputLines = [
  ...good.slice(0, 60).map((e) => JSON.stringify(e)),
  JSON.stringify(profileOld), JSON.stringify(profileNew), // old then new: both added, old replaced
  JSON.stringify(articleNew), JSON.stringify(article),    // new then old: old refused as replaced
  JSON.stringify(doomed), JSON.stringify(deletion), JSON.stringify(doomed), // deleted, re-insert refused
  JSON.stringify(foreignDeletion),                         // other author's deletion: ignored
  JSON.stringify(ephemeral), JSON.stringify(expired), JSON.stringify(expiresLater),
  '', '   ',                                               // blank lines are skipped
  'a NUL byte \u0000 inside a line',                      // rejected alone, line numbers stay right
  'this is not json',
  JSON.stringify(badSig),
  JSON.stringify(badId),
  JSON.stringify(wrongType),
  JSON.stringify(good[5]),                                 // duplicate within the file
];
const inputFile = join(work, 'input.jsonl');
writeFileSync(inputFile, inputLines.join('\n') + '\n');
const dataA = join(work, 'a');

test('import stores valid events and reports added, duplicates and rejections with reasons', () => {
  const r = run(['import', '--data', dataA, inputFile]);
  assert.equal(r.status, 0, r.stderr);
  const rep = report(r.stdout);
  assert.equal(rep.lines, inputLines.filter((l) => l.trim()).length);
  // added: 60 notes + 2 profiles + articleNew + doomed + deletion + foreignDeletion + expiresLater
  assert.equal(rep.added, 60 + 2 + 1 + 1 + 1 + 1 + 1);
  assert.equal(rep.duplicates, 1);
  assert.equal(rep.rejected, 9); // article, doomed again, ephemeral, expired, NUL line, garbage, badSig, badId, wrongType
  assert.match(r.stdout, /^ {2}1 invalid: bad signature$/m);
  assert.match(r.stdout, /^ {2}1 replaced: /m);
  assert.match(r.stdout, /^ {2}1 deleted: /m);
  assert.match(r.stdout, /^ {2}1 ephemeral: /m);
  assert.match(r.stdout, /^ {2}1 expired: /m);
  assert.match(r.stdout, /^ {2}\d+ invalid: .*id/m, 'a wrong id is reported as such');
  // reasons add up to the rejected count
  const sum = [...r.stdout.matchAll(/^ {2}(\d+) /gm)].reduce((a, m) => a + Number(m[1]), 0);
  assert.equal(sum, rep.rejected);
  // the rejected lines are named on stderr as FILE:LINE
  const garbageLine = inputLines.indexOf('this is not json') + 1;
  assert.match(r.stderr, new RegExp(`input\\.jsonl:${garbageLine}: invalid`));

  const again = run(['import', '--data', dataA, '--quiet'], inputLines.join('\n'));
  assert.equal(again.status, 0, again.stderr);
  const rep2 = report(again.stdout);
  assert.equal(rep2.added, 0);
  assert.equal(rep2.duplicates, good.length + 1);
  assert.equal(again.stderr, '', '--quiet lists no lines');
});

test('export writes exactly the stored events, oldest first, byte for byte as signed', () => {
  const r = run(['export', '--data', dataA]);
  assert.equal(r.status, 0, r.stderr);
  const out = lines(r.stdout);
  assert.equal(out.length, good.length);
  assert.deepEqual(new Set(out), new Set(good.map(canon)));
  const evs = out.map((l) => JSON.parse(l));
  for (const ev of evs) assert.ok(verifyEvent(ev), 'every exported event verifies with nostr-tools');
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i - 1].created_at <= evs[i].created_at, 'oldest first');
  for (const gone of [profileOld, article, doomed, ephemeral, expired]) assert.ok(!out.includes(canon(gone)));

  const part = run(['export', '--data', dataA, '--since', String(base + 5), '--until', String(base + 9)]);
  assert.equal(part.status, 0);
  const want = good.filter((e) => e.created_at >= base + 5 && e.created_at <= base + 9).length;
  assert.equal(lines(part.stdout).length, want);

  const file = join(work, 'out.jsonl');
  const toFile = run(['export', '--data', dataA, '--out', file]);
  assert.equal(toFile.status, 0);
  assert.equal(toFile.stdout, '');
  assert.match(toFile.stderr, new RegExp(`${good.length} events written`));
});

test('export -> import -> export round-trips byte-identically', () => {
  const first = run(['export', '--data', dataA]);
  const dataB = join(work, 'b');
  const imp = run(['import', '--data', dataB], first.stdout);
  assert.equal(imp.status, 0, imp.stderr);
  assert.equal(report(imp.stdout).added, good.length);
  assert.equal(report(imp.stdout).rejected, 0);
  const second = run(['export', '--data', dataB]);
  assert.equal(second.stdout, first.stdout);
});

test('scan prints matching events newest first; --count counts; bad filters exit 2', () => {
  let r = run(['scan', '--data', dataA, JSON.stringify({ kinds: [7], limit: 4 })]);
  assert.equal(r.status, 0, r.stderr);
  const want = good.filter((e) => e.kind === 7).sort((a, b) => b.created_at - a.created_at).slice(0, 4);
  const got = lines(r.stdout).map((l) => JSON.parse(l));
  assert.equal(got.length, 4);
  assert.deepEqual(got.map((e) => e.created_at), want.map((e) => e.created_at));
  for (const e of got) assert.equal(e.kind, 7);

  r = run(['scan', '--data', dataA, JSON.stringify({ authors: [pubs[1]], '#t': ['g1'] })]);
  const wantIds = good.filter((e) => e.pubkey === pubs[1] && e.tags.some((t) => t[0] === 't' && t[1] === 'g1')).map((e) => e.id);
  assert.deepEqual(new Set(lines(r.stdout).map((l) => JSON.parse(l).id)), new Set(wantIds));

  r = run(['scan', '--data', dataA, '--count', JSON.stringify({ '#p': [pubs[0]] })]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), String(good.filter((e) => e.tags.some((t) => t[0] === 'p' && t[1] === pubs[0])).length));

  r = run(['scan', '--data', dataA, JSON.stringify({ ids: [doomed.id, good[7].id] })]);
  assert.deepEqual(lines(r.stdout), [canon(good[7])]);

  r = run(['scan', '--data', dataA, '{"kinds":"x"}']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad filter/);
  r = run(['scan', '--data', dataA]);
  assert.equal(r.status, 2);
});

test('stats reports counts, kinds, sizes', () => {
  const r = run(['stats', '--data', dataA]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^events ${good.length}$`, 'm'));
  const kind1 = good.filter((e) => e.kind === 1).length;
  assert.match(r.stdout, new RegExp(`^ {2}kind 1 +${kind1}$`, 'm'));
  assert.match(r.stdout, /^file_bytes [1-9]\d*$/m);
  assert.match(r.stdout, /^used_bytes_per_event \d+(\.\d)?$/m);
  assert.match(r.stdout, /g1relay\.pubkey_kind +entries \d+/);
});

test('compact copies the database; it refuses to overwrite and wants --out', () => {
  const out = join(work, 'compacted');
  let r = run(['compact', '--data', dataA, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(out, 'data.mdb')));
  const a = run(['export', '--data', dataA]).stdout;
  const c = run(['export', '--data', out]).stdout;
  assert.equal(c, a);
  r = run(['compact', '--data', dataA, '--out', out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already holds a database/);
  r = run(['compact', '--data', dataA]);
  assert.equal(r.status, 2);
});

test('missing database, bad options and --no-verify', () => {
  let r = run(['export', '--data', join(work, 'nothing-here')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no database/);
  r = run(['export', '--data', dataA, '--since', 'yesterday']);
  assert.equal(r.status, 2);
  r = run(['import', '--data', dataA, join(work, 'missing.jsonl')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot read/);

  const dataC = join(work, 'c');
  const fresh = sign(keys[2], { kind: 1, created_at: base + 100, content: 'fresh' });
  const forged = { ...fresh, sig: good[0].sig };
  r = run(['import', '--data', dataC, '--no-verify'], JSON.stringify(forged) + '\n' + JSON.stringify(badId) + '\n');
  assert.equal(r.status, 0);
  const rep = report(r.stdout);
  assert.equal(rep.added, 1, 'signature not checked with --no-verify');
  assert.equal(rep.rejected, 1, 'ids are still checked');
});

test('import into the database of a running relay: both writers interleave, nothing is lost', async () => {
  const { startRelay, connect } = await import('./lib/relay.mjs');
  const relay = await startRelay();
  const c = await connect(relay.url);
  try {
    const key = generateSecretKey();
    const pk = getPublicKey(key);
    const mk = (i) => sign(key, { kind: 1, created_at: base + 1000 + i, content: `mixed ${i}` });
    const viaRelay1 = [mk(0), mk(1)];
    for (const ev of viaRelay1) assert.equal((await c.publish(ev)).ok, true);
    const imported = [mk(2), mk(3), mk(4)];
    const r = run(['import', '--data', relay.dataDir], imported.map((e) => JSON.stringify(e)).join('\n'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(report(r.stdout).added, 3);
    const viaRelay2 = [mk(5), mk(6)];
    for (const ev of viaRelay2) {
      const res = await c.publish(ev);
      assert.equal(res.ok, true, `published after the import: ${res.message}`);
    }
    const got = await c.query({ authors: [pk] });
    const want = [...viaRelay1, ...imported, ...viaRelay2].sort((a, b) => b.created_at - a.created_at).map((e) => e.id);
    assert.deepEqual(got.map((e) => e.id), want);
    const exp = run(['export', '--data', relay.dataDir]);
    assert.equal(lines(exp.stdout).filter((l) => JSON.parse(l).pubkey === pk).length, 7);
  } finally {
    c.ws.close();
    await relay.stop();
  }
});
