// Ingest measured with a Node `ws` client, like the third-party strfry figures
// of issue 2, so g1relay can be compared on the same kind of load. Events are
// pre-signed by `loadgen fill --notes --out FILE` (one JSON object per line).
//
//   node tests/bench/ingest-node.mjs --url ws://127.0.0.1:PORT --file FILE \
//        [--connections 16] [--window 1] [--timeout 300]
//
// Each connection keeps `window` EVENTs in flight and parses every reply with
// JSON.parse, as a client library would. Prints the same RESULT line as loadgen.
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const url = args.url ?? 'ws://127.0.0.1:7777';
const connections = Number(args.connections ?? 16);
const window = Number(args.window ?? 1);
const timeoutMs = Number(args.timeout ?? 300) * 1000;
if (!args.file) { console.error('ingest-node: --file FILE is required'); process.exit(2); }

const lines = readFileSync(args.file, 'utf8').split('\n').filter((l) => l.length > 0);
const events = lines.map((l) => ({ id: JSON.parse(l).id, msg: `["EVENT",${l}]` }));
const total = events.length;
const latencies = [];
let next = 0, answered = 0, ok = 0, failed = 0, dup = 0, shown = 0;
const sentAt = new Map();

function pct(sorted, p) {
  if (!sorted.length) return 0;
  const k = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[k - 1];
}

const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise((resolve, reject) => {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.once('open', () => resolve(ws));
  ws.once('error', reject);
})));

let t0;
const done = new Promise((resolve) => {
  const pump = (ws) => {
    while (ws.inFlight < window && next < total) {
      const e = events[next++];
      sentAt.set(e.id, process.hrtime.bigint());
      ws.inFlight++;
      ws.send(e.msg);
    }
  };
  for (const ws of sockets) {
    ws.inFlight = 0;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m[0] !== 'OK') return;
      const t = sentAt.get(m[1]);
      if (t === undefined) return;
      sentAt.delete(m[1]);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      answered++;
      if (m[2] === true) { ok++; if (String(m[3]).startsWith('duplicate:')) dup++; }
      else { failed++; if (shown++ < 5) console.error('ingest-node: rejected:', m[3]); }
      ws.inFlight--;
      if (answered === total) resolve(true);
      else pump(ws);
    });
  }
  t0 = process.hrtime.bigint();
  for (const ws of sockets) pump(ws);
  setTimeout(() => resolve(false), timeoutMs).unref();
});
const complete = await done;
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
latencies.sort((a, b) => a - b);
const rate = answered / secs;
console.error(`ingest-node: ${connections} connections, window ${window}: ${answered}/${total} in ${secs.toFixed(2)} s = ${rate.toFixed(0)} events/s, p50 ${pct(latencies, 50).toFixed(2)} ms p99 ${pct(latencies, 99).toFixed(2)} ms`);
console.log(`RESULT ingest client=node-ws connections=${connections} window=${window} events=${total} answered=${answered} ok=${ok} duplicate=${dup} failed=${failed} seconds=${secs.toFixed(3)} events_per_s=${rate.toFixed(0)} p50_ms=${pct(latencies, 50).toFixed(3)} p99_ms=${pct(latencies, 99).toFixed(3)} max_ms=${pct(latencies, 100).toFixed(3)} complete=${complete ? 1 : 0}`);
for (const ws of sockets) ws.terminate();
process.exit(complete && failed === 0 ? 0 : 1);
