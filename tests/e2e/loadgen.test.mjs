// The benchmark load generator (tests/tools/loadgen) against the real binary, with
// small sizes: every mode completes, its counts agree with what the relay stores
// (checked with an independent Node client and NIP-45 COUNT), and it reports
// failures when the relay refuses events. Keeps `make bench` honest and doubles
// as a concurrency test (16 pipelining publishers, 60 live subscriptions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { startRelay, connect, TOOLS_DIR } from './lib/relay.mjs';

const LOADGEN = path.join(TOOLS_DIR, 'loadgen');

/** Runs loadgen; resolves { code, result: {key: value}, stderr }. */
function loadgen(args) {
  return new Promise((resolve) => {
    execFile(LOADGEN, [...args, '--timeout', '60'], { timeout: 90000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT ')) ?? '';
      const result = Object.fromEntries(line.split(' ').slice(2).map((kv) => kv.split('=')));
      resolve({ code: err ? err.code : 0, result, stderr, line });
    });
  });
}

test('loadgen is built', () => {
  assert.ok(fs.existsSync(LOADGEN), `${LOADGEN} missing: run make tools`);
});

test('fill, ingest, query and fanout against the relay', async () => {
  const relay = await startRelay();
  const c = await connect(relay.url);

  const fill = await loadgen(['fill', '--url', relay.url, '--events', '1500', '--connections', '4', '--window', '64']);
  assert.equal(fill.code, 0, fill.stderr);
  assert.equal(fill.result.answered, '1500', fill.line);
  assert.equal(fill.result.failed, '0', fill.line);
  // the mix holds replaceable kinds 0 and 3 and addressable 30023: fewer stored than sent
  const stored = await c.count('n1', {});
  assert.ok(stored > 1300 && stored <= 1500, `stored ${stored}`);

  const ing = await loadgen(['ingest', '--url', relay.url, '--connections', '16', '--window', '20', '--events', '800']);
  assert.equal(ing.code, 0, ing.stderr);
  assert.equal(ing.result.ok, '800', ing.line);
  assert.equal(ing.result.duplicate, '0', ing.line);
  assert.ok(Number(ing.result.events_per_s) > 0, ing.line);
  assert.ok(Number(ing.result.p99_ms) >= Number(ing.result.p50_ms), ing.line);
  const after = await c.count('n2', {});
  assert.equal(after, stored + 800, 'every OK true event is stored');

  const q = await loadgen(['query', '--url', relay.url, '--connections', '4', '--requests', '200']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.result.answered, '200', q.line);
  assert.equal(q.result.closed, '0', q.line);
  // 1500 mix events from 1000 authors, 62 % kind 1: about one kind 1 note per author
  const perReq = Number(q.result.events_per_req);
  assert.ok(perReq > 0.3 && perReq < 3, q.line);

  const f = await loadgen(['fanout', '--url', relay.url, '--subscribers', '60', '--connections', '6', '--events', '5']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.result.deliveries, '300', f.line);
  assert.equal(f.result.missing, '0', f.line);
  assert.equal(f.result.duplicates, '0', f.line);
  c.terminate();
});

test('ingest reports refused events and fails', async () => {
  const relay = await startRelay({ configText: 'plugins = ["kind_filter"]\n[plugin.kind_filter]\ndeny = [1]\n' });
  const r = await loadgen(['ingest', '--url', relay.url, '--connections', '2', '--window', '5', '--events', '50']);
  assert.notEqual(r.code, 0, 'loadgen exits non-zero when events are refused');
  assert.equal(r.result.failed, '50', r.line);
  assert.equal(r.result.ok, '0', r.line);
  assert.match(r.stderr, /rejected: blocked:/);
});

test('ingest --rate paces the events and counts latency from when each was due', async () => {
  const relay = await startRelay();
  const c = await connect(relay.url);
  const before = await c.count('r0', {});
  const r = await loadgen(['ingest', '--url', relay.url, '--connections', '4', '--window', '20', '--events', '600', '--rate', '400']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.result.rate, '400', r.line);
  assert.equal(r.result.ok, '600', r.line);
  // 600 events due over 1.5 s: the run cannot be faster than the schedule, and a relay
  // that keeps up finishes soon after the last one is due
  const secs = Number(r.result.seconds);
  assert.ok(secs >= 1.49 && secs < 6, r.line);
  assert.ok(Number(r.result.events_per_s) <= 403, r.line);
  assert.equal(await c.count('r1', {}), before + 600, 'every OK true event is stored');
  c.terminate();
});
