// The outcome of an extrinsic is read from System.Events at its block, laid out by
// the runtime in force THERE: when the node says that block ran another runtime
// version than the current one (the station was behind during an upgrade), the
// engine reads the metadata at that block (state_getMetadata with its hash) to
// decode the events. A JSON-RPC proxy in front of the test node reports every
// block's runtime as one version older than the current and records the calls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { NodeProcess } from '../g1node/client.mjs';
import {
  startStation, newKey, makeEvent, reaction, waitReceipt, tag, tempDataDir,
} from './lib/settlement.mjs';

const alice = newKey(), bob = newKey();
let node, proxy, proxyUrl;
const metadataAt = [];

before(async () => {
  const { base } = tempDataDir('g1relay-evrt-');
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(base, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
  const target = new URL(node.url);
  proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let msg = null;
      try { msg = JSON.parse(body.toString()); } catch { /* forwarded as is */ }
      const atBlock = msg && !Array.isArray(msg) && Array.isArray(msg.params) && typeof msg.params[0] === 'string';
      if (atBlock && msg.method === 'state_getMetadata') metadataAt.push(msg.params[0]);
      const up = http.request({ host: target.hostname, port: target.port, path: '/', method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length } }, (ur) => {
        const parts = [];
        ur.on('data', (c) => parts.push(c));
        ur.on('end', () => {
          let out = Buffer.concat(parts);
          if (atBlock && msg.method === 'state_getRuntimeVersion') {
            const j = JSON.parse(out.toString());
            if (j.result) j.result.specVersion -= 1; // "this block ran the previous runtime"
            out = Buffer.from(JSON.stringify(j));
          }
          res.writeHead(ur.statusCode, { 'content-type': 'application/json', 'content-length': out.length });
          res.end(out);
        });
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      up.end(body);
    });
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
});
after(async () => { proxy.close(); await node.stop(); });

test('events of a block from another runtime are decoded with the metadata at that block', async () => {
  const st = await startStation({
    payers: [alice, bob],
    config: {
      g1_nodes: [proxyUrl], batch_window_ms: 0, settlement_poll_ms: 100, g1_rpc_timeout_ms: 1500,
      g1_resubmit_ms: 1000, era_period: 32,
    },
  });
  const c = st.client;
  for (const k of [alice, bob]) await node.rpc('test_setBalance', [st.address.get(k.pk), 1_000_000]);
  const post = makeEvent(bob, { kind: 1, content: 'upgrade time' });
  assert.equal((await c.publish(post)).ok, true);
  const like = reaction(alice, post, { content: '+6' });
  assert.equal((await c.publish(like)).ok, true);
  const rc = await waitReceipt(c, like.id, (ev) => ['finalized', 'failed'].includes(tag(ev, 'status')), { timeout: 30000 });
  assert.equal(tag(rc, 'status'), 'finalized', JSON.stringify(rc.tags));
  const block = rc.tags.find((t) => t[0] === 'block');
  assert.ok(metadataAt.includes(block[2]), `the metadata at block ${block[2]} was read (${metadataAt.length} reads at blocks)`);
  const paid = (await node.ledger()).filter((e) => e.from === st.address.get(alice.pk));
  assert.equal(paid.reduce((s, e) => s + Number(e.amount), 0), 60);
  await st.relay.stop();
});
