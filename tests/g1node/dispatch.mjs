// Dispatch of the calls the test node supports, with the semantics of the real pallets:
// Balances.transfer_keep_alive / transfer_allow_death (fungible::Mutate::transfer: TokenError
// FundsUnavailable / NotExpendable / BelowMinimum, existential deposit, dust), System.remark and
// remark_with_event, Utility.batch_all (atomic) and Utility.batch (stops at the first failure).
// State changes go to an overlay that the caller commits only when the extrinsic succeeds.
import { blake2AsU8a } from '@polkadot/util-crypto';
import { u8aToHex, hexToU8a } from '@polkadot/util';
import { MAX_U64 } from './runtime.mjs';

export const SUPPORTED_CALLS = new Set([
  'Balances/transfer_keep_alive', 'Balances/transfer_allow_death',
  'System/remark', 'System/remark_with_event', 'Utility/batch_all', 'Utility/batch',
]);

export class DispatchError extends Error {
  constructor(value, name) { super(name); this.value = value; this.errorName = name; }
}
const token = (name) => new DispatchError({ Token: name }, `Token.${name}`);

// Copy-on-write view over the account map; nested overlays give transactional batches.
export class Overlay {
  constructor(parent) { this.parent = parent; this.changes = new Map(); }
  get(id) {
    if (this.changes.has(id)) return this.changes.get(id);
    const base = this.parent.get(id);
    return base ? { ...base } : { nonce: 0, free: 0n };
  }
  set(id, acct) { this.changes.set(id, { ...acct }); }
  commit() { for (const [id, a] of this.changes) this.parent.set(id, a); this.changes.clear(); }
}

// Names a decoded call in metadata spelling; recurses into batches. null when unsupported.
export function unsupportedCall(rt, call) {
  const n = rt.callName(call);
  if (!n || !SUPPORTED_CALLS.has(`${n.pallet}/${n.call}`)) return n ? `${n.pallet}.${n.call}` : 'unknown call';
  if (n.pallet === 'Utility') {
    for (const inner of call.args[0]) { const bad = unsupportedCall(rt, inner); if (bad) return bad; }
  }
  return null;
}

function destId(arg) {
  if (arg.type !== 'Id') throw new DispatchError('CannotLookup', 'CannotLookup');
  return arg.value.toHex();
}

function transfer(rt, ctx, state, from, to, value, keepAlive) {
  const ed = rt.existentialDeposit;
  const src = state.get(from);
  if (src.free < value) throw token('FundsUnavailable');
  const rest = src.free - value;
  if (value > 0n && rest < ed && keepAlive) throw token('NotExpendable');
  if (from === to) return;
  const dst = state.get(to);
  if (dst.free + value > MAX_U64) throw new DispatchError({ Arithmetic: 'Overflow' }, 'Arithmetic.Overflow');
  if (value > 0n && dst.free + value < ed) throw token('BelowMinimum');
  if (value === 0n) { ctx.events.push(rt.encodeEvent('Balances', 'Transfer', { from, to, amount: 0 })); return; }

  if (rest < ed) { // allow_death: the sender is reaped, the dust burnt
    state.set(from, { nonce: 0, free: 0n });
    if (rest > 0n) ctx.events.push(rt.encodeEvent('Balances', 'DustLost', { account: from, amount: rest }));
    ctx.events.push(rt.encodeEvent('System', 'KilledAccount', { account: from }));
  } else {
    state.set(from, { ...src, free: rest });
  }
  const wasNew = dst.free === 0n;
  state.set(to, { ...dst, free: dst.free + value });
  if (wasNew) {
    ctx.events.push(rt.encodeEvent('System', 'NewAccount', { account: to }));
    ctx.events.push(rt.encodeEvent('Balances', 'Endowed', { account: to, free_balance: value }));
  }
  ctx.events.push(rt.encodeEvent('Balances', 'Transfer', { from, to, amount: value }));
  ctx.transfers.push({ from, to, amount: value });
}

// Apply one call for `origin` (account id hex). Throws DispatchError; effects land in `state`,
// events in ctx.events, transfers in ctx.transfers (the caller discards them on failure).
export function applyCall(rt, ctx, state, origin, call) {
  const n = rt.callName(call);
  const name = n ? `${n.pallet}/${n.call}` : '?';
  switch (name) {
    case 'Balances/transfer_keep_alive':
    case 'Balances/transfer_allow_death':
      transfer(rt, ctx, state, origin, destId(call.args[0]), BigInt(call.args[1].toString()), n.call === 'transfer_keep_alive');
      return;
    case 'System/remark':
      return;
    case 'System/remark_with_event': {
      const remark = hexToU8a(call.args[0].toHex());
      ctx.events.push(rt.encodeEvent('System', 'Remarked', { sender: origin, hash: u8aToHex(blake2AsU8a(remark, 256)) }));
      return;
    }
    case 'Utility/batch_all': {
      const inner = new Overlay(state);
      const sub = { events: [], transfers: [] };
      for (const c of call.args[0]) {
        applyCall(rt, sub, inner, origin, c); // any failure propagates: nothing of the batch stays
        sub.events.push(rt.encodeEvent('Utility', 'ItemCompleted'));
      }
      inner.commit();
      ctx.events.push(...sub.events, rt.encodeEvent('Utility', 'BatchCompleted'));
      ctx.transfers.push(...sub.transfers);
      return;
    }
    case 'Utility/batch': {
      let index = 0;
      for (const c of call.args[0]) {
        const inner = new Overlay(state);
        const sub = { events: [], transfers: [] };
        try {
          applyCall(rt, sub, inner, origin, c);
        } catch (e) {
          if (!(e instanceof DispatchError)) throw e;
          ctx.events.push(rt.encodeEvent('Utility', 'BatchInterrupted', { index, error: e.value }));
          return;
        }
        inner.commit();
        ctx.events.push(...sub.events, rt.encodeEvent('Utility', 'ItemCompleted'));
        ctx.transfers.push(...sub.transfers);
        index++;
      }
      ctx.events.push(rt.encodeEvent('Utility', 'BatchCompleted'));
      return;
    }
    default:
      throw new DispatchError('CannotLookup', `unsupported call ${name}`);
  }
}
