// TLS to Ğ1 nodes and upstream relays (https://, wss://): real stations reach
// their nodes over TLS. The test node and a relay sit behind a TLS terminator
// (node:tls, piping bytes to the plain port) whose certificates come from a
// throw-away certificate authority made with openssl. With `tls_ca_file`
// naming that authority, a payment goes through wss:// and is finalized, the
// balance reads over https://, and an upstream relay is followed over wss://.
// Refused: the same servers without `tls_ca_file` (the system's authorities do
// not know this one), a certificate for another name, an unreadable file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { NodeProcess, keyFromName, address } from '../g1node/client.mjs';
import { startRelay, connect, makeEvent, newKey } from './lib/relay.mjs';

const BIN = process.env.G1RELAY_BIN;
const PASS = 'tls test passphrase';
const ENV = { ...process.env, G1RELAY_PASSPHRASE: PASS };
delete ENV.G1RELAY_CRASH_AT;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'g1relay-tls-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function openssl(args) {
  const r = spawnSync('openssl', args, { cwd: TMP, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A certificate for `names` (subjectAltName entries) signed by the CA in TMP. */
function issue(base, names) {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`,
    '-out', `${base}.csr`, '-subj', `/CN=${base}`]);
  fs.writeFileSync(path.join(TMP, `${base}.ext`), `subjectAltName=${names}\n`);
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`]);
  return { key: fs.readFileSync(path.join(TMP, `${base}.key`)), cert: fs.readFileSync(path.join(TMP, `${base}.pem`)) };
}

const servers = [];
/** TLS on a free loopback port, every connection piped to 127.0.0.1:targetPort. */
async function tlsFront(creds, targetPort) {
  const server = tls.createServer(creds, (clear) => {
    const plain = net.connect(targetPort, '127.0.0.1');
    clear.pipe(plain).pipe(clear);
    const close = () => { clear.destroy(); plain.destroy(); };
    clear.on('error', close);
    plain.on('error', close);
  });
  server.on('tlsClientError', () => {}); // refused handshakes are the point of some tests
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return server.address().port;
}

let node, caFile, goodPort, wrongNamePort;
before(async () => {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '2', '-subj', '/CN=g1relay test CA']);
  caFile = path.join(TMP, 'ca.pem');
  node = new NodeProcess({ blockMs: 250, finalityLag: 2, dir: path.join(TMP, 'node') });
  fs.mkdirSync(node.dir, { recursive: true });
  await node.start();
  goodPort = await tlsFront(issue('localhost', 'DNS:localhost,IP:127.0.0.1'), node.port);
  wrongNamePort = await tlsFront(issue('other', 'DNS:other.invalid'), node.port);
});
after(async () => {
  for (const s of servers) s.close();
  await node?.stop();
});

/** Runs the binary without blocking this process: the TLS fronts live in its event loop. */
function g1(args, data) {
  return new Promise((resolve) => {
    const p = spawn(BIN, [...args, '--data', data], { env: ENV });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 120000);
    p.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

function station(name) {
  const data = path.join(TMP, name);
  fs.mkdirSync(data, { recursive: true });
  return data;
}

async function wallet(data, name, balance) {
  const npub = crypto.createHash('sha256').update(`nostr:${name}`).digest('hex');
  const r = await g1(['wallet', 'create', '--npub', npub], data);
  assert.equal(r.status, 0, r.stderr);
  const addr = r.stdout.trim();
  await node.rpc('test_setBalance', [addr, balance]);
  return { npub, addr };
}

const fast = ['--set', 'batch_window_ms=200', '--set', 'settlement_poll_ms=100', '--set', 'g1_rpc_timeout_ms=1500',
  '--set', 'g1_resubmit_ms=1000', '--set', 'era_period=32'];

test('a payment over wss:// and a balance over https:// with tls_ca_file', async () => {
  const data = station('good');
  const w = await wallet(data, 'tls-payer', 100000);
  const to = address(keyFromName('tls-payee'));
  const before = (await node.ledger()).length;
  let r = await g1(['pay', '--from', w.npub, '--to', to, '--amount', '4321', '--key', 'tls-1',
    '--g1-node', `wss://localhost:${goodPort}`, '--set', `tls_ca_file=${caFile}`, ...fast], data);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tls-1 finalized 4321 /m);
  const paid = (await node.ledger()).slice(before);
  assert.equal(paid.length, 1);
  assert.equal(paid[0].amount, 4321);

  r = await g1(['wallet', 'balance', '--npub', w.npub, '--g1-node', `https://localhost:${goodPort}`,
    '--set', `tls_ca_file=${caFile}`], data);
  assert.equal(r.status, 0, r.stderr);
  const bal = await node.rpc('test_balance', [w.addr]);
  assert.equal(r.stdout, `${w.addr} free ${bal.free} reserved 0 frozen 0 nonce ${bal.nonce}\n`);
});

test('refused: an unknown authority, a certificate for another name, an unreadable tls_ca_file', async () => {
  const data = station('refused');
  const w = await wallet(data, 'tls-refused', 100000);
  const balance = (url, extra = []) =>
    g1(['wallet', 'balance', '--npub', w.npub, '--g1-node', url, '--set', 'g1_rpc_timeout_ms=1500', ...extra], data);
  // the system's authorities do not know the test CA
  let r = await balance(`wss://localhost:${goodPort}`);
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stdout, /free/);
  assert.match(r.stderr, /cannot connect: .*SSL/);
  // trusted authority, but the certificate names other.invalid, not localhost
  r = await balance(`wss://localhost:${wrongNamePort}`, ['--set', `tls_ca_file=${caFile}`]);
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stdout, /free/);
  assert.match(r.stderr, /cannot connect: .*SSL/);
  // the same server through its name works: the check above failed on the name only
  r = await balance(`https://localhost:${goodPort}`, ['--set', `tls_ca_file=${caFile}`]);
  assert.equal(r.status, 0, r.stderr);
  // a missing file is named in the error, before any connection
  r = await balance(`wss://localhost:${goodPort}`, ['--set', `tls_ca_file=${path.join(TMP, 'missing.pem')}`]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /tls_ca_file .*missing\.pem/);
});

test('an upstream relay followed over wss://', async () => {
  const up = await startRelay();
  const upPort = await tlsFront(issue('relay', 'DNS:localhost'), up.port);
  const follower = await startRelay({
    args: ['--upstream', `wss://localhost:${upPort}`], config: { tls_ca_file: caFile },
  });
  const c = await connect(up.url);
  try {
    const ev = makeEvent(newKey(), { content: 'over TLS' });
    assert.equal((await c.publish(ev)).ok, true);
    const deadline = Date.now() + 30000;
    let got = [];
    while (Date.now() < deadline && got.length === 0) {
      const q = await connect(follower.url);
      try { got = await q.query({ ids: [ev.id] }); } finally { q.ws.close(); }
      if (got.length === 0) await sleep(200);
    }
    assert.equal(got.length, 1, `the event never reached the follower\n${follower.output().slice(-2000)}`);
    // the event may come live before the catch-up's end is logged
    while (Date.now() < deadline && !/caught up/.test(follower.output())) await sleep(100);
    assert.match(follower.output(), /caught up/);
  } finally {
    c.ws.close();
  }
  // without the authority the follower connects to nothing
  const blind = await startRelay({ args: ['--upstream', `wss://localhost:${upPort}`] });
  await sleep(1500);
  assert.doesNotMatch(blind.output(), /caught up/);
});
