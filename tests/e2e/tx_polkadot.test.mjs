// Offline signing checked by an independent implementation: runs the real
// `g1relay tx transfer`, decodes its output with @polkadot/types against the
// shared g1 and gdev runtime metadata, rebuilds the signing payload with
// @polkadot/types and verifies the ed25519 signature with @polkadot/util-crypto.
// Covers the BRIEF §6 vector, single transfers, batches with remarks, mortal
// eras and payloads over 256 bytes (signed hashed), and bad input.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TypeRegistry, Metadata } from '@polkadot/types';
import {
  cryptoWaitReady, ed25519Verify, blake2AsU8a, blake2AsHex, decodeAddress, encodeAddress,
  ed25519PairFromSeed, base58Encode, base58Decode,
} from '@polkadot/util-crypto';
import { hexToU8a, u8aToHex, u8aConcat } from '@polkadot/util';
import { Buffer } from 'node:buffer';

const bin = process.env.G1RELAY_BIN;
const shared = process.env.G1_SHARED || '/work/shared';
const G1_GENESIS = '0xfeb770bbb0344dabc8366b0d1f889a8e4e6ca09b914006655fe795920deb6d56';
const GDEV_GENESIS = '0x' + 'ab'.repeat(32);
const BRIEF_EXTRINSIC = '0x31028400f7d68da919331a9bd52a4ff81c8c740e6f76635224895d4c371e68d5c7f31032000f2fb53126fc8059cb1d27ec20eced7cdd4051aeb335ee0aef15b11c8a434fd49439dab6a942170b973c5cc92eb1170d59981a162d7afda3943181d6d4572c0700000000060300df2d87db2ba1bcf294b61a2a605a1dd643af9f823ad99e8785d0f54b98ca2e779101';
const BRIEF_HASH = '0x0f28bc2b3ce55a32af3c035a183c5442ae0c76510ab1388401275d566eee1394';
const ADDR_ABC_DEF = 'g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6py';
const ADDR_ABC_ABC = 'g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu';

const chains = {};
let dir;

function loadChain(name, genesis) {
  const metadataPath = join(shared, 'g1', `${name}_metadata.scale`);
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, readFileSync(metadataPath));
  registry.setMetadata(metadata);
  const prefix = registry.chainSS58;
  return { name, registry, metadataPath, genesis, prefix };
}

before(async () => {
  await cryptoWaitReady();
  chains.g1 = loadChain('g1', G1_GENESIS);
  chains.gdev = loadChain('gdev', GDEV_GENESIS);
  dir = mkdtempSync(join(tmpdir(), 'g1relay-tx-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
});

const run = (args, input = '') => spawnSync(bin, args, { encoding: 'utf8', input, cwd: tmpdir(), timeout: 60000 });

// A .dunikey (PubSec v1) for a seed, written by this test (independent of the binary).
function dunikeyFor(seed) {
  const pair = ed25519PairFromSeed(seed);
  const file = join(dir, `k${u8aToHex(seed.slice(0, 4))}.dunikey`);
  writeFileSync(file, `Type: PubSec\nVersion: 1\npub: ${base58Encode(pair.publicKey)}\nsec: ${base58Encode(pair.secretKey)}\n`);
  return { file, pair };
}

function txArgs(chain, o) {
  const args = ['tx', 'transfer'];
  if (o.dunikey) args.push('--from-dunikey', o.dunikey);
  for (const [to, amount] of o.transfers) args.push('--to', to, '--amount', String(amount));
  args.push('--nonce', String(o.nonce ?? 0));
  if (o.era) args.push('--era', String(o.era.period), '--era-block', `${o.era.block}:${o.era.hash}`);
  else args.push('--era', 'immortal');
  args.push('--spec', String(o.spec ?? 1000), '--tx-version', String(o.txVersion ?? 1));
  args.push('--genesis', chain.genesis, '--metadata', chain.metadataPath);
  if (o.remark !== undefined) args.push('--remark', o.remark);
  return args;
}

// Signs with the binary, decodes with polkadot, verifies everything; returns details.
function signAndCheck(chain, o, signerPublicKey) {
  const r = run(txArgs(chain, o), o.stdin ?? '');
  assert.equal(r.status, 0, `tx transfer failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2, 'two lines: extrinsic and hash');
  const [hex, hash] = lines;
  assert.match(hex, /^0x[0-9a-f]+$/);
  assert.equal(hash, blake2AsHex(hexToU8a(hex), 256), 'printed hash is blake2b-256 of the extrinsic');

  const { registry } = chain;
  const ext = registry.createType('Extrinsic', hex);
  assert.equal(ext.toHex(), hex, 'polkadot re-encodes the same bytes');
  assert.ok(ext.isSigned);
  assert.equal(ext.version, 0x84);
  assert.deepEqual(decodeAddress(ext.signer.toString()), signerPublicKey);
  assert.deepEqual(Object.keys(ext.inner.signature.toJSON().signature), ['ed25519'], 'MultiSignature::Ed25519');
  assert.equal(ext.nonce.toNumber(), o.nonce ?? 0);
  assert.equal(ext.tip.toBigInt(), 0n);

  // call and arguments
  const expectTransfer = (call, [to, amount]) => {
    assert.equal(call.section, 'balances');
    assert.equal(call.method, 'transferKeepAlive');
    const dest = call.args[0].toJSON();
    assert.deepEqual(Object.keys(dest), ['id'], 'dest is MultiAddress::Id');
    assert.deepEqual(decodeAddress(dest.id), accountOf(to));
    assert.equal(call.args[1].toBigInt(), BigInt(amount));
  };
  const method = ext.method;
  if (o.transfers.length === 1 && o.remark === undefined) {
    expectTransfer(method, o.transfers[0]);
  } else {
    assert.equal(method.section, 'utility');
    assert.equal(method.method, 'batchAll');
    const calls = method.args[0];
    assert.equal(calls.length, o.transfers.length + (o.remark !== undefined ? 1 : 0));
    o.transfers.forEach((t, i) => expectTransfer(registry.createType('Call', calls[i].toU8a()), t));
    if (o.remark !== undefined) {
      const last = registry.createType('Call', calls[calls.length - 1].toU8a());
      assert.equal(last.section, 'system');
      assert.equal(last.method, 'remarkWithEvent');
      assert.equal(Buffer.from(last.args[0].toU8a(true)).toString('utf8'), o.remark);
    }
  }

  // era
  let blockHash = chain.genesis;
  if (o.era) {
    assert.ok(ext.era.isMortalEra, 'mortal era');
    const mortal = ext.era.asMortalEra;
    assert.equal(mortal.period.toNumber(), o.era.period);
    assert.equal(mortal.phase.toNumber(), o.era.block % o.era.period);
    assert.equal(mortal.birth(o.era.block), o.era.block, 'era is born at the given block');
    blockHash = o.era.hash;
  } else {
    assert.ok(ext.era.isImmortalEra, 'immortal era');
  }

  // the signing payload rebuilt by polkadot, hashed when over 256 bytes
  const payload = registry.createType('ExtrinsicPayload', {
    method: method.toHex(), era: ext.era, nonce: ext.nonce, tip: ext.tip,
    specVersion: o.spec ?? 1000, transactionVersion: o.txVersion ?? 1,
    genesisHash: chain.genesis, blockHash, mode: 0,
  }, { version: 4 });
  const full = payload.toU8a({ method: true });
  const msg = full.length > 256 ? blake2AsU8a(full, 256) : full;
  const sig = ext.signature.toU8a();
  assert.equal(sig.length, 64);
  assert.ok(ed25519Verify(msg, sig, signerPublicKey), 'ed25519 signature verifies over the rebuilt payload');
  if (full.length > 256) assert.ok(!ed25519Verify(full, sig, signerPublicKey), 'long payloads are signed hashed, not raw');
  return { hex, hash, payloadLength: full.length, ext };
}

// SS58 address or v1 base58 key (optional :checksum) to the 32-byte account id
const accountOf = (to) => (to.split(':')[0].length <= 44 ? base58Decode(to.split(':')[0]) : decodeAddress(to));
const seed = (n) => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i * 7) & 0xff);

test('BRIEF §6 vector: Cesium credentials on stdin give the exact extrinsic and hash, and polkadot agrees', () => {
  const abc = ed25519PairFromSeed(hexToU8a('0x' + 'ce63e90dd4c3d10fb23606ea585ab9c87815527cb62880ed6d51f3fe136ec1ec'));
  assert.equal(encodeAddress(abc.publicKey, 4450), ADDR_ABC_DEF, 'test vector seed');
  const signer = decodeAddress(ADDR_ABC_ABC);
  const res = signAndCheck(chains.g1, { stdin: 'abc\nabc\n', transfers: [[ADDR_ABC_DEF, 100]], nonce: 0, spec: 1100, txVersion: 1 }, signer);
  assert.equal(res.hex, BRIEF_EXTRINSIC);
  assert.equal(res.hash, BRIEF_HASH);
});

for (const name of ['g1', 'gdev']) {
  test(`${name}: single transfer from a .dunikey, immortal and mortal`, () => {
    const chain = chains[name];
    const { file, pair } = dunikeyFor(seed(1));
    const to = encodeAddress(ed25519PairFromSeed(seed(2)).publicKey, chain.prefix);
    signAndCheck(chain, { dunikey: file, transfers: [[to, 12345]], nonce: 7 }, pair.publicKey);
    for (const era of [
      { period: 64, block: 1000, hash: '0x' + '11'.repeat(32) },
      { period: 4, block: 7, hash: '0x' + '22'.repeat(32) },
      { period: 2048, block: 123456, hash: '0x' + '33'.repeat(32) },
    ]) {
      signAndCheck(chain, { dunikey: file, transfers: [[to, 1]], nonce: 4294967295, era }, pair.publicKey);
    }
    // a v1 key is accepted as payee (same 32 bytes)
    const v1 = base58Encode(ed25519PairFromSeed(seed(2)).publicKey);
    const r = signAndCheck(chain, { dunikey: file, transfers: [[v1, 99]], nonce: 1 }, pair.publicKey);
    assert.equal(r.ext.method.args[0].toJSON().id, to);
  });

  test(`${name}: batch_all of transfers plus remark_with_event, mortal`, () => {
    const chain = chains[name];
    const { file, pair } = dunikeyFor(seed(3));
    const payees = [4, 5].map((n) => encodeAddress(ed25519PairFromSeed(seed(n)).publicKey, chain.prefix));
    const res = signAndCheck(chain, {
      dunikey: file, transfers: [[payees[0], 100], [payees[1], 18446744073709551515n]], nonce: 70000,
      remark: 'nostr:receipts 3b1f…e9 Ẑen', era: { period: 128, block: 5000001, hash: '0x' + '44'.repeat(32) },
    }, pair.publicKey);
    assert.ok(res.payloadLength <= 256);
    // two transfers without remark is a batch too
    signAndCheck(chain, { dunikey: file, transfers: [[payees[0], 1], [payees[1], 2]], nonce: 3 }, pair.publicKey);
    // a remark alone with one transfer
    signAndCheck(chain, { dunikey: file, transfers: [[payees[0], 1]], remark: 'x', nonce: 3 }, pair.publicKey);
  });

  test(`${name}: payloads over 256 bytes are signed as their blake2b-256`, () => {
    const chain = chains[name];
    const { file, pair } = dunikeyFor(seed(6));
    const transfers = Array.from({ length: 9 }, (_, i) => [encodeAddress(ed25519PairFromSeed(seed(10 + i)).publicKey, chain.prefix), 100 + i]);
    const res = signAndCheck(chain, { dunikey: file, transfers, nonce: 2, remark: 'nostr:' + 'd'.repeat(300) }, pair.publicKey);
    assert.ok(res.payloadLength > 256, `payload is ${res.payloadLength} bytes`);
    const res2 = signAndCheck(chain, { dunikey: file, transfers: transfers.slice(0, 1), nonce: 2, remark: 'r'.repeat(400),
      era: { period: 256, block: 99, hash: '0x' + '55'.repeat(32) } }, pair.publicKey);
    assert.ok(res2.payloadLength > 256);
  });
}

test('bad input: clear error, non-zero exit, no extrinsic printed', () => {
  const chain = chains.g1;
  const { file } = dunikeyFor(seed(7));
  const good = { dunikey: file, transfers: [[ADDR_ABC_DEF, 100]], nonce: 0 };
  const expectRefused = (args, pattern, input = '') => {
    const r = run(args, input);
    assert.notEqual(r.status, 0, `should fail: ${args.join(' ')}`);
    assert.equal(r.stdout, '', 'nothing on stdout');
    assert.match(r.stderr, pattern);
  };
  // sanity: the good arguments work
  assert.equal(run(txArgs(chain, good)).status, 0);
  const withTo = (to) => txArgs(chain, { ...good, transfers: [[to, 100]] });
  expectRefused(withTo('g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6pz'), /checksum/);
  expectRefused(withTo('g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6p'), /address|checksum|length/);
  expectRefused(withTo('not-an-address'), /address|length/);
  expectRefused(withTo('g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6p0'), /base58|address/);
  expectRefused(withTo(encodeAddress(decodeAddress(ADDR_ABC_DEF), 42)), /prefix 42/);
  expectRefused(withTo('J4c8CARmP9vAFNGtHRuzx14zvxojyRWHW2darguVqjtX:KAw'), /checksum/);
  expectRefused(withTo('J4c8CARmP9vAFNGtHRuzx14zvxojyRWHW2darguV'), /not 32/);
  expectRefused(withTo('J4c8CARmP9vAFNGtHRuzx14zvxojyRWHW2darguVqjtXX'), /v1|bytes|length|base58/);
  const withAmount = (a) => txArgs(chain, { ...good, transfers: [[ADDR_ABC_DEF, a]] });
  expectRefused(withAmount('18446744073709551616'), /amount/);
  expectRefused(withAmount('0'), /amount/);
  expectRefused(withAmount('-5'), /amount/);
  expectRefused(withAmount('1.5'), /amount/);
  expectRefused(withAmount('12abc'), /amount/);
  expectRefused(txArgs(chain, { ...good, transfers: [[ADDR_ABC_DEF, 18446744073709551615n], [ADDR_ABC_ABC, 1]] }), /64 bits/);
  const args = txArgs(chain, good);
  expectRefused(args.filter((a, i) => a !== '--amount' && args[i - 1] !== '--amount'), /amount/);
  expectRefused(txArgs(chain, { ...good, nonce: 4294967296 }), /nonce/);
  expectRefused(txArgs(chain, { ...good, era: { period: 100, block: 1, hash: '0x' + '00'.repeat(32) } }), /power of two/);
  expectRefused(txArgs(chain, { ...good, era: { period: 4096, block: 1, hash: '0x' + '00'.repeat(32) } }), /BlockHashCount/);
  expectRefused(txArgs(chain, { ...good, era: { period: 64, block: 1, hash: '0x1234' } }), /hash/);
  expectRefused(txArgs(chain, { ...good, era: { period: 64, block: 'x', hash: '0x' + '00'.repeat(32) } }), /block number/);
  expectRefused(args.map((a) => (a === G1_GENESIS ? '0x1234' : a)), /genesis/);
  expectRefused(args.map((a) => (a === '1000' ? 'abc' : a)), /spec/);

  // truncated, mismatched and unknown .dunikey files
  const text = readFileSync(file, 'utf8');
  const cut = join(dir, 'truncated.dunikey');
  writeFileSync(cut, text.slice(0, text.length - 20));
  expectRefused(txArgs(chain, { ...good, dunikey: cut }), /sec|truncated/);
  writeFileSync(cut, text.slice(0, 40));
  expectRefused(txArgs(chain, { ...good, dunikey: cut }), /pub|truncated/);
  writeFileSync(cut, 'Type: EWIF\nVersion: 1\nData: abc\n');
  expectRefused(txArgs(chain, { ...good, dunikey: cut }), /EWIF/);
  const other = dunikeyFor(seed(8));
  const mixed = join(dir, 'mixed.dunikey');
  writeFileSync(mixed, text.replace(/pub: .*/, readFileSync(other.file, 'utf8').match(/pub: .*/)[0]));
  expectRefused(txArgs(chain, { ...good, dunikey: mixed }), /match/);
  expectRefused(txArgs(chain, { ...good, dunikey: join(dir, 'missing.dunikey') }), /No such file/);

  // credentials on stdin: one line only, or empty
  expectRefused(txArgs(chain, { ...good, dunikey: undefined }), /two lines|password/, 'abc\n');
  expectRefused(txArgs(chain, { ...good, dunikey: undefined }), /two lines|identifier/, '');

  // corrupted metadata: truncated, garbage, wrong version, trailing bytes, bad hex
  const meta = readFileSync(chain.metadataPath);
  const bad = join(dir, 'bad.scale');
  const withMeta = () => txArgs({ ...chain, metadataPath: bad }, good);
  writeFileSync(bad, meta.subarray(0, meta.length >> 1));
  expectRefused(withMeta(), /metadata/);
  writeFileSync(bad, Buffer.from('garbage, not metadata'));
  expectRefused(withMeta(), /metadata/);
  const v13 = Buffer.from(meta); v13[4] = 13;
  writeFileSync(bad, v13);
  expectRefused(withMeta(), /version 13/);
  writeFileSync(bad, Buffer.concat([meta, Buffer.from([1, 2, 3])]));
  expectRefused(withMeta(), /unexpected bytes/);
  writeFileSync(bad, '0x' + meta.toString('hex').slice(0, 1000) + 'zz');
  expectRefused(withMeta(), /hex/);
  // the same metadata as 0x hex text (as state_getMetadata returns it) works
  writeFileSync(bad, JSON.stringify('0x' + meta.toString('hex')));
  const r = run(withMeta());
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, run(txArgs(chain, good)).stdout, 'hex metadata gives the same extrinsic');

  // unknown action, unknown option
  expectRefused(['tx', 'frobnicate'], /unknown action/);
  expectRefused(['tx', 'transfer', '--secret', 'x'], /option|bad/);
});

test('a runtime with an unknown signed extension refuses to sign and names it', () => {
  const chain = chains.g1;
  const meta = readFileSync(chain.metadataPath);
  // rename the identifier "CheckWeight" (same length) inside the extension list
  const at = meta.lastIndexOf(Buffer.from('CheckWeight'));
  assert.ok(at > 0);
  const patched = Buffer.from(meta);
  Buffer.from('CheckWeigxx').copy(patched, at);
  const path = join(dir, 'patched.scale');
  writeFileSync(path, patched);
  const { file } = dunikeyFor(seed(9));
  const r = run(txArgs({ ...chain, metadataPath: path }, { dunikey: file, transfers: [[ADDR_ABC_DEF, 100]], nonce: 0 }));
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown signed extension 'CheckWeigxx'/);
});

// Re-encodes a V16 runtime's metadata as V14 or V15 with @polkadot/types (optionally
// without some signed extensions, like older runtimes), so the reader's V14/V15
// paths are checked on a real type registry.
function downgradeMetadata(chain, version, dropExtensions = []) {
  const { registry } = chain;
  const m = registry.metadata;
  const ue = m.lookup.types.find((t) => t.type.path.map(String).join('::').endsWith('UncheckedExtrinsic'));
  assert.ok(ue, 'UncheckedExtrinsic type present');
  const param = (name) => ue.type.params.find((x) => x.name.toString() === name).type.unwrap();
  const pallets = m.pallets.map((p) => ({
    name: p.name,
    storage: p.storage.isSome ? { prefix: p.storage.unwrap().prefix, items: p.storage.unwrap().items.map((i) => ({ name: i.name, modifier: i.modifier, type: i.type, fallback: i.fallback, docs: i.docs })) } : null,
    calls: p.calls.isSome ? { type: p.calls.unwrap().type } : null,
    events: p.events.isSome ? { type: p.events.unwrap().type } : null,
    constants: p.constants.map((c) => ({ name: c.name, type: c.type, value: c.value, docs: c.docs })),
    errors: p.errors.isSome ? { type: p.errors.unwrap().type } : null,
    index: p.index,
    ...(version === 15 ? { docs: p.docs } : {}),
  }));
  const signedExtensions = m.extrinsic.transactionExtensions
    .filter((e) => !dropExtensions.includes(e.identifier.toString()))
    .map((e) => ({ identifier: e.identifier, type: e.type, additionalSigned: e.implicit }));
  const body = version === 15
    ? registry.createType('MetadataV15', {
      lookup: m.lookup, pallets,
      extrinsic: { version: 4, addressType: m.extrinsic.addressType, callType: m.extrinsic.callType, signatureType: m.extrinsic.signatureType, extraType: param('Extra'), signedExtensions },
      type: 0,
      apis: m.apis.map((a) => ({ name: a.name, methods: a.methods.map((x) => ({ name: x.name, inputs: x.inputs, output: x.output, docs: x.docs })), docs: a.docs })),
      outerEnums: m.outerEnums, custom: m.custom,
    })
    : registry.createType('MetadataV14', { lookup: m.lookup, pallets, extrinsic: { type: ue.id, version: 4, signedExtensions }, type: 0 });
  const bytes = u8aConcat(new Uint8Array([0x6d, 0x65, 0x74, 0x61, version]), body.toU8a());
  const metadataPath = join(dir, `${chain.name}_v${version}_${dropExtensions.join('_')}.scale`);
  writeFileSync(metadataPath, bytes);
  const reg = new TypeRegistry();
  const metadata = new Metadata(reg, bytes);
  reg.setMetadata(metadata);
  assert.equal(metadata.version, version);
  return { ...chain, registry: reg, metadataPath };
}

for (const name of ['g1', 'gdev']) {
  test(`${name}: the same runtime as V14 and V15 metadata gives the same extrinsic; without CheckMetadataHash it still verifies`, () => {
    const chain = chains[name];
    const { file, pair } = dunikeyFor(seed(20));
    const to = encodeAddress(ed25519PairFromSeed(seed(21)).publicKey, chain.prefix);
    const o = { dunikey: file, transfers: [[to, 500], [to, 600]], remark: 'v14/v15', nonce: 5, era: { period: 32, block: 77, hash: '0x' + '66'.repeat(32) } };
    const reference = signAndCheck(chain, o, pair.publicKey);
    for (const version of [14, 15]) {
      const older = downgradeMetadata(chain, version);
      const res = signAndCheck(older, o, pair.publicKey);
      assert.equal(res.hex, reference.hex, `V${version} gives the same bytes as V16`);
      const noHash = downgradeMetadata(chain, version, ['CheckMetadataHash']);
      const res2 = signAndCheck(noHash, o, pair.publicKey);
      assert.equal(hexToU8a(res2.hex).length, hexToU8a(reference.hex).length - 1, 'no mode byte without CheckMetadataHash');
    }
  });
}
