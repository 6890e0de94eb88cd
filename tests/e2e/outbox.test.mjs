// The settlement outbox against the real binary and the g1node test stand-in:
// single and batched payments through `g1relay pay`, idempotency keys, the
// chain's failure reasons (insufficient funds, keep-alive, existential deposit,
// a failed batch split into single transfers), `settlements` and
// `wallet balance`; then exactly-once under crashes: a 200-payment run killed
// with SIGKILL at exact points (G1RELAY_CRASH_AT) and at random moments,
// with node faults (dropped submissions, lost replies, stalls, a stopped node),
// restarted until done; the node's ledger must show every intent paid exactly
// once and nothing else moved.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { NodeProcess, ExtrinsicBuilder, extrinsicHash, keyFromName, address, sleep } from '../g1node/client.mjs';
import { hexToU8a, u8aToString } from '@polkadot/util';

const BIN = process.env.G1RELAY_BIN;
const PASS = 'outbox test passphrase';
const ENV = { ...process.env, G1RELAY_PASSPHRASE: PASS };
delete ENV.G1RELAY_CRASH_AT;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-outbox-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

let node;
before(async () => {
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(TMP, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
});
after(async () => { await node.stop(); });

const fastSettings = (extra = []) => ['--set', 'batch_window_ms=300', '--set', 'settlement_poll_ms=100',
  '--set', 'g1_rpc_timeout_ms=1500', '--set', 'g1_resubmit_ms=1000', '--set', 'era_period=32', ...extra];

function g1(args, data, { env = {}, timeout = 120000 } = {}) {
  return spawnSync(BIN, [...args, '--data', data], { encoding: 'utf8', env: { ...ENV, ...env }, timeout });
}

function newStation(name) {
  const data = path.join(TMP, name);
  fs.mkdirSync(data, { recursive: true });
  return data;
}

const hexKey = (name) => crypto.createHash('sha256').update(`nostr:${name}`).digest('hex');

async function newWallet(data, name, balance) {
  const npub = hexKey(name);
  const r = g1(['wallet', 'create', '--npub', npub], data);
  assert.equal(r.status, 0, r.stderr);
  const addr = r.stdout.trim();
  if (balance !== undefined) await node.rpc('test_setBalance', [addr, balance]);
  return { npub, addr };
}

const payee = (name) => address(keyFromName(name));

// "KEY STATE AMOUNT NPUB TO [tx=..] [block=N:..] [reason=..]"
function parseLines(text) {
  const out = new Map();
  for (const line of text.split('\n').filter(Boolean)) {
    const [key, state, amount, from, to, ...rest] = line.split(' ');
    const o = { key, state, amount: Number(amount), from, to };
    for (const r of rest) { const [k, v] = r.split('='); o[k] = v; }
    out.set(key, o);
  }
  return out;
}

test('single payment: finalized, in the ledger once; the same key pays once; a different payment under it is refused', async () => {
  const data = newStation('single');
  const w = await newWallet(data, 'single-payer', 100000);
  const to = payee('single-payee');
  const before = await node.ledger();
  let r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '1234', '--key', 'order-1', '--g1-node', node.url, ...fastSettings()], data);
  assert.equal(r.status, 0, r.stderr);
  const line = parseLines(r.stdout).get('order-1');
  assert.equal(line.state, 'finalized');
  assert.match(line.tx, /^0x[0-9a-f]{64}$/);
  let ledger = (await node.ledger()).slice(before.length);
  assert.equal(ledger.length, 1);
  assert.deepEqual([ledger[0].from, ledger[0].to, ledger[0].amount, ledger[0].extrinsicHash], [w.addr, to, 1234, line.tx]);
  assert.equal(Number(line.block.split(':')[0]), ledger[0].block);

  r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '1234', '--key', 'order-1', '--g1-node', node.url, ...fastSettings()], data);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /already known/);
  assert.equal(parseLines(r.stdout).get('order-1').tx, line.tx);
  r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '999', '--key', 'order-1', '--g1-node', node.url, ...fastSettings()], data);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already used by a different payment/);
  await node.waitForBlock((await node.bestNumber()) + 2);
  ledger = (await node.ledger()).slice(before.length);
  assert.equal(ledger.length, 1, 'nothing paid twice');

  // failover: the first node refuses connections, the second answers
  r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '77', '--key', 'order-2', '--g1-node', 'http://127.0.0.1:1',
    '--g1-node', node.url, ...fastSettings()], data);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(parseLines(r.stdout).get('order-2').state, 'finalized');
  assert.match(r.stderr, /127\.0\.0\.1:1: cannot connect/);
  // no node and no running relay: refused, the payment stays queued (pending)
  r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '78', '--key', 'order-3'], data);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no .* node configured/);
  r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '78', '--key', 'order-3', '--timeout', '0'], data);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(parseLines(r.stdout).get('order-3').state, 'pending');
  r = g1(['pay', '--from', w.npub, '--to', to, '--amount', '78', '--key', 'order-3', '--g1-node', node.url, ...fastSettings()], data);
  assert.equal(r.status, 0, r.stderr);
  ledger = (await node.ledger()).slice(before.length);
  assert.deepEqual(ledger.map((l) => l.amount), [1234, 77, 78]);

  r = g1(['settlements', '--status', 'finalized'], data);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(parseLines(r.stdout).get('order-1').tx, line.tx);
  r = g1(['settlements', '--status', 'pending'], data);
  assert.equal(r.stdout, '');
  r = g1(['settlements', '--status', 'bogus'], data);
  assert.equal(r.status, 2);

  r = g1(['wallet', 'balance', '--npub', w.npub, '--g1-node', `ws://127.0.0.1:${node.port}`], data);
  assert.equal(r.status, 0, r.stderr);
  const bal = await node.rpc('test_balance', [w.addr]);
  assert.equal(r.stdout, `${w.addr} free ${bal.free} reserved 0 frozen 0 nonce ${bal.nonce}\n`);
});

test('batched payments: one wallet, many intents, few extrinsics, sums per payee exact', async () => {
  const data = newStation('batch');
  const w = await newWallet(data, 'batch-payer', 10000000);
  const payees = [0, 1, 2, 3, 4].map((i) => payee(`batch-payee-${i}`));
  const lines = [];
  const expect = new Map();
  for (let i = 0; i < 40; i++) {
    const to = payees[i % payees.length];
    const amount = 100 + i;
    lines.push(`b-${i} ${w.npub} ${to} ${amount}`);
    expect.set(to, (expect.get(to) || 0) + amount);
  }
  const file = path.join(TMP, 'batch.txt');
  fs.writeFileSync(file, `# batch\n${lines.join('\n')}\n`);
  const before = (await node.ledger()).length;
  const r = g1(['pay', '--file', file, '--g1-node', node.url, ...fastSettings(['--set', 'batch_window_ms=1000'])], data);
  assert.equal(r.status, 0, r.stderr);
  const got = parseLines(r.stdout);
  assert.equal(got.size, 40);
  for (const v of got.values()) assert.equal(v.state, 'finalized');
  const ledger = (await node.ledger()).slice(before);
  const txs = new Set(ledger.map((l) => l.extrinsicHash));
  assert.ok(txs.size <= 2, `40 intents in ${txs.size} extrinsics`);
  assert.deepEqual(new Set([...got.values()].map((v) => v.tx)), txs);
  const sums = new Map();
  for (const l of ledger) { assert.equal(l.from, w.addr); sums.set(l.to, (sums.get(l.to) || 0) + l.amount); }
  assert.deepEqual(sums, expect);
  // each extrinsic pays each payee at most once (summed transfers)
  for (const tx of txs) {
    const tos = ledger.filter((l) => l.extrinsicHash === tx).map((l) => l.to);
    assert.equal(new Set(tos).size, tos.length);
  }
  // PROTOCOL §D: Utility.batch_all of transfer_keep_alive calls and one System.remark_with_event
  // naming the settled keys, decoded independently with @polkadot/types
  const B = await ExtrinsicBuilder.create('g1');
  const named = new Set();
  for (const tx of txs) {
    const entry = ledger.find((l) => l.extrinsicHash === tx);
    const { block } = await node.rpc('chain_getBlock', [entry.blockHash]);
    const hex = block.extrinsics.find((x) => extrinsicHash(x) === tx);
    const ex = B.reg.createType('Extrinsic', hexToU8a(hex));
    assert.equal(`${ex.method.section}.${ex.method.method}`, 'utility.batchAll');
    const calls = ex.method.args[0];
    const last = calls[calls.length - 1];
    assert.equal(`${last.section}.${last.method}`, 'system.remarkWithEvent');
    for (const c of calls.slice(0, -1)) assert.equal(`${c.section}.${c.method}`, 'balances.transferKeepAlive');
    assert.equal(calls.length - 1, ledger.filter((l) => l.extrinsicHash === tx).length);
    const remark = u8aToString(last.args[0].toU8a(true));
    assert.match(remark, /^nostr:b-\d+(,b-\d+)*$/);
    for (const k of remark.slice(6).split(',')) named.add(k);
    assert.ok(ex.era.isMortalEra, 'mortal era');
  }
  assert.deepEqual(named, new Set([...got.keys()]));
});

test('failures end with the chain reason; a failed batch is retried one transfer at a time', async () => {
  const data = newStation('fail');
  const poor = await newWallet(data, 'poor-payer', 1000);
  const nowallet = hexKey('nobody');
  const s = fastSettings();
  let r = g1(['pay', '--from', poor.npub, '--to', payee('rich'), '--amount', '5000', '--key', 'too-much', '--g1-node', node.url, ...s], data);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(parseLines(r.stdout).get('too-much').reason, 'insufficient-funds');
  r = g1(['pay', '--from', poor.npub, '--to', payee('rich'), '--amount', '950', '--key', 'keepalive', '--g1-node', node.url, ...s], data);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(parseLines(r.stdout).get('keepalive').reason, 'keep-alive');
  r = g1(['pay', '--from', poor.npub, '--to', payee('fresh-1'), '--amount', '50', '--key', 'below-ed', '--g1-node', node.url, ...s], data);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(parseLines(r.stdout).get('below-ed').reason, 'existential-deposit');
  r = g1(['pay', '--from', nowallet, '--to', payee('rich'), '--amount', '5', '--g1-node', node.url, ...s], data);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no wallet bound/);

  // A batch with one transfer the chain refuses: batch_all fails as a whole (nothing moves),
  // then each intent is sent alone: the good one is paid, the bad one fails with its reason.
  const w = await newWallet(data, 'split-payer', 100000);
  const file = path.join(TMP, 'split.txt');
  fs.writeFileSync(file, `good ${w.npub} ${payee('rich')} 300\nbad ${w.npub} ${payee('fresh-2')} 40\n`);
  const before = (await node.ledger()).length;
  r = g1(['pay', '--file', file, '--g1-node', node.url, ...s], data);
  assert.equal(r.status, 1, r.stderr);
  const got = parseLines(r.stdout);
  assert.equal(got.get('good').state, 'finalized');
  assert.equal(got.get('bad').state, 'failed');
  assert.equal(got.get('bad').reason, 'existential-deposit');
  const ledger = (await node.ledger()).slice(before);
  assert.deepEqual(ledger.map((l) => [l.from, l.to, l.amount]), [[w.addr, payee('rich'), 300]]);
});

test('argument errors', () => {
  const data = newStation('args');
  let r = g1(['pay', '--help'], data);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /idempotency/);
  r = g1(['pay', '--from', hexKey('x'), '--to', 'nonsense', '--amount', '1'], data);
  assert.equal(r.status, 2);
  r = g1(['pay', '--from', hexKey('x'), '--to', payee('p'), '--amount', '0'], data);
  assert.equal(r.status, 2);
  r = g1(['pay', '--from', hexKey('x'), '--to', payee('p'), '--amount', '1', '--key', 'a b'], data);
  assert.equal(r.status, 2);
  r = g1(['settlements', '--help'], data);
  assert.equal(r.status, 0);
});

test('two pay processes at once: one settles, the other waits and takes over when it leaves', async () => {
  const data = newStation('two');
  const w = await newWallet(data, 'two-payer', 10000000);
  const fileA = path.join(TMP, 'two-a.txt'), fileB = path.join(TMP, 'two-b.txt');
  fs.writeFileSync(fileA, `a-0 ${w.npub} ${payee('two-0')} 150\n`);
  fs.writeFileSync(fileB, Array.from({ length: 30 }, (_, i) => `b-${i} ${w.npub} ${payee(`two-${i % 3}`)} ${100 + i}`).join('\n') + '\n');
  const before = (await node.ledger()).length;
  const a = runPay(['pay', '--file', fileA, '--g1-node', node.url, ...fastSettings(['--set', 'batch_max=4'])], data, {});
  await sleep(400);
  const b = runPay(['pay', '--file', fileB, '--g1-node', node.url, ...fastSettings(['--set', 'batch_max=4'])], data, {});
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.code, 0, ra.err.slice(-2000));
  assert.equal(rb.code, 0, rb.err.slice(-2000));
  assert.equal(parseLines(rb.out).size, 30);
  assert.match(rb.err, /settles payments for .*: waiting for it/); // B first waited for A...
  assert.match(rb.err, /settlement: connected/); // ...then settled the rest itself
  const ledger = (await node.ledger()).slice(before);
  const total = ledger.reduce((t, l) => t + l.amount, 0);
  assert.equal(total, 150 + Array.from({ length: 30 }, (_, i) => 100 + i).reduce((x, y) => x + y, 0));
});

// ---- exactly once under crashes -------------------------------------------------------------

function runPay(args, data, env, { killAfterMs } = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, [...args, '--data', data], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; if (err.length > 200000) err = err.slice(-100000); });
    const t = killAfterMs ? setTimeout(() => p.kill('SIGKILL'), killAfterMs) : null;
    const hard = setTimeout(() => p.kill('SIGKILL'), 120000);
    p.on('exit', (code, signal) => { clearTimeout(hard); if (t) clearTimeout(t); resolve({ code, signal, out, err }); });
  });
}

test('exactly once: 200 payments through SIGKILLs at every step, random kills and node faults', async () => {
  const data = newStation('crash');
  const wallets = [];
  for (let i = 0; i < 3; i++) wallets.push(await newWallet(data, `crash-payer-${i}`, 100000000));
  const payees = Array.from({ length: 8 }, (_, i) => payee(`crash-payee-${i}`));
  const lines = [];
  const expect = new Map(); // "from to" -> sum
  for (let i = 0; i < 200; i++) {
    const w = wallets[i % 3];
    const to = payees[(i * 7) % payees.length];
    const amount = 100 + ((i * 37) % 900);
    lines.push(`c-${i} ${w.npub} ${to} ${amount}`);
    const k = `${w.addr} ${to}`;
    expect.set(k, (expect.get(k) || 0) + amount);
  }
  const file = path.join(TMP, 'crash.txt');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const ledgerStart = (await node.ledger()).length;
  const args = ['pay', '--file', file, '--g1-node', node.url, '--timeout', '60',
    ...fastSettings(['--set', 'batch_max=5', '--set', 'batch_window_ms=150'])];

  const plan = [
    { crash: 'after-sign:1' }, { crash: 'before-submit:2' }, { crash: 'after-submit:1' },
    { crash: 'after-include:1' }, { crash: 'after-sign:2', fault: { mode: 'lose-reply', count: 2 } },
    { crash: 'after-submit:3', fault: { mode: 'drop', count: 2 } },
    // the node goes away for a while during the run, which is killed later
    { stopNode: 2500, kill: 5000 },
    // every submission dropped for a while: eras run out, intents are signed again
    { fault: { mode: 'drop', count: 60 }, kill: 14000 },
    { crash: 'before-submit:1' }, { crash: 'after-include:3' }, { kill: 700 },
    { crash: 'after-sign:3', fault: { mode: 'stall', seconds: 3 } }, { kill: 1500 }, { crash: 'after-submit:2' },
    { kill: 400 }, { crash: 'after-include:2' }, { crash: 'after-sign:5' },
    // and at random moments
    ...Array.from({ length: 3 }, () => ({ kill: 300 + Math.floor(Math.random() * 2500) })),
  ];
  let kills = 0;
  let logs = '';
  for (const step of plan) {
    if (step.fault) await node.fault(step.fault);
    const env = step.crash ? { G1RELAY_CRASH_AT: step.crash } : {};
    let stopped = null;
    if (step.stopNode) stopped = sleep(300).then(() => node.stop()).then(() => sleep(step.stopNode)).then(() => node.start());
    const r = await runPay(args, data, env, { killAfterMs: step.kill });
    if (stopped) await stopped;
    logs += r.err;
    if (process.env.OUTBOX_DEBUG) console.error(`step ${JSON.stringify(step)}: ${r.code} ${r.signal}`);
    if (r.signal === 'SIGKILL') kills++;
    else assert.ok(r.code === 0 || r.code === 1, `step ${JSON.stringify(step)}: pay exited ${r.code} ${r.signal}: ${r.err.slice(-2000)}`);
  }
  if (process.env.OUTBOX_DEBUG) console.error(logs.split('\n').filter((l) => /expired|answered|failed|CRASH|signed/.test(l)).join('\n'));
  assert.ok(kills >= 12, `only ${kills} runs were killed`);
  for (const point of ['after-sign', 'before-submit', 'after-submit', 'after-include'])
    assert.match(logs, new RegExp(`G1RELAY_CRASH_AT=${point}:\\d+ reached`), `never crashed at ${point}`);
  assert.match(logs, /expired unincluded/, 'no era ran out during the dropped submissions');
  // Finish without crashes.
  let final;
  for (let i = 0; i < 3; i++) {
    final = await runPay(args, data, {});
    if (final.code === 0) break;
  }
  assert.equal(final.code, 0, final.err.slice(-3000));
  const got = parseLines(final.out);
  assert.equal(got.size, 200);
  for (const v of got.values()) assert.equal(v.state, 'finalized', JSON.stringify(v));

  // The ledger: exactly the intents, each once (sums per payer→payee), in the extrinsics the
  // outbox recorded, and nothing else.
  await node.waitForBlock((await node.bestNumber()) + 4);
  const ledger = (await node.ledger()).slice(ledgerStart);
  const sums = new Map();
  for (const l of ledger) { const k = `${l.from} ${l.to}`; sums.set(k, (sums.get(k) || 0) + l.amount); }
  assert.deepEqual(sums, expect);
  const recorded = new Set([...got.values()].map((v) => v.tx));
  assert.deepEqual(new Set(ledger.map((l) => l.extrinsicHash)), recorded);
  const r = g1(['settlements'], data);
  assert.equal(r.stdout.trim().split('\n').length, 200);
});

test('runtime upgrade during a run: spec version read again, the transfer re-signed and paid once', async () => {
  const data = newStation('upgrade');
  const w = await newWallet(data, 'upgrade-payer', 100000);
  const to = payee('upgrade-payee');
  const before = (await node.ledger()).length;
  const { specVersion } = await node.rpc('state_getRuntimeVersion');
  const run = runPay(['pay', '--from', w.npub, '--to', to, '--amount', '555', '--key', 'upg', '--g1-node', node.url,
    '--timeout', '90', ...fastSettings(['--set', 'batch_window_ms=2500'])], data, {});
  await sleep(1200); // the engine has read the old version; the intent waits for its batch window
  await node.rpc('test_setRuntimeVersion', [{ specVersion: specVersion + 1 }]);
  const r = await run;
  assert.equal(r.code, 0, r.err.slice(-3000));
  assert.equal(parseLines(r.out).get('upg').state, 'finalized');
  assert.match(r.err, new RegExp(`runtime upgrade ${specVersion} -> ${specVersion + 1}`));
  const ledger = (await node.ledger()).slice(before);
  assert.deepEqual(ledger.map((l) => [l.from, l.to, l.amount]), [[w.addr, to, 555]]);
});
