#!/usr/bin/env node
// Duniter v2s stand-in for tests (the one stand-in the project allows: no real node runs here).
// Command line, wiring and the block timer. See tests/g1node/README.md.
//
//   node tests/g1node/g1node.mjs --port N --block-ms 1000 --finality-lag 2 --state FILE
//        --genesis-balances FILE --runtime g1|gdev [--genesis-hash 0x..] [--spec-version N]
//        [--tx-version N] [--fault MODE[:N]]... [--included-resubmit stale|banned] [--ban-seconds N]
//
// Prints "listening on PORT" when ready. --block-ms 0: blocks only on test_produceBlock.
import fs from 'node:fs';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { Runtime } from './runtime.mjs';
import { Chain } from './chain.mjs';
import { RpcServer } from './rpc.mjs';
import { Faults, RESTART_EXIT_CODE } from './faults.mjs';

const USAGE = 'usage: g1node.mjs [--port N] [--host 127.0.0.1] [--block-ms MS] [--finality-lag N] [--state FILE] '
  + '[--genesis-balances FILE] [--runtime g1|gdev] [--shared DIR] [--genesis-hash 0x..] [--spec-version N] [--tx-version N] '
  + '[--max-extrinsics N] [--included-resubmit stale|banned] [--ban-seconds N] [--fault MODE[:N]]... [--quiet]';

function parseArgs(argv) {
  const o = { port: 0, host: '127.0.0.1', blockMs: 6000, finalityLag: 2, runtime: 'g1', faults: [], quiet: false };
  const int = (v, name, min, max) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--port': o.port = int(next(), a, 0, 65535); break;
      case '--host': o.host = next(); break;
      case '--block-ms': o.blockMs = int(next(), a, 0, 3600000); break;
      case '--finality-lag': o.finalityLag = int(next(), a, 0, 1000); break;
      case '--state': o.stateFile = next(); break;
      case '--genesis-balances': o.genesisBalancesFile = next(); break;
      case '--runtime': o.runtime = next(); break;
      case '--shared': o.sharedDir = next(); break;
      case '--genesis-hash': o.genesisHash = next(); if (!/^0x[0-9a-fA-F]{64}$/.test(o.genesisHash)) throw new Error('--genesis-hash must be 0x + 64 hex'); break;
      case '--spec-version': o.specVersion = int(next(), a, 0, 2 ** 32 - 1); break;
      case '--tx-version': o.txVersion = int(next(), a, 0, 2 ** 32 - 1); break;
      case '--max-extrinsics': o.maxExtrinsicsPerBlock = int(next(), a, 1, 100000); break;
      case '--included-resubmit': o.includedResubmit = next(); if (!['stale', 'banned'].includes(o.includedResubmit)) throw new Error('--included-resubmit stale|banned'); break;
      case '--ban-seconds': o.banSeconds = int(next(), a, 0, 86400); break;
      case '--fault': o.faults.push(Faults.parseCli(next())); break;
      case '--quiet': o.quiet = true; break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (o.host !== '127.0.0.1' && o.host !== 'localhost' && o.host !== '::1') throw new Error('loopback hosts only');
  return o;
}

async function main() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) { console.error(`g1node: ${e.message}\n${USAGE}`); process.exit(2); }
  const log = (s) => { if (!o.quiet) console.error(`g1node: ${s}`); };
  await cryptoWaitReady();
  const rt = new Runtime({ runtime: o.runtime, sharedDir: o.sharedDir });
  let genesisBalances = {};
  if (o.genesisBalancesFile) {
    const text = fs.readFileSync(o.genesisBalancesFile, 'utf8');
    if (text.length > 10 * 1024 * 1024) throw new Error('genesis balances file too large');
    genesisBalances = JSON.parse(text);
  }
  const chain = new Chain(rt, { ...o, genesisBalances });
  const faults = new Faults();
  let timer = null;
  const shutdown = async (code) => {
    if (timer) clearInterval(timer);
    await server.close();
    process.exit(code);
  };
  const server = new RpcServer(chain, faults, {
    port: o.port, host: o.host, log,
    onRestart: () => { log('fault: restart (exiting, state kept)'); shutdown(RESTART_EXIT_CODE); },
  });
  const port = await server.listen();
  for (const f of o.faults) server.applyFault(f);
  if (o.blockMs > 0) {
    timer = setInterval(() => {
      try { chain.produceBlock(); } catch (e) { log(`block production failed: ${e.stack || e}`); }
    }, o.blockMs);
  }
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  log(`runtime ${rt.name} spec ${chain.specVersion} tx ${chain.txVersion} genesis ${chain.genesisHash} best #${chain.bestNumber}`);
  console.log(`listening on ${port}`);
}

main().catch((e) => { console.error(`g1node: ${e.stack || e}`); process.exit(1); });
