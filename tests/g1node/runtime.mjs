// Runtime description of the test node: loads the real g1/gdev metadata with @polkadot/types and
// exposes what the other parts need (pallet/call/event/error indices, constants, storage keys,
// SCALE encoders for AccountInfo, events and headers). Nothing here is hard-coded per runtime.
import fs from 'node:fs';
import path from 'node:path';
import { TypeRegistry, Metadata } from '@polkadot/types';
import { xxhashAsU8a, blake2AsU8a } from '@polkadot/util-crypto';
import { u8aConcat, u8aToHex, hexToU8a, compactToU8a, bnToU8a } from '@polkadot/util';

export const MAX_U64 = (1n << 64n) - 1n;

function twox128(text) { return xxhashAsU8a(text, 128); }

export function blake2_128concat(bytes) { return u8aConcat(blake2AsU8a(bytes, 128), bytes); }

export function u32le(n) { return bnToU8a(n, { bitLength: 32, isLe: true }); }

export class Runtime {
  constructor({ runtime = 'g1', sharedDir = process.env.G1_SHARED || '/work/shared' } = {}) {
    if (runtime !== 'g1' && runtime !== 'gdev') throw new Error(`unknown runtime ${runtime}`);
    const file = path.join(sharedDir, 'g1', `${runtime}_metadata.scale`);
    const raw = fs.readFileSync(file);
    this.name = runtime;
    this.metadataBytes = new Uint8Array(raw);
    this.metadataHex = u8aToHex(this.metadataBytes);
    this.registry = new TypeRegistry();
    this.metadata = new Metadata(this.registry, this.metadataBytes);
    this.registry.setMetadata(this.metadata);
    this.latest = this.metadata.asLatest;
    this.pallets = new Map(this.latest.pallets.map((p) => [p.name.toString(), p]));

    const version = this.constant('System', 'Version').toJSON();
    this.version = version; // specName, implName, specVersion, apis, transactionVersion, ...
    this.ss58Format = Number(this.constant('System', 'SS58Prefix').toString());
    this.existentialDeposit = BigInt(this.constant('Balances', 'ExistentialDeposit').toString());
    this.blockHashCount = Number(this.constant('System', 'BlockHashCount').toString());
    this.extensions = this.latest.extrinsic.transactionExtensions.map((e) => ({
      identifier: e.identifier.toString(),
      extraType: this.lookupName(e.type.toNumber()),
      implicitType: this.lookupName(e.implicit.toNumber()),
    }));
    const sysStorage = this.pallets.get('System').storage.unwrap().items;
    const accountEntry = sysStorage.find((e) => e.name.toString() === 'Account');
    const eventsEntry = sysStorage.find((e) => e.name.toString() === 'Events');
    this.accountInfoType = this.lookupName(accountEntry.type.asMap.value.toNumber());
    this.eventsType = this.lookupName(eventsEntry.type.asPlain.toNumber());
    this.accountPrefix = u8aConcat(twox128('System'), twox128('Account'));
    this.eventsKey = u8aToHex(u8aConcat(twox128('System'), twox128('Events')));
    this.numberKey = u8aToHex(u8aConcat(twox128('System'), twox128('Number')));
  }

  lookupName(id) { return this.registry.createLookupType(id); }

  pallet(name) {
    const p = this.pallets.get(name);
    if (!p) throw new Error(`pallet ${name} not in metadata`);
    return p;
  }

  constant(palletName, constName) {
    const c = this.pallet(palletName).constants.find((x) => x.name.toString() === constName);
    if (!c) throw new Error(`constant ${palletName}.${constName} not in metadata`);
    return this.registry.createType(this.lookupName(c.type.toNumber()), c.value);
  }

  variants(palletName, kind) {
    const p = this.pallet(palletName);
    if (p[kind].isNone) throw new Error(`${palletName} has no ${kind}`);
    return this.registry.lookup.getSiType(p[kind].unwrap().type.toNumber()).def.asVariant.variants;
  }

  variant(palletName, kind, variantName) {
    const v = this.variants(palletName, kind).find((x) => x.name.toString() === variantName);
    if (!v) throw new Error(`${palletName}.${variantName} (${kind}) not in metadata`);
    return v;
  }

  palletIndex(name) { return this.pallet(name).index.toNumber(); }

  callIndex(palletName, callName) {
    return [this.palletIndex(palletName), this.variant(palletName, 'calls', callName).index.toNumber()];
  }

  // Names of the call of a decoded GenericCall, in metadata spelling (e.g. Balances/transfer_keep_alive).
  callName(call) {
    const [p, c] = call.callIndex;
    const pallet = this.latest.pallets.find((x) => x.index.toNumber() === p);
    if (!pallet || pallet.calls.isNone) return null;
    const v = this.variants(pallet.name.toString(), 'calls').find((x) => x.index.toNumber() === c);
    return v ? { pallet: pallet.name.toString(), call: v.name.toString() } : null;
  }

  // SCALE bytes of one runtime event: pallet index, variant index, fields encoded with their types.
  encodeEvent(palletName, eventName, fields = {}) {
    const v = this.variant(palletName, 'events', eventName);
    const parts = [new Uint8Array([this.palletIndex(palletName), v.index.toNumber()])];
    for (const f of v.fields) {
      const key = f.name.isSome ? f.name.unwrap().toString() : null;
      const value = key === null ? undefined : fields[key];
      parts.push(this.registry.createType(this.lookupName(f.type.toNumber()), value).toU8a());
    }
    return u8aConcat(...parts);
  }

  // Module error as DispatchError::Module {index, error[4]}.
  moduleError(palletName, errorName) {
    const v = this.variant(palletName, 'errors', errorName);
    const error = new Uint8Array(4);
    error[0] = v.index.toNumber();
    return { Module: { index: this.palletIndex(palletName), error: u8aToHex(error) } };
  }

  // EventRecord: phase ‖ event ‖ topics (none).
  eventRecord(phase, eventBytes) {
    let phaseBytes;
    if (phase.applyExtrinsic !== undefined) phaseBytes = u8aConcat([0], u32le(phase.applyExtrinsic));
    else if (phase.finalization) phaseBytes = new Uint8Array([1]);
    else phaseBytes = new Uint8Array([2]);
    return u8aConcat(phaseBytes, eventBytes, compactToU8a(0));
  }

  encodeEventRecords(records) { return u8aConcat(compactToU8a(records.length), ...records); }

  decodeEvents(hex) { return this.registry.createType(this.eventsType, hexToU8a(hex)); }

  accountKey(accountId) { return u8aToHex(u8aConcat(this.accountPrefix, blake2_128concat(accountId))); }

  encodeAccountInfo(acct) {
    return this.registry.createType(this.accountInfoType, {
      nonce: acct.nonce,
      consumers: 0,
      providers: acct.free > 0n ? 1 : 0,
      sufficients: 0,
      data: { free: acct.free, reserved: 0, feeFrozen: 0, linkedIdty: null },
    }).toHex();
  }

  decodeExtrinsic(bytes) { return this.registry.createType('Extrinsic', bytes); }

  createHeader(fields) { return this.registry.createType('Header', fields); }
}
