// NIP-11 relay information document against the real binary: served on GET with
// Accept: application/nostr+json, supported_nips, a limitation object reflecting
// configuration overrides (given both by --set and by a config file), CORS headers and
// the OPTIONS preflight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, fetchInfo } from './lib/relay.mjs';

const overrides = {
  max_message_length: 54321,
  max_subscriptions: 7,
  max_filters: 9,
  max_limit: 321,
  max_subid_length: 33,
  max_event_tags: 111,
  max_content_length: 22222,
  min_pow_difficulty: 3,
  auth_required: true,
  created_at_lower_limit: 86400,
  created_at_upper_limit: 600,
  default_limit: 77,
  relay_name: 'e2e test relay',
  relay_description: 'checks NIP-11',
};
const relay = await startRelay({ config: overrides });

const expectedLimitation = {
  max_message_length: 54321,
  max_subscriptions: 7,
  max_limit: 321,
  max_subid_length: 33,
  max_event_tags: 111,
  max_content_length: 22222,
  min_pow_difficulty: 3,
  auth_required: true,
  created_at_lower_limit: 86400,
  created_at_upper_limit: 600,
  default_limit: 77,
};

test('NIP-11 document on GET with Accept: application/nostr+json', async () => {
  const r = await fetchInfo(relay);
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers.get('content-type') ?? '', /^application\/nostr\+json/, 'content type');
  assert.ok(r.json && typeof r.json === 'object' && !Array.isArray(r.json), `JSON object expected, got ${r.body.slice(0, 200)}`);
  const info = r.json;
  assert.equal(info.name, 'e2e test relay');
  assert.equal(info.description, 'checks NIP-11');
  assert.ok(Array.isArray(info.supported_nips), 'supported_nips is an array');
  assert.ok(info.supported_nips.every((n) => Number.isInteger(n)), 'supported_nips are integers');
  for (const nip of [1, 9, 11, 40, 42, 45, 70]) assert.ok(info.supported_nips.includes(nip), `supported_nips includes ${nip}: ${JSON.stringify(info.supported_nips)}`);
  assert.ok(info.supported_nips.includes(13), 'NIP-13 advertised when min_pow_difficulty is set');
});

test('NIP-11 limitation reflects every configuration override', async () => {
  const { json } = await fetchInfo(relay);
  const lim = json.limitation;
  assert.ok(lim && typeof lim === 'object', 'limitation object');
  for (const [k, v] of Object.entries(expectedLimitation)) {
    assert.ok(k in lim, `limitation.${k} present`);
    assert.strictEqual(lim[k], v, `limitation.${k}`);
  }
  assert.equal(typeof lim.restricted_writes, 'boolean', 'limitation.restricted_writes is a boolean');
  if ('max_filters' in lim) assert.equal(lim.max_filters, 9);
});

test('NIP-11 defaults and config-file settings on another relay', async () => {
  const other = await startRelay({ configText: 'max_subscriptions = 12\nmax_limit = 99\nauth_required = false\n' });
  const { json, status } = await fetchInfo(other);
  assert.equal(status, 200);
  assert.equal(json.limitation.max_subscriptions, 12, 'from the config file');
  assert.equal(json.limitation.max_limit, 99, 'from the config file');
  assert.equal(json.limitation.auth_required, false);
  assert.equal(json.limitation.min_pow_difficulty, 0, 'default');
  assert.equal(json.limitation.max_message_length, 131072, 'default');
  assert.equal(json.limitation.default_limit, 500, 'default');
  assert.equal(json.limitation.restricted_writes, false, 'no write restriction by default');
  await other.stop();
});

test('NIP-11 CORS headers on GET', async () => {
  const r = await fetchInfo(relay, { headers: { Origin: 'https://client.example' } });
  const allowOrigin = r.headers.get('access-control-allow-origin');
  assert.ok(allowOrigin === '*' || allowOrigin === 'https://client.example', `Access-Control-Allow-Origin: ${allowOrigin}`);
  assert.ok(r.headers.get('access-control-allow-headers'), 'Access-Control-Allow-Headers present');
  assert.match(r.headers.get('access-control-allow-methods') ?? '', /GET/i, 'Access-Control-Allow-Methods includes GET');
});

test('NIP-11 OPTIONS preflight is answered with CORS headers', async () => {
  const res = await fetch(relay.httpUrl + '/', {
    method: 'OPTIONS',
    headers: { Origin: 'https://client.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
  });
  await res.arrayBuffer();
  assert.ok(res.status === 200 || res.status === 204, `status ${res.status}`);
  const allowOrigin = res.headers.get('access-control-allow-origin');
  assert.ok(allowOrigin === '*' || allowOrigin === 'https://client.example', `Access-Control-Allow-Origin: ${allowOrigin}`);
  assert.match(res.headers.get('access-control-allow-methods') ?? '', /GET/i);
  assert.match(res.headers.get('access-control-allow-headers') ?? '', /accept|\*/i);
});
