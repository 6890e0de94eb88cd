// Upstream sync and the external write policy (issue 6): events fetched from an
// upstream relay go through the same write-policy program as a client's events,
// with sourceType "Sync" and sourceInfo the upstream URL (as strfry does for its
// sync). A refused event is not stored, so it settles nothing; an event the
// policy could not decide (it timed out) is fetched again and then stored.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startStation, newKey, makeEvent, reaction, waitReceipt, receiptsAfter, connect, sleep, tempDataDir, tag,
} from './lib/settlement.mjs';
import { startRelay } from './lib/relay.mjs';

const alice = newKey(), bob = newKey();
let up, st, c, cu, logFile, dir;

// A strfry write policy in node: logs every input line; refuses events tagged
// ["policy","refuse"]; does not answer the first time it sees ["policy","stall-once"].
const POLICY = `
import fs from 'node:fs';
import readline from 'node:readline';
const [log, marks] = process.argv.slice(2);
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  fs.appendFileSync(log, line + '\\n');
  const ev = JSON.parse(line).event;
  const has = (v) => ev.tags.some((t) => t[0] === 'policy' && t[1] === v);
  if (has('stall-once')) {
    const mark = marks + '/' + ev.id;
    if (!fs.existsSync(mark)) { fs.writeFileSync(mark, ''); return; }
  }
  const refuse = has('refuse');
  process.stdout.write(JSON.stringify({ id: ev.id, action: refuse ? 'reject' : 'accept', msg: refuse ? 'blocked: not here' : '' }) + '\\n');
});
`;

async function waitStored(client, id, timeout = 15000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if ((await client.query({ ids: [id] })).length === 1) return;
    await sleep(100);
  }
  throw new Error(`event ${id} never arrived`);
}

const inputs = () => fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

before(async () => {
  ({ base: dir } = tempDataDir('g1relay-syncpolicy-'));
  const program = path.join(dir, 'policy.mjs');
  fs.writeFileSync(program, POLICY);
  logFile = path.join(dir, 'policy.log');
  fs.writeFileSync(logFile, '');
  fs.mkdirSync(path.join(dir, 'marks'));
  up = await startRelay({ cleanup: false });
  st = await startStation({
    payers: [alice, bob],
    args: ['--upstream', up.url],
    config: {
      write_policy: `${process.execPath} ${program} ${logFile} ${path.join(dir, 'marks')}`,
      write_policy_processes: 1, write_policy_timeout_ms: 2000,
    },
  });
  c = st.client;
  cu = await connect(up.url);
});

test('synced events go through the write policy as "Sync" from the upstream URL; refused ones are not stored', async () => {
  const post = makeEvent(bob, { kind: 1, content: 'a post on the upstream' });
  const refusedNote = makeEvent(alice, { kind: 1, content: 'not here', tags: [['policy', 'refuse']] });
  assert.equal((await cu.publish(refusedNote)).ok, true);
  assert.equal((await cu.publish(post)).ok, true);
  await waitStored(c, post.id);
  await sleep(1000);
  assert.equal((await c.query({ ids: [refusedNote.id] })).length, 0, 'the policy refused it: not stored here');
  const synced = inputs().filter((m) => m.event.id === post.id || m.event.id === refusedNote.id);
  assert.ok(synced.some((m) => m.event.id === post.id) && synced.some((m) => m.event.id === refusedNote.id),
    'the policy saw both synced events');
  for (const m of synced) {
    assert.equal(m.type, 'new');
    assert.equal(m.sourceType, 'Sync');
    assert.equal(m.sourceInfo, up.url);
  }
  // a client's event still comes as IP4 from its address
  const mine = makeEvent(bob, { kind: 1, content: 'from a client' });
  assert.equal((await c.publish(mine)).ok, true);
  const fromClient = inputs().find((m) => m.event.id === mine.id);
  assert.equal(fromClient.sourceType, 'IP4');
});

test('a paying like refused by the policy on sync settles nothing; an accepted one settles', async () => {
  const post = makeEvent(bob, { kind: 1, content: 'like target' });
  assert.equal((await cu.publish(post)).ok, true);
  await waitStored(c, post.id);
  const refused = reaction(alice, post, { content: '+4', tags: [['policy', 'refuse']] });
  assert.equal((await cu.publish(refused)).ok, true);
  const other = makeEvent(bob, { kind: 1, content: 'another target' });
  assert.equal((await cu.publish(other)).ok, true);
  await waitStored(c, other.id);
  const accepted = reaction(alice, other, { content: '+2' });
  assert.equal((await cu.publish(accepted)).ok, true);
  assert.equal(tag(await waitReceipt(c, accepted.id, 'pending', { timeout: 15000 }), 'amount'), '20');
  assert.equal((await receiptsAfter(c, refused.id, 1000)).length, 0, 'no settlement for the refused like');
  assert.equal((await c.query({ ids: [refused.id] })).length, 0);
});

test('an event the policy could not decide (timeout) is fetched again and stored', async () => {
  const stalled = makeEvent(bob, { kind: 1, content: 'slow to judge', tags: [['policy', 'stall-once']] });
  assert.equal((await cu.publish(stalled)).ok, true);
  try {
    await waitStored(c, stalled.id, 40000);
  } catch (e) {
    throw new Error(`${e.message}\n${st.relay.output().slice(-6000)}`);
  }
  const seen = inputs().filter((m) => m.event.id === stalled.id);
  assert.ok(seen.length >= 2, `the policy was asked again (${seen.length})`);
  assert.ok(seen.every((m) => m.sourceType === 'Sync'));
});
