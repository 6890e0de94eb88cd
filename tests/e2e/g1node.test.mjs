// End-to-end tests of the g1node test stand-in (tests/g1node): real signed extrinsics built with
// @polkadot/types' own signer, checked against the node's independent validation, dispatch,
// events, storage, subscriptions and fault injection. Also the BRIEF §6 byte-exact extrinsic.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  NodeProcess, WsClient, RpcError, ExtrinsicBuilder, waitFor, sleep, rpc,
  cesiumSeed, keyFromSeed, keyFromName, address, extrinsicHash, G1_GENESIS, RESTART_EXIT_CODE,
} from '../g1node/client.mjs';

const VECTOR_HEX = '0x31028400f7d68da919331a9bd52a4ff81c8c740e6f76635224895d4c371e68d5c7f31032000f2fb53126fc8059cb1d27ec20eced7cdd4051aeb335ee0aef15b11c8a434fd49439dab6a942170b973c5cc92eb1170d59981a162d7afda3943181d6d4572c0700000000060300df2d87db2ba1bcf294b61a2a605a1dd643af9f823ad99e8785d0f54b98ca2e779101';
const VECTOR_HASH = '0x0f28bc2b3ce55a32af3c035a183c5442ae0c76510ab1388401275d566eee1394';

let B; // ExtrinsicBuilder (g1 metadata)

async function rejects(promise, code, data) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof RpcError, `expected an RPC error, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (data !== undefined) assert.equal(e.data, data);
    return true;
  });
}

// Chain parameters a client reads before signing.
async function chainInfo(node) {
  const [genesisHash, v] = await Promise.all([node.rpc('chain_getBlockHash', [0]), node.rpc('state_getRuntimeVersion')]);
  return { genesisHash, specVersion: v.specVersion, txVersion: v.transactionVersion };
}

async function signed(node, kp, call, extra = {}) {
  const info = await chainInfo(node);
  const nonce = extra.nonce ?? await node.rpc('system_accountNextIndex', [address(kp)]);
  return B.sign(kp, call, { ...info, nonce, ...extra });
}

// Events of the extrinsic at `index` of block `blockHash`, decoded with our own registry.
async function eventsOf(node, blockHash, index) {
  const key = `0x${Buffer.concat([xx('System'), xx('Events')]).toString('hex')}`;
  const hex = await node.rpc('state_getStorage', [key, blockHash]);
  const records = B.reg.createType('Vec<EventRecord>', hex);
  return records.filter((r) => r.phase.isApplyExtrinsic && r.phase.asApplyExtrinsic.toNumber() === index)
    .map((r) => ({
      name: `${r.event.section}.${r.event.method}`,
      data: Object.fromEntries((r.event.data.names || []).map((n, i) => [n, r.event.data[i].toJSON()])),
    }));
}
import { xxhashAsU8a, blake2AsU8a, base58Encode } from '@polkadot/util-crypto';
const xx = (s) => Buffer.from(xxhashAsU8a(s, 128));

async function accountInfo(node, kp, at) {
  const pk = Buffer.from(kp.publicKey);
  const key = `0x${Buffer.concat([xx('System'), xx('Account'), Buffer.from(blake2AsU8a(pk, 128)), pk]).toString('hex')}`;
  const hex = await node.rpc('state_getStorage', at ? [key, at] : [key]);
  if (hex === null) return null;
  const entry = B.md.asLatest.pallets.find((p) => p.name.toString() === 'System').storage.unwrap().items.find((i) => i.name.toString() === 'Account');
  return B.reg.createType(B.reg.createLookupType(entry.type.asMap.value.toNumber()), hex).toJSON();
}

async function includedIn(node, hash, timeoutMs = 10000) {
  return waitFor(() => node.findExtrinsic(hash), { timeoutMs, what: `inclusion of ${hash}` });
}

before(async () => { B = await ExtrinsicBuilder.create('g1'); });

describe('BRIEF §6 byte-exact extrinsic', () => {
  let node;
  const payer = keyFromSeed(cesiumSeed('abc', 'abc'));
  const payee = keyFromSeed(cesiumSeed('abc', 'def'));
  before(async () => {
    node = await new NodeProcess({ blockMs: 200, genesisHash: G1_GENESIS, specVersion: 1100, txVersion: 1, genesisBalances: { [address(payer)]: 1000 } }).start();
  });
  after(() => node.dispose());

  test('our builder reproduces the vector, the node accepts it and moves 100 centimes', async () => {
    assert.equal(address(payer), 'g1QajBQV5yHurKa49Lzy2XM47KhQNSXzoCeYHmJtTofG47mJu');
    assert.equal(B.sign(payer, B.transferKeepAlive(payee.publicKey, 100), { genesisHash: G1_GENESIS, specVersion: 1100, txVersion: 1, nonce: 0 }), VECTOR_HEX);
    assert.equal(await node.rpc('author_submitExtrinsic', [VECTOR_HEX]), VECTOR_HASH);
    const at = await includedIn(node, VECTOR_HASH);
    assert.ok(at.index >= 1, 'extrinsic 0 is the timestamp inherent');
    const ledger = await node.ledger();
    assert.deepEqual(ledger.map((e) => [e.from, e.to, e.amount, e.extrinsicHash, e.block]),
      [[address(payer), 'g1Q2PpZHA3dKXSbEkxiux96hmBEnA3GfJCG6aQkNJ2XGwe6py', 100, VECTOR_HASH, at.number]]);
    const names = (await eventsOf(node, at.blockHash, at.index)).map((e) => e.name);
    assert.deepEqual(names, ['system.NewAccount', 'balances.Endowed', 'balances.Transfer', 'transactionPayment.TransactionFeePaid', 'system.ExtrinsicSuccess']);
    const payeeInfo = await accountInfo(node, payee);
    assert.equal(payeeInfo.data.free, 100);
    assert.equal(payeeInfo.providers, 1);
    const payerInfo = await accountInfo(node, payer);
    assert.equal(payerInfo.data.free, 900);
    assert.equal(payerInfo.nonce, 1);
    assert.equal((await accountInfo(node, payer, at.blockHash)).nonce, 1);
    const parent = await node.rpc('chain_getBlockHash', [at.number - 1]);
    assert.equal((await accountInfo(node, payer, parent)).nonce, 0, 'storage read at an older block');
  });

  test('resubmitting the included extrinsic answers 1010 stale', async () => {
    await rejects(node.rpc('author_submitExtrinsic', [VECTOR_HEX]), 1010, 'Transaction is outdated');
  });
});

describe('validation and dispatch', () => {
  let node;
  const alice = keyFromName('alice');
  const bob = keyFromName('bob');
  const poor = keyFromName('poor');
  before(async () => {
    node = await new NodeProcess({ blockMs: 150, genesisBalances: { [address(alice)]: 1_000_000, [address(bob)]: 50_000, [address(poor)]: 1000 } }).start();
  });
  after(() => node.dispose());

  test('RPC basics look like a Substrate node', async () => {
    const props = await node.rpc('system_properties');
    assert.deepEqual(props, { ss58Format: 4450, tokenDecimals: 2, tokenSymbol: 'Ğ1' });
    assert.equal(await node.rpc('system_chain'), 'Ğ1');
    const v = await node.rpc('state_getRuntimeVersion');
    assert.equal(v.specName, 'g1');
    assert.equal(v.specVersion, 1000);
    assert.equal(v.transactionVersion, 1);
    const md = await node.rpc('state_getMetadata');
    assert.equal(md, `0x${fs.readFileSync(path.join(process.env.G1_SHARED || '/work/shared', 'g1', 'g1_metadata.scale')).toString('hex')}`);
    const methods = (await node.rpc('rpc_methods')).methods;
    for (const m of ['author_submitAndWatchExtrinsic', 'chain_getBlock', 'state_getStorage', 'payment_queryInfo']) assert.ok(methods.includes(m), m);
    await node.waitForBlock(3);
    const h2 = await node.rpc('chain_getBlockHash', [2]);
    const header = await node.rpc('chain_getHeader', [h2]);
    assert.equal(header.number, '0x2');
    assert.equal(header.parentHash, await node.rpc('chain_getBlockHash', [1]));
    const encoded = B.reg.createType('Header', { ...header, number: 2 });
    assert.equal(encoded.hash.toHex(), h2, 'block hash = blake2b-256 of the encoded header');
    assert.equal(await node.rpc('chain_getBlockHash', [1e6]), null);
    const best = await node.bestNumber();
    assert.ok(await node.finalizedNumber() <= best - 2 + 1, 'finality lags');
    const health = await node.rpc('system_health');
    assert.equal(health.isSyncing, false);
    await rejects(node.rpc('no_such_method'), -32601);
    await rejects(node.rpc('author_submitAndWatchExtrinsic', ['0x00']), -32601); // subscriptions need WebSocket
  });

  test('JSON-RPC framing: batches, parse errors, invalid requests, bad params', async () => {
    const post = async (body) => (await fetch(node.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).json();
    const batch = await post(JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'chain_getBlockHash', params: [0] },
      { jsonrpc: '2.0', id: 2, method: 'system_chain' },
    ]));
    assert.deepEqual(batch.map((r) => r.id), [1, 2]);
    assert.equal(batch[1].result, 'Ğ1');
    assert.equal((await post('{nope')).error.code, -32700);
    assert.equal((await post(JSON.stringify({ id: 3, method: 'system_chain' }))).error.code, -32600);
    await rejects(node.rpc('system_accountNextIndex', ['not an address']), -32602);
    await rejects(node.rpc('chain_getHeader', ['0x1234']), -32602);
    await rejects(node.rpc('test_setBalance', [address(alice), 'lots']), -32602);
    assert.equal(await node.rpc('chain_getHeader', [`0x${'00'.repeat(32)}`]), null);
  });

  test('a transfer is applied, the nonce advances and payment_queryInfo answers zero fee', async () => {
    const carol = keyFromName('carol');
    const hex = await signed(node, alice, B.transferKeepAlive(carol.publicKey, 12345));
    const fee = await node.rpc('payment_queryInfo', [hex]);
    assert.equal(fee.partialFee, '0');
    const hash = await node.rpc('author_submitExtrinsic', [hex]);
    assert.equal(hash, extrinsicHash(hex));
    const at = await includedIn(node, hash);
    const entry = (await node.ledger()).find((e) => e.extrinsicHash === hash);
    assert.deepEqual([entry.from, entry.to, entry.amount, entry.block], [address(alice), address(carol), 12345, at.number]);
    assert.equal((await accountInfo(node, carol)).data.free, 12345);
    assert.equal(await node.rpc('system_accountNextIndex', [address(alice)]), 1);
  });

  test('bad signature, wrong genesis, wrong spec or tx version → 1010 bad signature', async () => {
    const dest = keyFromName('dest1').publicKey;
    const good = await signed(node, alice, B.transferKeepAlive(dest, 200));
    const sigAt = 2 + 2 * (2 + 1 + 32 + 1) + 10; // inside the 64-byte signature
    const flipped = good.slice(0, sigAt) + (good[sigAt] === '0' ? '1' : '0') + good.slice(sigAt + 1);
    await rejects(node.rpc('author_submitExtrinsic', [flipped]), 1010, 'Transaction has a bad signature');
    const info = await chainInfo(node);
    const nonce = await node.rpc('system_accountNextIndex', [address(alice)]);
    const call = B.transferKeepAlive(dest, 201);
    await rejects(node.rpc('author_submitExtrinsic', [B.sign(alice, call, { ...info, nonce, genesisHash: G1_GENESIS })]), 1010, 'Transaction has a bad signature');
    await rejects(node.rpc('author_submitExtrinsic', [B.sign(alice, call, { ...info, nonce, specVersion: info.specVersion + 1 })]), 1010, 'Transaction has a bad signature');
    await rejects(node.rpc('author_submitExtrinsic', [B.sign(alice, call, { ...info, nonce, txVersion: info.txVersion + 1 })]), 1010, 'Transaction has a bad signature');
    // An identical invalid resubmission is banned, as by Substrate's pool.
    await rejects(node.rpc('author_submitExtrinsic', [flipped]), 1012);
    assert.ok(!(await node.ledger()).some((e) => e.to === address({ publicKey: dest })));
  });

  test('malformed and unsigned extrinsics are refused', async () => {
    await rejects(node.rpc('author_submitExtrinsic', ['0x1234']), 1001);
    const call = B.remarkWithEvent('unsigned');
    const unsigned = B.reg.createType('Extrinsic', call).toHex();
    await rejects(node.rpc('author_submitExtrinsic', [unsigned]), 1011);
  });

  test('nonce reuse → stale; resubmitting an included one → stale', async () => {
    const dest = keyFromName('dest2').publicKey;
    const nonce = await node.rpc('system_accountNextIndex', [address(bob)]);
    const first = await signed(node, bob, B.transferKeepAlive(dest, 300), { nonce });
    const hash = await node.rpc('author_submitExtrinsic', [first]);
    await includedIn(node, hash);
    const reuse = await signed(node, bob, B.transferKeepAlive(dest, 301), { nonce });
    await rejects(node.rpc('author_submitExtrinsic', [reuse]), 1010, 'Transaction is outdated');
    await rejects(node.rpc('author_submitExtrinsic', [first]), 1010, 'Transaction is outdated');
    assert.equal((await node.ledger()).filter((e) => e.extrinsicHash === hash).length, 1);
  });

  test('a future nonce waits in the pool until the gap is filled', async () => {
    const dest = keyFromName('dest3').publicKey;
    const nonce = await node.rpc('system_accountNextIndex', [address(bob)]);
    const later = await signed(node, bob, B.transferKeepAlive(dest, 400), { nonce: nonce + 1 });
    const laterHash = await node.rpc('author_submitExtrinsic', [later]);
    const best = await node.bestNumber();
    await node.waitForBlock(best + 3);
    assert.equal(await node.findExtrinsic(laterHash, best), null, 'not included while the gap is open');
    assert.deepEqual((await node.rpc('test_pool')).map((t) => [t.hash, t.status]), [[laterHash, 'future']]);
    assert.equal(await node.rpc('system_accountNextIndex', [address(bob)]), nonce, 'future txs do not count');
    const gap = await signed(node, bob, B.transferKeepAlive(dest, 399), { nonce });
    const gapHash = await node.rpc('author_submitExtrinsic', [gap]);
    const a = await includedIn(node, gapHash);
    const b = await includedIn(node, laterHash);
    assert.ok(a.number < b.number || (a.number === b.number && a.index < b.index), 'nonce order kept');
    const amounts = (await node.ledger()).filter((e) => e.to === address({ publicKey: dest })).map((e) => e.amount);
    assert.deepEqual(amounts, [399, 400]);
  });

  test('insufficient funds, keep-alive and existential deposit fail on chain with the real errors', async () => {
    const newcomer = keyFromName('newcomer').publicKey;
    const cases = [
      [B.transferKeepAlive(newcomer, 5000), 'FundsUnavailable'],
      [B.transferKeepAlive(newcomer, 950), 'NotExpendable'], // would leave 50 < ED 100
      [B.transferKeepAlive(newcomer, 50), 'BelowMinimum'], // new account below ED
    ];
    for (const [call, tokenError] of cases) {
      const hex = await signed(node, poor, call);
      const hash = await node.rpc('author_submitExtrinsic', [hex]);
      const at = await includedIn(node, hash);
      const events = await eventsOf(node, at.blockHash, at.index);
      const failed = events.find((e) => e.name === 'system.ExtrinsicFailed');
      assert.ok(failed, `ExtrinsicFailed for ${tokenError}: ${JSON.stringify(events)}`);
      assert.deepEqual(failed.data.dispatchError, { token: tokenError });
      assert.ok(!events.some((e) => e.name === 'balances.Transfer'));
    }
    const info = await accountInfo(node, poor);
    assert.equal(info.nonce, 3, 'failed extrinsics still use their nonce');
    assert.equal(info.data.free, 1000);
    assert.ok(!(await node.ledger()).some((e) => e.from === address(poor)));
  });

  test('transfer_allow_death may empty the account (reaped)', async () => {
    const gone = keyFromName('gone');
    await node.rpc('test_setBalance', [address(gone), 700]);
    const hex = await signed(node, gone, B.transferAllowDeath(alice.publicKey, 650));
    const at = await includedIn(node, await node.rpc('author_submitExtrinsic', [hex]));
    const names = (await eventsOf(node, at.blockHash, at.index)).map((e) => e.name);
    assert.ok(names.includes('balances.DustLost') && names.includes('system.KilledAccount') && names.includes('system.ExtrinsicSuccess'), names.join());
    assert.equal(await accountInfo(node, gone), null);
  });

  test('batch_all is atomic; a successful batch applies every transfer and the remark', async () => {
    const x = keyFromName('batch-x').publicKey;
    const y = keyFromName('batch-y').publicKey;
    const bad = await signed(node, alice, B.batchAll([B.transferKeepAlive(x, 1000), B.transferKeepAlive(y, 10_000_000)]));
    const badHash = await node.rpc('author_submitExtrinsic', [bad]);
    let at = await includedIn(node, badHash);
    let events = await eventsOf(node, at.blockHash, at.index);
    assert.deepEqual(events.find((e) => e.name === 'system.ExtrinsicFailed').data.dispatchError, { token: 'FundsUnavailable' });
    assert.ok(!events.some((e) => e.name === 'balances.Transfer'), 'no transfer of a failed batch');
    assert.equal(await accountInfo(node, { publicKey: x }), null);
    assert.ok(!(await node.ledger()).some((e) => e.extrinsicHash === badHash));

    const good = await signed(node, alice, B.batchAll([B.transferKeepAlive(x, 1000), B.transferKeepAlive(y, 2000), B.remarkWithEvent('nostr:receipt-1')]));
    const goodHash = await node.rpc('author_submitExtrinsic', [good]);
    at = await includedIn(node, goodHash);
    events = await eventsOf(node, at.blockHash, at.index);
    const names = events.map((e) => e.name);
    assert.equal(names.filter((n) => n === 'utility.ItemCompleted').length, 3);
    assert.ok(names.includes('utility.BatchCompleted') && names.includes('system.Remarked') && names.at(-1) === 'system.ExtrinsicSuccess');
    const remarked = events.find((e) => e.name === 'system.Remarked');
    assert.equal(Object.values(remarked.data)[1], `0x${Buffer.from(blake2AsU8a(Buffer.from('nostr:receipt-1'), 256)).toString('hex')}`);
    const entries = (await node.ledger()).filter((e) => e.extrinsicHash === goodHash).map((e) => [e.to, e.amount]);
    assert.deepEqual(entries, [[address({ publicKey: x }), 1000], [address({ publicKey: y }), 2000]]);
  });

  test('submitAndWatchExtrinsic reports ready, inBlock, finalized; new and finalized heads stream', async () => {
    const ws = await WsClient.connect(node.wsUrl);
    try {
      const heads = [];
      const finals = [];
      await ws.subscribe('chain_subscribeNewHeads', [], (h) => heads.push(parseInt(h.number, 16)));
      await ws.subscribe('chain_subscribeFinalizedHeads', [], (h) => finals.push(parseInt(h.number, 16)));
      const hex = await signed(node, alice, B.transferKeepAlive(keyFromName('watched').publicKey, 777));
      const statuses = [];
      await ws.subscribe('author_submitAndWatchExtrinsic', [hex], (s, method) => { assert.equal(method, 'author_extrinsicUpdate'); statuses.push(s); });
      await waitFor(() => statuses.some((s) => s.finalized), { what: 'finalized status' });
      assert.equal(statuses[0], 'ready');
      assert.ok(statuses[1].inBlock);
      assert.equal(statuses.at(-1).finalized, statuses[1].inBlock);
      const at = await node.findExtrinsic(extrinsicHash(hex));
      assert.equal(at.blockHash, statuses[1].inBlock);
      assert.ok(heads.length >= 2 && heads.every((n, i) => i === 0 || n === heads[i - 1] + 1), `heads ${heads}`);
      assert.ok(finals.length >= 1 && Math.max(...finals) <= Math.max(...heads) - 2);
      await rejects(ws.call('author_submitAndWatchExtrinsic', [hex]), 1010, 'Transaction is outdated');
    } finally { await ws.close(); }
  });
});

describe('pool rules and eras (blocks on demand)', () => {
  let node;
  const alice = keyFromName('alice');
  const dest = keyFromName('era-dest').publicKey;
  before(async () => { node = await new NodeProcess({ blockMs: 0, genesisBalances: { [address(alice)]: 1_000_000 } }).start(); });
  after(() => node.dispose());

  test('identical resubmission of a pooled extrinsic → 1013; same nonce, other bytes → 1014', async () => {
    await node.rpc('test_produceBlock', [3]);
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 1000));
    await node.rpc('author_submitExtrinsic', [hex]);
    await rejects(node.rpc('author_submitExtrinsic', [hex]), 1013);
    const rival = await signed(node, alice, B.transferKeepAlive(dest, 1001), { nonce: 0 });
    await rejects(node.rpc('author_submitExtrinsic', [rival]), 1014);
    assert.equal(await node.rpc('system_accountNextIndex', [address(alice)]), 1, 'ready pool tx counts');
    await node.rpc('test_produceBlock');
    assert.ok(await node.findExtrinsic(extrinsicHash(hex)));
  });

  test('mortal era: valid within its period, bad signature once expired, ancient birth block ahead of the chain', async () => {
    const best = await node.bestNumber();
    const birthHash = await node.rpc('chain_getBlockHash', [best]);
    const era = { period: 8, current: best, blockHash: birthHash };
    const inTime = await signed(node, alice, B.transferKeepAlive(dest, 1100), { era });
    await node.rpc('author_submitExtrinsic', [inTime]);
    await node.rpc('test_produceBlock');
    assert.ok(await node.findExtrinsic(extrinsicHash(inTime), best));

    const late = await signed(node, alice, B.transferKeepAlive(dest, 1200), { era });
    await node.rpc('test_produceBlock', [8]); // the era's period is over
    await rejects(node.rpc('author_submitExtrinsic', [late]), 1010, 'Transaction has a bad signature');

    const now = await node.bestNumber();
    const ahead = await signed(node, alice, B.transferKeepAlive(dest, 1300), { era: { period: 64, current: now + 5, blockHash: birthHash } });
    await rejects(node.rpc('author_submitExtrinsic', [ahead]), 1010, 'Transaction has an ancient birth block');
  });

  test('a pooled mortal extrinsic that cannot be included before its era ends leaves the pool', async () => {
    const best = await node.bestNumber();
    const era = { period: 4, current: best, blockHash: await node.rpc('chain_getBlockHash', [best]) };
    const nonce = await node.rpc('system_accountNextIndex', [address(alice)]);
    const stuck = await signed(node, alice, B.transferKeepAlive(dest, 1400), { era, nonce: nonce + 1 });
    await node.rpc('author_submitExtrinsic', [stuck]);
    assert.equal((await node.rpc('test_pool')).length, 1);
    await node.rpc('test_produceBlock', [5]);
    assert.equal((await node.rpc('test_pool')).length, 0);
  });

  test('a runtime upgrade (spec version change) invalidates old signatures', async () => {
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 1500));
    await node.rpc('test_setRuntimeVersion', [{ specVersion: 1001 }]);
    assert.equal((await node.rpc('state_getRuntimeVersion')).specVersion, 1001);
    await rejects(node.rpc('author_submitExtrinsic', [hex]), 1010, 'Transaction has a bad signature');
    const again = await signed(node, alice, B.transferKeepAlive(dest, 1500));
    await node.rpc('author_submitExtrinsic', [again]);
  });
});

describe('faults', () => {
  let node;
  const alice = keyFromName('alice');
  const dest = keyFromName('fault-dest').publicKey;
  before(async () => { node = await new NodeProcess({ blockMs: 200, finalityLag: 1, genesisBalances: { [address(alice)]: 1_000_000 } }).start(); });
  after(() => node.dispose());

  test('refuse: connections refused for N seconds, then served again on the same port', async () => {
    await node.fault({ mode: 'refuse', seconds: 1 });
    await sleep(100);
    await assert.rejects(node.rpc('system_health', [], { timeoutMs: 500 }));
    await waitFor(async () => { try { await node.rpc('system_health', [], { timeoutMs: 500 }); return true; } catch { return false; } }, { timeoutMs: 5000, what: 'node back' });
  });

  test('stall: requests accepted but unanswered for N seconds', async () => {
    await node.fault({ mode: 'stall', seconds: 1 });
    await assert.rejects(node.rpc('system_health', [], { timeoutMs: 400 }), /timeout|aborted/i);
    await sleep(800);
    assert.equal((await node.rpc('system_health')).isSyncing, false);
  });

  test('drop: a submission is answered but never included; the same bytes sent again are', async () => {
    await node.fault({ mode: 'drop', count: 1 });
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 2000));
    const hash = await node.rpc('author_submitExtrinsic', [hex]);
    const best = await node.bestNumber();
    await node.waitForBlock(best + 3);
    assert.equal(await node.findExtrinsic(hash, best), null);
    assert.equal(await node.rpc('author_submitExtrinsic', [hex]), hash);
    await includedIn(node, hash);
    assert.equal((await node.ledger()).filter((e) => e.extrinsicHash === hash).length, 1);
  });

  test('lose-reply: the extrinsic is included but the connection closes without an answer', async () => {
    await node.fault({ mode: 'lose-reply', count: 1 });
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 2100));
    await assert.rejects(node.rpc('author_submitExtrinsic', [hex]), (e) => !(e instanceof RpcError));
    await includedIn(node, extrinsicHash(hex));
    await rejects(node.rpc('author_submitExtrinsic', [hex]), 1010, 'Transaction is outdated');
  });

  test('lose-reply over WebSocket: the connection drops, the watched extrinsic is still included', async () => {
    const ws = await WsClient.connect(node.wsUrl);
    await node.fault({ mode: 'lose-reply', count: 1 });
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 2150));
    await assert.rejects(ws.call('author_submitAndWatchExtrinsic', [hex]), /closed/);
    await includedIn(node, extrinsicHash(hex));
  });

  test('restart: the process exits and comes back with its chain, nonces and ledger', async () => {
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 2200));
    const hash = await node.rpc('author_submitExtrinsic', [hex]);
    await includedIn(node, hash);
    const ledgerBefore = await node.ledger();
    const bestBefore = await node.bestNumber();
    const genesis = await node.rpc('chain_getBlockHash', [0]);
    const nonceBefore = await node.rpc('system_accountNextIndex', [address(alice)]);
    await node.fault({ mode: 'restart' });
    const { code } = await node.exited;
    assert.equal(code, RESTART_EXIT_CODE);
    await node.start();
    assert.equal(await node.rpc('chain_getBlockHash', [0]), genesis);
    assert.ok(await node.bestNumber() >= bestBefore);
    assert.deepEqual((await node.ledger()).slice(0, ledgerBefore.length), ledgerBefore);
    assert.equal(await node.rpc('system_accountNextIndex', [address(alice)]), nonceBefore);
    await rejects(node.rpc('author_submitExtrinsic', [hex]), 1010, 'Transaction is outdated');
    const after = await signed(node, alice, B.transferKeepAlive(dest, 2300));
    await includedIn(node, await node.rpc('author_submitExtrinsic', [after]));
  });

  test('a SIGKILLed node restarts from its state file', async () => {
    const bestBefore = await node.bestNumber();
    const ledgerBefore = await node.ledger();
    await node.kill();
    await node.start();
    assert.ok(await node.bestNumber() >= bestBefore - 1);
    assert.deepEqual((await node.ledger()).slice(0, ledgerBefore.length), ledgerBefore);
  });

  test('supervised: the node restarts by itself on the same port and keeps its ledger', async () => {
    const sup = await new NodeProcess({ blockMs: 200, supervised: true, genesisBalances: { [address(alice)]: 50_000 } }).start();
    try {
      const hex = await signed(sup, alice, B.transferKeepAlive(dest, 2400));
      const hash = await sup.rpc('author_submitExtrinsic', [hex]);
      await includedIn(sup, hash);
      await sup.fault({ mode: 'restart' });
      await sleep(100);
      await waitFor(async () => { try { return (await sup.ledger()).some((e) => e.extrinsicHash === hash); } catch { return false; } }, { timeoutMs: 10000, what: 'supervised restart' });
      assert.ok(sup.output.includes('starting it again'), 'the node really restarted');
      assert.equal(sup.proc.exitCode, null, 'the supervisor keeps running');
    } finally { await sup.dispose(); }
  });

  test('a state journal cut in the middle of a line is repaired on start', async () => {
    const bestBefore = await node.bestNumber();
    await node.kill();
    fs.appendFileSync(node.stateFile, '{"type":"block","block":{"number":');
    await node.start();
    assert.ok(await node.bestNumber() >= bestBefore);
    const hex = await signed(node, alice, B.transferKeepAlive(dest, 2500));
    await includedIn(node, await node.rpc('author_submitExtrinsic', [hex]));
  });

  test('CLI fault flag: a node started stalled does not answer at first', async () => {
    const n2 = await new NodeProcess({ blockMs: 200, faults: ['stall:1'] }).start();
    try {
      await assert.rejects(n2.rpc('system_health', [], { timeoutMs: 300 }));
      await sleep(900);
      await n2.rpc('system_health');
    } finally { await n2.dispose(); }
  });
});

describe('gdev runtime', () => {
  test('the gdev metadata drives the node: prefix 42, its existential deposit, a transfer applies', async () => {
    const G = await ExtrinsicBuilder.create('gdev');
    const alice = keyFromName('alice');
    const node = await new NodeProcess({ blockMs: 150, runtime: 'gdev', genesisBalances: { [address(alice, 42)]: 100_000 } }).start();
    try {
      assert.equal((await node.rpc('system_properties')).ss58Format, 42);
      const ed = BigInt(G.reg.createType('u64', G.md.asLatest.pallets.find((p) => p.name.toString() === 'Balances').constants.find((c) => c.name.toString() === 'ExistentialDeposit').value).toString());
      const info = await chainInfo(node);
      const to = keyFromName('gdev-dest');
      const below = G.sign(alice, G.transferKeepAlive(to.publicKey, Number(ed) - 1), { ...info, nonce: 0 });
      const ok = G.sign(alice, G.transferKeepAlive(to.publicKey, Number(ed)), { ...info, nonce: 1 });
      await node.rpc('author_submitExtrinsic', [below]);
      await node.rpc('author_submitExtrinsic', [ok]);
      await includedIn(node, extrinsicHash(ok));
      assert.deepEqual((await node.ledger()).map((e) => [e.to, e.amount]), [[address(to, 42), Number(ed)]]);
    } finally { await node.dispose(); }
  });
});

describe('g1relay tx transfer through the test node', () => {
  const bin = process.env.G1RELAY_BIN;
  const probe = bin && fs.existsSync(bin) ? spawnSync(bin, ['tx', 'transfer', '--help'], { encoding: 'utf8', timeout: 5000 }) : null;
  const present = probe && probe.status === 0;
  const skip = present ? false : `\`g1relay tx transfer\` not present (${bin ? `${bin} has no such command` : 'G1RELAY_BIN unset'})`;
  const payer = keyFromSeed(cesiumSeed('abc', 'abc'));
  const funded = keyFromName('dunikey-payer');
  let node;
  let metadataFile;

  before(async () => {
    if (!present) return;
    node = await new NodeProcess({ blockMs: 200, genesisBalances: { [address(payer)]: 100_000, [address(funded)]: 100_000 } }).start();
    // The metadata the node serves, saved as a client would.
    metadataFile = path.join(node.dir, 'metadata.scale');
    fs.writeFileSync(metadataFile, Buffer.from((await node.rpc('state_getMetadata')).slice(2), 'hex'));
  });
  after(() => node && node.dispose());

  // Runs `g1relay tx transfer` with the chain state read from the node; returns [hex, hash].
  async function relaySigns(args, stdin, signer) {
    const info = await chainInfo(node);
    const nonce = await node.rpc('system_accountNextIndex', [address(signer)]);
    const r = spawnSync(bin, ['tx', 'transfer', ...args, '--nonce', String(nonce), '--spec', String(info.specVersion),
      '--tx-version', String(info.txVersion), '--genesis', info.genesisHash, '--metadata', metadataFile],
    { encoding: 'utf8', input: stdin, cwd: node.dir, timeout: 60000 });
    assert.equal(r.status, 0, `g1relay tx transfer failed: ${r.stderr}`);
    const [hex, hash] = r.stdout.trim().split('\n');
    assert.equal(hash, extrinsicHash(hex));
    return [hex, hash];
  }

  test('a single immortal transfer signed from Cesium credentials is accepted and applied', { skip }, async () => {
    const to = address(keyFromName('relay-payee-1'));
    const [hex, hash] = await relaySigns(['--to', to, '--amount', '250', '--era', 'immortal'], 'abc\nabc\n', payer);
    assert.equal(await node.rpc('author_submitExtrinsic', [hex]), hash);
    const at = await includedIn(node, hash);
    assert.equal((await eventsOf(node, at.blockHash, at.index)).at(-1).name, 'system.ExtrinsicSuccess');
    assert.deepEqual((await node.ledger()).filter((e) => e.extrinsicHash === hash).map((e) => [e.from, e.to, e.amount]), [[address(payer), to, 250]]);
    await rejects(node.rpc('author_submitExtrinsic', [hex]), 1010, 'Transaction is outdated');
  });

  test('a mortal batch_all with a remark signed from a .dunikey is accepted and applied', { skip }, async () => {
    const dunikey = path.join(node.dir, 'payer.dunikey');
    fs.writeFileSync(dunikey, `Type: PubSec\nVersion: 1\npub: ${base58Encode(funded.publicKey)}\nsec: ${base58Encode(funded.secretKey)}\n`, { mode: 0o600 });
    const best = await node.bestNumber();
    const bestHash = await node.rpc('chain_getBlockHash', [best]);
    const a = address(keyFromName('relay-payee-2'));
    const b = address(keyFromName('relay-payee-3'));
    const [hex, hash] = await relaySigns(['--from-dunikey', dunikey, '--to', a, '--amount', '300', '--to', b, '--amount', '400',
      '--remark', 'nostr:test-receipts', '--era', '64', '--era-block', `${best}:${bestHash}`], '', funded);
    assert.equal(await node.rpc('author_submitExtrinsic', [hex]), hash);
    const at = await includedIn(node, hash);
    const names = (await eventsOf(node, at.blockHash, at.index)).map((e) => e.name);
    assert.ok(names.includes('system.Remarked') && names.includes('utility.BatchCompleted') && names.at(-1) === 'system.ExtrinsicSuccess', names.join());
    assert.deepEqual((await node.ledger()).filter((e) => e.extrinsicHash === hash).map((e) => [e.to, e.amount]), [[a, 300], [b, 400]]);
  });

  test('the node refuses what g1relay signed for another genesis', { skip }, async () => {
    const r = spawnSync(bin, ['tx', 'transfer', '--to', address(keyFromName('relay-payee-4')), '--amount', '100', '--era', 'immortal',
      '--nonce', String(await node.rpc('system_accountNextIndex', [address(payer)])), '--spec', '1000', '--tx-version', '1',
      '--genesis', G1_GENESIS, '--metadata', metadataFile], { encoding: 'utf8', input: 'abc\nabc\n', cwd: node.dir, timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    await rejects(node.rpc('author_submitExtrinsic', [r.stdout.split('\n')[0]]), 1010, 'Transaction has a bad signature');
  });
});
