// Extrinsic validation of the test node, as the Substrate transaction pool and runtime do it:
// decode with @polkadot/types, rebuild the signing payload (call ‖ extra ‖ additional) from the
// metadata's extension list and the node's genesis/spec/tx version/birth block, verify the
// signature independently with @polkadot/util-crypto, then the nonce rules.
// Errors carry the JSON-RPC code/message/data a Substrate node answers.
import { blake2AsU8a, ed25519Verify, sr25519Verify } from '@polkadot/util-crypto';
import { u8aConcat, u8aToHex, hexToU8a, compactFromU8a, isHex } from '@polkadot/util';
import { u32le } from './runtime.mjs';

export const MAX_EXTRINSIC_BYTES = 5 * 1024 * 1024; // g1 BlockLength normal class is 3.75 MiB

const INVALID = (data) => ({ code: 1010, message: 'Invalid Transaction', data });
export const ERR = {
  badProof: INVALID('Transaction has a bad signature'),
  stale: INVALID('Transaction is outdated'),
  future: INVALID('Transaction will be valid in the future'),
  ancientBirthBlock: INVALID('Transaction has an ancient birth block'),
  payment: INVALID('Inability to pay some fees (e.g. account balance too low)'),
  badSigner: INVALID('Invalid signing address'),
  call: INVALID('Transaction call is not expected'),
  exhaustsResources: INVALID('Transaction would exhaust the block limits'),
  cannotLookup: { code: 1011, message: 'Unknown Transaction Validity', data: 'Could not lookup information required to validate the transaction' },
  noUnsignedValidator: { code: 1011, message: 'Unknown Transaction Validity', data: 'Could not find an unsigned validator for the unsigned transaction' },
  banned: { code: 1012, message: 'Transaction is temporarily banned' },
  alreadyImported: (hash) => ({ code: 1013, message: 'Transaction Already Imported', data: hash }),
  tooLowPriority: (oldP, newP) => ({ code: 1014, message: `Priority is too low: (${oldP} vs ${newP})`, data: 'The transaction has too low priority to replace another transaction already in the pool.' }),
  badFormat: (why) => ({ code: 1001, message: `Extrinsic has invalid format: ${why}` }),
};

// Mortal era: period and phase. Birth/death relative to the block being built, as sp_runtime::Era.
export function eraBirth(era, current) {
  if (!era) return 0;
  const { period, phase } = era;
  return Math.floor((Math.max(current, phase) - phase) / period) * period + phase;
}
export function eraDeath(era, current) { return era ? eraBirth(era, current) + era.period : Infinity; }

// Split the raw signed extrinsic to get the exact `extra` bytes the signer committed to.
function splitSigned(bytes, callLength) {
  const [lenBytes, len] = compactFromU8a(bytes);
  const body = bytes.subarray(lenBytes);
  if (len.toNumber() !== body.length) throw new Error('length prefix does not match the body');
  let at = 1; // version byte
  const addressKind = body[at++];
  if (addressKind !== 0) throw new Error(`unsupported address kind ${addressKind}`);
  const signer = body.subarray(at, at + 32); at += 32;
  const sigKind = body[at++];
  const sigLen = sigKind === 2 ? 65 : 64;
  if (sigKind > 2) throw new Error(`unknown signature kind ${sigKind}`);
  const signature = body.subarray(at, at + sigLen); at += sigLen;
  const extra = body.subarray(at, body.length - callLength);
  if (extra.length < 0 || at > body.length - callLength) throw new Error('truncated extrinsic');
  return { signer, sigKind, signature, extra };
}

// Additional (implicit) data of each extension, in metadata order.
function additionalSigned(rt, chain, tx) {
  const parts = [];
  for (const ext of rt.extensions) {
    switch (ext.identifier) {
      case 'CheckSpecVersion': parts.push(u32le(chain.specVersion)); break;
      case 'CheckTxVersion': parts.push(u32le(chain.txVersion)); break;
      case 'CheckGenesis': parts.push(hexToU8a(chain.genesisHash)); break;
      case 'CheckMortality': {
        if (!tx.era) { parts.push(hexToU8a(chain.genesisHash)); break; }
        const current = chain.bestNumber + 1;
        const birth = eraBirth(tx.era, current);
        // System.BlockHash keeps block 0 and the last BlockHashCount blocks.
        const kept = birth <= chain.bestNumber && (birth === 0 || current - birth <= rt.blockHashCount);
        const hash = kept ? chain.blockHashAt(birth) : null;
        if (!hash) return { error: ERR.ancientBirthBlock };
        tx.birth = birth;
        parts.push(hexToU8a(hash));
        break;
      }
      case 'CheckMetadataHash':
        // The node has no metadata hash compiled in: mode Enabled cannot be checked.
        if (tx.metadataHashMode !== 0) return { error: ERR.cannotLookup };
        parts.push(new Uint8Array([0]));
        break;
      default:
        if (ext.implicitType !== 'Null' && !/^Lookup\d+$/.test(ext.implicitType)) return { error: ERR.cannotLookup };
        if (/^Lookup\d+$/.test(ext.implicitType) && rt.registry.createType(ext.implicitType).toU8a().length) return { error: ERR.cannotLookup };
    }
  }
  return { bytes: u8aConcat(...parts) };
}

function verifySignature(sigKind, message, signature, signer) {
  try {
    if (sigKind === 0) return ed25519Verify(message, signature, signer);
    if (sigKind === 1) return sr25519Verify(message, signature, signer);
  } catch { return false; }
  return false; // ecdsa not supported by this node
}

// Decode and check one extrinsic against the chain's current state.
// chain: { genesisHash, specVersion, txVersion, bestNumber, blockHashAt(n), account(idHex) }
// Returns { tx } or { error }.
export function validateExtrinsic(rt, chain, hex) {
  if (typeof hex !== 'string' || !isHex(hex) || hex.length < 4) return { error: ERR.badFormat('not a hex string') };
  if ((hex.length - 2) / 2 > MAX_EXTRINSIC_BYTES) return { error: ERR.exhaustsResources };
  const bytes = hexToU8a(hex);
  let ex;
  try {
    ex = rt.decodeExtrinsic(bytes);
    if (u8aToHex(ex.toU8a()) !== hex.toLowerCase()) throw new Error('trailing or non-canonical bytes');
  } catch (e) {
    return { error: ERR.badFormat(String(e.message || e).split('\n')[0].slice(0, 200)) };
  }
  const hash = u8aToHex(blake2AsU8a(bytes, 256));
  if (!ex.isSigned) return { error: ERR.noUnsignedValidator, hash };
  const callBytes = ex.method.toU8a();
  let parts;
  try { parts = splitSigned(bytes, callBytes.length); } catch (e) { return { error: ERR.badFormat(e.message), hash }; }

  const tx = {
    hash,
    hex: hex.toLowerCase(),
    length: bytes.length,
    signerHex: u8aToHex(parts.signer),
    nonce: ex.nonce.toNumber(),
    tip: BigInt(ex.tip.toString()),
    era: ex.era.isMortalEra ? { period: ex.era.asMortalEra.period.toNumber(), phase: ex.era.asMortalEra.phase.toNumber() } : null,
    // CheckMetadataHash's extra (the mode byte) is the last extra field when the runtime has it.
    metadataHashMode: rt.extensions.some((e) => e.identifier === 'CheckMetadataHash') ? parts.extra[parts.extra.length - 1] : 0,
    call: ex.method,
    birth: 0,
  };
  const additional = additionalSigned(rt, chain, tx);
  if (additional.error) return { error: additional.error, hash };
  const payload = u8aConcat(callBytes, parts.extra, additional.bytes);
  const message = payload.length > 256 ? blake2AsU8a(payload, 256) : payload;
  if (!verifySignature(parts.sigKind, message, parts.signature, parts.signer)) return { error: ERR.badProof, hash };
  if (parts.signer.every((b) => b === 0)) return { error: ERR.badSigner, hash };

  const account = chain.account(tx.signerHex);
  if (account.free === 0n) return { error: ERR.payment, hash }; // no provider: nonce storage not paid
  if (tx.nonce < account.nonce) return { error: ERR.stale, hash };
  tx.death = eraDeath(tx.era, chain.bestNumber + 1);
  return { tx };
}
