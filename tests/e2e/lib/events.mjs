// Event makers for the end-to-end tests: keys, signed events (nostr-tools, i.e. the
// JSON.stringify serialisation), events signed over the strict NIP-01 serialisation
// (built by hand here with @noble/hashes + @noble/curves), NIP-13 mining, NIP-42 auth
// events, and a lenient JSON reader for frames that carry raw control characters.
// See lib/relay.mjs for the overview of the helper library.
import { generateSecretKey, getPublicKey, finalizeEvent, verifyEvent, getEventHash } from 'nostr-tools/pure';
import { schnorr } from '@noble/curves/secp256k1';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { randomBytes } from 'node:crypto';

// Signing: nostr-tools over nostr-wasm (libsecp256k1 in WebAssembly, ~6x faster than the
// pure-JS signer) when available, else nostr-tools' pure signer. Verification of what the
// relay serves always uses the pure-JS verifyEvent.
let finalizeFast = finalizeEvent;
try {
  const { initNostrWasm } = await import('nostr-wasm');
  const wasm = await import('nostr-tools/wasm');
  wasm.setNostrWasm(await initNostrWasm());
  finalizeFast = wasm.finalizeEvent;
} catch { /* pure-JS signer */ }

export { verifyEvent, getEventHash, getPublicKey, bytesToHex, hexToBytes };

/** Current unix time in seconds. */
export const now = () => Math.floor(Date.now() / 1000);

/** Random lower-case hex string of `bytes` bytes (default 32: an id-shaped value). */
export const randomHex = (bytes = 32) => randomBytes(bytes).toString('hex');

/** A fresh key pair: { sk: Uint8Array(32), pk: hex }. */
export function newKey() {
  const sk = generateSecretKey();
  return { sk, pk: getPublicKey(sk) };
}

/** A plain copy of an event (drops nostr-tools' cached "verified" symbol). */
export const plain = (ev) => JSON.parse(JSON.stringify(ev));

/**
 * Signed event from a template, with nostr-tools (id over the JSON.stringify form).
 * `key` is a { sk } object from newKey() or a raw secret key.
 * Defaults: kind 1, empty tags, empty content, created_at now.
 */
export function makeEvent(key, { kind = 1, content = '', tags = [], created_at = now() } = {}) {
  const sk = key instanceof Uint8Array ? key : key.sk;
  return plain(finalizeFast({ kind, content, tags, created_at }, sk));
}

/** Copy of an event with some fields replaced, NOT re-signed (for bad id / bad sig tests). */
export const tamper = (ev, changes) => ({ ...plain(ev), ...changes });

// Strict NIP-01 string escaping: only \n \" \\ \r \t \b \f, everything else raw.
function strictString(s) {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '\n': out += '\\n'; break;
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\b': out += '\\b'; break;
      case '\f': out += '\\f'; break;
      default: out += ch;
    }
  }
  return out + '"';
}

/** The strict NIP-01 serialisation [0,pubkey,created_at,kind,tags,content] (a JS string). */
export function strictSerialize(ev) {
  const tags = '[' + ev.tags.map((t) => '[' + t.map(strictString).join(',') + ']').join(',') + ']';
  return `[0,${strictString(ev.pubkey)},${ev.created_at},${ev.kind},${tags},${strictString(ev.content)}]`;
}

/** Event id over the strict NIP-01 serialisation. */
export const strictId = (ev) => bytesToHex(sha256(new TextEncoder().encode(strictSerialize(ev))));

/** True if the event's id is the strict-form id and its BIP-340 signature verifies. */
export function verifyStrict(ev) {
  if (strictId(ev) !== ev.id) return false;
  try {
    return schnorr.verify(hexToBytes(ev.sig), hexToBytes(ev.id), hexToBytes(ev.pubkey));
  } catch {
    return false;
  }
}

/** Event signed over the strict NIP-01 serialisation (differs from nostr-tools' id when
 * tags/content hold control characters other than \n \r \t \b \f). */
export function signStrict(key, { kind = 1, content = '', tags = [], created_at = now() } = {}) {
  const sk = key instanceof Uint8Array ? key : key.sk;
  const ev = { pubkey: getPublicKey(sk), created_at, kind, tags, content };
  ev.id = strictId(ev);
  ev.sig = bytesToHex(schnorr.sign(hexToBytes(ev.id), sk));
  return ev;
}

/** NIP-13: number of leading zero bits of a hex id. */
export function powBits(idHex) {
  let bits = 0;
  for (const c of idHex) {
    const v = parseInt(c, 16);
    if (v === 0) { bits += 4; continue; }
    bits += Math.clz32(v) - 28;
    break;
  }
  return bits;
}

/** NIP-13: mines an event with at least `bits` leading zero bits (nonce tag commits to
 * `bits`). Bounded: throws after maxTries. Keep bits small (<= 12) in tests. */
export function mineEvent(key, { kind = 1, content = '', tags = [], created_at = now() } = {}, bits = 8, maxTries = 1 << 20) {
  const sk = key instanceof Uint8Array ? key : key.sk;
  const pubkey = getPublicKey(sk);
  for (let n = 0; n < maxTries; n++) {
    const t = { pubkey, kind, content, created_at, tags: [...tags, ['nonce', String(n), String(bits)]] };
    const id = getEventHash(t);
    if (powBits(id) >= bits) return makeEvent(sk, t);
  }
  throw new Error(`mineEvent: no ${bits}-bit id in ${maxTries} tries`);
}

/** Same template mined until it has FEWER than `bits` leading zero bits (a sure low-PoW
 * event even if the nonce tag claims `bits`). */
export function lowPowEvent(key, tmpl = {}, bits = 8) {
  for (let i = 0; i < 1000; i++) {
    const ev = makeEvent(key, { ...tmpl, content: `${tmpl.content ?? ''}${i ? ' ' + i : ''}` });
    if (powBits(ev.id) < bits) return ev;
  }
  throw new Error('lowPowEvent: unreachable');
}

/** NIP-42 authentication event (kind 22242) for a challenge and relay URL. */
export function authEvent(key, challenge, relayUrl, created_at = now()) {
  return makeEvent(key, { kind: 22242, created_at, tags: [['relay', relayUrl], ['challenge', challenge]] });
}

/** JSON.parse that also accepts raw control characters inside strings (as a relay may
 * send events signed over the strict form byte for byte). */
export function lenientParse(text) {
  return JSON.parse(text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));
}

/** The NIP-01 machine-readable prefixes of OK/CLOSED messages. */
export const STANDARD_PREFIXES = ['duplicate:', 'pow:', 'blocked:', 'rate-limited:', 'invalid:',
  'restricted:', 'auth-required:', 'error:', 'mute:', 'unsupported:'];

/** True if the message starts with one of the standard prefixes (or the given ones). */
export const hasPrefix = (msg, prefixes = STANDARD_PREFIXES) =>
  typeof msg === 'string' && prefixes.some((p) => msg.startsWith(p));
