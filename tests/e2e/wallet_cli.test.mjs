// `g1relay key derive` and `g1relay wallet …` as a captain uses them: BRIEF §6
// key vectors, wallets bound to Nostr pubkeys in the encrypted keystore, import
// from Cesium credentials and .dunikey files, export, passphrase handling
// (environment, file, config key), wrong passphrase, bad input.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoWaitReady, encodeAddress, decodeAddress, ed25519PairFromSeed, base58Encode, base58Decode } from '@polkadot/util-crypto';
import { nip19 } from 'nostr-tools';

const bin = process.env.G1RELAY_BIN;
let dir;

before(async () => {
  await cryptoWaitReady();
  dir = mkdtempSync(join(tmpdir(), 'g1relay-wallet-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
});

const run = (args, { input = '', env = {} } = {}) => {
  const e = { ...process.env, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  return spawnSync(bin, args, { encoding: 'utf8', input, cwd: dir, env: e, timeout: 60000 });
};

test('key derive: BRIEF §6 vectors, --prefix, and a missing password line', () => {
  let r = run(['key', 'derive'], { input: 'abc\ndef\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout,
    'pubkey: G2CBgZBPLe6FSFUgpx2Jf1Aqsgta6iib3vmDRA1yLiqU\n' +
    `checksum: G2CBgZBPLe6FSFUgpx2Jf1Aqsgta6iib3vmDRA1yLiqU:${r.stdout.match(/:(\w{3})\n/)[1]}\n` +
    'address: g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6py\n');
  r = run(['key', 'derive'], { input: 'abc\r\nabc\r\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^pubkey: HgTTJLAQ5sqfknMq7yLPZbehtuLSsKj9CxWN7k8QvYJd$/m);
  assert.match(r.stdout, /^address: g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu$/m);
  const pk = base58Decode('HgTTJLAQ5sqfknMq7yLPZbehtuLSsKj9CxWN7k8QvYJd');
  r = run(['key', 'derive', '--prefix', '42'], { input: 'abc\nabc\n' });
  assert.match(r.stdout, new RegExp(`^address: ${encodeAddress(pk, 42)}$`, 'm'));
  r = run(['key', 'derive'], { input: 'abc\n' });
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /password/);
  r = run(['key', 'derive', '--prefix', '99999'], { input: 'abc\nabc\n' });
  assert.equal(r.status, 2);
  r = run(['key', 'frobnicate']);
  assert.equal(r.status, 2);
});

test('wallets: create, import (stdin and .dunikey), list, address, export; keystore encrypted', () => {
  const data = join(dir, 'data1');
  const env = { G1RELAY_PASSPHRASE: 'captain passphrase' };
  const alice = '7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e';
  const bob = 'b'.repeat(64);
  const carol = 'c'.repeat(64);

  // create with an npub
  let r = run(['wallet', 'create', '--npub', nip19.npubEncode(alice), '--data', data], { env });
  assert.equal(r.status, 0, r.stderr);
  const aliceAddr = r.stdout.trim();
  assert.match(aliceAddr, /^g1[1-9A-HJ-NP-Za-km-z]{45,50}$/);
  assert.equal(decodeAddress(aliceAddr).length, 32);

  // import from Cesium credentials on stdin
  r = run(['wallet', 'import', '--npub', bob, '--data', data], { env, input: 'abc\nabc\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu\n');

  // import from a .dunikey written here
  const pair = ed25519PairFromSeed(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
  const dk = join(dir, 'carol.dunikey');
  writeFileSync(dk, `Type: PubSec\nVersion: 1\npub: ${base58Encode(pair.publicKey)}\nsec: ${base58Encode(pair.secretKey)}\n`);
  r = run(['wallet', 'import', '--npub', carol, '--dunikey', dk, '--data', data], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), encodeAddress(pair.publicKey, 4450));

  // a pubkey has one wallet
  r = run(['wallet', 'create', '--npub', bob, '--data', data], { env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already bound/);

  // list and address
  r = run(['wallet', 'list', '--data', data], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${alice} ${aliceAddr}\n${bob} g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu\n${carol} ${encodeAddress(pair.publicKey, 4450)}\n`);
  r = run(['wallet', 'address', '--npub', carol, '--data', data, '--prefix', '42'], { env });
  assert.equal(r.stdout.trim(), encodeAddress(pair.publicKey, 42));
  r = run(['wallet', 'address', '--npub', 'd'.repeat(64), '--data', data], { env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no wallet/);

  // the file holds neither seeds nor pubkeys in clear, and is private
  const file = join(data, 'keystore.g1ks');
  const bytes = readFileSync(file);
  assert.equal(bytes.indexOf(Buffer.from(pair.secretKey.slice(0, 32))), -1);
  assert.equal(bytes.indexOf(Buffer.from(carol, 'hex')), -1);
  assert.equal(statSync(file).mode & 0o077, 0);

  // export gives a .dunikey that signs for the same address
  r = run(['wallet', 'export', '--npub', nip19.npubEncode(alice), '--data', data], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Type: PubSec\nVersion: 1\npub: \w+\nsec: \w+\n$/);
  const exported = join(dir, 'alice.dunikey');
  writeFileSync(exported, r.stdout);
  const pub = base58Decode(r.stdout.match(/pub: (\w+)/)[1]);
  assert.equal(encodeAddress(pub, 4450), aliceAddr);
  r = run(['wallet', 'import', '--npub', 'e'.repeat(64), '--dunikey', exported, '--data', data], { env });
  assert.equal(r.stdout.trim(), aliceAddr);

  // wrong passphrase: a clear error, the keystore untouched, never a new one
  const before = readFileSync(file);
  for (const action of [['list'], ['create', '--npub', 'f'.repeat(64)]]) {
    r = run(['wallet', ...action, '--data', data], { env: { G1RELAY_PASSPHRASE: 'wrong' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /wrong keystore passphrase/);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(readFileSync(file), before);

  // passphrase from a file (flag, or config key through --set), env not needed
  const pf = join(dir, 'pass.txt');
  writeFileSync(pf, 'captain passphrase\n');
  r = run(['wallet', 'list', '--data', data, '--passphrase-file', pf], { env: { G1RELAY_PASSPHRASE: undefined } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n').length, 5);
  r = run(['wallet', 'list', '--data', data, '--set', `passphrase_file=${pf}`], { env: { G1RELAY_PASSPHRASE: undefined } });
  assert.equal(r.status, 0, r.stderr);
  r = run(['wallet', 'list', '--data', data], { env: { G1RELAY_PASSPHRASE: undefined } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /G1RELAY_PASSPHRASE|passphrase-file/);
});

test('wallets: bad input', () => {
  const data = join(dir, 'data2');
  const env = { G1RELAY_PASSPHRASE: 'pw' };
  let r = run(['wallet', 'list', '--data', data], { env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no keystore/);
  assert.ok(!existsSync(join(data, 'keystore.g1ks')), 'no keystore created by list');
  r = run(['wallet', 'create', '--data', data], { env });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--npub/);
  r = run(['wallet', 'create', '--npub', 'npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptq', '--data', data], { env });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /checksum/);
  r = run(['wallet', 'create', '--npub', 'abcd', '--data', data], { env });
  assert.equal(r.status, 2);
  r = run(['wallet', 'import', '--npub', 'a'.repeat(64), '--data', data], { env, input: 'only one line\n' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /password/);
  const trunc = join(dir, 'trunc.dunikey');
  writeFileSync(trunc, 'Type: PubSec\nVersion: 1\npub: HgTTJLAQ5sqfknMq7yLPZbehtuLSsKj9CxWN7k8QvYJd\nsec: 3Dx');
  r = run(['wallet', 'import', '--npub', 'a'.repeat(64), '--dunikey', trunc, '--data', data], { env });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /sec/);
  r = run(['wallet', 'frobnicate', '--data', data], { env });
  assert.equal(r.status, 2);
  r = run(['wallet', 'create', '--npub', 'a'.repeat(64), '--data', data], { env: { G1RELAY_PASSPHRASE: '' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /empty/);
});
