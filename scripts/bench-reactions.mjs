#!/usr/bin/env node
// Benchmark of paying reactions (issue 6), against the real binary and the g1node
// stand-in:
//  1. reactions/s accepted (OK true) with the settlement plugins on: every reaction
//     pays, so each one also writes its settlement record, intent and daily total
//     in the writer's transaction; BENCH_REACTIONS (2000) reactions pipelined over
//     BENCH_REACTION_CLIENTS (4) connections;
//  2. time from a like to its `finalized` receipt (published by the station, seen by a
//     live subscriber), BENCH_LATENCY_LIKES (10) likes one after the other, with the
//     node's block time BENCH_BLOCK_MS (1000) and finality lag 2.
// Prints RESULT lines. Environment: G1RELAY_BIN, G1_SHARED.
import fs from 'node:fs';
import path from 'node:path';
import { NodeProcess } from '../tests/g1node/client.mjs';
import {
  startStation, newKey, makeEvent, reaction, tempDataDir, connect, sleep, status, tag,
} from '../tests/e2e/lib/settlement.mjs';

const N = Number(process.env.BENCH_REACTIONS || 2000);
const CLIENTS = Number(process.env.BENCH_REACTION_CLIENTS || 4);
const LIKES = Number(process.env.BENCH_LATENCY_LIKES || 10);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS || 1000);

const { base, data } = tempDataDir('g1relay-bench-reactions-');
const node = new NodeProcess({ blockMs: BLOCK_MS, finalityLag: 2, dir: path.join(base, 'node') });
fs.mkdirSync(node.dir, { recursive: true });
await node.start();
const likers = Array.from({ length: CLIENTS }, newKey);
const author = newKey();
const solo = newKey(); // likes alone for the latency part (no backlog of its own)
const st = await startStation({
  dataDir: data, payers: [...likers, author, solo],
  config: { g1_nodes: [node.url], daily_limit_centimes: 1_000_000_000, batch_window_ms: 1000, settlement_poll_ms: 200 },
});
for (const k of [...likers, solo]) await node.rpc('test_setBalance', [st.address.get(k.pk), 1_000_000_000]);
await node.rpc('test_setBalance', [st.address.get(author.pk), 1000]);

try {
  // posts to like (one per reaction, so none is a duplicate)
  const c0 = st.client;
  const posts = [];
  for (let i = 0; i < Math.ceil(N / CLIENTS); i++) posts.push(makeEvent(author, { kind: 1, content: `post ${i}` }));
  for (let i = 0; i < posts.length; i += 500) await c0.publishMany(posts.slice(i, i + 500), { timeout: 60000 });
  const batches = likers.map((k) => posts.map((p) => reaction(k, p, { content: '+' })));
  const clients = await Promise.all(likers.map(() => connect(st.relay.url)));
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(batches.map((evs, i) => clients[i].publishMany(evs, { timeout: 120000 })));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const total = results.reduce((s, r) => s + r.length, 0);
  const ok = results.reduce((s, r) => s + r.filter((x) => x.ok).length, 0);
  console.log(`RESULT reactions_accepted_per_s ${(ok / secs).toFixed(0)} (${ok}/${total} OK in ${secs.toFixed(2)} s, ${CLIENTS} connections, settlement on)`);

  // latency: like → finalized receipt seen live, from a payer with nothing else queued
  const c = await connect(st.relay.url);
  const lat = [];
  for (let i = 0; i < LIKES; i++) {
    const post = makeEvent(author, { kind: 1, content: `latency ${i}` });
    await c.publish(post);
    const like = reaction(solo, post, { content: '+2' });
    const from = c.mark();
    const sub = `l${i}`;
    c.send(['REQ', sub, { kinds: [39743], '#d': [like.id] }]);
    const t = Date.now();
    await c.publish(like);
    await c.waitEvent(sub, (ev) => status(ev) === 'finalized' && tag(ev, 'd') === like.id, { from, timeout: 120000 });
    lat.push(Date.now() - t);
    c.close(sub);
  }
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  console.log(`RESULT like_to_finalized_ms median ${q(0.5)} p95 ${q(0.95)} (block ${BLOCK_MS} ms, finality lag 2, batch window 1000 ms, ${LIKES} likes)`);
} finally {
  await st.relay.stop();
  await node.stop();
}
process.exit(0);
