// Filter plugins against the real binary: strfry write-policy programs (accept,
// reject, shadowReject, timeout, crash, garbage, parallel slow decisions, program
// replaced while the relay runs), the NIP-101 filter directory (--filter-dir), and
// the built-in in-process plugins (kind_filter, pubkey_list with reload, ratelimit).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRelay, connect, newKey, makeEvent, show } from './lib/relay.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const policies = path.resolve(here, '../fixtures/policies');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-plugins-e2e-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function copyExecutable(from, to) {
  fs.copyFileSync(from, to + '.new');
  fs.chmodSync(to + '.new', 0o755);
  fs.renameSync(to + '.new', to); // atomic replacement, as an operator would do
}

const clients = [];
async function client(relay) {
  const c = await connect(relay.url);
  clients.push(c);
  return c;
}
after(() => Promise.all(clients.map((c) => c.end())));

const stored = async (c, ev) => (await c.query({ ids: [ev.id] })).length === 1;

test('write policy (strfry protocol): accept, reject, shadowReject and the input fields', async () => {
  const relay = await startRelay({
    config: { write_policy_processes: 2, write_policy_timeout_ms: 800 },
    args: ['--write-policy', path.join(policies, 'by_content.sh')],
  });
  const c = await client(relay);
  const k = newKey();

  const ok = makeEvent(k, { content: 'hello' });
  let r = await c.publish(ok);
  assert.equal(r.ok, true, show(r.raw));
  assert.ok(await stored(c, ok));

  const rej = makeEvent(k, { content: 'policy:reject' });
  r = await c.publish(rej);
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'blocked: content refused by policy');
  assert.equal(await stored(c, rej), false);

  const plain = makeEvent(k, { content: 'policy:plain' });
  r = await c.publish(plain);
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'blocked: no prefix here', 'a message without NIP-01 prefix gets "blocked: "');

  const shadow = makeEvent(k, { content: 'policy:shadow' });
  r = await c.publish(shadow);
  assert.equal(r.ok, true, show(r.raw));
  assert.equal(await stored(c, shadow), false, 'shadow-rejected events are not stored');

  r = await c.publish(makeEvent(k, { content: 'policy:sourcetype' }));
  assert.equal(r.message, 'blocked: seen IP4 none', show(r.raw));
});

test('write policy: timeout, crash and garbage get the default (reject) and the program is restarted', async () => {
  const hangPidFile = path.join(tmp, 'hang.pid');
  const relay = await startRelay({
    config: { write_policy: path.join(policies, 'by_content.sh'), write_policy_processes: 1, write_policy_timeout_ms: 700 },
    env: { HANG_PID_FILE: hangPidFile },
  });
  const c = await client(relay);
  const k = newKey();

  const t0 = Date.now();
  let r = await c.publish(makeEvent(k, { content: 'policy:hang' }));
  const took = Date.now() - t0;
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'error: write policy timed out');
  assert.ok(took >= 650 && took < 4000, `answered after ${took} ms`);
  // the script's child (same process group) was killed too
  const hangPid = Number(fs.readFileSync(hangPidFile, 'utf8'));
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    try {
      const stat = fs.readFileSync(`/proc/${hangPid}/stat`, 'utf8');
      alive = !/\) [ZX] /.test(stat);
    } catch { alive = false; }
    if (alive) await sleep(20);
  }
  assert.equal(alive, false, 'the sleeping child of the timed-out policy is gone');

  r = await c.publish(makeEvent(k, { content: 'policy:crash' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'error: write policy crashed');

  r = await c.publish(makeEvent(k, { content: 'policy:garbage' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'error: write policy answered garbage');

  const after1 = makeEvent(k, { content: 'still working' });
  r = await c.publish(after1);
  assert.equal(r.ok, true, show(r.raw));
  assert.ok(await stored(c, after1));
});

test('write policy: slow decisions run in parallel on several processes', async () => {
  const relay = await startRelay({
    config: { write_policy: path.join(policies, 'slow_accept.sh'), write_policy_processes: 4 },
  });
  const c = await client(relay);
  const k = newKey();
  await c.publish(makeEvent(k, { content: 'warm-up' }));
  const evs = [0, 1, 2, 3].map((i) => makeEvent(k, { content: `slow ${i}` }));
  const t0 = Date.now();
  const results = await c.publishMany(evs);
  const took = Date.now() - t0;
  for (const r of results) assert.equal(r.ok, true, show(r.raw));
  assert.ok(took < 1000, `4 decisions of 300 ms took ${took} ms (sequential would be 1200)`);
});

test('write policy: a replaced program is picked up without restarting the relay', async () => {
  const program = path.join(tmp, 'policy.sh');
  copyExecutable(path.join(policies, 'accept_all.sh'), program);
  const relay = await startRelay({ config: { write_policy: program, write_policy_processes: 2 } });
  const c = await client(relay);
  const k = newKey();
  let r = await c.publish(makeEvent(k, { content: 'before' }));
  assert.equal(r.ok, true, show(r.raw));
  copyExecutable(path.join(policies, 'reject_all.sh'), program);
  await sleep(1600); // the file is checked at most once a second
  r = await c.publish(makeEvent(k, { content: 'after' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'blocked: not welcome here');
  assert.equal(relay.running(), true);
});

test('NIP-101 filter directory (--filter-dir): <kind>.sh with the input line as $1, exit 0 accepts', async () => {
  const relay = await startRelay({ args: ['--filter-dir', path.join(policies, 'filter')] });
  const c = await client(relay);
  const k = newKey();
  const note = makeEvent(k, { kind: 1, content: 'hello' });
  let r = await c.publish(note);
  assert.equal(r.ok, true, show(r.raw));
  assert.ok(await stored(c, note));

  r = await c.publish(makeEvent(k, { kind: 1, content: 'filter:no' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'blocked: kind 1 refused by filter');

  const like = makeEvent(k, { kind: 7, content: '+', tags: [['e', note.id], ['p', k.pk]] });
  r = await c.publish(like);
  assert.equal(r.ok, false, show(r.raw));
  assert.equal(r.message, 'blocked: reactions are closed', 'first line of the script output');
  assert.equal(await stored(c, like), false);

  const noScript = makeEvent(k, { kind: 30023, content: 'article', tags: [['d', 'x']] });
  r = await c.publish(noScript);
  assert.equal(r.ok, true, 'kinds without a script are accepted');
  assert.ok(await stored(c, noScript));
});

test('in-process plugins: kind_filter and pubkey_list (deny file reloaded on change)', async () => {
  const denyFile = path.join(tmp, 'deny.txt');
  const banned = newKey();
  const later = newKey();
  fs.writeFileSync(denyFile, `# banned\n${banned.pk}\n`);
  const relay = await startRelay({
    configText: [
      'plugins = ["kind_filter", "pubkey_list"]',
      '[plugin.kind_filter]',
      'deny = [4, "20000-29999"]',
      '[plugin.pubkey_list]',
      `deny_file = ${JSON.stringify(denyFile)}`,
      'reload_interval_ms = 200',
      '',
    ].join('\n'),
  });
  const c = await client(relay);
  const k = newKey();
  let r = await c.publish(makeEvent(k, { kind: 1, content: 'fine' }));
  assert.equal(r.ok, true, show(r.raw));
  r = await c.publish(makeEvent(k, { kind: 4, content: 'dm' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^blocked: kind 4/);
  r = await c.publish(makeEvent(banned, { kind: 1, content: 'spam' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^blocked: .*deny list/);

  r = await c.publish(makeEvent(later, { kind: 1, content: 'before ban' }));
  assert.equal(r.ok, true, show(r.raw));
  fs.writeFileSync(denyFile + '.new', `${banned.pk}\n${later.pk} # added later\n`);
  fs.renameSync(denyFile + '.new', denyFile);
  await sleep(700);
  r = await c.publish(makeEvent(later, { kind: 1, content: 'after ban' }));
  assert.equal(r.ok, false, show(r.raw));
  assert.match(r.message, /^blocked: /);
});

test('in-process plugins: ratelimit answers "rate-limited:" past the burst', async () => {
  const relay = await startRelay({
    configText: [
      'plugins = ["ratelimit"]',
      '[plugin.ratelimit]',
      'ip_per_minute = 6',
      'ip_burst = 5',
      'pubkey_per_minute = 0',
      '',
    ].join('\n'),
  });
  const c = await client(relay);
  const k = newKey();
  const results = [];
  for (let i = 0; i < 7; i++) results.push(await c.publish(makeEvent(k, { content: `burst ${i}` })));
  assert.deepEqual(results.map((r) => r.ok), [true, true, true, true, true, false, false], show(results.map((r) => r.raw)));
  assert.match(results[5].message, /^rate-limited: /);
});
