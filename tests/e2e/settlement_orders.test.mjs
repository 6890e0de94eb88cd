// PROTOCOL.md §B (purchase conversation: 9740 order, 9741 payment request, 9742
// authorisation) and §C receipts, against the real binary with nostr-tools clients.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAddress, ed25519PairFromSeed, cryptoWaitReady } from '@polkadot/util-crypto';
import { randomBytes } from 'node:crypto';
import {
  startStation, newKey, makeEvent, order, paymentRequest, authorisation, profile, waitReceipt, receiptsAfter,
  receiptsFor, receiptValid, tag, tagsOf, status, connect, sleep, now,
} from './lib/settlement.mjs';

const customer = newKey(), merchant = newKey(), other = newKey(), poor = newKey();
let st, c, c2;

before(async () => {
  await cryptoWaitReady();
  st = await startStation({ payers: [customer, merchant, other] }); // poor has no wallet
  c = st.client;
  c2 = await connect(st.relay.url); // a second connection (the merchant's)
});

const pub = async (client, ev) => assert.equal((await client.publish(ev)).ok, true, JSON.stringify(ev.tags));
const eIds = (rc) => tagsOf(rc, 'e').map((t) => t[1]);

test('order with max >= amount + request naming it: settles (pending), receipt as §C', async () => {
  const o = order(customer, merchant, { max: 500, listing: `30402:${merchant.pk}:honey` });
  const r = paymentRequest(merchant, o, { amount: 450, ref: 'INV-100' });
  await pub(c, o);
  await pub(c2, r);
  const rc = await waitReceipt(c, r.id, 'pending');
  assert.ok(receiptValid(rc, st.station));
  assert.equal(tag(rc, 'd'), r.id);
  assert.deepEqual(eIds(rc), [o.id, r.id]);
  assert.deepEqual(tagsOf(rc, 'p').map((t) => [t[1], t[3]]), [[customer.pk, 'payer'], [merchant.pk, 'payee']]);
  assert.equal(tag(rc, 'amount'), '450');
  assert.equal(tag(rc, 'from'), st.address.get(customer.pk));
  assert.equal(tag(rc, 'to'), st.address.get(merchant.pk));
  // REQ by #e of any piece finds the current receipt
  assert.equal((await c.query({ kinds: [39743], '#e': [o.id] })).length, 1);
});

test('no max: waits for a 9742 authorisation; then settles with three e tags', async () => {
  const o = order(customer, merchant);
  const r = paymentRequest(merchant, o, { amount: 300 });
  await pub(c, o);
  await pub(c2, r);
  assert.deepEqual(await receiptsAfter(c, r.id, 700), [], 'no receipt before authorisation');
  const a = authorisation(customer, r, st.station);
  await pub(c, a);
  const rc = await waitReceipt(c, r.id, 'pending');
  assert.deepEqual(eIds(rc), [o.id, r.id, a.id]);
  assert.equal(tag(rc, 'amount'), '300');
});

test('max below the amount: needs the authorisation too', async () => {
  const o = order(customer, merchant, { max: 100 });
  const r = paymentRequest(merchant, o, { amount: 101 });
  await pub(c, o);
  await pub(c2, r);
  assert.deepEqual(await receiptsAfter(c, r.id, 600), []);
  await pub(c, authorisation(customer, r, st.station));
  await waitReceipt(c, r.id, 'pending');
});

test('any arrival order, any connection: auth, request, order', async () => {
  const o = order(customer, merchant);
  const r = paymentRequest(merchant, o, { amount: 77 });
  const a = authorisation(customer, r, st.station);
  await pub(c, a);
  await pub(c2, r);
  assert.deepEqual(await receiptsAfter(c, r.id, 500), []);
  const c3 = await connect(st.relay.url);
  await pub(c3, o);
  const rc = await waitReceipt(c, r.id, 'pending');
  assert.deepEqual(eIds(rc), [o.id, r.id, a.id]);
  // request before order (order has max)
  const o2 = order(customer, merchant, { max: 1000 });
  const r2 = paymentRequest(merchant, o2, { amount: 1000 });
  await pub(c2, r2);
  await pub(c, o2);
  await waitReceipt(c, r2.id, 'pending');
});

test('one settlement per payment request id, whatever is replayed', async () => {
  const o = order(customer, merchant, { max: 900 });
  const r = paymentRequest(merchant, o, { amount: 200 });
  await pub(c, o);
  await pub(c2, r);
  await waitReceipt(c, r.id, 'pending');
  // replays: same events again on other connections, an authorisation afterwards
  const c3 = await connect(st.relay.url);
  await pub(c3, r);
  await pub(c3, o);
  await pub(c3, authorisation(customer, r, st.station));
  await sleep(600);
  const all = await receiptsFor(c, r.id);
  assert.equal(all.length, 1);
  assert.deepEqual(eIds(all[0]), [o.id, r.id], 'the settlement did not change');
  // a second request for the same order is its own settlement
  const r2 = paymentRequest(merchant, o, { amount: 150, ref: 'INV-2' });
  await pub(c2, r2);
  await waitReceipt(c, r2.id, 'pending');
});

test('refused: request signed by someone other than the order p (wrong-merchant)', async () => {
  const o = order(customer, merchant, { max: 500 });
  const r = paymentRequest(other, o, { amount: 100 });
  await pub(c, o);
  await pub(c2, r);
  const rc = await waitReceipt(c, r.id, 'refused');
  assert.equal(tag(rc, 'reason'), 'wrong-merchant');
  assert.equal(tag(rc, 'tx'), undefined);
});

test('refused: customer of the request is not the author of the order (wrong-customer)', async () => {
  const o = order(customer, merchant, { max: 500 });
  const r = paymentRequest(merchant, o, { amount: 100, customer: other.pk });
  await pub(c, o);
  await pub(c2, r);
  assert.equal(tag(await waitReceipt(c, r.id, 'refused'), 'reason'), 'wrong-customer');
});

test('refused: expired order or request (expired)', async () => {
  const o = order(customer, merchant, { max: 500, expiration: now() + 2 });
  await pub(c, o);
  await sleep(3100);
  const r = paymentRequest(merchant, o, { amount: 100 });
  await pub(c2, r);
  assert.equal(tag(await waitReceipt(c, r.id, 'refused'), 'reason'), 'expired');
  // a request that had expired when the authorisation completing it was made
  const o2 = order(customer, merchant);
  const r2 = paymentRequest(merchant, o2, { amount: 100, expiration: now() + 2 });
  await pub(c, o2);
  await pub(c2, r2);
  await sleep(3100);
  await pub(c, authorisation(customer, r2, st.station));
  assert.equal(tag(await waitReceipt(c, r2.id, 'refused'), 'reason'), 'expired');
});

test('refused: 9742 amount differs from the request (amount-mismatch)', async () => {
  const o = order(customer, merchant);
  const r = paymentRequest(merchant, o, { amount: 250 });
  await pub(c, o);
  await pub(c2, r);
  const a = authorisation(customer, r, st.station, { amount: 25 });
  await pub(c, a);
  const rc = await waitReceipt(c, r.id, 'refused');
  assert.equal(tag(rc, 'reason'), 'amount-mismatch');
  assert.deepEqual(eIds(rc), [o.id, r.id, a.id]);
});

test('authorisations that do not count: signed by another key, or for another station', async () => {
  const o = order(customer, merchant);
  const r = paymentRequest(merchant, o, { amount: 60 });
  await pub(c, o);
  await pub(c2, r);
  await pub(c, authorisation(other, r, st.station));          // not the customer
  await pub(c, authorisation(customer, r, newKey().pk));       // another station
  assert.deepEqual(await receiptsAfter(c, r.id, 700), []);
  await pub(c, authorisation(customer, r, st.station));
  await waitReceipt(c, r.id, 'pending');
});

test('refused: payer without a station wallet (no-wallet)', async () => {
  const o = order(poor, merchant, { max: 500 });
  const r = paymentRequest(merchant, o, { amount: 100 });
  await pub(c, o);
  await pub(c2, r);
  assert.equal(tag(await waitReceipt(c, r.id, 'refused'), 'reason'), 'no-wallet');
});

test('payto overrides the merchant address; a merchant without address fails (no-address)', async () => {
  const addr = encodeAddress(ed25519PairFromSeed(randomBytes(32)).publicKey, 4450);
  const o = order(customer, merchant, { max: 500 });
  const r = paymentRequest(merchant, o, { amount: 120, payto: addr });
  await pub(c, o);
  await pub(c2, r);
  assert.equal(tag(await waitReceipt(c, r.id, 'pending'), 'to'), addr);
  const shop = newKey(); // no wallet, no profile
  const o2 = order(customer, shop, { max: 500 });
  const r2 = paymentRequest(shop, o2, { amount: 120 });
  await pub(c, o2);
  await pub(c2, r2);
  assert.equal(tag(await waitReceipt(c, r2.id, 'failed'), 'reason'), 'no-address');
  // with a kind 0 g1v2 the merchant can be paid
  const shop2 = newKey();
  const addr2 = encodeAddress(ed25519PairFromSeed(randomBytes(32)).publicKey, 4450);
  await pub(c2, profile(shop2, { g1v2: addr2 }));
  const o3 = order(customer, shop2, { max: 500 });
  const r3 = paymentRequest(shop2, o3, { amount: 120 });
  await pub(c, o3);
  await pub(c2, r3);
  assert.equal(tag(await waitReceipt(c, r3.id, 'pending'), 'to'), addr2);
  // a payto that is not an address is refused
  const o4 = order(customer, merchant, { max: 500 });
  const r4 = paymentRequest(merchant, o4, { amount: 120, payto: 'g1nope' });
  await pub(c, o4);
  await pub(c2, r4);
  assert.equal(tag(await waitReceipt(c, r4.id, 'refused'), 'reason'), 'bad-payto');
});

test('malformed requests are refused (invalid-request); the events are stored anyway', async () => {
  const o = order(customer, merchant, { max: 500 });
  await pub(c, o);
  const bad = [
    makeEvent(merchant, { kind: 9741, tags: [['e', o.id], ['p', customer.pk], ['amount', '0'], ['ref', 'x']] }),
    makeEvent(merchant, { kind: 9741, tags: [['e', o.id], ['p', customer.pk], ['amount', '1.5'], ['ref', 'x']] }),
    makeEvent(merchant, { kind: 9741, tags: [['e', o.id], ['p', customer.pk], ['amount', '10']] }),
    makeEvent(merchant, { kind: 9741, tags: [['e', o.id], ['p', customer.pk], ['amount', '10'], ['ref', 'r'.repeat(65)]] }),
  ];
  for (const r of bad) {
    await pub(c2, r);
    assert.equal(tag(await waitReceipt(c, r.id, 'refused'), 'reason'), 'invalid-request');
    assert.equal((await c.query({ ids: [r.id] })).length, 1);
  }
});

test('live subscribers receive receipts as they are published', async () => {
  const o = order(customer, merchant, { max: 50 });
  const r = paymentRequest(merchant, o, { amount: 50 });
  const from = c2.mark();
  c2.send(['REQ', 'live-r', { kinds: [39743], '#e': [o.id] }]);
  await pub(c, o);
  await pub(c2, r);
  const ev = await c2.waitEvent('live-r', (e) => status(e) === 'pending', { from });
  assert.ok(receiptValid(ev, st.station));
  c2.close('live-r');
});
