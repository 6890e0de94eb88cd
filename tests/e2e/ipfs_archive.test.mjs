// IPFS archives against the real binary, checked with independent code from npm
// (@ipld/car, @ipld/dag-cbor, multiformats, nostr-tools):
//  - `g1relay archive`: every block's CID recomputes, the root and index pages link
//    exactly the stored events (byte for byte their signed JSON, receipts included),
//    the second archive's prev is the first one's root;
//  - round trip archive -> `import --car` into a fresh data directory -> export
//    gives the same events; the chain of roots is checked when the prev is known;
//  - tampering (a byte of an event block, of an index page, a forged root, the
//    header's root swapped, a truncated file) is refused naming the bad block and
//    nothing is stored;
//  - the periodic archiver of `g1relay run` writes a CAR and publishes a signed
//    NIP-94 (kind 1063) event whose tags match the file; it pushes to a Kubo RPC
//    endpoint (a fake one in node that checks the uploaded CAR: no IPFS node can
//    run here, see docs/IPFS.md), and a push to a node that is down is queued and
//    delivered later.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CarReader, CarIndexer, CarWriter } from '@ipld/car';
import * as dagCbor from '@ipld/dag-cbor';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { verifyEvent } from 'nostr-tools/pure';
import { startRelay, connect, newKey, makeEvent, freePort, RELAY_BIN, now, TIME_FACTOR } from './lib/relay.mjs';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-ipfs-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const PASS = 'ipfs archive test passphrase';
const env = { ...process.env, G1RELAY_PASSPHRASE: PASS };
const run = (args, extraEnv = {}) =>
  spawnSync(RELAY_BIN, args, { encoding: 'utf8', cwd: work, env: { ...env, ...extraEnv }, maxBuffer: 64 << 20 });
const field = (out, k) => (out.match(new RegExp(`^${k} (\\S+)`, 'm')) || [])[1];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const RAW = 0x55;
const DAG_CBOR = 0x71;

/** Reads a CAR with @ipld/car and checks every block's CID recomputes. */
async function readCar(file) {
  const bytes = fs.readFileSync(file);
  const reader = await CarReader.fromBytes(bytes);
  const blocks = new Map();
  for await (const { cid, bytes: b } of reader.blocks()) {
    const again = CID.create(1, cid.code, await sha256.digest(b));
    assert.ok(again.equals(cid), `block ${cid} recomputes to ${again}`);
    assert.ok(cid.code === RAW || cid.code === DAG_CBOR, `codec of ${cid}`);
    blocks.set(cid.toString(), b);
  }
  const roots = await reader.getRoots();
  return { bytes, roots, blocks };
}

/** Walks root -> pages -> events; returns { root, pages, events: [json text] }. */
function walk(car) {
  assert.equal(car.roots.length, 1);
  const rootCid = car.roots[0];
  assert.equal(rootCid.code, DAG_CBOR);
  const rootBytes = car.blocks.get(rootCid.toString());
  assert.ok(rootBytes, 'root block present');
  const root = dagCbor.decode(rootBytes);
  // canonical: re-encoding with @ipld/dag-cbor gives the same bytes
  assert.deepEqual(Buffer.from(dagCbor.encode(root)), Buffer.from(rootBytes));
  assert.equal(root.type, 'g1relay-archive');
  assert.equal(root.version, 1);
  const events = [];
  const linked = new Set([rootCid.toString()]);
  for (const pageCid of root.events) {
    assert.equal(pageCid.code, DAG_CBOR);
    const pb = car.blocks.get(pageCid.toString());
    assert.ok(pb, `page ${pageCid} present`);
    const page = dagCbor.decode(pb);
    assert.deepEqual(Buffer.from(dagCbor.encode(page)), Buffer.from(pb));
    assert.equal(page.type, 'g1relay-archive-page');
    linked.add(pageCid.toString());
    for (const ec of page.events) {
      assert.equal(ec.code, RAW);
      const eb = car.blocks.get(ec.toString());
      assert.ok(eb, `event ${ec} present`);
      const text = Buffer.from(eb).toString('utf8');
      const ev = JSON.parse(text);
      assert.ok(verifyEvent(ev), `event block ${ec} verifies`);
      assert.ok(ev.created_at >= page.first && ev.created_at <= page.last);
      assert.ok(ev.created_at >= root.since && ev.created_at <= root.until);
      linked.add(ec.toString());
      events.push(text);
    }
  }
  assert.equal(root.count, events.length);
  assert.equal(linked.size, car.blocks.size, 'every block is linked from the root');
  return { rootCid, root, events };
}

const exportLines = (dir, extra = []) => {
  const r = run(['export', '--data', dir, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l);
};

// ---- data: events published through the relay (nostr-tools) plus a bulk import ----
const dataA = path.join(work, 'a');
const alice = newKey();
const bob = newKey();
const base = 1700000000;
let stationPk;
let arch1;
let arch2;

test('setup: station key, events published to the relay and imported in bulk', async () => {
  const st = run(['station', '--data', dataA]);
  assert.equal(st.status, 0, st.stderr);
  stationPk = st.stdout.split('\n')[0];
  assert.match(stationPk, /^[0-9a-f]{64}$/);
  const relay = await startRelay({ dataDir: dataA, env: { G1RELAY_PASSPHRASE: PASS } });
  const c = await connect(relay.url);
  const t0 = now() - 500;
  const published = [];
  for (let i = 0; i < 30; i++) {
    const receipt = i % 10 === 0; // kind 39743 receipts are archived like any event
    published.push(makeEvent(i % 2 ? alice : bob, {
      kind: receipt ? 39743 : 1, created_at: t0 + i,
      tags: receipt ? [['d', `r${i}`], ['status', 'finalized'], ['amount', '100']] : [['t', 'g1']],
      content: receipt ? '' : `published note ${i} é "quoted" \u0001`,
    }));
  }
  const res = await c.publishMany(published);
  assert.ok(res.every((r) => r.ok), JSON.stringify(res.filter((r) => !r.ok)));
  c.close();
  await relay.stop();
  const lines = [];
  for (let i = 0; i < 1500; i++) {
    lines.push(JSON.stringify(makeEvent(i % 3 ? alice : bob, { created_at: base + i, content: `bulk ${i}`, tags: [['n', String(i)]] })));
  }
  fs.writeFileSync(path.join(work, 'bulk.jsonl'), lines.join('\n') + '\n');
  const imp = run(['import', '--data', dataA, path.join(work, 'bulk.jsonl')]);
  assert.equal(imp.status, 0, imp.stderr);
  assert.match(imp.stdout, /^added 1500$/m);
});

test('archive: CIDs recompute, root and pages link exactly the stored events, prev chains the archives', async () => {
  arch1 = path.join(work, 'a1.car');
  arch2 = path.join(work, 'a2.car');
  const r1 = run(['archive', '--data', dataA, '--until', String(base + 1199), '--out', arch1]);
  assert.equal(r1.status, 0, r1.stderr);
  const r2 = run(['archive', '--data', dataA, '--since', String(base + 1200), '--out', arch2]);
  assert.equal(r2.status, 0, r2.stderr);
  const car1 = await readCar(arch1);
  const car2 = await readCar(arch2);
  const w1 = walk(car1);
  const w2 = walk(car2);
  // printed root, size and sha256 are those of the file
  assert.equal(field(r1.stdout, 'root'), w1.rootCid.toString());
  assert.equal(Number(field(r1.stdout, 'size')), car1.bytes.length);
  assert.equal(field(r1.stdout, 'sha256'), createHash('sha256').update(car1.bytes).digest('hex'));
  // the events are the stored ones, byte for byte, in export order
  assert.deepEqual(w1.events, exportLines(dataA, ['--until', String(base + 1199)]));
  assert.deepEqual(w2.events, exportLines(dataA, ['--since', String(base + 1200)]));
  assert.equal(w1.events.length, 1200);
  assert.ok(w1.root.events.length >= 2, 'several index pages');
  assert.ok(w2.events.some((e) => JSON.parse(e).kind === 39743), 'receipts included');
  // station and chain
  assert.equal(w1.root.station, stationPk);
  assert.equal(w2.root.station, stationPk);
  assert.equal(w1.root.prev, null);
  assert.ok(w2.root.prev && w2.root.prev.equals(w1.rootCid), 'prev of the second archive is the first root');
  assert.equal(w1.root.since, 0);
  assert.equal(w1.root.until, base + 1199);
  assert.equal(w2.root.since, base + 1200);
});

test('round trip: import --car into a fresh data directory gives the same events; chain checked when the prev is known', async () => {
  const dataB = path.join(work, 'b');
  const i2 = run(['import', '--data', dataB, '--car', arch2]); // second first: its prev is unknown here
  assert.equal(i2.status, 0, i2.stderr);
  assert.match(i2.stdout, /prev \S+ \(not known here/);
  const i1 = run(['import', '--data', dataB, '--car', arch1]);
  assert.equal(i1.status, 0, i1.stderr);
  assert.match(i1.stdout, /^added 1200$/m);
  assert.match(i1.stdout, /prev none/);
  const again = run(['import', '--data', dataB, '--car', arch2]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /prev \S+ \(known here: chain link checked\)/);
  assert.match(again.stdout, /^added 0$/m);
  assert.deepEqual(exportLines(dataB), exportLines(dataA));
  // archive --check agrees
  const chk = run(['archive', '--data', dataB, '--check', arch2]);
  assert.equal(chk.status, 0, chk.stderr);
  assert.match(chk.stdout, /^ok$/m);
});

/** Imports a tampered file into a fresh directory: must fail, name `bad`, store nothing. */
function expectRefused(file, bad, why) {
  const dir = fs.mkdtempSync(path.join(work, 'tampered-'));
  const r = run(['import', '--data', dir, '--car', file]);
  assert.equal(r.status, 1, `${why}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /refused/);
  if (bad) assert.ok(r.stderr.includes(String(bad)), `${why}: message names ${bad}: ${r.stderr}`);
  assert.match(r.stderr, /nothing was stored/);
  assert.deepEqual(exportLines(dir), [], `${why}: nothing stored`);
  return r.stderr;
}

async function blockIndex(file) {
  const indexer = await CarIndexer.fromBytes(fs.readFileSync(file));
  const out = [];
  for await (const e of indexer) out.push(e);
  return out;
}

test('tampering: a byte of an event block, of an index page, a forged root, a swapped root, a truncated file', async () => {
  const bytes = fs.readFileSync(arch1);
  const car = await readCar(arch1);
  const w = walk(car);
  const idx = await blockIndex(arch1);
  const evBlock = idx.find((b) => b.cid.code === RAW && b.blockLength > 100);
  const pageBlock = idx.find((b) => b.cid.code === DAG_CBOR && !b.cid.equals(w.rootCid));
  // 1. a byte inside an event's JSON
  let t = Buffer.from(bytes);
  t[evBlock.blockOffset + 60] ^= 0x01;
  fs.writeFileSync(path.join(work, 't1.car'), t);
  expectRefused(path.join(work, 't1.car'), evBlock.cid, 'event byte');
  // 2. a byte inside an index page
  t = Buffer.from(bytes);
  t[pageBlock.blockOffset + pageBlock.blockLength - 3] ^= 0x01;
  fs.writeFileSync(path.join(work, 't2.car'), t);
  expectRefused(path.join(work, 't2.car'), pageBlock.cid, 'page byte');
  // 3. a forged root (count changed, CID recomputed, header updated): refused, names the forged root
  const forged = { ...w.root, count: w.root.count + 1 };
  const forgedBytes = dagCbor.encode(forged);
  const forgedCid = CID.create(1, DAG_CBOR, await sha256.digest(forgedBytes));
  const write = async (file, roots, blocks) => {
    const { writer, out } = CarWriter.create(roots);
    const chunks = [];
    const done = (async () => { for await (const c of out) chunks.push(c); })();
    for (const [cid, b] of blocks) await writer.put({ cid, bytes: b });
    await writer.close();
    await done;
    fs.writeFileSync(file, Buffer.concat(chunks));
  };
  const others = [...car.blocks].filter(([k]) => k !== w.rootCid.toString()).map(([k, b]) => [CID.parse(k), b]);
  await write(path.join(work, 't3.car'), [forgedCid], [...others, [forgedCid, forgedBytes]]);
  expectRefused(path.join(work, 't3.car'), forgedCid, 'forged root');
  // 4. the header's root swapped for another archive's root (its blocks absent)
  const car2 = await readCar(arch2);
  await write(path.join(work, 't4.car'), [car2.roots[0]], [...car.blocks].map(([k, b]) => [CID.parse(k), b]));
  expectRefused(path.join(work, 't4.car'), car2.roots[0], 'swapped root');
  // 5. the header's root swapped for one of its own index pages
  await write(path.join(work, 't5.car'), [pageBlock.cid], [...car.blocks].map(([k, b]) => [CID.parse(k), b]));
  expectRefused(path.join(work, 't5.car'), pageBlock.cid, 'page as root');
  // 6. truncated in the middle of a block
  fs.writeFileSync(path.join(work, 't6.car'), bytes.subarray(0, evBlock.blockOffset + 10));
  assert.match(expectRefused(path.join(work, 't6.car'), null, 'truncated'), /truncated/);
  // 7. an event block removed (a clean cut between blocks is still refused: a link is missing)
  const dropped = idx.find((b) => b.cid.code === RAW);
  await write(path.join(work, 't7.car'), [w.rootCid], [...car.blocks].filter(([k]) => k !== dropped.cid.toString()).map(([k, b]) => [CID.parse(k), b]));
  expectRefused(path.join(work, 't7.car'), dropped.cid, 'missing event');
});

// ---- fake Kubo RPC endpoint: checks the multipart upload is a valid CAR ----
function fakeKubo(port) {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= 64 << 20) chunks.push(c); });
    req.on('end', async () => {
      try {
        const url = new URL(req.url, 'http://x');
        assert.equal(req.method, 'POST');
        assert.equal(url.pathname, '/api/v0/dag/import');
        assert.equal(url.searchParams.get('pin-roots'), 'true');
        const m = /boundary=([^;]+)/.exec(req.headers['content-type'] || '');
        assert.ok(m, 'multipart boundary');
        const body = Buffer.concat(chunks);
        assert.equal(body.length, Number(req.headers['content-length']));
        const start = body.indexOf('\r\n\r\n') + 4;
        const end = body.lastIndexOf(Buffer.from(`\r\n--${m[1]}--`));
        assert.ok(body.subarray(0, start).toString().startsWith(`--${m[1]}\r\n`));
        assert.ok(/name="file"/.test(body.subarray(0, start).toString()));
        const car = body.subarray(start, end);
        const reader = await CarReader.fromBytes(car);
        for await (const { cid, bytes: b } of reader.blocks()) {
          if (!CID.create(1, cid.code, await sha256.digest(b)).equals(cid)) throw new Error(`bad block ${cid}`);
        }
        const roots = await reader.getRoots();
        received.push({ root: roots[0].toString(), sha256: createHash('sha256').update(car).digest('hex') });
        res.writeHead(200, { 'Content-Type': 'application/json' }); // no length: chunked answer
        res.write(JSON.stringify({ Root: { Cid: { '/': roots[0].toString() }, PinErrorMsg: '' } }) + '\n');
        res.end();
      } catch (e) {
        received.push({ error: String(e) });
        res.writeHead(500);
        res.end(JSON.stringify({ Message: String(e), Code: 0, Type: 'error' }));
      }
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, received })));
}

test('periodic archive: a CAR in archive_dir, pushed to the node, announced by a kind 1063 event matching the file', async () => {
  const kport = await freePort();
  const kubo = await fakeKubo(kport);
  after(() => kubo.server.close());
  const relay = await startRelay({
    config: { archive_interval: 2, ipfs_api: `http://127.0.0.1:${kport}` },
    env: { G1RELAY_PASSPHRASE: PASS },
  });
  const c = await connect(relay.url);
  const evs = [0, 1, 2, 3, 4].map((i) => makeEvent(alice, { created_at: now() - 60 + i, content: `periodic ${i}` }));
  const res = await c.publishMany(evs);
  assert.ok(res.every((r) => r.ok));
  let ann = [];
  for (let i = 0; i < 60 * TIME_FACTOR && ann.length === 0; i++) {
    await sleep(250);
    ann = await c.req(`a${i}`, { kinds: [1063] });
  }
  assert.equal(ann.length, 1, relay.output());
  const a = ann[0];
  assert.ok(verifyEvent(a));
  const tag = (k) => (a.tags.find((t) => t[0] === k) || [])[1];
  assert.equal(tag('m'), 'application/vnd.ipld.car');
  const files = fs.readdirSync(path.join(relay.dataDir, 'archives')).filter((f) => f.endsWith('.car'));
  assert.equal(files.length, 1);
  const file = path.join(relay.dataDir, 'archives', files[0]);
  const bytes = fs.readFileSync(file);
  assert.equal(tag('x'), createHash('sha256').update(bytes).digest('hex'));
  assert.equal(Number(tag('size')), bytes.length);
  const car = await readCar(file);
  const w = walk(car);
  assert.equal(tag('cid'), w.rootCid.toString());
  assert.equal(w.root.station, a.pubkey, 'the root names the station that signed the announcement');
  assert.equal(tag('url'), `ipfs://${w.rootCid}`);
  for (const e of evs) assert.ok(w.events.some((x) => JSON.parse(x).id === e.id));
  // the node received exactly this CAR
  assert.deepEqual(kubo.received, [{ root: w.rootCid.toString(), sha256: tag('x') }]);
  c.close();
});

test('push to a node that is down is queued, then delivered by the running relay', async () => {
  const kport = await freePort(); // nothing listens there yet
  const api = `http://127.0.0.1:${kport}`;
  const out = path.join(work, 'queued.car');
  const r = run(['archive', '--data', dataA, '--since', String(base), '--until', String(base + 10), '--out', out, '--push', '--set', `ipfs_api=${api}`]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^push queued$/m);
  assert.match(r.stderr, /push to .* failed/);
  const pending = path.join(dataA, 'ipfs-push.pending');
  assert.ok(fs.readFileSync(pending, 'utf8').includes(field(r.stdout, 'root')));
  // make the entry due now (the first retry is 30 s away), start the node, then the relay
  fs.writeFileSync(pending, fs.readFileSync(pending, 'utf8').replace(/^(\S+ \d+) \d+ /m, '$1 0 '));
  const kubo = await fakeKubo(kport);
  after(() => kubo.server.close());
  const relay = await startRelay({ dataDir: dataA, config: { ipfs_api: api }, env: { G1RELAY_PASSPHRASE: PASS } });
  for (let i = 0; i < 40 * TIME_FACTOR && kubo.received.length === 0; i++) await sleep(250);
  assert.deepEqual(kubo.received.map((x) => x.root), [field(r.stdout, 'root')], relay.output());
  for (let i = 0; i < 20 * TIME_FACTOR && fs.readFileSync(pending, 'utf8').trim() !== ''; i++) await sleep(250);
  assert.equal(fs.readFileSync(pending, 'utf8').trim(), '', 'the pending list is empty after the push');
  await relay.stop();
});

test('archive --announce stores a kind 1063 event signed by the station whose tags match the file', async () => {
  const dir = path.join(work, 'announce');
  const st = run(['station', '--data', dir]);
  assert.equal(st.status, 0, st.stderr);
  const pk = st.stdout.split('\n')[0];
  const lines = [0, 1, 2].map((i) => JSON.stringify(makeEvent(alice, { created_at: base + i, content: `announced ${i}` })));
  fs.writeFileSync(path.join(work, 'ann.jsonl'), lines.join('\n') + '\n');
  assert.equal(run(['import', '--data', dir, path.join(work, 'ann.jsonl')]).status, 0);
  const out = path.join(work, 'announced.car');
  const r = run(['archive', '--data', dir, '--out', out, '--announce']);
  assert.equal(r.status, 0, r.stderr);
  const scan = run(['scan', '--data', dir, '{"kinds":[1063]}']);
  assert.equal(scan.status, 0, scan.stderr);
  const anns = scan.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l));
  assert.equal(anns.length, 1);
  const a = anns[0];
  assert.ok(verifyEvent(a));
  assert.equal(a.pubkey, pk);
  assert.equal(a.id, field(r.stdout, 'announcement'));
  const tag = (k) => (a.tags.find((t) => t[0] === k) || [])[1];
  const bytes = fs.readFileSync(out);
  const w = walk(await readCar(out));
  assert.equal(tag('cid'), w.rootCid.toString());
  assert.equal(tag('x'), createHash('sha256').update(bytes).digest('hex'));
  assert.equal(Number(tag('size')), bytes.length);
  assert.equal(tag('m'), 'application/vnd.ipld.car');
  assert.equal(Number(tag('count')), 3);
  assert.equal(tag('url'), undefined, 'not pushed: no url');
  assert.equal(w.root.station, pk);
  // without the keystore passphrase there is no station key: refused, nothing written
  const noKey = run(['archive', '--data', dir, '--out', path.join(work, 'nokey.car'), '--announce'], { G1RELAY_PASSPHRASE: '' });
  assert.equal(noKey.status, 1);
  assert.ok(!fs.existsSync(path.join(work, 'nokey.car')));
});

// ---- a real IPFS node: js-ipfs 0.66.1 (npm `ipfs`), offline, same RPC as Kubo ----
// Kubo's npm package fetches a Go binary at install time (impossible offline); the
// js-ipfs daemon runs from npm alone once Node 20 gets a Promise.withResolvers polyfill.
test('push to a real IPFS node (js-ipfs daemon, offline): chain pushed in order, roots pinned, blocks served', async () => {
  const jsipfs = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../node_modules/ipfs/src/cli.js');
  assert.ok(fs.existsSync(jsipfs), 'npm package ipfs (tests/package.json) is installed');
  const repo = path.join(work, 'ipfs-repo');
  const poly = path.join(work, 'poly.cjs');
  fs.writeFileSync(poly, 'if (!Promise.withResolvers) Promise.withResolvers = function () { let resolve, reject; ' +
    'const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };\n');
  const ipfsEnv = { ...process.env, IPFS_PATH: repo, NODE_OPTIONS: `--require ${poly}` };
  const init = spawnSync(process.execPath, [jsipfs, 'init', '--empty-repo', '--profile', 'test'], { env: ipfsEnv, encoding: 'utf8', timeout: 120000 });
  assert.equal(init.status, 0, init.stderr);
  const apiPort = await freePort();
  const gwPort = await freePort();
  const cfg = JSON.parse(fs.readFileSync(path.join(repo, 'config'), 'utf8'));
  cfg.Addresses.API = `/ip4/127.0.0.1/tcp/${apiPort}`;
  cfg.Addresses.Gateway = `/ip4/127.0.0.1/tcp/${gwPort}`;
  cfg.Addresses.Swarm = [];
  delete cfg.Addresses.RPC;
  cfg.Bootstrap = [];
  cfg.Discovery = { MDNS: { Enabled: false }, webRTCStar: { Enabled: false } };
  fs.writeFileSync(path.join(repo, 'config'), JSON.stringify(cfg, null, 2));
  const { spawn } = await import('node:child_process');
  const daemon = spawn(process.execPath, [jsipfs, 'daemon', '--offline'], { env: ipfsEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  daemon.stdout.on('data', (c) => { log += c; });
  daemon.stderr.on('data', (c) => { log += c; });
  after(() => { try { daemon.kill('SIGKILL'); } catch { /* gone */ } });
  for (let i = 0; i < 240 * TIME_FACTOR && !log.includes('Daemon is ready'); i++) {
    assert.equal(daemon.exitCode, null, `js-ipfs daemon exited: ${log}`);
    await sleep(250);
  }
  assert.ok(log.includes('Daemon is ready'), log);
  const api = `http://127.0.0.1:${apiPort}`;
  const rpc = async (pathq) => {
    const r = await fetch(`${api}/api/v0/${pathq}`, { method: 'POST', signal: AbortSignal.timeout(30000) });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };
  // a fresh station: two archives pushed in chain order
  const dir = path.join(work, 'real-node');
  const lines = [];
  for (let i = 0; i < 40; i++) lines.push(JSON.stringify(makeEvent(bob, { created_at: base + i, content: `to ipfs ${i}` })));
  fs.writeFileSync(path.join(work, 'real.jsonl'), lines.join('\n') + '\n');
  assert.equal(run(['import', '--data', dir, path.join(work, 'real.jsonl')]).status, 0);
  const pushed = [];
  for (const [since, until] of [[0, base + 19], [base + 20, base + 100]]) {
    const out = path.join(work, `real-${since}.car`);
    const r = run(['archive', '--data', dir, '--since', String(since), '--until', String(until), '--out', out, '--push', '--set', `ipfs_api=${api}`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^pushed /m, `${r.stdout}${r.stderr}`);
    pushed.push({ root: field(r.stdout, 'root'), file: out });
  }
  // both roots pinned recursively (the second one's pin walked its prev: the first archive)
  const pins = await rpc('pin/ls?type=recursive');
  assert.equal(pins.status, 200);
  const pinned = Object.keys(JSON.parse(pins.body.toString()).Keys).map((k) => CID.parse(k).toV1().toString());
  for (const p of pushed) assert.ok(pinned.includes(p.root), `${p.root} pinned: ${pinned}`);
  // the node serves the blocks byte for byte: the roots and every event
  for (const p of pushed) {
    const car = await readCar(p.file);
    const w = walk(car);
    const root = await rpc(`block/get?arg=${p.root}`);
    assert.equal(root.status, 200);
    assert.deepEqual(root.body, Buffer.from(car.blocks.get(p.root)));
    for (const [k, b] of car.blocks) {
      if (CID.parse(k).code !== RAW) continue;
      const got = await rpc(`block/get?arg=${k}`);
      assert.deepEqual(got.body, Buffer.from(b), `event block ${k}`);
    }
    assert.equal(w.events.length, 20);
  }
  daemon.kill('SIGTERM');
});
